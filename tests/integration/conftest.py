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


@pytest.fixture
def make_ansible_env(tmp_path: Path) -> Callable[..., dict[str, str]]:
    """make_ansible_env(**variables): an environment for Ansible subprocesses, with its state under tmp_path."""

    def make(**extra: str) -> dict[str, str]:
        return ansible_env(tmp_path, **extra)

    return make
