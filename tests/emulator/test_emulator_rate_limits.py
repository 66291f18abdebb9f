"""General and launch rate limits, scaled by time_scale."""

from __future__ import annotations

import time

import pytest

LAUNCH = "/instance-operations/launch"


@pytest.mark.lambda_emulator(time_scale=1.0, rate_limit_per_second=1.0)
def test_general_limit_answers_429_with_retry_after(api) -> None:
    assert api.get("/instances").status == 200
    response = api.get("/instances")
    assert response.status == 429
    assert response.headers["Retry-After"] == "1"
    assert set(response.body["error"]) >= {"code", "message"}
    assert response.body["error"]["code"] == "global/rate-limited"


@pytest.mark.lambda_emulator(time_scale=1.0, rate_limit_per_second=1.0, retry_after=False)
def test_retry_after_can_be_switched_off(api) -> None:
    api.get("/instances")
    response = api.get("/instances")
    assert response.status == 429
    assert "Retry-After" not in response.headers


@pytest.mark.lambda_emulator(time_scale=1.0, rate_limit_per_second=1.0, retry_after_seconds=7)
def test_retry_after_can_be_fixed(api) -> None:
    api.get("/instances")
    assert api.get("/instances").headers["Retry-After"] == "7"


@pytest.mark.lambda_emulator(time_scale=0.5, rate_limit_per_second=1.0)
def test_general_window_is_scaled(api) -> None:
    # 1 request/s at time_scale 0.5 is one per 500 ms: two requests in a row fit in that window
    # even on a loaded CI machine, and the wait after them is still shorter than a second.
    assert api.get("/instances").status == 200
    assert api.get("/instances").status == 429
    time.sleep(0.55)
    assert api.get("/instances").status == 200


@pytest.mark.lambda_emulator(time_scale=1.0, rate_limit_per_second=1.0, api_keys=["secret_a.1", "secret_b.2"])
def test_limits_are_per_key(api) -> None:
    assert api.with_key("secret_a.1").get("/images").status == 200
    assert api.with_key("secret_b.2").get("/images").status == 200
    assert api.with_key("secret_a.1").get("/images").status == 429


@pytest.mark.lambda_emulator(time_scale=0.05, launch_interval_seconds=12.0)
def test_launch_limit_is_one_per_scaled_12_seconds(api) -> None:
    assert api.launch().status == 200
    limited = api.launch()
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "1"  # ceil(0.6 s)
    assert len(api.emulator.instances()) == 1
    assert api.get("/instances").status == 200  # other operations are unaffected
    time.sleep(0.65)
    assert api.launch().status == 200


@pytest.mark.lambda_emulator(time_scale=1.0, launch_interval_seconds=12.0)
def test_launch_limit_follows_the_clock(api) -> None:
    assert api.launch().status == 200
    api.emulator.advance(11.5)
    assert api.launch().status == 429
    api.emulator.advance(0.5)
    assert api.launch().status == 200


@pytest.mark.lambda_emulator(time_scale=1.0, launch_interval_seconds=None, rate_limit_per_second=None)
def test_limits_can_be_switched_off(api) -> None:
    statuses = {api.launch().status for _attempt in range(3)} | {api.get("/instances").status for _attempt in range(5)}
    assert statuses == {200}


def test_limits_can_be_switched_on_at_run_time(api) -> None:
    api.emulator.configure(time_scale=1.0, rate_limit_per_second=2.0, rate_limit_burst=2)
    assert [api.get("/images").status for _attempt in range(3)] == [200, 200, 429]
    assert api.emulator.requests()[-1].status == 429
