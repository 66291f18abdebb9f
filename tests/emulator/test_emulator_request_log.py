"""The request log: what is recorded, how it is filtered, what is redacted."""

from __future__ import annotations

import time

from lambda_emulator import LambdaEmulator

LAUNCH = "/instance-operations/launch"


def test_records_method_path_query_body_status_and_auth(api) -> None:
    before = time.monotonic()
    api.get("/instances?cluster_id=c1")
    api.launch(name="x")
    listing, launch = api.emulator.requests()
    assert (listing.method, listing.path, listing.path_template) == ("GET", "/api/v1/instances", "/api/v1/instances")
    assert listing.query == {"cluster_id": "c1"}
    assert listing.body is None
    assert (listing.status, listing.auth_scheme, listing.auth_valid) == (200, "bearer", True)
    assert listing.key_fingerprint == LambdaEmulator.fingerprint(api.key)
    assert before <= listing.time <= launch.time <= time.monotonic()
    assert launch.body["name"] == "x"
    assert launch.status == 200


def test_path_template_is_recorded_for_ids(api) -> None:
    api.get("/instances/" + "a" * 32)
    [record] = api.emulator.requests(path="/instances/{id}")
    assert (record.path, record.status) == ("/api/v1/instances/" + "a" * 32, 404)


def test_secret_fields_are_redacted(api) -> None:
    api.launch(user_data="#cloud-config\npassword: hunter2\n")
    [record] = api.emulator.requests(path=LAUNCH)
    assert record.body["user_data"] == "<redacted>"
    assert "hunter2" not in repr(record.to_dict())
    assert record.body["ssh_key_names"] == ["deploy"]


def test_filters_count_and_clear(api) -> None:
    api.get("/instances")
    api.get("/images")
    api.launch()
    assert api.emulator.count() == 3
    assert api.emulator.count(method="GET") == 2
    assert api.emulator.count(method="post", path=LAUNCH) == 1
    assert api.emulator.count(path="/api/v1/images") == 1
    api.emulator.clear_requests()
    assert api.emulator.requests() == []


def test_failed_and_unrouted_requests_are_logged(api) -> None:
    api.with_key(None).get("/instances")
    api.get("/nowhere")
    unauthenticated, unrouted = api.emulator.requests()
    assert (unauthenticated.status, unauthenticated.auth_valid) == (401, False)
    assert (unrouted.status, unrouted.path_template) == (404, None)


def test_control_requests_are_not_logged(lambda_emulator: LambdaEmulator, control_api) -> None:
    control_api("GET", "state")
    assert lambda_emulator.count() == 0
