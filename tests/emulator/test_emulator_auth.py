"""Authentication as the spec's securitySchemes describe it."""

from __future__ import annotations

import pytest
from lambda_emulator import DEFAULT_API_KEY, LambdaEmulator

INACTIVE_KEY = "secret_inactive_0123456789abcdef.0123456789abcdefghijklmnopqrstuv"

pytestmark = pytest.mark.lambda_emulator(inactive_api_keys=[INACTIVE_KEY])


def test_default_key_is_the_documented_one(lambda_emulator: LambdaEmulator) -> None:
    assert lambda_emulator.api_key == DEFAULT_API_KEY


@pytest.mark.parametrize("scheme", ["bearer", "basic", "basic-raw"])
def test_every_allowed_scheme_authenticates(api, scheme: str) -> None:
    response = api.with_key(api.key, scheme).get("/instances")
    assert response.status == 200
    assert response.body == {"data": []}
    [record] = api.emulator.requests(path="/instances")
    assert (record.auth_scheme, record.auth_valid) == (scheme, True)


def test_missing_header_is_401_with_the_spec_defaults(api) -> None:
    response = api.with_key(None).get("/instance-types")
    assert response.status == 401
    assert response.body == {"error": {
        "code": "global/invalid-api-key",
        "message": "API key was invalid, expired, or deleted.",
        "suggestion": "Check your API key or create a new one, then try again."}}
    [record] = api.emulator.requests()
    assert (record.auth_scheme, record.auth_valid, record.key_fingerprint) == (None, False, None)


@pytest.mark.parametrize("scheme", ["bearer", "basic", "basic-raw"])
def test_unknown_key_is_401(api, scheme: str) -> None:
    response = api.with_key("secret_wrong.key", scheme).get("/ssh-keys")
    assert (response.status, response.error_code) == (401, "global/invalid-api-key")


def test_unknown_scheme_is_401(api, http_call) -> None:
    response = http_call("GET", api.emulator.url + "/instances", headers={"Authorization": f"Token {api.key}"})
    assert (response.status, response.error_code) == (401, "global/invalid-api-key")
    assert api.emulator.requests()[0].auth_scheme == "unknown"


def test_inactive_account_is_403(api) -> None:
    response = api.with_key(INACTIVE_KEY).post("/instance-operations/launch", {
        "region_name": "us-east-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["deploy"]})
    assert response.status == 403
    assert response.error_code == "global/account-inactive"
    assert response.body["error"]["message"] == "Your account is inactive."
    record = api.emulator.requests()[0]
    assert record.auth_valid is False
    assert record.key_fingerprint == LambdaEmulator.fingerprint(INACTIVE_KEY)
    assert api.emulator.instances() == []


@pytest.mark.lambda_emulator(api_keys=["secret_first.aaaa", "secret_second.bbbb"])
def test_several_keys_may_be_valid(api) -> None:
    assert api.with_key("secret_second.bbbb").get("/images").status == 200
    assert api.emulator.api_key == "secret_first.aaaa"


def test_authorization_header_is_never_stored(api) -> None:
    api.with_key(api.key, "basic").get("/instances")
    api.with_key("secret_wrong.key").get("/instances")
    stored = repr([record.to_dict() for record in api.emulator.requests()])
    assert api.key not in stored
    assert "secret_wrong.key" not in stored
