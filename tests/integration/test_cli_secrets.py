"""No secret in any output or artifact of the command line, for every verb, even with the API key exported.

The sibling of test_secrets.py for lambda-k3s: the worst case is a user who exported LAMBDA_API_KEY, which
ansible-runner would record with the rest of the environment in every run's artifacts. Every verb runs once
(provision with cloud-init user data, a private key given where the public key belongs, deploy, run, logs,
status, rollback, teardown); then every output and every file under the test's directory (the runs' artifacts,
the command's state, Ansible's) is searched for each secret, and each run's recorded environment is checked to
hold the key's file name, not the key.
"""

from __future__ import annotations

import json
import secrets
import stat
from pathlib import Path

import pytest
import yaml

from integration.cli import canned_project, cli_env, run_cli
from integration.helpers import EmulatorProcess
from integration.test_cli import ONE_NODE_SPEC, public_key
from integration.test_secrets import private_key_text

pytestmark = pytest.mark.integration


def test_no_secret_in_any_output_or_artifact_of_any_verb(emulator: EmulatorProcess, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir(mode=0o700)
    join_token = "K10" + secrets.token_hex(32) + "::server:" + secrets.token_hex(8)
    key_body = secrets.token_urlsafe(48).replace("-", "A").replace("_", "B")
    private_key = inputs / "id_ed25519"
    private_key.write_text(private_key_text(key_body))
    private_key.chmod(0o600)
    spec = inputs / "spec.yml"
    spec.write_text(yaml.safe_dump(dict(ONE_NODE_SPEC, lambda_cluster_user_data="#cloud-config\n# token %s\n" % join_token)))
    # Nodes the deploy-like verbs reach on loopback only (port 1: refused at once).
    emulator.seed([{"name": "demo-server-1", "ip": "127.0.0.1", "tags": {"k3s-cluster": "demo", "k3s-role": "server"}}])
    env = cli_env(tmp_path, **emulator.environment())
    assert "LAMBDA_API_KEY" in env, "the key is exported, the worst case"
    project = canned_project(tmp_path / "checkout")
    unreachable = ["--cluster", "demo", "--ssh-key", str(private_key), "-e", "ansible_port=1"]

    outputs = []
    for arguments, expected in [
        (["provision", str(spec), "--ssh-public-key", str(public_key(inputs))], 0),
        (["provision", str(spec), "--ssh-public-key", str(private_key)], 2),
        (["deploy", "--stage", "preflight", *unreachable], 4),
        (["run", "preflight", *unreachable], 4),
        (["logs", *unreachable], 4),
        (["status", "--cluster", "demo", "--project-dir", str(project)], 0),
        (["rollback", "--json", "--cluster", "demo", "--project-dir", str(project)], 0),
        (["teardown", str(spec), "--confirm", "solo"], 0),
    ]:
        result = run_cli(arguments, env)
        outputs.append(result.stdout + result.stderr)
        assert result.returncode == expected, (arguments, outputs[-1][-3000:])
    assert "private key" in outputs[1], "the mistaken key is refused, without being shown"

    found = {"API key": emulator.api_key, "user data (join token)": join_token, "private key": key_body}
    for instance in emulator.control("GET", "state")["instances"]:
        found["Jupyter token of %s" % instance["name"]] = instance["jupyter_token"]
    files = [path for path in tmp_path.rglob("*") if path.is_file() and not path.is_symlink() and inputs not in path.parents
             and project not in path.parents]
    leaks = []
    for label, secret in found.items():
        leaks += ["%s in the output of verb %d" % (label, index) for index, text in enumerate(outputs) if secret in text]
        leaks += ["%s in %s" % (label, path.relative_to(tmp_path)) for path in files if secret.encode() in path.read_bytes()]
    assert leaks == [], "\n".join(leaks)

    run_dirs = [path for path in (tmp_path / "state" / "runs").iterdir() if path.is_dir()]
    assert len(run_dirs) == 8, "every verb left a run (the mistaken key is refused by the spec check, before any request)"
    for run_dir in run_dirs:
        assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
        recorded = json.loads((run_dir / "command").read_text())["env"]
        assert "LAMBDA_API_KEY" not in recorded, "%s: the key is not in the recorded environment" % run_dir.name
        assert not Path(recorded["LAMBDA_API_KEY_FILE"]).exists(), "the run's key file is gone once the run ends"
        assert stat.S_IMODE((run_dir / "summary.json").stat().st_mode) == 0o600
