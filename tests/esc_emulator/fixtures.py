"""pytest fixtures for the Pulumi ESC emulator (load with ``pytest_plugins = ["esc_emulator.fixtures"]``).

* ``esc_emulator_server`` (module): one emulator on 127.0.0.1 for a test module, in a thread of the test process;
  ansible-playbook subprocesses reach it over loopback (PULUMI_BACKEND_URL).
* ``esc_emulator`` (function): that emulator emptied for the test, with the environment ``sophia/platform/prod``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import EXAMPLE_ENVIRONMENT, EscEmulator


@pytest.fixture(scope="module")
def esc_emulator_server() -> Iterator[EscEmulator]:
    emulator = EscEmulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def esc_emulator(esc_emulator_server: EscEmulator) -> EscEmulator:
    esc_emulator_server.reset()
    esc_emulator_server.add_environment("sophia/platform/prod", EXAMPLE_ENVIRONMENT)
    return esc_emulator_server
