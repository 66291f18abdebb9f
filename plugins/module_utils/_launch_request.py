# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: the launch request lambda_instance sends, and the option checks behind it.

Every limit the API's InstanceLaunchRequest sets (lengths, patterns) is checked before any call,
so a mistake costs no request and gets a sentence naming the option.
"""

from __future__ import annotations

import re

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._placement import Placement
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import CLUSTER_TAG, ROLE_TAG

# Limits from InstanceLaunchRequest in the Lambda Cloud OpenAPI spec 1.8.3.
NAME_MAX_LENGTH = 64
TAG_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9-:]+$")
TAG_KEY_MAX_LENGTH = 55
TAG_VALUE_MAX_LENGTH = 128
HOSTNAME_PATTERN = re.compile(r"^[a-z0-9][0-9a-z-]{0,62}$")
MOUNT_POINT_PATTERN = re.compile(r"^(/home|/lambda/nfs|/data)[/a-zA-Z0-9-]*$")
MOUNT_POINT_MAX_LENGTH = 256
USER_DATA_MAX_BYTES = 1024 * 1024


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
    # The argument spec requires a name with state=present, but Ansible counts a name given as null (or "") as given.
    if not name.strip() and (params.get("name") is not None or params.get("state", "present") == "present"):
        problems.append("name must not be empty" + (" with state=present" if params.get("state", "present") == "present" else ""))
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


def _tag_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        # YAML true/false would otherwise become "True"/"False".
        return "true" if value else "false"
    return str(value)
