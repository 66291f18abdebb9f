"""Default data the emulator serves: instance types, regions, images, capacity.

Prices and specs are a November 2025 capture of Lambda's public catalogue (see
shared/research/lambda_api.md, section "Instance types"). They only need to be
plausible: tests must not depend on the exact numbers unless they set them.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

# The 17 values of the spec's PublicRegionCode enum. Only "us-west-1" is described
# by the spec itself; the rest come from third-party maps (medium confidence), and
# "us-east-3" / "us-midwest-2" from a single source (low confidence).
REGION_DESCRIPTIONS: dict[str, str] = {
    "us-east-1": "Virginia, USA",
    "us-east-2": "Washington DC, USA",
    "us-east-3": "Washington DC, USA",
    "us-west-1": "California, USA",
    "us-west-2": "Arizona, USA",
    "us-west-3": "Utah, USA",
    "us-south-1": "Texas, USA",
    "us-south-2": "North Texas, USA",
    "us-south-3": "Central Texas, USA",
    "us-midwest-1": "Illinois, USA",
    "us-midwest-2": "Ohio, USA",
    "europe-central-1": "Germany",
    "asia-south-1": "India",
    "asia-northeast-1": "Osaka, Japan",
    "asia-northeast-2": "Tokyo, Japan",
    "me-west-1": "Israel",
    "australia-east-1": "Sydney, Australia",
}

# name: (description, gpu_description, cents/hour, vcpus, memory_gib, storage_gib, gpus)
_INSTANCE_TYPE_ROWS: dict[str, tuple[str, str, int, int, int, int, int]] = {
    "gpu_1x_gh200": ("1x GH200 (96 GB)", "GH200 (96 GB)", 149, 64, 432, 4096, 1),
    "gpu_8x_b200_sxm6": ("8x B200 (180 GB SXM6)", "B200 (180 GB SXM6)", 3992, 208, 2900, 22528, 8),
    "gpu_8x_h100_sxm5": ("8x H100 (80 GB SXM5)", "H100 (80 GB SXM5)", 2392, 208, 1800, 22528, 8),
    "gpu_4x_h100_sxm5": ("4x H100 (80 GB SXM5)", "H100 (80 GB SXM5)", 1236, 104, 900, 11264, 4),
    "gpu_2x_h100_sxm5": ("2x H100 (80 GB SXM5)", "H100 (80 GB SXM5)", 638, 52, 450, 5632, 2),
    "gpu_1x_h100_sxm5": ("1x H100 (80 GB SXM5)", "H100 (80 GB SXM5)", 329, 26, 225, 2816, 1),
    "gpu_1x_h100_pcie": ("1x H100 (80 GB PCIe)", "H100 (80 GB PCIe)", 249, 26, 200, 1024, 1),
    "gpu_8x_a100_80gb_sxm4": ("8x A100 (80 GB SXM4)", "A100 (80 GB SXM4)", 1432, 240, 1800, 20480, 8),
    "gpu_8x_a100": ("8x A100 (40 GB SXM4)", "A100 (40 GB SXM4)", 1032, 124, 1800, 6144, 8),
    "gpu_4x_a100": ("4x A100 (40 GB PCIe)", "A100 (40 GB PCIe)", 516, 120, 800, 1024, 4),
    "gpu_2x_a100": ("2x A100 (40 GB PCIe)", "A100 (40 GB PCIe)", 258, 60, 400, 1024, 2),
    "gpu_1x_a100_sxm4": ("1x A100 (40 GB SXM4)", "A100 (40 GB SXM4)", 129, 30, 200, 512, 1),
    "gpu_1x_a100": ("1x A100 (40 GB PCIe)", "A100 (40 GB PCIe)", 129, 30, 200, 512, 1),
    "gpu_1x_a10": ("1x A10 (24 GB PCIe)", "A10 (24 GB PCIe)", 75, 30, 200, 1400, 1),
    "gpu_4x_a6000": ("4x A6000 (48 GB)", "A6000 (48 GB)", 320, 56, 400, 1024, 4),
    "gpu_2x_a6000": ("2x A6000 (48 GB)", "A6000 (48 GB)", 160, 28, 200, 1024, 2),
    "gpu_1x_a6000": ("1x A6000 (48 GB)", "A6000 (48 GB)", 80, 14, 100, 200, 1),
    "gpu_1x_rtx6000": ("1x RTX 6000 (24 GB)", "RTX 6000 (24 GB)", 50, 14, 46, 512, 1),
    "gpu_8x_v100": ("8x Tesla V100 (16 GB)", "Tesla V100 (16 GB)", 440, 92, 448, 6041, 8),
    "cpu_4x_general": ("4x CPU General (16 GiB)", "N/A", 20, 4, 16, 100, 0),
}

# Regions where each type has (unlimited) capacity by default. Several types have
# none, as on the live catalogue, so "no capacity" paths are reachable without setup.
_DEFAULT_CAPACITY_REGIONS: dict[str, tuple[str, ...]] = {
    "gpu_1x_gh200": ("us-east-3",),
    "gpu_8x_b200_sxm6": (),
    "gpu_8x_h100_sxm5": ("us-west-3",),
    "gpu_4x_h100_sxm5": (),
    "gpu_2x_h100_sxm5": ("us-south-2",),
    "gpu_1x_h100_sxm5": ("us-south-2",),
    "gpu_1x_h100_pcie": ("us-east-1", "us-west-3"),
    "gpu_8x_a100_80gb_sxm4": ("us-east-1",),
    "gpu_8x_a100": (),
    "gpu_4x_a100": (),
    "gpu_2x_a100": (),
    "gpu_1x_a100_sxm4": ("us-east-1", "us-west-2"),
    "gpu_1x_a100": ("us-south-1",),
    "gpu_1x_a10": ("us-east-1", "us-west-1"),
    "gpu_4x_a6000": (),
    "gpu_2x_a6000": ("us-west-1",),
    "gpu_1x_a6000": ("us-south-1", "us-west-1"),
    "gpu_1x_rtx6000": ("us-east-1",),
    "gpu_8x_v100": (),
    "cpu_4x_general": ("us-east-1", "us-west-1"),
}

# (family, name, description, version, architecture). Lambda Stack is the API's
# default image; the arm64 family exists for GH200.
_IMAGE_ROWS: tuple[tuple[str, str, str, str, str], ...] = (
    ("lambda-stack-24-04", "lambda-stack-24.04", "Lambda Stack 24.04", "24.04.1", "x86_64"),
    ("lambda-stack-22-04", "lambda-stack-22.04", "Lambda Stack 22.04", "22.04.5", "x86_64"),
    ("lambda-stack-24-04-arm", "lambda-stack-24.04-arm64", "Lambda Stack 24.04 (ARM)", "24.04.1", "arm64"),
    ("ubuntu-24-04", "ubuntu-24.04.01", "Ubuntu LTS", "24.04.01", "x86_64"),
    ("ubuntu-22-04", "ubuntu-22.04.05", "Ubuntu LTS", "22.04.05", "x86_64"),
)
_IMAGE_REGIONS: tuple[str, ...] = ("us-east-1", "us-east-3", "us-west-1", "us-west-2", "us-west-3", "us-south-1", "us-south-2")
_IMAGE_TIMESTAMP = "2025-10-01T00:00:00+00:00"
# A fixed namespace keeps image ids stable from run to run, so tests may hard-code them.
_IMAGE_ID_NAMESPACE = uuid.UUID("6f1c1f5e-3b2a-4c55-9d0e-5a3a8d1f0b7e")

DEFAULT_IMAGE_FAMILY = "lambda-stack-24-04"


def region(name: str) -> dict[str, str]:
    """The spec's Region object for a region code."""
    return {"name": name, "description": REGION_DESCRIPTIONS.get(name, name)}


