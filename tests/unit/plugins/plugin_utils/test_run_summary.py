"""The run ledger: stage states, failures with their reasons, rescued hosts, and input checks."""

from __future__ import annotations

import pytest

from ansible_collections.sophia.lambda_k3s.plugins.plugin_utils.run_summary import (
    CHANGED,
    FAILED,
    OK,
    SITE_STAGES,
    SKIPPED,
    UNREACHABLE,
    RunLedger,
    failure_message,
    is_input_check,
    report_lines,
    stage_of,
)


def states(report: dict) -> dict[str, str]:
    return {stage["name"]: stage["state"] for stage in report["stages"]}


CORE_STAGES = SITE_STAGES[:5]


def test_site_stages_are_the_core_five_then_the_optional_add_ons() -> None:
    assert SITE_STAGES == ("preflight", "gpu", "k3s", "cluster", "platform", "secrets", "monitoring", "gitops")


def test_a_stage_whose_every_task_was_skipped_is_reported_skipped_not_ok() -> None:
    ledger = RunLedger(SITE_STAGES)
    for stage in CORE_STAGES:
        ledger.record(stage, "server", OK)
    for stage in ("secrets", "monitoring", "gitops"):
        ledger.record(stage, "server", SKIPPED)
    ledger.record("gitops", "localhost", SKIPPED)
    report = ledger.report()
    assert [states(report)[stage] for stage in ("secrets", "monitoring", "gitops")] == ["skipped"] * 3
    assert report["stages"][-1]["reason"].startswith("every task was skipped")


def test_a_failed_node_leaves_the_other_stages_to_the_others() -> None:
    ledger = RunLedger(CORE_STAGES)
    ledger.record("preflight", "server", OK)
    ledger.record("preflight", "gpu-1", FAILED, task="Check the architecture", result={"msg": "gpu-1 is x86_64, not arm64"})
    for stage in ("gpu", "k3s", "cluster", "platform"):
        ledger.record(stage, "server", CHANGED)
    report = ledger.report()
    assert states(report) == {"preflight": "failed", "gpu": "ok", "k3s": "ok", "cluster": "ok", "platform": "ok"}
    assert report["stages"][0]["failed"] == ["gpu-1"] and report["stages"][0]["hosts"] == 2
    assert report["failures"] == [{"host": "gpu-1", "stage": "preflight", "task": "Check the architecture",
                                   "message": "gpu-1 is x86_64, not arm64", "unreachable": False, "input_check": False}]


def test_stages_that_never_started_say_why() -> None:
    ledger = RunLedger(CORE_STAGES, not_selected=["platform"])
    ledger.record("preflight", "server", OK)
    ledger.record("k3s", "localhost", FAILED, task="Stop when a server dropped out", result={"msg": "not whole"})
    report = ledger.report()
    assert states(report) == {"preflight": "ok", "gpu": "not run", "k3s": "failed", "cluster": "not run", "platform": "not selected"}
    assert report["stages"][3]["reason"] == "the run stopped in k3s"
    ledger.canceled = True
    assert ledger.report()["stages"][3]["reason"] == "the run was canceled"


def test_a_stage_whose_hosts_all_dropped_out_earlier_is_reported_as_such() -> None:
    ledger = RunLedger(("preflight", "gpu"))
    ledger.record("preflight", "server", UNREACHABLE, task="Gathering Facts", result={"msg": "Connection refused"})
    ledger.start("gpu")
    report = ledger.report()
    assert report["stages"][1] == {"name": "gpu", "state": "no hosts", "hosts": 0, "failed": [], "unreachable": [],
                                   "reason": "no host was left to run it"}
    assert report["stages"][0]["unreachable"] == ["server"] and report["failures"][0]["unreachable"]


def test_a_rescued_failure_is_not_reported() -> None:
    ledger = RunLedger(("provision",))
    ledger.record("provision", "localhost", FAILED, task="Launch", result={"msg": "quota"})
    ledger.record("provision", "localhost", OK)
    ledger.settle(failed_hosts=[])
    report = ledger.report()
    assert report["failures"] == [] and states(report) == {"provision": "ok"}


def test_the_worst_outcome_of_a_host_counts_for_its_stage() -> None:
    ledger = RunLedger(("k3s",))
    for outcome in (SKIPPED, FAILED, OK, CHANGED):
        ledger.record("k3s", "agent", outcome)
    assert ledger.report()["stages"][0]["failed"] == ["agent"]


@pytest.mark.parametrize(("action", "path", "expected"), [
    ("ansible.builtin.validate_argument_spec", "", True),
    ("validate_argument_spec", "/x/roles/k3s/tasks/main.yml:3", True),
    ("ansible.builtin.assert", "/x/roles/k3s/tasks/validate.yml:12", True),
    ("ansible.builtin.assert", "/x/playbooks/tasks/validate_cluster_spec.yml:110", True),
    ("ansible.builtin.assert", "/x/roles/preflight/tasks/main.yml:25", False),
    ("ansible.builtin.fail", "", False),
])
def test_input_checks_are_argument_specs_and_validate_files(action: str, path: str, expected: bool) -> None:
    assert is_input_check(action, path) is expected


def test_an_input_check_failure_is_marked() -> None:
    ledger = RunLedger()
    ledger.record("provision", "localhost", FAILED, task="Check the cluster spec", result={"msg": "bad"}, action="ansible.builtin.assert",
                  task_path="/repo/playbooks/tasks/validate_cluster_spec.yml:100")
    assert ledger.failures[0].input_check


@pytest.mark.parametrize(("result", "message"), [
    ({"msg": "plain  message\n on two lines"}, "plain message on two lines"),
    ({"censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result", "msg": "secret"},
     "the output has been hidden due to the fact that 'no_log: true' was specified for this result"),
    ({"msg": "One or more items failed", "results": [{"failed": False, "item": "a"}, {"failed": True, "item": "b", "msg": "b broke"}]},
     "b: b broke"),
    ({"rc": 1, "stderr": "warning\nE: Unable to locate package nvidia\n", "msg": ""}, "E: Unable to locate package nvidia"),
    ({"module_stderr": "Traceback\nValueError: boom", "msg": "MODULE FAILURE"}, "MODULE FAILURE"),
    (None, ""),
])
def test_failure_messages_say_why_in_one_line(result, message: str) -> None:
    assert failure_message(result) == message


def test_long_messages_are_cut() -> None:
    assert len(failure_message({"msg": "x" * 5000})) == 600


def test_a_plays_stage_is_its_first_stage_tag() -> None:
    assert stage_of(["always", "k3s"], "Install K3s") == "k3s"
    assert stage_of(["labels"], "Provision") == "Provision"


def test_report_lines_flag_trouble() -> None:
    ledger = RunLedger(("preflight", "gpu"))
    ledger.record("preflight", "a", OK)
    ledger.record("gpu", "a", FAILED, task="Install", result={"msg": "no space"})
    lines = report_lines(ledger.report())
    assert lines[0] == ("preflight  ok            1 host", False)
    assert lines[1][1] and "failed: a" in lines[1][0]
    assert lines[2] == ('FAILED a in gpu, task "Install": no space', True)
