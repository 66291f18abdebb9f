"""SpecValidator itself, and spec-conformance of bulk responses."""

from __future__ import annotations

from pathlib import Path

import pytest
from lambda_emulator import SpecNotFoundError, SpecValidator, SpecViolation, default_spec_path

INSTANCES = "/api/v1/instances"
INSTANCE = "/api/v1/instances/{id}"
LAUNCH = "/api/v1/instance-operations/launch"


def test_loads_version_1_8_3(lambda_spec: SpecValidator) -> None:
    assert lambda_spec.version == "1.8.3"
    assert ("DELETE", "/api/v1/filesystems/{id}") in lambda_spec.operations()
    assert lambda_spec.documented_statuses("GET", INSTANCE) == [200, 401, 403, 404]


def test_missing_spec_names_both_locations(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAMBDA_OPENAPI_SPEC", str(tmp_path / "nope.json"))
    with pytest.raises(SpecNotFoundError) as raised:
        SpecValidator()
    assert str(tmp_path / "nope.json") in str(raised.value)
    assert str(default_spec_path()) in str(raised.value)


def test_environment_variable_selects_the_file(monkeypatch: pytest.MonkeyPatch, lambda_spec: SpecValidator) -> None:
    monkeypatch.setenv("LAMBDA_OPENAPI_SPEC", str(lambda_spec.path))
    assert SpecValidator().path == lambda_spec.path


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
