"""The node label set computed from Lambda host variables."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from lambda_emulator import default_instance_types

from ansible_collections.sophia.lambda_k3s.plugins.filter.k3s_node_labels import FilterModule, k3s_node_labels, kubelet_may_set

PREFIX = "lambda-k3s.sophia.ai"


def h100_agent() -> dict:
    return {"lambda_instance_type": "gpu_8x_h100_sxm5", "lambda_gpu_model": "h100", "lambda_gpu_count": 8,
            "lambda_gpu_memory_gib": 80, "lambda_region": "us-east-1", "lambda_k3s_role": "agent"}


def test_a_gpu_agent_gets_the_whole_set() -> None:
    assert k3s_node_labels(h100_agent()) == {
        "gpu-type": "H100",
        PREFIX + "/gpu-count": "8",
        PREFIX + "/gpu-memory-gib": "80",
        PREFIX + "/instance-type": "gpu_8x_h100_sxm5",
        PREFIX + "/region": "us-east-1",
        "node-role": "worker",
        "node-role.kubernetes.io/worker": "true",
        "nvidia.com/gpu.present": "true",
        "topology.kubernetes.io/region": "us-east-1",
    }


def test_registration_keeps_only_what_a_kubelet_may_set_on_itself() -> None:
    labels = k3s_node_labels(h100_agent(), registration=True)
    assert "node-role.kubernetes.io/worker" not in labels
    assert "nvidia.com/gpu.present" not in labels
    assert labels["topology.kubernetes.io/region"] == "us-east-1"
    assert labels["gpu-type"] == "H100"


@pytest.mark.parametrize(("instance_type", "gpu_type", "count", "memory"), [
    ("gpu_1x_gh200", "GH200", "1", "96"),
    ("gpu_8x_h100_sxm5", "H100", "8", "80"),
    ("gpu_8x_a100_80gb_sxm4", "A100", "8", "80"),
    ("gpu_1x_a6000", "A6000", "1", "48"),
    ("gpu_1x_a10", "A10", "1", "24"),
])
def test_gpu_facts_missing_from_the_host_come_from_the_instance_type(instance_type, gpu_type, count, memory) -> None:
    labels = k3s_node_labels({"lambda_instance_type": instance_type})
    assert labels["gpu-type"] == gpu_type
    assert labels[PREFIX + "/gpu-count"] == count
    assert labels.get(PREFIX + "/gpu-memory-gib") == memory


def test_a_cpu_server_has_no_gpu_labels() -> None:
    labels = k3s_node_labels({"lambda_instance_type": "cpu_4x_general", "lambda_region": "us-west-1"}, role="server")
    assert labels["node-role"] == "control-plane"
    assert labels[PREFIX + "/gpu-count"] == "0"
    assert "gpu-type" not in labels and "nvidia.com/gpu.present" not in labels
    assert "node-role.kubernetes.io/worker" not in labels


def test_user_labels_are_merged_last_and_values_made_text() -> None:
    labels = k3s_node_labels(h100_agent(), extra={"team": "vision", "gpu-type": "H100-NVL", "spot": True}, prefix="example.com")
    assert labels["team"] == "vision"
    assert labels["gpu-type"] == "H100-NVL"
    assert labels["spot"] == "true"
    assert "example.com/gpu-count" in labels


@pytest.mark.parametrize("extra", [{"bad label": "x"}, {"ok": "has space"}, {"a" * 64: "x"}, {"ok": "x" * 64}, {"Bad_Prefix/x": "y"}])
def test_invalid_labels_are_refused_naming_them(extra) -> None:
    with pytest.raises(AnsibleFilterError, match="not a valid"):
        k3s_node_labels({}, extra=extra)


@pytest.mark.parametrize("bad", [{"prefix": "Not A Prefix"}, {"role": "master"}])
def test_bad_arguments_are_refused(bad) -> None:
    with pytest.raises(AnsibleFilterError):
        k3s_node_labels({}, **bad)


def test_the_input_must_be_host_variables() -> None:
    with pytest.raises(AnsibleFilterError, match="host's variables"):
        k3s_node_labels(["not", "a", "dict"])


@pytest.mark.parametrize(("name", "allowed"), [
    ("node-role.kubernetes.io/worker", False),
    ("kubernetes.io/hostname", True),
    ("topology.kubernetes.io/zone", True),
    ("node.kubernetes.io/exclude-from-external-load-balancers", True),
    ("foo.k8s.io/bar", False),
    ("gpu-type", True),
    ("nvidia.com/gpu.present", True),
])
def test_node_restriction(name, allowed) -> None:
    assert kubelet_may_set(name) is allowed


def test_the_filter_is_registered() -> None:
    assert FilterModule().filters()["k3s_node_labels"] is k3s_node_labels


@pytest.mark.parametrize("instance_type", sorted(name for name in default_instance_types() if name.startswith("gpu_")))
def test_every_gpu_type_of_the_catalogue_gets_every_gpu_label_from_its_name(instance_type) -> None:
    labels = k3s_node_labels({"lambda_instance_type": instance_type})
    assert {"gpu-type", PREFIX + "/gpu-count", PREFIX + "/gpu-memory-gib"} <= set(labels)
