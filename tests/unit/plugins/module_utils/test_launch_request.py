"""The launch request lambda_instance sends, and the option checks behind it (_launch_request)."""

from __future__ import annotations

import pytest

from ansible_collections.sophia.lambda_k3s.plugins.module_utils import _launch_request as lr
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._placement import Placement


class TestOptions:
    def _params(self, **overrides):
        params = {"name": "demo-agent-1", "cluster": "demo", "role": "agent", "tags": None, "hostname": None,
                  "file_system_mounts": None, "user_data": None, "regions": ["us-east-1"], "instance_types": ["gpu_1x_a10"]}
        params.update(overrides)
        return params

    def test_valid_options_have_no_problem(self):
        assert lr.option_problems(self._params(tags={"team": "ml", "cost:center": 42}, hostname="node-1",
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
        problems = lr.option_problems(self._params(tags=tags))
        assert len(problems) == 1 and fragment in problems[0]

    @pytest.mark.parametrize("hostname", ["Node1", "-node", "node_1", "n" * 64, ""])
    def test_bad_hostnames_are_reported(self, hostname):
        assert any("hostname" in problem for problem in lr.option_problems(self._params(hostname=hostname)))

    def test_other_limits(self):
        problems = lr.option_problems(self._params(name="n" * 65, cluster="c" * 129, user_data="x" * (1024 * 1024 + 1),
                                                   file_system_mounts=[{"mount_point": "/etc/x", "file_system_id": "f"}],
                                                   regions=[""]))
        assert len(problems) == 5

    def test_launch_tags_merge_and_sort(self):
        assert lr.launch_tags({"team": "ml", "gpu": True, "n": 3}, "demo", "server") == [
            {"key": "gpu", "value": "true"}, {"key": "k3s-cluster", "value": "demo"}, {"key": "k3s-role", "value": "server"},
            {"key": "n", "value": "3"}, {"key": "team", "value": "ml"}]
        assert lr.launch_tags(None, None, None) == []


class TestLaunchRequest:
    def test_minimal_request(self):
        params = {"name": "n1", "ssh_key_name": "k", "cluster": None, "role": None, "tags": None}
        assert lr.build_launch_request(params, Placement("gpu_1x_a10", "us-east-1")) == {
            "region_name": "us-east-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["k"], "name": "n1"}

    def test_full_request(self):
        params = {"name": "demo-server-1", "ssh_key_name": "k", "cluster": "demo", "role": "server", "tags": {"team": "ml"},
                  "hostname": "demo-server-1", "file_system_names": ["shared"],
                  "file_system_mounts": [{"mount_point": "/data/x", "file_system_id": "f1"}],
                  "image": {"id": None, "family": "lambda-stack-24-04"}, "user_data": "#cloud-config\n",
                  "firewall_ruleset_ids": ["r1"]}
        request = lr.build_launch_request(params, Placement("gpu_1x_a10", "us-east-1"))
        assert request["tags"] == [{"key": "k3s-cluster", "value": "demo"}, {"key": "k3s-role", "value": "server"},
                                   {"key": "team", "value": "ml"}]
        assert request["image"] == {"family": "lambda-stack-24-04"}
        assert request["firewall_rulesets"] == [{"id": "r1"}]
        assert request["file_system_mounts"] == [{"mount_point": "/data/x", "file_system_id": "f1"}]
        assert request["hostname"] == "demo-server-1" and request["user_data"] == "#cloud-config\n"
        summary = lr.launch_summary(request)
        assert summary["user_data"] == "<14 bytes>" and request["user_data"] == "#cloud-config\n"

    def test_image_id_wins_over_nothing(self):
        params = {"name": "n", "ssh_key_name": "k", "image": {"id": "img", "family": None}}
        assert lr.build_launch_request(params, Placement("t", "r"))["image"] == {"id": "img"}
