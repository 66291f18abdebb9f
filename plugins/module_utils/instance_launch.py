# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions behind the lambda_instance modules, as pure functions.

Nothing here talks to the API: the modules fetch the instance list, the instance-type catalogue
and the file systems, and these functions decide what to launch, where, and what to return.
That keeps the modules thin and every rule unit-testable.
"""

from __future__ import annotations

import re
from collections import namedtuple

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import (
    CLUSTER_TAG,
    ROLE_TAG,
    Membership,
    cluster_tag,
    is_live,
    k3s_role,
    tags_dict,
)
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.instance_types import gpu_facts
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.lambda_api import without_secrets

INSUFFICIENT_CAPACITY = "instance-operations/launch/insufficient-capacity"

# Limits from InstanceLaunchRequest in the Lambda Cloud OpenAPI spec 1.8.3.
NAME_MAX_LENGTH = 64
TAG_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9-:]+$")
TAG_KEY_MAX_LENGTH = 55
TAG_VALUE_MAX_LENGTH = 128
HOSTNAME_PATTERN = re.compile(r"^[a-z0-9][0-9a-z-]{0,62}$")
MOUNT_POINT_PATTERN = re.compile(r"^(/home|/lambda/nfs|/data)[/a-zA-Z0-9-]*$")
MOUNT_POINT_MAX_LENGTH = 256
USER_DATA_MAX_BYTES = 1024 * 1024

# The spec's PublicRegionCode enum. Used only to warn about likely typos: the list grows, so an
# unknown name is passed on to the API rather than refused.
KNOWN_REGIONS = frozenset((
    "europe-central-1", "asia-south-1", "australia-east-1", "me-west-1", "asia-northeast-1", "asia-northeast-2",
    "us-east-1", "us-east-2", "us-east-3", "us-west-1", "us-west-2", "us-west-3", "us-south-1", "us-south-2",
    "us-south-3", "us-midwest-1", "us-midwest-2",
))

Placement = namedtuple("Placement", ["instance_type", "region"])


class DuplicateInstancesError(Exception):
    """Several live instances carry the name the module manages; it refuses to pick one."""

    def __init__(self, name: str, scope: Membership | None, instances: list):
        self.instance_ids = [instance.get("id") for instance in instances]
        super().__init__(
            "%d live Lambda Cloud instances are named %r among %s (ids: %s); the module will not guess which one it manages. "
            "Terminate the extra ones (or rename them), then run again."
            % (len(instances), name, _scope_text(scope), ", ".join(str(i) for i in self.instance_ids)))


# -- instances ---------------------------------------------------------------------------------

def in_scope(instance: dict, scope: Membership | None) -> bool:
    """True when the instance is one the module may act on: a member of the cluster the caller
    chose, or any instance of the account when the caller chose none (the name alone identifies it)."""
    return scope is None or not scope.chosen or scope.includes(instance)


def same_name(instances: list, name: str, scope: Membership | None) -> list:
    """Every instance, whatever its status, named ``name`` among the cluster's members."""
    return [instance for instance in instances
            if instance.get("name") == name and in_scope(instance, scope)]


def live_matches(instances: list, name: str, scope: Membership | None) -> list:
    """The live instances named ``name`` in the cluster: the ones state=present would reuse."""
    return [instance for instance in same_name(instances, name, scope) if is_live(instance)]


def single_match(instances: list, name: str, scope: Membership | None) -> dict | None:
    """The one live instance named ``name`` in the cluster, None if there is none.

    Raises DuplicateInstancesError when there are several: the name is the module's only handle
    on the instance, so choosing one would be a guess.
    """
    matches = live_matches(instances, name, scope)
    if len(matches) > 1:
        raise DuplicateInstancesError(name, scope, matches)
    return matches[0] if matches else None


def untagged_namesakes(instances: list, name: str, scope: Membership | None) -> list:
    """Live untagged instances named exactly ``name`` that are not members of the cluster.

    Launching next to one would leave two instances of that name, one of them billing unnoticed;
    adopting it would take over an instance nobody declared part of the cluster. The caller refuses
    both and says how to declare it.
    """
    if scope is None or not scope.cluster:
        return []
    return [instance for instance in instances
            if instance.get("name") == name and is_live(instance) and not cluster_tag(instance) and not scope.includes(instance)]


