"""Cluster membership and K3s role: the rules the inventory and the provisioning modules share."""

from __future__ import annotations

import pytest

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import (
    DEFAULT_SERVER_NAME_PATTERN,
    is_live,
    is_member,
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


class TestIsMember:
    def test_without_a_cluster_everything_belongs(self):
        assert is_member(instance("anything"), None)
        assert is_member(instance(), "")

    def test_the_cluster_tag_decides(self):
        assert is_member(instance("unrelated-name", k3s_cluster="prod"), "prod")
        assert not is_member(instance("prod-server-1", k3s_cluster="staging"), "prod"), "a tag for another cluster wins over the name"

    def test_untagged_instances_belong_by_name_prefix(self):
        assert is_member(instance("prod-server-1"), "prod")
        assert is_member(instance("prod-gpu-7"), "prod")

    @pytest.mark.parametrize("name", ["prod", "production-1", "my-prod-1", "", None])
    def test_other_names_do_not_belong(self, name):
        assert not is_member(instance(name), "prod")


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
