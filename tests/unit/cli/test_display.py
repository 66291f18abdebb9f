"""The two displays, fed a deploy whose GH200 node fails: a line per event off a terminal, a live view on one
(rich's forced terminal), and the summary both end with."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from lambda_k3s_cli.display import LIVE, PLAIN, LiveDisplay, PlainDisplay, choose_mode, duration, render_summary
from lambda_k3s_cli.outcome import ExitCode
from lambda_k3s_cli.progress import RunProgress
from lambda_k3s_cli.project import Project
from rich.console import Console

from unit.cli.events import ARCH_MESSAGE, deploy_events

REPO = Path(__file__).resolve().parents[3]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def console(terminal: bool, interactive: bool | None = None) -> Console:
    return Console(file=io.StringIO(), force_terminal=terminal, force_interactive=terminal if interactive is None else interactive,
                   width=120, height=30, color_system="standard" if terminal else None)


def progress() -> RunProgress:
    project = Project(REPO)
    return RunProgress(project.stage_map(project.playbook("site")), "deploy")


def test_the_mode_follows_the_terminal() -> None:
    assert choose_mode("auto", console(terminal=True)) == LIVE
    assert choose_mode("auto", console(terminal=False)) == PLAIN
    assert choose_mode("auto", console(terminal=True, interactive=False)) == PLAIN, "TERM=dumb or TTY_INTERACTIVE=0"
    assert choose_mode("plain", console(terminal=True)) == PLAIN and choose_mode("live", console(terminal=False)) == LIVE


def test_plain_mode_prints_a_line_per_event_as_it_comes() -> None:
    out, state = console(terminal=False), progress()
    display = PlainDisplay(out, state, "lambda-k3s deploy: playbooks/site.yml", "logs: /runs/x/stdout")
    display.start()
    lines_after = []
    for item in deploy_events():
        display.handle(state.apply(item))
        lines_after.append(out.file.getvalue().count("\n"))
    display.stop()
    text = out.file.getvalue()
    assert "\x1b[" not in text, "no control codes in a log"
    lines = text.splitlines()
    assert all(re.match(r"^\[\d\d:\d\d\] ", line) for line in lines), "every line is stamped"
    assert lines[0].endswith("lambda-k3s deploy: playbooks/site.yml (logs: /runs/x/stdout)")
    assert any(line.endswith("WARNING Collection community.general does not support Ansible version 2.19") for line in lines)
    assert any(line.endswith("== stage preflight") for line in lines) and any(line.endswith("== stage k3s") for line in lines)
    assert any(line.endswith("FAILED demo-gh200-1: " + ARCH_MESSAGE) for line in lines)
    assert any(line.endswith("demo-a10-1: demo-a10-1 joined") for line in lines)
    assert any(line.endswith("changed demo-a10-1") for line in lines)
    assert sorted(lines_after) == lines_after and lines_after[2] > lines_after[0], "output grows while the run goes on"


def test_live_mode_redraws_in_place_and_prints_failures_above() -> None:
    out, state = console(terminal=True), progress()
    display = LiveDisplay(out, state, "lambda-k3s deploy", "logs: /runs/x/stdout")
    display._MIN_INTERVAL = 0  # draw every frame
    display.start()
    frames = []
    for item in deploy_events():
        display.handle(state.apply(item))
        frames.append(out.file.getvalue())
    display.stop()
    text = out.file.getvalue()
    assert "\x1b[2K" in text and "\x1b[1A" in text, "the view is redrawn in place (erase line, cursor up)"
    plain = " ".join(ANSI.sub("", text).split())  # lines printed above the view wrap at the terminal's width
    assert "FAILED demo-gh200-1: " + ARCH_MESSAGE in plain, "the failure is printed above the view"
    assert "WARNING Collection community.general" in plain
    middle = ANSI.sub("", frames[12])
    assert "preflight" in middle and "Gathering Facts" in middle and "hosts" in middle
    assert re.search(r"✗ preflight|✓ preflight", ANSI.sub("", frames[-1])), "finished stages are marked"
    assert "1 failure, last: demo-gh200-1 in preflight" in ANSI.sub("", frames[-1])


def test_the_summary_names_stages_hosts_failures_and_the_exit_code() -> None:
    state = progress()
    for item in deploy_events():
        state.apply(item)
    out = console(terminal=False)
    render_summary(out, "deploy", state.summary(), ExitCode.FAILED_HOSTS, 62, Path("/runs/deploy-1"))
    text = out.file.getvalue()
    assert re.search(r"preflight\s+failed\s+3\s+failed: demo-gh200-1", text)
    assert re.search(r"cluster\s+not run\s+0\s+the run stopped in k3s", text)
    assert re.search(r"demo-a10-1\s+4\s+1\s+0\s+0", text)
    assert 'FAILED demo-gh200-1 in preflight, task "Fail when the architecture differs' in text
    assert text.rstrip().endswith("deploy failed hosts (exit 3) in 1m02s; 1 changed. Artifacts: /runs/deploy-1")


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0s"), (42, "42s"), (62, "1m02s"), (3600, "60m00s")])
def test_durations_read_well(seconds: float, text: str) -> None:
    assert duration(seconds) == text
