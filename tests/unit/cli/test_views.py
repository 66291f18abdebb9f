"""status, rollback and logs output from canned set_stats data shaped as the cluster plays publish it."""

from __future__ import annotations

import io
import json

from lambda_k3s_cli.views import as_json, device_plugin_line, log_lines, release_line, render_logs, render_rollback, render_status
from rich.console import Console

STATUS = {
    "nodes": [
        {"name": "demo-a10-1", "role": "agent", "gpu_type": "A10", "region": "us-east-1", "instance_type": "gpu_1x_a10", "ready": True,
         "allocatable_gpus": 1, "gpu_count": 1, "version": "v1.35.6+k3s1", "schedulable": True},
        {"name": "demo-gh200-1", "role": "agent", "gpu_type": "GH200", "region": "us-west-1", "instance_type": "gpu_1x_gh200",
         "ready": False, "allocatable_gpus": 0, "gpu_count": 1, "version": "v1.35.6+k3s1", "schedulable": False},
        {"name": "demo-server-1", "role": "server", "gpu_type": None, "region": "us-east-1", "instance_type": "cpu_4x_general",
         "ready": True, "allocatable_gpus": 0, "gpu_count": 0, "version": "v1.35.6+k3s1", "schedulable": True},
    ],
    "device_plugin": {"installed": True, "desired": 2, "ready": 1, "gpu_nodes": 2, "message": "1 pod not ready"},
    "release": {"name": "sophia-platform", "namespace": "sophia-ai", "revision": 4, "status": "deployed", "chart": "sophia-platform-1.2.0",
                "app_version": "1.2.0", "updated": "2026-11-30T10:00:00Z"},
    "skipped": [{"stage": "release", "reason": "helm is not installed on demo-server-1"}],
}


def rendered(render, data) -> str:
    out = Console(file=io.StringIO(), width=140, color_system=None)
    render(out, data)
    return out.file.getvalue()


def test_status_shows_each_node_with_role_gpu_region_readiness_gpus_and_version() -> None:
    text = rendered(render_status, STATUS)
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith("demo-")}
    assert rows["demo-a10-1"] == ["demo-a10-1", "agent", "A10", "us-east-1", "gpu_1x_a10", "Ready", "1/1", "v1.35.6+k3s1"]
    assert rows["demo-gh200-1"][5:7] == ["NotReady,SchedulingDisabled", "0/1"]
    assert rows["demo-server-1"][2] == "-" and rows["demo-server-1"][6] == "-"
    assert "Device plugin: 1/2 ready on 2 GPU nodes (1 pod not ready)" in text
    assert "Release: sophia-platform (sophia-ai) revision 4, deployed, chart sophia-platform-1.2.0, app 1.2.0" in text
    assert "Not checked: release: helm is not installed on demo-server-1" in text
    assert "GitOps" not in text, "status data without add-ons shows no add-on line"


def test_status_shows_the_add_ons_sync_health_and_where_grafana_is() -> None:
    addons = {"gitops": {"enabled": True, "installed": True, "sync": "Synced", "health": "Healthy", "revision": "v1.1.0", "message": ""},
              "monitoring": {"enabled": True, "up": True, "grafana": "kubectl -n monitoring port-forward svc/grafana 3000:80",
                             "message": "Prometheus, Grafana and the DCGM exporter ready"}}
    text = rendered(render_status, {**STATUS, "addons": addons})
    assert "GitOps: Application Synced, Healthy, revision v1.1.0" in text
    assert "Monitoring: up; Prometheus, Grafana and the DCGM exporter ready; Grafana: kubectl -n monitoring port-forward svc/grafana 3000:80" in text
    off = rendered(render_status, {**STATUS, "addons": {"gitops": {"enabled": False}, "monitoring": {"enabled": False}}})
    assert "GitOps: off" in off and "Monitoring: off" in off


def test_missing_parts_are_said_plainly() -> None:
    assert device_plugin_line(None).plain == "Device plugin: not installed"
    assert release_line({"name": "sophia-platform", "namespace": "sophia-ai", "revision": None}).plain == \
        "Release: sophia-platform (sophia-ai) not installed"


def test_status_json_is_the_published_data() -> None:
    assert json.loads(as_json(STATUS)) == STATUS


def test_rollback_says_from_and_to_which_revision() -> None:
    text = rendered(render_rollback, {"release": "sophia-platform", "from_revision": 5, "to_revision": 4})
    assert text.strip() == "Rolled back sophia-platform from revision 5 to revision 4"


def test_logs_are_prefixed_by_node_or_pod_and_service() -> None:
    data = {"nodes": {"demo-server-1": {"k3s": "line a\nline b"}, "demo-a10-1": {"k3s": "line c"}},
            "pods": {"sophia-platform-api-0": "[pod/api] started"}, "platform_error": ""}
    assert log_lines(data) == [("demo-a10-1 k3s", "line c"), ("demo-server-1 k3s", "line a"), ("demo-server-1 k3s", "line b"),
                               ("platform sophia-platform-api-0", "[pod/api] started")]
    text = rendered(render_logs, data)
    assert "platform sophia-platform-api-0 | [pod/api] started" in text
    assert "demo-a10-1 k3s                 | line c" in text


def test_logs_say_when_the_platform_could_not_be_read_or_nothing_matched() -> None:
    assert "Platform logs unavailable: k3s: not found" in rendered(render_logs, {"platform_error": "k3s: not found"})
    assert "No log lines matched." in rendered(render_logs, {})
