# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a run is shown: a live progress view on a terminal, a line per event elsewhere (CI logs), and the same
summary at the end of both.

The mode is chosen once. rich's own fallback for Live on a non-terminal prints nothing until the run ends, so
it is never used: off a terminal the plain display prints each event as it comes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from lambda_k3s_cli.outcome import ExitCode
from lambda_k3s_cli.progress import IGNORED, Notice, RunProgress

AUTO, LIVE, PLAIN = "auto", "live", "plain"
MODES = (AUTO, LIVE, PLAIN)
_OUTCOME_STYLES = {"ok": "green", "changed": "yellow", "skipped": "dim", "failed": "bold red", "unreachable": "bold magenta",
                   IGNORED: "dim red"}
_STAGE_MARKS = {"done": ("✓", "green"), "failed": ("✗", "bold red"), "pending": ("·", "dim"), "not selected": ("-", "dim")}


class Display(Protocol):
    def start(self) -> None: ...

    def handle(self, notices: Iterable[Notice]) -> None: ...

    def tick(self) -> None: ...

    def stop(self) -> None: ...


def choose_mode(requested: str, console: Console) -> str:
    """live on an interactive terminal (rich's detection: isatty, TERM, FORCE_COLOR, TTY_COMPATIBLE, TTY_INTERACTIVE), else plain."""
    if requested in (LIVE, PLAIN):
        return requested
    return LIVE if console.is_terminal and console.is_interactive else PLAIN


def make_display(mode: str, console: Console, progress: RunProgress, title: str, logs_hint: str) -> Display:
    if mode == LIVE:
        return LiveDisplay(console, progress, title, logs_hint)
    return PlainDisplay(console, progress, title, logs_hint)


def duration(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    return "%dm%02ds" % (minutes, seconds) if minutes else "%ds" % seconds


class PlainDisplay:
    """A line per event, each stamped with the time since the start: what a CI log can show as it happens."""

    def __init__(self, console: Console, progress: RunProgress, title: str, logs_hint: str) -> None:
        self.console = console
        self.progress = progress
        self.title = title
        self.logs_hint = logs_hint

    def start(self) -> None:
        self._print(Text("%s (%s)" % (self.title, self.logs_hint)))

    def handle(self, notices: Iterable[Notice]) -> None:
        for notice in notices:
            line = self._line(notice)
            if line is not None:
                self._print(line)

    def tick(self) -> None:
        """Nothing moves between events in a log."""

    def stop(self) -> None:
        """Every event has been printed already."""

    def _print(self, line: Text) -> None:
        stamp = Text("[%s] " % _clock(self.progress.elapsed), style="dim")
        self.console.print(stamp + line, soft_wrap=True, highlight=False)

    def _line(self, notice: Notice) -> Text | None:
        if notice.kind == "stage":
            return Text("== stage %s" % notice.text, style="bold")
        if notice.kind == "play":
            return Text("-- play %s" % notice.text, style="bold")
        if notice.kind == "task":
            return Text("   task %s" % notice.text)
        if notice.kind == "result":
            return _result_line(notice)
        if notice.kind in ("warning", "error"):
            label = " " * len(notice.kind) if notice.continued else notice.kind.upper()
            return Text("%s %s" % (label, _indent(notice.text)), style="yellow" if notice.kind == "warning" else "red")
        if notice.kind == "message":
            return Text("     %s: %s" % (notice.host, _indent(notice.text)))
        return None


class LiveDisplay:
    """A compact view redrawn in place: stages, the current task and how many hosts are done with it, each host's
    task and counts, failures. Warnings, task messages and failures are also printed above it as they come."""

    _MIN_INTERVAL = 0.1

    def __init__(self, console: Console, progress: RunProgress, title: str, logs_hint: str) -> None:
        self.console = console
        self.progress = progress
        self.title = title
        self.logs_hint = logs_hint
        self._spinner = Spinner("dots", style="cyan")
        self._live: Live | None = None
        self._drawn_at = 0.0

    def start(self) -> None:
        # Refreshed from this thread only (no auto-refresh thread reading the progress while it changes).
        self._live = Live(self._render(), console=self.console, auto_refresh=False, transient=True,
                          redirect_stdout=False, redirect_stderr=False)
        self._live.start()

    def handle(self, notices: Iterable[Notice]) -> None:
        for notice in notices:
            line = self._above(notice)
            if line is not None and self._live is not None:
                self._live.console.print(line, highlight=False)
        self.tick()

    def tick(self) -> None:
        if self._live is not None and self.progress.elapsed - self._drawn_at >= self._MIN_INTERVAL:
            self._drawn_at = self.progress.elapsed
            self._live.update(self._render(), refresh=True)

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _above(self, notice: Notice) -> Text | None:
        if notice.kind == "result" and notice.outcome in ("failed", "unreachable"):
            return _result_line(notice)
        if notice.kind in ("warning", "error"):
            label = " " * len(notice.kind) if notice.continued else notice.kind.upper()
            return Text("%s %s" % (label, notice.text), style="yellow" if notice.kind == "warning" else "red")
        if notice.kind == "message":
            return Text("%s: %s" % (notice.host, notice.text))
        return None

    def _render(self) -> RenderableType:
        progress = self.progress
        parts: list[RenderableType] = [Text.assemble((self.title, "bold"), " · %s" % _clock(progress.elapsed))]
        parts.append(self._stages())
        if progress.task:
            parts.append(Text.assemble(
                (progress.stage, "bold cyan"), " › ", progress.task,
                ("  %d/%d hosts" % (len(progress.task_done), len(progress.task_hosts)), "dim"),
                ("  · %d tasks" % progress.tasks_run, "dim")))
        if progress.hosts:
            parts.append(self._hosts())
        failures = progress.failures
        if failures:
            last = failures[-1]
            count = "%d failure%s" % (len(failures), "" if len(failures) == 1 else "s")
            parts.append(Text("%s, last: %s in %s: %s" % (count, last["host"], last["stage"], last["message"]), style="red",
                              overflow="ellipsis", no_wrap=True))
        parts.append(Text(self.logs_hint, style="dim", overflow="ellipsis", no_wrap=True))
        return Group(*parts)

    def _stages(self) -> Text:
        line = Text()
        for stage in self.progress.ledger.report()["stages"]:
            name = stage["name"]
            if name == self.progress.stage and self.progress.finished_at is None:
                line.append_text(Text.assemble(self._spinner.render(self.progress.elapsed), " ", (name, "bold cyan"), "   "))
                continue
            state = "failed" if stage["state"] == "failed" else "done" if stage["state"] in ("ok", "no hosts", "skipped") else \
                "not selected" if stage["state"] == "not selected" else "pending"
            mark, style = _STAGE_MARKS[state]
            line.append("%s %s   " % (mark, name), style=style)
        return line

    def _hosts(self) -> Table:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False, show_edge=False)
        for column, justify in (("host", "left"), ("stage", "left"), ("task", "left"), ("ok", "right"), ("changed", "right"),
                                ("failed", "right")):
            table.add_column(column, justify=justify, no_wrap=True, overflow="ellipsis", max_width=48 if column == "task" else None)
        hosts = sorted(self.progress.hosts.values(), key=lambda host: (not host.trouble, host.name))
        room = max(3, self.console.height - 12)
        for host in hosts[:room]:
            failed = host.counts["failed"] + host.counts["unreachable"]
            table.add_row(Text(host.name, style=_OUTCOME_STYLES.get(host.trouble, "")), host.stage, host.task,
                          str(host.counts["ok"] + host.counts["changed"]), str(host.counts["changed"]),
                          Text(str(failed), style="bold red" if failed else "dim"))
        if len(hosts) > room:
            table.add_row(Text("… %d more" % (len(hosts) - room), style="dim"), "", "", "", "", "")
        return table


