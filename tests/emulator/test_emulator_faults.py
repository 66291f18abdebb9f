"""Fault injection: scripted errors, delays, dropped connections, malformed bodies."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request

import pytest
from lambda_emulator import Fault, LambdaEmulator

LAUNCH = "/instance-operations/launch"


def test_rate_limited_fault_with_and_without_retry_after(api) -> None:
    api.emulator.add_fault(Fault.rate_limited(retry_after=3, path="/instances"))
    api.emulator.add_fault(Fault.rate_limited(path="/instances"))
    first, second, third = (api.get("/instances") for _attempt in range(3))
    assert (first.status, first.headers["Retry-After"]) == (429, "3")
    assert second.status == 429 and "Retry-After" not in second.headers
    assert third.status == 200


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_carry_an_error_envelope(api, status: int) -> None:
    api.emulator.add_fault(Fault.server_error(status))
    response = api.get("/instance-types")
    assert response.status == status
    assert response.body["error"]["code"] == "global/internal-error"


def test_provider_unavailable_body(api) -> None:
    api.emulator.add_fault(Fault.provider_unavailable(503))
    response = api.get("/instances")
    assert response.status == 503
    assert response.body == {"error": {"code": "provider/internal-unavailable", "message": "Provider unavailable",
                                       "suggestion": "Try again shortly"}}


@pytest.mark.parametrize(("fault", "status", "code"), [
    (Fault.unauthorized(), 401, "global/invalid-api-key"),
    (Fault.forbidden(), 403, "global/account-inactive"),
])
def test_auth_faults_use_the_spec_bodies(api, fault: Fault, status: int, code: str) -> None:
    api.emulator.add_fault(fault)
    response = api.launch()
    assert (response.status, response.error_code) == (status, code)
    assert api.emulator.instances() == []


def test_delay_fault_delays_then_answers(api) -> None:
    api.emulator.add_fault(Fault.slow(0.3, path="/images"))
    started = time.monotonic()
    assert api.get("/images").status == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    api.get("/images")
    assert time.monotonic() - started < 0.3


def test_delay_fault_can_outlast_a_client_timeout(api) -> None:
    api.emulator.add_fault(Fault.slow(1.0))
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        api.get("/instances", timeout=0.2)


def test_dropped_connection(api) -> None:
    api.emulator.add_fault(Fault.dropped_connection(method="GET", path="/instances"))
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        api.get("/instances")
    assert api.get("/instances").status == 200
    dropped, answered = api.emulator.requests(path="/instances")
    assert (dropped.status, dropped.fault) == (None, "drop")
    assert (answered.status, answered.fault) == (200, None)


def test_malformed_json_with_200(api) -> None:
    api.emulator.add_fault(Fault.malformed_json(path="/instances"))
    request = urllib.request.Request(api.emulator.url + "/instances", headers={"Authorization": f"Bearer {api.key}"})
    with urllib.request.urlopen(request, timeout=5) as reply:
        assert reply.status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(reply.read())


def test_launch_succeeds_server_side_but_answers_502(api) -> None:
    api.emulator.add_fault(Fault.server_error(502, path=LAUNCH, after_side_effect=True))
    response = api.launch(name="once")
    assert response.status == 502
    [instance] = api.get("/instances").data
    assert instance["name"] == "once"


def test_launch_succeeds_server_side_but_connection_drops(api) -> None:
    api.emulator.add_fault(Fault.dropped_connection(method="POST", path=LAUNCH, after_side_effect=True))
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        api.launch(name="once")
    assert [instance["name"] for instance in api.get("/instances").data] == ["once"]
    assert api.emulator.requests(path=LAUNCH)[0].fault == "drop"


def test_after_side_effect_fault_waits_for_a_successful_request(api) -> None:
    api.emulator.add_fault(Fault.server_error(502, path=LAUNCH, after_side_effect=True))
    assert api.launch(instance_type_name="gpu_99x_nothing").status == 404  # failed: the fault stays queued
    assert len(api.emulator.faults()) == 1
    assert api.launch().status == 502
    assert api.emulator.faults() == []


def test_before_side_effect_fault_prevents_the_launch(api) -> None:
    api.emulator.add_fault(Fault.server_error(503, path=LAUNCH))
    assert api.launch().status == 503
    assert api.emulator.instances() == []


def test_times_method_and_path_matching(api) -> None:
    api.emulator.add_fault(Fault.server_error(500, method="GET", path="/instances", times=2))
    assert api.get("/images").status == 200
    assert api.post("/instances/" + "0" * 32, {"name": "x"}).status == 404  # POST does not match
    assert [api.get("/instances").status for _attempt in range(3)] == [500, 500, 200]
    assert api.get("/instances/" + "0" * 32).status == 404  # prefix matches, but the fault is used up


def test_faults_fire_in_order_and_can_be_cleared(api) -> None:
    api.emulator.add_faults([Fault.server_error(500), {"kind": "error", "status": 502}])
    api.emulator.add_fault(kind="error", status=503)
    assert [api.get("/images").status for _attempt in range(2)] == [500, 502]
    api.emulator.clear_faults()
    assert api.get("/images").status == 200


def test_faults_do_not_touch_the_control_api(lambda_emulator: LambdaEmulator, control_api) -> None:
    lambda_emulator.add_fault(Fault.server_error(500))
    assert control_api("GET", "health").status == 200
    assert len(lambda_emulator.faults()) == 1


def test_bad_faults_are_rejected() -> None:
    for fields in ({"kind": "explode"}, {"kind": "error", "status": 200}, {"times": 0}, {"delay_seconds": -1}):
        with pytest.raises(ValueError):
            Fault(**fields)
    with pytest.raises(ValueError):
        Fault.from_dict({"kind": "error", "colour": "red"})
