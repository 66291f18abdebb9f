"""Unit tests for sophia.lambda_k3s.lambda_cluster_plan: main() runs in-process against the API emulator."""

from __future__ import annotations

import json
import time

import pytest
from unit.plugins.modules.module_harness import run_module

from ansible_collections.sophia.lambda_k3s.plugins.modules import lambda_cluster_plan

DEMO = {"k3s-cluster": "demo"}
SERVER = {"name": "demo-server-1", "role": "server", "instance_types": ["cpu_4x_general"], "regions": ["us-east-1", "us-west-1"]}
A10 = {"name": "demo-a10-1", "role": "agent", "instance_types": ["gpu_1x_a10"], "regions": ["us-south-1", "us-west-1", "us-east-1"]}


def run(emu, nodes=(SERVER, A10), **options) -> dict:
    args = {"api_key": emu.api_key, "api_url": emu.url, "cluster": "demo", "nodes": list(nodes), "max_retries": 0}
    args.update(options)
    return run_module(lambda_cluster_plan.main, args)


def test_one_read_of_the_account_plans_every_node(lambda_emulator):
    [server_id] = lambda_emulator.seed_instances([{"name": "demo-server-1", "instance_type": "cpu_4x_general", "region": "us-west-1",
                                                   "tags": DEMO, "jupyter_token": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}])
    lambda_emulator.add_firewall_ruleset("demo-k3s-us-west-1", "us-west-1", [])
    lambda_emulator.clear_requests()
    before = time.time()
    result = run(lambda_emulator)
    assert [record.path for record in lambda_emulator.requests()] == [
        "/api/v1/instances", "/api/v1/instance-types", "/api/v1/firewall-rulesets"]
    server, a10 = result["nodes"]
    assert server["instance"]["id"] == server_id and server["launch"] == {} and server["regions"] == ["us-west-1"]
    assert server["role"] == "server", "the node's own keys are returned unchanged"
    assert a10["instance"] == {} and a10["launch"] == {"instance_type": "gpu_1x_a10", "region": "us-west-1", "price_cents_per_hour": 75}
    assert a10["regions"] == ["us-west-1", "us-east-1"], "only the regions where its type has capacity"
    assert result["regions"] == ["us-west-1", "us-east-1"]
    assert [member["name"] for member in result["members"]] == ["demo-server-1"]
    snapshot = result["snapshot"]
    assert [item["id"] for item in snapshot["instances"]] == [server_id] and snapshot["capacity"]["gpu_1x_a10"] == ["us-east-1", "us-west-1"]
    assert [item["name"] for item in snapshot["rulesets"]] == ["demo-k3s-us-west-1"] and before <= snapshot["read_at"] <= time.time()
    assert result["changed"] is False and "jupyter" not in json.dumps(result)


def test_an_unknown_region_or_type_fails_naming_what_lambda_knows(lambda_emulator):
    typo = dict(A10, instance_types=["gpu_1x_a01"], regions=["us-east1", "us-west-1"])
    result = run(lambda_emulator, nodes=[SERVER, typo])
    assert result["failed"] is True and result["changed"] is False
    assert "Lambda Cloud does not offer instance type gpu_1x_a01 (in the cluster spec; did you mean gpu_1x_a10?); it offers " in result["msg"]
    assert "Lambda Cloud has no region us-east1 (in the cluster spec; did you mean us-east-1?); its regions are asia-northeast-1, " in result["msg"]
    assert result["msg"].startswith("Cannot provision cluster demo; nothing was changed.")


def test_every_problem_of_every_node_is_named_at_once(lambda_emulator):
    lambda_emulator.seed_instances([{"name": "demo-server-1", "tags": DEMO}, {"name": "demo-server-1", "tags": DEMO},
                                    {"name": "demo-a10-1"}])
    lambda_emulator.clear_capacity()
    result = run(lambda_emulator, nodes=[SERVER, A10, dict(A10, name="demo-a10-2")])
    assert result["failed"] is True
    assert "2 live Lambda Cloud instances are named 'demo-server-1'" in result["msg"]
    assert "An untagged Lambda Cloud instance is named demo-a10-1" in result["msg"]
    assert "demo-a10-2: No capacity for instance types gpu_1x_a10" in result["msg"]


def test_an_existing_node_of_another_type_is_kept_with_a_warning(lambda_emulator):
    lambda_emulator.seed_instances([{"name": "demo-a10-1", "instance_type": "gpu_1x_a100", "region": "us-south-1", "tags": DEMO}])
    result = run(lambda_emulator, nodes=[A10])
    assert result["nodes"][0]["launch"] == {} and result["regions"] == ["us-south-1"]
    assert any("gpu_1x_a100 in us-south-1" in warning for warning in result["warnings"])


def test_listed_untagged_instances_are_members_and_look_alikes_are_reported(lambda_emulator):
    listed, look_alike = lambda_emulator.seed_instances([{"name": "demo-a10-1"}, {"name": "demo-db"}])
    result = run(lambda_emulator, nodes=[A10], member_names=["demo-a10-1"])
    assert result["nodes"][0]["instance"]["id"] == listed
    assert [item["id"] for item in result["look_alikes"]] == [look_alike]
    assert [item["id"] for item in result["snapshot"]["instances"]] == [listed]


@pytest.mark.parametrize("node, fragment", [({"name": "x"}, "nodes[0] needs instance_types, regions"),
                                            (dict(A10, regions="us-east-1"), "must be lists")])
def test_malformed_nodes_fail_before_any_api_call(lambda_emulator, node, fragment):
    result = run(lambda_emulator, nodes=[node])
    assert result["failed"] is True and fragment in result["msg"] and lambda_emulator.count() == 0
