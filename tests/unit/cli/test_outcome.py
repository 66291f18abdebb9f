"""Exit codes from a finished run."""

from __future__ import annotations

import pytest
from lambda_k3s_cli.outcome import ExitCode, classify

FAILED = {"failures": {"a": 1}, "dark": {}}
DARK = {"failures": {}, "dark": {"b": 1}}


@pytest.mark.parametrize(("status", "rc", "stats", "failures", "code"), [
    ("successful", 0, {"failures": {}, "dark": {}}, [], ExitCode.OK),
    ("failed", 2, FAILED, [{"input_check": False}], ExitCode.FAILED_HOSTS),
    ("failed", 4, DARK, [{"input_check": False}], ExitCode.UNREACHABLE),
    ("failed", 2, {"failures": {"a": 1}, "dark": {"b": 1}}, [], ExitCode.FAILED_HOSTS),
    ("failed", 2, FAILED, [{"input_check": True}], ExitCode.BAD_INPUT),
    ("canceled", 254, FAILED, [], ExitCode.CANCELED),
    ("failed", 4, None, [], ExitCode.BAD_INPUT),
    ("failed", 5, None, [], ExitCode.BAD_INPUT),
    ("failed", 1, None, [], ExitCode.ERROR),
    ("timeout", 254, None, [], ExitCode.ERROR),
])
def test_runs_map_to_exit_codes(status: str, rc: int, stats, failures, code: ExitCode) -> None:
    assert classify(status, rc, stats, failures) is code


def test_codes_have_a_meaning_and_are_distinct() -> None:
    assert len({int(code) for code in ExitCode}) == len(ExitCode)
    assert ExitCode.UNREACHABLE.meaning == "unreachable hosts"
