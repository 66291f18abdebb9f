"""The cluster playbooks end to end, from the controller (lambda_k3s_cluster_ops_host=localhost), against the Kubernetes
API emulator (tests/kube_emulator) with the real helm binary and the real kubernetes.core modules.

What this proves: the requests the plays send and the decisions they make on what the API answers - labels and taints
patched (and nothing sent on a rerun), missing nodes and unserved GPU nodes refused by name, check mode sending only
dry runs, the device plugin's objects, the platform release installed, upgraded, left alone when nothing changed,
rolled back, its Secrets never printed, and the status and rollback data published for ansible-runner and shown by the
command line (lambda-k3s status, rollback). What it does not prove: anything a real API server, kubelet or GPU does
(docs/testing.md). The default, first-server path runs in the Molecule scenario `cluster`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import ansible_runner
import pytest
import yaml
from helm_tool import cluster_tools_variables
from kube_emulator.fixtures import write_kubeconfig
from kube_emulator.server import KubeEmulator

from integration.cli import CANNED, PLAYBOOKS, local_env, run_cli
from integration.helpers import REPO_ROOT, ansible_env, run_ansible

pytestmark = pytest.mark.integration

PREFIX = "lambda-k3s.sophia.ai"
CHART = REPO_ROOT / "tests" / "charts" / "sophia-platform"
SECRET = "platform-secret-value-7d1f"
HOSTS = {
    "srv-1": {"lambda_instance_type": "cpu_4x_general", "lambda_region": "us-east-1"},
    "gpu-a10": {"lambda_instance_type": "gpu_1x_a10", "lambda_region": "us-east-1", "cluster_nodes_taints": ["nvidia.com/gpu=true:NoSchedule"]},
    "gpu-h100": {"lambda_instance_type": "gpu_8x_h100_sxm5", "lambda_region": "us-west-1", "cluster_nodes_labels": {"team": "research"}},
}
GPUS = {"gpu-a10": 1, "gpu-h100": 8}


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The helm release site (built from the real binary) and the controller's tools directory, shared by the module."""
    return cluster_tools_variables(tmp_path_factory.mktemp("helm-site"), tmp_path_factory.mktemp("cluster-tools"))


class Cluster:
    """An inventory of the emulated cluster, run from the controller, and the playbooks run against it."""

    def __init__(self, emulator: KubeEmulator, directory: Path, tools: dict[str, str]) -> None:
        self.emulator, self.directory = emulator, directory
        kubeconfig = write_kubeconfig(emulator, directory / "kubeconfig")
        self.variables = {"lambda_k3s_cluster_ops_host": "localhost", "cluster_tools_kubeconfig": str(kubeconfig), **tools,
                          "nvidia_device_plugin_wait_timeout": 20, "platform_release_chart_ref": str(CHART),
                          "platform_release_environment": "dev", "platform_release_timeout": "20s",
                          "platform_release_secrets": {"sophia-platform-secrets": {"API_TOKEN": SECRET}}}
        self.hosts = {name: dict(variables) for name, variables in HOSTS.items()}

    def seed(self, **overrides: dict[str, Any]) -> None:
        self.emulator.seed_node("srv-1", labels={"node-role.kubernetes.io/control-plane": "true"})
        for name, gpus in GPUS.items():
            self.emulator.seed_node(name, gpus=gpus, **overrides.get(name, {}))

    def inventory(self) -> Path:
        path = self.directory / "inventory.yml"
        servers = {"srv-1": self.hosts["srv-1"]}
        agents = {name: variables for name, variables in self.hosts.items() if name != "srv-1"}
        path.write_text(yaml.safe_dump({"all": {"vars": self.variables, "children": {"k3s_cluster": {"children": {
            "k3s_server": {"hosts": servers}, "k3s_agent": {"hosts": agents}}}}}}))
        return path

    def env(self) -> dict[str, str]:
        # The inventory is a static YAML file, which the repository's ansible.cfg does not read by default.
        return ansible_env(self.directory, ANSIBLE_INVENTORY_ENABLED="ansible.builtin.yaml")

    def play(self, playbook: str, *arguments: str) -> tuple[int, str]:
        result = run_ansible(["ansible-playbook", "playbooks/%s" % playbook, "-i", str(self.inventory()), *arguments],
                             env=self.env(), timeout=600)
        return result.returncode, result.stdout + result.stderr

    def runner(self, playbook: str, **extravars: Any) -> ansible_runner.Runner:
        """Runs a playbook through ansible-runner, as the command line does, and returns the runner."""
        private = self.directory / ("runner-" + playbook.replace(".yml", ""))
        private.mkdir(mode=0o700, exist_ok=True)
        env = {name: value for name, value in self.env().items() if name.startswith(("ANSIBLE_", "PATH", "PYTHON"))}
        return ansible_runner.run(private_data_dir=str(private), project_dir=str(REPO_ROOT), playbook="playbooks/" + playbook,
                                  inventory=str(self.inventory()), envvars=env, extravars=extravars, quiet=True)

    def cli(self, verb: str, *arguments: str) -> subprocess.CompletedProcess[str]:
        """Runs lambda-k3s on this inventory, its state (runs, artifacts) under cli/."""
        env = local_env(self.directory / "cli")
        return run_cli([verb, "-i", str(self.inventory()), "--progress", "plain", *arguments], env, timeout=600)

    def writes(self) -> list[dict]:
        return [entry for entry in self.emulator.writes() if entry["query"].get("dryRun") != "All"]

    def versions(self) -> dict:
        """Every object's resourceVersion: it moves only when the object really changes."""
        return {key: obj["metadata"]["resourceVersion"] for key, obj in self.emulator.objects.items()}


