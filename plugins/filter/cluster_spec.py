# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for playbooks/provision.yml: what a declarative cluster spec means.

The spec is a dict built in the playbook from the lambda_cluster_* variables (keys without the
prefix). These decide things — which problems the spec has, which nodes it asks for and what they
are called, where each node goes, what the cluster costs — so they live here, with unit tests,
instead of in Jinja.
"""

from __future__ import annotations

import os
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import Membership, MembershipError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.firewall import RuleError, normalise_source_network, validate_rules
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.ssh_public_key import MAX_PUBLIC_KEY_LENGTH, PublicKeyError, parse_public_key

NAME_PATTERN = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
REGION_PATTERN = re.compile(r"^[a-z]+(-[a-z]+)*-[0-9]+$")
MAX_CLUSTER_NAME_LENGTH = 32
MAX_SSH_KEY_NAME_LENGTH = 64
# Node names double as hostnames (the API allows 63 characters).
MAX_NODE_NAME_LENGTH = 63
POOL_TAG = "k3s-pool"
# What the admin networks may reach: SSH and the K3s API server.
ADMIN_PORTS = ((22, "SSH"), (6443, "K3s API"))


def node_name(cluster: str, pool: str, index: int) -> str:
    """<cluster>-<pool>-<index>: deterministic, so a rerun finds the nodes it launched before."""
    return "%s-%s-%d" % (cluster, pool, index)


def cluster_spec_problems(spec: dict) -> list[str]:
    """Everything wrong with the spec beyond its types, each as a sentence; empty when it is valid."""
    if not isinstance(spec, dict):
        raise AnsibleFilterError("cluster_spec_problems expects the cluster spec as a dict")
    problems = []
    for check in (_name_problems, _region_problems, _ssh_key_problems, _network_problems, _image_problems, _pool_problems,
                  _membership_problems):
        problems.extend(check(spec))
    return problems


def _name_problems(spec: dict) -> list[str]:
    name = str(spec.get("name") or "")
    if NAME_PATTERN.match(name) and len(name) <= MAX_CLUSTER_NAME_LENGTH:
        return []
    return ['lambda_cluster_name "%s" must be 1 to %d lower case letters, digits and -, starting with a letter.'
            % (name, MAX_CLUSTER_NAME_LENGTH)]


def _region_problems(spec: dict) -> list[str]:
    problems = []
    if not spec.get("regions"):
        problems.append("lambda_cluster_regions must list at least one region, most preferred first.")
    pool_regions = [region for pool in _pools(spec) for region in pool.get("regions") or []]
    for region in list(spec.get("regions") or []) + pool_regions:
        if not REGION_PATTERN.match(str(region)):
            problems.append('region "%s" is not a region code such as us-east-1.' % region)
    return problems


def _ssh_key_problems(spec: dict) -> list[str]:
    problems = []
    if not 1 <= len(str(spec.get("ssh_key_name") or "")) <= MAX_SSH_KEY_NAME_LENGTH:
        problems.append("lambda_cluster_ssh_key_name must be 1 to %d characters." % MAX_SSH_KEY_NAME_LENGTH)
    key, key_file = spec.get("ssh_public_key"), spec.get("ssh_public_key_file")
    if bool(key) == bool(key_file):
        problems.append("Set exactly one of lambda_cluster_ssh_public_key (the key) and lambda_cluster_ssh_public_key_file (a .pub file).")
    elif key_file:
        problems.extend(_key_file_problems(str(key_file)))
    else:
        problems.extend(_public_key_problems(str(key), "lambda_cluster_ssh_public_key"))
    return problems


def _key_file_problems(key_file: str) -> list[str]:
    """Read the key file here, before any module sees its content: a private key given by mistake must never
    reach a module's arguments, which Ansible shows at -vvv and ansible-runner records in its events."""
    label = "lambda_cluster_ssh_public_key_file %s" % key_file
    path = os.path.expanduser(key_file)
    if not os.path.isfile(path):
        return ["%s does not exist on the controller." % label]
    try:
        with open(path, "rb") as handle:
            text = handle.read(MAX_PUBLIC_KEY_LENGTH + 1024).decode("utf-8")
    except UnicodeDecodeError:
        return ["%s is not a text file; give the public key (the .pub file)." % label]
    except OSError as error:
        return ["%s cannot be read: %s." % (label, error.strerror or error)]
    return _public_key_problems(text, label)


