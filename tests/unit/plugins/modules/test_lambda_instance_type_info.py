"""Unit tests for sophia.lambda_k3s.lambda_instance_type_info, run in-process against the API emulator."""

from __future__ import annotations

import pytest
from unit.plugins.modules.module_harness import run_module

from ansible_collections.sophia.lambda_k3s.plugins.modules import lambda_instance_type_info


@pytest.fixture
def emu(lambda_emulator):
    lambda_emulator.clear_capacity()
    lambda_emulator.set_capacity("gpu_1x_a10", "us-west-1", None)
    lambda_emulator.set_capacity("gpu_1x_a10", "us-east-1", 2)
    lambda_emulator.set_capacity("gpu_1x_a100", "us-south-1", None)
    lambda_emulator.set_capacity("gpu_1x_gh200", "us-east-3", 0)
    return lambda_emulator


def run(emu, **options) -> dict:
    args = {"api_key": emu.api_key, "api_url": emu.url}
    args.update(options)
    return run_module(lambda_instance_type_info.main, args)


def names(result: dict) -> list:
    return [item["name"] for item in result["instance_types"]]


def test_every_type_by_default_sorted_by_name(emu):
    result = run(emu)
    assert result["changed"] is False
    assert names(result) == sorted(names(result)) and len(names(result)) == 20


@pytest.mark.parametrize("filters, expected", [
    ({"available_only": True}, ["gpu_1x_a10", "gpu_1x_a100"]),
    ({"regions": ["us-east-1"]}, ["gpu_1x_a10"]),
    ({"regions": ["us-south-1", "us-west-1"]}, ["gpu_1x_a10", "gpu_1x_a100"]),
    ({"regions": ["us-east-3"]}, []),  # capacity 0 is no capacity
    ({"names": ["gpu_1x_gh200", "gpu_1x_a10"]}, ["gpu_1x_a10", "gpu_1x_gh200"]),
    ({"names": ["gpu_1x_gh200"], "available_only": True}, []),
])
def test_filters(emu, filters, expected):
    assert names(run(emu, **filters)) == expected


def test_type_facts(emu):
    [a10] = run(emu, names=["gpu_1x_a10"])["instance_types"]
    assert a10 == {"name": "gpu_1x_a10", "description": "1x A10 (24 GB PCIe)", "gpu_description": "A10 (24 GB PCIe)",
                   "price_cents_per_hour": 75, "specs": {"vcpus": 30, "memory_gib": 200, "storage_gib": 1400, "gpus": 1},
                   "regions_with_capacity": ["us-east-1", "us-west-1"],
                   "gpu_model": "a10", "gpu_count": 1, "gpu_memory_gib": 24, "arch": "x86_64"}
    [gh200] = run(emu, names=["gpu_1x_gh200"])["instance_types"]
    assert gh200["arch"] == "arm64" and gh200["regions_with_capacity"] == []
    [cpu] = run(emu, names=["cpu_4x_general"])["instance_types"]
    assert cpu["gpu_model"] is None and cpu["gpu_count"] == 0


def test_unknown_name_warns(emu):
    result = run(emu, names=["gpu_1x_a10", "gpu_7x_nope"])
    assert names(result) == ["gpu_1x_a10"] and any("gpu_7x_nope" in warning for warning in result["warnings"])


def test_one_request(emu):
    run(emu, regions=["us-east-1"], available_only=True)
    assert emu.count() == 1 and emu.count("GET", "/instance-types") == 1
