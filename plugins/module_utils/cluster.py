# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Lambda Cloud instances belong to a K3s cluster, and in which role.

The inventory and the provisioning modules must agree on this, so the rules live here once.
"""

from __future__ import annotations

import re

CLUSTER_TAG = "k3s-cluster"
ROLE_TAG = "k3s-role"
ROLES = ("server", "agent")
DEFAULT_SERVER_NAME_PATTERN = r"server|control"

# Statuses of an instance that is gone or going: it never becomes active again, so it neither
# counts as a node (nor satisfies state=present, nor blocks a new launch under its name) nor keeps
# a place in the cluster's firewall rules (its address may be handed to somebody else). A
# preempted instance is reclaimed capacity and cannot be restarted, hence it counts as gone too.
GONE_STATUSES = frozenset(("terminated", "terminating", "preempted"))


def tags_dict(instance: dict) -> dict:
    """The instance's tags as a plain dict; malformed entries are skipped, never fatal."""
    tags = {}
    for entry in instance.get("tags") or []:
        if isinstance(entry, dict) and entry.get("key"):
            tags[str(entry["key"])] = "" if entry.get("value") is None else str(entry["value"])
    return tags


def is_member(instance: dict, cluster: str | None) -> bool:
    """With no cluster every instance belongs. Otherwise the k3s-cluster tag decides; untagged
    instances belong when their name starts with '<cluster>-'."""
    if not cluster:
        return True
    tags = tags_dict(instance)
    if CLUSTER_TAG in tags:
        return tags[CLUSTER_TAG] == cluster
    return str(instance.get("name") or "").startswith(cluster + "-")


def is_live(instance: dict | None) -> bool:
    """True for an instance that exists and is not terminated, terminating or preempted."""
    return bool(instance) and instance.get("status") not in GONE_STATUSES


def k3s_role(instance: dict, server_name_pattern: str = DEFAULT_SERVER_NAME_PATTERN) -> str:
    """'server' or 'agent': the k3s-role tag decides; otherwise a name matching the pattern is a server."""
    tagged = tags_dict(instance).get(ROLE_TAG, "").strip().lower()
    if tagged in ROLES:
        return tagged
    name = str(instance.get("name") or "")
    return "server" if server_name_pattern and re.search(server_name_pattern, name, re.IGNORECASE) else "agent"
