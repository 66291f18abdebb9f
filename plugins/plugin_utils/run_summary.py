# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a run went, stage by stage: which hosts finished each stage, which failed where and why, and which
stages never ran and why.

One ledger for both ways the pipeline is run: the run_summary callback feeds it from Ansible's callback
objects (ansible-playbook site.yml), the lambda-k3s command line from ansible-runner's events. Both pass
plain values (stage, host, outcome, task, the task's result), so the summary reads the same either way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

# What a task did on a host, worst last: a host's outcome for a stage is the worst of its tasks'.
SKIPPED, OK, CHANGED, FAILED, UNREACHABLE = "skipped", "ok", "changed", "failed", "unreachable"
_SEVERITY = {SKIPPED: 0, OK: 1, CHANGED: 2, FAILED: 3, UNREACHABLE: 4}

# The stages of site.yml, in order: the tags its imported playbooks carry. The last three are the optional
# add-ons (docs/addons.md), each off unless its variable turns it on.
SITE_STAGES = ("preflight", "gpu", "k3s", "cluster", "platform", "secrets", "monitoring", "gitops")

# Stage states in a report.
STAGE_OK, STAGE_FAILED, STAGE_NO_HOSTS, STAGE_NOT_RUN, STAGE_NOT_SELECTED = "ok", "failed", "no hosts", "not run", "not selected"
STAGE_SKIPPED = "skipped"

_MESSAGE_LIMIT = 600
_WHITESPACE = re.compile(r"\s+")


@dataclass
class Failure:
    """A task that failed on a host (or could not reach it), and what it said."""

    host: str
    stage: str
    task: str
    message: str
    unreachable: bool = False
    # The task checks input (an argument spec or a validate*.yml task file): the run was given bad input.
    input_check: bool = False


@dataclass
class _Stage:
    name: str
    started: bool = False
    outcomes: dict[str, str] = field(default_factory=dict)


def stage_of(tags: Iterable[str], name: str, stages: Iterable[str] = SITE_STAGES) -> str:
    """A play's stage: the first stage (in ``stages`` order) among its tags, else the play's own name."""
    tags = set(tags)
    return next((stage for stage in stages if stage in tags), name)


def is_input_check(action: str, task_path: str) -> bool:
    """Whether a task checks the run's input: an argument spec check, or a task from a validate*.yml file.

    The collection keeps every input check in such files (roles' tasks/validate.yml,
    playbooks/tasks/validate_cluster_spec.yml), so a failure there means bad input rather than a broken node.
    """
    if action.rsplit(".", 1)[-1] == "validate_argument_spec":
        return True
    file_name = os.path.basename(task_path.rsplit(":", 1)[0]) if task_path else ""
    return file_name.startswith("validate")


def failure_message(result: Mapping | None, limit: int = _MESSAGE_LIMIT) -> str:
    """One line saying why a task failed, from its result: its msg, a failed loop item's, or its error output.

    A no_log result only says that its output is hidden; nothing else of it is read.
    """
    if not isinstance(result, Mapping):
        return ""
    if result.get("censored"):
        return _one_line(str(result["censored"]), limit)
    message = result.get("msg")
    items = result.get("results")
    if isinstance(items, list):
        # A loop's own msg is only "One or more items failed": the first failed item says why.
        for item in items:
            if isinstance(item, Mapping) and item.get("failed"):
                label = item.get("_ansible_item_label", item.get("item"))
                inner = failure_message(item, limit)
                if inner:
                    message = "%s: %s" % (label, inner) if isinstance(label, (str, int, float)) else inner
                break
    if not message:
        for key in ("stderr", "module_stderr", "stdout", "module_stdout"):
            lines = [line for line in str(result.get(key) or "").splitlines() if line.strip()]
            if lines:
                message = lines[-1]
                break
    return _one_line(str(message or ""), limit)


def _one_line(text: str, limit: int) -> str:
    text = _WHITESPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


class RunLedger:
    """The stages of one run and what each host did in them.

    ``stages`` are the stages the run may go through, in order (others are added as plays start);
    ``not_selected`` are those the run was told to leave out (tags), which are reported as such.
    """

    def __init__(self, stages: Iterable[str] = (), not_selected: Iterable[str] = ()) -> None:
        self._stages: dict[str, _Stage] = {name: _Stage(name) for name in stages}
        self._not_selected = set(not_selected)
        self.failures: list[Failure] = []
        self.canceled = False

    def start(self, stage: str) -> None:
        self._stage(stage).started = True

    def record(self, stage: str, host: str, outcome: str, task: str = "", result: Mapping | None = None,
               action: str = "", task_path: str = "") -> None:
        """What a task did on a host. Failed and unreachable tasks are kept with their message."""
        entry = self._stage(stage)
        entry.started = True
        if _SEVERITY[outcome] >= _SEVERITY[entry.outcomes.get(host, SKIPPED)]:
            entry.outcomes[host] = outcome
        if outcome in (FAILED, UNREACHABLE):
            self.failures.append(Failure(host=host, stage=stage, task=task, message=failure_message(result),
                                         unreachable=outcome == UNREACHABLE,
                                         input_check=outcome == FAILED and is_input_check(action, task_path)))

    def settle(self, failed_hosts: Iterable[str]) -> None:
        """Keep only the failures of hosts the run's recap counts as failed or unreachable: a block's rescue
        may have handled the others."""
        failed_hosts = set(failed_hosts)
        self.failures = [failure for failure in self.failures if failure.host in failed_hosts]
        for stage in self._stages.values():
            for host, outcome in stage.outcomes.items():
                if outcome in (FAILED, UNREACHABLE) and host not in failed_hosts:
                    stage.outcomes[host] = OK

    def report(self) -> dict:
        """Every stage in order with its state, and every failure, as plain data (JSON-ready)."""
        started = [stage.name for stage in self._stages.values() if stage.started]
        troubled = any(outcome in (FAILED, UNREACHABLE) for stage in self._stages.values() for outcome in stage.outcomes.values())
        stages = []
        for stage in self._stages.values():
            failed = sorted(host for host, outcome in stage.outcomes.items() if outcome == FAILED)
            unreachable = sorted(host for host, outcome in stage.outcomes.items() if outcome == UNREACHABLE)
            if stage.outcomes and all(outcome == SKIPPED for outcome in stage.outcomes.values()):
                # An optional stage left off (its import's condition is false) still plays every task as skipped.
                state, reason = STAGE_SKIPPED, "every task was skipped (an optional stage that is off, or nothing applied)"
            elif stage.outcomes:
                state, reason = (STAGE_FAILED if failed or unreachable else STAGE_OK), ""
            elif stage.name in self._not_selected:
                # Plays left out by tags still start (they run no task): what matters is that nothing ran.
                state, reason = STAGE_NOT_SELECTED, "left out by the tags of this run"
            elif stage.started:
                state, reason = STAGE_NO_HOSTS, "no host was left to run it" if troubled else "no host matched"
            else:
                state, reason = STAGE_NOT_RUN, self._why_not_run(started)
            stages.append({"name": stage.name, "state": state, "hosts": len(stage.outcomes), "failed": failed,
                           "unreachable": unreachable, "reason": reason})
        return {"stages": stages, "failures": [asdict(failure) for failure in self.failures]}

    def _why_not_run(self, started: list[str]) -> str:
        if self.canceled:
            return "the run was canceled"
        if started:
            return "the run stopped in %s" % started[-1]
        return "the run stopped before it"

    def _stage(self, name: str) -> _Stage:
        if name not in self._stages:
            self._stages[name] = _Stage(name)
        return self._stages[name]


def report_lines(report: Mapping) -> list[tuple[str, bool]]:
    """The report as text: a line per stage, then a line per failure; each with whether it tells of trouble."""
    width = max((len(stage["name"]) for stage in report["stages"]), default=0)
    lines = []
    for stage in report["stages"]:
        text = "%-*s  %-12s  %s" % (width, stage["name"], stage["state"], _stage_detail(stage))
        lines.append((text.rstrip(), stage["state"] != STAGE_OK))
    for failure in report["failures"]:
        what = "UNREACHABLE" if failure["unreachable"] else "FAILED"
        lines.append(('%s %s in %s, task "%s": %s' % (what, failure["host"], failure["stage"], failure["task"], failure["message"]), True))
    return lines


def _stage_detail(stage: Mapping) -> str:
    if stage["state"] not in (STAGE_OK, STAGE_FAILED):
        return stage["reason"]
    parts = ["%d host%s" % (stage["hosts"], "" if stage["hosts"] == 1 else "s")]
    if stage["failed"]:
        parts.append("failed: " + ", ".join(stage["failed"]))
    if stage["unreachable"]:
        parts.append("unreachable: " + ", ".join(stage["unreachable"]))
    return "; ".join(parts)
