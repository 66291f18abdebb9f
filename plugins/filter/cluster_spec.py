# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for playbooks/provision.yml and playbooks/teardown.yml: what a cluster spec means, and what a run reports.

The spec is every lambda_cluster_* variable (and, for teardown, lambda_teardown_*) the playbook
sees. These decide things — which mistakes the spec has, which nodes it asks for and what they are
called, what the cluster costs — so they live here, with unit tests, instead of in Jinja. Each
filter is documented for ansible-doc in the YAML file of its name beside this one.
"""

from __future__ import annotations

import copy
import math
import os
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._launch_request import USER_DATA_MAX_BYTES, tag_problems
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import Membership, MembershipError, is_live
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.firewall import RuleError, normalise_source_network, validate_rules
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.ssh_public_key import MAX_PUBLIC_KEY_LENGTH, PublicKeyError, parse_public_key
from ansible_collections.sophia.lambda_k3s.plugins.plugin_utils._variables import Checker, Value

CLUSTER_PREFIX = "lambda_cluster_"
TEARDOWN_PREFIX = "lambda_teardown_"
PLAYBOOKS = ("provision", "teardown")
NAME_PATTERN = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
MAX_CLUSTER_NAME_LENGTH = 32
MAX_SSH_KEY_NAME_LENGTH = 64
# Node names double as hostnames (the API allows 63 characters).
MAX_NODE_NAME_LENGTH = 63
POOL_TAG = "k3s-pool"
# What the admin networks may reach: SSH and the K3s API server.
ADMIN_PORTS = ((22, "SSH"), (6443, "K3s API"))
# Where a user reads what each variable means.
REFERENCE = "the variables are described in playbooks/vars/cluster_example.yml"

_STRINGS = Value("list", elements=Value("str"))
_IMAGE = Value("dict", keys={"id": Value("str"), "family": Value("str")})
# Every lambda_cluster_* variable, without the prefix, and what it may be. Required ones differ per playbook (below).
SPEC = {
    "name": Value("str"),
    "regions": _STRINGS,
    "ssh_key_name": Value("str"),
    "ssh_public_key": Value("str", secret=True),  # a private key pasted here by mistake must never be echoed
    "ssh_public_key_file": Value("str"),
    "ssh_key_replace": Value("bool"),
    "admin_networks": _STRINGS,
    "node_pools": Value("list", elements=Value("dict", keys={
        "name": Value("str", required=True),
        "role": Value("str", required=True, choices=("server", "agent")),
        "count": Value("int", required=True),
        "instance_types": Value("list", required=True, elements=Value("str")),
        "regions": _STRINGS,
        "image": _IMAGE,
        "tags": Value("dict"),
    })),
    "image": _IMAGE,
    "file_systems": Value("list", elements=Value("dict", keys={"name": Value("str", required=True), "region": Value("str", required=True)})),
    "extra_firewall_rules": Value("list", elements=Value("dict", keys={
        "protocol": Value("str", required=True, choices=("tcp", "udp", "icmp", "all")),
        "port_range": Value("list", elements=Value("int")),
        "source_network": Value("str", required=True),
        "description": Value("str"),
    })),
    "user_data": Value("str", secret=True),  # cloud-init carries join tokens
    "member_names": _STRINGS,
    "member_name_pattern": Value("str"),
    "global_firewall": Value("str", choices=("warn", "match")),
    "launch_interval": Value("float"),
    "poll_interval": Value("float"),
    "wait_timeout": Value("int"),
}
REQUIRED = {"provision": ("name", "regions", "ssh_key_name", "admin_networks", "node_pools"), "teardown": ("name",)}
TEARDOWN_SPEC = {"confirm": Value("str"), "firewall_rulesets": Value("bool"), "ssh_key": Value("bool")}
# Defaults of the optional settings: Lambda accepts one launch every 12 s, instances boot in a few minutes.
DEFAULTS = {"ssh_key_replace": False, "global_firewall": "warn", "launch_interval": 12.0, "poll_interval": 10.0, "wait_timeout": 1200,
            "member_names": [], "extra_firewall_rules": [], "file_systems": []}
TEARDOWN_DEFAULTS = {"firewall_rulesets": True, "ssh_key": False}


def node_name(cluster: str, pool: str, index: int) -> str:
    """<cluster>-<pool>-<index>: deterministic, so a rerun finds the nodes it launched before."""
    return "%s-%s-%d" % (cluster, pool, index)


# -- the spec --------------------------------------------------------------------------------------

def cluster_spec(variables: dict, playbook: str = "provision") -> dict:
    """The spec the variables describe, with ``problems``: one sentence per mistake, empty when there is none.

    ``variables`` maps the names of the lambda_cluster_* (and lambda_teardown_*) variables to their values.
    Types are checked first; what types cannot say (names, region codes, CIDRs, keys, pools) only once they are right.
    """
    if not isinstance(variables, dict):
        raise AnsibleFilterError("cluster_spec expects a mapping of variable names to values")
    if playbook not in PLAYBOOKS:
        raise AnsibleFilterError("cluster_spec's playbook must be one of %s, not %r" % (", ".join(PLAYBOOKS), playbook))
    checker = Checker()
    owner = "%s.yml" % playbook
    checker.unknown_names(variables, CLUSTER_PREFIX, SPEC, owner, REFERENCE)
    if playbook == "teardown":
        checker.unknown_names(variables, TEARDOWN_PREFIX, TEARDOWN_SPEC, owner,
                              "its lambda_teardown_ variables are confirm, firewall_rulesets and ssh_key")
    values = _checked(checker, variables, CLUSTER_PREFIX, SPEC, REQUIRED[playbook], DEFAULTS)
    teardown = _checked(checker, variables, TEARDOWN_PREFIX, TEARDOWN_SPEC, (), TEARDOWN_DEFAULTS)
    if checker.problems:
        return {"problems": checker.problems}
    if playbook == "teardown":
        return _teardown_spec(values, teardown)
    return _provision_spec(values)


def _checked(checker: Checker, variables: dict, prefix: str, spec: dict, required: tuple, defaults: dict) -> dict:
    values = {}
    for key, value_spec in spec.items():
        value_spec = Value(value_spec.kind, key in required, value_spec.elements, value_spec.keys, value_spec.choices, value_spec.secret)
        value = checker.check(variables.get(prefix + key), value_spec, prefix + key)
        values[key] = copy.deepcopy(defaults.get(key)) if value is None else value
    return values


def _provision_spec(values: dict) -> dict:
    public_key, problems = _public_key(values)
    for check in (_name_problems, _region_problems, _network_problems, _image_problems, _pool_problems, _membership_problems,
                  _user_data_problems, _timing_problems):
        problems.extend(check(values))
    if problems:
        return {"problems": problems}
    return {
        "problems": [],
        "name": values["name"],
        "regions": values["regions"],
        "ssh_key_name": values["ssh_key_name"],
        "ssh_public_key": public_key,
        "ssh_key_replace": values["ssh_key_replace"],
        "allowed_rules": admin_firewall_rules(values["admin_networks"]) + list(values["extra_firewall_rules"]),
        "file_systems_by_region": _names_by_region(values["file_systems"]),
        "member_names": values["member_names"],
        "member_name_pattern": values["member_name_pattern"],
        "global_firewall": values["global_firewall"],
        "launch_interval": values["launch_interval"],
        "poll_interval": values["poll_interval"],
        "wait_timeout": values["wait_timeout"],
        "wait_retries": _polls(values),
        "nodes": cluster_nodes(values),
    }


def _teardown_spec(values: dict, teardown: dict) -> dict:
    problems = _name_problems(values) + _membership_problems(values) + _timing_problems(values)
    if teardown["ssh_key"] and not values["ssh_key_name"]:
        problems.append("lambda_teardown_ssh_key is true, so set lambda_cluster_ssh_key_name to the key to delete.")
    if problems:
        return {"problems": problems}
    regions = list(values["regions"] or []) + [region for pool in _pools(values) for region in pool.get("regions") or []]
    return {
        "problems": [],
        "name": values["name"],
        "member_names": values["member_names"],
        "member_name_pattern": values["member_name_pattern"],
        "ssh_key_name": values["ssh_key_name"],
        "ruleset_regions": sorted(set(regions), key=regions.index),
        "remove_rulesets": teardown["firewall_rulesets"],
        "remove_ssh_key": teardown["ssh_key"],
        "poll_interval": values["poll_interval"],
        "wait_timeout": values["wait_timeout"],
        "wait_retries": _polls(values),
    }


def _polls(values: dict) -> int:
    """How many looks at the instance list fit in wait_timeout, one every poll_interval."""
    return int(math.ceil(values["wait_timeout"] / max(values["poll_interval"], 0.01)))


def _name_problems(values: dict) -> list[str]:
    name = str(values.get("name") or "")
    if NAME_PATTERN.match(name) and len(name) <= MAX_CLUSTER_NAME_LENGTH:
        return []
    return ['lambda_cluster_name "%s" must be 1 to %d lower case letters, digits and -, starting with a letter.'
            % (name, MAX_CLUSTER_NAME_LENGTH)]


def _region_problems(values: dict) -> list[str]:
    # Which region names exist is Lambda's to say: lambda_cluster_plan checks them against its catalogue.
    if not values.get("regions"):
        return ["lambda_cluster_regions must list at least one region, most preferred first."]
    return []


def _public_key(values: dict) -> tuple:
    """(the public key's text, or None; problems with the key and its name).

    A key file is read here, before any module sees its content: a private key given by mistake must
    never reach a module's arguments, which Ansible shows at -vvv and ansible-runner records in its events.
    """
    problems = []
    if not 1 <= len(str(values.get("ssh_key_name") or "")) <= MAX_SSH_KEY_NAME_LENGTH:
        problems.append("lambda_cluster_ssh_key_name must be 1 to %d characters." % MAX_SSH_KEY_NAME_LENGTH)
    key, key_file = values.get("ssh_public_key"), values.get("ssh_public_key_file")
    if bool(key) == bool(key_file):
        problems.append("Set exactly one of lambda_cluster_ssh_public_key (the key) and lambda_cluster_ssh_public_key_file (a .pub file).")
        return None, problems
    label = "lambda_cluster_ssh_public_key_file %s" % key_file if key_file else "lambda_cluster_ssh_public_key"
    text, problem = _read_key_file(str(key_file), label) if key_file else (str(key), None)
    if problem is None:
        try:
            parse_public_key(text, label=label)
        except PublicKeyError as error:
            problem = "%s." % error
    if problem is not None:
        return None, problems + [problem]
    return text.strip(), problems


def _read_key_file(key_file: str, label: str) -> tuple:
    path = os.path.expanduser(key_file)
    if not os.path.isfile(path):
        return None, "%s does not exist on the controller." % label
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_PUBLIC_KEY_LENGTH + 1024).decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "%s is not a text file; give the public key (the .pub file)." % label
    except OSError as error:
        return None, "%s cannot be read: %s." % (label, error.strerror or error)


def _network_problems(values: dict) -> list[str]:
    problems = []
    networks = values.get("admin_networks") or []
    if not networks:
        problems.append("lambda_cluster_admin_networks must list the CIDRs allowed to reach SSH and the K3s API.")
    for index, network in enumerate(networks):
        try:
            normalise_source_network(network)
        except RuleError as error:
            problems.append("lambda_cluster_admin_networks[%d]: %s." % (index, error))
    _rules, rule_errors = validate_rules(values.get("extra_firewall_rules") or [])
    problems.extend("lambda_cluster_extra_firewall_%s." % error for error in rule_errors)
    return problems


def _membership_problems(values: dict) -> list[str]:
    try:
        Membership(values.get("name"), values.get("member_names"), values.get("member_name_pattern"))
    except MembershipError as error:
        return ["lambda_cluster_%s" % error]
    return []


def _image_problems(values: dict) -> list[str]:
    images = [("lambda_cluster_image", values.get("image"))]
    images.extend(("the image of node pool %s" % pool.get("name"), pool.get("image")) for pool in _pools(values))
    return ["%s must give exactly one of id and family." % where
            for where, image in images if image and bool(image.get("id")) == bool(image.get("family"))]


def _user_data_problems(values: dict) -> list[str]:
    user_data = values.get("user_data")
    if user_data is not None and len(user_data.encode("utf-8")) > USER_DATA_MAX_BYTES:
        return ["lambda_cluster_user_data is larger than the API's limit of 1 MB."]
    return []


def _timing_problems(values: dict) -> list[str]:
    return ["lambda_cluster_%s must be zero or more; got %s." % (key, values[key])
            for key in ("launch_interval", "poll_interval", "wait_timeout") if values[key] < 0]


def _pool_problems(values: dict) -> list[str]:
    pools = _pools(values)
    if not pools:
        return ["lambda_cluster_node_pools must list at least one pool."]
    problems = []
    names = [str(pool.get("name")) for pool in pools]
    if len(set(names)) != len(names):
        problems.append("node pool names must be unique (got %s)." % ", ".join(names))
    for pool in pools:
        problems.extend(_one_pool_problems(str(values.get("name") or ""), pool))
    if sum(_count(pool) for pool in pools if pool.get("role") == "server") < 1:
        problems.append("the cluster needs at least one node in a pool with role server.")
    return problems


def _one_pool_problems(cluster: str, pool: dict) -> list[str]:
    name = str(pool.get("name"))
    problems = []
    if not NAME_PATTERN.match(name):
        problems.append('node pool name "%s" must be lower case letters, digits and -, starting with a letter.' % name)
    if _count(pool) < 0:
        problems.append("node pool %s: count must be 0 or more." % name)
    if not pool.get("instance_types"):
        problems.append("node pool %s: instance_types must list at least one type, most preferred first." % name)
    problems.extend("node pool %s: %s." % (name, problem) for problem in tag_problems(pool.get("tags")))
    longest = node_name(cluster, name, max(_count(pool), 1))
    if len(longest) > MAX_NODE_NAME_LENGTH:
        problems.append("node pool %s: node names such as %s are longer than the %d characters a hostname allows."
                        % (name, longest, MAX_NODE_NAME_LENGTH))
    return problems


def cluster_nodes(values: dict) -> list[dict]:
    """Every node the spec asks for: name, pool, role, instance types, regions, image and launch tags."""
    nodes = []
    for pool in _pools(values):
        for index in range(1, _count(pool) + 1):
            nodes.append({
                "name": node_name(values["name"], pool["name"], index),
                "pool": pool["name"],
                "role": pool["role"],
                "instance_types": list(pool["instance_types"]),
                "regions": list(pool.get("regions") or values.get("regions") or []),
                "image": pool.get("image") or values.get("image") or None,
                "tags": dict(pool.get("tags") or {}, **{POOL_TAG: pool["name"]}),
            })
    return nodes


def admin_firewall_rules(networks: list) -> list[dict]:
    """Firewall rules that open SSH and the K3s API to each admin network, and nothing else."""
    return [{"protocol": "tcp", "port_range": [port, port], "source_network": network, "description": "%s from an admin network" % what}
            for network in networks for port, what in ADMIN_PORTS]


def _names_by_region(items: list) -> dict:
    """[{name, region}, ...] (file systems of the spec) -> {region: [names]}."""
    grouped = {}
    for item in items or []:
        grouped.setdefault(item["region"], []).append(item["name"])
    return grouped


def _pools(values: dict) -> list[dict]:
    return [pool for pool in values.get("node_pools") or [] if isinstance(pool, dict)]


def _count(pool: dict) -> int:
    try:
        return int(pool.get("count") or 0)
    except (TypeError, ValueError):
        return 0


# -- what the runs report --------------------------------------------------------------------------

_ROW = "%-32s  %-22s  %-16s  %-15s  %9s"


def cluster_report(plan_nodes: list, members: list, cluster: str, would: bool = False, look_alikes: list | None = None) -> list[str]:
    """A table of the cluster's running members (type, region, address, price per hour) and what they cost together, as lines.

    ``plan_nodes`` are lambda_cluster_plan's nodes; ``members`` the cluster's instances as lambda_instance_info returns them
    (those that are not running are left out). A node not launched yet (check mode) is shown where the plan would put it.
    Members that are no longer in the spec are shown too, and counted in the total: they still cost money.
    ``look_alikes`` are named last: untagged instances the cluster leaves alone.
    """
    running = {member.get("name"): member for member in members if is_live(member) and member.get("name")}
    rows = [_member_row(running[node["name"]]) if node["name"] in running else _planned_row(node) for node in plan_nodes]
    spec_names = {node["name"] for node in plan_nodes}
    unmanaged = [member for member in members if is_live(member) and member.get("name") not in spec_names]
    rows.extend(_member_row(member) for member in sorted(unmanaged, key=lambda member: (member.get("name") or "", member.get("id") or "")))
    lines = _table(rows)
    lines.append("%s: $%.2f per hour for %d nodes of cluster %s." % ("Would cost" if would else "Total", _dollars(rows), len(rows), cluster))
    if unmanaged:
        lines.append("Also in the cluster but not in the spec (left as they are): %s."
                     % ", ".join(member.get("name") or "(unnamed) %s" % member.get("id") for member in unmanaged))
    if look_alikes:
        lines.append(_look_alikes_line(look_alikes))
    return lines


def teardown_report(instances: list, cluster: str, would: bool = False, look_alikes: list | None = None,
                    ssh_key_kept: bool = True) -> list[str]:
    """What teardown terminated (or would), what it cost per hour, the look-alikes it left and whether the SSH key stays, as lines."""
    rows = [_member_row(instance) for instance in instances]
    lines = ["%s %d instances of cluster %s, which cost $%.2f per hour together."
             % ("Would terminate" if would else "Terminated", len(rows), cluster, _dollars(rows))]
    lines.extend(_table(rows)[1:])
    if look_alikes:
        lines.append(_look_alikes_line(look_alikes))
    if ssh_key_kept:
        lines.append("The SSH key was left in place (lambda_teardown_ssh_key=true removes it).")
    return lines


def launch_report(launch_results: list, plan_nodes: list) -> str:
    """Why a launch loop failed, what it launched and what it did not, as one paragraph.

    ``launch_results`` are lambda_instance's loop results over the nodes the plan would launch, cut short after an
    account-wide error (the loop's break_when); a node with no result was never tried.
    """
    failed = [result for result in launch_results if result.get("failed")]
    present = {result["item"]["name"] for result in launch_results if not result.get("failed")}
    launched = [result["item"]["name"] for result in launch_results if result.get("launch") and not result.get("failed")]
    parts = []
    for result in failed:
        name, message = result["item"]["name"], str(result.get("msg") or "it failed").strip()
        parts.append(message if name in message else "%s: %s" % (name, message))
    if any(result.get("account_wide") for result in failed):
        parts.append("That error concerns the whole Lambda Cloud account, so no further node was launched.")
    missing = [node["name"] for node in plan_nodes if node.get("launch") and node["name"] not in present]
    parts.append("Launched in this run: %s." % (", ".join(launched) or "none"))
    parts.append("Not launched: %s." % (", ".join(missing) or "none"))
    parts.append("Fix the cause, then run provision.yml again: it launches only the missing nodes.")
    return " ".join(parts)


def _member_row(instance: dict) -> tuple:
    instance_type = instance.get("instance_type") or {}
    return (instance.get("name") or "(unnamed)", instance_type.get("name", "?"), (instance.get("region") or {}).get("name", "?"),
            instance.get("ip") or "(booting)", instance_type.get("price_cents_per_hour") or 0)


def _planned_row(node: dict) -> tuple:
    launch = node.get("launch") or {}
    return (node["name"], launch.get("instance_type", "?"), launch.get("region", "?"), "(new)", launch.get("price_cents_per_hour") or 0)


def _table(rows: list) -> list[str]:
    return [_ROW % ("NAME", "TYPE", "REGION", "IP", "PRICE/H")] + [
        _ROW % (name, kind, region, ip, "$%.2f" % (cents / 100.0)) for name, kind, region, ip, cents in rows]


def _dollars(rows: list) -> float:
    return sum(row[4] for row in rows) / 100.0


def _look_alikes_line(look_alikes: list) -> str:
    """One sentence naming untagged instances named like the cluster, which nothing acts on."""
    return ("Not members, although named like the cluster (untagged; name them in lambda_cluster_member_names to include them): "
            "%s." % ", ".join("%s (%s)" % (item.get("name"), item.get("id")) for item in look_alikes))


class FilterModule:
    """Filters that interpret the cluster spec of playbooks/provision.yml and teardown.yml, and report their runs."""

    def filters(self) -> dict:
        return {
            "cluster_spec": cluster_spec,
            "cluster_report": cluster_report,
            "teardown_report": teardown_report,
            "launch_report": launch_report,
        }
