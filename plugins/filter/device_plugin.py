# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NVIDIA device plugin: its configuration, its chart values, and whether it serves every GPU node.

One settings dictionary (the nvidia_device_plugin role's variables) gives both the collection's own
manifests and NVIDIA's Helm chart values, so the two ways of installing the plugin behave alike.
Its configuration file format is the plugin's own (config version v1: flags, sharing.timeSlicing,
sharing.mps; https://github.com/NVIDIA/k8s-device-plugin, "Configuration Options" and "Shared Access
to GPUs").
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.filter.k3s_versions import node_condition

GPU_RESOURCE = "nvidia.com/gpu"
SHARING_STRATEGIES = ("none", "time-slicing", "mps")
MPS_CAPABLE_LABEL = "nvidia.com/mps.capable"


def device_plugin_sharing(sharing: Mapping | None) -> dict:
    """The sharing settings with their defaults, checked: strategy, replicas, rename_by_default, fail_requests_greater_than_one."""
    sharing = dict(sharing or {})
    strategy = str(sharing.get("strategy") or "none")
    if strategy not in SHARING_STRATEGIES:
        raise AnsibleFilterError('nvidia_device_plugin_sharing.strategy is "%s": choose one of %s.' % (strategy, ", ".join(SHARING_STRATEGIES)))
    unknown = sorted(set(sharing) - {"strategy", "replicas", "rename_by_default", "fail_requests_greater_than_one"})
    if unknown:
        raise AnsibleFilterError("nvidia_device_plugin_sharing has unknown keys %s (strategy, replicas, rename_by_default, "
                                 "fail_requests_greater_than_one)." % ", ".join(unknown))
    replicas = sharing.get("replicas", 1 if strategy == "none" else 2)
    try:
        replicas = int(replicas)
    except (TypeError, ValueError):
        raise AnsibleFilterError("nvidia_device_plugin_sharing.replicas must be a whole number, got %r." % (replicas,)) from None
    if strategy != "none" and replicas < 2:
        raise AnsibleFilterError("nvidia_device_plugin_sharing.replicas is %d: sharing a GPU needs at least 2 replicas "
                                 "(or set strategy: none)." % replicas)
    return {
        "strategy": strategy,
        "replicas": replicas if strategy != "none" else 1,
        "rename_by_default": bool(sharing.get("rename_by_default", False)) and strategy != "none",
        "fail_requests_greater_than_one": bool(sharing.get("fail_requests_greater_than_one", False)),
    }


def device_plugin_resource(sharing: Mapping | None) -> dict:
    """The resource GPU pods request and how many each GPU advertises: {name, per_gpu}."""
    sharing = device_plugin_sharing(sharing)
    name = GPU_RESOURCE + ".shared" if sharing["rename_by_default"] else GPU_RESOURCE
    return {"name": name, "per_gpu": sharing["replicas"]}


def device_plugin_config(settings: Mapping) -> dict:
    """The plugin's configuration file (config version v1) for the settings."""
    sharing = device_plugin_sharing(settings.get("sharing"))
    config = {
        "version": "v1",
        "flags": {
            "migStrategy": str(settings.get("mig_strategy") or "none"),
            "failOnInitError": bool(settings.get("fail_on_init_error", True)),
            "plugin": {
                "passDeviceSpecs": bool(settings.get("pass_device_specs", False)),
                "deviceListStrategy": [str(settings.get("device_list_strategy") or "envvar")],
                "deviceIDStrategy": str(settings.get("device_id_strategy") or "uuid"),
            },
        },
    }
    if sharing["strategy"] != "none":
        replicated = {"renameByDefault": sharing["rename_by_default"], "resources": [{"name": GPU_RESOURCE, "replicas": sharing["replicas"]}]}
        if sharing["strategy"] == "time-slicing":
            replicated["failRequestsGreaterThanOne"] = sharing["fail_requests_greater_than_one"]
            config["sharing"] = {"timeSlicing": replicated}
        else:
            config["sharing"] = {"mps": replicated}
    return config


def device_plugin_affinity(label: str) -> dict:
    """Node affinity for the nodes the GPU-present label marks (the label the node plays and the toolkit role set)."""
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": label, "operator": "In", "values": ["true"]}]}]}}}


def device_plugin_tolerations(extra: list | None = None) -> list:
    """The plugin's tolerations: GPU nodes tainted nvidia.com/gpu, critical add-ons only, plus the user's."""
    tolerations = [{"key": "CriticalAddonsOnly", "operator": "Exists"}, {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
    return tolerations + [dict(entry) for entry in extra or [] if dict(entry) not in tolerations]


def device_plugin_chart_values(settings: Mapping) -> dict:
    """Values for NVIDIA's nvidia-device-plugin chart that give what the collection's own manifests give."""
    values = {
        "image": {"repository": settings["image"], "tag": settings["version"], "pullPolicy": settings.get("image_pull_policy") or "IfNotPresent"},
        "runtimeClassName": settings["runtime_class"],
        "priorityClassName": settings.get("priority_class") or "system-node-critical",
        "affinity": device_plugin_affinity(settings["gpu_label"]),
        "tolerations": device_plugin_tolerations(settings.get("tolerations")),
        "config": {"map": {"default": device_plugin_config(settings)}, "default": "default"},
        "mps": {"root": settings.get("mps_root") or "/run/nvidia/mps"},
        "gfd": {"enabled": False},
        "nfd": {"enabled": False},
    }
    if settings.get("image_pull_secrets"):
        values["imagePullSecrets"] = [{"name": name} for name in settings["image_pull_secrets"]]
    if settings.get("resources"):
        values["resources"] = dict(settings["resources"])
    return values


def device_plugin_daemonset(daemonsets: list) -> dict | None:
    """The device plugin's DaemonSet among those of its namespace (the one whose pods run nvidia-device-plugin), else None."""
    for daemonset in daemonsets or []:
        containers = ((((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or []
        if any((container.get("command") or [""])[0] == "nvidia-device-plugin" for container in containers):
            return daemonset
    return None


def device_plugin_expected(wanted: list) -> list:
    """The GPU nodes the inventory promises, from cluster_nodes_wanted: [{node, gpus}]."""
    return [{"node": entry["node"], "gpus": int(entry["gpu_count"])} for entry in wanted or [] if int(entry.get("gpu_count") or 0) > 0]


def device_plugin_expected_from_labels(nodes: list, prefix: str, gpu_label: str = "nvidia.com/gpu.present") -> list:
    """The GPU nodes as the cluster labels them (gpu-present label, GPU count under the collection's prefix)."""
    expected = []
    for node in nodes or []:
        labels = (node.get("metadata") or {}).get("labels") or {}
        if labels.get(gpu_label) == "true":
            expected.append({"node": node["metadata"]["name"], "gpus": as_int(labels.get("%s/gpu-count" % prefix))})
    return sorted(expected, key=lambda entry: entry["node"])


def device_plugin_report(daemonset: Mapping | None, pods: list, nodes: list, expected: list, resource: Mapping) -> dict:
    """Whether the plugin serves every expected GPU node.

    Ready when the DaemonSet exists, schedules exactly one pod per expected GPU node and each is ready,
    and every expected node reports allocatable ``resource.name`` equal to its GPU count times
    ``resource.per_gpu``. A DaemonSet with no pod at all is not ready (Kubernetes counts 0 of 0 as ready).
    Every mismatch names its nodes.
    """
    expected_gpus = {entry["node"]: int(entry["gpus"]) * int(resource.get("per_gpu") or 1) for entry in expected or []}
    report = {"installed": daemonset is not None, "desired": 0, "ready": 0, "scheduled": 0, "gpu_nodes": len(expected_gpus),
              "without_pod": [], "not_ready": [], "unexpected": [], "allocatable": {}, "resource": resource.get("name") or GPU_RESOURCE}
    if daemonset is None:
        report["ok"] = False
        report["message"] = "the device plugin DaemonSet does not exist"
        return report
    status = daemonset.get("status") or {}
    report["desired"] = as_int(status.get("desiredNumberScheduled"))
    report["ready"] = as_int(status.get("numberReady"))
    owned = [pod for pod in pods or [] if _owned_by(pod, daemonset)]
    by_node = {}
    for pod in owned:
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            by_node.setdefault(node, []).append(pod)
    report["scheduled"] = len(by_node)
    report["without_pod"] = sorted(node for node in expected_gpus if node not in by_node)
    report["not_ready"] = sorted(node for node, node_pods in by_node.items() if node in expected_gpus and not any(map(_pod_ready, node_pods)))
    report["unexpected"] = sorted(node for node in by_node if node not in expected_gpus)
    allocatable = {(node.get("metadata") or {}).get("name"): node for node in nodes or []}
    for name, want in sorted(expected_gpus.items()):
        have = as_int(((allocatable.get(name) or {}).get("status") or {}).get("allocatable", {}).get(report["resource"]))
        if have != want:
            report["allocatable"][name] = {"have": have, "want": want}
    report["ok"] = bool(expected_gpus) and report["scheduled"] == len(expected_gpus) and not (
        report["without_pod"] or report["not_ready"] or report["unexpected"] or report["allocatable"])
    report["message"] = _report_message(report)
    return report


def device_plugin_pods_ready(pods: list, expected: list) -> bool:
    """Whether every expected GPU node runs a ready plugin pod (the first thing worth waiting for)."""
    ready_nodes = {(pod.get("spec") or {}).get("nodeName") for pod in pods or [] if _pod_ready(pod)}
    return bool(expected) and all(entry["node"] in ready_nodes for entry in expected)


def device_plugin_allocatable_ready(nodes: list, expected: list, resource: Mapping) -> bool:
    """Whether every expected GPU node advertises its GPU count (times the sharing replicas) as allocatable."""
    allocatable = {(node.get("metadata") or {}).get("name"): ((node.get("status") or {}).get("allocatable") or {}) for node in nodes or []}
    per_gpu = int(resource.get("per_gpu") or 1)
    return bool(expected) and all(
        as_int(allocatable.get(entry["node"], {}).get(resource.get("name") or GPU_RESOURCE)) == int(entry["gpus"]) * per_gpu for entry in expected)


def device_plugin_nodes_not_ready(nodes: list, expected: list) -> list:
    """Expected GPU nodes whose Node object is missing or not Ready (a plugin pod cannot help them)."""
    by_name = {(node.get("metadata") or {}).get("name"): node for node in nodes or []}
    return sorted(entry["node"] for entry in expected or [] if entry["node"] not in by_name or node_condition(by_name[entry["node"]], "Ready") != "True")


def _report_message(report: dict) -> str:
    if not report["gpu_nodes"]:
        return "no GPU node is expected, so the device plugin serves none"
    parts = []
    if report["without_pod"]:
        parts.append("no device plugin pod on %s" % ", ".join(report["without_pod"]))
    if report["not_ready"]:
        parts.append("device plugin pod not ready on %s" % ", ".join(report["not_ready"]))
    if report["unexpected"]:
        parts.append("device plugin pods on nodes that are not expected GPU nodes: %s" % ", ".join(report["unexpected"]))
    if report["allocatable"]:
        parts.append("allocatable %s differs from the GPU count on %s" % (report["resource"], ", ".join(
            "%s (%d, expected %d)" % (name, counts["have"], counts["want"]) for name, counts in sorted(report["allocatable"].items()))))
    if parts:
        return "; ".join(parts)
    return "%d of %d GPU nodes served, %s allocatable as expected" % (report["scheduled"], report["gpu_nodes"], report["resource"])


def _owned_by(pod: Mapping, owner: Mapping) -> bool:
    uid = (owner.get("metadata") or {}).get("uid")
    name = (owner.get("metadata") or {}).get("name")
    for reference in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if reference.get("kind") == "DaemonSet" and (reference.get("uid") == uid if uid else reference.get("name") == name):
            return True
    return False


def _pod_ready(pod: Mapping) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(condition.get("type") == "Ready" and str(condition.get("status")) == "True" for condition in status.get("conditions") or [])


def as_int(value) -> int:
    """An integer from a Kubernetes quantity or label value; 0 when absent or not a whole number."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


class FilterModule:
    """NVIDIA device plugin configuration and readiness."""

    def filters(self) -> dict:
        return {
            "device_plugin_sharing": device_plugin_sharing,
            "device_plugin_resource": device_plugin_resource,
            "device_plugin_config": device_plugin_config,
            "device_plugin_affinity": device_plugin_affinity,
            "device_plugin_tolerations": device_plugin_tolerations,
            "device_plugin_chart_values": device_plugin_chart_values,
            "device_plugin_daemonset": device_plugin_daemonset,
            "device_plugin_expected": device_plugin_expected,
            "device_plugin_expected_from_labels": device_plugin_expected_from_labels,
            "device_plugin_report": device_plugin_report,
            "device_plugin_nodes_not_ready": device_plugin_nodes_not_ready,
            "device_plugin_pods_ready": device_plugin_pods_ready,
            "device_plugin_allocatable_ready": device_plugin_allocatable_ready,
        }
