# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: where every node of a cluster runs, decided from one read of the account.

lambda_cluster_plan reads the instances, the instance-type catalogue and the rulesets once; these
functions decide, with the rules lambda_instance applies to one node, which nodes exist, where the
missing ones would launch, and what a later step may reuse instead of reading it again (the
snapshot). Nothing here talks to the API.
"""

from __future__ import annotations

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._instance_facts import instance_facts, without_secrets
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._instance_match import (
    DuplicateInstancesError,
    namesake_message,
    not_as_requested,
    single_match,
    untagged_namesakes,
)
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._placement import (
    capacity_by_type,
    describe_no_capacity,
    describe_unknown,
    placement_candidates,
    prices_by_type,
)
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import Membership, is_live
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.firewall import GLOBAL_RULESET_ID


class ClusterPlan:
    """The plan of every node, the problems that stop it, and what the later steps may reuse."""

    def __init__(self) -> None:
        self.nodes: list[dict] = []
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.snapshot: dict = {}
        self.members: list[dict] = []
        self.look_alikes: list[dict] = []

    @property
    def regions(self) -> list[str]:
        """Every region where a node is, or where a missing node may land: where the cluster needs its ruleset."""
        return _unique(region for node in self.nodes for region in node["regions"])


def plan_cluster(nodes: list[dict], instances: list[dict], catalogue: dict, rulesets: list[dict], scope: Membership,
                 read_at: float) -> ClusterPlan:
    """Decide for each node (a dict with name, instance_types and regions) whether it exists and where it would launch.

    ``read_at`` is when the instance list was read (wall clock), so that a launch step can tell whether
    this controller launched a node after that.
    """
    plan = ClusterPlan()
    capacity = capacity_by_type(catalogue)
    plan.problems.extend(describe_unknown([name for node in nodes for name in node["instance_types"]],
                                          [region for node in nodes for region in node["regions"]], capacity, "in the cluster spec"))
    if plan.problems:
        return plan
    prices = prices_by_type(catalogue)
    for node in nodes:
        planned = _plan_node(node, instances, capacity, prices, scope, plan)
        if planned is not None:
            plan.nodes.append(planned)
    node_names = {node["name"] for node in nodes}
    plan.snapshot = {
        # The members (for the rulesets' trust) and every instance named like a node (for the launch steps' matching).
        "instances": [without_secrets(instance) for instance in instances
                      if scope.includes(instance) or instance.get("name") in node_names],
        "capacity": capacity,
        "rulesets": [ruleset for ruleset in rulesets if ruleset.get("id") != GLOBAL_RULESET_ID],
        "read_at": read_at,
    }
    plan.members = [instance_facts(instance) for instance in instances if is_live(instance) and scope.includes(instance)]
    plan.look_alikes = [instance_facts(instance) for instance in scope.look_alikes(instances) if is_live(instance)]
    return plan


def _plan_node(node: dict, instances: list[dict], capacity: dict, prices: dict, scope: Membership, plan: ClusterPlan) -> dict | None:
    name = node["name"]
    try:
        existing = single_match(instances, name, scope)
    except DuplicateInstancesError as error:
        plan.problems.append(str(error))
        return None
    if existing is not None:
        warning = not_as_requested(existing, node["instance_types"], node["regions"])
        if warning:
            plan.warnings.append(warning)
        region = (existing.get("region") or {}).get("name")
        return dict(node, instance=instance_facts(existing), launch={}, regions=[region] if region else [])
    namesakes = untagged_namesakes(instances, name, scope)
    if namesakes:
        plan.problems.append(namesake_message(name, namesakes, scope))
        return None
    candidates = placement_candidates(node["instance_types"], node["regions"], capacity)
    if not candidates:
        plan.problems.append("%s: %s" % (name, describe_no_capacity(node["instance_types"], node["regions"], capacity, [])))
        return None
    first = candidates[0]
    launch = {"instance_type": first.instance_type, "region": first.region, "price_cents_per_hour": prices.get(first.instance_type)}
    return dict(node, instance={}, launch=launch, regions=_unique(candidate.region for candidate in candidates))


def _unique(items) -> list:
    unique: list = []
    for item in items:
        if item not in unique:
            unique.append(item)
    return unique