def _shape(value: Any) -> Any:
    """The keys of a published structure, recursively (a list by its first item), without the values."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return None


def recap(output: str) -> str:
    return output[output.rindex("PLAY RECAP"):]


def stats_of(runner: ansible_runner.Runner) -> dict:
    events = [event for event in runner.events if event.get("event") == "playbook_on_stats"]
    return events[-1]["event_data"]["artifact_data"]


@pytest.fixture
def cluster(kube_emulator: KubeEmulator, tmp_path: Path, tools: dict[str, str]) -> Cluster:
    return Cluster(kube_emulator, tmp_path, tools)


def test_cluster_labels_the_nodes_serves_every_gpu_and_then_changes_nothing(cluster: Cluster) -> None:
    cluster.seed(**{"gpu-h100": {"labels": {PREFIX + "/stale": "x", "someone-elses": "y"}}})
    status, output = cluster.play("cluster.yml")
    assert status == 0, output[-4000:]
    h100 = cluster.emulator.get("nodes", "gpu-h100")["metadata"]["labels"]
    assert h100["gpu-type"] == "H100" and h100["nvidia.com/gpu.present"] == "true" and h100["team"] == "research"
    assert h100[PREFIX + "/gpu-count"] == "8" and h100["node-role.kubernetes.io/worker"] == "true"
    assert PREFIX + "/stale" not in h100 and h100["someone-elses"] == "y"
    assert cluster.emulator.get("nodes", "gpu-a10")["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    assert cluster.emulator.get("nodes", "srv-1")["metadata"]["labels"]["node-role"] == "control-plane"
    assert cluster.emulator.get("runtimeclasses", "nvidia", group="node.k8s.io")["handler"] == "nvidia"
    assert {name: cluster.emulator.get("nodes", name)["status"]["allocatable"]["nvidia.com/gpu"] for name in GPUS} == {"gpu-a10": "1", "gpu-h100": "8"}
    assert "NVIDIA device plugin: 2 of 2 GPU nodes served" in output

    # A rerun changes nothing. kubernetes.core's client-side apply always sends its patch (lists included), which the API
    # answers as a no-op; the plays themselves send no node patch, create nothing and delete nothing.
    versions = cluster.versions()
    cluster.emulator.requests.clear()
    status, output = cluster.play("cluster.yml")
    assert status == 0, output[-4000:]
    assert "changed=0" in recap(output)
    assert cluster.versions() == versions
    assert [(entry["method"], entry["path"]) for entry in cluster.writes() if entry["method"] != "PATCH" or "/nodes/" in entry["path"]] == []

    # Check mode: the change is reported, only dry runs reach the API.
    cluster.variables["cluster_nodes_labels"] = {"rack": "r1"}
    cluster.emulator.requests.clear()
    status, output = cluster.play("cluster.yml", "--check", "--tags", "labels")
    assert status == 0, output[-4000:]
    assert "changed=1" in recap(output)
    assert cluster.writes() == [] and cluster.versions() == versions
    assert any(entry["query"].get("dryRun") == "All" for entry in cluster.emulator.writes())
    assert "rack" not in cluster.emulator.get("nodes", "srv-1")["metadata"]["labels"]


def test_an_inventory_node_missing_from_the_cluster_fails_before_any_change(cluster: Cluster) -> None:
    cluster.emulator.seed_node("srv-1")
    cluster.emulator.seed_node("gpu-a10", gpus=1)
    status, output = cluster.play("cluster.yml", "--tags", "labels")
    assert status != 0
    assert "These inventory nodes are not in the cluster: gpu-h100." in output
    assert [entry for entry in cluster.writes() if entry["path"].startswith("/api/v1/nodes")] == []


def test_a_node_that_left_the_run_earlier_is_left_out_and_the_others_are_labelled(cluster: Cluster) -> None:
    """In site.yml a node that failed an earlier stage (here gpu-h100, never in the cluster) does not stop the labels."""
    cluster.emulator.seed_node("srv-1")
    cluster.emulator.seed_node("gpu-a10", gpus=1)
    result = run_ansible(["ansible-playbook", str(PLAYBOOKS / "cluster_after_a_failure.yml"), "-i", str(cluster.inventory()),
                          "--tags", "labels", "-e", "dropped_node=gpu-h100"], env=cluster.env(), timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "gpu-h100 dropped out in an earlier stage" in output, output[-4000:]
    assert "not in the cluster" not in output
    assert cluster.emulator.get("nodes", "gpu-a10")["metadata"]["labels"]["gpu-type"] == "A10"


def test_a_gpu_node_the_device_plugin_cannot_serve_fails_naming_it(cluster: Cluster) -> None:
    present = {"nvidia.com/gpu.present": "true"}
    cluster.seed(**{"gpu-a10": {"labels": present}, "gpu-h100": {"labels": present, "reports": 6}})
    cluster.variables["nvidia_device_plugin_wait_timeout"] = 5
    status, output = cluster.play("cluster.yml", "--tags", "device_plugin")
    assert status != 0
    assert "does not serve every GPU node after 5 s: allocatable nvidia.com/gpu differs from the GPU count on gpu-h100 (6, expected 8)" in output


def _serve_gpus(cluster: Cluster) -> None:
    """What cluster.yml leaves behind, made directly (faster): GPU nodes labelled, the RuntimeClass and a device plugin."""
    cluster.seed(**{name: {"labels": {"nvidia.com/gpu.present": "true", "gpu-type": name.split("-")[1].upper(), PREFIX + "/gpu-count": str(gpus)}}
                    for name, gpus in GPUS.items()})
    emulator = cluster.emulator
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "nvidia-device-plugin"}})
    emulator.create({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"}, "handler": "nvidia"})
    emulator.create({"apiVersion": "apps/v1", "kind": "DaemonSet",
                     "metadata": {"name": "nvidia-device-plugin-daemonset", "namespace": "nvidia-device-plugin",
                                  "labels": {"app.kubernetes.io/name": "nvidia-device-plugin"}},
                     "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "nvidia-device-plugin"}}, "template": {
                         "metadata": {"labels": {"app.kubernetes.io/name": "nvidia-device-plugin"}},
                         "spec": {"runtimeClassName": "nvidia", "nodeSelector": {"nvidia.com/gpu.present": "true"},
                                  "containers": [{"name": "nvidia-device-plugin-ctr", "image": "nvcr.io/nvidia/k8s-device-plugin:v0.18.2",
                                                  "command": ["nvidia-device-plugin"]}]}}}})


def test_the_platform_release_lifecycle_and_what_status_and_rollback_publish(cluster: Cluster) -> None:
    _serve_gpus(cluster)

    # Install, at -vvv: the Secret is created and never printed.
    status, output = cluster.play("platform.yml", "-vvv")
    assert status == 0, output[-4000:]
    assert SECRET not in output
    secret = cluster.emulator.get("secrets", "sophia-platform-secrets", "sophia-ai")
    assert secret["metadata"]["labels"][PREFIX + "/release"] == "sophia-platform"
    backend = cluster.emulator.get("deployments", "sophia-platform-backend", "sophia-ai", "apps")
    assert backend["spec"]["template"]["spec"]["nodeSelector"] == {"gpu-type": "A10"}
    assert cluster.emulator.get("namespaces", "sophia-ai")["metadata"]["annotations"][PREFIX + "/chart-sophia-platform"].startswith(
        "sophia-platform-0.1.0 sha256:")

    # Nothing changed: nothing deployed, nothing changed in the cluster.
    versions = cluster.versions()
    status, output = cluster.play("platform.yml")
    assert status == 0, output[-4000:]
    assert "changed=0" in recap(output)
    assert cluster.versions() == versions

    # New values: an upgrade to revision 2; the Secret given no more is removed.
    cluster.variables["platform_release_values"] = {"frontend": {"replicas": 2}}
    cluster.variables["platform_release_secrets"] = {}
    status, output = cluster.play("platform.yml")
    assert status == 0, output[-4000:]
    assert cluster.emulator.get("deployments", "sophia-platform-frontend", "sophia-ai", "apps")["spec"]["replicas"] == 2
    assert cluster.emulator.get("secrets", "sophia-platform-secrets", "sophia-ai") is None

    # Back to the previous revision, through ansible-runner as the command line runs it.
    runner = cluster.runner("rollback.yml")
    assert runner.status == "successful", "".join(runner.stdout.read())[-4000:]
    assert stats_of(runner) == {"lambda_k3s_rollback": {"release": "sophia-platform", "from_revision": 2, "to_revision": 1}}
    assert cluster.emulator.get("deployments", "sophia-platform-frontend", "sophia-ai", "apps")["spec"]["replicas"] == 1

    runner = cluster.runner("status.yml")
    assert runner.status == "successful", "".join(runner.stdout.read())[-4000:]
    status_data = stats_of(runner)["lambda_k3s_status"]
    assert [node["name"] for node in status_data["nodes"]] == ["gpu-a10", "gpu-h100", "srv-1"]
    h100 = status_data["nodes"][1]
    assert (h100["role"], h100["gpu_type"], h100["ready"], h100["allocatable_gpus"], h100["gpu_count"]) == ("agent", "H100", True, 8, 8)
    assert status_data["device_plugin"] == {"installed": True, "desired": 2, "ready": 2, "gpu_nodes": 2,
                                            "message": "2 of 2 GPU nodes served, nvidia.com/gpu allocatable as expected"}
    release = status_data["release"]
    assert (release["revision"], release["status"], release["chart"]) == (3, "deployed", "sophia-platform-0.1.0")
    assert status_data["skipped"] == []
    artifacts = "".join(path.read_text(errors="replace") for path in (cluster.directory / "runner-status").rglob("*") if path.is_file())
    assert SECRET not in artifacts
    assert json.loads(json.dumps(status_data)) == status_data

    # The command line reads the same data from the real plays and shows it.
    as_json = cluster.cli("status", "--json")
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    assert json.loads(as_json.stdout) == status_data
    table = cluster.cli("status")
    assert table.returncode == 0, table.stdout + table.stderr
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines() if line.split()[:1] in (["gpu-a10"], ["gpu-h100"], ["srv-1"])}
    assert rows["gpu-h100"][1:3] == ["agent", "H100"] and "8/8" in rows["gpu-h100"] and "Ready" in rows["gpu-h100"]
    assert rows["srv-1"][1] == "server" and "Device plugin: 2/2 ready on 2 GPU nodes" in table.stdout
    assert "Release: sophia-platform (sophia-ai) revision 3, deployed" in table.stdout
    rolled_back = cluster.cli("rollback", "--revision", "2", "--json")
    assert rolled_back.returncode == 0, rolled_back.stdout + rolled_back.stderr
    assert json.loads(rolled_back.stdout) == {"release": "sophia-platform", "from_revision": 3, "to_revision": 2}
    outputs = "".join(path.read_text(errors="replace") for path in (cluster.directory / "cli").rglob("*") if path.is_file())
    assert SECRET not in outputs + as_json.stdout + as_json.stderr + table.stdout + table.stderr
    # The command line's own tests use canned playbooks in the same shape (tests/integration/canned_playbooks).
    canned = yaml.safe_load((CANNED / "status.yml").read_text())[0]["tasks"][0]["ansible.builtin.set_stats"]["data"]["lambda_k3s_status"]
    assert _shape(canned) == _shape(status_data)


def test_a_failing_release_is_rolled_back_and_a_changed_chart_needs_a_new_version(cluster: Cluster, tmp_path: Path) -> None:
    _serve_gpus(cluster)
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    cluster.variables.update({"platform_release_chart_ref": str(chart), "platform_release_secrets": {}})
    status, output = cluster.play("platform.yml")
    assert status == 0, output[-4000:]

    # No node has the GPU type asked for: the upgrade times out and atomic rolls it back.
    cluster.variables.update({"platform_release_values": {"backend": {"gpuType": "GH200"}}, "platform_release_timeout": "5s"})
    status, output = cluster.play("platform.yml")
    assert status != 0 and "has been rolled back due to atomic being set" in output
    assert cluster.emulator.get("deployments", "sophia-platform-backend", "sophia-ai", "apps")["spec"]["template"]["spec"]["nodeSelector"] == {
        "gpu-type": "A10"}

    # The chart's templates change, its version does not: refused, naming the fix.
    cluster.variables["platform_release_values"] = {}
    (chart / "templates" / "configmap.yaml").write_text((chart / "templates" / "configmap.yaml").read_text() + "  EXTRA: \"1\"\n")
    status, output = cluster.play("platform.yml")
    assert status != 0
    assert "changed since sophia-platform-0.1.0 was deployed, but its version did not" in output
