# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the Lambda Cloud instance list into inventory hosts, groups and host variables.

Pure functions with no Ansible controller imports, shared by the inventory plugin
(sophia.lambda_k3s.lambda_cloud) and the inventories/lambda.py script, so that both produce the
same inventory and so that every rule is unit-testable without an inventory manager.

Input is the list of Instance objects from GET /instances; output is an InventoryPlan the caller
applies to its inventory. Nothing here talks to the network or sees the API key.
"""

from __future__ import annotations

import re
from typing import Callable, Optional

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import (
    Membership,
    MembershipError,
    k3s_role,
    tags_dict,
)
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.instance_types import gpu_facts
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._instance_facts import SECRET_INSTANCE_FIELDS
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._instance_facts import without_secrets as instance_without_secrets

TOP_GROUP = "lambda"
CLUSTER_GROUP = "k3s_cluster"
ROLE_GROUPS = {"server": "k3s_server", "agent": "k3s_agent"}

# Instance fields a hostname may be taken from, in the `hostnames` option.
HOSTNAME_FIELDS = ("name", "id", "hostname", "ip", "private_ip")
# connect_with value -> Instance field holding that address.
CONNECT_WITH_FIELDS = {"public_ip": "ip", "private_ip": "private_ip", "hostname": "hostname"}
ADDRESS_NAMES = {"public_ip": "public IP address", "private_ip": "private IP address", "hostname": "hostname"}
DUPLICATE_POLICIES = ("suffix_id", "error", "skip")
# How many characters of the instance id make a duplicate name distinct; the full id is the fallback.
ID_SUFFIX_LENGTH = 8

# The options the builder takes, every one of them always given: their defaults are documented once, in the
# plugin's DOCUMENTATION (ansible-doc -t inventory sophia.lambda_k3s.lambda_cloud), from which the plugin and
# inventories/lambda.py get them.
OPTION_NAMES = ("statuses", "regions", "instance_types", "cluster", "member_names", "member_name_pattern", "whole_account", "tags",
                "hostnames", "duplicate_hostnames", "connect_with", "hostvars_prefix", "include_secrets", "server_name_pattern",
                "default_user")

# render(template, variables) -> text, for hostname preferences written as Jinja templates.
Renderer = Callable[[str, dict], Optional[str]]


class InventoryConfigError(ValueError):
    """An option value the builder cannot work with; the message is fit to show a user."""


class PlannedHost:
    """One inventory host: its name, its host variables and the groups it joins."""

    def __init__(self, name: str, variables: dict, groups: list[str], instance_id: str):
        self.name = name
        self.variables = variables
        self.groups = groups
        self.instance_id = instance_id

    def __repr__(self) -> str:
        return "PlannedHost(%r, groups=%r)" % (self.name, self.groups)


class InventoryPlan:
    """What the inventory should contain, in a deterministic order.

    ``groups`` lists every group to create (so k3s_server exists even when empty), ``children``
    maps a parent group to its child groups and ``group_vars`` holds group-level defaults.
    ``notes`` explain hosts that lack something (shown at -v); ``warnings`` report instances
    left out of the inventory (always shown).
    """

    def __init__(self):
        self.hosts: list[PlannedHost] = []
        self.groups: list[str] = []
        self.children: dict[str, list[str]] = {}
        self.group_vars: dict[str, dict] = {}
        self.notes: list[str] = []
        self.warnings: list[str] = []

    def add_group(self, name: str) -> None:
        if name not in self.groups:
            self.groups.append(name)


def membership(options: dict) -> Membership:
    """The cluster the options choose (cluster, member_names, member_name_pattern, whole_account)."""
    try:
        return Membership(options["cluster"], options["member_names"], options["member_name_pattern"], options["whole_account"])
    except MembershipError as error:
        raise InventoryConfigError(str(error)) from None


def validate_options(options: dict) -> None:
    """Raise InventoryConfigError for option values that would otherwise fail obscurely later."""
    missing = [name for name in OPTION_NAMES if name not in options]
    if missing:
        raise InventoryConfigError("The inventory builder needs every option; %s are missing." % ", ".join(missing))
    membership(options)
    if options["connect_with"] not in CONNECT_WITH_FIELDS:
        raise InventoryConfigError("connect_with must be one of %s, not %r." % (", ".join(CONNECT_WITH_FIELDS), options["connect_with"]))
    if options["duplicate_hostnames"] not in DUPLICATE_POLICIES:
        raise InventoryConfigError("duplicate_hostnames must be one of %s, not %r." % (", ".join(DUPLICATE_POLICIES), options["duplicate_hostnames"]))
    for preference in options["hostnames"] or []:
        if not is_template(preference) and preference not in HOSTNAME_FIELDS:
            raise InventoryConfigError("hostnames entry %r is neither one of %s nor a Jinja template." % (preference, ", ".join(HOSTNAME_FIELDS)))
    try:
        re.compile(options["server_name_pattern"] or "")
    except re.error as error:
        raise InventoryConfigError("server_name_pattern %r is not a valid regular expression: %s." % (options["server_name_pattern"], error)) from None
    if not isinstance(options["tags"] or {}, dict):
        raise InventoryConfigError("tags must be a dictionary of tag key to value.")


def is_template(text) -> bool:
    return isinstance(text, str) and ("{{" in text or "{%" in text)


def without_secrets(instances: list) -> list:
    """Shallow copies of the instances without Jupyter credentials (SECRET_INSTANCE_FIELDS), for hostvars and the cache.

    Entries that are not objects are dropped here, so nothing downstream has to guard against them.
    """
    return [instance_without_secrets(instance) for instance in instances if isinstance(instance, dict)]


def _text(value) -> str | None:
    """A non-empty string or None: the API may omit a field, send null or an empty string."""
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _nested_name(value) -> str | None:
    """region and instance_type are {name, ...} objects; tolerate a bare string too."""
    if isinstance(value, dict):
        return _text(value.get("name"))
    return _text(value)


def instance_matches(instance: dict, options: dict) -> bool:
    """The client-side filters: statuses, regions, instance_types and tags (membership is decided apart)."""
    statuses = options["statuses"] or []
    if statuses and _text(instance.get("status")) not in statuses:
        return False
    regions = options["regions"] or []
    if regions and _nested_name(instance.get("region")) not in regions:
        return False
    types = options["instance_types"] or []
    if types and _nested_name(instance.get("instance_type")) not in types:
        return False
    wanted_tags = options["tags"] or {}
    if wanted_tags:
        tags = tags_dict(instance)
        if any(tags.get(str(key)) != ("" if value is None else str(value)) for key, value in wanted_tags.items()):
            return False
    return True


def host_variables(instance: dict, options: dict) -> dict:
    """The prefixed host variables of one instance; every value is JSON-serialisable.

    Every key is always present (None when the API did not say), so compose, keyed_groups and
    templates never meet an undefined variable.
    """
    instance_type = instance.get("instance_type") if isinstance(instance.get("instance_type"), dict) else {}
    facts = gpu_facts(instance_type or {"name": _nested_name(instance.get("instance_type"))})
    price = instance_type.get("price_cents_per_hour")
    values = {
        "id": _text(instance.get("id")),
        "name": _text(instance.get("name")),
        "status": _text(instance.get("status")),
        "ip": _text(instance.get("ip")),
        "private_ip": _text(instance.get("private_ip")),
        "hostname": _text(instance.get("hostname")),
        "region": _nested_name(instance.get("region")),
        "instance_type": _nested_name(instance.get("instance_type")),
        "gpu_model": facts["gpu_model"],
        "gpu_count": facts["gpu_count"],
        "gpu_memory_gib": facts["gpu_memory_gib"],
        "arch": facts["arch"],
        "price_cents_per_hour": price if isinstance(price, (int, float)) and not isinstance(price, bool) else None,
        "tags": tags_dict(instance),
        "k3s_role": k3s_role(instance, options["server_name_pattern"]),
    }
    if options["include_secrets"]:
        for field in SECRET_INSTANCE_FIELDS:
            values[field] = _text(instance.get(field))
    prefix = options["hostvars_prefix"] or ""
    return {prefix + key: value for key, value in values.items()}


def _preferred_hostname(instance: dict, variables: dict, preferences: list, render: Renderer | None) -> str | None:
    for preference in preferences:
        if is_template(preference):
            candidate = _text(render(preference, variables)) if render else None
        else:
            candidate = _text(instance.get(preference))
        if candidate:
            return candidate
    # The id is required by the API and unique, so it is the last resort whatever the preferences.
    return _text(instance.get("id"))


def _distinct_names(base: str, members: list[tuple[dict, dict]], taken: set) -> list[tuple[str, dict, dict]]:
    """Names for instances sharing ``base``: '<base>-<id prefix>', or '<base>-<id>' when even that clashes.

    Decided from the ids alone, so the result does not depend on the order the API lists them in.
    """
    short = ["%s-%s" % (base, str(instance["id"])[:ID_SUFFIX_LENGTH]) for instance, _variables in members]
    named = []
    for (instance, variables), candidate in zip(members, short):
        if short.count(candidate) > 1 or candidate in taken:
            candidate = "%s-%s" % (base, instance["id"])
        named.append((candidate, instance, variables))
    return named


def assign_hostnames(entries: list[tuple[dict, dict]], options: dict, render: Renderer | None = None,
                     warnings: list[str] | None = None) -> list[tuple[str, dict, dict]]:
    """Pick one distinct, stable hostname per (instance, variables) pair, sorted by hostname.

    A name shared by several instances is never given to any one of them (a play must not reach
    an arbitrary one of two hosts): with duplicate_hostnames=suffix_id each gets an id suffix,
    with 'skip' all are left out, with 'error' the load fails.
    """
    warnings = warnings if warnings is not None else []
    preferences = list(options["hostnames"] or [])
    by_name: dict[str, list[tuple[dict, dict]]] = {}
    for instance, variables in entries:
        by_name.setdefault(_preferred_hostname(instance, variables, preferences, render), []).append((instance, variables))

    unique = {name for name, members in by_name.items() if len(members) == 1}
    duplicated = sorted(name for name in by_name if name not in unique)
    if duplicated and options["duplicate_hostnames"] == "error":
        raise InventoryConfigError("Several Lambda Cloud instances would get the same inventory hostname (%s); rename them, "
                                   "choose other hostnames preferences or set duplicate_hostnames to suffix_id." % ", ".join(duplicated))

    named = [(name, members[0][0], members[0][1]) for name, members in by_name.items() if name in unique]
    for name in duplicated:
        ids = ", ".join(sorted(str(instance["id"]) for instance, _variables in by_name[name]))
        if options["duplicate_hostnames"] == "skip":
            warnings.append("Skipping Lambda Cloud instances %s: they share the hostname %r (duplicate_hostnames=skip)." % (ids, name))
            continue
        members = sorted(by_name[name], key=lambda member: str(member[0]["id"]))
        named.extend(_distinct_names(name, members, unique))
    return sorted(named, key=lambda item: item[0])


def _host_groups(variables: dict, options: dict, member: bool) -> list[str]:
    """Raw (unsanitised) group names for one host, from its prefixed variables.

    A host that is not a cluster member (no cluster chosen) is only in 'lambda': no play of the
    collection targets that group, so it is listed for the user to see and reached by nothing.
    """
    if not member:
        return [TOP_GROUP]
    prefix = options["hostvars_prefix"] or ""
    groups = [TOP_GROUP, ROLE_GROUPS[variables[prefix + "k3s_role"]]]
    for group_prefix, key in (("region_", "region"), ("type_", "instance_type"), ("gpu_", "gpu_model")):
        if variables[prefix + key]:
            groups.append(group_prefix + variables[prefix + key])
    return groups


def build_inventory(instances: list, options: dict, render: Renderer | None = None,
                    safe_group_name: Callable[[str], str] = lambda name: name) -> InventoryPlan:
    """The whole inventory for an instance list: filter, name, group and describe every host.

    ``safe_group_name`` turns raw names such as 'region_us-east-1' into valid Ansible group
    names; the plugin passes Ansible's own sanitiser so both entry points follow its rules.
    """
    validate_options(options)
    plan = InventoryPlan()
    for group in (TOP_GROUP, CLUSTER_GROUP) + tuple(ROLE_GROUPS.values()):
        plan.add_group(safe_group_name(group))
    plan.children[safe_group_name(CLUSTER_GROUP)] = [safe_group_name(group) for group in ROLE_GROUPS.values()]
    if options["default_user"]:
        # A group variable, not a host variable: the user's group_vars and host_vars must win over it.
        plan.group_vars[safe_group_name(TOP_GROUP)] = {"ansible_user": options["default_user"]}

    cluster = membership(options)
    selected = [instance for instance in _unique_by_id([instance for instance in instances if isinstance(instance, dict)], plan.warnings)
                if instance_matches(instance, options)]
    _warn_about_look_alikes(cluster, selected, plan.warnings)
    if cluster.chosen:
        selected = [instance for instance in selected if cluster.includes(instance)]
    entries = [(instance, host_variables(instance, options)) for instance in selected]
    address_field = CONNECT_WITH_FIELDS[options["connect_with"]]
    for hostname, instance, variables in assign_hostnames(entries, options, render, plan.warnings):
        address = _text(instance.get(address_field))
        if address:
            variables = dict(variables, ansible_host=address)
        else:
            plan.notes.append("Lambda Cloud instance %s (%s, status %s) has no %s yet, so ansible_host is not set (connect_with=%s)."
                              % (hostname, instance["id"], _text(instance.get("status")) or "unknown", ADDRESS_NAMES[options["connect_with"]],
                                 options["connect_with"]))
        groups = [safe_group_name(group) for group in _host_groups(variables, options, cluster.chosen)]
        for group in groups:
            plan.add_group(group)
        plan.hosts.append(PlannedHost(hostname, variables, groups, str(instance["id"])))
    return plan


def _warn_about_look_alikes(cluster: Membership, instances: list[dict], warnings: list[str]) -> None:
    look_alikes = cluster.look_alikes(instances)
    if look_alikes:
        warnings.append("Lambda Cloud instances %s are named like members of cluster %s but carry no k3s-cluster tag, so they are "
                        "left out; list them in member_names (or match them with member_name_pattern) to include them."
                        % (", ".join(sorted("%s (%s)" % (item.get("name"), item.get("id")) for item in look_alikes)), cluster.cluster))


def _unique_by_id(instances: list[dict], warnings: list[str]) -> list[dict]:
    """Instances with an id, each id once: the id names the host of last resort and the suffixes."""
    seen = set()
    unique = []
    for instance in instances:
        instance_id = _text(instance.get("id"))
        if instance_id is None:
            warnings.append("Skipping a Lambda Cloud instance without an id (name %r)." % instance.get("name"))
            continue
        if instance_id in seen:
            continue
        seen.add(instance_id)
        unique.append(instance)
    return unique
