"""Unit tests for sophia.lambda_k3s.lambda_instance_info, run in-process against the API emulator."""

from __future__ import annotations

import json

import pytest
from unit.plugins.modules.module_harness import run_module

from ansible_collections.sophia.lambda_k3s.plugins.modules import lambda_instance_info


@pytest.fixture
def emu(lambda_emulator):
    lambda_emulator.seed_instances([
        {"id": "1" * 32, "name": "demo-server-1", "tags": {"k3s-cluster": "demo", "k3s-role": "server"}},
        {"id": "2" * 32, "name": "demo-agent-1", "tags": {"k3s-cluster": "demo", "k3s-role": "agent"},
         "instance_type": "gpu_8x_h100_sxm5", "region": "us-west-3"},
        # Held, so that a slow machine does not see them boot or vanish in the middle of a test.
        {"id": "3" * 32, "name": "demo-agent-2", "status": "booting", "hold_status": True, "tags": {"k3s-cluster": "demo"}},
        {"id": "4" * 32, "name": "demo-old", "status": "terminated", "hold_status": True, "tags": {"k3s-cluster": "demo"}},
        {"id": "5" * 32, "name": "prod-control-1"},  # untagged: named like cluster prod but no member of it; a server by its name
        {"id": "6" * 32, "name": "scratch", "instance_type": "gpu_1x_gh200", "region": "us-east-3", "tags": {"team": "ml"}},
    ])
    return lambda_emulator


def run(emu, check_mode=False, **options) -> dict:
    args = {"api_key": emu.api_key, "api_url": emu.url, "_ansible_check_mode": check_mode}
    args.update(options)
    return run_module(lambda_instance_info.main, args)


def ids(result: dict) -> list:
    return [item["id"][0] for item in result["instances"]]


@pytest.mark.parametrize("filters, expected", [
    ({}, ["2", "3", "4", "1", "5", "6"]),  # sorted by name
    ({"cluster": "demo"}, ["2", "3", "4", "1"]),
    ({"cluster": "prod"}, []),
    ({"cluster": "prod", "member_names": ["prod-control-1"]}, ["5"]),
    ({"member_name_pattern": "prod-.*"}, ["5"]),
    ({"cluster": "demo", "statuses": ["active", "booting"]}, ["2", "3", "1"]),
    ({"name": "demo-agent-1"}, ["2"]),
    ({"regions": ["us-west-3", "us-east-3"]}, ["2", "6"]),
    ({"instance_types": ["gpu_8x_h100_sxm5"]}, ["2"]),
    ({"role": "server"}, ["1", "5"]),
    ({"cluster": "demo", "role": "agent", "statuses": ["active"]}, ["2"]),
    ({"name": "nothing-like-this"}, []),
])
def test_filters(emu, filters, expected):
    result = run(emu, **filters)
    assert result["changed"] is False and ids(result) == expected


def test_instance_shape_without_secrets(emu):
    result = run(emu, name="demo-agent-1")
    [instance] = result["instances"]
    assert instance["tags"] == {"k3s-cluster": "demo", "k3s-role": "agent"}
    assert (instance["gpu_model"], instance["gpu_count"], instance["gpu_memory_gib"], instance["arch"]) == ("h100", 8, 80, "x86_64")
    assert instance["k3s_role"] == "agent" and instance["ip"] and instance["region"]["name"] == "us-west-3"
    tokens = [item["jupyter_token"] for item in emu.instances() if item.get("jupyter_token")]
    text = json.dumps(run(emu))
    assert tokens and "jupyter" not in text and all(token not in text for token in tokens) and emu.api_key not in text


def test_arm_and_booting_instances(emu):
    scratch = run(emu, name="scratch")["instances"][0]
    assert scratch["arch"] == "arm64" and scratch["k3s_role"] == "agent"
    booting = run(emu, name="demo-agent-2")["instances"][0]
    assert "ip" not in booting and booting["status"] == "booting"


def test_check_mode_reads_normally(emu):
    assert ids(run(emu, check_mode=True, cluster="demo", name="demo-server-1")) == ["1"]


def test_untagged_look_alikes_are_returned_apart(emu):
    result = run(emu, cluster="prod")
    assert result["instances"] == [] and [item["id"] for item in result["look_alikes"]] == ["5" * 32]
    assert "jupyter_token" not in result["look_alikes"][0]
    assert run(emu, cluster="prod", member_names=["prod-control-1"])["look_alikes"] == []
    assert run(emu)["look_alikes"] == []


def test_one_request(emu):
    run(emu, cluster="demo", role="agent")
    assert emu.count() == 1 and emu.count("GET", "/instances") == 1


def test_api_errors_fail_clearly(emu):
    result = run(emu, api_key="secret_bad.key")
    assert result["failed"] and result["error_code"] == "global/invalid-api-key" and "secret_bad.key" not in result["msg"]
