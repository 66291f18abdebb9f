"""Unit tests for sophia.lambda_k3s.lambda_instance: main() runs in-process against the API emulator.

The emulator fixture compresses time (time_scale 0.01: boot 0.1 s) and has no rate limits unless a
test's marker turns them on; every response it sends is checked against Lambda's OpenAPI spec.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from ansible.module_utils.testing import patch_module_args
from lambda_emulator import Fault
from unit.plugins.modules.module_harness import ModuleExit, run_module

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.lambda_api import LambdaClient
from ansible_collections.sophia.lambda_k3s.plugins.modules import lambda_instance

LAUNCH = "/instance-operations/launch"
INSUFFICIENT_CAPACITY = "instance-operations/launch/insufficient-capacity"


@pytest.fixture
def emu(lambda_emulator):
    lambda_emulator.add_ssh_key("deploy", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBcTq1D8cLdiBZbq0SN1XjzOxKHq4C1bqd9o5HjvwAkJ deploy")
    return lambda_emulator


def run(emu, check_mode=False, diff=False, **options) -> dict:
    """One module run; returns its result (failed=True on fail_json)."""
    args = {"api_key": emu.api_key, "api_url": emu.url, "name": "demo-agent-1", "cluster": "demo", "role": "agent",
            "regions": ["us-east-1", "us-west-1"], "instance_types": ["gpu_1x_a10"], "ssh_key_name": "deploy",
            "poll_interval": 0.02, "launch_interval": 0, "wait_timeout": 10, "max_retries": 2, "retry_max_delay": 0.05,
            "_ansible_check_mode": check_mode, "_ansible_diff": diff}
    args.update(options)
    return run_module(lambda_instance.main, args)


def launches(emu) -> int:
    return emu.count("POST", LAUNCH)


def live_named(emu, name="demo-agent-1") -> list:
    return [item for item in emu.instances() if item.get("name") == name and item["status"] not in ("terminated", "terminating")]


def status_of(emu, instance_id: str) -> str:
    return next((item["status"] for item in emu.instances() if item["id"] == instance_id), "gone")


def capacity_fault(**match) -> Fault:
    """The launch itself answers insufficient capacity although the catalogue listed some (a race)."""
    return Fault(kind="error", status=400, path=LAUNCH, code=INSUFFICIENT_CAPACITY,
                 message="Not enough capacity to fulfill launch request.", **match)


# -- present ---------------------------------------------------------------------------------

class TestPresent:
    def test_launches_waits_and_returns_the_instance_without_secrets(self, emu):
        result = run(emu, tags={"team": "ml"}, hostname="demo-agent-1", image={"family": "lambda-stack-24-04"},
                     user_data="#cloud-config\nruncmd: [echo hi]\n")
        assert result["changed"] is True and not result.get("failed")
        instance = result["instance"]
        assert instance["status"] == "active" and instance["ip"] and instance["hostname"] == "demo-agent-1"
        assert "jupyter_token" not in instance and "jupyter_url" not in instance
        assert {"key": "k3s-cluster", "value": "demo"} in instance["tags"]
        assert {"key": "k3s-role", "value": "agent"} in instance["tags"] and {"key": "team", "value": "ml"} in instance["tags"]
        assert result["launch"]["region"] == "us-east-1" and result["launch"]["instance_type"] == "gpu_1x_a10"
        assert result["launch"]["request"]["user_data"] == "<32 bytes>"
        assert "runcmd" not in json.dumps(result)
        assert emu.instance(instance["id"])["emulator"]["user_data"].startswith("#cloud-config")
        assert launches(emu) == 1

    def test_second_run_changes_nothing(self, emu):
        first = run(emu)
        emu.clear_requests()
        second = run(emu)
        assert second["changed"] is False and second["instance"]["id"] == first["instance"]["id"]
        assert launches(emu) == 0 and emu.count("GET", "/instance-types") == 0
        assert "launch" not in second

    def test_concurrent_runs_for_one_name_launch_it_once(self, emu):
        results = []

        def one_run():
            try:
                lambda_instance.main()
            except ModuleExit as done:
                results.append(done.result)

        args = {"api_key": emu.api_key, "api_url": emu.url, "name": "demo-agent-1", "cluster": "demo", "regions": ["us-east-1"],
                "instance_types": ["gpu_1x_a10"], "ssh_key_name": "deploy", "poll_interval": 0.02, "launch_interval": 0}
        with patch_module_args(args):
            threads = [threading.Thread(target=one_run) for dummy in range(3)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
        assert sorted(result["changed"] for result in results) == [False, False, True]
        assert launches(emu) == 1 and len(live_named(emu)) == 1

    def test_check_mode_launches_nothing_and_predicts_the_placement(self, emu):
        emu.clear_capacity()
        emu.set_capacity("gpu_1x_a10", "us-west-1", None)
        result = run(emu, check_mode=True, diff=True)
        assert result["changed"] is True and result["instance"] == {}
        assert (result["launch"]["region"], result["launch"]["instance_type"]) == ("us-west-1", "gpu_1x_a10")
        assert result["diff"] == {"before": {"name": "demo-agent-1", "status": "absent"},
                                  "after": {"name": "demo-agent-1", "status": "booting", "region": "us-west-1",
                                            "instance_type": "gpu_1x_a10"}}
        assert launches(emu) == 0 and emu.instances() == []

    def test_check_mode_on_an_existing_instance_is_unchanged(self, emu):
        run(emu)
        emu.clear_requests()
        assert run(emu, check_mode=True)["changed"] is False
        assert launches(emu) == 0

    def test_diff_of_a_launch(self, emu):
        result = run(emu, diff=True)
        assert result["diff"]["before"] == {"name": "demo-agent-1", "status": "absent"}
        assert result["diff"]["after"] == {"name": "demo-agent-1", "status": "active", "region": "us-east-1",
                                           "instance_type": "gpu_1x_a10"}

    def test_no_wait_returns_at_once_without_reading_the_instance_back(self, lambda_emulator_factory):
        """Whoever launches several instances polls one list for all of them: a launch without waiting reads nothing back."""
        emu = lambda_emulator_factory(boot_seconds=1000)
        emu.add_ssh_key("deploy")
        result = run(emu, wait=False, diff=True)
        [launched] = emu.instances()
        assert result["changed"] is True and result["instance"] == {"id": launched["id"], "name": "demo-agent-1"}
        assert launched["status"] == "booting" and result["diff"]["after"]["status"] == "booting"
        assert [(record.method, record.path) for record in emu.requests()] == [
            ("GET", "/api/v1/instances"), ("GET", "/api/v1/instance-types"), ("POST", "/api/v1/instance-operations/launch")]

    def test_waits_for_an_existing_booting_instance(self, lambda_emulator_factory):
        # 1 s at the fixture's time scale: long enough that a loaded machine still sees it booting first.
        emu = lambda_emulator_factory(boot_seconds=100)
        emu.seed_instances([{"name": "demo-agent-1", "status": "booting", "tags": {"k3s-cluster": "demo"}}])
        result = run(emu)
        assert result["changed"] is False and result["instance"]["status"] == "active"
        assert launches(emu) == 0 and emu.count("GET", "/instances") >= 2

    def test_wait_times_out_naming_the_status(self, emu):
        [instance_id] = emu.seed_instances([{"name": "demo-agent-1", "status": "booting", "hold_status": True,
                                             "tags": {"k3s-cluster": "demo"}}])
        result = run(emu, wait_timeout=1, poll_interval=0.1)
        assert result["failed"] and "Timed out" in result["msg"] and instance_id in result["msg"] and "booting" in result["msg"]
        assert result["changed"] is False and result["instance"] == {"id": instance_id}

    def test_wait_stops_when_the_instance_is_terminated_meanwhile(self, emu):
        [instance_id] = emu.seed_instances([{"name": "demo-agent-1", "status": "booting", "hold_status": True,
                                             "tags": {"k3s-cluster": "demo"}}])
        other_client = LambdaClient(emu.api_key, emu.url, request_interval=0, state_dir=None)
        timer = threading.Timer(0.2, other_client.terminate_instances, ([instance_id],))
        timer.start()
        try:
            result = run(emu, wait_timeout=10)
        finally:
            timer.join()
        assert result["failed"] and "became terminat" in result["msg"] and instance_id in result["msg"]

    def test_terminated_namesake_does_not_count(self, emu):
        emu.seed_instances([{"name": "demo-agent-1", "status": "terminated", "tags": {"k3s-cluster": "demo"}}])
        result = run(emu)
        assert result["changed"] is True and launches(emu) == 1

    def test_namesake_in_another_cluster_does_not_count(self, emu):
        emu.seed_instances([{"name": "demo-agent-1", "tags": {"k3s-cluster": "prod"}}])
        assert run(emu)["changed"] is True

    def test_an_untagged_namesake_is_neither_adopted_nor_launched_beside(self, emu):
        [untagged] = emu.seed_instances([{"name": "demo-agent-1"}])
        result = run(emu)
        assert result["failed"] is True and launches(emu) == 0
        assert untagged in result["msg"] and "member_names" in result["msg"]
        check = run(emu, check_mode=True)
        assert check["failed"] is True, "check mode predicts the refusal"

    def test_a_listed_untagged_instance_is_adopted(self, emu):
        [untagged] = emu.seed_instances([{"name": "demo-agent-1"}])
        result = run(emu, member_names=["demo-agent-1"])
        assert result["changed"] is False and result["instance"]["id"] == untagged and launches(emu) == 0

    def test_a_bad_member_pattern_fails_before_any_api_call(self, emu):
        result = run(emu, member_name_pattern="demo-(")
        assert result["failed"] is True and "member_name_pattern" in result["msg"] and emu.count() == 0

    def test_duplicates_fail_and_list_their_ids(self, emu):
        ids = emu.seed_instances([{"name": "demo-agent-1", "tags": {"k3s-cluster": "demo"}},
                                  {"name": "demo-agent-1", "status": "booting", "tags": {"k3s-cluster": "demo"}}])
        result = run(emu)
        assert result["failed"] and sorted(result["instance_ids"]) == sorted(ids)
        assert all(instance_id in result["msg"] for instance_id in ids)
        assert launches(emu) == 0

    def test_existing_instance_of_another_type_is_kept_with_a_warning(self, emu):
        emu.seed_instances([{"name": "demo-agent-1", "instance_type": "gpu_1x_a100", "region": "us-south-1",
                             "tags": {"k3s-cluster": "demo"}}])
        result = run(emu)
        assert result["changed"] is False and launches(emu) == 0
        assert any("gpu_1x_a100 in us-south-1" in warning for warning in result["warnings"])

    def test_missing_launch_options_fail_clearly(self, emu):
        result = run(emu, regions=None, ssh_key_name=None)
        assert result["failed"] and "regions, ssh_key_name" in result["msg"]
        assert launches(emu) == 0

    def test_unknown_instance_type_fails(self, emu):
        result = run(emu, instance_types=["gpu_1x_a10", "gpu_3x_nope"])
        assert result["failed"] and "gpu_3x_nope" in result["msg"] and launches(emu) == 0

    @pytest.mark.parametrize("options, fragment", [
        ({"tags": {"Bad Key": "x"}}, "'Bad Key' must match"),
        ({"tags": {"k3s-cluster": "x"}}, "use the cluster option"),
        ({"hostname": "Not_Valid"}, "hostname 'Not_Valid'"),
        ({"file_system_mounts": [{"mount_point": "/etc", "file_system_id": "f"}]}, "mount_point '/etc'"),
    ])
    def test_invalid_options_fail_before_any_api_call(self, emu, options, fragment):
        result = run(emu, **options)
        assert result["failed"] and fragment in result["msg"]
        assert emu.count() == 0

    @pytest.mark.parametrize("check_mode", [False, True])
    def test_an_unknown_region_fails_before_any_launch_naming_the_known_ones(self, emu, check_mode):
        result = run(emu, regions=["us-east-1", "us-east1"], check_mode=check_mode)
        assert result["failed"] is True and result["changed"] is False and launches(emu) == 0
        assert result["msg"].startswith("Lambda Cloud has no region us-east1 (asked for by demo-agent-1; did you mean us-east-1?); "
                                        "its regions are ")
        assert "us-east-1, us-east-2, us-east-3" in result["msg"]
        assert [record.method for record in emu.requests()] == ["GET", "GET"], "only reads"


# -- choosing where to launch --------------------------------------------------------------------

class TestCapacity:
    def test_falls_back_to_the_next_region(self, emu):
        emu.clear_capacity()
        emu.set_capacity("gpu_1x_a10", "us-west-1", None)
        result = run(emu)
        assert result["instance"]["region"]["name"] == "us-west-1" and launches(emu) == 1

    def test_falls_back_to_the_next_type_only_after_every_region(self, emu):
        emu.clear_capacity()
        emu.set_capacity("gpu_1x_a100", "us-east-1", None)
        emu.set_capacity("gpu_1x_a10", "us-west-1", None)
        result = run(emu, instance_types=["gpu_1x_a10", "gpu_1x_a100"])
        # Type-major: the preferred type in the second region beats the second type in the first region.
        assert (result["launch"]["instance_type"], result["launch"]["region"]) == ("gpu_1x_a10", "us-west-1")

    def test_falls_back_to_the_next_type(self, emu):
        emu.clear_capacity()
        emu.set_capacity("gpu_1x_a100", "us-west-1", None)
        result = run(emu, instance_types=["gpu_1x_a10", "gpu_1x_a100"])
        assert result["instance"]["instance_type"]["name"] == "gpu_1x_a100" and launches(emu) == 1

    def test_capacity_taken_during_the_launch_moves_on(self, emu):
        emu.clear_capacity()
        emu.set_capacity("gpu_1x_a10", "us-east-1", None)
        emu.set_capacity("gpu_1x_a10", "us-west-1", None)
        emu.add_fault(capacity_fault())
        result = run(emu)
        assert result["changed"] is True and result["launch"]["skipped"] == ["gpu_1x_a10 in us-east-1"]
        assert result["instance"]["region"]["name"] == "us-west-1" and launches(emu) == 2

    def test_capacity_exhausted_by_a_real_launch(self, emu):
        emu.clear_capacity()
        emu.set_capacity("gpu_1x_a10", "us-east-1", 1)
        emu.set_capacity("gpu_1x_a10", "us-west-1", 1)
        first = run(emu, name="demo-agent-1")
        second = run(emu, name="demo-agent-2")
        assert first["instance"]["region"]["name"] == "us-east-1"
        assert second["instance"]["region"]["name"] == "us-west-1"
        third = run(emu, name="demo-agent-3")
        assert third["failed"] and "No capacity" in third["msg"]

    def test_no_capacity_anywhere_names_everything_tried(self, emu):
        emu.clear_capacity()
        emu.set_capacity("gpu_1x_a100", "us-south-1", None)
        result = run(emu, instance_types=["gpu_1x_a10", "gpu_1x_a100"])
        assert result["failed"] and result["changed"] is False
        for fragment in ("gpu_1x_a10", "gpu_1x_a100", "us-east-1", "us-west-1",
                         "gpu_1x_a10 in us-east-1, gpu_1x_a10 in us-west-1, gpu_1x_a100 in us-east-1, gpu_1x_a100 in us-west-1",
                         "gpu_1x_a100 in us-south-1"):
            assert fragment in result["msg"]
        assert launches(emu) == 0

    def test_check_mode_without_capacity_fails_too(self, emu):
        emu.clear_capacity()
        result = run(emu, check_mode=True)
        assert result["failed"] and "No capacity" in result["msg"]

    def test_refused_everywhere_reports_the_refusals(self, emu):
        emu.clear_capacity()
        emu.set_capacity("gpu_1x_a10", "us-east-1", None)
        emu.add_fault(capacity_fault())
        result = run(emu)
        assert result["failed"] and "The launch answered insufficient capacity for: gpu_1x_a10 in us-east-1" in result["msg"]
        assert "gpu_1x_a10 in us-west-1" in result["msg"]

    def test_quota_error_fails_with_the_api_sentence(self, lambda_emulator_factory):
        emu = lambda_emulator_factory(instance_quota=0)
        emu.add_ssh_key("deploy")
        result = run(emu)
        assert result["failed"] and result["error_code"] == "global/quota-exceeded" and result["changed"] is False
        assert "quota is exhausted" in result["msg"] and "Contact Support to increase your quota." in result["msg"]
        assert "demo-agent-1 (gpu_1x_a10 in us-east-1)" in result["msg"]
        assert launches(emu) == 1  # quota is account-wide: no other placement is tried

    def test_file_systems_narrow_the_regions(self, emu):
        emu.add_filesystem("shared", "us-west-1")
        result = run(emu, file_system_names=["shared"])
        assert result["instance"]["region"]["name"] == "us-west-1"
        assert result["instance"]["file_system_names"] == ["shared"]

    def test_file_system_outside_the_regions_fails_before_launching(self, emu):
        emu.add_filesystem("shared", "us-south-1")
        result = run(emu, file_system_names=["shared"])
        assert result["failed"] and "us-south-1" in result["msg"] and launches(emu) == 0

    def test_unknown_file_system_fails(self, emu):
        result = run(emu, file_system_mounts=[{"mount_point": "/data/x", "file_system_id": "0" * 32}])
        assert result["failed"] and "0" * 32 in result["msg"] and launches(emu) == 0


# -- lost answers ---------------------------------------------------------------------------------

class TestLostLaunchAnswers:
    @pytest.mark.parametrize("fault", [Fault.server_error(502, path=LAUNCH, after_side_effect=True),
                                       Fault.dropped_connection(path=LAUNCH, after_side_effect=True)],
                             ids=["502-after-launch", "dropped-after-launch"])
    def test_launched_instance_is_adopted(self, emu, fault):
        emu.add_fault(fault)
        result = run(emu)
        assert result["changed"] is True and result["launch"]["adopted"] is True
        assert result["instance"]["status"] == "active"
        assert launches(emu) == 1 and len(live_named(emu)) == 1
        assert any("was lost" in warning for warning in result["warnings"])

    def test_lost_answer_without_launch_launches_again(self, emu):
        emu.add_fault(Fault.server_error(502, path=LAUNCH))
        result = run(emu)
        assert result["changed"] is True and result["launch"]["adopted"] is False
        assert launches(emu) == 2 and len(live_named(emu)) == 1

    def test_gives_up_after_repeated_lost_answers(self, emu):
        emu.add_fault(Fault.server_error(502, path=LAUNCH, times=lambda_instance.MAX_LOST_LAUNCHES))
        result = run(emu)
        assert result["failed"] and "Run again" in result["msg"]
        assert launches(emu) == lambda_instance.MAX_LOST_LAUNCHES and live_named(emu) == []

    def test_interrupted_run_converges_on_rerun(self, emu):
        # The answer is lost and reading the list back fails too: the run fails after the launch.
        emu.add_fault(Fault.server_error(502, path=LAUNCH, after_side_effect=True))
        emu.add_fault(Fault.slow(0.0, method="GET", path="/instances"))  # the first list, before launching, succeeds
        emu.add_fault(Fault.server_error(500, method="GET", path="/instances", times=10))
        first = run(emu, max_retries=0)
        assert first["failed"] and len(live_named(emu)) == 1
        emu.clear_faults()
        second = run(emu)
        assert second["changed"] is False and launches(emu) == 1 and len(live_named(emu)) == 1

    def test_rate_limited_launch_is_retried_without_reconciling(self, emu):
        emu.add_fault(Fault.rate_limited(retry_after=0, path=LAUNCH))
        result = run(emu)
        assert result["changed"] is True and result["launch"]["adopted"] is False and launches(emu) == 2
        assert len(live_named(emu)) == 1


# -- absent and restarted ---------------------------------------------------------------------------

class TestAbsent:
    def test_terminates_and_waits(self, emu):
        launched = run(emu)["instance"]["id"]
        result = run(emu, state="absent", diff=True)
        assert result["changed"] is True and result["terminated_ids"] == [launched]
        assert status_of(emu, launched) in ("terminated", "gone")
        assert result["diff"]["before"]["status"] == "active" and result["diff"]["after"]["status"] == "absent"
        assert result["instance"] == {}

    def test_absent_twice_changes_nothing(self, emu):
        run(emu)
        run(emu, state="absent")
        emu.clear_requests()
        result = run(emu, state="absent")
        assert result["changed"] is False and emu.count("POST", "/instance-operations/terminate") == 0

    def test_check_mode_terminates_nothing(self, emu):
        launched = run(emu)["instance"]["id"]
        result = run(emu, state="absent", check_mode=True)
        assert result["changed"] is True and result["terminated_ids"] == [launched]
        assert emu.count("POST", "/instance-operations/terminate") == 0 and emu.instance(launched)["status"] == "active"

    def test_waits_for_a_namesake_already_terminating(self, lambda_emulator_factory):
        emu = lambda_emulator_factory(terminate_seconds=20)  # 0.2 s
        [instance_id] = emu.seed_instances([{"name": "demo-agent-1", "tags": {"k3s-cluster": "demo"}}])
        emu.add_ssh_key("deploy")
        emu.clear_requests()
        no_wait = run(emu, state="absent", wait=False)
        assert no_wait["changed"] is True and status_of(emu, instance_id) == "terminating"
        result = run(emu, state="absent")
        assert result["changed"] is False and status_of(emu, instance_id) in ("terminated", "gone")
        assert emu.count("POST", "/instance-operations/terminate") == 1

    def test_absent_needs_no_launch_options(self, emu):
        run(emu)
        result = run(emu, state="absent", regions=None, instance_types=None, ssh_key_name=None)
        assert result.get("changed") is True, result

    def test_absent_by_id_terminates_one_of_several_namesakes(self, emu):
        ids = emu.seed_instances([{"name": "demo-agent-1", "tags": {"k3s-cluster": "demo"}},
                                  {"name": "demo-agent-1", "tags": {"k3s-cluster": "demo"}},
                                  {"tags": {"k3s-cluster": "demo"}}])
        assert run(emu, state="absent")["failed"] is True  # by name the duplicates are ambiguous
        for instance_id in ids[1:]:
            result = run(emu, state="absent", name=None, instance_id=instance_id)
            assert result["changed"] is True and result["terminated_ids"] == [instance_id]
        assert status_of(emu, ids[0]) == "active"
        assert all(status_of(emu, instance_id) in ("terminated", "gone") for instance_id in ids[1:])
        again = run(emu, state="absent", name=None, instance_id=ids[2])
        assert again["changed"] is False

    def test_absent_by_id_refuses_an_instance_outside_the_cluster(self, emu):
        [other] = emu.seed_instances([{"name": "prod-agent-1", "tags": {"k3s-cluster": "prod"}}])
        result = run(emu, state="absent", name=None, instance_id=other)
        assert result["failed"] is True and "is not a member of the cluster (instances tagged k3s-cluster=demo)" in result["msg"]
        assert emu.count("POST", "/instance-operations/terminate") == 0 and status_of(emu, other) == "active"

    def test_absent_by_id_refuses_an_untagged_look_alike_and_takes_a_listed_one(self, emu):
        [look_alike, listed] = emu.seed_instances([{"name": "demo-db"}, {"name": "sophia-control"}])
        refused = run(emu, state="absent", name=None, instance_id=look_alike)
        assert refused["failed"] is True and "not a member" in refused["msg"] and status_of(emu, look_alike) == "active"
        taken = run(emu, state="absent", name=None, instance_id=listed, member_names=["sophia-control"])
        assert taken["changed"] is True and taken["terminated_ids"] == [listed]

    def test_present_needs_a_name(self, emu):
        result = run(emu, name=None, instance_id="0" * 32)
        assert result["failed"] is True and "name" in result["msg"] and launches(emu) == 0


class TestRestarted:
    def test_restarts_an_active_instance(self, emu):
        instance_id = run(emu)["instance"]["id"]
        result = run(emu, state="restarted")
        assert result["changed"] is True and result["instance"]["id"] == instance_id
        assert emu.count("POST", "/instance-operations/restart") == 1
        assert emu.instance(instance_id)["emulator"]["restart_count"] == 1

    def test_check_mode_restarts_nothing(self, emu):
        run(emu)
        result = run(emu, state="restarted", check_mode=True)
        assert result["changed"] is True and emu.count("POST", "/instance-operations/restart") == 0

    def test_restart_of_a_missing_instance_fails(self, emu):
        result = run(emu, state="restarted")
        assert result["failed"] and "no live Lambda Cloud instance" in result["msg"] and launches(emu) == 0

    def test_booting_instance_is_restarted_once_active(self, lambda_emulator_factory):
        emu = lambda_emulator_factory(boot_seconds=100)  # 1 s: still booting at the first run on a loaded machine
        emu.seed_instances([{"name": "demo-agent-1", "status": "booting", "tags": {"k3s-cluster": "demo"}}])
        assert run(emu, state="restarted", wait=False)["failed"]
        assert run(emu, state="restarted")["changed"] is True
        assert emu.count("POST", "/instance-operations/restart") == 1


# -- what an earlier step read ----------------------------------------------------------------------------

def snapshot_of(emu, read_at: float) -> dict:
    """What lambda_cluster_plan would hand on: the instances and the capacity, read now."""
    client = LambdaClient(emu.api_key, emu.url, request_interval=0, state_dir=None)
    capacity = {name: [region["name"] for region in item["regions_with_capacity_available"]]
                for name, item in client.list_instance_types().items()}
    snapshot = {"instances": client.list_instances(), "capacity": capacity, "read_at": read_at}
    emu.clear_requests()
    return snapshot


class TestSnapshot:
    def test_a_launch_with_a_snapshot_sends_only_the_launch(self, emu):
        result = run(emu, snapshot=snapshot_of(emu, time.time()), wait=False)
        assert result["changed"] is True and result["launch"]["region"] == "us-east-1"
        assert [(record.method, record.path) for record in emu.requests()] == [("POST", "/api/v1/instance-operations/launch")]

    def test_an_existing_instance_in_the_snapshot_costs_no_request(self, emu):
        run(emu)
        result = run(emu, snapshot=snapshot_of(emu, time.time()), wait=False)
        assert result["changed"] is False and emu.count() == 0

    def test_a_part_the_snapshot_lacks_is_read(self, emu):
        snapshot = snapshot_of(emu, time.time())
        del snapshot["capacity"]
        assert run(emu, snapshot=snapshot, wait=False)["changed"] is True
        assert [record.path for record in emu.requests()] == ["/api/v1/instance-types", "/api/v1/instance-operations/launch"]

    def test_a_snapshot_older_than_this_controllers_last_launch_of_the_name_is_not_trusted(self, emu):
        """Two runs planned before either launched: the second finds the first's instance instead of launching a twin."""
        stale = snapshot_of(emu, time.time() - 60)
        assert run(emu, snapshot=stale, wait=False)["changed"] is True
        emu.clear_requests()
        second = run(emu, snapshot=stale, wait=False)
        assert second["changed"] is False and launches(emu) == 0 and len(live_named(emu)) == 1
        assert emu.count("GET", "/instances") == 1, "the list was read again"

    def test_an_unknown_region_is_found_from_the_snapshots_capacity(self, emu):
        result = run(emu, regions=["us-east1"], snapshot=snapshot_of(emu, time.time()))
        assert result["failed"] is True and "no region us-east1" in result["msg"] and emu.count() == 0

    def test_termination_by_id_uses_the_snapshot(self, emu):
        launched = run(emu)["instance"]["id"]
        members = [dict(instance, tags={"k3s-cluster": "demo"}) for instance in snapshot_of(emu, time.time())["instances"]]
        result = run(emu, state="absent", name=None, instance_id=launched, wait=False, snapshot={"instances": members})
        assert result["changed"] is True and result["terminated_ids"] == [launched]
        assert [(record.method, record.path) for record in emu.requests()] == [("POST", "/api/v1/instance-operations/terminate")]