def match_by_id(instances: list, instance_id: str, scope: Membership | None) -> tuple:
    """(the live instance with this id, or None; [its id] while it is still terminating).

    Raises ValueError when the instance exists but is not a member of the chosen cluster: acting
    on it would reach outside the cluster the caller named.
    """
    for instance in instances:
        if instance.get("id") != instance_id:
            continue
        if not in_scope(instance, scope):
            raise ValueError("instance %s (%s) is not a member of the cluster (%s); nothing was done"
                             % (instance_id, instance.get("name") or "unnamed", _scope_text(scope)))
        if instance.get("status") == "terminating":
            return None, [instance_id]
        return (instance if is_live(instance) else None), []
    return None, []


def dying_ids(instances: list, name: str, scope: Membership | None) -> list:
    """Ids of same-named instances that are still terminating, which state=absent waits for."""
    return [instance["id"] for instance in same_name(instances, name, scope) if instance.get("status") == "terminating"]


def diff_view(instance: dict | None, name: str) -> dict:
    """What --diff shows about an instance: its name, status, region and type."""
    if not instance:
        return {"name": name, "status": "absent"}
    return {
        "name": instance.get("name", name),
        "status": instance.get("status"),
        "region": (instance.get("region") or {}).get("name"),
        "instance_type": (instance.get("instance_type") or {}).get("name"),
    }


def instance_facts(instance: dict) -> dict:
    """An instance as lambda_instance_info returns it.

    The API object without Jupyter secrets, with ``tags`` as a dict, GPU facts (gpu_model,
    gpu_count, gpu_memory_gib, arch) and the K3s role the inventory would give it.
    """
    facts = without_secrets(instance)
    facts["tags"] = tags_dict(instance)
    facts.update(gpu_facts(instance.get("instance_type")))
    facts["k3s_role"] = k3s_role(instance)
    return facts


def filter_instances(instances: list, name: str | None = None, membership: Membership | None = None, regions: list | None = None,
                     statuses: list | None = None, instance_types: list | None = None, role: str | None = None) -> list:
    """The instances passing every filter given; an empty or None filter lets everything through."""
    selected = []
    for instance in instances:
        if name is not None and instance.get("name") != name:
            continue
        if not in_scope(instance, membership):
            continue
        if regions and (instance.get("region") or {}).get("name") not in regions:
            continue
        if statuses and instance.get("status") not in statuses:
            continue
        if instance_types and (instance.get("instance_type") or {}).get("name") not in instance_types:
            continue
        if role and k3s_role(instance) != role:
            continue
        selected.append(instance)
    return selected


# -- options -----------------------------------------------------------------------------------

def tag_problems(tags: dict | None) -> list:
    """Why the user's tags would be refused by the API (or clash with the K3s tags); empty if fine."""
    problems = []
    for key, value in (tags or {}).items():
        key = str(key)
        if key in (CLUSTER_TAG, ROLE_TAG):
            problems.append("tag %r is set by the module; use the %s option instead" % (key, "cluster" if key == CLUSTER_TAG else "role"))
            continue
        if len(key) > TAG_KEY_MAX_LENGTH or not TAG_KEY_PATTERN.match(key):
            problems.append("tag key %r must match %s and be at most %d characters (lower case letter first; then lower case "
                            "letters, digits, '-' or ':')" % (key, TAG_KEY_PATTERN.pattern, TAG_KEY_MAX_LENGTH))
        if len(_tag_value(value)) > TAG_VALUE_MAX_LENGTH:
            problems.append("the value of tag %r is longer than %d characters" % (key, TAG_VALUE_MAX_LENGTH))
    return problems


def option_problems(params: dict) -> list:
    """Every reason the options cannot make a valid launch request, found before any API call."""
    problems = []
    name = params.get("name") or ""
    if not name.strip():
        if params.get("state", "present") == "present":
            problems.append("name is required with state=present (instance_id only identifies an instance to terminate or restart)")
        elif not params.get("instance_id"):
            problems.append("name or instance_id must be given")
    if len(name) > NAME_MAX_LENGTH:
        problems.append("name must be at most %d characters (got %d)" % (NAME_MAX_LENGTH, len(name)))
    cluster = params.get("cluster")
    if cluster is not None and (not cluster or len(cluster) > TAG_VALUE_MAX_LENGTH):
        problems.append("cluster must be 1 to %d characters, as it becomes the %s tag" % (TAG_VALUE_MAX_LENGTH, CLUSTER_TAG))
    problems.extend(tag_problems(params.get("tags")))
    hostname = params.get("hostname")
    if hostname is not None and not HOSTNAME_PATTERN.match(hostname):
        problems.append("hostname %r must match %s (lower case letters, digits and '-', at most 63 characters, "
                        "not starting with '-')" % (hostname, HOSTNAME_PATTERN.pattern))
    for mount in params.get("file_system_mounts") or []:
        mount_point = mount.get("mount_point") or ""
        if len(mount_point) > MOUNT_POINT_MAX_LENGTH or not MOUNT_POINT_PATTERN.match(mount_point):
            problems.append("mount_point %r must start with /home, /lambda/nfs or /data and contain only letters, digits, "
                            "'/' and '-'" % mount_point)
    user_data = params.get("user_data")
    if user_data is not None and len(user_data.encode("utf-8")) > USER_DATA_MAX_BYTES:
        problems.append("user_data is larger than the API's limit of 1 MB")
    for option in ("regions", "instance_types"):
        if any(not str(item).strip() for item in params.get(option) or []):
            problems.append("%s must not contain empty names" % option)
    return problems


