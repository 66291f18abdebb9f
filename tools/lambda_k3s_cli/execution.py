# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One playbook run through ansible-runner's Python API: events shown as they come, Ctrl-C cancels the run,
artifacts kept where CI can find them, and the outcome as an exit code.

The runner thread only queues events (a copy, returned True so runner still writes each to job_events/); this
thread draws them. With a cancel_callback of ours, runner installs no signal handler: SIGINT and SIGTERM are
handled here (Interruption), and the run ends as canceled.
"""

from __future__ import annotations

import copy
import json
import os
import queue
import re
import secrets
import shlex
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import ansible_runner
from rich.console import Console

from lambda_k3s_cli.display import make_display
from lambda_k3s_cli.environment import scrub_command_file
from lambda_k3s_cli.outcome import ExitCode, classify
from lambda_k3s_cli.progress import RunProgress
from lambda_k3s_cli.project import Project, StageMap

# A run's directory name: <verb>-<UTC time>-<random>. Only directories named so are ever pruned.
_IDENT = re.compile(r"^[a-z][a-z0-9-]*-\d{8}T\d{6}Z-[0-9a-f]{6}$")
_POLL_SECONDS = 0.1


@dataclass
class RunRequest:
    """What to run: a playbook of the checkout with ansible-playbook's usual options."""

    verb: str
    playbook: Path
    inventory: str | None = None
    extra_vars: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    # Run on these nodes only (--limit); the command checks each is one of the inventory's first.
    nodes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    skip_tags: list[str] = field(default_factory=list)
    check: bool = False
    diff: bool = False
    verbosity: int = 0
    stage_map: StageMap = field(default_factory=StageMap)
    not_selected: tuple[str, ...] = ()
    # Why stages were left out, when the run was told (the lab skips what its stand-in K3s cannot serve).
    skip_reasons: dict[str, str] = field(default_factory=dict)
    show_messages: bool = True

    def arguments(self) -> list[str]:
        """ansible-playbook's arguments besides the playbook and the inventory."""
        arguments = []
        for value in self.extra_vars:
            arguments += ["-e", value]
        if self.variables:
            arguments += ["-e", json.dumps(self.variables, sort_keys=True)]
        if self.nodes:
            arguments += ["--limit", ",".join(self.nodes)]
        if self.tags:
            arguments += ["--tags", ",".join(self.tags)]
        if self.skip_tags:
            arguments += ["--skip-tags", ",".join(self.skip_tags)]
        arguments += ["--check"] * self.check + ["--diff"] * self.diff
        if self.verbosity:
            arguments.append("-" + "v" * min(self.verbosity, 6))
        return arguments


@dataclass
class RunResult:
    ident: str
    artifact_dir: Path
    status: str
    rc: int
    code: ExitCode
    summary: dict[str, Any]
    artifact_data: dict[str, Any]


