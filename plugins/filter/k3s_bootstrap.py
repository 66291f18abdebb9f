# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How each node enters the cluster, and with which token, for the k3s role.

The plan is recomputed from the servers' live state every time a server is configured: a cluster is
initialised (cluster-init) only when no server of the cluster runs, a new or rebuilt server joins a
running one, and a node that has already joined keeps the settings it joined with, so a rerun
changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.filter.cluster_nodes import k3s_first_server
from ansible_collections.sophia.lambda_k3s.plugins.filter.k3s_config import parse_config_text
from ansible_collections.sophia.lambda_k3s.plugins.filter.k3s_versions import node_condition

# K3s's secure token: K10<sha256 of the cluster CA>::<user>:<password>; the short form is the password.
_SECURE_TOKEN = re.compile(r"^K10[0-9a-f]{64}::(?P<user>[^:]+):(?P<password>.+)$")
_BOOTSTRAP_KEYS = ("cluster-init", "server")


def k3s_servers_state(results: list, hostvars: Mapping, port: int = 6443) -> list:
    """Every server's live state, from a k3s_node_info loop over the servers (in inventory order).

    A server that could not be asked (unreachable) counts as a member that is down: the plan then
    never starts a second cluster beside it.
    """
    servers = []
    for result in results:
        name = result["item"]
        service = result.get("service")
        config = parse_config_text(result.get("config_text"))
        address = str(config.get("node-ip") or _host_address(hostvars, name))
        servers.append({
            "name": name,
            "url": "https://%s:%d" % ("[%s]" % address if ":" in address else address, int(port)),
            "running": bool(service and service.get("active")),
            "initialised": bool(result.get("joined")) if service else True,
            "reachable": bool(service),
            "current": {key: config[key] for key in _BOOTSTRAP_KEYS if config.get(key)},
            "node_name": str(config.get("node-name") or _host_var(hostvars, name, "_k3s_node_name") or name),
        })
    return servers


def k3s_control_host(servers: list, exclude: list | None = None) -> str:
    """The first running server that has joined the cluster, other than ``exclude``; "" when none."""
    for server in servers:
        if server["running"] and server["initialised"] and server["name"] not in (exclude or []):
            return server["name"]
    return ""


def k3s_bootstrap_plan(servers: list, embedded_etcd: bool = True, registration_address: str = "") -> dict:
    """The bootstrap settings of every server, in inventory order.

    ``servers``: [{name, url, running, initialised, current: {config.yaml's cluster-init / server}}].
    A new cluster is initialised by the server k3s_first_server names, the one every cluster play runs on:
    the choice is that filter's, never made a second way here.
    Returns {"servers": {name: {"mode": init|join|keep|standalone, "settings": {...}}}, "join_url": the URL a
    new agent joins (empty when no server runs or is about to be initialised)}.
    """
    servers = [dict(server) for server in servers]
    running = [server for server in servers if server.get("running")]
    initialised = [server for server in servers if server.get("initialised")]
    first = _first_server(servers)
    plan = {}
    if not embedded_etcd:
        # SQLite (one server) or an external datastore: every server starts on its own datastore
        # settings, nothing to initialise or join.
        plan = {server["name"]: {"mode": "standalone", "settings": {}} for server in servers}
        return {"servers": plan, "join_url": registration_address or (running[0]["url"] if running else first["url"] if first else "")}

    if not running and initialised and len(initialised) < len(servers):
        fresh = [server["name"] for server in servers if not server.get("initialised")]
        raise AnsibleFilterError(
            "No K3s server of this cluster is running, but these servers already belong to it: %s. A new server (%s) would start a "
            "second cluster: start the existing servers first (or reset them with playbooks/reset.yml)."
            % (", ".join(server["name"] for server in initialised), ", ".join(fresh)))

    target = registration_address or (running[0]["url"] if running else "")
    init_server = None
    if not running and not initialised and first:
        init_server = first
        target = registration_address or init_server["url"]

    for server in servers:
        if server.get("initialised"):
            plan[server["name"]] = {"mode": "keep", "settings": _kept_settings(server, running)}
        elif server is init_server:
            plan[server["name"]] = {"mode": "init", "settings": {"cluster-init": True}}
        else:
            plan[server["name"]] = {"mode": "join", "settings": {"server": _join_url(server, running, target)}}
    return {"servers": plan, "join_url": target}


def k3s_agent_join_url(current: Mapping | None, join_url: str, registration_address: str = "") -> str:
    """The server URL an agent's configuration names: the registration address when set, else the one it
    already joined with (a rerun changes nothing), else the plan's."""
    if registration_address:
        return registration_address
    current_server = (current or {}).get("server")
    if current_server:
        return str(current_server)
    if not join_url:
        raise AnsibleFilterError("No K3s server of this cluster is running, so this agent has nothing to join: "
                                 "run the servers first (playbooks/k3s.yml does), or set k3s_registration_address.")
    return join_url