def render_summary(console: Console, verb: str, summary: dict[str, Any], code: ExitCode, elapsed: float, artifacts: Path) -> None:
    """The end of every run, in both modes: stages, hosts, failures, and the result with where the artifacts are."""
    stages = summary.get("stages", [])
    if len(stages) > 1:
        table = Table(title="Stages", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in ("stage", "result", "hosts", "detail"):
            table.add_column(column, overflow="fold")
        for stage in stages:
            detail = stage["reason"] or "; ".join(filter(None, (
                "failed: " + ", ".join(stage["failed"]) if stage["failed"] else "",
                "unreachable: " + ", ".join(stage["unreachable"]) if stage["unreachable"] else "")))
            style = "red" if stage["state"] == "failed" else "green" if stage["state"] == "ok" else "dim"
            table.add_row(stage["name"], Text(stage["state"], style=style), str(stage["hosts"]), detail)
        console.print(table)
    hosts = summary.get("hosts", {})
    if hosts:
        table = Table(title="Hosts", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        columns = ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")
        table.add_column("host", no_wrap=True)
        for column in columns:
            table.add_column("unreachable" if column == "dark" else "failed" if column == "failures" else column, justify="right")
        for name, counts in hosts.items():
            trouble = counts["failures"] or counts["dark"]
            table.add_row(Text(name, style="red" if trouble else ""), *(str(counts[column]) for column in columns))
        console.print(table)
    for failure in summary.get("failures", []):
        what = "UNREACHABLE" if failure["unreachable"] else "FAILED"
        where = " %s in %s, task \"%s\": %s" % (failure["host"], failure["stage"], failure["task"], failure["message"])
        console.print(Text.assemble((what, "bold red"), where), soft_wrap=True, highlight=False)
    style = "bold green" if code == ExitCode.OK else "bold red"
    console.print(Text.assemble((verb, "bold"), " ", (code.meaning, style), " (exit %d) in %s; %d changed. Artifacts: %s"
                                % (code, duration(elapsed), summary.get("changed", 0), artifacts)), soft_wrap=True, highlight=False)


def _result_line(notice: Notice) -> Text:
    outcome = notice.outcome
    label = outcome.upper() if outcome in ("failed", "unreachable") else outcome
    line = Text.assemble(("%11s " % label, _OUTCOME_STYLES.get(outcome, "")), notice.host)
    if notice.text:
        line.append(": " + notice.text)
    return line


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return "%02d:%02d" % (minutes, seconds)


def _indent(text: str) -> str:
    return text.replace("\n", "\n        ")
