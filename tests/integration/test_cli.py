"""lambda-k3s against the Lambda API emulator and local hosts: provision and teardown, deploy's input checks and
unreachable nodes, the progress display on a terminal and in a log with a failing host and an interrupted run,
status and rollback from canned set_stats data, artifacts and exit codes."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from integration.cli import (
    CANNED,
    LAMBDA_K3S,
    LOCAL_NODES,
    PLAYBOOKS,
    canned_project,
    cli_env,
    local_env,
    run_cli,
    run_on_terminal,
    runs,
    wait_for_output,
)
from integration.helpers import ADMIN_PUBLIC_KEY, REPO_ROOT, EmulatorProcess

pytestmark = pytest.mark.integration

ONE_NODE_SPEC = {
    "lambda_cluster_name": "solo", "lambda_cluster_regions": ["us-east-1"], "lambda_cluster_ssh_key_name": "solo-admin",
    "lambda_cluster_admin_networks": ["203.0.113.0/24"],
    "lambda_cluster_node_pools": [{"name": "server", "role": "server", "count": 1, "instance_types": ["cpu_4x_general"]}],
    "lambda_cluster_launch_interval": 0, "lambda_cluster_poll_interval": 0.05, "lambda_cluster_wait_timeout": 60,
}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def write_spec(tmp_path: Path, **changes: object) -> Path:
    spec = tmp_path / "spec.yml"
    spec.write_text(yaml.safe_dump(dict(ONE_NODE_SPEC, **changes)))
    return spec


def public_key(tmp_path: Path) -> Path:
    key = tmp_path / "id_ed25519.pub"
    key.write_text(ADMIN_PUBLIC_KEY + "\n")
    return key


def summary_of(env: dict[str, str]) -> dict:
    return json.loads((runs(env)[-1] / "summary.json").read_text())


def no_process_left(marker: str, timeout: float = 20) -> bool:
    """No process whose command line holds ``marker`` is left (Ansible's workers may take a moment to go)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(["pgrep", "-f", marker], capture_output=True, check=False).returncode == 1:
            return True
        time.sleep(0.5)
    return False


def process_count(marker: str) -> int:
    """How many processes have ``marker`` in their command line (Ansible's workers keep ansible-playbook's)."""
    return len(subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True, check=False).stdout.split())


