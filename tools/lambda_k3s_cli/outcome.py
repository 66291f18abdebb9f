# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exit codes a CI can act on, and how a finished run maps to one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import IntEnum


class ExitCode(IntEnum):
    """The command's exit status (docs/cli.md lists them)."""

    OK = 0
    # Ansible could not run the playbook (a missing file, a broken configuration), or the command itself failed.
    ERROR = 1
    # A mistake in what the command was given (options, the cluster spec, a missing or unreadable key), found
    # before any change: by the command itself, or by the playbooks' input checks.
    BAD_INPUT = 2
    # A task failed on at least one host. Takes precedence over UNREACHABLE: running again will not fix it.
    FAILED_HOSTS = 3
    # At least one host could not be reached, and no task failed: often worth a retry.
    UNREACHABLE = 4
    # The run was interrupted (Ctrl-C or SIGTERM) and canceled; nodes may be mid-task, a rerun converges.
    CANCELED = 130

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "success",
    ExitCode.ERROR: "error",
    ExitCode.BAD_INPUT: "bad input",
    ExitCode.FAILED_HOSTS: "failed hosts",
    ExitCode.UNREACHABLE: "unreachable hosts",
    ExitCode.CANCELED: "canceled",
}

# ansible-playbook's own codes for a parser error and bad options: input mistakes as well.
_ANSIBLE_INPUT_ERRORS = (4, 5)


class UsageError(Exception):
    """Bad input the command finds itself, before running anything: one sentence saying what, where, and what to do."""


def classify(status: str, rc: int, stats: Mapping | None, failures: Sequence[Mapping]) -> ExitCode:
    """The exit code of a finished run, from ansible-runner's status and rc, the recap and the ledger's failures."""
    if status == "canceled":
        return ExitCode.CANCELED
    if any(failure.get("input_check") for failure in failures):
        return ExitCode.BAD_INPUT
    stats = stats or {}
    if any(stats.get("failures", {}).values()):
        return ExitCode.FAILED_HOSTS
    if any(stats.get("dark", {}).values()):
        return ExitCode.UNREACHABLE
    if status == "successful":
        return ExitCode.OK
    if rc in _ANSIBLE_INPUT_ERRORS:
        return ExitCode.BAD_INPUT
    return ExitCode.ERROR
