"""The Lambda Cloud API client: configuration, retries, error sentences and secrecy of the key.

Most tests talk to the emulator over loopback; waits go through a fake clock, so retry
schedules are checked exactly and the suite stays fast.
"""

from __future__ import annotations

import random
import re
import socket

import pytest
from lambda_emulator import Fault

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import AmbiguousRequestError, LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_retry import RetryPolicy
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.lambda_api import LambdaClient

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0c2VtdWxhdG9ya2V5Zm9ydGVzdHNvbmx5MDEyMzQ1 deploy"
LAUNCH = {"region_name": "us-east-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["deploy"], "name": "demo-agent-1"}


class FakeTime:
    """A clock that only moves when the client sleeps; records every wait."""

    def __init__(self):
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def log_lines():
    return []


@pytest.fixture
def client(lambda_emulator, fake_time, log_lines, tmp_path):
    """A client of the emulator with 3 retries, a fake clock, a private state directory and no request pacing
    (RequestPacer has its own tests), so the fake clock records only retry waits."""

    def make(api_key=None, retry=None, **kwargs):
        return LambdaClient(api_key or lambda_emulator.api_key, api_url=lambda_emulator.url, timeout=kwargs.pop("timeout", 5),
                            retry=retry or RetryPolicy(max_retries=3, base_delay=1.0, max_delay=30.0, max_total=120.0),
                            launch_interval=0, request_interval=0, state_dir=str(tmp_path / "launch"), log=log_lines.append,
                            sleep=fake_time.sleep, clock=fake_time.clock, rng=random.Random(7), **kwargs)

    return make


def assert_key_hidden(key, error=None, lines=()):
    if error is not None:
        assert key not in str(error) and key not in repr(error.args)
    for line in lines:
        assert key not in line


# -- configuration -------------------------------------------------------------------------


# -- authentication errors -----------------------------------------------------------------


class TestAuthErrors:
    def test_401_names_the_key_source_and_hides_the_key(self, client, lambda_emulator, log_lines):
        wrong = "secret_wrong_key_0000.aaaaaaaaaaaaaaaa"
        with pytest.raises(LambdaAPIError) as raised:
            client(api_key=wrong, key_source="the LAMBDA_API_KEY environment variable").list_instances()
        error = raised.value
        assert (error.status, error.code) == (401, "global/invalid-api-key")
        assert "LAMBDA_API_KEY environment variable" in str(error)
        assert lambda_emulator.count() == 1, "an invalid key is not retried"
        assert_key_hidden(wrong, error, log_lines)

    def test_403_inactive_account(self, lambda_emulator_factory, fake_time, tmp_path):
        inactive = "secret_inactive_account_key.bbbbbbbbbbbbbbbb"
        emulator = lambda_emulator_factory(inactive_api_keys=[inactive])
        client = LambdaClient(inactive, api_url=emulator.url, sleep=fake_time.sleep, clock=fake_time.clock,
                              request_interval=0, state_dir=str(tmp_path))
        with pytest.raises(LambdaAPIError, match="inactive") as raised:
            client.list_instances()
        assert (raised.value.status, raised.value.code) == (403, "global/account-inactive")
        assert emulator.count() == 1
        assert_key_hidden(inactive, raised.value)


# -- retries -------------------------------------------------------------------------------


class TestRetries:
    def test_429_with_retry_after_then_success(self, client, lambda_emulator, fake_time):
        lambda_emulator.seed_instances([{"name": "demo-1"}])
        lambda_emulator.add_fault(Fault.rate_limited(retry_after=2, path="/instances", times=2))
        assert [item["name"] for item in client().list_instances()] == ["demo-1"]
        assert fake_time.waits == [2.0, 2.0], "Retry-After is honoured exactly"
        assert [record.status for record in lambda_emulator.requests()] == [429, 429, 200]

    def test_429_without_retry_after_backs_off_exponentially(self, client, lambda_emulator, fake_time):
        lambda_emulator.add_fault(Fault.rate_limited(path="/instances", times=3))
        assert client().list_instances() == []
        assert len(fake_time.waits) == 3
        for number, wait in enumerate(fake_time.waits, start=1):
            assert 0 <= wait <= 2 ** (number - 1), "full jitter under an exponential ceiling"

    def test_retry_after_is_capped_by_max_delay(self, client, lambda_emulator, fake_time):
        lambda_emulator.add_fault(Fault.rate_limited(retry_after=600, path="/instances", times=1))
        client(retry=RetryPolicy(max_retries=2, max_delay=5.0)).list_instances()
        assert fake_time.waits == [5.0]

    def test_repeated_5xx_gives_up_after_max_retries(self, client, lambda_emulator, fake_time):
        lambda_emulator.add_fault(Fault.server_error(503, path="/instances", times=20))
        with pytest.raises(LambdaAPIError, match="internal error") as raised:
            client().list_instances()
        assert raised.value.status == 503
        assert lambda_emulator.count() == 4, "one try and three retries"
        assert len(fake_time.waits) == 3

    def test_repeated_5xx_gives_up_within_the_total_time_bound(self, client, lambda_emulator, fake_time):
        lambda_emulator.add_fault(Fault(kind="error", status=502, path="/instances", times=20, retry_after=5))
        with pytest.raises(LambdaAPIError):
            client(retry=RetryPolicy(max_retries=10, max_delay=5.0, max_total=12.0)).list_instances()
        assert fake_time.waits == [5.0, 5.0], "a third wait would end past max_total"
        assert sum(fake_time.waits) <= 12.0

    def test_zero_retries(self, client, lambda_emulator):
        lambda_emulator.add_fault(Fault.server_error(500, path="/instances", times=5))
        with pytest.raises(LambdaAPIError):
            client(retry=RetryPolicy(max_retries=0)).list_instances()
        assert lambda_emulator.count() == 1

    def test_provider_errors_are_retried_whatever_their_status(self, client, lambda_emulator):
        lambda_emulator.add_fault(Fault(kind="error", status=400, code="provider/internal-unavailable", path="/instances", times=2))
        assert client().list_instances() == []
        assert [record.status for record in lambda_emulator.requests()] == [400, 400, 200]

    def test_other_4xx_are_not_retried(self, client, lambda_emulator):
        lambda_emulator.add_fault(Fault(kind="error", status=400, path="/instances", times=5))
        with pytest.raises(LambdaAPIError, match="rejected the request parameters"):
            client().list_instances()
        assert lambda_emulator.count() == 1

    def test_malformed_json_is_retried_then_reported(self, client, lambda_emulator):
        lambda_emulator.add_fault(Fault.malformed_json(path="/instances", times=1))
        assert client().list_instances() == []
        lambda_emulator.add_fault(Fault.malformed_json(path="/instances", times=10))
        with pytest.raises(LambdaAPIError, match="not valid JSON"):
            client().list_instances()

    def test_dropped_connection_is_retried_then_reported(self, client, lambda_emulator):
        lambda_emulator.add_fault(Fault.dropped_connection(path="/instances", times=1))
        assert client().list_instances() == []
        lambda_emulator.add_fault(Fault.dropped_connection(path="/instances", times=10))
        with pytest.raises(LambdaAPIError, match="Could not reach the Lambda Cloud API"):
            client().list_instances()

    def test_timeouts_are_retried_then_reported(self, client, lambda_emulator):
        lambda_emulator.add_fault(Fault.slow(1.0, path="/instances", times=1))
        assert client(timeout=0.2).list_instances() == []
        lambda_emulator.add_fault(Fault.slow(1.0, path="/instances", times=10))
        with pytest.raises(LambdaAPIError, match="timed out"):
            client(timeout=0.2, retry=RetryPolicy(max_retries=1)).list_instances()

    def test_connection_refused(self, fake_time, tmp_path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        client = LambdaClient("secret_x.y", api_url="http://127.0.0.1:%d/api/v1" % port, retry=RetryPolicy(max_retries=2),
                              sleep=fake_time.sleep, clock=fake_time.clock, request_interval=0, state_dir=str(tmp_path))
        with pytest.raises(LambdaAPIError, match="Could not reach") as raised:
            client.list_instances()
        assert raised.value.not_sent and len(fake_time.waits) == 2

    def test_each_retry_is_announced_in_one_line(self, client, lambda_emulator, fake_time):
        announced = []
        lambda_emulator.add_fault(Fault.server_error(503, path="/instances", times=2))
        assert client(notify=announced.append).list_instances() == []
        assert len(announced) == 2 == len(fake_time.waits)
        for number, (line, wait) in enumerate(zip(announced, fake_time.waits), start=1):
            assert re.fullmatch(r"Lambda Cloud API: GET /instances: HTTP 503 global/internal-error; attempt %d of 4 failed, "
                                r"trying again in [0-9.]+ s\." % number, line), line
            assert abs(float(line.rsplit(" ", 2)[1]) - wait) <= 0.05

    def test_the_final_error_says_how_many_attempts_over_how_long(self, client, lambda_emulator, fake_time):
        lambda_emulator.add_fault(Fault(kind="error", status=502, path="/instances", times=20, retry_after=2))
        with pytest.raises(LambdaAPIError) as raised:
            client().list_instances()
        assert str(raised.value).endswith("(gave up after 4 attempts in 6.0 s)")

    def test_an_error_that_is_not_retried_says_nothing_about_attempts(self, client, lambda_emulator):
        with pytest.raises(LambdaAPIError) as raised:
            client(api_key="secret_wrong.key").list_instances()
        assert "attempt" not in str(raised.value)

    def test_no_connection_gives_up_sooner_than_a_slow_answer(self, client, lambda_emulator, tmp_path):
        """Against a closed loopback port the client stops after connect_retries; a slow answer gets max_retries."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        announced = []
        closed = LambdaClient("secret_x.y", api_url="http://127.0.0.1:%d/api/v1" % port, request_interval=0, state_dir=str(tmp_path),
                              retry=RetryPolicy(max_retries=4, connect_retries=1, base_delay=0.01), notify=announced.append)
        with pytest.raises(LambdaAPIError, match=r"Could not reach .*\(gave up after 2 attempts in [0-9.]+ s\)$"):
            closed.list_instances()
        assert closed.request_count == 2 and len(announced) == 1 and "attempt 1 of 2 failed" in announced[0]

        lambda_emulator.add_fault(Fault.slow(1.0, path="/instances", times=10))
        slow = client(timeout=0.2, retry=RetryPolicy(max_retries=2, connect_retries=0, base_delay=0.01))
        with pytest.raises(LambdaAPIError, match=r"timed out after 0.2 s .*\(gave up after 3 attempts in"):
            slow.list_instances()
        assert slow.request_count == 3

    def test_requests_are_counted(self, client, lambda_emulator):
        lambda_emulator.add_fault(Fault.server_error(502, path="/instances", times=1))
        api = client()
        api.list_instances()
        assert api.request_count == 2 == lambda_emulator.count()


# -- launches are never repeated blindly ---------------------------------------------------


class TestLaunch:
    @pytest.fixture(autouse=True)
    def ssh_key(self, lambda_emulator):
        lambda_emulator.add_ssh_key("deploy", PUBLIC_KEY)

    @pytest.mark.parametrize("fault", [Fault.server_error(502, path="/instance-operations/launch", after_side_effect=True),
                                       Fault.dropped_connection(path="/instance-operations/launch", after_side_effect=True)],
                             ids=["502-after-launch", "dropped-after-launch"])
    def test_a_lost_answer_is_ambiguous_and_not_retried(self, client, lambda_emulator, fault):
        lambda_emulator.add_fault(fault)
        with pytest.raises(AmbiguousRequestError, match="may or may not have been carried out"):
            client().launch_instance(LAUNCH)
        assert lambda_emulator.count("POST", "/instance-operations/launch") == 1
        assert len(lambda_emulator.instances()) == 1, "the launch happened once; the caller reconciles by listing"

    def test_a_429_launch_is_retried_because_nothing_happened(self, client, lambda_emulator):
        lambda_emulator.add_fault(Fault.rate_limited(retry_after=1, path="/instance-operations/launch", times=1))
        instance_id = client().launch_instance(LAUNCH)
        assert lambda_emulator.count("POST", "/instance-operations/launch") == 2
        assert [item["id"] for item in lambda_emulator.instances()] == [instance_id]

    def test_a_5xx_launch_is_not_retried(self, client, lambda_emulator):
        lambda_emulator.add_fault(Fault.server_error(500, path="/instance-operations/launch", times=3))
        with pytest.raises(AmbiguousRequestError):
            client().launch_instance(LAUNCH)
        assert lambda_emulator.count("POST", "/instance-operations/launch") == 1

    def test_capacity_error_is_explained(self, client, lambda_emulator):
        lambda_emulator.clear_capacity()
        with pytest.raises(LambdaAPIError, match="no capacity") as raised:
            client().launch_instance(LAUNCH)
        assert raised.value.code == "instance-operations/launch/insufficient-capacity"


# -- deletes ---------------------------------------------------------------------------------


class TestDelete:
    @pytest.mark.parametrize("fault", [Fault.server_error(502, after_side_effect=True), Fault.dropped_connection(after_side_effect=True)],
                             ids=["502-after-delete", "dropped-after-delete"])
    def test_a_retried_delete_whose_first_answer_was_lost_is_done(self, client, lambda_emulator, fault):
        api = client()
        ruleset = api.create_firewall_ruleset("demo-k3s-us-east-1", "us-east-1", [])
        fault.method, fault.path = "DELETE", "/api/v1/firewall-rulesets/" + ruleset["id"]
        lambda_emulator.add_fault(fault)
        api.delete_firewall_ruleset(ruleset["id"])
        assert [record.status for record in lambda_emulator.requests("DELETE")][-1] == 404, "the retry found it gone"
        assert lambda_emulator.count("DELETE") == 2

    def test_a_delete_of_something_that_never_existed_still_fails(self, client, lambda_emulator):
        with pytest.raises(LambdaAPIError) as raised:
            client().delete_firewall_ruleset("f" * 32)
        assert raised.value.status == 404 and lambda_emulator.count("DELETE") == 1

    def test_a_retry_after_a_429_does_not_make_a_404_a_success(self, client, lambda_emulator):
        lambda_emulator.add_fault(Fault.rate_limited(retry_after=0, method="DELETE"))
        with pytest.raises(LambdaAPIError):
            client().delete_firewall_ruleset("f" * 32)


# -- the key stays secret ------------------------------------------------------------------


class TestSecrecy:
    def test_the_key_is_in_no_error_and_no_log_line(self, client, lambda_emulator, log_lines):
        api = client(retry=RetryPolicy(max_retries=5))
        faults = [Fault.server_error(502, path="/instances"), Fault.rate_limited(retry_after=0, path="/instances"),
                  Fault.dropped_connection(path="/instances"), Fault.malformed_json(path="/instances")]
        for fault in faults:
            lambda_emulator.add_fault(fault)
        api.list_instances()
        lambda_emulator.add_fault(Fault.server_error(503, path="/instances", times=10))
        with pytest.raises(LambdaAPIError) as raised:
            api.list_instances()
        assert len(log_lines) >= 8
        assert_key_hidden(lambda_emulator.api_key, raised.value, log_lines)

    def test_a_key_echoed_by_the_server_is_redacted(self, client, lambda_emulator, log_lines):
        key = lambda_emulator.api_key
        lambda_emulator.add_fault(Fault(kind="error", status=400, path="/instances", code="global/invalid-parameters",
                                        message="Bad header Bearer %s" % key))
        with pytest.raises(LambdaAPIError) as raised:
            client().list_instances()
        assert "<redacted>" in str(raised.value)
        assert_key_hidden(key, raised.value, log_lines)
