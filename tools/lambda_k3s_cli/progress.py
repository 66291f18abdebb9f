# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run is doing, read from ansible-runner's events: the stage, each host's task and counts, the current
task's progress across hosts, and the failures (kept by the collection's run ledger, which also writes the
summary ansible-playbook users see)."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sophia.lambda_k3s.plugins.plugin_utils.run_summary import (
    CHANGED,
    FAILED,
    OK,
    SKIPPED,
    UNREACHABLE,
    RunLedger,
    failure_message,
)

from lambda_k3s_cli.project import StageMap

IGNORED = "ignored"
STATS_KEYS = ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored", "processed")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LABEL = re.compile(r"^\s*\[(WARNING|ERROR|DEPRECATION WARNING)\]:\s*", re.IGNORECASE)


@dataclass
class Notice:
    """Something worth a line: a stage or task starting, a host's result, a warning, a task's message."""

    kind: str
    text: str = ""
    host: str = ""
    outcome: str = ""
    # A further line of the warning or error before it.
    continued: bool = False


@dataclass
class HostState:
    name: str
    stage: str = ""
    task: str = ""
    counts: Counter = field(default_factory=Counter)

    @property
    def trouble(self) -> str:
        """failed, unreachable, or empty."""
        return UNREACHABLE if self.counts[UNREACHABLE] else FAILED if self.counts[FAILED] else ""