# -- secrets ------------------------------------------------------------------------------------------

class TestSecrets:
    def test_no_key_or_jupyter_secret_in_any_result(self, emu):
        results = [run(emu, diff=True), run(emu), run(emu, state="restarted"), run(emu, state="absent", diff=True)]
        emu.seed_instances([{"name": "demo-agent-1", "tags": {"k3s-cluster": "demo"}}] * 2)
        results.append(run(emu))  # a failure (duplicates) too
        tokens = [item.get("jupyter_token") for item in emu.instances() if item.get("jupyter_token")]
        text = json.dumps(results)
        assert tokens and emu.api_key not in text and "jupyter" not in text
        assert all(token not in text for token in tokens)

    def test_invalid_key_message_does_not_echo_the_key(self, emu):
        result = run(emu, api_key="secret_wrong.key")
        assert result["failed"] and result["error_code"] == "global/invalid-api-key" and "secret_wrong.key" not in result["msg"]


class TestRulesetsByRegion:
    """Rulesets attach only at launch and belong to one region: the map keeps capacity fallback working."""

    def rulesets(self, emu) -> dict:
        rule = [{"protocol": "tcp", "port_range": [22, 22], "source_network": "203.0.113.0/24", "description": "ssh"}]
        return {region: emu.add_firewall_ruleset("demo-k3s-" + region, region, rule)["id"] for region in ("us-east-1", "us-west-1")}

    def test_falls_back_to_the_next_region_with_that_regions_ruleset(self, emu):
        ids = self.rulesets(emu)
        emu.set_capacity("gpu_1x_a10", "us-east-1", 0)
        result = run(emu, firewall_ruleset_ids_by_region=ids)
        assert result["changed"] is True and result["launch"]["region"] == "us-west-1"
        assert result["instance"]["firewall_rulesets"] == [{"id": ids["us-west-1"]}]

    def test_only_regions_in_the_map_are_tried(self, emu):
        ids = self.rulesets(emu)
        result = run(emu, regions=["us-south-1"], firewall_ruleset_ids_by_region=ids)
        assert result["failed"] is True and "names rulesets for us-east-1, us-west-1 only" in result["msg"]
        assert launches(emu) == 0

    def test_a_region_may_map_to_several_ids_or_none_yet(self, emu):
        ids = self.rulesets(emu)
        result = run(emu, regions=["us-east-1"], firewall_ruleset_ids_by_region={"us-east-1": [ids["us-east-1"], ""]}, check_mode=True)
        assert result["launch"]["request"]["firewall_rulesets"] == [{"id": ids["us-east-1"]}] and launches(emu) == 0
