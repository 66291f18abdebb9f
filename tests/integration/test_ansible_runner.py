"""The playbooks driven through ansible-runner, as CI systems do, with the key kept out of its artifacts.

ansible-runner records the whole process environment in artifacts/<id>/command, so a key passed as
LAMBDA_API_KEY would end up there (mode 0600, but CI systems often upload artifacts). With
LAMBDA_API_KEY_FILE only the path of the key file reaches the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

import ansible_runner
import pytest

from integration.helpers import REPO_ROOT, EmulatorProcess, ansible_env, provision_overrides

pytestmark = pytest.mark.integration

SMALL_SPEC = Path(__file__).resolve().parent / "vars" / "provision_small_cluster.yml"


def files_containing(root: Path, secret: str) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and secret.encode() in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


def test_provision_through_ansible_runner_keeps_the_key_out_of_its_artifacts(emulator: EmulatorProcess, tmp_path: Path) -> None:
    key_file = tmp_path / "secrets" / "lambda_api_key"
    key_file.parent.mkdir(mode=0o700)
    key_file.write_text(emulator.api_key + "\n")
    key_file.chmod(0o600)
    overrides = provision_overrides(tmp_path, lambda_cluster_launch_interval=0, lambda_cluster_poll_interval=0.05,
                                    lambda_cluster_wait_timeout=60)
    # The key reaches the run only as a file; the URL and request pacing are the emulator's.
    emulator_settings = emulator.environment()
    environment = ansible_env(tmp_path, HOME=str(tmp_path), LAMBDA_API_URL=emulator.url, LAMBDA_API_KEY_FILE=str(key_file),
                              LAMBDA_REQUEST_INTERVAL=emulator_settings["LAMBDA_REQUEST_INTERVAL"])
    private_data_dir = tmp_path / "runner"
    private_data_dir.mkdir(mode=0o700)

    run = ansible_runner.run(private_data_dir=str(private_data_dir), project_dir=str(REPO_ROOT), playbook="playbooks/provision.yml",
                             cmdline="-e @%s -e @%s -vvv" % (SMALL_SPEC, overrides), envvars=environment, quiet=True)

    assert run.status == "successful", run.stdout.read()[-3000:]
    launched = [item for item in emulator.control("GET", "state")["instances"] if item.get("status") != "terminated"]
    assert launched, "the provision run launched nothing"
    assert files_containing(private_data_dir, emulator.api_key) == []
    assert any("LAMBDA_API_KEY_FILE" in path.read_text() for path in private_data_dir.rglob("command"))
    assert not os.environ.get("LAMBDA_API_KEY")
