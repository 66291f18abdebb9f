# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ends a run with what failed where and why, stage by stage (the ledger is plugin_utils/run_summary.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: run_summary
type: aggregate
author: sophia.lambda_k3s contributors (@sophia-ai)
version_added: 1.0.0
short_description: End a run with what failed where and why, stage by stage
description:
  - After the play recap, prints one line per stage of C(site.yml) (the stage a play belongs to is the first of
    O(stages) among its tags, or else the play's name) with the hosts that ran it and those that failed in it, a
    reason for each stage that did not run, then one line per failed or unreachable host with the stage, the task
    and the task's message.
  - A host whose failure a block's C(rescue) handled is not reported. A C(no_log) task's message stays hidden.
  - Prints nothing after a run that has no stage and no failure, nor when the stdout callback writes JSON
    (C(ansible.builtin.json), C(ansible.posix.jsonl)...), whose readers expect nothing else on standard output.
  - The collection's C(ansible.cfg) enables it; elsewhere add C(sophia.lambda_k3s.run_summary) to C(callbacks_enabled)
    or C(ANSIBLE_CALLBACKS_ENABLED).
requirements:
  - enabled in C(callbacks_enabled)
options:
  stages:
    description: Play tags that name a stage, in the order the stages run.
    type: list
    elements: str
    default: [preflight, gpu, k3s, cluster, platform, secrets, monitoring, gitops]
    env:
      - name: LAMBDA_K3S_STAGES
    ini:
      - section: callback_run_summary
        key: stages
"""

from ansible import constants as C
from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.sophia.lambda_k3s.plugins.plugin_utils.run_summary import (
    CHANGED,
    FAILED,
    OK,
    SKIPPED,
    UNREACHABLE,
    RunLedger,
    report_lines,
    stage_of,
)


class CallbackModule(CallbackBase):
    """Collects each task's outcome per host and stage, and prints the summary at the end."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "sophia.lambda_k3s.run_summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._ledger = RunLedger()
        self._stage = ""
        self._has_stages = False

    def v2_playbook_on_start(self, playbook) -> None:
        stages = self.get_option("stages")
        plays = playbook.get_plays()
        order = [stage_of(play.tags, play.get_name(), stages) for play in plays]
        self._has_stages = any(stage in stages for stage in order)
        self._ledger = RunLedger(dict.fromkeys(order), not_selected=[stage for stage in order if not _selected(stage)])

    def v2_playbook_on_play_start(self, play) -> None:
        self._stage = stage_of(play.tags, play.get_name(), self.get_option("stages"))
        self._ledger.start(self._stage)

    def v2_runner_on_ok(self, result) -> None:
        self._record(result, CHANGED if result._result.get("changed") else OK)

    def v2_runner_on_skipped(self, result) -> None:
        self._record(result, SKIPPED)

    def v2_runner_on_failed(self, result, ignore_errors: bool = False) -> None:
        self._record(result, OK if ignore_errors else FAILED)

    def v2_runner_on_unreachable(self, result) -> None:
        self._record(result, UNREACHABLE)

    def v2_playbook_on_stats(self, stats) -> None:
        self._ledger.settle(host for host in stats.processed if stats.failures.get(host) or stats.dark.get(host))
        report = self._ledger.report()
        if not self._has_stages and not report["failures"] or _machine_readable_output():
            return
        self._display.banner("STAGE SUMMARY")
        for line, trouble in report_lines(report):
            self._display.display(line, color=C.COLOR_ERROR if trouble else None)
        self._display.display("")

    def _record(self, result, outcome: str) -> None:
        task = result._task
        self._ledger.record(self._stage, result._host.get_name(), outcome, task=task.get_name().strip(), result=result._result,
                            action=getattr(task, "resolved_action", None) or task.action, task_path=task.get_path() or "")


def _machine_readable_output() -> bool:
    """Whether the stdout callback writes JSON (json, ansible.posix.jsonl...): text after it would break its readers."""
    stdout_callback = str(C.config.get_config_value("DEFAULT_STDOUT_CALLBACK") or "")
    return "json" in stdout_callback.rsplit(".", 1)[-1]


def _selected(stage: str) -> bool:
    """Whether the run's --tags and --skip-tags let a stage run."""
    tags = set(context.CLIARGS.get("tags") or ())
    skipped = set(context.CLIARGS.get("skip_tags") or ())
    if stage in skipped:
        return False
    return not tags or bool(tags & {"all", "always", stage})
