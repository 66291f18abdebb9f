"""One first server: the k3s role bootstraps a new cluster on the node the cluster plays run on.

The decision is k3s_first_server's (plugins/filter/cluster_nodes.py). The bootstrap plan asks it, the
k3s role's kubeconfig and verify steps ask it, and playbooks/k3s.yml configures the servers in Ansible's
own name order so that server goes first. These tests build an inventory with Ansible's own
InventoryManager, listed out of order, and check every one of those picks the same node.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader

from ansible_collections.sophia.lambda_k3s.plugins.filter.cluster_nodes import k3s_first_server
from ansible_collections.sophia.lambda_k3s.plugins.filter.k3s_bootstrap import k3s_bootstrap_plan

REPO = Path(__file__).resolve().parents[3]
FIRST_SERVER_FILTER = "sophia.lambda_k3s.k3s_first_server"
# Inventory orders that differ from name order: as a static file or an inventory plugin may list them.
SERVER_ORDERS = [
    ["sophia-server-b", "sophia-server-a", "sophia-server-c"],
    ["node-10", "node-2", "node-1"],
    ["gh200-east", "a10-west"],
    ["only-one"],
]


def inventory(servers: list[str]) -> InventoryManager:
    manager = InventoryManager(loader=DataLoader(), sources=[])
    manager.add_group("k3s_server")
    manager.add_group("k3s_agent")
    for name in servers:
        manager.add_host(name, group="k3s_server")
    manager.add_host("agent-0", group="k3s_agent")
    return manager


def server_play(playbook: str, name_start: str) -> dict:
    plays = yaml.safe_load((REPO / "playbooks" / playbook).read_text(encoding="utf-8"))
    return next(play for play in plays if play.get("hosts") == "k3s_server" and play["name"].startswith(name_start))


def fresh_state(names: list[str]) -> list[dict]:
    """What k3s_servers_state reports for servers on which K3s has never run, in inventory order."""
    return [{"name": name, "url": "https://%s:6443" % name, "running": False, "initialised": False, "current": {}} for name in names]


@pytest.mark.parametrize("servers", SERVER_ORDERS)
def test_the_bootstrapping_server_is_the_cluster_plays_first_server(servers: list[str]) -> None:
    manager = inventory(servers)
    groups = manager.get_groups_dict()
    first = k3s_first_server(groups)

    plan = k3s_bootstrap_plan(fresh_state(groups["k3s_server"]))
    assert [name for name, entry in plan["servers"].items() if entry["mode"] == "init"] == [first]
    assert plan["join_url"] == "https://%s:6443" % first


@pytest.mark.parametrize("servers", SERVER_ORDERS)
def test_playbooks_k3s_configures_the_first_server_first(servers: list[str]) -> None:
    """With serial: 1, the first batch must be the server the plan initialises, or the others wait for a cluster that never starts."""
    play = server_play("k3s.yml", "Install K3s on the servers")
    assert play["serial"] == 1
    hosts = [host.name for host in inventory(servers).get_hosts("k3s_server", order=play.get("order", "inventory"))]
    assert hosts[0] == k3s_first_server(inventory(servers).get_groups_dict())


@pytest.mark.parametrize("servers", SERVER_ORDERS)
def test_playbooks_reset_resets_the_first_server_last(servers: list[str]) -> None:
    play = server_play("reset.yml", "Reset the servers")
    hosts = [host.name for host in inventory(servers).get_hosts("k3s_server", order=play.get("order", "inventory"))]
    assert hosts[-1] == k3s_first_server(inventory(servers).get_groups_dict())


def test_the_role_and_the_cluster_plays_ask_the_same_filter() -> None:
    role_vars = yaml.safe_load((REPO / "roles/k3s/vars/main.yml").read_text(encoding="utf-8"))
    assert FIRST_SERVER_FILTER in role_vars["_k3s_first_server"]
    role_tasks = "".join(path.read_text(encoding="utf-8") for path in (REPO / "roles/k3s/tasks").glob("*.yml"))
    assert "_k3s_servers[0]" not in role_tasks, "the k3s role picks a first server without k3s_first_server"
    for playbook in ("cluster.yml", "platform.yml", "status.yml", "verify.yml", "rollback.yml"):
        plays = yaml.safe_load((REPO / "playbooks" / playbook).read_text(encoding="utf-8"))
        assert any(FIRST_SERVER_FILTER in str(play.get("hosts")) for play in plays), playbook
