#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lambda_instance_info
short_description: List Lambda Cloud instances, optionally those of one K3s cluster
version_added: 1.0.0
description:
  - Lists the instances of the Lambda Cloud account with one API request, filtered on the controller.
  - Every filter is optional; instances must pass all the filters given.
  - Each instance comes with its tags as a dictionary, GPU facts and the K3s role the inventory plugin would give it.
    The Jupyter token and URL are never returned.
author:
  - sophia.lambda_k3s contributors (@sophia-ai)
extends_documentation_fragment:
  - sophia.lambda_k3s.lambda_cloud
  - sophia.lambda_k3s.lambda_cloud.membership
  - sophia.lambda_k3s.lambda_cloud.action_group
attributes:
  check_mode:
    description: The module only reads, so it runs normally in check mode.
    support: full
  diff_mode:
    description: The module changes nothing, so it has no diff to show.
    support: N/A
options:
  name:
    description:
      - Only the instances with exactly this name.
    type: str
  cluster:
    description:
      - Only the members of this K3s cluster - instances tagged C(k3s-cluster=<cluster>), plus untagged ones named in
        O(member_names) or matching O(member_name_pattern) (the inventory plugin's rule).
      - Untagged instances named C(<cluster>-...) that are not members are returned apart, in RV(look_alikes).
    type: str
  regions:
    description:
      - Only the instances in these regions.
    type: list
    elements: str
  statuses:
    description:
      - Only the instances in these statuses, for example V(active) or V(booting).
      - Terminated instances stay listed by the API for a while; use this filter to leave them out.
    type: list
    elements: str
  instance_types:
    description:
      - Only the instances of these instance types.
    type: list
    elements: str
  role:
    description:
      - Only the instances with this K3s role - the C(k3s-role) tag, or for untagged instances a name containing
        C(server) or C(control) (the inventory plugin's rule).
    type: str
    choices: [server, agent]
seealso:
  - module: sophia.lambda_k3s.lambda_instance
  - module: sophia.lambda_k3s.lambda_instance_type_info
"""

EXAMPLES = r"""
- name: List the active servers of the demo cluster
  sophia.lambda_k3s.lambda_instance_info:
    cluster: demo
    role: server
    statuses: [active]
  register: servers

- name: Show their public addresses
  ansible.builtin.debug:
    msg: "{{ servers.instances | map(attribute='ip') | list }}"

- name: Find one instance by name
  sophia.lambda_k3s.lambda_instance_info:
    name: demo-agent-1
    cluster: demo
  register: agent
"""

RETURN = r"""
instances:
  description:
    - The matching instances, sorted by name then id.
    - Each is the Lambda Cloud API's instance object without C(jupyter_token) and C(jupyter_url), with C(tags) turned into
      a dictionary and the keys below added.
    - C(ip), C(private_ip) and C(hostname) are missing while an instance boots.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Instance id.
      type: str
      sample: 0920582c7ff041399e34823a0be62549
    name:
      description: Instance name (may be missing for instances launched without one).
      type: str
      sample: demo-agent-1
    status:
      description: One of C(booting), C(active), C(unhealthy), C(terminating), C(terminated), C(preempted).
      type: str
      sample: active
    ip:
      description: Public IPv4 address, once known.
      type: str
      sample: 198.51.100.2
    private_ip:
      description: Private IPv4 address, once known.
      type: str
      sample: 10.0.2.100
    region:
      description: Region name and description.
      type: dict
      sample: {name: us-east-1, description: "Virginia, USA"}
    instance_type:
      description: Instance type with its name, descriptions, price and specs.
      type: dict
    tags:
      description: Tags as a dictionary.
      type: dict
      sample: {k3s-cluster: demo, k3s-role: agent}
    k3s_role:
      description: K3s role, C(server) or C(agent).
      type: str
      sample: agent
    lifecycle:
      description:
        - Where the instance is in its life, C(live) (C(booting), C(active), C(unhealthy), or a status this collection does not
          know), C(terminating), or C(gone) (C(terminated), C(preempted)). Only C(live) instances count as members of a cluster's
          firewall and as nodes.
      type: str
      sample: live
    gpu_model:
      description: GPU model in lower case, or null for a CPU-only type.
      type: str
      sample: a10
    gpu_count:
      description: Number of GPUs.
      type: int
      sample: 1
    gpu_memory_gib:
      description: Memory per GPU in GiB as Lambda labels it, or null when unknown.
      type: int
      sample: 24
    arch:
      description: CPU architecture, C(x86_64) or C(arm64).
      type: str
      sample: x86_64
look_alikes:
  description:
    - Live untagged instances named C(<cluster>-...) that are not members of O(cluster) (not in O(member_names), not matching
      O(member_name_pattern)), in the form of RV(instances). Nothing acts on them; playbooks list them so a user can decide.
    - Other filters than O(cluster) do not apply to them. Empty when O(cluster) is not set.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "0920582c7ff041399e34823a0be62549", "name": "demo-db", "status": "active", "tags": {}}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import is_live
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._instance_facts import filter_instances, instance_facts
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.module_support import (
    client_for,
    fail_for,
    lambda_argument_spec,
    membership_argument_spec,
    membership_for,
)


def sorted_facts(instances: list) -> list:
    return sorted((instance_facts(instance) for instance in instances), key=lambda item: (item.get("name") or "", item.get("id") or ""))


def main() -> None:
    argument_spec = lambda_argument_spec(
        name=dict(type="str"),
        cluster=dict(type="str"),
        regions=dict(type="list", elements="str"),
        statuses=dict(type="list", elements="str"),
        instance_types=dict(type="list", elements="str"),
        role=dict(type="str", choices=["server", "agent"]),
        **membership_argument_spec(),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    membership = membership_for(module)
    client = client_for(module)
    try:
        instances = client.list_instances()
    except LambdaAPIError as error:
        fail_for(module, error, changed=False)
    selected = filter_instances(instances, name=module.params["name"], membership=membership,
                                regions=module.params["regions"], statuses=module.params["statuses"],
                                instance_types=module.params["instance_types"], role=module.params["role"])
    look_alikes = [instance for instance in membership.look_alikes(instances) if is_live(instance)]
    module.exit_json(changed=False, instances=sorted_facts(selected), look_alikes=sorted_facts(look_alikes))


if __name__ == "__main__":
    main()
