# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the cluster plays run, and which node labels and taints they change.

The cluster plays talk to the Kubernetes API from one host (the first server by default). The label
and taint decisions are made here from the inventory and the Node objects the API returned, so the
tasks only send the patches this plan lists: a rerun with nothing to change sends nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.filter.k3s_node_labels import DEFAULT_PREFIX, GPU_PRESENT_LABEL, k3s_node_labels

CONTROLLER = "localhost"
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# "key=value:Effect" or "key:Effect", as K3s's node-taint and kubectl taint write them.
_TAINT_TEXT = re.compile(r"^(?P<key>[^=:\s]+)(=(?P<value>[^:\s]*))?:(?P<effect>[A-Za-z]+)$")


def k3s_first_server(groups: Mapping, group: str = "k3s_server", fallback: str | None = None) -> str:
    """The first server of the cluster: the first name of the server group in sorted order.

    Every play that needs "the" server (cluster plays, status, logs) asks this filter, so they all agree.
    Without servers it fails, or returns ``fallback`` when one is given (the cluster playbooks' plays then
    run on it and stop at their first task, which says what is missing).
    """
    servers = sorted(str(name) for name in (groups or {}).get(group) or [])
    if not servers and fallback is not None:
        return fallback
    if not servers:
        raise AnsibleFilterError("The inventory has no host in the group %s: the cluster plays run from the first K3s server. Check that the "
                                 "inventory found the cluster (LAMBDA_K3S_CLUSTER) and that K3s was installed (playbooks/k3s.yml)." % group)
    return servers[0]


def cluster_ops_host(groups: Mapping, choice: str = "", group: str = "k3s_server") -> str:
    """The host the cluster plays talk to the Kubernetes API from.

    ``choice`` (lambda_k3s_cluster_ops_host): empty for the first server, ``localhost`` for the controller,
    or the name of another server of the group.
    """
    choice = str(choice or "").strip()
    if not choice:
        return k3s_first_server(groups, group)
    if choice == CONTROLLER:
        return CONTROLLER
    servers = [str(name) for name in (groups or {}).get(group) or []]
    if choice not in servers:
        raise AnsibleFilterError('lambda_k3s_cluster_ops_host is "%s", which is neither "localhost" (the controller) nor a host of the group %s '
                                 "(%s): leave it empty to use the first server." % (choice, group, ", ".join(sorted(servers)) or "empty"))
    return choice


def cluster_nodes_wanted(hostvars: Mapping, hosts: list, servers: list, prefix: str = DEFAULT_PREFIX, gpu_labels: Mapping | None = None) -> list:
    """What each inventory node should carry: its Kubernetes name, role, labels, taints and GPU count.

    Labels come from the K3s layer's label set (k3s_node_labels) plus the host's ``k3s_node_labels`` and
    ``cluster_nodes_labels``; ``gpu_labels`` are added on GPU nodes only. Taints come from the host's
    ``cluster_nodes_taints``.
    """
    wanted = []
    for host in sorted(str(name) for name in hosts or []):
        variables = hostvars[host]
        role = "server" if host in (servers or []) else "agent"
        extra = dict(_mapping(variables.get("k3s_node_labels"), host, "k3s_node_labels"))
        extra.update(_mapping(variables.get("cluster_nodes_labels"), host, "cluster_nodes_labels"))
        labels = k3s_node_labels(variables, role=role, prefix=prefix, extra=extra)
        gpu_count = int(labels.get("%s/gpu-count" % prefix) or 0)
        if labels.get(GPU_PRESENT_LABEL) == "true":
            labels.update({str(name): str(value) for name, value in (gpu_labels or {}).items()})
            labels = dict(sorted(labels.items()))
        wanted.append({
            "host": host,
            "node": str(variables.get("k3s_node_name") or host),
            "role": role,
            "labels": labels,
            "taints": [_taint(entry, host) for entry in variables.get("cluster_nodes_taints") or []],
            "gpu_count": gpu_count if labels.get(GPU_PRESENT_LABEL) == "true" else 0,
        })
    return wanted


def cluster_node_plan(nodes: list, wanted: list, prefix: str = DEFAULT_PREFIX) -> dict:
    """The patches that make the cluster's Node objects carry the wanted labels and taints.

    ``nodes``: Node objects as listed by the API (k8s_info's ``resources``). A label under ``prefix``
    that is no longer wanted is removed, and so is any label or taint an earlier run set (recorded in
    the node's ``<prefix>/managed-labels`` and ``<prefix>/managed-taints`` annotations) that is no
    longer wanted; labels and taints set by anyone else are left alone. Nodes the inventory names but
    the cluster lacks are listed in ``missing`` (the play fails on them before patching anything).
    """
    by_name = {(node.get("metadata") or {}).get("name"): node for node in nodes or []}
    plan = {"missing": [], "changes": [], "unchanged": []}
    for entry in wanted or []:
        node = by_name.get(entry["node"])
        if node is None:
            plan["missing"].append(entry["node"])
            continue
        change = _node_change(node, entry, prefix)
        if change:
            plan["changes"].append(change)
        else:
            plan["unchanged"].append(entry["node"])
    plan["summary"] = _plan_summary(plan)
    return plan


