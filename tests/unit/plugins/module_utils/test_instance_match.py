"""Finding the instance a module acts on, by name or id, among a cluster's members (_instance_match)."""

from __future__ import annotations

import pytest
from unit.plugins.module_utils.api_objects import instance

from ansible_collections.sophia.lambda_k3s.plugins.module_utils import _instance_match as match
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import Membership

DEMO = Membership(cluster="demo")


class TestMatching:
    def test_matches_by_name_within_cluster_only(self):
        mine = instance(instance_id="1" * 32)
        other_cluster = instance(instance_id="2" * 32, cluster="prod")
        other_name = instance(name="demo-agent-2", instance_id="3" * 32)
        assert match.live_matches([mine, other_cluster, other_name], "demo-agent-1", DEMO) == [mine]

    def test_an_untagged_namesake_is_not_a_member_but_is_reported(self):
        untagged = instance(cluster=None)
        assert match.single_match([untagged], "demo-agent-1", DEMO) is None
        assert match.untagged_namesakes([untagged, instance(instance_id="2" * 32)], "demo-agent-1", DEMO) == [untagged]
        assert match.untagged_namesakes([instance(cluster=None, status="terminated")], "demo-agent-1", DEMO) == []

    def test_a_listed_untagged_instance_is_a_member(self):
        untagged = instance(cluster=None)
        listed = Membership(cluster="demo", names=["demo-agent-1"])
        assert match.single_match([untagged], "demo-agent-1", listed) is untagged
        assert match.untagged_namesakes([untagged], "demo-agent-1", listed) == []

    def test_by_id_an_untagged_look_alike_is_refused(self):
        untagged = instance(cluster=None, name="demo-db")
        with pytest.raises(ValueError, match="not a member"):
            match.match_by_id([untagged], untagged["id"], DEMO)
        assert match.match_by_id([untagged], untagged["id"], Membership(cluster="demo", names=["demo-db"])) == (untagged, [])

    def test_without_cluster_matches_across_the_account(self):
        tagged = instance(cluster="prod", name="solo")
        assert match.single_match([tagged], "solo", None) is tagged

    @pytest.mark.parametrize("status", ["terminated", "terminating", "preempted"])
    def test_gone_instances_do_not_count(self, status):
        assert match.single_match([instance(status=status)], "demo-agent-1", DEMO) is None

    @pytest.mark.parametrize("status", ["booting", "active", "unhealthy", "some-future-status"])
    def test_any_other_status_counts(self, status):
        assert match.single_match([instance(status=status)], "demo-agent-1", DEMO) is not None

    def test_duplicates_are_refused_with_their_ids(self):
        first, second = instance(instance_id="1" * 32), instance(instance_id="2" * 32, status="booting")
        with pytest.raises(match.DuplicateInstancesError) as raised:
            match.single_match([first, second, instance(instance_id="3" * 32, status="terminated")], "demo-agent-1", DEMO)
        assert raised.value.instance_ids == ["1" * 32, "2" * 32]
        assert "1" * 32 in str(raised.value) and "2" * 32 in str(raised.value) and "3" * 32 not in str(raised.value)

    def test_dying_ids_lists_only_terminating_namesakes(self):
        instances = [instance(instance_id="1" * 32, status="terminating"), instance(instance_id="2" * 32, status="terminated"),
                     instance(instance_id="3" * 32, status="terminating", name="other")]
        assert match.dying_ids(instances, "demo-agent-1", DEMO) == ["1" * 32]
