# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU monitoring: the Prometheus and Grafana stack's values, where NVIDIA's DCGM exporter runs, and how to reach Grafana.

The stack is kube-prometheus-stack (docs/addons.md says why). On K3s, the control plane's components run in one
process and serve their metrics on loopback only, so the chart's scrapes of the controller manager, the scheduler,
the proxy and etcd would find no endpoints and their alerts would fire for ever: they are off. Names are pinned with
fullnameOverride, so the role and the status find <release>-grafana and the Prometheus StatefulSet
prometheus-<release>-prometheus whatever the chart's naming rules.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.filter.device_plugin import device_plugin_affinity
from ansible_collections.sophia.lambda_k3s.plugins.filter.helm_release import helm_values_merge

GPU_TYPE_LABEL = "gpu-type"
# kube-state-metrics publishes node labels only when allowed; the dashboard joins the GPU metrics with this one.
_NODE_LABELS_ALLOWED = "nodes=[%s]" % GPU_TYPE_LABEL


def monitoring_stack_values(settings: Mapping) -> dict:
    """kube-prometheus-stack's values. ``settings``: release, retention, retention_size, storage_size, storage_class,
    grafana_admin_secret (a Secret's name, or empty to let Grafana's chart generate a password), grafana_ingress_host,
    grafana_ingress_class, scrape_interval, values (merged last)."""
    release = str(settings.get("release") or "monitoring")
    storage = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": str(settings.get("storage_size") or "50Gi")}}}
    if settings.get("storage_class"):
        storage["storageClassName"] = str(settings["storage_class"])
    prometheus_spec: dict = {
        "retention": str(settings.get("retention") or "15d"),
        "scrapeInterval": str(settings.get("scrape_interval") or "30s"),
        # Every ServiceMonitor and PodMonitor of the cluster, not only the chart's own: the platform's included.
        "serviceMonitorSelectorNilUsesHelmValues": False,
        "podMonitorSelectorNilUsesHelmValues": False,
        "ruleSelectorNilUsesHelmValues": False,
        "storageSpec": {"volumeClaimTemplate": {"spec": storage}},
    }
    if settings.get("retention_size"):
        prometheus_spec["retentionSize"] = str(settings["retention_size"])
    grafana: dict = {"fullnameOverride": "%s-grafana" % release,
                     "sidecar": {"dashboards": {"enabled": True, "label": "grafana_dashboard", "labelValue": "1", "searchNamespace": "ALL"}}}
    if settings.get("grafana_admin_secret"):
        grafana["admin"] = {"existingSecret": str(settings["grafana_admin_secret"]), "userKey": "admin-user", "passwordKey": "admin-password"}
    host = str(settings.get("grafana_ingress_host") or "")
    if host:
        grafana["ingress"] = {"enabled": True, "ingressClassName": str(settings.get("grafana_ingress_class") or "traefik"), "hosts": [host]}
    values = {
        "fullnameOverride": release,
        # K3s serves these on loopback inside its one process: nothing to scrape from a pod, and no alert to raise.
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeProxy": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "prometheus": {"prometheusSpec": prometheus_spec},
        "grafana": grafana,
        "kube-state-metrics": {"metricLabelsAllowlist": [_NODE_LABELS_ALLOWED]},
    }
    return helm_values_merge([values, settings.get("values") or {}])


def monitoring_dcgm_affinity(gpu_label: str = "nvidia.com/gpu.present", gpu_types: list | None = None) -> dict:
    """Node affinity of the DCGM exporter: GPU nodes only (the collection's GPU label), and of the given ``gpu-type``s if any."""
    affinity = device_plugin_affinity(gpu_label)
    if gpu_types:
        if not isinstance(gpu_types, list) or not all(isinstance(item, str) and item for item in gpu_types):
            raise AnsibleFilterError("monitoring_dcgm_gpu_types must be a list of gpu-type label values (H100, A10...).")
        terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        for term in terms:
            term["matchExpressions"].append({"key": GPU_TYPE_LABEL, "operator": "In", "values": sorted(set(gpu_types))})
    return affinity


def monitoring_dcgm_report(daemonset: Mapping | None, pods: list, nodes: list, gpu_label: str = "nvidia.com/gpu.present",
                           gpu_types: list | None = None) -> dict:
    """Whether the DCGM exporter runs on every GPU node the cluster labels (of the given types): {installed, desired, ready,
    gpu_nodes, missing, ok, message}. A DaemonSet with no pod counts as ready to Kubernetes, so the nodes are counted here."""
    wanted = sorted(name for name, labels in _node_labels(nodes).items()
                    if labels.get(gpu_label) == "true" and (not gpu_types or labels.get(GPU_TYPE_LABEL) in gpu_types))
    ready_on = {(pod.get("spec") or {}).get("nodeName") for pod in pods or [] if _ready(pod)}
    missing = [name for name in wanted if name not in ready_on]
    status = (daemonset or {}).get("status") or {}
    report = {"installed": bool(daemonset), "desired": int(status.get("desiredNumberScheduled") or 0), "ready": int(status.get("numberReady") or 0),
              "gpu_nodes": len(wanted), "missing": missing}
    report["ok"] = bool(daemonset) and not missing
    if not daemonset:
        report["message"] = "the DCGM exporter is not installed"
    elif missing:
        report["message"] = "no ready DCGM exporter on %s" % ", ".join(missing)
    else:
        report["message"] = "DCGM exporter ready on %d of %d GPU nodes" % (len(wanted), len(wanted))
    return report


def monitoring_workload_ready(resources: list) -> bool:
    """Whether the first of k8s_info's ``resources`` (a Deployment or StatefulSet) has all its replicas ready."""
    if not resources:
        return False
    workload = resources[0] or {}
    wanted = int(((workload.get("spec") or {}).get("replicas")) if (workload.get("spec") or {}).get("replicas") is not None else 1)
    return int((workload.get("status") or {}).get("readyReplicas") or 0) >= wanted


def _node_labels(nodes: list) -> dict:
    return {(node.get("metadata") or {}).get("name"): (node.get("metadata") or {}).get("labels") or {} for node in nodes or []}


def _ready(pod: Mapping) -> bool:
    return any(item.get("type") == "Ready" and item.get("status") == "True" for item in (pod.get("status") or {}).get("conditions") or [])


def monitoring_grafana_access(settings: Mapping) -> str:
    """Where Grafana is reached: its ingress URL, or the port-forward command. ``settings``: release, namespace, ingress_host."""
    host = str(settings.get("ingress_host") or "")
    if host:
        return "http://%s/" % host
    return "kubectl -n %s port-forward svc/%s-grafana 3000:80, then http://localhost:3000/" % (
        settings.get("namespace") or "monitoring", settings.get("release") or "monitoring")


class FilterModule:
    """GPU monitoring."""

    def filters(self) -> dict:
        return {"monitoring_stack_values": monitoring_stack_values, "monitoring_dcgm_affinity": monitoring_dcgm_affinity,
                "monitoring_grafana_access": monitoring_grafana_access, "monitoring_dcgm_report": monitoring_dcgm_report,
                "monitoring_workload_ready": monitoring_workload_ready}
