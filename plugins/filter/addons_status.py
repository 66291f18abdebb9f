# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The optional add-ons in the cluster's status: GitOps (Argo CD's Application of the platform) and monitoring.

The shape is part of the ``lambda_k3s_status`` contract (docs/cluster.md):
``addons: {gitops: {enabled, installed, sync, health, revision, message},
monitoring: {enabled, up, grafana, message}}``. An add-on that is off is reported as off, without reading the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.sophia.lambda_k3s.plugins.filter.gitops import gitops_application_state
from ansible_collections.sophia.lambda_k3s.plugins.filter.monitoring import (
    monitoring_dcgm_report,
    monitoring_grafana_access,
    monitoring_workload_ready,
)


def addons_status(reads: Mapping | None, settings: Mapping) -> dict:
    """{gitops, monitoring} from the reads of the cluster (k8s_info results, read with failed_when: false).

    ``reads``: application, grafana, prometheus, dcgm_daemonset, dcgm_pods, nodes. ``settings``: gitops (bool), monitoring (bool),
    monitoring_release, monitoring_namespace, grafana_ingress_host, gpu_label, dcgm (bool).
    """
    reads = reads or {}
    return {"gitops": _gitops(reads, settings), "monitoring": _monitoring(reads, settings)}


def _gitops(reads: Mapping, settings: Mapping) -> dict:
    if not settings.get("gitops"):
        return {"enabled": False, "installed": False, "sync": None, "health": None, "revision": None, "message": "off"}
    read = reads.get("application") or {}
    application = (read.get("resources") or [None])[0]
    state = gitops_application_state(application)
    if application:
        message = state["message"]
    else:
        # A failed read (no Application kind) means Argo CD is not there; an empty one, no Application yet.
        message = "Argo CD is not installed" if _first_line(read.get("msg")) else "the platform's Application does not exist yet"
    return {"enabled": True, "installed": bool(application), "sync": state["sync"], "health": state["health"], "revision": state["revision"],
            "message": message}


def _monitoring(reads: Mapping, settings: Mapping) -> dict:
    grafana = monitoring_grafana_access({"release": settings.get("monitoring_release"), "namespace": settings.get("monitoring_namespace"),
                                         "ingress_host": settings.get("grafana_ingress_host")})
    if not settings.get("monitoring"):
        return {"enabled": False, "up": False, "grafana": None, "message": "off"}
    problems = []
    if not monitoring_workload_ready((reads.get("prometheus") or {}).get("resources") or []):
        problems.append("Prometheus is not ready")
    if not monitoring_workload_ready((reads.get("grafana") or {}).get("resources") or []):
        problems.append("Grafana is not ready")
    if settings.get("dcgm", True):
        daemonset = ((reads.get("dcgm_daemonset") or {}).get("resources") or [None])[0]
        report = monitoring_dcgm_report(daemonset, (reads.get("dcgm_pods") or {}).get("resources") or [],
                                        (reads.get("nodes") or {}).get("resources") or [], settings.get("gpu_label") or "nvidia.com/gpu.present")
        if not report["ok"]:
            problems.append(report["message"])
        detail = report["message"]
    else:
        detail = "no DCGM exporter"
    return {"enabled": True, "up": not problems, "grafana": grafana,
            "message": "; ".join(problems) if problems else "Prometheus and Grafana ready; %s" % detail}


def addons_status_lines(addons: Mapping | None) -> list:
    """The add-ons' lines of the status table."""
    addons = addons or {}
    gitops = addons.get("gitops") or {}
    monitoring = addons.get("monitoring") or {}
    lines = []
    if gitops.get("enabled"):
        lines.append("GitOps: %s" % (("Application %s, %s, revision %s" % (gitops.get("sync"), gitops.get("health"), gitops.get("revision") or "-"))
                                     if gitops.get("installed") else gitops.get("message")))
    else:
        lines.append("GitOps: off")
    if monitoring.get("enabled"):
        lines.append("Monitoring: %s; %s; Grafana: %s" % ("up" if monitoring.get("up") else "NOT UP", monitoring.get("message"), monitoring.get("grafana")))
    else:
        lines.append("Monitoring: off")
    return lines


def addons_problems(addons: Mapping | None) -> list:
    """verify.yml's sentences for the enabled add-ons that are not as they should be."""
    problems = []
    gitops = (addons or {}).get("gitops") or {}
    if gitops.get("enabled") and not (gitops.get("sync") == "Synced" and gitops.get("health") == "Healthy"):
        problems.append("GitOps: the platform's Application is not Synced and Healthy (%s)." % gitops.get("message"))
    monitoring = (addons or {}).get("monitoring") or {}
    if monitoring.get("enabled") and not monitoring.get("up"):
        problems.append("Monitoring is not up: %s." % monitoring.get("message"))
    return problems


def _first_line(text) -> str:
    return str(text or "").strip().splitlines()[0] if str(text or "").strip() else ""


class FilterModule:
    """The add-ons in the cluster's status."""

    def filters(self) -> dict:
        return {"addons_status": addons_status, "addons_status_lines": addons_status_lines, "addons_problems": addons_problems}