def launch_tags(user_tags: dict | None, cluster: str | None, role: str | None) -> list:
    """The tag list of the launch request: the user's tags plus k3s-cluster and k3s-role.

    Sorted by key so the request is the same from run to run.
    """
    merged = {str(key): _tag_value(value) for key, value in (user_tags or {}).items()}
    if cluster:
        merged[CLUSTER_TAG] = cluster
    if role:
        merged[ROLE_TAG] = role
    return [{"key": key, "value": merged[key]} for key in sorted(merged)]


def build_launch_request(params: dict, placement: Placement) -> dict:
    """The body of POST /instance-operations/launch for one instance at ``placement``.

    The *_by_region options add the rulesets and file systems of the region it launches in.
    """
    request = {
        "region_name": placement.region,
        "instance_type_name": placement.instance_type,
        "ssh_key_names": [params["ssh_key_name"]],
        "name": params["name"],
    }
    tags = launch_tags(params.get("tags"), params.get("cluster"), params.get("role"))
    if tags:
        request["tags"] = tags
    if params.get("hostname"):
        request["hostname"] = params["hostname"]
    file_systems = list(params.get("file_system_names") or []) + per_region(params.get("file_system_names_by_region")).get(placement.region, [])
    if file_systems:
        request["file_system_names"] = file_systems
    if params.get("file_system_mounts"):
        request["file_system_mounts"] = [{"mount_point": mount["mount_point"], "file_system_id": mount["file_system_id"]}
                                         for mount in params["file_system_mounts"]]
    image = params.get("image") or {}
    if image.get("id"):
        request["image"] = {"id": image["id"]}
    elif image.get("family"):
        request["image"] = {"family": image["family"]}
    if params.get("user_data") is not None:
        request["user_data"] = params["user_data"]
    ruleset_ids = list(params.get("firewall_ruleset_ids") or []) + per_region(params.get("firewall_ruleset_ids_by_region")).get(placement.region, [])
    if ruleset_ids:
        request["firewall_rulesets"] = [{"id": ruleset_id} for ruleset_id in ruleset_ids]
    return request


def per_region(value: dict | None) -> dict:
    """{region: [values]} from a *_by_region option, whose values may be one string or a list; empty
    entries (a ruleset that only exists once check mode is over) are dropped."""
    normalised = {}
    for region, items in (value or {}).items():
        items = [items] if isinstance(items, str) else list(items or [])
        normalised[str(region)] = [str(item) for item in items if item]
    return normalised


def launch_summary(request: dict) -> dict:
    """The launch request as the module reports it: user_data is summarised, never echoed."""
    summary = {key: value for key, value in request.items() if key != "user_data"}
    if "user_data" in request:
        summary["user_data"] = "<%d bytes>" % len(request["user_data"].encode("utf-8"))
    return summary


# -- placement -------------------------------------------------------------------------------

def capacity_by_type(catalogue: dict) -> dict:
    """{instance type name: [regions with capacity now]} from the GET /instance-types payload."""
    capacity = {}
    for key, item in (catalogue or {}).items():
        item = item or {}
        type_name = (item.get("instance_type") or {}).get("name") or key
        regions = [region.get("name") for region in item.get("regions_with_capacity_available") or [] if region.get("name")]
        capacity[type_name] = regions
    return capacity


def unknown_instance_types(instance_types: list, capacity: dict) -> list:
    """The requested types the catalogue does not list (typos, retired types)."""
    return [name for name in instance_types if name not in capacity]