def instance_type(name: str, description: str, gpu_description: str, price_cents_per_hour: int,
                  vcpus: int, memory_gib: int, storage_gib: int, gpus: int) -> dict[str, Any]:
    """The spec's InstanceType object."""
    return {
        "name": name,
        "description": description,
        "gpu_description": gpu_description,
        "price_cents_per_hour": price_cents_per_hour,
        "specs": {"vcpus": vcpus, "memory_gib": memory_gib, "storage_gib": storage_gib, "gpus": gpus},
    }


def default_instance_types() -> dict[str, dict[str, Any]]:
    """A fresh copy of the catalogue: name -> InstanceType."""
    return {name: instance_type(name, *row) for name, row in _INSTANCE_TYPE_ROWS.items()}


def default_capacity() -> dict[tuple[str, str], int | None]:
    """(instance type, region) -> units left; None means unlimited, absent means none."""
    return {(type_name, region_name): None
            for type_name, regions in _DEFAULT_CAPACITY_REGIONS.items()
            for region_name in regions}


def default_images() -> list[dict[str, Any]]:
    """One Image per (family, region), with ids stable across runs."""
    images = []
    for family, name, description, version, architecture in _IMAGE_ROWS:
        for region_name in _IMAGE_REGIONS:
            images.append({
                "id": str(uuid.uuid5(_IMAGE_ID_NAMESPACE, f"{family}/{region_name}")),
                "created_time": _IMAGE_TIMESTAMP,
                "updated_time": _IMAGE_TIMESTAMP,
                "name": name,
                "description": description,
                "family": family,
                "version": version,
                "architecture": architecture,
                "region": region(region_name),
            })
    return images


def default_global_firewall_rules() -> list[dict[str, Any]]:
    """New Lambda accounts allow SSH from anywhere."""
    return [{"protocol": "tcp", "port_range": [22, 22], "source_network": "0.0.0.0/0",
             "description": "Allow SSH from anywhere"}]


def copy_catalogue(catalogue: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Deep copy, so a caller's edits never leak into the emulator's state."""
    return copy.deepcopy(catalogue)
