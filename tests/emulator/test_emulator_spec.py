"""SpecValidator itself, the compact schema it reads (and its drift from Lambda's full spec), and
spec-conformance of bulk responses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lambda_emulator import SpecNotFoundError, SpecValidator, SpecViolation, full_spec_path
from lambda_emulator.compact_schema import COMPACT_SCHEMA_PATH, UnknownKeywordError, compact_schema, generate

INSTANCES = "/api/v1/instances"
INSTANCE = "/api/v1/instances/{id}"
LAUNCH = "/api/v1/instance-operations/launch"


def test_loads_version_1_8_3(lambda_spec: SpecValidator) -> None:
    assert lambda_spec.version == "1.8.3"
    assert ("DELETE", "/api/v1/filesystems/{id}") in lambda_spec.operations()
    assert lambda_spec.documented_statuses("GET", INSTANCE) == [200, 401, 403, 404]


def test_the_compact_schema_ships_in_the_repository(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAMBDA_OPENAPI_SPEC", str(tmp_path / "absent.json"))
    validator = SpecValidator()
    assert validator.path == COMPACT_SCHEMA_PATH and validator.version == "1.8.3"
    with pytest.raises(SpecNotFoundError, match="compact_schema"):
        SpecValidator(tmp_path / "nope.json")


def test_the_compact_schema_matches_lambdas_full_spec() -> None:
    """Drift check: regenerated from the full document, the compact schema is byte for byte the shipped one."""
    full = full_spec_path()
    if not full.is_file():
        pytest.skip("Lambda's full OpenAPI document is not at %s (a plain clone has no ../shared); set LAMBDA_OPENAPI_SPEC to "
                    "its path to check tools/lambda_emulator/openapi_compact.json for drift" % full)
    assert generate(full) == COMPACT_SCHEMA_PATH.read_text(encoding="utf-8"), (
        "openapi_compact.json is stale: run `python -m lambda_emulator.compact_schema --spec %s` from tools/" % full)


def test_the_compact_form_keeps_constraints_and_drops_prose() -> None:
    schema = {"type": "object", "title": "Thing", "description": "prose", "required": ["name"], "additionalProperties": False,
              "properties": {"name": {"type": "string", "maxLength": 64, "examples": ["x"], "default": "y"},
                             "description": {"$ref": "#/components/schemas/Text", "description": "more prose"},
                             "kind": {"anyOf": [{"enum": ["a", "b"]}, {"const": "c", "x-internal": True}]}}}
    assert compact_schema(schema, "test") == {
        "type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {"name": {"type": "string", "maxLength": 64}, "description": {"$ref": "#/schemas/Text"},
                       "kind": {"anyOf": [{"enum": ["a", "b"]}, {"const": "c"}]}}}
    with pytest.raises(UnknownKeywordError, match="dependentRequired"):
        compact_schema({"dependentRequired": {"a": ["b"]}}, "test")


def test_the_compact_schema_holds_no_prose() -> None:
    document = json.loads(COMPACT_SCHEMA_PATH.read_text(encoding="utf-8"))
    assert set(document) == {"generated_by", "source", "operations", "schemas"}
    text = json.dumps([document["operations"], document["schemas"]])
    assert '"examples"' not in text and '"title"' not in text and '"summary"' not in text


def test_response_validation(lambda_spec: SpecValidator) -> None:
    not_found = {"error": {"code": "global/object-does-not-exist", "message": "Specified instance does not exist."}}
    assert lambda_spec.response_errors("GET", INSTANCE, 404, not_found) == []
    wrong_code = {"error": {"code": "global/oops", "message": "x"}}
    assert lambda_spec.response_errors("GET", INSTANCE, 404, wrong_code)
    missing_suggestion = {"error": {"code": "global/invalid-api-key", "message": "x"}}
    assert lambda_spec.response_errors("GET", INSTANCES, 401, missing_suggestion)
    with pytest.raises(SpecViolation):
        lambda_spec.validate_response("GET", INSTANCES, 200, {"data": [{"id": "x"}]})


def test_undocumented_statuses_need_the_generic_envelope(lambda_spec: SpecValidator) -> None:
    envelope = {"error": {"code": "global/rate-limited", "message": "Too many requests."}}
    assert lambda_spec.response_errors("GET", INSTANCES, 429, envelope) == []
    assert lambda_spec.response_errors("GET", None, 404, envelope) == []
    assert lambda_spec.response_errors("GET", INSTANCES, 503, {"detail": "nope"})
    assert lambda_spec.response_errors("GET", INSTANCES, 429, {"error": {"code": "x", "message": "y", "extra": 1}})
    assert lambda_spec.response_errors("GET", INSTANCES, 204, None)


def test_request_validation(lambda_spec: SpecValidator) -> None:
    good = {"region_name": "us-east-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["k"]}
    assert lambda_spec.request_errors("POST", LAUNCH, good) == []
    assert lambda_spec.request_errors("POST", LAUNCH, {**good, "region_name": "mars-1"})
    assert lambda_spec.request_errors("POST", LAUNCH, None) == ["a JSON request body is required"]
    assert lambda_spec.request_errors("GET", INSTANCES, None) == []
    with pytest.raises(SpecViolation):
        lambda_spec.validate_request("POST", LAUNCH, {"region_name": "us-east-1"})


def test_two_thousand_seeded_instances_list_in_one_response(api, control_api) -> None:
    # Speed is measured in benchmarks/inventory_load.py, not asserted here.
    control_api("POST", "instances", {"count": 2000, "template": {"name": "bench-{index}", "tags": {"bench": "yes"}}})
    instances = api.get("/instances", timeout=30).data  # validated against the spec by the fixture
    assert len(instances) == 2000
