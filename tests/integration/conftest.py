"""Fixtures for subprocess tests (ansible-inventory, ansible-playbook, scripts) against the emulator.

The helpers themselves live in helpers.py (``from integration.helpers import ...``; tests/ is on sys.path).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from integration.helpers import EmulatorProcess, ansible_env


@pytest.fixture
def emulator_process() -> Iterator[EmulatorProcess]:
    """The emulator as a separate process (time compressed 100x, no rate limits), stopped after the test."""
    with EmulatorProcess(time_scale=0.01) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def module_emulator() -> Iterator[EmulatorProcess]:
    """One emulator process for a whole test module (starting one per test would dominate the run time)."""
    with EmulatorProcess(time_scale=0.01) as emulator:
        yield emulator


@pytest.fixture
def emulator(module_emulator: EmulatorProcess) -> EmulatorProcess:
    """The module's emulator as a new, empty account: no instances, keys or rulesets, no faults, an empty request log."""
    module_emulator.reset()
    module_emulator.control("DELETE", "faults")
    module_emulator.clear_requests()
    return module_emulator


@pytest.fixture
def make_ansible_env(tmp_path: Path) -> Callable[..., dict[str, str]]:
    """make_ansible_env(**variables): an environment for Ansible subprocesses, with its state under tmp_path."""

    def make(**extra: str) -> dict[str, str]:
        return ansible_env(tmp_path, **extra)

    return make
