# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What goes into a node's /etc/rancher/k3s/config.yaml, for the k3s role.

Users give K3s settings as dictionaries; the collection owns a few keys (the token, which server to
join, the node's addresses...) and computes them. These filters reject user dictionaries that set an
owned key, derive the Lambda networking settings, merge and render the file.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping

import yaml
from ansible.errors import AnsibleFilterError

# Keys the collection computes, with what to set instead. A key written with a "+" suffix (K3s's
# list-append form in drop-ins) is the same key.
OWNED_KEYS = {
    "token": "k3s_token (from a vault or any lookup)",
    "token-file": "k3s_token (the collection writes the token file)",
    "agent-token": "k3s_agent_token",
    "agent-token-file": "k3s_agent_token (the collection writes the agent token file)",
    "server": "k3s_registration_address (the collection picks the server a new node joins)",
    "cluster-init": "nothing: the collection initialises a cluster only when none of its servers runs",
    "node-name": "k3s_node_name",
    "node-ip": "k3s_node_ip",
    "node-external-ip": "k3s_node_external_ip",
    "flannel-iface": "k3s_flannel_iface",
    "tls-san": "k3s_tls_san",
    "node-label": "k3s_node_labels",
    "node-taint": "k3s_node_taints",
    "data-dir": "k3s_data_dir",
    "write-kubeconfig": "nothing: the admin kubeconfig stays at /etc/rancher/k3s/k3s.yaml (see k3s_kubeconfig_fetch)",
    "write-kubeconfig-mode": "nothing: the admin kubeconfig is always written 0600",
}

_NODE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_MAX_NODE_NAME_LENGTH = 253


def k3s_config_problems(config, variable: str) -> list:
    """Each way ``config`` (the dictionary in ``variable``) is unusable, as a sentence."""
    if config is None:
        return []
    if not isinstance(config, Mapping):
        return ["%s must be a dictionary of K3s settings (their names without --), got %s." % (variable, type(config).__name__)]
    problems = []
    for key, value in config.items():
        owned_by = OWNED_KEYS.get(str(key).rstrip("+"))
        if owned_by:
            problems.append("%s sets %s, which the collection manages: set %s instead." % (variable, key, owned_by))
        elif isinstance(value, Mapping):
            problems.append("%s sets %s to a dictionary; K3s settings are single values or lists." % (variable, key))
        elif isinstance(value, list) and any(isinstance(item, (Mapping, list)) for item in value):
            problems.append("%s sets %s to a list holding lists or dictionaries; K3s lists hold single values." % (variable, key))
    return problems


def k3s_dropin_problems(dropins, variable: str) -> list:
    """Problems of the role's own drop-ins ({"20-name": {settings}}): numbering 10-49, settings as above."""
    if not dropins:
        return []
    if not isinstance(dropins, Mapping):
        return ["%s must map drop-in names (such as 20-gpu) to dictionaries of K3s settings." % variable]
    problems = []
    for name, settings in dropins.items():
        match = re.match(r"^(\d\d)-[A-Za-z0-9_.-]+$", str(name))
        if not match or not 10 <= int(match.group(1)) <= 49:
            problems.append('%s: drop-in name "%s" must be NN-name with NN from 10 to 49 (50-89 belong to other roles).' % (variable, name))
        problems.extend(k3s_config_problems(settings, "%s[%s]" % (variable, name)))
    return problems


def k3s_node_name_problems(name: str) -> list:
    if len(str(name)) <= _MAX_NODE_NAME_LENGTH and _NODE_NAME.match(str(name)):
        return []
    return ['k3s_node_name "%s" is not a valid Kubernetes node name (lower case letters, digits, "-" and ".", starting and ending '
            'with a letter or digit); set k3s_node_name for this host.' % name]


def k3s_interface_of(facts: Mapping, address: str) -> str | None:
    """The network interface that carries ``address``, from gathered facts (ansible_facts)."""
    for name in facts.get("interfaces") or []:
        interface = facts.get(name.replace("-", "_").replace(".", "_")) or facts.get(name) or {}
        ipv4 = [interface.get("ipv4") or {}] + list(interface.get("ipv4_secondaries") or [])
        ipv6 = list(interface.get("ipv6") or [])
        if any(entry.get("address") == address for entry in ipv4 + ipv6 if isinstance(entry, Mapping)):
            return interface.get("device") or name
    return None


def k3s_network_problems(facts: Mapping, node_ip: str, external_ip: str = "", flannel_iface: str = "") -> list:
    """Why the node's addresses cannot be used, as sentences (empty when they can)."""
    return _network(facts, node_ip, external_ip, flannel_iface)[1]


def k3s_network_settings(facts: Mapping, role: str, node_ip: str, external_ip: str = "", flannel_iface: str = "",
                         tls_san: list | None = None) -> dict:
    """node-ip, flannel-iface, node-external-ip and (servers) tls-san for one node.

    ``node_ip`` is the private address (Lambda's private_ip); flannel runs on the interface that
    carries it, so a GPU host with several NICs never routes pod traffic over the public one.
    """
    settings, problems = _network(facts, node_ip, external_ip, flannel_iface)
    if problems:
        raise AnsibleFilterError(" ".join(problems))
    if role == "server":
        names = [address for address in (external_ip, node_ip) if address] + list(tls_san or [])
        settings["tls-san"] = list(dict.fromkeys(str(name) for name in names if name))
    return settings


def _network(facts: Mapping, node_ip: str, external_ip: str, flannel_iface: str) -> tuple:
    if not node_ip:
        return {}, ["This host has no private address: the inventory gives no lambda_private_ip and facts show no default IPv4 "
                    "address. Set k3s_node_ip for it."]
    problems = [problem for problem in (_address_problem(node_ip, "k3s_node_ip"),
                                        _address_problem(external_ip, "k3s_node_external_ip") if external_ip else None) if problem]
    if problems:
        return {}, problems
    settings = {"node-ip": node_ip}
    iface = flannel_iface or k3s_interface_of(facts, node_ip)
    if not iface:
        return {}, ["No network interface of this host carries the private address %s (the inventory may point at the wrong "
                    "machine). Set k3s_node_ip, or k3s_flannel_iface, for it." % node_ip]
    settings["flannel-iface"] = iface
    if external_ip and external_ip != node_ip:
        settings["node-external-ip"] = external_ip
    return settings, []


def k3s_node_config(owned: Mapping, *user_configs: Mapping) -> dict:
    """The node's config.yaml content: the user's dictionaries in order, then the owned settings, sorted."""
    merged = {}
    for config in user_configs:
        merged.update(config or {})
    merged.update({key: value for key, value in owned.items() if value not in (None, "", [], {})})
    return dict(sorted(merged.items()))


def k3s_label_list(labels: Mapping) -> list:
    """{name: value} -> ["name=value", ...], the form of K3s's node-label setting."""
    return ["%s=%s" % (name, value) for name, value in sorted((labels or {}).items())]


def k3s_config_yaml(config: Mapping, header: str = "") -> str:
    """Render K3s settings as YAML, one key per line and lists as block sequences.

    Scalars are written in JSON form, which YAML reads as the same value, so no value is ever
    re-typed ("on", "0600", "1e3") or wrapped across lines.
    """
    lines = ["# %s" % line if line else "#" for line in header.splitlines()]
    for key, value in config.items():
        if isinstance(value, (list, tuple)):
            lines.append("%s:" % key)
            lines.extend("  - %s" % _scalar(item) for item in value)
        else:
            lines.append("%s: %s" % (key, _scalar(value)))
    return "\n".join(lines) + "\n"


def k3s_kubeconfig(kubeconfig: Mapping, server: str, name: str) -> dict:
    """K3s's admin kubeconfig with ``server`` as the API address and cluster, user and context named ``name``."""
    if not isinstance(kubeconfig, Mapping) or not kubeconfig.get("clusters"):
        raise AnsibleFilterError("The admin kubeconfig read from the server has no cluster; is K3s running there?")
    result = dict(kubeconfig)
    result["clusters"] = [{"name": name, "cluster": dict(entry.get("cluster") or {}, server=server)} for entry in kubeconfig["clusters"][:1]]
    result["users"] = [{"name": name, "user": dict((kubeconfig.get("users") or [{}])[0].get("user") or {})}]
    result["contexts"] = [{"name": name, "context": {"cluster": name, "user": name}}]
    result["current-context"] = name
    return result


def parse_config_text(text) -> dict:
    """A config.yaml read from a node, as a dictionary ({} when it is missing or unreadable)."""
    try:
        config = yaml.safe_load(text or "") or {}
    except yaml.YAMLError:
        return {}
    return config if isinstance(config, dict) else {}


def _scalar(value) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(str(value), ensure_ascii=False)


def _address_problem(address: str, variable: str) -> str | None:
    try:
        ipaddress.ip_address(str(address))
    except ValueError:
        return '%s "%s" is not an IP address.' % (variable, address)
    return None


class FilterModule:
    """K3s configuration filters for the k3s role."""

    def filters(self) -> dict:
        return {
            "k3s_config_problems": k3s_config_problems,
            "k3s_dropin_problems": k3s_dropin_problems,
            "k3s_node_name_problems": k3s_node_name_problems,
            "k3s_network_problems": k3s_network_problems,
            "k3s_network_settings": k3s_network_settings,
            "k3s_node_config": k3s_node_config,
            "k3s_label_list": k3s_label_list,
            "k3s_config_yaml": k3s_config_yaml,
            "k3s_kubeconfig": k3s_kubeconfig,
        }
