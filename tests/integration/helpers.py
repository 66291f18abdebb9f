"""Reusable helpers for subprocess tests: the emulator as a process, and Ansible commands run against it.

Everything here is generic (no inventory specifics), so module and role tests can share it
(``from integration.helpers import ...``; pyproject.toml puts tests/ on sys.path):

    with EmulatorProcess(time_scale=0.01) as emulator:
        emulator.seed([{"name": "demo-server-1"}])
        result = run_ansible(["ansible-playbook", "play.yml", "-i", "inv.lambda_cloud.yml"],
                             env=ansible_env(tmp_path, **emulator.environment()))
        assert result.returncode == 0, result.stderr

Processes are always bounded by a timeout, and the emulator only listens on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTS_DIR = REPO_ROOT / "tests"
# The interpreter running the tests belongs to the environment that has Ansible.
PYTHON_BIN = Path(sys.executable).parent
DEFAULT_TIMEOUT = 120.0
# The administrator's key a provision run registers (any valid ed25519 public key will do).
ADMIN_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBcTq1D8cLdiBZbq0SN1XjzOxKHq4C1bqd9o5HjvwAkJ admin@example"
START_TIMEOUT = 30.0


class EmulatorProcess:
    """``python -m lambda_emulator`` in a subprocess, driven through its control API.

    Keyword arguments become command-line options (time_scale=0.01 -> --time-scale 0.01;
    True values become bare flags). The general rate limit is off unless a test asks for it.
    """

    def __init__(self, **options: Any) -> None:
        options.setdefault("rate_limit", 0)
        options.setdefault("launch_interval", 0)
        self.arguments = [sys.executable, "-m", "lambda_emulator", "--port", "0"]
        for name, value in options.items():
            flag = "--" + name.replace("_", "-")
            if value is True:
                self.arguments.append(flag)
            elif value is not None and value is not False:  # 0 is a value (it switches a limit off)
                self.arguments.extend([flag, str(value)])
        self.url = ""
        self.process: subprocess.Popen[str] | None = None
        self._stderr_lines: list[str] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> EmulatorProcess:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")])))
        self.process = subprocess.Popen(self.arguments, cwd=TESTS_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        threading.Thread(target=self._collect_stderr, daemon=True).start()
        first_line: list[str] = []
        reader = threading.Thread(target=lambda: first_line.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT)
        line = first_line[0].strip() if first_line else ""
        if not line.startswith("LAMBDA_EMULATOR_URL="):
            self.stop()
            raise RuntimeError("the emulator did not start: %r; stderr: %s" % (line, "".join(self._stderr_lines)[-2000:]))
        self.url = line.split("=", 1)[1]
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()
        self.process = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _collect_stderr(self) -> None:
        process = self.process
        if process is None or process.stderr is None:
            return
        for line in process.stderr:
            self._stderr_lines.append(line)

    # -- addresses and keys ----------------------------------------------------------------

    @property
    def control_url(self) -> str:
        return self.url.rsplit("/api/v1", 1)[0] + "/_emulator"

    @property
    def api_key(self) -> str:
        from lambda_emulator import DEFAULT_API_KEY

        return DEFAULT_API_KEY

    def environment(self) -> dict[str, str]:
        """What a client needs to reach this emulator: LAMBDA_API_URL, LAMBDA_API_KEY, and
        LAMBDA_REQUEST_INTERVAL paced to the emulator's general rate limit (0 when it is off)."""
        from lambda_emulator import EmulatorConfig

        config = self.control("GET", "config")
        interval = EmulatorConfig(**config).client_request_interval()
        return {"LAMBDA_API_URL": self.url, "LAMBDA_API_KEY": self.api_key, "LAMBDA_REQUEST_INTERVAL": repr(interval)}

    # -- control API -----------------------------------------------------------------------

    def control(self, method: str, action: str, body: Any = None, query: str = "") -> Any:
        data = None if body is None else json.dumps(body).encode()
        url = "%s/%s%s" % (self.control_url, action, "?" + query if query else "")
        request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read().decode() or "null")

    def seed(self, instances: Sequence[Mapping[str, Any]]) -> list[str]:
        return self.control("POST", "instances", list(instances))["instance_ids"]

    def seed_count(self, count: int, template: Mapping[str, Any]) -> list[str]:
        return self.control("POST", "instances", {"count": count, "template": dict(template)})["instance_ids"]

    def add_faults(self, *faults: Mapping[str, Any]) -> None:
        self.control("POST", "faults", list(faults))

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        query = "&".join("%s=%s" % (name, value) for name, value in (("method", method), ("path", path)) if value)
        return self.control("GET", "requests", query=query)["requests"]

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return len(self.requests(method, path))

    def changing_requests(self) -> list[tuple[str, str]]:
        """(method, path) of every logged request that is not a read: what check mode must never send."""
        return [(record["method"], record["path"]) for record in self.requests() if record["method"] != "GET"]

    def clear_requests(self) -> None:
        self.control("DELETE", "requests")

    def reset(self) -> None:
        self.control("POST", "reset")

    def stderr(self) -> str:
        return "".join(self._stderr_lines)


def provision_overrides(directory: Path, **settings: Any) -> Path:
    """Extra vars to pass to provision.yml after a cluster spec, so they win: the admin public key
    (written to ``directory`` as a .pub file) and ``settings`` (lambda_cluster_* intervals and timeouts)."""
    key_file = directory / "id_ed25519.pub"
    key_file.write_text(ADMIN_PUBLIC_KEY + "\n")
    overrides = directory / "overrides.yml"
    overrides.write_text(yaml.safe_dump({"lambda_cluster_ssh_public_key_file": str(key_file), **settings}))
    return overrides


# ansible.cfg enables only the project's own inventory sources; the tests' static YAML inventories need the yaml plugin,
# as ansible.cfg says a user's static inventory does.
STATIC_INVENTORY = {"ANSIBLE_INVENTORY_ENABLED": "ansible.builtin.yaml"}


def ansible_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for an Ansible subprocess: the venv first on PATH, the repository's ansible.cfg,
    Ansible's own state (tmp, cache, galaxy) under ``home``, no colour, and ``extra`` on top."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("ANSIBLE_", "LAMBDA_"))}
    env.update({
        "PATH": os.pathsep.join([str(PYTHON_BIN), env.get("PATH", "")]),
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_HOME": str(home / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(home / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.update(extra)
    return env


def run_ansible(arguments: Sequence[str], env: Mapping[str, str], cwd: Path = REPO_ROOT,
                timeout: float = DEFAULT_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run an Ansible command (or any command found on the env's PATH); a bare tool name is taken from the venv."""
    command = list(arguments)
    candidate = PYTHON_BIN / command[0]
    if os.sep not in command[0] and candidate.exists():
        command[0] = str(candidate)
    return subprocess.run(command, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False)
