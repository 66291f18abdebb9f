"""pytest fixtures for the Kubernetes API emulator (load with ``pytest_plugins = ["kube_emulator.fixtures"]``).

* ``kube_emulator_server`` (module): one emulator on 127.0.0.1 for a test module, in a thread of the test process;
  ansible-playbook and helm subprocesses reach it over loopback.
* ``kube_emulator`` (function): that emulator emptied for the test.
* ``write_kubeconfig(emulator, path)``: a kubeconfig (mode 0600) pointing at it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .server import KubeEmulator


def write_kubeconfig(emulator: KubeEmulator, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        yaml.safe_dump(emulator.kubeconfig(), handle)
    return path


@pytest.fixture(scope="module")
def kube_emulator_server() -> Iterator[KubeEmulator]:
    emulator = KubeEmulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def kube_emulator(kube_emulator_server: KubeEmulator) -> KubeEmulator:
    kube_emulator_server.reset()
    return kube_emulator_server
