# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What status, rollback and logs print, from the data their playbooks publish with set_stats
(lambda_k3s_status, lambda_k3s_rollback, lambda_k3s_logs; docs/cli.md describes the shapes)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ansible_collections.sophia.lambda_k3s.plugins.filter.addons_status import addons_status_lines


def status_table(data: Mapping[str, Any]) -> Table:
    """One row per Kubernetes node: name, role, GPU type, region, Ready, allocatable GPUs, version."""
    table = Table(title="Nodes", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column, justify in (("name", "left"), ("role", "left"), ("gpu", "left"), ("region", "left"), ("type", "left"),
                            ("ready", "left"), ("gpus", "right"), ("version", "left")):
        table.add_column(column, justify=justify)
    for node in data.get("nodes") or []:
        ready = bool(node.get("ready"))
        state = "Ready" if ready else "NotReady"
        if node.get("schedulable") is False:
            state += ",SchedulingDisabled"
        gpus = "%s/%s" % (node.get("allocatable_gpus", 0), node.get("gpu_count", 0)) if node.get("gpu_count") else "-"
        table.add_row(str(node.get("name", "")), str(node.get("role") or "-"), str(node.get("gpu_type") or "-"),
                      str(node.get("region") or "-"), str(node.get("instance_type") or "-"),
                      Text(state, style="green" if ready and node.get("schedulable", True) else "bold red"), gpus,
                      str(node.get("version") or "-"))
    return table


def device_plugin_line(plugin: Mapping[str, Any] | None) -> Text:
    plugin = plugin or {}
    if not plugin.get("installed"):
        return Text.assemble(("Device plugin: ", "bold"), ("not installed", "red"), _note(plugin.get("message")))
    ready, desired, gpu_nodes = plugin.get("ready", 0), plugin.get("desired", 0), plugin.get("gpu_nodes", 0)
    healthy = ready == desired and desired >= gpu_nodes
    return Text.assemble(("Device plugin: ", "bold"), ("%s/%s ready" % (ready, desired), "green" if healthy else "red"),
                         " on %s GPU node%s" % (gpu_nodes, "" if gpu_nodes == 1 else "s"), _note(plugin.get("message")))


def release_line(release: Mapping[str, Any] | None) -> Text:
    release = release or {}
    name = "%s (%s)" % (release.get("name") or "-", release.get("namespace") or "-")
    if release.get("revision") is None:
        return Text.assemble(("Release: ", "bold"), name, " ", ("not installed", "red"))
    details = ", ".join("%s %s" % (label, release[key]) for label, key in (("chart", "chart"), ("app", "app_version"), ("updated", "updated"))
                        if release.get(key))
    status = str(release.get("status") or "unknown")
    return Text.assemble(("Release: ", "bold"), name, " revision %s, " % release["revision"],
                         (status, "green" if status == "deployed" else "red"), (", " + details) if details else "")


def render_status(console: Console, data: Mapping[str, Any]) -> None:
    console.print(status_table(data))
    console.print(device_plugin_line(data.get("device_plugin")))
    console.print(release_line(data.get("release")))
    # The add-ons' lines are the status play's own (one wording for ansible-playbook and the command line); data
    # published before the add-ons existed has none.
    for line in addons_status_lines(data["addons"]) if data.get("addons") else []:
        console.print(Text(line))
    for skipped in data.get("skipped") or []:
        console.print(Text.assemble(("Not checked: ", "yellow"), "%s: %s" % (skipped.get("stage", "?"), skipped.get("reason", ""))))


def render_rollback(console: Console, data: Mapping[str, Any]) -> None:
    console.print(Text.assemble(("Rolled back ", "bold"), "%s from revision %s to revision %s" % (
        data.get("release", "?"), data.get("from_revision", "?"), data.get("to_revision", "?"))))


def log_lines(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(source, line) pairs: each node's K3s journal, then each platform pod's log, in name order."""
    lines = []
    for node, services in sorted((data.get("nodes") or {}).items()):
        for service, text in sorted((services or {}).items()):
            lines += [("%s %s" % (node, service), line) for line in str(text or "").splitlines()]
    for pod, text in sorted((data.get("pods") or {}).items()):
        lines += [("platform %s" % pod, line) for line in str(text or "").splitlines()]
    return lines


def render_logs(console: Console, data: Mapping[str, Any]) -> None:
    lines = log_lines(data)
    width = max((len(line[0]) for line in lines), default=0)
    for source, line in lines:
        console.print(Text.assemble(("%-*s | " % (width, source), "cyan"), line), soft_wrap=True, highlight=False, markup=False)
    if data.get("platform_error"):
        console.print(Text("Platform logs unavailable: %s" % data["platform_error"], style="yellow"), soft_wrap=True)
    if not lines and not data.get("platform_error"):
        console.print(Text("No log lines matched.", style="dim"))


def as_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)


def _note(message: Any) -> str:
    return " (%s)" % message if message else ""
