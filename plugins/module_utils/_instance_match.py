# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: which instance a module acts on, found by name or id among a cluster's members.

Names are optional and not unique in Lambda Cloud; these rules make a name a reliable handle
within one cluster, and refuse to guess when it is not.
"""

from __future__ import annotations

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import Membership, cluster_tag, is_live


class DuplicateInstancesError(Exception):
    """Several live instances carry the name the module manages; it refuses to pick one."""

    def __init__(self, name: str, scope: Membership | None, instances: list):
        self.instance_ids = [instance.get("id") for instance in instances]
        super().__init__(
            "%d live Lambda Cloud instances are named %r among %s (ids: %s); the module will not guess which one it manages. "
            "Terminate the extra ones (or rename them), then run again."
            % (len(instances), name, scope_text(scope), ", ".join(str(i) for i in self.instance_ids)))


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


def namesake_message(name: str, namesakes: list, scope: Membership) -> str:
    """Why a node whose name an untagged non-member carries is neither adopted nor launched, and what to do."""
    return ("An untagged Lambda Cloud instance is named %s (%s) but is not a member of the cluster (%s), so it was neither adopted nor "
            "launched again beside it. To make it a node, name it in member_names (lambda_cluster_member_names in provision.yml); "
            "otherwise rename or terminate it." % (name, ", ".join(str(item.get("id")) for item in namesakes), scope.describe()))


def not_as_requested(instance: dict, instance_types: list | None, regions: list | None) -> str | None:
    """A warning when an existing instance is of a type or in a region the caller did not ask for; None when it is not.

    Existing instances are never replaced or moved: the warning says so.
    """
    region = (instance.get("region") or {}).get("name")
    type_name = (instance.get("instance_type") or {}).get("name")
    if (regions and region not in regions) or (instance_types and type_name not in instance_types):
        return ("Instance %s (%s) exists as %s in %s, which is not among the requested types/regions; it is left as it is."
                % (instance.get("name"), instance.get("id"), type_name, region))
    return None


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
                             % (instance_id, instance.get("name") or "unnamed", scope_text(scope)))
        if instance.get("status") == "terminating":
            return None, [instance_id]
        return (instance if is_live(instance) else None), []
    return None, []


def dying_ids(instances: list, name: str, scope: Membership | None) -> list:
    """Ids of same-named instances that are still terminating, which state=absent waits for."""
    return [instance["id"] for instance in same_name(instances, name, scope) if instance.get("status") == "terminating"]


def scope_text(scope: Membership | None) -> str:
    return "the instances of the account" if scope is None or not scope.chosen else scope.describe()
