"""An unreachable or slow API is visible: one line per retry at default verbosity, and a final error that counts the attempts.

Against a closed loopback port and the emulator's fault injection only, with small limits so every test ends in seconds.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
import yaml
from integration.helpers import EmulatorProcess, ansible_env, run_ansible

pytestmark = pytest.mark.integration

RETRY_LINE = re.compile(r"^\[WARNING\]: Lambda Cloud API: GET /instances: (?P<what>.+); attempt (?P<attempt>\d) of (?P<attempts>\d) failed, "
                        r"trying again in [0-9.]+ s\.$", re.MULTILINE)


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def retries(text: str) -> list[tuple[str, int, int]]:
    return [(found["what"], int(found["attempt"]), int(found["attempts"])) for found in RETRY_LINE.finditer(text)]


def test_a_module_announces_each_retry_and_gives_up_sooner_without_a_connection(tmp_path: Path) -> None:
    url = "http://127.0.0.1:%d/api/v1" % closed_port()
    playbook = tmp_path / "list.yml"
    playbook.write_text(yaml.safe_dump([{"name": "List", "hosts": "localhost", "connection": "local", "gather_facts": False,
                                         "tasks": [{"name": "List the instances", "sophia.lambda_k3s.lambda_instance_info": {"api_url": url}}]}]))
    env = ansible_env(tmp_path, LAMBDA_API_KEY="secret_unused.key", LAMBDA_REQUEST_INTERVAL="0")
    result = run_ansible(["ansible-playbook", str(playbook)], env, timeout=60)
    text = " ".join((result.stdout + result.stderr).split("\n    "))
    assert result.returncode == 2
    assert retries(result.stdout + result.stderr) == [("Connection refused", 1, 3), ("Connection refused", 2, 3)], \
        "connect_retries (2), not max_retries (5)"
    assert re.search(r"Could not reach the Lambda Cloud API at %s: Connection refused \(gave up after 3 attempts in [0-9.]+ s\)"
                     % re.escape(url), " ".join(text.split()))


def test_the_inventory_announces_retries_at_default_verbosity(emulator_process: EmulatorProcess, tmp_path: Path) -> None:
    emulator_process.add_faults({"kind": "error", "status": 503, "method": "GET", "path": "/instances", "times": 2})
    config = tmp_path / "retry.lambda_cloud.yml"
    config.write_text(yaml.safe_dump({"plugin": "sophia.lambda_k3s.lambda_cloud", "retry_max_delay": 0.01}))
    result = run_ansible(["ansible-inventory", "-i", str(config), "--list"], ansible_env(tmp_path, **emulator_process.environment()))
    assert result.returncode == 0, result.stderr
    assert retries(result.stderr) == [("HTTP 503 global/internal-error", 1, 6), ("HTTP 503 global/internal-error", 2, 6)]


def test_a_slow_answer_is_retried_then_reported_with_its_attempts(emulator_process: EmulatorProcess, tmp_path: Path) -> None:
    emulator_process.add_faults({"kind": "delay", "delay_seconds": 3, "method": "GET", "path": "/instances", "times": 5})
    config = tmp_path / "slow.lambda_cloud.yml"
    config.write_text(yaml.safe_dump({"plugin": "sophia.lambda_k3s.lambda_cloud", "timeout": 0.5, "max_retries": 1,
                                      "retry_max_delay": 0.01}))
    result = run_ansible(["ansible-inventory", "-i", str(config), "--list"], ansible_env(tmp_path, **emulator_process.environment()))
    assert result.returncode != 0
    text = " ".join(result.stderr.split())
    assert len(retries(result.stderr)) == 1
    assert re.search(r"the request timed out after 0\.5 s without an answer \(timeout\) \(gave up after 2 attempts in [0-9.]+ s\)", text)
