"""site.yml, the main job, as users run it: ansible-playbook site.yml -i inventories/lambda.py."""

from __future__ import annotations

from integration.helpers import EmulatorProcess, run_ansible


def test_site_fails_clearly_when_the_inventory_cannot_load(emulator_process: EmulatorProcess, make_ansible_env) -> None:
    env = make_ansible_env(**dict(emulator_process.environment(), LAMBDA_API_KEY="secret_wrong.key"))
    result = run_ansible(["ansible-playbook", "site.yml", "-i", "inventories/lambda.py"], env)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "The inventory has no hosts in k3s_cluster" in output
    assert "invalid, expired or deleted" in output
    assert "secret_wrong.key" not in output


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
