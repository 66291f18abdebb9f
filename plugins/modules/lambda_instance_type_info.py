#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lambda_instance_type_info
short_description: List Lambda Cloud instance types, their prices and where they have capacity now
version_added: 1.0.0
description:
  - Reads the instance type catalogue of Lambda Cloud with one API request.
  - For each type it returns the description, price, specs, GPU facts and the regions that have capacity for it right now.
  - Capacity changes by the minute; M(sophia.lambda_k3s.lambda_instance) reads it again when it launches.
author:
  - sophia.lambda_k3s contributors (@sophia-ai)
extends_documentation_fragment:
  - sophia.lambda_k3s.lambda_cloud
  - sophia.lambda_k3s.lambda_cloud.action_group
attributes:
  check_mode:
    description: The module only reads, so it runs normally in check mode.
    support: full
  diff_mode:
    description: The module changes nothing, so it has no diff to show.
    support: N/A
options:
  names:
    description:
      - Only these instance types, for example V(gpu_1x_a10).
    type: list
    elements: str
  regions:
    description:
      - Only the types with capacity in at least one of these regions.
      - RV(instance_types[].regions_with_capacity) still lists every region with capacity.
    type: list
    elements: str
  available_only:
    description:
      - Only the types with capacity in some region now.
    type: bool
    default: false
seealso:
  - module: sophia.lambda_k3s.lambda_instance
"""

EXAMPLES = r"""
- name: Which single-GPU types can be launched in the US East or West now?
  sophia.lambda_k3s.lambda_instance_type_info:
    regions: [us-east-1, us-west-1]
  register: launchable

- name: Cheapest of them
  ansible.builtin.debug:
    msg: "{{ (launchable.instance_types | selectattr('gpu_count', 'eq', 1) | sort(attribute='price_cents_per_hour') | first).name }}"

- name: Details of two types, with or without capacity
  sophia.lambda_k3s.lambda_instance_type_info:
    names: [gpu_1x_a10, gpu_8x_h100_sxm5]
"""

RETURN = r"""
instance_types:
  description: The matching instance types, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Instance type name, as given to M(sophia.lambda_k3s.lambda_instance).
      type: str
      sample: gpu_1x_a10
    description:
      description: Description of the type.
      type: str
      sample: 1x A10 (24 GB PCIe)
    gpu_description:
      description: Description of its GPU.
      type: str
      sample: A10 (24 GB PCIe)
    price_cents_per_hour:
      description: Price in US cents per hour.
      type: int
      sample: 75
    specs:
      description: C(vcpus), C(memory_gib), C(storage_gib) and C(gpus).
      type: dict
      sample: {vcpus: 30, memory_gib: 200, storage_gib: 1400, gpus: 1}
    regions_with_capacity:
      description: Names of the regions with capacity for this type now, sorted.
      type: list
      elements: str
      sample: [us-east-1, us-west-1]
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
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._instance_facts import filter_instance_types, instance_type_facts
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.module_support import client_for, fail_for, lambda_argument_spec


def main() -> None:
    argument_spec = lambda_argument_spec(
        names=dict(type="list", elements="str"),
        regions=dict(type="list", elements="str"),
        available_only=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = client_for(module)
    try:
        catalogue = client.list_instance_types()
    except LambdaAPIError as error:
        fail_for(module, error, changed=False)
    facts = [instance_type_facts(item) for item in (catalogue or {}).values()]
    selected = filter_instance_types(facts, names=module.params["names"], regions=module.params["regions"],
                                     available_only=module.params["available_only"])
    missing = sorted(set(module.params["names"] or ()) - {item["name"] for item in facts})
    if missing:
        module.warn("Lambda Cloud does not offer instance type(s) %s." % ", ".join(missing))
    module.exit_json(changed=False, instance_types=selected)


if __name__ == "__main__":
    main()