def placement_candidates(instance_types: list, regions: list, capacity: dict) -> list:
    """Every (type, region) pair with capacity now, in preference order.

    The order is type-major: the first instance type in every region in order, then the second
    type, and so on. The type decides what the node can run, so it outranks where it runs.
    """
    candidates = []
    for type_name in _unique(instance_types):
        available = set(capacity.get(type_name) or ())
        for region in _unique(regions):
            if region in available:
                candidates.append(Placement(type_name, region))
    return candidates


def regions_for_file_systems(file_systems: list, names: list | None, ids: list | None):
    """(regions that hold every requested file system, problems).

    A file system lives in one region and an instance can only mount file systems of its own
    region, so the requested ones narrow where the instance may launch. ``regions`` is None
    when no file system is requested.
    """
    names = list(names or [])
    ids = list(ids or [])
    if not names and not ids:
        return None, []
    by_name = {item.get("name"): item for item in file_systems}
    by_id = {item.get("id"): item for item in file_systems}
    problems = []
    regions = set()
    for label, wanted, index in (("name", names, by_name), ("id", ids, by_id)):
        for value in wanted:
            found = index.get(value)
            if found is None:
                problems.append("no file system with %s %r exists in the account" % (label, value))
            else:
                regions.add((found.get("region") or {}).get("name"))
    if len(regions) > 1:
        problems.append("the requested file systems are in different regions (%s); an instance can only mount file systems "
                        "of its own region" % ", ".join(sorted(str(region) for region in regions)))
    return regions, problems


def describe_no_capacity(instance_types: list, regions: list, capacity: dict, refused: list) -> str:
    """The failure message when no (type, region) pair could be launched.

    Names every pair tried, says which ones the catalogue listed without capacity and which
    ones the launch itself refused, and where the requested types do have capacity.
    """
    refused = list(refused)
    types = _unique(instance_types)
    regions = _unique(regions)
    listed_empty = [Placement(type_name, region) for type_name in types for region in regions
                    if Placement(type_name, region) not in refused]
    parts = ["No capacity for instance types %s in regions %s (tried in this order, type first)."
             % (", ".join(types), ", ".join(regions))]
    if listed_empty:
        parts.append("Lambda Cloud lists no capacity now for: %s." % _pairs_text(listed_empty))
    if refused:
        parts.append("The launch answered insufficient capacity for: %s." % _pairs_text(refused))
    elsewhere = ["%s in %s" % (type_name, ", ".join(sorted(set(capacity.get(type_name) or ()) - set(regions))))
                 for type_name in types if set(capacity.get(type_name) or ()) - set(regions)]
    if elsewhere:
        parts.append("Capacity exists elsewhere: %s; add those regions to try them." % "; ".join(elsewhere))
    else:
        parts.append("None of these types has capacity in any region right now; try again later or add instance types.")
    return " ".join(parts)


def instance_type_facts(item: dict) -> dict:
    """One entry of lambda_instance_type_info's ``instance_types`` from a catalogue item."""
    instance_type = item.get("instance_type") or {}
    facts = {
        "name": instance_type.get("name"),
        "description": instance_type.get("description"),
        "gpu_description": instance_type.get("gpu_description"),
        "price_cents_per_hour": instance_type.get("price_cents_per_hour"),
        "specs": instance_type.get("specs") or {},
        "regions_with_capacity": sorted(region.get("name") for region in item.get("regions_with_capacity_available") or []
                                        if region.get("name")),
    }
    facts.update(gpu_facts(instance_type))
    return facts


def filter_instance_types(facts: list, names: list | None = None, regions: list | None = None, available_only: bool = False) -> list:
    """Instance type facts passing the filters, sorted by name.

    ``regions`` keeps the types with capacity in at least one of them; ``available_only`` the
    types with capacity somewhere (within ``regions`` when both are given).
    """
    selected = []
    for item in facts:
        if names and item["name"] not in names:
            continue
        if regions and not set(item["regions_with_capacity"]) & set(regions):
            continue
        if available_only and not item["regions_with_capacity"]:
            continue
        selected.append(item)
    return sorted(selected, key=lambda item: item["name"] or "")


# -- helpers -----------------------------------------------------------------------------------

def _scope_text(scope: Membership | None) -> str:
    return "the instances of the account" if scope is None or not scope.chosen else scope.describe()


def _tag_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        # YAML true/false would otherwise become "True"/"False".
        return "true" if value else "false"
    return str(value)


def _unique(items) -> list:
    seen = set()
    result = []
    for item in items or []:
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result


def _pairs_text(pairs: list) -> str:
    return ", ".join("%s in %s" % (pair.instance_type, pair.region) for pair in pairs)
