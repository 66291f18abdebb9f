"""The status dictionary (the contract with the command line) and its table."""

from __future__ import annotations

from ansible_collections.sophia.lambda_k3s.plugins.filter.cluster_status import (
    cluster_gpu_pod_problems,
    cluster_status,
    cluster_status_table,
    cluster_status_unread,
)

PREFIX = "lambda-k3s.sophia.ai"
SETTINGS = {"prefix": PREFIX, "gpu_label": "nvidia.com/gpu.present", "resource": {"name": "nvidia.com/gpu", "per_gpu": 1},
            "release_name": "sophia-platform", "release_namespace": "sophia-ai", "skipped": []}


def node(name: str, labels: dict, gpus: int | None = None, ready: str = "True", unschedulable: bool = False) -> dict:
    allocatable = {"cpu": "8"} if gpus is None else {"cpu": "8", "nvidia.com/gpu": str(gpus)}
    return {"metadata": {"name": name, "labels": labels}, "spec": {"unschedulable": True} if unschedulable else {},
            "status": {"allocatable": allocatable, "conditions": [{"type": "Ready", "status": ready}],
                       "nodeInfo": {"kubeletVersion": "v1.35.6+k3s1"}}}


NODES = [
    node("h100", {"gpu-type": "H100", "nvidia.com/gpu.present": "true", PREFIX + "/gpu-count": "8", "topology.kubernetes.io/region": "us-west-1",
                  PREFIX + "/instance-type": "gpu_8x_h100_sxm5"}, gpus=8),
    node("control", {"node-role.kubernetes.io/control-plane": "true", PREFIX + "/region": "us-east-1"}, ready="False", unschedulable=True),
]
DAEMONSET = {"metadata": {"name": "dp", "uid": "u"}, "status": {"desiredNumberScheduled": 1, "numberReady": 1}}
POD = {"metadata": {"ownerReferences": [{"kind": "DaemonSet", "uid": "u"}]}, "spec": {"nodeName": "h100"},
       "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
RELEASE = {"name": "sophia-platform", "namespace": "sophia-ai", "revision": "3", "status": "deployed", "chart": "sophia-platform-0.1.0",
           "app_version": "1.0.0", "updated": "2026-01-01 00:00:00 +0000 UTC", "values": {"secret-ish": "not published"}}


def test_the_status_has_the_contract_s_shape_sorted_by_node() -> None:
    status = cluster_status(NODES, DAEMONSET, [POD], RELEASE, SETTINGS)
    assert list(status) == ["nodes", "device_plugin", "release", "skipped"]
    assert status["nodes"] == [
        {"name": "control", "role": "server", "gpu_type": None, "region": "us-east-1", "instance_type": None, "ready": False,
         "allocatable_gpus": 0, "gpu_count": 0, "version": "v1.35.6+k3s1", "schedulable": False},
        {"name": "h100", "role": "agent", "gpu_type": "H100", "region": "us-west-1", "instance_type": "gpu_8x_h100_sxm5", "ready": True,
         "allocatable_gpus": 8, "gpu_count": 8, "version": "v1.35.6+k3s1", "schedulable": True},
    ]
    assert status["device_plugin"] == {"installed": True, "desired": 1, "ready": 1, "gpu_nodes": 1,
                                       "message": "1 of 1 GPU nodes served, nvidia.com/gpu allocatable as expected"}
    # The release's values are not part of the status: they may be sensitive and nobody asked for them.
    assert status["release"] == {"name": "sophia-platform", "namespace": "sophia-ai", "revision": 3, "status": "deployed",
                                 "chart": "sophia-platform-0.1.0", "app_version": "1.0.0", "updated": "2026-01-01 00:00:00 +0000 UTC"}
    assert status["skipped"] == []


def test_nothing_installed_and_unreadable_stages_are_reported() -> None:
    settings = dict(SETTINGS, skipped=[{"stage": "cluster", "reason": "no kubeconfig"}])
    status = cluster_status([], None, [], None, settings)
    assert status["nodes"] == []
    assert status["device_plugin"]["installed"] is False
    assert status["release"] == {"name": "sophia-platform", "namespace": "sophia-ai", "revision": None, "status": None, "chart": None,
                                 "app_version": None, "updated": None}
    assert status["skipped"] == [{"stage": "cluster", "reason": "no kubeconfig"}]
    table = cluster_status_table(status)
    assert "(no node listed)" in table
    assert "Release sophia-platform in sophia-ai: not installed" in table
    assert "Skipped cluster: no kubeconfig" in table


def test_the_table_has_one_aligned_row_per_node() -> None:
    lines = cluster_status_table(cluster_status(NODES, DAEMONSET, [POD], RELEASE, SETTINGS)).splitlines()
    assert lines[0].split() == ["NODE", "ROLE", "GPU", "GPUS", "READY", "SCHED", "VERSION", "REGION", "INSTANCE", "TYPE"]
    assert lines[1].split() == ["control", "server", "-", "0/0", "NO", "no", "v1.35.6+k3s1", "us-east-1", "-"]
    assert lines[2].split()[:5] == ["h100", "agent", "H100", "8/8", "yes"]
    assert lines[0].index("ROLE") == lines[1].index("server") == lines[2].index("agent")
    assert lines[3].startswith("Device plugin: 1/1 pods ready for 1 GPU nodes")
    assert lines[4].startswith("Release sophia-platform in sophia-ai: revision 3, deployed")


def test_failed_reads_become_skipped_entries() -> None:
    reads = {"nodes": {"resources": []}, "release": {"msg": "Failure when executing Helm command.\nmore"}, "device_plugin": {"skipped": True}}
    assert cluster_status_unread(reads) == [{"stage": "release", "reason": "Failure when executing Helm command."}]


def test_gpu_pods_must_succeed_and_list_their_node_s_gpus() -> None:
    def result(node: str, gpus: int, phase: str) -> dict:
        return {"item": {"node": node, "gpus": gpus}, "resources": [{"status": {"phase": phase}}]}

    pods = [result("a", 2, "Succeeded"), result("b", 2, "Succeeded"), result("c", 1, "Pending")]
    logs = [{"log_lines": ["GPU 0: NVIDIA A10 (UUID: GPU-1)", "GPU 1: NVIDIA A10 (UUID: GPU-2)"]},
            {"log_lines": ["GPU 0: NVIDIA A10 (UUID: GPU-3)"]}, {"msg": "container not started"}]
    assert cluster_gpu_pod_problems(pods, logs) == [
        "b: the nvidia pod is Succeeded and listed 1 GPU(s), expected 2: GPU 0: NVIDIA A10 (UUID: GPU-3).",
        "c: the nvidia pod is Pending and listed 0 GPU(s), expected 1.",
    ]
    # With shared GPUs each pod asks for, and must list, one.
    assert cluster_gpu_pod_problems(pods[1:2], logs[1:2], per_gpu=4) == []
