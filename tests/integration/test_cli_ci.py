"""What docs/cli.md promises CI: ansible-runner run with a private data directory, as written; the example GitHub
Actions workflow (its commands parse, its secrets only become private files, its artifacts are kept); and the
exit codes table."""

from __future__ import annotations

import json
import re
import shlex
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from lambda_k3s_cli.app import EPILOG, build_parser
from lambda_k3s_cli.outcome import ExitCode

from integration.cli import cli_env
from integration.helpers import PYTHON_BIN, REPO_ROOT, EmulatorProcess
from integration.test_cli import ONE_NODE_SPEC, public_key

pytestmark = pytest.mark.integration

DOC = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
WORKFLOW = REPO_ROOT / "docs" / "examples" / "github-actions.yml"


def runner_snippet() -> str:
    section = DOC.split("### ansible-runner without the command", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_ansible_runner_run_with_a_private_data_directory_as_documented(emulator: EmulatorProcess, tmp_path: Path) -> None:
    key_file = tmp_path / "secrets" / "lambda_api_key"
    key_file.parent.mkdir(mode=0o700)
    key_file.write_text(emulator.api_key + "\n")
    key_file.chmod(0o600)
    spec = tmp_path / "spec.yml"
    spec.write_text(yaml.safe_dump(dict(ONE_NODE_SPEC, lambda_cluster_ssh_public_key_file=str(public_key(tmp_path)))))
    # The deploy reaches the cluster "demo" on loopback only, and on a port where nothing listens.
    emulator.seed([{"name": "demo-server-1", "ip": "127.0.0.1", "tags": {"k3s-cluster": "demo", "k3s-role": "server"}}])
    runner_dir = tmp_path / "runner"
    paths = {"checkout": REPO_ROOT, "runner_dir": runner_dir, "key_file": key_file, "spec": spec}
    snippet = runner_snippet()
    for name, value in paths.items():
        snippet, count = re.subn(r"(?m)^%s=\S+" % name, "%s=%s" % (name, shlex.quote(str(value))), snippet)
        assert count == 1, "the documented snippet changed: update this test (%s)" % name
    if PYTHON_BIN != REPO_ROOT / ".venv" / "bin":
        snippet = snippet.replace("PATH=$checkout/.venv/bin:$PATH", "PATH=%s:$PATH" % PYTHON_BIN)
    settings = emulator.environment()
    env = {name: value for name, value in cli_env(tmp_path).items() if name not in ("ANSIBLE_CONFIG", "LAMBDA_API_KEY")}
    env.update(LAMBDA_API_URL=settings["LAMBDA_API_URL"], LAMBDA_REQUEST_INTERVAL=settings["LAMBDA_REQUEST_INTERVAL"],
               ANSIBLE_REMOTE_PORT="1")
    result = subprocess.run(["bash", "-c", snippet], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)

    artifacts = runner_dir / "artifacts"
    assert (artifacts / "provision" / "status").read_text() == "successful", result.stdout[-3000:] + result.stderr[-2000:]
    assert [item["name"] for item in emulator.control("GET", "state")["instances"] if item["status"] == "active"] == \
        ["demo-server-1", "solo-server-1"]
    deploy_output = (artifacts / "deploy" / "stdout").read_text()
    assert (artifacts / "deploy" / "status").read_text() == "failed"
    assert "STAGE SUMMARY" in deploy_output and "UNREACHABLE demo-server-1 in preflight" in deploy_output
    assert stat.S_IMODE(runner_dir.stat().st_mode) == 0o700
    leaked = [str(path) for path in runner_dir.rglob("*") if path.is_file() and emulator.api_key.encode() in path.read_bytes()]
    assert leaked == []
    assert json.loads((artifacts / "deploy" / "command").read_text())["env"]["LAMBDA_API_KEY_FILE"] == str(key_file)


def workflow_steps() -> list[dict]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]["deploy"]["steps"]


def lambda_k3s_commands() -> list[list[str]]:
    """The arguments of every lambda-k3s command the workflow runs, with its shell variables filled in."""
    commands = []
    for step in workflow_steps():
        for line in str(step.get("run", "")).splitlines():
            if "lambda-k3s " in line:
                words = shlex.split(line.split(">", 1)[0].replace('"$SSH_KEY_FILE', '"/tmp/id_ed25519'))
                commands.append(words[words.index(next(word for word in words if word.endswith("lambda-k3s"))) + 1:])
    return commands


def test_the_example_workflow_runs_provision_deploy_then_status_with_options_that_exist() -> None:
    commands = lambda_k3s_commands()
    assert [command[0] for command in commands] == ["provision", "deploy", "status"]
    parser = build_parser()
    for command in commands:
        parser.parse_args(command)  # exits with 2 on an option lambda-k3s does not have


def test_the_example_workflow_keeps_secrets_in_private_files_only() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    job = workflow["jobs"]["deploy"]
    assert "secrets." not in json.dumps(job["env"]) and "LAMBDA_API_KEY" not in job["env"]
    steps = workflow_steps()
    with_secrets = [step for step in steps if "secrets." in json.dumps(step)]
    assert len(with_secrets) == 1, "the secrets are read in one step"
    assert with_secrets[0]["run"].lstrip().startswith("umask 077"), "and written to files only the job's user can read"
    assert "LAMBDA_API_KEY_FILE" in job["env"], "the command gets the key as a file"


def test_the_example_workflow_shows_status_and_keeps_artifacts_whatever_happened() -> None:
    steps = {step.get("name"): step for step in workflow_steps()}
    job_env = yaml.safe_load(WORKFLOW.read_text())["jobs"]["deploy"]["env"]
    assert steps["Show the cluster's status"]["if"] == "always()"
    upload = steps["Keep the runs' artifacts"]
    assert upload["if"] == "always()" and upload["uses"].startswith("actions/upload-artifact@")
    assert Path(job_env["LAMBDA_K3S_ARTIFACTS_DIR"]).name + "/" in upload["with"]["path"]
    assert steps["Remove the key files"]["if"] == "always()"


def test_the_documented_exit_codes_are_the_commands() -> None:
    table = DOC.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(code): meaning.strip() for code, meaning in re.findall(r"^\| (\d+) \| ([^|:]+)", table, re.M)}
    assert documented == {int(code): code.meaning for code in ExitCode}
    assert [int(code) for code in re.findall(r"\b(\d+) [a-z]", EPILOG)] == [int(code) for code in ExitCode], "--help lists them too"