def k3s_stale_registration(node: str, nodes: list, initialised: bool) -> bool:
    """Whether a Node object left by an earlier machine of the same name must be deleted before this node joins.

    K3s refuses a node whose name is registered with another node password; a rebuilt machine has a
    new one. A Ready node of that name is a live machine, which must never be deleted for this.
    """
    if initialised:
        return False
    for entry in nodes or []:
        if (entry.get("metadata") or {}).get("name") != node:
            continue
        if node_condition(entry, "Ready") == "True":
            raise AnsibleFilterError(
                'A Ready node named "%s" is already in the cluster, but this host has never joined it: two machines would share '
                "one name. Set k3s_node_name for this host, or reset the other machine first." % node)
        return True
    return False


def k3s_server_count_problems(count: int, embedded_etcd: bool, allow_even: bool) -> list:
    count = int(count)
    if count < 1:
        return ["The inventory has no K3s server (group k3s_server, or the group k3s_server_group names)."]
    if embedded_etcd and count % 2 == 0 and not allow_even:
        return ["The cluster has %d servers; embedded etcd needs a majority of them up, so %d servers survive no more failures than %d "
                "do. Use an odd number, or set k3s_allow_even_servers=true." % (count, count, count - 1)]
    return []


def k3s_same_token(first: str, second: str) -> bool:
    """Whether two tokens carry the same credentials (the short and the secure form of one token match)."""
    return bool(first) and bool(second) and _password(first) == _password(second)


def k3s_token_secret(token: str) -> str:
    """The credential part of a token (the password), whichever form it is written in."""
    return _password(token or "")


def k3s_token_file_content(current: str, cluster_token: str) -> str:
    """What a node's token file must hold: its current content when that carries the cluster's token
    (short and secure forms of one token are equal, so a rerun rewrites nothing), else the cluster's token."""
    current = (current or "").strip()
    return current if current and k3s_same_token(current, cluster_token) else cluster_token


def k3s_token_file_problem(current: str, cluster_token: str, node: str, joined: bool) -> str:
    """Why a node's token file may not be replaced ("" when it may): K3s encrypts a joined node's
    bootstrap data with its token, so a different token would break it. The message names no token."""
    current = (current or "").strip()
    if current and joined and not k3s_same_token(current, cluster_token):
        return ("%s already joined the cluster with another token than the cluster's. K3s cannot change its token through "
                "configuration: rotate it with 'k3s token rotate' on a server, set k3s_token to the new value, or reset this node." % node)
    return ""


def k3s_token_problems(user_token: str, cluster_token: str, source: str) -> list:
    """A user token that is not the running cluster's fails the run (never printing either)."""
    if user_token and cluster_token and not k3s_same_token(user_token, cluster_token):
        return ["k3s_token is not the token of the running cluster (read from %s). K3s cannot change its token through configuration: "
                "rotate it with 'k3s token rotate --new-token' on a server first, then set k3s_token to the new value." % source]
    return []


def k3s_agent_token_of(agent_token_file: str, server_token: str) -> str:
    """The agent token read back from a server, or "" when the server has none of its own (K3s then
    links agent-token to the server token)."""
    agent_token_file = (agent_token_file or "").strip()
    if not agent_token_file or k3s_same_token(agent_token_file, server_token):
        return ""
    return agent_token_file


def _first_server(servers: list) -> dict | None:
    names = [server["name"] for server in servers]
    if not names:
        return None
    first = k3s_first_server({"servers": names}, "servers")
    return next(server for server in servers if server["name"] == first)


def _kept_settings(server: Mapping, running: list) -> dict:
    current = {key: value for key, value in (server.get("current") or {}).items() if key in _BOOTSTRAP_KEYS and value}
    if current:
        return current
    # The node has cluster data but lost its configuration: either setting restarts it on its own data.
    others = [other for other in running if other["name"] != server["name"]]
    return {"server": others[0]["url"]} if others else {"cluster-init": True}


def _join_url(server: Mapping, running: list, target: str) -> str:
    if target and target != server["url"]:
        return target
    others = [other["url"] for other in running if other["name"] != server["name"]]
    if not others:
        raise AnsibleFilterError("%s would join itself: set k3s_registration_address to another server or a load balancer." % server["name"])
    return others[0]


def _host_var(hostvars: Mapping, host: str, name: str):
    try:
        return hostvars[host].get(name)
    except (KeyError, AttributeError):
        return None


def _host_address(hostvars: Mapping, host: str) -> str:
    for name in ("_k3s_node_ip", "k3s_node_ip", "lambda_private_ip", "ansible_host"):
        value = _host_var(hostvars, host, name)
        if value:
            return str(value)
    return host


def _password(token: str) -> str:
    token = str(token).strip()
    match = _SECURE_TOKEN.match(token)
    return match.group("password") if match else token


class FilterModule:
    """Bootstrap and token decisions for the k3s role."""

    def filters(self) -> dict:
        return {
            "k3s_servers_state": k3s_servers_state,
            "k3s_control_host": k3s_control_host,
            "k3s_bootstrap_plan": k3s_bootstrap_plan,
            "k3s_agent_join_url": k3s_agent_join_url,
            "k3s_stale_registration": k3s_stale_registration,
            "k3s_server_count_problems": k3s_server_count_problems,
            "k3s_same_token": k3s_same_token,
            "k3s_token_secret": k3s_token_secret,
            "k3s_token_file_content": k3s_token_file_content,
            "k3s_token_file_problem": k3s_token_file_problem,
            "k3s_token_problems": k3s_token_problems,
            "k3s_agent_token_of": k3s_agent_token_of,
        }
