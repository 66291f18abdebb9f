# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: instances and instance types as the modules return them.

The API's objects without their secrets, with tags as a dictionary and the GPU facts and K3s role
the inventory gives the same instance; plus the filters of lambda_instance_info and
lambda_instance_type_info.
"""

from __future__ import annotations

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._instance_match import in_scope
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import Membership, k3s_role, lifecycle, tags_dict
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.instance_types import gpu_facts

# Instance fields that are credentials: the Jupyter URL embeds the token.
SECRET_INSTANCE_FIELDS = ("jupyter_token", "jupyter_url")


def without_secrets(instance: dict | None) -> dict:
    """The instance without its Jupyter credentials (empty for None)."""
    return {key: value for key, value in (instance or {}).items() if key not in SECRET_INSTANCE_FIELDS}


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
    gpu_count, gpu_memory_gib, arch), the K3s role the inventory would give it, and where it is in its
    life (``lifecycle``: live, terminating or gone), so that playbooks never restate which statuses mean what.
    """
    facts = without_secrets(instance)
    facts["tags"] = tags_dict(instance)
    facts.update(gpu_facts(instance.get("instance_type")))
    facts["k3s_role"] = k3s_role(instance)
    facts["lifecycle"] = lifecycle(instance)
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
