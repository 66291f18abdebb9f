"""site.yml is its stages (five, then three optional add-ons), each a playbook of its own (runnable alone) and a tag; nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.sophia.lambda_k3s.plugins.callback import run_summary
from ansible_collections.sophia.lambda_k3s.plugins.plugin_utils.run_summary import SITE_STAGES

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def ansible_playbook(*arguments: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH="%s%s%s" % (BIN, os.pathsep, os.environ.get("PATH", "")))
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    return subprocess.run([str(BIN / "ansible-playbook"), *arguments, "-i", "localhost,"], cwd=REPO, capture_output=True, text=True,
                          env=env, check=False)


def test_site_imports_the_stages_in_order_each_with_its_tag() -> None:
    entries = yaml.safe_load((REPO / "playbooks" / "site.yml").read_text())
    assert [(entry["ansible.builtin.import_playbook"], entry["tags"]) for entry in entries] == [
        ("sophia.lambda_k3s.%s" % stage, [stage]) for stage in SITE_STAGES]


@pytest.mark.parametrize("stage", SITE_STAGES)
def test_each_stage_runs_alone(stage: str) -> None:
    result = ansible_playbook("playbooks/%s.yml" % stage, "--syntax-check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_tag_selects_its_stage_and_the_inventory_check_always_runs() -> None:
    result = ansible_playbook("site.yml", "--list-tasks", "--tags", "gpu")
    assert result.returncode == 0, result.stderr
    assert "Fail when no cluster node was found" in result.stdout, "the inventory is checked whatever the stages"
    assert "nvidia_driver : Decide whether to adopt or install the driver" in result.stdout
    assert "preflight : Install the base packages" not in result.stdout and "Link kubectl, crictl and ctr to k3s" not in result.stdout


def test_the_k3s_stage_stops_first_when_a_server_dropped_out() -> None:
    plays = yaml.safe_load((REPO / "playbooks" / "k3s.yml").read_text())
    names = [play["name"] for play in plays]
    guard = plays[names.index("Stop when a server dropped out of the run")]
    assert names.index("Stop when a server dropped out of the run") < names.index("Install K3s on the servers, one at a time")
    assert guard["hosts"] == "k3s_server:localhost" and guard["max_fail_percentage"] == 0, \
        "the guard fails on localhost only, and its failure ends the run (any_errors_fatal would end only the play)"


def test_the_run_summary_callback_knows_the_same_stages_by_default() -> None:
    # The callback's documented default cannot import SITE_STAGES, so the two lists are kept equal here.
    options = yaml.safe_load(run_summary.DOCUMENTATION)["options"]
    assert options["stages"]["default"] == list(SITE_STAGES)


def test_every_stage_play_that_gathers_facts_gathers_the_same_set() -> None:
    """ansible.cfg's smart gathering lets the first stage play that runs gather for the whole run (once per node, not
    once per stage); that only holds when each such play asks for the same facts, whichever stage is skipped."""
    config = (REPO / "ansible.cfg").read_text().splitlines()
    assert "gathering = smart" in config
    gathering = {}
    for stage in SITE_STAGES:
        for play in yaml.safe_load((REPO / "playbooks" / ("%s.yml" % stage)).read_text()):
            if play.get("gather_facts"):
                gathering[play["name"]] = play.get("gather_subset")
    assert set(map(tuple, gathering.values())) == {("network",)}, gathering
