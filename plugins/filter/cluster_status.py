# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster's state as one dictionary (published by status.yml with set_stats) and as a table.

The shape is the contract the command line reads from ansible-runner's artifact data:
nodes (sorted by name), device_plugin, release and skipped. It is computed only from what the
cluster reports, so it describes the cluster as it is, whatever the inventory says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible_collections.sophia.lambda_k3s.plugins.filter.device_plugin import as_int, device_plugin_expected_from_labels, device_plugin_report
from ansible_collections.sophia.lambda_k3s.plugins.filter.k3s_node_labels import DEFAULT_PREFIX
from ansible_collections.sophia.lambda_k3s.plugins.filter.k3s_versions import node_condition

_CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
# nvidia-smi -L prints one "GPU <index>: <name> (UUID: ...)" line per GPU.
_GPU_LINE = re.compile(r"^GPU [0-9]+:")


def cluster_status(nodes: list, daemonset: Mapping | None, pods: list, release: Mapping | None, settings: Mapping) -> dict:
    """The status dictionary.

    ``settings``: prefix (the collection's label prefix), gpu_label, resource ({name, per_gpu}),
    release_name, release_namespace, skipped ([{stage, reason}]).
    """
    prefix = settings.get("prefix") or DEFAULT_PREFIX
    resource = settings.get("resource") or {"name": "nvidia.com/gpu", "per_gpu": 1}
    rows = sorted((_node_row(node, prefix, resource["name"]) for node in nodes or []), key=lambda row: row["name"])
    expected = device_plugin_expected_from_labels(nodes, prefix, settings.get("gpu_label") or "nvidia.com/gpu.present")
    report = device_plugin_report(daemonset, pods, nodes, expected, resource)
    return {
        "nodes": rows,
        "device_plugin": {key: report[key] for key in ("installed", "desired", "ready", "gpu_nodes", "message")},
        "release": _release(release, settings),
        "skipped": [{"stage": str(entry.get("stage")), "reason": str(entry.get("reason"))} for entry in settings.get("skipped") or []],
    }


def cluster_status_unread(reads: Mapping) -> list:
    """[{stage, reason}] for the reads that failed: {stage: registered result}, read with failed_when: false.

    A failed kubernetes.core read keeps the module's error in ``msg``; a successful one has none.
    """
    skipped = []
    for stage, result in (reads or {}).items():
        if isinstance(result, Mapping) and result.get("msg"):
            skipped.append({"stage": str(stage), "reason": str(result["msg"]).strip().splitlines()[0]})
    return skipped


def cluster_gpu_pod_problems(pods: list, logs: list, per_gpu: int = 1) -> list:
    """What went wrong with verify.yml's nvidia-smi pods, one sentence per node.

    ``pods`` and ``logs``: the registered loop results of k8s_info and k8s_log over the GPU nodes
    ({node, gpus} items). A pod must have Succeeded and listed all its node's GPUs (one when GPUs are
    shared, since it asks for one share).
    """
    problems = []
    for pod_result, log_result in zip(pods or [], logs or []):
        item = pod_result.get("item") or {}
        wanted = int(item.get("gpus") or 0) if int(per_gpu or 1) == 1 else 1
        resources = pod_result.get("resources") or [{}]
        phase = ((resources[0] or {}).get("status") or {}).get("phase") or "missing"
        lines = [str(line) for line in (log_result or {}).get("log_lines") or []]
        listed = len([line for line in lines if _GPU_LINE.match(line.strip())])
        if phase != "Succeeded" or listed != wanted:
            problems.append("%s: the nvidia pod is %s and listed %d GPU(s), expected %d%s." % (
                item.get("node"), phase, listed, wanted, (": " + " / ".join(lines)) if lines else ""))
    return problems


def cluster_status_table(status: Mapping) -> str:
    """A plain-text table of the status for people reading ansible-playbook's output."""
    header = ("NODE", "ROLE", "GPU", "GPUS", "READY", "SCHED", "VERSION", "REGION", "INSTANCE TYPE")
    rows = [header] + [(
        node["name"], node["role"], node["gpu_type"] or "-", "%d/%d" % (node["allocatable_gpus"], node["gpu_count"]),
        "yes" if node["ready"] else "NO", "yes" if node["schedulable"] else "no", node["version"] or "-", node["region"] or "-",
        node["instance_type"] or "-") for node in status.get("nodes") or []]
    widths = [max(len(str(row[column])) for row in rows) for column in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    if len(rows) == 1:
        lines.append("(no node listed)")
    plugin = status.get("device_plugin") or {}
    if plugin.get("installed"):
        lines.append("Device plugin: %d/%d pods ready for %d GPU nodes; %s" % (plugin["ready"], plugin["desired"], plugin["gpu_nodes"], plugin["message"]))
    else:
        lines.append("Device plugin: not installed (%d GPU nodes)" % plugin.get("gpu_nodes", 0))
    release = status.get("release") or {}
    if release.get("revision") is None:
        lines.append("Release %s in %s: not installed" % (release.get("name"), release.get("namespace")))
    else:
        lines.append("Release %s in %s: revision %s, %s, chart %s, app %s, updated %s" % (
            release["name"], release["namespace"], release["revision"], release["status"], release["chart"], release["app_version"] or "-",
            release["updated"] or "-"))
    for entry in status.get("skipped") or []:
        lines.append("Skipped %s: %s" % (entry["stage"], entry["reason"]))
    return "\n".join(lines)


def _node_row(node: Mapping, prefix: str, resource: str) -> dict:
    metadata = node.get("metadata") or {}
    labels = metadata.get("labels") or {}
    status = node.get("status") or {}
    return {
        "name": metadata.get("name"),
        "role": "server" if _CONTROL_PLANE_LABEL in labels else "agent",
        "gpu_type": labels.get("gpu-type") or None,
        "region": labels.get("topology.kubernetes.io/region") or labels.get("%s/region" % prefix) or None,
        "instance_type": labels.get("%s/instance-type" % prefix) or labels.get("node.kubernetes.io/instance-type") or None,
        "ready": node_condition(node, "Ready") == "True",
        "allocatable_gpus": as_int((status.get("allocatable") or {}).get(resource)),
        "gpu_count": as_int(labels.get("%s/gpu-count" % prefix)),
        "version": (status.get("nodeInfo") or {}).get("kubeletVersion") or None,
        "schedulable": not (node.get("spec") or {}).get("unschedulable", False),
    }


def _release(release: Mapping | None, settings: Mapping) -> dict:
    release = release or {}
    revision = release.get("revision")
    return {
        "name": release.get("name") or settings.get("release_name"),
        "namespace": release.get("namespace") or settings.get("release_namespace"),
        "revision": int(revision) if revision not in (None, "") else None,
        "status": release.get("status") or None,
        "chart": release.get("chart") or None,
        "app_version": release.get("app_version") or None,
        "updated": str(release["updated"]) if release.get("updated") else None,
    }


class FilterModule:
    """Cluster status."""

    def filters(self) -> dict:
        return {"cluster_status": cluster_status, "cluster_status_table": cluster_status_table, "cluster_status_unread": cluster_status_unread,
                "cluster_gpu_pod_problems": cluster_gpu_pod_problems}
