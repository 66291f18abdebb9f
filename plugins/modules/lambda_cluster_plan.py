#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lambda_cluster_plan
short_description: Plan where the nodes of a K3s cluster run on Lambda Cloud, from one read of the account
version_added: 1.0.0
description:
  - Reads the instances, the instance-type catalogue and the firewall rulesets of the account once (three requests) and decides,
    for every node in O(nodes), whether it exists already (it is then kept wherever it is) or where it would launch now.
  - A node is found by its name among the members of O(cluster), and a missing node goes to the first (instance type, region)
    pair with capacity now, B(type first), by the rules P(sophia.lambda_k3s.lambda_instance#module) applies to one instance.
  - Fails, before anything is changed, naming every problem at once, when a node names an instance type or a region Lambda Cloud
    does not know (the message lists the ones it knows), when several live instances of the cluster carry a node's name, when an
    untagged instance that is not a member carries it, or when a missing node has no capacity anywhere it may go.
  - Returns RV(snapshot), what it read, for the steps that follow. Given it, P(sophia.lambda_k3s.lambda_instance#module) and
    P(sophia.lambda_k3s.lambda_firewall_ruleset#module) do not read the instances, the catalogue or the rulesets again, which is
    what keeps C(provision.yml) at about two requests per node.
  - Changes nothing.
author:
  - sophia.lambda_k3s contributors (@sophia-ai)
extends_documentation_fragment:
  - sophia.lambda_k3s.lambda_cloud
  - sophia.lambda_k3s.lambda_cloud.membership
  - sophia.lambda_k3s.lambda_cloud.action_group
attributes:
  check_mode:
    description: Only reads; it runs the same way in check mode.
    support: full
  diff_mode:
    description: Nothing changes, so there is no difference to show.
    support: none
options:
  cluster:
    description:
      - Name of the K3s cluster. Its members are the instances tagged C(k3s-cluster=<cluster>), plus the untagged instances named in
        O(member_names) or matching O(member_name_pattern).
    type: str
    required: true
  nodes:
    description:
      - The nodes of the cluster, each a dictionary with C(name), C(instance_types) (most preferred first) and C(regions) (most
        preferred first).
      - Other keys (a role, tags, an image) are returned unchanged in RV(nodes).
    type: list
    elements: dict
    required: true
notes:
  - Instances launched by hand cannot be tagged; name them in O(member_names) (or match them with O(member_name_pattern)) so that a
    node of that name is adopted rather than refused.
seealso:
  - module: sophia.lambda_k3s.lambda_instance
  - module: sophia.lambda_k3s.lambda_firewall_ruleset
"""

EXAMPLES = r"""
- name: Plan the cluster's nodes
  sophia.lambda_k3s.lambda_cluster_plan:
    cluster: demo
    nodes:
      - {name: demo-server-1, role: server, instance_types: [cpu_4x_general, gpu_1x_a10], regions: [us-east-1, us-west-1]}
      - {name: demo-a10-1, role: agent, instance_types: [gpu_1x_a10], regions: [us-east-1, us-west-1]}
  register: plan

- name: Launch the missing nodes without reading the account again
  sophia.lambda_k3s.lambda_instance:
    name: "{{ item.name }}"
    cluster: demo
    role: "{{ item.role }}"
    regions: "{{ item.regions }}"
    instance_types: "{{ item.instance_types }}"
    ssh_key_name: demo-key
    snapshot: "{{ plan.snapshot }}"
    wait: false
  loop: "{{ plan.nodes | selectattr('launch') }}"
"""

RETURN = r"""
nodes:
  description:
    - Every node of O(nodes), in order, with three keys added.
  returned: always
  type: list
  elements: dict
  contains:
    instance:
      description: The existing instance, as P(sophia.lambda_k3s.lambda_instance_info#module) returns instances; empty when the node is missing.
      type: dict
    launch:
      description: Where the missing node would launch now (C(instance_type), C(region), C(price_cents_per_hour)); empty when it exists.
      type: dict
      sample: {instance_type: gpu_1x_a10, region: us-east-1, price_cents_per_hour: 75}
    regions:
      description:
        - Where the node is, or every region of its C(regions) where one of its types has capacity now (where it may land
          should capacity move before its launch).
      type: list
      elements: str
      sample: [us-east-1, us-west-1]
regions:
  description: Every region of RV(nodes[].regions), in order, which is where the cluster needs its firewall ruleset.
  returned: always
  type: list
  elements: str
  sample: [us-east-1, us-west-1]
members:
  description: The live members of the cluster, in the form of P(sophia.lambda_k3s.lambda_instance_info#module)'s C(instances).
  returned: always
  type: list
  elements: dict
look_alikes:
  description: Live untagged instances named C(<cluster>-...) that are not members; nothing acts on them.
  returned: always
  type: list
  elements: dict
snapshot:
  description:
    - What was read, for the C(snapshot) option of P(sophia.lambda_k3s.lambda_instance#module) and
      P(sophia.lambda_k3s.lambda_firewall_ruleset#module). It holds no Jupyter credential.
  returned: always
  type: dict
  contains:
    instances:
      description: The members of the cluster and every instance named like a node, whatever their status.
      type: list
      elements: dict
    capacity:
      description: For each instance type, the regions with capacity when it was read.
      type: dict
      sample: {gpu_1x_a10: [us-east-1, us-west-1]}
    rulesets:
      description: The firewall rulesets of the account, without the account-wide one.
      type: list
      elements: dict
    read_at:
      description: When the instances were read, in seconds since the epoch.
      type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._cluster_plan import plan_cluster
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.module_support import (
    client_for,
    fail_for,
    lambda_argument_spec,
    membership_argument_spec,
    membership_for,
)

NODE_KEYS = ("name", "instance_types", "regions")


def node_problems(nodes: list) -> list:
    """Why the nodes cannot be planned, found before any API call."""
    problems = []
    for index, node in enumerate(nodes):
        missing = [key for key in NODE_KEYS if not node.get(key)]
        if missing:
            problems.append("nodes[%d] needs %s" % (index, ", ".join(missing)))
        elif not isinstance(node["instance_types"], list) or not isinstance(node["regions"], list):
            problems.append("nodes[%d] (%s): instance_types and regions must be lists" % (index, node["name"]))
    return problems


def main() -> None:
    argument_spec = lambda_argument_spec(
        cluster=dict(type="str", required=True),
        nodes=dict(type="list", elements="dict", required=True),
        **membership_argument_spec(),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    problems = node_problems(module.params["nodes"])
    if problems:
        module.fail_json(msg="Invalid nodes: %s." % "; ".join(problems))
    scope = membership_for(module)
    client = client_for(module)
    try:
        # Before the read: a launch this controller makes while the list is being read counts as newer.
        read_at = time.time()
        instances = client.list_instances()
        catalogue = client.list_instance_types()
        rulesets = client.list_firewall_rulesets()
    except LambdaAPIError as error:
        fail_for(module, error, changed=False)
    plan = plan_cluster(module.params["nodes"], instances, catalogue, rulesets, scope, read_at)
    if plan.problems:
        module.fail_json(msg="Cannot provision cluster %s; nothing was changed. %s"
                             % (module.params["cluster"], " ".join(problem.rstrip(".") + "." for problem in plan.problems)),
                         changed=False)
    for warning in plan.warnings:
        module.warn(warning)
    module.exit_json(changed=False, nodes=plan.nodes, regions=plan.regions, members=plan.members, look_alikes=plan.look_alikes,
                     snapshot=plan.snapshot)


if __name__ == "__main__":
    main()
