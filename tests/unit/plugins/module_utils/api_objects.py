"""Lambda Cloud API objects for unit tests: instances and instance-type catalogues shaped like the spec's."""

from __future__ import annotations


def instance(name="demo-agent-1", status="active", cluster="demo", role=None, instance_id="a" * 32, region="us-east-1",
             type_name="gpu_1x_a10", **extra):
    tags = []
    if cluster:
        tags.append({"key": "k3s-cluster", "value": cluster})
    if role:
        tags.append({"key": "k3s-role", "value": role})
    instance = {"id": instance_id, "name": name, "status": status, "tags": tags,
                "region": {"name": region, "description": "somewhere"},
                "instance_type": {"name": type_name, "description": "1x A10 (24 GB PCIe)", "gpu_description": "A10 (24 GB PCIe)",
                                  "price_cents_per_hour": 75, "specs": {"vcpus": 30, "memory_gib": 200, "storage_gib": 1400, "gpus": 1}}}
    instance.update(extra)
    return instance


def catalogue(capacity: dict) -> dict:
    return {name: {"instance_type": {"name": name, "description": name, "gpu_description": "A10 (24 GB PCIe)",
                                     "price_cents_per_hour": 75, "specs": {"vcpus": 1, "memory_gib": 1, "storage_gib": 1, "gpus": 1}},
                   "regions_with_capacity_available": [{"name": region, "description": region} for region in regions]}
            for name, regions in capacity.items()}
