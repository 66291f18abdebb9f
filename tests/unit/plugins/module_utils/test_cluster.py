"""Cluster membership and K3s role: the rules the inventory and the provisioning modules share."""

from __future__ import annotations

import pytest

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import (
    DEFAULT_SERVER_NAME_PATTERN,
    Membership,
    MembershipError,
    is_live,
    k3s_role,
    tags_dict,
)


def instance(name=None, **tags):
    data = {"id": "0920582c7ff041399e34823a0be62549", "tags": [{"key": key.replace("_", "-"), "value": value} for key, value in tags.items()]}
    if name is not None:
        data["name"] = name
    return data


class TestTagsDict:
    def test_list_of_key_value_pairs(self):
        assert tags_dict({"tags": [{"key": "env", "value": "dev"}, {"key": "k3s-role", "value": "server"}]}) == {
            "env": "dev", "k3s-role": "server"}

    @pytest.mark.parametrize("tags", [None, [], "not-a-list-entry"])
    def test_no_tags(self, tags):
        assert tags_dict({"tags": tags}) == {}

    def test_absent_tags(self):
        assert tags_dict({}) == {}

    def test_malformed_entries_are_skipped(self):
        tags = [{"key": "ok", "value": "1"}, {"value": "no key"}, {"key": "", "value": "empty key"}, "junk", None, {"key": "nullvalue", "value": None}]
        assert tags_dict({"tags": tags}) == {"ok": "1", "nullvalue": ""}

    def test_values_become_strings(self):
        assert tags_dict({"tags": [{"key": "gpus", "value": 8}]}) == {"gpus": "8"}


class TestMembership:
    """Membership is explicit: the k3s-cluster tag, names the user lists, or a pattern the user wrote."""

    def test_nothing_chosen_means_no_member(self):
        nobody = Membership()
        assert not nobody.chosen
        assert not nobody.includes(instance("anything"))
        assert not nobody.includes(instance("prod-server-1", k3s_cluster="prod"))

    def test_the_cluster_tag_decides(self):
        prod = Membership(cluster="prod")
        assert prod.includes(instance("unrelated-name", k3s_cluster="prod"))
        assert not prod.includes(instance("prod-server-1", k3s_cluster="staging")), "a tag for another cluster wins over the name"

    @pytest.mark.parametrize("name", ["prod-db", "prod-server-1", "prod", "production-1", "my-prod-1", "", None])
    def test_an_untagged_instance_never_belongs_by_its_name_alone(self, name):
        # Old rule: an untagged prod-db belonged to cluster prod, so teardown terminated it.
        assert not Membership(cluster="prod").includes(instance(name))

    def test_listed_names_belong(self):
        hand_launched = Membership(cluster="sophia", names=["sophia-control", "sophia-ai-core"])
        assert hand_launched.includes(instance("sophia-control"))
        assert hand_launched.includes(instance("sophia-ai-core"))
        assert not hand_launched.includes(instance("sophia-ai-core-2"))
        assert hand_launched.reason(instance("sophia-control")) == "listed"
        assert hand_launched.reason(instance("x", k3s_cluster="sophia")) == "tagged"

    def test_names_alone_choose_a_cluster(self):
        listed = Membership(names=["sophia-control"])
        assert listed.chosen and listed.includes(instance("sophia-control")) and not listed.includes(instance("sophia-db"))

    def test_a_pattern_matches_the_whole_name(self):
        pattern = Membership(name_pattern="sophia-(control|ai-.*)")
        assert pattern.includes(instance("sophia-control")) and pattern.includes(instance("sophia-ai-core"))
        assert not pattern.includes(instance("sophia-db")) and not pattern.includes(instance("old-sophia-control"))
        assert not pattern.includes(instance())
        assert pattern.reason(instance("sophia-ai-core")) == "pattern"

    def test_an_instance_tagged_for_another_cluster_is_never_a_member_by_name(self):
        assert not Membership(cluster="sophia", names=["shared-node"]).includes(instance("shared-node", k3s_cluster="other"))
        assert not Membership(name_pattern=".*").includes(instance("x", k3s_cluster="other"))

    def test_the_whole_account_only_when_asked(self):
        everything = Membership(whole_account=True)
        assert everything.chosen
        assert everything.includes(instance("colleagues-jupyter")) and everything.includes(instance("x", k3s_cluster="other"))

    @pytest.mark.parametrize("options, message", [
        ({"whole_account": True, "cluster": "prod"}, "whole_account"),
        ({"name_pattern": "sophia-("}, "not a valid regular expression"),
        ({"names": ["ok", ""]}, "empty"),
    ])
    def test_contradictions_and_mistakes_are_refused(self, options, message):
        with pytest.raises(MembershipError, match=message):
            Membership(**options)

    def test_untagged_look_alikes_are_found_and_never_members(self):
        prod = Membership(cluster="prod", names=["prod-gpu-9"])
        instances = [instance("prod-db"), instance("prod-gpu-9"), instance("prod-server-1", k3s_cluster="prod"),
                     instance("prod-x", k3s_cluster="other"), instance("production-1"), instance()]
        assert [item["name"] for item in prod.look_alikes(instances)] == ["prod-db"]
        assert Membership(names=["a"]).look_alikes(instances) == [], "without a cluster name there is nothing to look like"

    def test_description_names_every_criterion(self):
        assert Membership().describe() == "no cluster"
        text = Membership(cluster="sophia", names=["sophia-control"], name_pattern="sophia-ai-.*").describe()
        assert "k3s-cluster=sophia" in text and "sophia-control" in text and "sophia-ai-.*" in text
        assert Membership(whole_account=True).describe() == "every instance of the account"


class TestK3sRole:
    @pytest.mark.parametrize(("tag", "role"), [("server", "server"), ("agent", "agent"), ("SERVER", "server"), (" agent ", "agent")])
    def test_the_role_tag_decides(self, tag, role):
        # A tag overrides the name in both directions.
        assert k3s_role(instance("gpu-worker-1" if role == "server" else "control-1", k3s_role=tag)) == role

    def test_an_unknown_tag_value_falls_back_to_the_name(self):
        assert k3s_role(instance("demo-server-1", k3s_role="master")) == "server"
        assert k3s_role(instance("demo-gpu-1", k3s_role="master")) == "agent"

    @pytest.mark.parametrize(("name", "role"), [("demo-server-1", "server"), ("demo-control-0", "server"), ("DEMO-SERVER", "server"),
                                                ("demo-gpu-1", "agent"), ("", "agent"), (None, "agent")])
    def test_default_name_pattern(self, name, role):
        assert k3s_role(instance(name)) == role
        assert k3s_role(instance(name), DEFAULT_SERVER_NAME_PATTERN) == role

    def test_custom_pattern(self):
        assert k3s_role(instance("demo-cp-1"), r"-cp-") == "server"
        assert k3s_role(instance("demo-server-1"), r"-cp-") == "agent"

    def test_empty_pattern_makes_every_untagged_instance_an_agent(self):
        assert k3s_role(instance("demo-server-1"), "") == "agent"


@pytest.mark.parametrize("status, live", [("active", True), ("booting", True), ("unhealthy", True), ("some-new-status", True),
                                          ("terminating", False), ("terminated", False), ("preempted", False)])
def test_only_gone_statuses_end_an_instances_life(status: str, live: bool) -> None:
    assert is_live({"id": "a", "status": status}) is live


def test_no_instance_is_not_live() -> None:
    assert is_live(None) is False and is_live({}) is False
