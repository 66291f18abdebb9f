"""How a run is started and canceled: ansible-playbook's arguments, the interruption protocol, old runs pruned."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from lambda_k3s_cli import execution
from lambda_k3s_cli.execution import Interruption, RunRequest, Runs
from lambda_k3s_cli.project import Project
from rich.console import Console

REPO = Path(__file__).resolve().parents[3]


def test_requests_become_ansible_playbook_arguments() -> None:
    request = RunRequest(verb="deploy", playbook=REPO / "site.yml", extra_vars=["@spec.yml", "k3s_version=v1"],
                         variables={"lambda_k3s_logs_lines": 5}, nodes=["a", "b"], tags=["k3s", "cluster"], skip_tags=["gpu"],
                         check=True, diff=True, verbosity=9)
    arguments = request.arguments()
    assert arguments == ["-e", "@spec.yml", "-e", "k3s_version=v1", "-e", json.dumps({"lambda_k3s_logs_lines": 5}), "--limit", "a,b",
                         "--tags", "k3s,cluster", "--skip-tags", "gpu", "--check", "--diff", "-vvvvvv"]
    assert RunRequest(verb="status", playbook=REPO / "site.yml").arguments() == []


def test_an_interruption_cancels_once_ansible_playbook_has_stopped_its_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    interrupted = []
    monkeypatch.setattr(execution, "_children", lambda: [4242])
    monkeypatch.setattr(execution, "_signal_processes", lambda pids, number: interrupted.append((pids, number)))
    interruption = Interruption()
    assert not interruption.cancel()
    interruption.saw({"stdout": "[ERROR]: User interrupted execution"})
    assert not interruption.cancel(), "nothing was asked yet"
    interruption.request()
    interruption.request()
    assert interrupted == [([4242], signal.SIGINT)], "ansible-playbook is interrupted once"
    assert not interruption.cancel(), "runner waits until ansible-playbook has stopped its workers"
    interruption.saw({"stdout": "[ERROR]: User interrupted execution"})
    assert interruption.cancel()


def test_an_interruption_ansible_playbook_misses_kills_everything_below_it_after_a_grace_period(monkeypatch: pytest.MonkeyPatch) -> None:
    signalled = []
    monkeypatch.setattr(execution, "_parents", lambda: {4242: os.getpid(), 5000: 4242, 5001: 4242, 6000: 5000, 7000: 1})
    monkeypatch.setattr(execution, "_signal_processes", lambda pids, number: signalled.append((sorted(pids), number)))
    interruption = Interruption()
    interruption.GRACE_SECONDS = 0.05
    interruption.request()
    time.sleep(0.1)
    assert interruption.cancel()
    assert signalled == [([4242], signal.SIGINT), ([5000, 5001, 6000], signal.SIGKILL)], "the workers and their children, not others"


def test_processes_are_found_in_proc() -> None:
    assert execution._parents()[os.getpid()] == os.getppid()


def test_only_the_newest_runs_named_by_the_command_are_kept(tmp_path: Path) -> None:
    names = ["deploy-20260101T000000Z-aaaaaa", "status-20260102T000000Z-bbbbbb", "logs-20260103T000000Z-cccccc", "my-notes", "deploy-x"]
    for age, name in enumerate(names):
        (tmp_path / name).mkdir()
        os.utime(tmp_path / name, (1000 + age, 1000 + age))
    Runs(Project(REPO), tmp_path, keep=2, environment={}, console=Console(), mode="plain")._prune()
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(names[1:])