def wait_for_processes(marker: str, count: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_count(marker) >= count:
            return True
        time.sleep(0.2)
    return False


def test_the_command_is_installed_by_setup() -> None:
    assert LAMBDA_K3S.is_file(), "tools/setup.sh installs the lambda-k3s console script in the environment"


def test_provision_then_teardown_against_the_emulator(emulator: EmulatorProcess, tmp_path: Path) -> None:
    env = cli_env(tmp_path, **emulator.environment())
    spec = write_spec(tmp_path)
    result = run_cli(["provision", str(spec), "--ssh-public-key", str(public_key(tmp_path))], env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert "== stage provision" in result.stdout and "provision success (exit 0)" in result.stdout
    assert [item["name"] for item in emulator.control("GET", "state")["instances"] if item["status"] == "active"] == ["solo-server-1"]
    summary = summary_of(env)
    assert summary["exit_code"] == 0 and summary["changed"] > 0 and summary["status"] == "successful"
    assert {"command", "job_events", "stdout", "rc", "status", "summary.json"} <= {path.name for path in runs(env)[-1].iterdir()}

    again = run_cli(["provision", str(spec), "--ssh-public-key", str(public_key(tmp_path))], env)
    assert again.returncode == 0 and summary_of(env)["changed"] == 0, "a rerun changes nothing"

    refused = run_cli(["teardown", str(spec)], env)
    assert refused.returncode == 2 and "pass --confirm solo" in refused.stderr
    result = run_cli(["teardown", str(spec), "--confirm", "solo"], env)
    assert result.returncode == 0, result.stdout[-4000:]
    assert all(item["status"] != "active" for item in emulator.control("GET", "state")["instances"])


def test_a_spec_mistake_is_bad_input_and_nothing_changes(emulator: EmulatorProcess, tmp_path: Path) -> None:
    env = cli_env(tmp_path, **emulator.environment())
    spec = write_spec(tmp_path, lambda_cluster_admin_networks=["203.0.113.0/99"])
    result = run_cli(["provision", str(spec), "--ssh-public-key", str(public_key(tmp_path))], env)
    assert result.returncode == 2, result.stdout[-3000:]
    assert "The cluster spec is invalid; nothing was changed." in result.stdout
    assert "provision bad input (exit 2)" in result.stdout
    assert emulator.requests() == [], "no request before the spec passes"


def test_check_mode_provision_sends_no_change(emulator: EmulatorProcess, tmp_path: Path) -> None:
    env = cli_env(tmp_path, **emulator.environment())
    result = run_cli(["provision", str(write_spec(tmp_path)), "--ssh-public-key", str(public_key(tmp_path)), "--check"], env)
    assert result.returncode == 0, result.stdout[-3000:]
    assert emulator.changing_requests() == []


def test_deploy_names_an_unreachable_node_and_exits_4(emulator: EmulatorProcess, tmp_path: Path) -> None:
    emulator.seed([{"name": "demo-server-1", "ip": "127.0.0.1", "instance_type": "cpu_4x_general",
                    "tags": {"k3s-cluster": "demo", "k3s-role": "server"}}])
    env = cli_env(tmp_path, **emulator.environment())
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    result = run_cli(["deploy", "--cluster", "demo", "--stage", "preflight", "-e", "ansible_port=1"], env)
    assert result.returncode == 4, result.stdout[-3000:]
    summary = summary_of(env)
    assert summary["result"] == "unreachable hosts"
    [failure] = summary["failures"]
    assert (failure["host"], failure["stage"], failure["unreachable"]) == ("demo-server-1", "preflight", True)
    assert {stage["name"]: stage["state"] for stage in summary["stages"]} == {
        "preflight": "failed", "gpu": "not selected", "k3s": "not selected", "cluster": "not selected", "platform": "not selected",
        "secrets": "not selected", "monitoring": "not selected", "gitops": "not selected"}
    assert "UNREACHABLE demo-server-1 in preflight" in result.stdout


def test_deploy_refuses_a_node_that_is_not_in_the_cluster(emulator: EmulatorProcess, tmp_path: Path) -> None:
    emulator.seed([{"name": "demo-server-1", "ip": "127.0.0.1", "tags": {"k3s-cluster": "demo"}}])
    env = cli_env(tmp_path, **emulator.environment())
    result = run_cli(["deploy", "--cluster", "demo", "--node", "demo-a100-9", "-e", "ansible_port=1"], env)
    assert result.returncode == 2, result.stdout[-3000:]
    assert result.stderr == "lambda-k3s deploy: No node named demo-a100-9 in the cluster; its nodes are demo-server-1.\n"
    assert runs(env) == [], "refused before any run"


def test_plain_progress_shows_a_failing_host_as_it_happens_and_exits_3(tmp_path: Path) -> None:
    env = local_env(tmp_path)
    result = run_cli(["run", str(PLAYBOOKS / "staged_run.yml"), "-i", str(LOCAL_NODES), "-e", '{"broken_nodes": ["node-2"]}'], env)
    assert result.returncode == 3, result.stdout[-3000:]
    assert "\x1b[" not in result.stdout, "a log gets no control codes"
    lines = result.stdout.splitlines()
    assert all(re.match(r"^\[\d\d:\d\d\] ", line) for line in lines[:lines.index(next(line for line in lines if line.startswith("Stages")))])
    assert any(line.endswith("FAILED node-2: node-2 is arm64, but its instance type says x86_64") for line in lines)
    assert re.search(r"^preflight\s+failed\s+3\s+failed: node-2", result.stdout, re.M)
    assert re.search(r"^gpu\s+ok\s+2", result.stdout, re.M), "the other nodes finished the next stage"
    assert "run failed hosts (exit 3)" in result.stdout
    stdout_artifact = (runs(env)[-1] / "stdout").read_text()
    assert "STAGE SUMMARY" in stdout_artifact, "ansible-playbook's own output, with the run_summary callback, is kept"


def test_live_progress_on_a_terminal_with_a_failing_host(tmp_path: Path) -> None:
    env = local_env(tmp_path)
    run = run_on_terminal(["run", str(PLAYBOOKS / "staged_run.yml"), "-i", str(LOCAL_NODES), "-e", '{"broken_nodes": ["node-2"]}'], env)
    assert run.returncode == 3, run.output[-3000:]
    assert "\x1b[2K" in run.output and "\x1b[1A" in run.output, "the live view redraws in place"
    text = " ".join(ANSI.sub("", run.output).split())
    assert "FAILED node-2: node-2 is arm64, but its instance type says x86_64" in text, "printed above the live view"
    assert "1 failure, last: node-2 in preflight" in text
    assert "run failed hosts (exit 3)" in text


def test_an_interrupted_run_is_canceled_in_a_log(tmp_path: Path) -> None:
    env = local_env(tmp_path)
    playbook = tmp_path / "slow-to-cancel.yml"
    playbook.write_text((PLAYBOOKS / "slow.yml").read_text())
    process = subprocess.Popen([str(LAMBDA_K3S), "run", str(playbook), "-i", str(LOCAL_NODES)], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_output(process, "task Wait", timeout=120)
        # Interrupted once the command runs on every node (an interrupt while Ansible forks its workers is covered by
        # the grace period, and takes longer).
        assert wait_for_processes("sleep 117", 3), "the command runs on the three nodes"
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, output
    assert "run canceled (exit 130)" in output
    summary = summary_of(env)
    assert (summary["result"], summary["status"]) == ("canceled", "canceled")
    assert "User interrupted execution" in (runs(env)[-1] / "stdout").read_text(), "ansible-playbook stopped its workers itself"
    assert no_process_left(str(playbook)) and no_process_left("sleep 117"), "ansible-playbook, its workers and their commands stopped"


def test_an_interrupted_run_is_canceled_on_a_terminal(tmp_path: Path) -> None:
    env = local_env(tmp_path)
    playbook = tmp_path / "slow-on-a-terminal.yml"
    playbook.write_text((PLAYBOOKS / "slow.yml").read_text())
    run = run_on_terminal(["run", str(playbook), "-i", str(LOCAL_NODES)], env,
                          interrupt_when=lambda output: "Wait" in ANSI.sub("", output) and process_count("sleep 117") >= 3)
    assert run.returncode == 130, run.output[-3000:]
    assert "run canceled (exit 130)" in " ".join(ANSI.sub("", run.output).split())
    assert no_process_left(str(playbook)) and no_process_left("sleep 117")


def test_status_from_published_data_as_a_table_and_as_json(tmp_path: Path) -> None:
    project = canned_project(tmp_path / "checkout")
    env = local_env(tmp_path)
    common = ["--project-dir", str(project), "-i", str(LOCAL_NODES)]
    table = run_cli(["status", *common], env)
    assert table.returncode == 0, table.stdout + table.stderr
    assert re.search(r"demo-a10-1\s+agent\s+A10\s+us-east-1\s+gpu_1x_a10\s+Ready\s+1/1\s+v1.35.6\+k3s1", table.stdout)
    assert "Device plugin: 1/1 ready on 1 GPU node" in table.stdout
    assert "Release: sophia-platform (sophia-ai) revision 5, deployed" in table.stdout

    as_json = run_cli(["status", "--json", *common], env)
    assert as_json.returncode == 0, as_json.stderr
    published = yaml.safe_load((CANNED / "status.yml").read_text())[0]["tasks"][0]["ansible.builtin.set_stats"]["data"]
    assert json.loads(as_json.stdout) == published["lambda_k3s_status"], "standard output holds the JSON alone"
    assert "status: success (exit 0)" in as_json.stderr


def test_rollback_to_a_revision_and_to_the_previous_one(tmp_path: Path) -> None:
    project = canned_project(tmp_path / "checkout")
    env = local_env(tmp_path)
    common = ["--project-dir", str(project), "-i", str(LOCAL_NODES)]
    result = run_cli(["rollback", "--revision", "3", *common], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Rolled back sophia-platform from revision 5 to revision 3" in result.stdout
    result = run_cli(["rollback", "--json", *common], env)
    assert json.loads(result.stdout) == {"release": "sophia-platform", "from_revision": 5, "to_revision": 4}


def test_a_missing_published_result_is_an_error(tmp_path: Path) -> None:
    project = canned_project(tmp_path / "checkout")
    (project / "playbooks" / "status.yml").write_text("- name: Publish nothing\n  hosts: localhost\n  gather_facts: false\n  tasks: []\n")
    result = run_cli(["status", "--project-dir", str(project), "-i", str(LOCAL_NODES)], local_env(tmp_path))
    assert result.returncode == 1
    assert "published no lambda_k3s_status" in result.stdout


def test_only_the_newest_runs_are_kept_and_other_directories_are_left_alone(tmp_path: Path) -> None:
    project = canned_project(tmp_path / "checkout")
    env = local_env(tmp_path)
    artifacts = Path(env["LAMBDA_K3S_STATE_DIR"]) / "runs"
    (artifacts / "keep-me").mkdir(parents=True)
    for attempt in ("first", "second", "third"):
        assert run_cli(["status", "--project-dir", str(project), "-i", str(LOCAL_NODES), "--keep-runs", "2"], env).returncode == 0, attempt
    assert sorted(path.name.split("-")[0] for path in artifacts.iterdir()) == ["keep", "status", "status"]


def test_artifacts_go_where_ci_asks(tmp_path: Path) -> None:
    project = canned_project(tmp_path / "checkout")
    env = local_env(tmp_path, LAMBDA_K3S_ARTIFACTS_DIR=str(tmp_path / "ci-artifacts"))
    assert run_cli(["status", "--project-dir", str(project), "-i", str(LOCAL_NODES)], env).returncode == 0
    [run] = (tmp_path / "ci-artifacts").iterdir()
    assert json.loads((run / "summary.json").read_text())["artifact_data"]["lambda_k3s_status"]["release"]["revision"] == 5
