"""Instances and instance types as the modules return them, and the info modules' filters (_instance_facts)."""

from __future__ import annotations

import pytest
from unit.plugins.module_utils.api_objects import catalogue, instance

from ansible_collections.sophia.lambda_k3s.plugins.module_utils import _instance_facts as facts
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import Membership

DEMO = Membership(cluster="demo")


class TestOutput:
    def test_without_secrets_drops_jupyter_fields_and_copies(self):
        original = instance(jupyter_token="tok", jupyter_url="https://x/?token=tok")
        cleaned = facts.without_secrets(original)
        assert "jupyter_token" not in cleaned and "jupyter_url" not in cleaned
        assert cleaned["id"] == original["id"] and "jupyter_token" in original
        assert facts.without_secrets(None) == {}

    def test_instance_facts_has_tags_dict_gpu_facts_and_role(self):
        shown = facts.instance_facts(instance(role="server", jupyter_token="tok"))
        assert shown["tags"] == {"k3s-cluster": "demo", "k3s-role": "server"}
        assert (shown["gpu_model"], shown["gpu_count"], shown["gpu_memory_gib"], shown["arch"]) == ("a10", 1, 24, "x86_64")
        assert shown["k3s_role"] == "server"
        assert "jupyter_token" not in shown

    def test_diff_view(self):
        assert facts.diff_view(None, "n") == {"name": "n", "status": "absent"}
        assert facts.diff_view(instance(), "n") == {"name": "demo-agent-1", "status": "active", "region": "us-east-1",
                                                    "instance_type": "gpu_1x_a10"}


class TestFilterInstances:
    instances = [
        instance(name="demo-server-1", role="server", instance_id="1" * 32),
        instance(name="demo-agent-1", role="agent", instance_id="2" * 32, status="booting", region="us-west-1"),
        instance(name="prod-agent-1", cluster="prod", instance_id="3" * 32, type_name="gpu_1x_a100"),
    ]

    @pytest.mark.parametrize("filters, expected", [
        ({}, ["1", "2", "3"]),
        ({"name": "demo-agent-1"}, ["2"]),
        ({"membership": DEMO}, ["1", "2"]),
        ({"membership": Membership(names=["prod-agent-1"])}, []),  # tagged for cluster prod: never a member by name
        ({"regions": ["us-west-1"]}, ["2"]),
        ({"statuses": ["active"]}, ["1", "3"]),
        ({"instance_types": ["gpu_1x_a100"]}, ["3"]),
        ({"role": "server"}, ["1"]),
        ({"membership": DEMO, "role": "agent", "statuses": ["booting"]}, ["2"]),
        ({"membership": DEMO, "statuses": ["terminated"]}, []),
    ])
    def test_filters_combine(self, filters, expected):
        selected = facts.filter_instances(self.instances, **filters)
        assert [item["id"][0] for item in selected] == expected


class TestInstanceTypeFacts:
    offered = catalogue({"gpu_1x_a10": ["us-west-1", "us-east-1"], "gpu_1x_a100": ["us-south-1"], "gpu_8x_h100_sxm5": []})

    def _facts(self):
        return [facts.instance_type_facts(item) for item in self.offered.values()]

    def test_facts_shape(self):
        facts = {item["name"]: item for item in self._facts()}
        assert facts["gpu_1x_a10"]["regions_with_capacity"] == ["us-east-1", "us-west-1"]
        assert facts["gpu_1x_a10"]["gpu_model"] == "a10" and facts["gpu_1x_a10"]["price_cents_per_hour"] == 75
        assert set(facts["gpu_1x_a10"]) >= {"name", "description", "gpu_description", "price_cents_per_hour", "specs",
                                            "regions_with_capacity", "gpu_model", "gpu_count", "gpu_memory_gib", "arch"}

    @pytest.mark.parametrize("filters, expected", [
        ({}, ["gpu_1x_a10", "gpu_1x_a100", "gpu_8x_h100_sxm5"]),
        ({"available_only": True}, ["gpu_1x_a10", "gpu_1x_a100"]),
        ({"names": ["gpu_8x_h100_sxm5", "gpu_1x_a10"]}, ["gpu_1x_a10", "gpu_8x_h100_sxm5"]),
        ({"regions": ["us-south-1", "asia-south-1"]}, ["gpu_1x_a100"]),
        ({"regions": ["us-east-1"], "available_only": True}, ["gpu_1x_a10"]),
    ])
    def test_filters(self, filters, expected):
        assert [item["name"] for item in facts.filter_instance_types(self._facts(), **filters)] == expected