def _public_key_problems(text: str, label: str) -> list[str]:
    try:
        parse_public_key(text, label=label)
    except PublicKeyError as error:
        return ["%s." % error]
    return []


def _network_problems(spec: dict) -> list[str]:
    problems = []
    networks = spec.get("admin_networks") or []
    if not networks:
        problems.append("lambda_cluster_admin_networks must list the CIDRs allowed to reach SSH and the K3s API.")
    for index, network in enumerate(networks):
        try:
            normalise_source_network(network)
        except RuleError as error:
            problems.append("lambda_cluster_admin_networks[%d]: %s." % (index, error))
    _rules, rule_errors = validate_rules(spec.get("extra_firewall_rules") or [])
    problems.extend("lambda_cluster_extra_firewall_%s." % error for error in rule_errors)
    return problems


def _membership_problems(spec: dict) -> list[str]:
    try:
        Membership(spec.get("name"), spec.get("member_names"), spec.get("member_name_pattern"))
    except MembershipError as error:
        return ["lambda_cluster_%s" % error]
    return []


def _image_problems(spec: dict) -> list[str]:
    images = [spec.get("image")] + [pool.get("image") for pool in _pools(spec)]
    return ["an image must give exactly one of id and family (got %s)." % image
            for image in images if image and bool(image.get("id")) == bool(image.get("family"))]


def _pool_problems(spec: dict) -> list[str]:
    pools = _pools(spec)
    if not pools:
        return ["lambda_cluster_node_pools must list at least one pool."]
    problems = []
    names = [str(pool.get("name")) for pool in pools]
    if len(set(names)) != len(names):
        problems.append("node pool names must be unique (got %s)." % ", ".join(names))
    for pool in pools:
        problems.extend(_one_pool_problems(str(spec.get("name") or ""), pool))
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
    longest = node_name(cluster, name, max(_count(pool), 1))
    if len(longest) > MAX_NODE_NAME_LENGTH:
        problems.append("node pool %s: node names such as %s are longer than the %d characters a hostname allows."
                        % (name, longest, MAX_NODE_NAME_LENGTH))
    return problems


def cluster_nodes(spec: dict) -> list[dict]:
    """Every node the spec asks for: name, pool, role, instance types, regions, image and launch tags."""
    nodes = []
    for pool in _pools(spec):
        for index in range(1, _count(pool) + 1):
            nodes.append({
                "name": node_name(spec["name"], pool["name"], index),
                "pool": pool["name"],
                "role": pool["role"],
                "instance_types": list(pool["instance_types"]),
                "regions": list(pool.get("regions") or spec.get("regions") or []),
                "image": pool.get("image") or spec.get("image") or None,
                "tags": dict(pool.get("tags") or {}, **{POOL_TAG: pool["name"]}),
            })
    return nodes


def admin_firewall_rules(networks: list) -> list[dict]:
    """Firewall rules that open SSH and the K3s API to each admin network, and nothing else."""
    return [{"protocol": "tcp", "port_range": [port, port], "source_network": network, "description": "%s from an admin network" % what}
            for network in networks for port, what in ADMIN_PORTS]


def ruleset_regions(plan_results: list) -> list[str]:
    """The regions that need the cluster's firewall ruleset, from lambda_instance check-mode results.

    An existing node needs one where it is. A missing node needs one in every region it may land in:
    rulesets attach only at launch, and the launch must stay free to fall back to the next region
    when capacity runs out between the plan and the launch.
    """
    regions = []
    for result in plan_results:
        instance = result.get("instance") or {}
        candidates = [(instance.get("region") or {}).get("name")] if instance else list(result["item"].get("regions") or [])
        regions.extend(region for region in candidates if region and region not in regions)
    return regions


