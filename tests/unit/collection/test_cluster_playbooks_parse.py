"""The cluster playbooks parse and resolve everything they use, and run nowhere but on the first server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
PLAYBOOKS = {
    "cluster.yml": ["Patch the labels and taints that differ", "Check that a pod runs on every GPU node and each node advertises its GPUs"],
    "platform.yml": ["Install or upgrade the platform release", "Check that a changed chart has a new version"],
    "rollback.yml": ["Roll back the release"],
    "status.yml": ["Read and report the cluster"],
    # The check for real clusters: only parsed here (it needs GPUs, K3s and NVIDIA's images).
    "verify.yml": ["Verify the nodes, the device plugin, GPU pods and the release"],
}


def _env() -> dict[str, str]:
    # The tests' inventories are static YAML files, which the repository's ansible.cfg does not read by default.
    env = dict(os.environ, PATH="%s%s%s" % (BIN, os.pathsep, os.environ.get("PATH", "")),
               ANSIBLE_INVENTORY_ENABLED="ansible.builtin.yaml,ansible.builtin.host_list")
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    return env


@pytest.mark.parametrize("playbook", sorted(PLAYBOOKS))
def test_the_playbook_passes_syntax_check_and_lists_its_tasks(playbook: str, tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"k3s_cluster": {"children": {
        "k3s_server": {"hosts": {"srv-b": {}, "srv-a": {}}}, "k3s_agent": {"hosts": {"gpu": {}}}}}}}}))
    for check in ("--syntax-check", "--list-hosts", "--list-tasks"):
        result = subprocess.run([str(BIN / "ansible-playbook"), "playbooks/" + playbook, "-i", str(inventory), check],
                                cwd=REPO, capture_output=True, text=True, env=_env(), check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        if check == "--list-hosts":
            # The first server in sorted order, whatever the inventory's order.
            assert result.stdout.split("hosts (1):")[1].split() == ["srv-a"]
    for task in PLAYBOOKS[playbook]:
        assert task in result.stdout


def test_without_a_server_the_play_runs_on_the_controller_and_stops_saying_why(tmp_path: Path) -> None:
    result = subprocess.run([str(BIN / "ansible-playbook"), "playbooks/cluster.yml", "-i", "localhost,"], cwd=REPO, capture_output=True,
                            text=True, env=dict(_env(), ANSIBLE_LOCAL_TEMP=str(tmp_path)), check=False, timeout=300)
    assert result.returncode != 0
    assert "The inventory has no host in the group k3s_server" in result.stdout + result.stderr