@dataclass
class Runs:
    """Where runs keep their artifacts, how many are kept, and what every run's environment holds."""

    project: Project
    artifacts_root: Path
    keep: int
    environment: dict[str, str]
    console: Console
    mode: str

    def execute(self, request: RunRequest) -> RunResult:
        self.artifacts_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        ident = "%s-%s-%s" % (request.verb, datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"), secrets.token_hex(3))
        artifact_dir = self.artifacts_root / ident
        progress = RunProgress(request.stage_map, request.verb, request.not_selected, request.show_messages)
        title = "lambda-k3s %s: %s" % (request.verb, self.project.relative(request.playbook))
        display = make_display(self.mode, self.console, progress, title, "logs: %s" % (artifact_dir / "stdout"))
        events: queue.Queue[dict[str, Any]] = queue.Queue()
        interruption = Interruption()

        def keep_event(event: dict[str, Any]) -> bool:
            interruption.saw(event)
            events.put(copy.deepcopy(event))
            return True

        # ansible-runner needs a private data directory; it holds nothing here (env files suppressed, artifacts
        # elsewhere), and goes when the run ends.
        scratch = Path(tempfile.mkdtemp(prefix="lambda-k3s-runner-"))
        try:
            with interruption.on_signals():
                thread, runner = ansible_runner.run_async(
                    private_data_dir=str(scratch), artifact_dir=str(self.artifacts_root), ident=ident,
                    project_dir=str(self.project.root), playbook=self.project.relative(request.playbook),
                    inventory=request.inventory, cmdline=shlex.join(request.arguments()), envvars=self.environment,
                    quiet=True, suppress_env_files=True, event_handler=keep_event, cancel_callback=interruption.cancel,
                    finished_callback=lambda _runner: scrub_command_file(artifact_dir))
                display.start()
                try:
                    while thread.is_alive() or not events.empty():
                        try:
                            event = events.get(timeout=_POLL_SECONDS)
                        except queue.Empty:
                            display.tick()
                            continue
                        display.handle(progress.apply(event))
                    thread.join()
                finally:
                    progress.finish(canceled=interruption.requested.is_set())
                    display.stop()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        summary = progress.summary()
        for stage in summary.get("stages", []):
            if stage["state"] == "not selected" and stage["name"] in request.skip_reasons:
                stage["reason"] = "skipped: " + request.skip_reasons[stage["name"]]
        # Interrupted, ansible-playbook may end by itself before runner cancels it: the run was canceled all the same.
        status = "canceled" if interruption.requested.is_set() else runner.status
        code = classify(status, runner.rc if isinstance(runner.rc, int) else 1, progress.stats, summary["failures"])
        summary.update(verb=request.verb, ident=ident, playbook=self.project.relative(request.playbook), status=status,
                       rc=runner.rc, exit_code=int(code), result=code.meaning, duration_seconds=round(progress.elapsed, 1),
                       artifact_data=progress.artifact_data)
        _write_private(artifact_dir / "summary.json", json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
        self._prune()
        return RunResult(ident, artifact_dir, status, runner.rc, code, summary, progress.artifact_data)

    def _prune(self) -> None:
        """Keep the newest runs only; directories the command did not name are never touched."""
        if self.keep < 1:
            return
        runs = sorted((path for path in self.artifacts_root.iterdir() if path.is_dir() and _IDENT.match(path.name)),
                      key=lambda path: path.stat().st_mtime)
        for stale in runs[:-self.keep]:
            shutil.rmtree(stale, ignore_errors=True)


class Interruption:
    """Ctrl-C (SIGINT) or a stopped CI job (SIGTERM), passed on to ansible-playbook before the run is canceled.

    ansible-runner cancels by killing ansible-playbook's process group, which does not reach Ansible's workers: they
    run in sessions of their own and would go on with their task. So ansible-playbook is interrupted first, which
    stops its workers and makes it say "User interrupted execution"; then the cancel callback tells runner to kill
    what is left. Should ansible-playbook not say so within a grace period (an interrupt that lands while it forks a
    worker is lost), every process below it is killed before runner kills it.
    """

    GRACE_SECONDS = 10.0
    _ACKNOWLEDGED = "User interrupted execution"

    def __init__(self) -> None:
        self.requested = threading.Event()
        self._acknowledged = threading.Event()
        self._requested_at = 0.0

    def request(self, _number: int = 0, _frame: object = None) -> None:
        if not self.requested.is_set():
            self._requested_at = time.monotonic()
            self.requested.set()
            _signal_processes(_children(), signal.SIGINT)

    def saw(self, event: Mapping[str, Any]) -> None:
        if self.requested.is_set() and self._ACKNOWLEDGED in str(event.get("stdout", "")):
            self._acknowledged.set()

    def cancel(self) -> bool:
        """ansible-runner's cancel_callback."""
        if not self.requested.is_set():
            return False
        if self._acknowledged.is_set():
            return True
        if time.monotonic() - self._requested_at > self.GRACE_SECONDS:
            _signal_processes(_descendants(_children()), signal.SIGKILL)
            return True
        return False

    @contextmanager
    def on_signals(self) -> Iterator[None]:
        """SIGINT and SIGTERM interrupt the run instead of killing this process, while the run lasts."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
        for number in previous:
            signal.signal(number, self.request)
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def _parents() -> dict[int, int]:
    """Every process's parent, from /proc (Linux; elsewhere nothing is known and ansible-runner's kill is all there is)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return parents


def _children() -> list[int]:
    """This process's children: ansible-runner's ansible-playbook."""
    me = os.getpid()
    return [pid for pid, parent in _parents().items() if parent == me]


def _descendants(roots: list[int]) -> list[int]:
    """Every process below ``roots`` (Ansible's workers keep ansible-playbook as their parent in their own sessions)."""
    parents = _parents()
    found, frontier = [], list(roots)
    while frontier:
        below = [pid for pid, parent in parents.items() if parent in frontier and pid not in found]
        found += below
        frontier = below
    return found


def _signal_processes(pids: list[int], number: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, number)
        except OSError:
            continue


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def load_summary(artifact_dir: Path) -> Mapping[str, Any]:
    return json.loads((artifact_dir / "summary.json").read_text(encoding="utf-8"))