def _node_change(node: Mapping, entry: Mapping, prefix: str) -> dict | None:
    metadata = node.get("metadata") or {}
    current = {str(key): str(value) for key, value in (metadata.get("labels") or {}).items()}
    annotations = metadata.get("annotations") or {}
    labels_key, taints_key = "%s/managed-labels" % prefix, "%s/managed-taints" % prefix
    wanted_labels = entry["labels"]

    owned_before = set(_split(annotations.get(labels_key)))
    stale = {key for key in current if key.startswith(prefix + "/") or key in owned_before} - set(wanted_labels)
    label_patch = {key: value for key, value in wanted_labels.items() if current.get(key) != value}
    label_patch.update({key: None for key in sorted(stale)})

    taints, taints_changed = _taints(node, entry["taints"], set(_split(annotations.get(taints_key))))
    annotation_patch = {}
    owned = ((labels_key, ",".join(sorted(wanted_labels))), (taints_key, ",".join(sorted({_taint_id(taint) for taint in entry["taints"]}))))
    for key, value in owned:
        if value and annotations.get(key) != value:
            annotation_patch[key] = value
        elif not value and key in annotations:
            annotation_patch[key] = None

    if not (label_patch or annotation_patch or taints_changed):
        return None
    patch_metadata = {"name": metadata.get("name")}
    if label_patch:
        patch_metadata["labels"] = dict(sorted(label_patch.items()))
    if annotation_patch:
        patch_metadata["annotations"] = annotation_patch
    patch = {"apiVersion": "v1", "kind": "Node", "metadata": patch_metadata}
    if taints_changed:
        # A merge patch replaces the whole list: the version makes the API refuse it if the node's taints changed since they were read.
        patch_metadata["resourceVersion"] = metadata.get("resourceVersion")
        patch["spec"] = {"taints": taints}
    return {
        "node": metadata.get("name"),
        "host": entry["host"],
        "patch": patch,
        "add": {key: value for key, value in label_patch.items() if value is not None},
        "remove": sorted(stale),
        "taints": [_taint_text(taint) for taint in taints] if taints_changed else None,
    }


def _taints(node: Mapping, wanted: list, owned_before: set) -> tuple[list, bool]:
    current = [dict(taint) for taint in (node.get("spec") or {}).get("taints") or []]
    wanted_ids = {_taint_id(taint) for taint in wanted}
    kept = [taint for taint in current if _taint_id(taint) not in owned_before | wanted_ids]
    merged = kept + [dict(taint) for taint in wanted]
    comparable = sorted((_taint_text(taint) for taint in current))
    return merged, comparable != sorted(_taint_text(taint) for taint in merged)


def _taint(entry, host: str) -> dict:
    if isinstance(entry, Mapping):
        taint = {"key": str(entry.get("key") or ""), "value": str(entry.get("value") or ""), "effect": str(entry.get("effect") or "")}
    else:
        match = _TAINT_TEXT.match(str(entry).strip())
        if not match:
            raise AnsibleFilterError('%s: cluster_nodes_taints entry "%s" is not a taint: write "key=value:Effect" (or a dict with key, value and '
                                     "effect)." % (host, entry))
        taint = {"key": match.group("key"), "value": match.group("value") or "", "effect": match.group("effect")}
    if not taint["key"] or taint["effect"] not in _TAINT_EFFECTS:
        raise AnsibleFilterError("%s: the taint %s needs a key and an effect among %s." % (host, _taint_text(taint), ", ".join(_TAINT_EFFECTS)))
    if not taint["value"]:
        del taint["value"]
    return taint


def _taint_id(taint: Mapping) -> str:
    return "%s:%s" % (taint.get("key"), taint.get("effect"))


def _taint_text(taint: Mapping) -> str:
    value = taint.get("value")
    return "%s%s:%s" % (taint.get("key"), "=%s" % value if value else "", taint.get("effect"))


def _split(text) -> list:
    return [part for part in str(text or "").split(",") if part]


def _mapping(value, host: str, variable: str) -> Mapping:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise AnsibleFilterError("%s: %s must be a dictionary of label names to values, got %s." % (host, variable, type(value).__name__))
    return value


def _plan_summary(plan: dict) -> str:
    if plan["missing"]:
        return "not in the cluster: %s" % ", ".join(plan["missing"])
    parts = []
    for change in plan["changes"]:
        words = []
        if change["add"]:
            words.append("set " + ", ".join("%s=%s" % item for item in sorted(change["add"].items())))
        if change["remove"]:
            words.append("remove " + ", ".join(change["remove"]))
        if change["taints"] is not None:
            words.append("taints " + (", ".join(change["taints"]) or "none"))
        parts.append("%s: %s" % (change["node"], "; ".join(words) or "record the labels and taints the collection manages"))
    return " | ".join(parts) if parts else "every node carries its labels and taints"


class FilterModule:
    """Where the cluster plays run, and the node label and taint plan."""

    def filters(self) -> dict:
        return {
            "k3s_first_server": k3s_first_server,
            "cluster_ops_host": cluster_ops_host,
            "cluster_nodes_wanted": cluster_nodes_wanted,
            "cluster_node_plan": cluster_node_plan,
        }
