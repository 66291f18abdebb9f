"""The run_summary callback ends a run with what failed where and why, stage by stage (ansible-playbook users' view)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from integration.helpers import REPO_ROOT, ansible_env, run_ansible

pytestmark = pytest.mark.integration

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
INVENTORY = Path(__file__).resolve().parent / "inventory" / "local_nodes.yml"


def run_staged(tmp_path: Path, *arguments: str) -> str:
    # A static YAML inventory, which the repository's ansible.cfg does not read by default.
    env = ansible_env(tmp_path, ANSIBLE_INVENTORY_ENABLED="ansible.builtin.yaml")
    result = run_ansible(["ansible-playbook", str(PLAYBOOKS / "staged_run.yml"), "-i", str(INVENTORY), *arguments], env, cwd=REPO_ROOT)
    assert "STAGE SUMMARY" in result.stdout, result.stdout + result.stderr
    return result.stdout.split("STAGE SUMMARY", 1)[1]


def test_a_failed_node_is_named_with_its_stage_and_reason_and_the_others_finish(tmp_path: Path) -> None:
    summary = run_staged(tmp_path, "-e", '{"broken_nodes": ["node-2"]}')
    lines = [line.strip() for line in summary.splitlines() if line.strip() and not line.strip().startswith("*")]
    assert lines[0].startswith("preflight  failed") and "3 hosts; failed: node-2" in lines[0]
    assert lines[1].startswith("gpu        ok") and "2 hosts" in lines[1], "the two other nodes finished the next stage"
    assert lines[2].startswith("k3s        ok")
    assert lines[3].startswith("platform   ok")
    assert 'FAILED node-2 in preflight, task "Fail on the broken node": node-2 is arm64, but its instance type says x86_64' in summary
    assert "Fail once" not in summary, "a rescued failure is not reported"


def test_a_stopped_run_says_which_stages_did_not_run_and_why(tmp_path: Path) -> None:
    summary = run_staged(tmp_path, "-e", "stop_run=true")
    assert "k3s        failed" in summary
    assert "platform   not run       the run stopped in k3s" in summary, summary
    assert 'FAILED localhost in k3s, task "Stop the run": The control plane is not whole' in summary


def test_stages_left_out_by_tags_are_named(tmp_path: Path) -> None:
    summary = run_staged(tmp_path, "--tags", "gpu")
    assert "preflight  not selected  left out by the tags of this run" in summary
    assert "gpu        ok" in summary


def test_nothing_is_added_to_json_output(tmp_path: Path) -> None:
    env = ansible_env(tmp_path, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_INVENTORY_ENABLED="ansible.builtin.yaml")
    result = run_ansible(["ansible-playbook", str(PLAYBOOKS / "staged_run.yml"), "-i", str(INVENTORY), "-e", '{"broken_nodes": ["node-2"]}'],
                         env, cwd=REPO_ROOT)
    assert json.loads(result.stdout)["stats"]["node-2"]["failures"] == 1, "standard output is one JSON document"
