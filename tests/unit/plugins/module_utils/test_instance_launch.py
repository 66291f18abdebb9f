"""Unit tests for the pure decision functions behind the lambda_instance modules."""

from __future__ import annotations

import pytest

from ansible_collections.sophia.lambda_k3s.plugins.module_utils import instance_launch as il
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import Membership
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.instance_launch import Placement

DEMO = Membership(cluster="demo")


def _instance(name="demo-agent-1", status="active", cluster="demo", role=None, instance_id="a" * 32, region="us-east-1",
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


def _catalogue(capacity: dict) -> dict:
    return {name: {"instance_type": {"name": name, "description": name, "gpu_description": "A10 (24 GB PCIe)",
                                     "price_cents_per_hour": 75, "specs": {"vcpus": 1, "memory_gib": 1, "storage_gib": 1, "gpus": 1}},
                   "regions_with_capacity_available": [{"name": region, "description": region} for region in regions]}
            for name, regions in capacity.items()}


# -- matching ---------------------------------------------------------------------------------

class TestMatching:
    def test_matches_by_name_within_cluster_only(self):
        mine = _instance(instance_id="1" * 32)
        other_cluster = _instance(instance_id="2" * 32, cluster="prod")
        other_name = _instance(name="demo-agent-2", instance_id="3" * 32)
        assert il.live_matches([mine, other_cluster, other_name], "demo-agent-1", DEMO) == [mine]

    def test_an_untagged_namesake_is_not_a_member_but_is_reported(self):
        untagged = _instance(cluster=None)
        assert il.single_match([untagged], "demo-agent-1", DEMO) is None
        assert il.untagged_namesakes([untagged, _instance(instance_id="2" * 32)], "demo-agent-1", DEMO) == [untagged]
        assert il.untagged_namesakes([_instance(cluster=None, status="terminated")], "demo-agent-1", DEMO) == []

    def test_a_listed_untagged_instance_is_a_member(self):
        untagged = _instance(cluster=None)
        listed = Membership(cluster="demo", names=["demo-agent-1"])
        assert il.single_match([untagged], "demo-agent-1", listed) is untagged
        assert il.untagged_namesakes([untagged], "demo-agent-1", listed) == []

    def test_by_id_an_untagged_look_alike_is_refused(self):
        untagged = _instance(cluster=None, name="demo-db")
        with pytest.raises(ValueError, match="not a member"):
            il.match_by_id([untagged], untagged["id"], DEMO)
        assert il.match_by_id([untagged], untagged["id"], Membership(cluster="demo", names=["demo-db"])) == (untagged, [])

    def test_without_cluster_matches_across_the_account(self):
        tagged = _instance(cluster="prod", name="solo")
        assert il.single_match([tagged], "solo", None) is tagged

    @pytest.mark.parametrize("status", ["terminated", "terminating", "preempted"])
    def test_gone_instances_do_not_count(self, status):
        assert il.single_match([_instance(status=status)], "demo-agent-1", DEMO) is None

    @pytest.mark.parametrize("status", ["booting", "active", "unhealthy", "some-future-status"])
    def test_any_other_status_counts(self, status):
        assert il.single_match([_instance(status=status)], "demo-agent-1", DEMO) is not None

    def test_duplicates_are_refused_with_their_ids(self):
        first, second = _instance(instance_id="1" * 32), _instance(instance_id="2" * 32, status="booting")
        with pytest.raises(il.DuplicateInstancesError) as raised:
            il.single_match([first, second, _instance(instance_id="3" * 32, status="terminated")], "demo-agent-1", DEMO)
        assert raised.value.instance_ids == ["1" * 32, "2" * 32]
        assert "1" * 32 in str(raised.value) and "2" * 32 in str(raised.value) and "3" * 32 not in str(raised.value)

    def test_dying_ids_lists_only_terminating_namesakes(self):
        instances = [_instance(instance_id="1" * 32, status="terminating"), _instance(instance_id="2" * 32, status="terminated"),
                     _instance(instance_id="3" * 32, status="terminating", name="other")]
        assert il.dying_ids(instances, "demo-agent-1", DEMO) == ["1" * 32]


# -- output -------------------------------------------------------------------------------------

class TestOutput:
    def test_without_secrets_drops_jupyter_fields_and_copies(self):
        instance = _instance(jupyter_token="tok", jupyter_url="https://x/?token=tok")
        cleaned = il.without_secrets(instance)
        assert "jupyter_token" not in cleaned and "jupyter_url" not in cleaned
        assert cleaned["id"] == instance["id"] and "jupyter_token" in instance
        assert il.without_secrets(None) == {}

    def test_instance_facts_has_tags_dict_gpu_facts_and_role(self):
        facts = il.instance_facts(_instance(role="server", jupyter_token="tok"))
        assert facts["tags"] == {"k3s-cluster": "demo", "k3s-role": "server"}
        assert (facts["gpu_model"], facts["gpu_count"], facts["gpu_memory_gib"], facts["arch"]) == ("a10", 1, 24, "x86_64")
        assert facts["k3s_role"] == "server"
        assert "jupyter_token" not in facts

    def test_diff_view(self):
        assert il.diff_view(None, "n") == {"name": "n", "status": "absent"}
        assert il.diff_view(_instance(), "n") == {"name": "demo-agent-1", "status": "active", "region": "us-east-1",
                                                  "instance_type": "gpu_1x_a10"}


class TestFilterInstances:
    instances = [
        _instance(name="demo-server-1", role="server", instance_id="1" * 32),
        _instance(name="demo-agent-1", role="agent", instance_id="2" * 32, status="booting", region="us-west-1"),
        _instance(name="prod-agent-1", cluster="prod", instance_id="3" * 32, type_name="gpu_1x_a100"),
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
        selected = il.filter_instances(self.instances, **filters)
        assert [item["id"][0] for item in selected] == expected


# -- options -----------------------------------------------------------------------------------

class TestOptions:
    def _params(self, **overrides):
        params = {"name": "demo-agent-1", "cluster": "demo", "role": "agent", "tags": None, "hostname": None,
                  "file_system_mounts": None, "user_data": None, "regions": ["us-east-1"], "instance_types": ["gpu_1x_a10"]}
        params.update(overrides)
        return params

    def test_valid_options_have_no_problem(self):
        assert il.option_problems(self._params(tags={"team": "ml", "cost:center": 42}, hostname="node-1",
                                               file_system_mounts=[{"mount_point": "/data/x", "file_system_id": "f"}])) == []

    @pytest.mark.parametrize("tags, fragment", [
        ({"Team": "x"}, "'Team' must match"),
        ({"9lives": "x"}, "'9lives' must match"),
        ({"a": "x"}, "'a' must match"),  # the pattern needs two characters at least
        ({"k" * 56: "x"}, "at most 55"),
        ({"team": "v" * 129}, "longer than 128"),
        ({"k3s-cluster": "other"}, "use the cluster option"),
        ({"k3s-role": "server"}, "use the role option"),
    ])
    def test_bad_tags_are_reported(self, tags, fragment):
        problems = il.option_problems(self._params(tags=tags))
        assert len(problems) == 1 and fragment in problems[0]

    @pytest.mark.parametrize("hostname", ["Node1", "-node", "node_1", "n" * 64, ""])
    def test_bad_hostnames_are_reported(self, hostname):
        assert any("hostname" in problem for problem in il.option_problems(self._params(hostname=hostname)))

    def test_other_limits(self):
        problems = il.option_problems(self._params(name="n" * 65, cluster="c" * 129, user_data="x" * (1024 * 1024 + 1),
                                                   file_system_mounts=[{"mount_point": "/etc/x", "file_system_id": "f"}],
                                                   regions=[""]))
        assert len(problems) == 5

    def test_launch_tags_merge_and_sort(self):
        assert il.launch_tags({"team": "ml", "gpu": True, "n": 3}, "demo", "server") == [
            {"key": "gpu", "value": "true"}, {"key": "k3s-cluster", "value": "demo"}, {"key": "k3s-role", "value": "server"},
            {"key": "n", "value": "3"}, {"key": "team", "value": "ml"}]
        assert il.launch_tags(None, None, None) == []


class TestLaunchRequest:
    def test_minimal_request(self):
        params = {"name": "n1", "ssh_key_name": "k", "cluster": None, "role": None, "tags": None}
        assert il.build_launch_request(params, Placement("gpu_1x_a10", "us-east-1")) == {
            "region_name": "us-east-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["k"], "name": "n1"}

    def test_full_request(self):
        params = {"name": "demo-server-1", "ssh_key_name": "k", "cluster": "demo", "role": "server", "tags": {"team": "ml"},
                  "hostname": "demo-server-1", "file_system_names": ["shared"],
                  "file_system_mounts": [{"mount_point": "/data/x", "file_system_id": "f1"}],
                  "image": {"id": None, "family": "lambda-stack-24-04"}, "user_data": "#cloud-config\n",
                  "firewall_ruleset_ids": ["r1"]}
        request = il.build_launch_request(params, Placement("gpu_1x_a10", "us-east-1"))
        assert request["tags"] == [{"key": "k3s-cluster", "value": "demo"}, {"key": "k3s-role", "value": "server"},
                                   {"key": "team", "value": "ml"}]
        assert request["image"] == {"family": "lambda-stack-24-04"}
        assert request["firewall_rulesets"] == [{"id": "r1"}]
        assert request["file_system_mounts"] == [{"mount_point": "/data/x", "file_system_id": "f1"}]
        assert request["hostname"] == "demo-server-1" and request["user_data"] == "#cloud-config\n"
        summary = il.launch_summary(request)
        assert summary["user_data"] == "<14 bytes>" and request["user_data"] == "#cloud-config\n"

    def test_image_id_wins_over_nothing(self):
        params = {"name": "n", "ssh_key_name": "k", "image": {"id": "img", "family": None}}
        assert il.build_launch_request(params, Placement("t", "r"))["image"] == {"id": "img"}


# -- placement ---------------------------------------------------------------------------------

class TestPlacement:
    capacity = il.capacity_by_type(_catalogue({
        "gpu_1x_a10": ["us-west-1"],
        "gpu_1x_a100": ["us-east-1", "us-west-1"],
        "gpu_8x_h100_sxm5": [],
    }))

    def test_capacity_by_type(self):
        assert self.capacity == {"gpu_1x_a10": ["us-west-1"], "gpu_1x_a100": ["us-east-1", "us-west-1"], "gpu_8x_h100_sxm5": []}

    def test_type_major_order_skips_pairs_without_capacity(self):
        candidates = il.placement_candidates(["gpu_1x_a10", "gpu_1x_a100"], ["us-east-1", "us-west-1"], self.capacity)
        assert candidates == [Placement("gpu_1x_a10", "us-west-1"), Placement("gpu_1x_a100", "us-east-1"),
                              Placement("gpu_1x_a100", "us-west-1")]

    def test_region_order_is_respected_within_a_type(self):
        candidates = il.placement_candidates(["gpu_1x_a100"], ["us-west-1", "us-east-1"], self.capacity)
        assert [item.region for item in candidates] == ["us-west-1", "us-east-1"]

    def test_duplicates_in_preferences_are_ignored(self):
        candidates = il.placement_candidates(["gpu_1x_a10", "gpu_1x_a10"], ["us-west-1", "us-west-1"], self.capacity)
        assert candidates == [Placement("gpu_1x_a10", "us-west-1")]

    def test_no_capacity_gives_no_candidate(self):
        assert il.placement_candidates(["gpu_8x_h100_sxm5"], ["us-east-1"], self.capacity) == []

    def test_unknown_types(self):
        assert il.unknown_instance_types(["gpu_1x_a10", "gpu_9x_zz"], self.capacity) == ["gpu_9x_zz"]

    def test_no_capacity_message_names_everything_tried(self):
        message = il.describe_no_capacity(["gpu_8x_h100_sxm5", "gpu_1x_a10"], ["us-east-1", "us-south-1"], self.capacity, [])
        for fragment in ("gpu_8x_h100_sxm5", "gpu_1x_a10", "us-east-1", "us-south-1",
                         "gpu_8x_h100_sxm5 in us-east-1, gpu_8x_h100_sxm5 in us-south-1, gpu_1x_a10 in us-east-1",
                         "Capacity exists elsewhere: gpu_1x_a10 in us-west-1"):
            assert fragment in message

    def test_no_capacity_message_separates_refused_launches(self):
        refused = [Placement("gpu_1x_a10", "us-west-1")]
        message = il.describe_no_capacity(["gpu_1x_a10"], ["us-west-1"], self.capacity, refused)
        assert "The launch answered insufficient capacity for: gpu_1x_a10 in us-west-1." in message
        assert "lists no capacity" not in message
        assert "None of these types has capacity in any region" in message


class TestFileSystems:
    file_systems = [{"id": "f1", "name": "shared", "region": {"name": "us-east-1"}},
                    {"id": "f2", "name": "west", "region": {"name": "us-west-1"}}]

    def test_no_file_system_means_no_restriction(self):
        assert il.regions_for_file_systems(self.file_systems, None, []) == (None, [])

    def test_names_and_ids_give_their_region(self):
        assert il.regions_for_file_systems(self.file_systems, ["shared"], ["f1"]) == ({"us-east-1"}, [])

    def test_unknown_and_split_file_systems_are_problems(self):
        regions, problems = il.regions_for_file_systems(self.file_systems, ["shared", "nope"], ["f2"])
        assert regions == {"us-east-1", "us-west-1"}
        assert any("'nope'" in problem for problem in problems) and any("different regions" in problem for problem in problems)


class TestInstanceTypeFacts:
    catalogue = _catalogue({"gpu_1x_a10": ["us-west-1", "us-east-1"], "gpu_1x_a100": ["us-south-1"], "gpu_8x_h100_sxm5": []})

    def _facts(self):
        return [il.instance_type_facts(item) for item in self.catalogue.values()]

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
        assert [item["name"] for item in il.filter_instance_types(self._facts(), **filters)] == expected
