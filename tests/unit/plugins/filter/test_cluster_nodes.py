"""Where the cluster plays run, and the node label and taint plan."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.filter.cluster_nodes import (
    FilterModule,
    cluster_node_plan,
    cluster_nodes_wanted,
    cluster_ops_host,
    k3s_first_server,
)

PREFIX = "lambda-k3s.sophia.ai"
GROUPS = {"k3s_server": ["srv-b", "srv-a"], "k3s_agent": ["gpu-1"], "k3s_cluster": ["srv-b", "srv-a", "gpu-1"]}
HOSTVARS = {
    "srv-a": {"lambda_instance_type": "cpu_4x_general", "lambda_region": "us-east-1"},
    "srv-b": {"lambda_instance_type": "cpu_4x_general", "lambda_region": "us-east-1"},
    "gpu-1": {"lambda_instance_type": "gpu_8x_h100_sxm5", "lambda_region": "us-west-1", "cluster_nodes_labels": {"team": "ml"},
              "cluster_nodes_taints": ["nvidia.com/gpu=true:NoSchedule"]},
}


def node(name: str, labels: dict | None = None, annotations: dict | None = None, taints: list | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}, "resourceVersion": "7"},
            "spec": {"taints": taints} if taints else {}}


def wanted() -> list:
    return cluster_nodes_wanted(HOSTVARS, GROUPS["k3s_cluster"], GROUPS["k3s_server"], PREFIX)


def test_the_first_server_is_the_first_in_sorted_order() -> None:
    assert k3s_first_server(GROUPS) == "srv-a"
    assert k3s_first_server({"servers": ["b", "a"]}, group="servers") == "a"


def test_no_server_fails_saying_what_to_check_or_gives_the_fallback() -> None:
    with pytest.raises(AnsibleFilterError, match="no host in the group k3s_server"):
        k3s_first_server({"k3s_server": []})
    assert k3s_first_server({}, fallback="localhost") == "localhost"


@pytest.mark.parametrize(("choice", "host"), [("", "srv-a"), (None, "srv-a"), ("localhost", "localhost"), ("srv-b", "srv-b")])
def test_the_operations_host_is_the_first_server_the_controller_or_a_named_server(choice, host) -> None:
    assert cluster_ops_host(GROUPS, choice) == host


def test_an_operations_host_that_is_not_a_server_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match='"gpu-1", which is neither "localhost".*srv-a, srv-b'):
        cluster_ops_host(GROUPS, "gpu-1")


def test_wanted_nodes_carry_the_k3s_label_set_user_labels_and_taints() -> None:
    by_host = {entry["host"]: entry for entry in wanted()}
    gpu = by_host["gpu-1"]
    assert gpu["node"] == "gpu-1" and gpu["role"] == "agent" and gpu["gpu_count"] == 8
    assert gpu["labels"]["gpu-type"] == "H100"
    assert gpu["labels"]["nvidia.com/gpu.present"] == "true"
    assert gpu["labels"]["node-role.kubernetes.io/worker"] == "true"
    assert gpu["labels"]["team"] == "ml"
    assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    assert by_host["srv-a"]["role"] == "server" and by_host["srv-a"]["labels"]["node-role"] == "control-plane"
    assert by_host["srv-a"]["gpu_count"] == 0 and "gpu-type" not in by_host["srv-a"]["labels"]


def test_gpu_labels_go_to_gpu_nodes_only_and_k3s_node_name_is_used() -> None:
    hostvars = dict(HOSTVARS, **{"gpu-1": dict(HOSTVARS["gpu-1"], k3s_node_name="gpu-one")})
    entries = cluster_nodes_wanted(hostvars, GROUPS["k3s_cluster"], GROUPS["k3s_server"], PREFIX, {"nvidia.com/mps.capable": "true"})
    by_host = {entry["host"]: entry for entry in entries}
    assert by_host["gpu-1"]["node"] == "gpu-one"
    assert by_host["gpu-1"]["labels"]["nvidia.com/mps.capable"] == "true"
    assert "nvidia.com/mps.capable" not in by_host["srv-a"]["labels"]


@pytest.mark.parametrize("taint", ["no-effect", "key=value:Sometimes", {"key": "", "effect": "NoSchedule"}])
def test_a_malformed_taint_names_the_host(taint) -> None:
    hostvars = dict(HOSTVARS, **{"gpu-1": dict(HOSTVARS["gpu-1"], cluster_nodes_taints=[taint])})
    with pytest.raises(AnsibleFilterError, match="^gpu-1: "):
        cluster_nodes_wanted(hostvars, ["gpu-1"], [], PREFIX)


def test_user_labels_must_be_a_dictionary() -> None:
    with pytest.raises(AnsibleFilterError, match="gpu-1: cluster_nodes_labels must be a dictionary"):
        cluster_nodes_wanted({"gpu-1": {"cluster_nodes_labels": ["team=ml"]}}, ["gpu-1"], [], PREFIX)


def test_missing_nodes_are_listed_and_nothing_else_is_planned_for_them() -> None:
    plan = cluster_node_plan([node("srv-a")], wanted(), PREFIX)
    assert plan["missing"] == ["gpu-1", "srv-b"]
    assert plan["summary"] == "not in the cluster: gpu-1, srv-b"
    assert [change["node"] for change in plan["changes"]] == ["srv-a"]


def test_a_fresh_node_gets_every_label_its_taint_and_the_records() -> None:
    entries = [entry for entry in wanted() if entry["host"] == "gpu-1"]
    plan = cluster_node_plan([node("gpu-1", {"kubernetes.io/hostname": "gpu-1"})], entries, PREFIX)
    (change,) = plan["changes"]
    patch = change["patch"]
    assert patch["metadata"]["labels"] == entries[0]["labels"]
    assert patch["metadata"]["annotations"] == {PREFIX + "/managed-labels": ",".join(sorted(entries[0]["labels"])),
                                                PREFIX + "/managed-taints": "nvidia.com/gpu:NoSchedule"}
    assert patch["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    # A whole-list patch carries the version it was computed from, so a concurrent change is refused.
    assert patch["metadata"]["resourceVersion"] == "7"
    assert "kubernetes.io/hostname" not in patch["metadata"]["labels"]


def _converged(entry: dict) -> dict:
    return node(entry["node"], dict(entry["labels"], **{"kubernetes.io/hostname": entry["node"]}),
                {PREFIX + "/managed-labels": ",".join(sorted(entry["labels"])),
                 **({PREFIX + "/managed-taints": ",".join(sorted("%s:%s" % (t["key"], t["effect"]) for t in entry["taints"]))}
                    if entry["taints"] else {})},
                entry["taints"])


def test_a_converged_cluster_needs_no_patch() -> None:
    entries = wanted()
    plan = cluster_node_plan([_converged(entry) for entry in entries], entries, PREFIX)
    assert plan["changes"] == []
    assert plan["unchanged"] == ["gpu-1", "srv-a", "srv-b"]
    assert plan["summary"] == "every node carries its labels and taints"


def test_stale_prefixed_and_previously_managed_labels_are_removed_others_kept() -> None:
    entries = [entry for entry in wanted() if entry["host"] == "gpu-1"]
    current = _converged(entries[0])
    current["metadata"]["labels"].update({PREFIX + "/old": "x", "was-mine": "1", "someone-elses": "2"})
    current["metadata"]["annotations"][PREFIX + "/managed-labels"] += ",was-mine"
    (change,) = cluster_node_plan([current], entries, PREFIX)["changes"]
    assert change["patch"]["metadata"]["labels"] == {PREFIX + "/old": None, "was-mine": None}
    assert change["remove"] == [PREFIX + "/old", "was-mine"]
    assert change["add"] == {}
    assert "spec" not in change["patch"]


def test_taints_set_by_others_are_kept_and_dropped_managed_taints_removed() -> None:
    entries = [dict(entry, taints=[]) for entry in wanted() if entry["host"] == "gpu-1"]
    current = _converged(entries[0])
    current["spec"]["taints"] = [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
                                 {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2026-01-01T00:00:00Z"}]
    current["metadata"]["annotations"][PREFIX + "/managed-taints"] = "nvidia.com/gpu:NoSchedule"
    (change,) = cluster_node_plan([current], entries, PREFIX)["changes"]
    assert change["patch"]["spec"]["taints"] == [current["spec"]["taints"][1]]
    assert change["patch"]["metadata"]["annotations"] == {PREFIX + "/managed-taints": None}
    assert change["taints"] == ["node.kubernetes.io/unreachable:NoExecute"]


def test_a_changed_value_is_patched_without_touching_the_rest() -> None:
    entries = [entry for entry in wanted() if entry["host"] == "gpu-1"]
    current = _converged(entries[0])
    current["metadata"]["labels"]["team"] = "ops"
    plan = cluster_node_plan([current], entries, PREFIX)
    assert plan["changes"][0]["patch"]["metadata"] == {"name": "gpu-1", "labels": {"team": "ml"}}
    assert plan["summary"] == "gpu-1: set team=ml"


def test_the_filters_are_registered() -> None:
    assert set(FilterModule().filters()) == {"k3s_first_server", "cluster_ops_host", "cluster_nodes_wanted", "cluster_node_plan"}
