# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Lambda Cloud instances belong to a K3s cluster, and in which role.

The inventory, the provisioning modules, teardown and the firewall's member rules must agree on
this, so the rules live here once.
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
# Of those, the statuses an instance ends in; a terminating one is still on its way there.
FINAL_STATUSES = frozenset(("terminated", "preempted"))


def tags_dict(instance: dict) -> dict:
    """The instance's tags as a plain dict; malformed entries are skipped, never fatal.

    The API lists tags as [{key, value}]; lambda_instance_info returns them as a dict, which is taken as it is.
    """
    tags = instance.get("tags") or []
    if isinstance(tags, dict):
        return {str(key): "" if value is None else str(value) for key, value in tags.items() if key}
    found = {}
    for entry in tags:
        if isinstance(entry, dict) and entry.get("key"):
            found[str(entry["key"])] = "" if entry.get("value") is None else str(entry["value"])
    return found


def cluster_tag(instance: dict) -> str | None:
    """The instance's k3s-cluster tag, None when it has none (or an empty one)."""
    return tags_dict(instance).get(CLUSTER_TAG) or None


class MembershipError(ValueError):
    """A membership setting that cannot be used; the message names the option and what to change."""


class Membership:
    """Which instances form one K3s cluster, decided from what the user said and nothing else.

    An instance belongs when it carries the k3s-cluster tag with the cluster's name (what
    provision.yml sets at launch), or when the user lists its name, or when its whole name matches
    a pattern the user wrote (instances launched by hand cannot be tagged afterwards). A name that
    merely starts like the cluster's does not count: an untagged prod-db must never be terminated
    with cluster prod, nor trusted by its firewall. An instance tagged for another cluster belongs
    to that one, whatever its name. With nothing chosen, nothing belongs; the whole account is a
    cluster only with whole_account.
    """

    def __init__(self, cluster: str | None = None, names=None, name_pattern: str | None = None, whole_account: bool = False):
        self.cluster = cluster or None
        self.names = tuple(str(name) for name in names or ())
        self.name_pattern = name_pattern or None
        self.whole_account = bool(whole_account)
        if self.whole_account and (self.cluster or self.names or self.name_pattern):
            raise MembershipError("whole_account makes every instance of the account a member, so it cannot be combined with "
                                  "cluster, member_names or member_name_pattern; set one or the other.")
        if any(not name.strip() for name in self.names):
            raise MembershipError("member_names must not contain empty names.")
        try:
            self._pattern = re.compile(self.name_pattern) if self.name_pattern else None
        except re.error as error:
            raise MembershipError("member_name_pattern %r is not a valid regular expression: %s." % (self.name_pattern, error)) from None

    @property
    def chosen(self) -> bool:
        """True when the user said which instances form the cluster."""
        return bool(self.whole_account or self.cluster or self.names or self._pattern)

    def reason(self, instance: dict) -> str | None:
        """Why the instance is a member ('tagged', 'listed', 'pattern', 'account'), or None if it is not one."""
        if self.whole_account:
            return "account"
        tagged = cluster_tag(instance)
        if tagged:
            # An instance tagged for another cluster belongs to that one, whatever its name.
            return "tagged" if tagged == self.cluster else None
        name = str(instance.get("name") or "")
        if name and name in self.names:
            return "listed"
        if name and self._pattern is not None and self._pattern.fullmatch(name):
            return "pattern"
        return None

    def includes(self, instance: dict) -> bool:
        return self.reason(instance) is not None

    def look_alikes(self, instances) -> list:
        """Untagged instances named '<cluster>-...' that are not members: reported, never acted on."""
        if not self.cluster:
            return []
        prefix = self.cluster + "-"
        return [instance for instance in instances
                if not cluster_tag(instance) and str(instance.get("name") or "").startswith(prefix)
                and not self.includes(instance)]

    def describe(self) -> str:
        """The criteria in words, for messages."""
        if self.whole_account:
            return "every instance of the account"
        parts = []
        if self.cluster:
            parts.append("instances tagged %s=%s" % (CLUSTER_TAG, self.cluster))
        if self.names:
            parts.append("instances named %s" % ", ".join(self.names))
        if self.name_pattern:
            parts.append("instances whose name matches %s" % self.name_pattern)
        return " or ".join(parts) or "no cluster"


def is_live(instance: dict | None) -> bool:
    """True for an instance that exists and is not terminated, terminating or preempted."""
    return bool(instance) and instance.get("status") not in GONE_STATUSES


def lifecycle(instance: dict | None) -> str:
    """Where the instance is in its life, for playbooks that wait on it: 'live' (booting, active, unhealthy or a
    status this collection does not know), 'terminating', or 'gone' (terminated, preempted, or not listed)."""
    if is_live(instance):
        return "live"
    return "gone" if not instance or instance.get("status") in FINAL_STATUSES else "terminating"


def k3s_role(instance: dict, server_name_pattern: str = DEFAULT_SERVER_NAME_PATTERN) -> str:
    """'server' or 'agent': the k3s-role tag decides; otherwise a name matching the pattern is a server."""
    tagged = tags_dict(instance).get(ROLE_TAG, "").strip().lower()
    if tagged in ROLES:
        return tagged
    name = str(instance.get("name") or "")
    return "server" if server_name_pattern and re.search(server_name_pattern, name, re.IGNORECASE) else "agent"