def names_by_region(items: list) -> dict:
    """[{name, region}, ...] (file systems of the spec) -> {region: [names]}."""
    grouped = {}
    for item in items or []:
        grouped.setdefault(item["region"], []).append(item["name"])
    return grouped


def cluster_summary(plan_results: list, members: list, prices: dict, cluster: str, would: bool = False,
                    look_alikes: list | None = None) -> list[str]:
    """A table of the spec's nodes (type, region, address, price per hour) with the total, as lines.

    Members come from lambda_instance_info; a node not launched yet (check mode) is shown where the
    plan would put it, at the price from ``prices`` ({instance type: cents per hour}). ``look_alikes``
    (lambda_instance_info's) are named last: untagged instances the cluster leaves alone.
    """
    by_name = {member.get("name"): member for member in members if member.get("name")}
    rows = [_summary_row(result, by_name.get(result["item"]["name"]), prices) for result in plan_results]
    row_format = "%-32s  %-22s  %-16s  %-15s  %9s"
    lines = [row_format % ("NAME", "TYPE", "REGION", "IP", "PRICE/H")]
    lines.extend(row_format % (name, kind, region, ip, "$%.2f" % (cents / 100.0)) for name, kind, region, ip, cents in rows)
    total = sum(row[4] for row in rows) / 100.0
    lines.append("%s: $%.2f per hour for %d nodes of cluster %s." % ("Would cost" if would else "Total", total, len(rows), cluster))
    spec_names = {result["item"]["name"] for result in plan_results}
    unmanaged = sorted(name for name in by_name if name not in spec_names)
    if unmanaged:
        lines.append("Also in the cluster but not in the spec (left as they are): %s." % ", ".join(unmanaged))
    if look_alikes:
        lines.append(look_alikes_line(look_alikes))
    return lines


def look_alikes_line(look_alikes: list) -> str:
    """One sentence naming untagged instances named like the cluster, which nothing acts on."""
    return ("Not members, although named like the cluster (untagged; name them in lambda_cluster_member_names to include them): "
            "%s." % ", ".join("%s (%s)" % (item.get("name"), item.get("id")) for item in look_alikes))


def launch_report(launch_results: list, nodes: list) -> str:
    """Why a launch loop failed, what it launched and what it did not, as one paragraph.

    ``launch_results`` are lambda_instance's loop results, cut short after an account-wide error
    (the loop's break_when); a node with no result was never tried.
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
    parts.append("Launched in this run: %s." % (", ".join(launched) or "none"))
    parts.append("Not launched: %s." % (", ".join(node["name"] for node in nodes if node["name"] not in present) or "none"))
    parts.append("Fix the cause, then run provision.yml again: it launches only the missing nodes.")
    return " ".join(parts)


def _summary_row(result: dict, member: dict | None, prices: dict) -> tuple:
    if member:
        instance_type = member.get("instance_type") or {}
        return (member["name"], instance_type.get("name", "?"), (member.get("region") or {}).get("name", "?"),
                member.get("ip") or "(booting)", instance_type.get("price_cents_per_hour") or 0)
    launch = result.get("launch") or {}
    return (result["item"]["name"], launch.get("instance_type", "?"), launch.get("region", "?"), "(new)",
            prices.get(launch.get("instance_type"), 0))


def _pools(spec: dict) -> list[dict]:
    return [pool for pool in spec.get("node_pools") or [] if isinstance(pool, dict)]


def _count(pool: dict) -> int:
    try:
        return int(pool.get("count") or 0)
    except (TypeError, ValueError):
        return 0


class FilterModule:
    """Filters that interpret the cluster spec of playbooks/provision.yml."""

    def filters(self) -> dict:
        return {
            "cluster_spec_problems": cluster_spec_problems,
            "cluster_nodes": cluster_nodes,
            "admin_firewall_rules": admin_firewall_rules,
            "ruleset_regions": ruleset_regions,
            "names_by_region": names_by_region,
            "cluster_summary": cluster_summary,
            "look_alikes_line": look_alikes_line,
            "launch_report": launch_report,
        }