class RunProgress:
    """The state of one run, advanced event by event (apply) in the order ansible-runner emits them.

    ``stage_map`` names the stage of each play (site.yml's stages); plays it does not know belong to
    ``default_stage`` (the verb). ``show_messages``: report what debug tasks print.
    """

    def __init__(self, stage_map: StageMap, default_stage: str, not_selected: tuple[str, ...] = (), show_messages: bool = True) -> None:
        self.stage_map = stage_map
        self.default_stage = default_stage
        self.show_messages = show_messages
        self.ledger = RunLedger(stage_map.stages or (default_stage,), not_selected)
        self.stage = ""
        self.task = ""
        self.tasks_run = 0
        self.hosts: dict[str, HostState] = {}
        self.task_hosts: set[str] = set()
        self.task_done: set[str] = set()
        self.stats: dict[str, dict[str, int]] | None = None
        self.artifact_data: dict[str, Any] = {}
        self.started_at = time.monotonic()
        self.finished_at: float | None = None
        # The kind of the warning or error whose wrapped lines are arriving as verbose events.
        self._verbose_kind = ""

    @property
    def elapsed(self) -> float:
        return (self.finished_at or time.monotonic()) - self.started_at

    @property
    def failures(self) -> list[dict[str, Any]]:
        return self.ledger.report()["failures"]

    def apply(self, event: Mapping[str, Any]) -> list[Notice]:
        if event.get("event") != "verbose":
            self._verbose_kind = ""
        handler = getattr(self, "_on_" + str(event.get("event", "")), None)
        return handler(event.get("event_data") or {}, event) if handler else []

    def finish(self, canceled: bool) -> None:
        self.finished_at = time.monotonic()
        self.ledger.canceled = canceled

    # -- events ------------------------------------------------------------------------------------

    def _on_playbook_on_play_start(self, data: Mapping[str, Any], _event: Mapping) -> list[Notice]:
        play = str(data.get("name") or data.get("play") or "")
        stage = self.stage_map.stage_of(play, self.default_stage)
        notices = []
        if stage != self.stage:
            self.stage = stage
            notices.append(Notice("stage", stage))
        self.ledger.start(stage)
        notices.append(Notice("play", play))
        return notices

    def _on_playbook_on_task_start(self, data: Mapping[str, Any], _event: Mapping) -> list[Notice]:
        self.task = str(data.get("task") or data.get("name") or "")
        self.task_hosts, self.task_done = set(), set()
        self.tasks_run += 1
        return [Notice("task", self.task)]

    def _on_runner_on_start(self, data: Mapping[str, Any], _event: Mapping) -> list[Notice]:
        host = self._host(data)
        host.stage, host.task = self.stage, self.task
        self.task_hosts.add(host.name)
        return []

    def _on_runner_on_ok(self, data: Mapping[str, Any], _event: Mapping) -> list[Notice]:
        result = data.get("res") if isinstance(data.get("res"), Mapping) else {}
        notices = self._result(data, CHANGED if result.get("changed") else OK)
        if self.show_messages and str(data.get("task_action", "")).rsplit(".", 1)[-1] == "debug" and "msg" in result:
            notices.append(Notice("message", _text(result["msg"]), host=str(data.get("host", ""))))
        return notices

    def _on_runner_on_skipped(self, data: Mapping[str, Any], _event: Mapping) -> list[Notice]:
        return self._result(data, SKIPPED)

    def _on_runner_on_failed(self, data: Mapping[str, Any], _event: Mapping) -> list[Notice]:
        return self._result(data, IGNORED if data.get("ignore_errors") else FAILED)

    def _on_runner_on_unreachable(self, data: Mapping[str, Any], _event: Mapping) -> list[Notice]:
        return self._result(data, UNREACHABLE)

    def _on_playbook_on_stats(self, data: Mapping[str, Any], _event: Mapping) -> list[Notice]:
        self.stats = {key: dict(data.get(key) or {}) for key in STATS_KEYS}
        self.artifact_data = dict(data.get("artifact_data") or {})
        troubled = {host for key in ("failures", "dark") for host, count in self.stats[key].items() if count}
        self.ledger.settle(troubled)
        return []

    def _on_verbose(self, _data: Mapping[str, Any], event: Mapping) -> list[Notice]:
        """ansible-playbook's own warnings and errors (an inventory that failed to load, a --limit that matches nothing)
        come as plain output lines, wrapped at 80 columns: a [WARNING] or [ERROR] line and the lines after it."""
        line = _ANSI.sub("", str(event.get("stdout", ""))).rstrip()
        label = _LABEL.match(line)
        if label:
            kind = label.group(1).upper()
            self._verbose_kind = "" if kind.startswith("DEPRECATION") else "warning" if kind == "WARNING" else "error"
            return [Notice(self._verbose_kind, _clean(line))] if self._verbose_kind else []
        if self._verbose_kind and line.strip():
            return [Notice(self._verbose_kind, line.strip(), continued=True)]
        self._verbose_kind = ""
        return []

    def _on_warning(self, _data: Mapping[str, Any], event: Mapping) -> list[Notice]:
        return [Notice("warning", _clean(event.get("stdout", "")))] if event.get("stdout") else []

    def _on_error(self, _data: Mapping[str, Any], event: Mapping) -> list[Notice]:
        return [Notice("error", _clean(event.get("stdout", "")))] if event.get("stdout") else []

    # -- helpers -----------------------------------------------------------------------------------

    def _host(self, data: Mapping[str, Any]) -> HostState:
        name = str(data.get("host", ""))
        if name not in self.hosts:
            self.hosts[name] = HostState(name)
        return self.hosts[name]

    def _result(self, data: Mapping[str, Any], outcome: str) -> list[Notice]:
        host = self._host(data)
        host.stage, host.task = self.stage, self.task
        host.counts[outcome] += 1
        self.task_done.add(host.name)
        self.task_hosts.add(host.name)
        result = data.get("res") if isinstance(data.get("res"), Mapping) else {}
        self.ledger.record(self.stage, host.name, OK if outcome == IGNORED else outcome, task=self.task, result=result,
                           action=str(data.get("resolved_action") or data.get("task_action") or ""),
                           task_path=str(data.get("task_path") or ""))
        text = failure_message(result) if outcome in (FAILED, UNREACHABLE, IGNORED) else ""
        return [Notice("result", text, host=host.name, outcome=outcome)]

    def summary(self) -> dict[str, Any]:
        """The run's outcome as plain data: stages, per-host counts from the recap, failures, changes."""
        report = self.ledger.report()
        stats = self.stats or {}
        hosts = {}
        for name in sorted(set(self.hosts) | set(stats.get("processed", {}))):
            hosts[name] = {key: int(stats.get(key, {}).get(name, 0)) for key in STATS_KEYS if key != "processed"}
        return {"stages": report["stages"], "failures": report["failures"], "hosts": hosts,
                "changed": sum(host["changed"] for host in hosts.values()), "tasks": self.tasks_run}


def _clean(text: str) -> str:
    lines = [_LABEL.sub("", _ANSI.sub("", line)).rstrip() for line in str(text).splitlines()]
    return "\n".join(line for line in lines if line.strip())


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "\n".join(value)
    return json.dumps(value, indent=2, sort_keys=True, default=str)
