"""RequestPacer: API requests from every process on the controller are spaced request_interval apart."""

from __future__ import annotations

import multiprocessing
import os
import stat
import time

import pytest
from lambda_emulator import Fault

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.controller_files import lock_path
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_pacing import REQUEST_INTERVAL_ENV, LaunchThrottle, RequestPacer
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.lambda_api import LambdaClient, client_from_options

API_URL = "https://cloud.lambda.ai/api/v1"


class FakeClock:
    """Wall-clock time that only moves when the pacer sleeps or the test says so."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def pacer(tmp_path, interval: float = 1.0, clock: FakeClock | None = None) -> RequestPacer:
    clock = clock or FakeClock()
    return RequestPacer(interval, API_URL, str(tmp_path), sleep=clock.sleep, clock=clock.time)


def test_requests_in_a_row_wait_one_interval_each(tmp_path):
    clock = FakeClock()
    paced = pacer(tmp_path, 1.0, clock)
    slots = [paced.wait_for_slot() for _attempt in range(4)]
    assert [later - earlier for earlier, later in zip(slots, slots[1:])] == [1.0, 1.0, 1.0]
    assert clock.sleeps == [1.0, 1.0, 1.0]  # the first request goes at once


def test_no_wait_once_the_interval_has_passed(tmp_path):
    clock = FakeClock()
    paced = pacer(tmp_path, 1.0, clock)
    paced.wait_for_slot()
    clock.now += 5
    assert paced.wait_for_slot() == clock.now and clock.sleeps == []


def test_separate_pacers_for_the_same_url_share_the_queue(tmp_path):
    # Each Ansible task is its own process with its own client: the file is what they share.
    clock = FakeClock()
    first, second = pacer(tmp_path, 1.0, clock), pacer(tmp_path, 1.0, clock)
    assert first.reserve_slot(clock.now) == clock.now
    assert second.reserve_slot(clock.now) == clock.now + 1.0
    assert first.reserve_slot(clock.now) == clock.now + 2.0


def test_other_api_urls_have_their_own_queue(tmp_path):
    clock = FakeClock()
    RequestPacer(1.0, API_URL, str(tmp_path), clock=clock.time).reserve_slot(clock.now)
    other = RequestPacer(1.0, "http://127.0.0.1:8080/api/v1", str(tmp_path), clock=clock.time)
    assert other.reserve_slot(clock.now) == clock.now


def _reserve_slots(state_dir: str, interval: float, count: int, results) -> None:
    paced = RequestPacer(interval, API_URL, state_dir)
    results.extend([paced.reserve_slot(time.time()) for _slot in range(count)])


def test_processes_reserving_at_once_get_distinct_spaced_slots(tmp_path):
    # Slots are compared, not arrival times, so the result does not depend on how busy the machine is.
    interval = 0.5
    with multiprocessing.Manager() as manager:
        results = manager.list()
        workers = [multiprocessing.Process(target=_reserve_slots, args=(str(tmp_path), interval, 5, results)) for _worker in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
            assert worker.exitcode == 0
        slots = sorted(results)
    assert len(slots) == 20
    assert min(later - earlier for earlier, later in zip(slots, slots[1:])) >= interval - 1e-6


def test_a_slot_far_in_the_future_is_ignored(tmp_path):
    # The wall clock went back (or the file is stale): waiting for the old slot could take hours.
    clock = FakeClock()
    path = lock_path(str(tmp_path), "requests", API_URL)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="ascii") as handle:
        handle.write(repr(clock.now + 3600))
    assert pacer(tmp_path, 1.0, clock).wait_for_slot() == clock.now and clock.sleeps == []


def test_an_unreadable_slot_file_counts_as_no_earlier_request(tmp_path):
    clock = FakeClock()
    path = lock_path(str(tmp_path), "requests", API_URL)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="ascii") as handle:
        handle.write("not a number")
    assert pacer(tmp_path, 1.0, clock).wait_for_slot() == clock.now


def test_interval_zero_turns_pacing_off_and_writes_nothing(tmp_path):
    clock = FakeClock()
    paced = pacer(tmp_path / "state", 0, clock)
    assert [paced.wait_for_slot() for _attempt in range(3)] == [clock.now] * 3
    assert clock.sleeps == [] and not (tmp_path / "state").exists()


def test_without_a_usable_state_directory_pacing_holds_within_the_process(tmp_path):
    # A read-only home (some execution environments) must not break the inventory or the modules.
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    clock = FakeClock()
    paced = pacer(blocked, 1.0, clock)
    slots = [paced.wait_for_slot() for _attempt in range(3)]
    assert [later - earlier for earlier, later in zip(slots, slots[1:])] == [1.0, 1.0]
    assert str(blocked) in paced.not_shared_because and "writable" in paced.not_shared_because


def test_the_client_says_once_that_pacing_is_per_process(lambda_emulator, tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    lines: list[str] = []
    client = LambdaClient(lambda_emulator.api_key, api_url=lambda_emulator.url, request_interval=0.01, state_dir=str(blocked),
                          log=lines.append)
    client.list_instances()
    client.list_ssh_keys()
    assert len([line for line in lines if "within this process only" in line]) == 1


def test_a_launch_lock_that_cannot_be_opened_is_a_clear_error(tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    with pytest.raises(LambdaAPIError, match="Could not create .*not-a-directory.*writable"):
        with LaunchThrottle(0, API_URL, str(blocked)):
            pass


def test_the_slot_file_is_private(tmp_path):
    pacer(tmp_path / "state").wait_for_slot()
    path = lock_path(str(tmp_path / "state"), "requests", API_URL)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700


def test_every_request_and_every_retry_takes_a_slot(lambda_emulator, tmp_path):
    clock = FakeClock()
    waits: list[float] = []
    client = LambdaClient(lambda_emulator.api_key, api_url=lambda_emulator.url, request_interval=1.0, state_dir=str(tmp_path),
                          sleep=waits.append)
    client.pacer = RequestPacer(1.0, client.api_url, str(tmp_path), sleep=clock.sleep, clock=clock.time)
    lambda_emulator.add_fault(Fault.rate_limited(retry_after=0))
    client.list_instances()  # answered 429 once, then retried
    client.list_ssh_keys()
    assert [record.status for record in lambda_emulator.requests()] == [429, 200, 200]
    assert clock.sleeps == [1.0, 1.0]  # the retry and the next request each waited for their slot


class TestOptions:
    def test_default_is_a_little_over_one_second(self, monkeypatch):
        monkeypatch.delenv(REQUEST_INTERVAL_ENV, raising=False)
        assert client_from_options({"api_key": "secret_x.y"}).pacer.interval == 1.1

    def test_environment_then_option(self, monkeypatch):
        monkeypatch.setenv(REQUEST_INTERVAL_ENV, "2.5")
        assert client_from_options({"api_key": "secret_x.y"}).pacer.interval == 2.5
        assert client_from_options({"api_key": "secret_x.y", "request_interval": 0}).pacer.interval == 0

    @pytest.mark.parametrize("value", ["-1", "soon", "nan"])
    def test_a_bad_value_is_a_clear_error(self, monkeypatch, value):
        monkeypatch.setenv(REQUEST_INTERVAL_ENV, value)
        with pytest.raises(LambdaAPIError, match="request_interval .*LAMBDA_REQUEST_INTERVAL.* zero or more"):
            client_from_options({"api_key": "secret_x.y"})
