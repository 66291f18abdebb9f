"""The device plugin's configuration, chart values and readiness decision."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.filter.device_plugin import (
    device_plugin_allocatable_ready,
    device_plugin_chart_values,
    device_plugin_config,
    device_plugin_daemonset,
    device_plugin_expected,
    device_plugin_expected_from_labels,
    device_plugin_pods_ready,
    device_plugin_report,
    device_plugin_resource,
    device_plugin_sharing,
    device_plugin_tolerations,
)

GPU = {"name": "nvidia.com/gpu", "per_gpu": 1}
EXPECTED = [{"node": "gpu-a10", "gpus": 1}, {"node": "gpu-h100", "gpus": 8}]
SETTINGS = {"image": "nvcr.io/nvidia/k8s-device-plugin", "version": "v0.18.2", "runtime_class": "nvidia", "gpu_label": "nvidia.com/gpu.present",
            "tolerations": [], "fail_on_init_error": True, "device_list_strategy": "envvar", "device_id_strategy": "uuid",
            "mig_strategy": "none", "sharing": {"strategy": "none"}}


def daemonset(desired: int = 2, ready: int = 2) -> dict:
    return {"metadata": {"name": "nvidia-device-plugin-daemonset", "uid": "ds-uid"},
            "spec": {"template": {"spec": {"containers": [{"name": "nvidia-device-plugin-ctr", "command": ["nvidia-device-plugin"]}]}}},
            "status": {"desiredNumberScheduled": desired, "numberReady": ready}}


def pod(node: str, ready: bool = True, owner: str = "ds-uid") -> dict:
    return {"metadata": {"name": "p-" + node, "ownerReferences": [{"kind": "DaemonSet", "name": "x", "uid": owner}]},
            "spec": {"nodeName": node},
            "status": {"phase": "Running" if ready else "Pending", "conditions": [{"type": "Ready", "status": str(ready)}]}}


def gpu_node(name: str, allocatable: int | None) -> dict:
    status = {"allocatable": {"cpu": "8"}, "conditions": [{"type": "Ready", "status": "True"}]}
    if allocatable is not None:
        status["allocatable"]["nvidia.com/gpu"] = str(allocatable)
    return {"metadata": {"name": name, "labels": {}}, "status": status}


def test_the_default_config_sets_the_flags_and_no_sharing() -> None:
    assert device_plugin_config(SETTINGS) == {"version": "v1", "flags": {
        "migStrategy": "none", "failOnInitError": True,
        "plugin": {"passDeviceSpecs": False, "deviceListStrategy": ["envvar"], "deviceIDStrategy": "uuid"}}}


def test_time_slicing_and_mps_configs_replicate_the_gpu_resource() -> None:
    time_slicing = device_plugin_config(dict(SETTINGS, sharing={"strategy": "time-slicing", "replicas": 4, "rename_by_default": True}))
    assert time_slicing["sharing"] == {"timeSlicing": {"renameByDefault": True, "failRequestsGreaterThanOne": False,
                                                       "resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}}
    mps = device_plugin_config(dict(SETTINGS, sharing={"strategy": "mps", "replicas": 2}))
    assert mps["sharing"] == {"mps": {"renameByDefault": False, "resources": [{"name": "nvidia.com/gpu", "replicas": 2}]}}


@pytest.mark.parametrize(("sharing", "message"), [
    ({"strategy": "slices"}, "choose one of none, time-slicing, mps"),
    ({"strategy": "mps", "replicas": 1}, "at least 2 replicas"),
    ({"strategy": "time-slicing", "replicas": "four"}, "whole number"),
    ({"strategy": "mps", "replica": 2}, "unknown keys replica"),
])
def test_bad_sharing_settings_are_refused_with_the_fix(sharing, message) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        device_plugin_sharing(sharing)


def test_the_resource_follows_renaming_and_replicas() -> None:
    assert device_plugin_resource({}) == GPU
    assert device_plugin_resource({"strategy": "time-slicing", "replicas": 3}) == {"name": "nvidia.com/gpu", "per_gpu": 3}
    assert device_plugin_resource({"strategy": "time-slicing", "replicas": 3, "rename_by_default": True})["name"] == "nvidia.com/gpu.shared"


def test_the_user_tolerations_add_to_the_built_in_ones_once() -> None:
    extra = {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
    tolerations = device_plugin_tolerations([extra, {"key": "CriticalAddonsOnly", "operator": "Exists"}])
    assert tolerations == [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                           {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}, extra]


def test_chart_values_match_the_manifests_settings() -> None:
    values = device_plugin_chart_values(dict(SETTINGS, image_pull_secrets=["mirror-creds"], image="mirror.example/nvidia/k8s-device-plugin"))
    assert values["runtimeClassName"] == "nvidia"
    assert values["image"] == {"repository": "mirror.example/nvidia/k8s-device-plugin", "tag": "v0.18.2", "pullPolicy": "IfNotPresent"}
    assert values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
        {"matchExpressions": [{"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]}]}]
    assert values["config"] == {"map": {"default": device_plugin_config(SETTINGS)}, "default": "default"}
    assert values["imagePullSecrets"] == [{"name": "mirror-creds"}]
    assert values["gfd"] == {"enabled": False} and values["nfd"] == {"enabled": False}


def test_expected_gpu_nodes_come_from_the_inventory_or_from_the_labels() -> None:
    assert device_plugin_expected([{"node": "a", "gpu_count": 0}, {"node": "b", "gpu_count": 2}]) == [{"node": "b", "gpus": 2}]
    nodes = [{"metadata": {"name": "b", "labels": {"nvidia.com/gpu.present": "true", "p/gpu-count": "4"}}},
             {"metadata": {"name": "a", "labels": {}}}]
    assert device_plugin_expected_from_labels(nodes, "p") == [{"node": "b", "gpus": 4}]


def test_a_plugin_on_every_gpu_node_with_every_gpu_is_ready() -> None:
    nodes = [gpu_node("gpu-a10", 1), gpu_node("gpu-h100", 8), gpu_node("srv", None)]
    report = device_plugin_report(daemonset(), [pod("gpu-a10"), pod("gpu-h100")], nodes, EXPECTED, GPU)
    assert report["ok"], report["message"]
    assert report["message"] == "2 of 2 GPU nodes served, nvidia.com/gpu allocatable as expected"
    assert device_plugin_pods_ready([pod("gpu-a10"), pod("gpu-h100")], EXPECTED)
    assert device_plugin_allocatable_ready(nodes, EXPECTED, GPU)


def test_a_daemonset_with_no_pod_is_not_ready_although_kubernetes_counts_it_so() -> None:
    report = device_plugin_report(daemonset(desired=0, ready=0), [], [gpu_node("gpu-a10", None), gpu_node("gpu-h100", None)], EXPECTED, GPU)
    assert not report["ok"]
    assert report["message"].startswith("no device plugin pod on gpu-a10, gpu-h100; allocatable nvidia.com/gpu differs")
    assert not device_plugin_pods_ready([], EXPECTED)


def test_every_kind_of_mismatch_names_its_nodes() -> None:
    pods = [pod("gpu-a10", ready=False), pod("srv"), pod("gpu-h100", owner="another-daemonset")]
    nodes = [gpu_node("gpu-a10", None), gpu_node("gpu-h100", 6)]
    report = device_plugin_report(daemonset(), pods, nodes, EXPECTED, GPU)
    assert not report["ok"]
    assert report["without_pod"] == ["gpu-h100"]
    assert report["not_ready"] == ["gpu-a10"]
    assert report["unexpected"] == ["srv"]
    assert report["allocatable"] == {"gpu-a10": {"have": 0, "want": 1}, "gpu-h100": {"have": 6, "want": 8}}
    assert "gpu-h100 (6, expected 8)" in report["message"]
    assert not device_plugin_allocatable_ready(nodes, EXPECTED, GPU)


def test_shared_gpus_are_expected_times_the_replicas_under_their_resource_name() -> None:
    shared = {"name": "nvidia.com/gpu.shared", "per_gpu": 4}
    nodes = [{"metadata": {"name": "gpu-a10"}, "status": {"allocatable": {"nvidia.com/gpu.shared": "4"}}}]
    report = device_plugin_report(daemonset(1, 1), [pod("gpu-a10")], nodes, EXPECTED[:1], shared)
    assert report["ok"], report["message"]


def test_a_missing_daemonset_and_no_gpu_node_are_reported() -> None:
    assert device_plugin_report(None, [], [], EXPECTED, GPU)["message"] == "the device plugin DaemonSet does not exist"
    report = device_plugin_report(daemonset(0, 0), [], [], [], GPU)
    assert not report["ok"] and report["message"] == "no GPU node is expected, so the device plugin serves none"


def test_the_plugin_daemonset_is_found_among_the_namespace_s() -> None:
    mps = {"metadata": {"name": "mps"}, "spec": {"template": {"spec": {"containers": [{"command": ["mps-control-daemon"]}]}}}}
    assert device_plugin_daemonset([mps, daemonset()])["metadata"]["name"] == "nvidia-device-plugin-daemonset"
    assert device_plugin_daemonset([mps]) is None
