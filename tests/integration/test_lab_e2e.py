"""End to end through the command line against the local lab, as the README's first command runs it.

lambda-k3s lab up (a lab of its own: lambda-lab-e2e-*, network 10.213.61.0/24, nodes on 127.0.61.x), provision (3 nodes
the emulator starts as node containers), deploy, a rerun that changes and restarts nothing, status, the shipped K3s
verification, check mode, logs, failing nodes (check_the_converged_lab), teardown, lab down; then: every run left its
events, no secret is in any output or artifact, and no container or network of the lab is left. It replaces the
Molecule scenario pipeline, which ran the same deploys on containers of its own.
The cluster and platform stages need a real Kubernetes API, which the lab's stand-in K3s has not: the deploy reports
them as skipped, with the reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from integration.cli import cli_env, run_cli, runs

pytestmark = [pytest.mark.integration, pytest.mark.lab]

LAB = "e2e"
LAB_OPTIONS = ["--lab", LAB, "--progress", "plain"]


def docker(*arguments: str) -> str:
    return subprocess.run(["docker", *arguments], capture_output=True, text=True, check=True, timeout=120).stdout


def lab_leftovers() -> list[str]:
    return (docker("ps", "-a", "--filter", "label=lambda-lab=%s" % LAB, "--format", "{{ .Names }}").split()
            + docker("network", "ls", "--filter", "label=lambda-lab=%s" % LAB, "--format", "{{ .Name }}").split())


@pytest.fixture
def lab_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        pytest.skip("no Docker engine answers (tools/test.sh starts one)")
    env = cli_env(tmp_path)
    yield env
    # Whatever happened, the lab goes: its containers, network and files.
    run_cli(["lab", "down", "--lab", LAB], env, timeout=300)


def node_invocations(servers_and_agents: list[str]) -> list[str]:
    """When each node's K3s service started (systemd's InvocationID changes at every restart)."""
    ids = []
    for container in servers_and_agents:
        unit = "k3s" if "-server-" in container else "k3s-agent"
        ids.append(docker("exec", container, "systemctl", "show", "-p", "InvocationID", "--value", unit).strip())
    return ids


def test_the_whole_pipeline_against_the_lab(lab_env: dict[str, str], tmp_path: Path) -> None:
    env = lab_env
    outputs: list[str] = []

    def lambda_k3s(*arguments: str, expected: int = 0, timeout: float = 1500) -> dict:
        before = set(runs(env))
        result = run_cli(list(arguments), env, timeout=timeout)
        outputs.append(result.stdout + result.stderr)
        assert result.returncode == expected, (arguments, outputs[-1][-4000:])
        new = [run for run in runs(env) if run not in before]
        return json.loads((new[-1] / "summary.json").read_text()) if new else {}

    lambda_k3s("lab", "up", "--lab", LAB, "--nodes", "3", "--network-index", "61", "--k3s", "standin")
    assert "serves the test stand-in" in outputs[-1], "the lab says plainly that K3s is the stand-in"
    lambda_k3s("lab", "up", "--lab", LAB)
    assert "reusing it" in outputs[-1], "a second lab up finds the running lab"

    provision = lambda_k3s("provision", *LAB_OPTIONS)
    assert provision["changed"] > 0
    containers = sorted(docker("ps", "--filter", "label=lambda-lab.instance", "--filter", "label=lambda-lab=%s" % LAB,
                               "--format", "{{ .Names }}").split())
    assert len(containers) == 3, containers

    first = lambda_k3s("deploy", *LAB_OPTIONS)
    stages = {stage["name"]: stage for stage in first["stages"]}
    assert [stages[name]["state"] for name in ("preflight", "gpu", "k3s")] == ["ok"] * 3, first["stages"]
    for skipped in ("cluster", "platform"):
        assert stages[skipped]["state"] == "not selected"
        assert "no Kubernetes API" in stages[skipped]["reason"], stages[skipped]
    started = node_invocations(containers)
    assert all(started), "K3s runs on every node"
    server = next(name for name in containers if "-server-" in name)
    k3s_token = docker("exec", server, "cat", "/var/lib/rancher/k3s/server/token").strip()

    rerun = lambda_k3s("deploy", *LAB_OPTIONS)
    assert rerun["changed"] == 0, "a rerun on the converged lab changes nothing"
    assert node_invocations(containers) == started, "and restarts nothing"

    lambda_k3s("status", "--lab", LAB)
    assert "Not checked: the nodes' Kubernetes state" in outputs[-1] and "e2e-server-1" in outputs[-1], outputs[-1][-2000:]
    check_the_converged_lab(lambda_k3s, outputs, env)
    lambda_k3s("teardown", *LAB_OPTIONS, "--confirm", LAB)
    assert docker("ps", "-a", "--filter", "label=lambda-lab.instance", "--filter", "label=lambda-lab=%s" % LAB, "-q").strip() == "", \
        "teardown removed the node containers"

    lab_dir = Path(env["LAMBDA_K3S_STATE_DIR"]) / ("lab-%s" % LAB)
    secrets = {"the lab's API key": (lab_dir / "lambda_api_key").read_text().strip(),
               "the lab's SSH private key": "".join((lab_dir / "id_ed25519").read_text().splitlines()[1:-1]),
               "the K3s token": k3s_token.rsplit(":", 1)[-1]}
    run_dirs = runs(env)
    assert len(run_dirs) == 11, "every verb but status (which has no Kubernetes API to read here) left a run"
    for run_dir in run_dirs:
        assert list((run_dir / "job_events").glob("*.json")), "%s recorded its events" % run_dir.name
    artifacts = [path for run_dir in run_dirs for path in run_dir.rglob("*") if path.is_file()]
    leaks = ["%s in %s" % (label, path) for label, secret in secrets.items() for path in artifacts if secret.encode() in path.read_bytes()]
    leaks += ["%s in the output of step %d" % (label, index) for label, secret in secrets.items() for index, text in enumerate(outputs)
              if secret in text]
    assert leaks == []

    lambda_k3s("lab", "down", "--lab", LAB)
    assert lab_leftovers() == [], "lab down left containers or networks"
    assert not lab_dir.exists(), "lab down removed the lab's files"


def check_the_converged_lab(lambda_k3s, outputs: list[str], env: dict[str, str]) -> None:
    """What the command does on a converged cluster, and when nodes fail: the shipped K3s verification, check mode,
    logs, a node failing preflight while the others finish, a failed server stopping the control-plane stages, an
    unreachable node. The failing nodes are instances seeded in the lab's emulator at the lab nodes' addresses (a
    GH200, whose arm64 type preflight refuses on these x86_64 containers) or at an address with nothing behind it."""
    lambda_k3s("run", "verify_k3s", *LAB_OPTIONS)
    assert lambda_k3s("deploy", "--check", *LAB_OPTIONS)["changed"] == 0, "check mode finds nothing to change"

    logs = lambda_k3s("logs", "--node", "e2e-server-1", "--service", "k3s", "--lines", "20", *LAB_OPTIONS)
    assert list(logs["artifact_data"]["lambda_k3s_logs"]["nodes"]) == ["e2e-server-1"]
    assert "e2e-server-1 k3s | " in outputs[-1]
    # The stand-in K3s answers kubectl for nodes only: asked for pods, it fails, as a server without the platform could.
    platform = lambda_k3s("logs", "--service", "platform", *LAB_OPTIONS)
    assert platform["artifact_data"]["lambda_k3s_logs"]["platform_error"]
    assert "Platform logs unavailable: " in outputs[-1]

    seed_instances(env, [
        {"name": "e2e-gh200-1", "instance_type": "gpu_1x_gh200", "ip": "127.0.61.11", "private_ip": "10.213.61.11",
         "tags": {"k3s-cluster": LAB, "k3s-role": "agent"}},
        {"name": "broken-server-1", "instance_type": "gpu_1x_gh200", "ip": "127.0.61.10", "private_ip": "10.213.61.10",
         "tags": {"k3s-cluster": "broken", "k3s-role": "server"}},
        {"name": "broken-agent-1", "instance_type": "cpu_4x_general", "ip": "127.0.61.11", "private_ip": "10.213.61.11",
         "tags": {"k3s-cluster": "broken", "k3s-role": "agent"}},
        {"name": "gone-agent-1", "instance_type": "cpu_4x_general", "ip": "127.0.61.99", "private_ip": "10.213.61.99",
         "tags": {"k3s-cluster": "gone", "k3s-role": "agent"}},
    ])
    broken_node = lambda_k3s("deploy", *LAB_OPTIONS, expected=3)
    stages = {stage["name"]: stage["state"] for stage in broken_node["stages"]}
    assert stages == {"preflight": "failed", "gpu": "ok", "k3s": "ok", "cluster": "not selected", "platform": "not selected",
                      "secrets": "skipped", "monitoring": "skipped", "gitops": "skipped"}, stages
    assert [(failure["host"], failure["stage"]) for failure in broken_node["failures"]] == [("e2e-gh200-1", "preflight")]
    assert "is x86_64, but its instance type says arm64" in broken_node["failures"][0]["message"]
    assert broken_node["changed"] == 0, "the other nodes finished every stage, changing nothing"

    broken_server = lambda_k3s("deploy", "--cluster", "broken", *LAB_OPTIONS, expected=3)
    stages = {stage["name"]: stage["state"] for stage in broken_server["stages"]}
    assert (stages["preflight"], stages["k3s"]) == ("failed", "failed"), stages
    assert [failure["host"] for failure in broken_server["failures"]] == ["broken-server-1", "localhost"]
    assert "The control plane is not whole: broken-server-1 failed" in broken_server["failures"][1]["message"]

    unreachable = lambda_k3s("deploy", "--cluster", "gone", "--stage", "preflight", *LAB_OPTIONS, expected=4)
    assert [(failure["host"], failure["unreachable"]) for failure in unreachable["failures"]] == [("gone-agent-1", True)]


def seed_instances(env: dict[str, str], instances: list[dict]) -> None:
    """Instances added to the lab's emulator through its control API (no container behind them)."""
    settings = yaml.safe_load((Path(env["LAMBDA_K3S_STATE_DIR"]) / ("lab-%s" % LAB) / "lab.yml").read_text())
    url = settings["lambda_k3s_lab"]["api_url"].rsplit("/api/v1", 1)[0] + "/_emulator/instances"
    request = urllib.request.Request(url, data=json.dumps([dict(instance, region="us-east-1") for instance in instances]).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
