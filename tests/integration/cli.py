"""Running the lambda-k3s command as users do (the console script tools/setup.sh installs), in a clean environment
with its state in the test's directory, and on a terminal (a pseudo-terminal) when the test wants one."""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from integration.helpers import PYTHON_BIN, REPO_ROOT, ansible_env

LAMBDA_K3S = PYTHON_BIN / "lambda-k3s"
PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
CANNED = Path(__file__).resolve().parent / "canned_playbooks"
LOCAL_NODES = Path(__file__).resolve().parent / "inventory" / "local_nodes.yml"
STATIC_INVENTORY_PLUGINS = "ansible.builtin.yaml"


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """ansible_env's clean environment, with the command's state (runs, host keys) under ``home``."""
    return ansible_env(home, LAMBDA_K3S_STATE_DIR=str(home / "state"), COLUMNS="160", **extra)


def local_env(home: Path, **extra: str) -> dict[str, str]:
    """cli_env for runs on LOCAL_NODES, a static YAML inventory: the repository's ansible.cfg enables only the plugins of
    its own sources, so the yaml plugin is enabled as docs/cli.md tells users of static inventories to do."""
    return cli_env(home, ANSIBLE_INVENTORY_ENABLED=STATIC_INVENTORY_PLUGINS, **extra)


def run_cli(arguments: list[str], env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LAMBDA_K3S), *arguments], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def runs(env: dict[str, str]) -> list[Path]:
    """The run directories in the artifacts directory, oldest first."""
    root = Path(env["LAMBDA_K3S_STATE_DIR"]) / "runs"
    return sorted((path for path in root.iterdir() if path.is_dir()), key=lambda path: path.stat().st_mtime) if root.exists() else []


def canned_project(directory: Path) -> Path:
    """A checkout whose status.yml and rollback.yml publish canned data (the cluster plays' contract) and whose other
    files are the real checkout's."""
    directory.mkdir()
    shutil.copy(REPO_ROOT / "galaxy.yml", directory / "galaxy.yml")
    for name in ("ansible.cfg", "collections", "inventories", "site.yml"):
        (directory / name).symlink_to(REPO_ROOT / name)
    shutil.copytree(CANNED, directory / "playbooks")
    return directory


@dataclass
class TerminalRun:
    """The command on a pseudo-terminal of 120x40, read until it exits."""

    output: str
    returncode: int


def run_on_terminal(arguments: list[str], env: dict[str, str], timeout: float = 240,
                    interrupt_when: Callable[[str], bool] | None = None) -> TerminalRun:
    """Run the command with a pseudo-terminal as its standard streams; send SIGINT once ``interrupt_when(output)``."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen([str(LAMBDA_K3S), *arguments], cwd=REPO_ROOT, env=dict(env, TERM="xterm-256color"), stdin=slave,
                               stdout=slave, stderr=slave, close_fds=True, start_new_session=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    interrupted = False
    try:
        while time.monotonic() < deadline:
            ready = select.select([master], [], [], 0.2)[0]
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the terminal's other end is closed
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            if interrupt_when and not interrupted and interrupt_when(b"".join(chunks).decode(errors="replace")):
                process.send_signal(signal.SIGINT)
                interrupted = True
            if process.poll() is not None and not ready:
                break
        returncode = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    return TerminalRun(b"".join(chunks).decode(errors="replace"), returncode)


def wait_for_output(process: subprocess.Popen[str], expected: str, timeout: float) -> str:
    """Read a running command's standard output line by line until ``expected`` appears."""
    seen = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if expected in line:
            return "".join(seen)
    raise AssertionError("%r never appeared in the output:\n%s" % (expected, "".join(seen)))
