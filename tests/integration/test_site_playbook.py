"""site.yml, the main job, as users run it: ansible-playbook site.yml -i inventories/lambda.py."""

from __future__ import annotations

import pytest
from integration.helpers import REPO_ROOT, EmulatorProcess, run_ansible


REJECTED = ("The Lambda Cloud API rejected the API key as invalid, expired or deleted (global/invalid-api-key). The key came from "
            "the LAMBDA_API_KEY environment variable; create a new key in the Lambda Cloud dashboard and set it there.")
SCRIPT_PLUGIN = "'ansible_collections.ansible.builtin.plugins.inventory.script'"
LAMBDA_PLUGIN = "'ansible_collections.sophia.lambda_k3s.plugins.inventory.lambda_cloud'"
# Every line a failed load of each documented source may print: the Lambda inventory's message and Ansible's framing of
# that one failure. Anything else (another plugin's failure, "No inventory was parsed", a play on no hosts) is noise.
FAILED_LOAD_LINES = {
    "inventories/lambda.py": [
        "[WARNING]: Failed to parse inventory with %s plugin: Inventory script returned non-zero exit code 1." % SCRIPT_PLUGIN,
        "Failed to parse inventory with %s plugin." % SCRIPT_PLUGIN,
        "<<< caused by >>>",
        "Inventory script returned non-zero exit code 1.",
        "Origin: <inventory plugin %s with source '{source}'>" % SCRIPT_PLUGIN,
        "Standard error from inventory script:",
        "lambda.py: " + REJECTED,
        "[ERROR]: Completely failed to parse inventory source {source}",
    ],
    "inventories/lambda_cloud.yml": [
        "[WARNING]: Failed to parse inventory with %s plugin: %s" % (LAMBDA_PLUGIN, REJECTED),
        "Failed to parse inventory with %s plugin." % LAMBDA_PLUGIN,
        "<<< caused by >>>",
        REJECTED,
        "Origin: <inventory plugin %s with source '{source}'>" % LAMBDA_PLUGIN,
        "[ERROR]: Completely failed to parse inventory source {source}",
    ],
}


@pytest.mark.parametrize("source", sorted(FAILED_LOAD_LINES))
def test_a_failed_inventory_load_shows_the_lambda_message_alone(emulator_process: EmulatorProcess, make_ansible_env, source) -> None:
    """The documented command with a wrong key: the Lambda inventory's failure is the only thing on screen, and the run stops."""
    env = make_ansible_env(**dict(emulator_process.environment(), LAMBDA_API_KEY="secret_wrong.key", LAMBDA_K3S_CLUSTER="demo"))
    result = run_ansible(["ansible-playbook", "site.yml", "-i", source], env)
    assert result.returncode != 0
    expected = [line.format(source=REPO_ROOT / source) for line in FAILED_LOAD_LINES[source]]
    assert [line for line in (result.stdout + result.stderr).splitlines() if line.strip()] == expected
    assert emulator_process.count("GET", "/instances") == 1, "the source was loaded once"


def test_site_fails_clearly_when_the_cluster_has_no_instance(emulator_process: EmulatorProcess, make_ansible_env) -> None:
    env = make_ansible_env(**emulator_process.environment(), LAMBDA_K3S_CLUSTER="absent")
    result = run_ansible(["ansible-playbook", "site.yml", "-i", "inventories/lambda.py"], env)
    assert result.returncode != 0
    assert "The inventory has no hosts in k3s_cluster" in result.stdout + result.stderr
    assert emulator_process.count("GET", "/instances") == 1


def test_site_reaches_no_instance_until_a_cluster_is_chosen(emulator_process: EmulatorProcess, make_ansible_env) -> None:
    """With no cluster chosen the inventory lists the account (a colleague's Jupyter box too) but site.yml touches
    none of it, and says in one sentence how to choose."""
    emulator_process.seed([{"name": "colleagues-jupyter", "ip": "127.0.0.1"},
                           {"name": "demo-server-1", "ip": "127.0.0.1", "tags": {"k3s-cluster": "demo"}}])
    env = make_ansible_env(**emulator_process.environment())
    result = run_ansible(["ansible-playbook", "site.yml", "-i", "inventories/lambda.py"], env)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "No K3s cluster is chosen" in output and "LAMBDA_K3S_CLUSTER" in output and "whole_account" in output
    assert "Check the cluster's nodes" not in output, "no play ran on an instance"

    graph = run_ansible(["ansible-inventory", "-i", "inventories/lambda.py", "--graph"], env)
    assert "colleagues-jupyter" in graph.stdout and "demo-server-1" in graph.stdout, "--graph still shows the account"
