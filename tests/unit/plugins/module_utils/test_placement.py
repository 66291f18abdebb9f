"""Where an instance can launch, from the instance-type catalogue (_placement)."""

from __future__ import annotations

from unit.plugins.module_utils.api_objects import catalogue

from ansible_collections.sophia.lambda_k3s.plugins.module_utils import _placement as placement
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._placement import Placement


class TestPlacement:
    capacity = placement.capacity_by_type(catalogue({
        "gpu_1x_a10": ["us-west-1"],
        "gpu_1x_a100": ["us-east-1", "us-west-1"],
        "gpu_8x_h100_sxm5": [],
    }))

    def test_capacity_by_type(self):
        assert self.capacity == {"gpu_1x_a10": ["us-west-1"], "gpu_1x_a100": ["us-east-1", "us-west-1"], "gpu_8x_h100_sxm5": []}

    def test_type_major_order_skips_pairs_without_capacity(self):
        candidates = placement.placement_candidates(["gpu_1x_a10", "gpu_1x_a100"], ["us-east-1", "us-west-1"], self.capacity)
        assert candidates == [Placement("gpu_1x_a10", "us-west-1"), Placement("gpu_1x_a100", "us-east-1"),
                              Placement("gpu_1x_a100", "us-west-1")]

    def test_region_order_is_respected_within_a_type(self):
        candidates = placement.placement_candidates(["gpu_1x_a100"], ["us-west-1", "us-east-1"], self.capacity)
        assert [item.region for item in candidates] == ["us-west-1", "us-east-1"]

    def test_duplicates_in_preferences_are_ignored(self):
        candidates = placement.placement_candidates(["gpu_1x_a10", "gpu_1x_a10"], ["us-west-1", "us-west-1"], self.capacity)
        assert candidates == [Placement("gpu_1x_a10", "us-west-1")]

    def test_no_capacity_gives_no_candidate(self):
        assert placement.placement_candidates(["gpu_8x_h100_sxm5"], ["us-east-1"], self.capacity) == []

    def test_unknown_types(self):
        assert placement.unknown_instance_types(["gpu_1x_a10", "gpu_9x_zz"], self.capacity) == ["gpu_9x_zz"]

    def test_no_capacity_message_names_everything_tried(self):
        message = placement.describe_no_capacity(["gpu_8x_h100_sxm5", "gpu_1x_a10"], ["us-east-1", "us-south-1"], self.capacity, [])
        for fragment in ("gpu_8x_h100_sxm5", "gpu_1x_a10", "us-east-1", "us-south-1",
                         "gpu_8x_h100_sxm5 in us-east-1, gpu_8x_h100_sxm5 in us-south-1, gpu_1x_a10 in us-east-1",
                         "Capacity exists elsewhere: gpu_1x_a10 in us-west-1"):
            assert fragment in message

    def test_no_capacity_message_separates_refused_launches(self):
        refused = [Placement("gpu_1x_a10", "us-west-1")]
        message = placement.describe_no_capacity(["gpu_1x_a10"], ["us-west-1"], self.capacity, refused)
        assert "The launch answered insufficient capacity for: gpu_1x_a10 in us-west-1." in message
        assert "lists no capacity" not in message
        assert "None of these types has capacity in any region" in message


class TestFileSystems:
    file_systems = [{"id": "f1", "name": "shared", "region": {"name": "us-east-1"}},
                    {"id": "f2", "name": "west", "region": {"name": "us-west-1"}}]

    def test_no_file_system_means_no_restriction(self):
        assert placement.regions_for_file_systems(self.file_systems, None, []) == (None, [])

    def test_names_and_ids_give_their_region(self):
        assert placement.regions_for_file_systems(self.file_systems, ["shared"], ["f1"]) == ({"us-east-1"}, [])

    def test_unknown_and_split_file_systems_are_problems(self):
        regions, problems = placement.regions_for_file_systems(self.file_systems, ["shared", "nope"], ["f2"])
        assert regions == {"us-east-1", "us-west-1"}
        assert any("'nope'" in problem for problem in problems) and any("different regions" in problem for problem in problems)
