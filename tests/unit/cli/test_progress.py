"""The command line's view of a run, advanced event by event."""

from __future__ import annotations

from pathlib import Path

import pytest
from lambda_k3s_cli.progress import RunProgress
from lambda_k3s_cli.project import Project, StageMap

from unit.cli.events import ARCH_MESSAGE, deploy_events, event, play, result, stats, task

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def site_stages() -> StageMap:
    project = Project(REPO)
    return project.stage_map(project.playbook("site"))


def apply_all(progress: RunProgress, events: list[dict]) -> list:
    notices = []
    for item in events:
        notices += progress.apply(item)
    return notices


def test_plays_map_to_site_stages_and_a_failed_node_is_kept_with_its_reason(site_stages: StageMap) -> None:
    progress = RunProgress(site_stages, "deploy")
    notices = apply_all(progress, deploy_events())
    assert [notice.text for notice in notices if notice.kind == "stage"] == ["preflight", "gpu", "k3s"]
    summary = progress.summary()
    assert [(stage["name"], stage["state"]) for stage in summary["stages"]] == [
        ("preflight", "failed"), ("gpu", "ok"), ("k3s", "ok"), ("cluster", "not run"), ("platform", "not run"),
        ("secrets", "not run"), ("monitoring", "not run"), ("gitops", "not run")]
    assert summary["failures"] == [{"host": "demo-gh200-1", "stage": "preflight", "task": "Fail when the architecture differs from the "
                                    "instance type's", "message": ARCH_MESSAGE, "unreachable": False, "input_check": False}]
    assert summary["hosts"]["demo-a10-1"] == {"ok": 4, "changed": 1, "failures": 0, "dark": 0, "skipped": 0, "rescued": 0, "ignored": 0}
    assert summary["changed"] == 1 and summary["tasks"] == 5


def test_hosts_track_their_task_and_the_task_counts_hosts_done(site_stages: StageMap) -> None:
    progress = RunProgress(site_stages, "deploy")
    apply_all(progress, [play("Check the cluster's nodes"), task("Gathering Facts"), result("start", "a", "Gathering Facts"),
                         result("start", "b", "Gathering Facts"), result("ok", "a", "Gathering Facts")])
    assert (len(progress.task_done), len(progress.task_hosts)) == (1, 2)
    assert (progress.hosts["b"].stage, progress.hosts["b"].task) == ("preflight", "Gathering Facts")
    apply_all(progress, [result("failed", "b", "Gathering Facts", {"msg": "boom"})])
    assert progress.hosts["b"].trouble == "failed" and progress.hosts["a"].trouble == ""


def test_ignored_failures_do_not_count_as_failures() -> None:
    progress = RunProgress(StageMap(), "run")
    notices = apply_all(progress, [play("p"), task("t"), result("failed", "a", "t", {"msg": "expected"}, ignore_errors=True)])
    assert notices[-1].outcome == "ignored" and notices[-1].text == "expected"
    assert progress.failures == []


def test_plays_a_stage_map_does_not_know_belong_to_the_verb() -> None:
    progress = RunProgress(StageMap(), "provision")
    notices = apply_all(progress, [play("Provision the Lambda Cloud instances of a K3s cluster")])
    assert notices[0].text == "provision" and progress.stage == "provision"


def test_debug_messages_are_reported_unless_the_verb_prints_its_own_result() -> None:
    shown = RunProgress(StageMap(), "deploy")
    hidden = RunProgress(StageMap(), "status", show_messages=False)
    events = [play("p"), task("Show", "ansible.builtin.debug"),
              result("ok", "localhost", "Show", {"msg": ["line 1", "line 2"]}, action="ansible.builtin.debug")]
    assert [notice.text for notice in apply_all(shown, events) if notice.kind == "message"] == ["line 1\nline 2"]
    assert not [notice for notice in apply_all(hidden, events) if notice.kind == "message"]


def test_warnings_lose_their_label_and_colours() -> None:
    progress = RunProgress(StageMap(), "run")
    [notice] = progress.apply(event("warning", stdout="\x1b[1;35m[WARNING]: Could not match supplied host pattern\x1b[0m\r\n"))
    assert (notice.kind, notice.text) == ("warning", "Could not match supplied host pattern")


def test_the_recap_settles_rescued_failures_and_keeps_the_published_data() -> None:
    progress = RunProgress(StageMap(), "provision")
    apply_all(progress, [play("p"), task("Launch"), result("failed", "localhost", "Launch", {"msg": "quota"}),
                         stats(ok={"localhost": 3}, rescued={"localhost": 1}, processed={"localhost": 1},
                               artifact_data={"lambda_k3s_status": {"nodes": []}})])
    assert progress.failures == []
    assert progress.artifact_data == {"lambda_k3s_status": {"nodes": []}}


def test_unknown_events_are_ignored() -> None:
    assert RunProgress(StageMap(), "run").apply(event("playbook_on_include")) == []


def test_ansible_playbooks_own_warnings_and_errors_come_with_their_wrapped_lines() -> None:
    progress = RunProgress(StageMap(), "deploy")
    notices = apply_all(progress, [
        event("verbose", stdout="[WARNING]:  * Failed to parse inventories/lambda.py with script plugin: Lambda"),
        event("verbose", stdout="Cloud API key is invalid, expired or deleted"),
        event("verbose", stdout=""),
        event("verbose", stdout="PLAY RECAP ****"),
        event("verbose", stdout="[DEPRECATION WARNING]: something old"),
        event("verbose", stdout="[ERROR]: Specified inventory, host pattern and/or --limit leaves us with no hosts to target."),
    ])
    assert [(notice.kind, notice.text, notice.continued) for notice in notices] == [
        ("warning", "* Failed to parse inventories/lambda.py with script plugin: Lambda", False),
        ("warning", "Cloud API key is invalid, expired or deleted", True),
        ("error", "Specified inventory, host pattern and/or --limit leaves us with no hosts to target.", False)]
