# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local lab: the Lambda Cloud API emulator with node containers behind it, and the one file that points the
pipeline at it.

``lambda-k3s lab up`` writes ``<state>/lab-<name>/lab.yml``: the API's URL, the key file, the lab's SSH key, the
cluster spec of the lab (provision.yml reads it as it reads any spec) and the roles' variables the lab needs (no GPU,
K3s from the lab's mirror). The command line reads it when no Lambda key is configured; ``ansible-playbook`` users
pass it with ``-e @lab.yml`` after exporting what ``lambda-k3s lab env`` prints. Nothing in a role, module or plugin
knows about the lab: only this configuration differs from a real account.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lambda_lab.containers import MAX_NODES, Addresses, ContainerBackend, DockerError, ensure_engine, ensure_images

SETTINGS_FILE = "lab.yml"
SERVER_LOG = "emulator.log"
SERVER_PID = "emulator.pid"
SSH_KEY_NAME = "lambda-lab"
DEFAULT_NAME = "lab"
DEFAULT_NODES = 3
DEFAULT_NETWORK_INDEX = 60
# The lab's emulator runs the real API's limits (1 request/s, a launch per 12 s) ten times faster, so a lab comes up
# in seconds; benchmarks run it at 1.0 to measure provisioning against the real limits.
DEFAULT_TIME_SCALE = 0.1
K3S_RELEASES = "https://github.com/k3s-io/k3s/releases/download"
STANDIN_NOTE = ("K3s: the release cannot be downloaded here, so the lab serves the test stand-in (tests/standins/k3s, not K3s) "
                "through the K3s role's mirror URL; stages that need a real Kubernetes API are skipped.")
REAL_NOTE = "K3s: the nodes install the real release from %s." % K3S_RELEASES
NO_KUBERNETES_API = "the lab's K3s is the test stand-in, which has no Kubernetes API for %s"
SKIPPED_WITH_STANDIN = {"cluster": NO_KUBERNETES_API % "the node labels and the NVIDIA device plugin",
                        "platform": NO_KUBERNETES_API % "the platform's Helm release"}


class LabError(RuntimeError):
    """Something the lab could not do, said in one sentence."""


@dataclass(frozen=True)
class LabPaths:
    directory: Path

    @property
    def settings(self) -> Path:
        return self.directory / SETTINGS_FILE

    @property
    def api_key(self) -> Path:
        return self.directory / "lambda_api_key"

    @property
    def ssh_key(self) -> Path:
        return self.directory / "id_ed25519"

    @property
    def releases(self) -> Path:
        return self.directory / "k3s-releases"

    @property
    def log(self) -> Path:
        return self.directory / SERVER_LOG

    @property
    def pid(self) -> Path:
        return self.directory / SERVER_PID


def lab_directory(state: Path, name: str) -> Path:
    return state / ("lab-%s" % name)


def by_hand_command(settings_file: Path, skip_stages: dict[str, str]) -> str:
    """The playbook run the command line makes against a lab, for a shell that ran ``eval "$(lambda-k3s lab env)"``:
    its variables, and the stages its K3s cannot serve left out (the command line leaves them out the same way)."""
    skip = " --skip-tags %s" % ",".join(skip_stages) if skip_stages else ""
    return "ansible-playbook site.yml -i inventories/lambda.py -e @%s%s" % (settings_file, skip)


def read_settings(path: Path) -> dict[str, Any] | None:
    """A lab's settings file, or None when there is none (or it is not one)."""
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return content if isinstance(content, dict) and isinstance(content.get("lambda_k3s_lab"), dict) else None


class Lab:
    """One lab, by name, with its files under ``directory``."""

    def __init__(self, directory: Path, name: str = DEFAULT_NAME, network_index: int = DEFAULT_NETWORK_INDEX,
                 checkout: Path | None = None, say: Callable[[str], None] = print) -> None:
        self.name = name
        self.paths = LabPaths(directory)
        self.addresses = Addresses(network_index)
        self.backend = ContainerBackend(name, self.addresses)
        self.checkout = checkout or Path(__file__).resolve().parents[2]
        self.say = say

    # -- up ----------------------------------------------------------------------------------------

    def up(self, nodes: int = DEFAULT_NODES, k3s: str = "auto", time_scale: float = DEFAULT_TIME_SCALE) -> dict[str, Any]:
        """Start the lab, or find the running one and reuse it; its settings."""
        if not 1 <= nodes <= MAX_NODES:
            raise LabError("A lab has 1 to %d nodes (1 server, the rest agents), not %d." % (MAX_NODES, nodes))
        settings = read_settings(self.paths.settings)
        if settings and self.answers(settings):
            self.say("The lab %s is running: reusing it (lambda-k3s lab status; lambda-k3s lab down removes it)." % self.name)
            return settings
        self.paths.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            ensure_engine(self.checkout, self.say)
            ensure_images(self.checkout, self.say)
            self.backend.ensure_network()
            settings = settings or self._new_settings(nodes, k3s, time_scale)
            self._write(settings)
            self._start_server(settings)
        except DockerError as error:
            raise LabError(str(error)) from None
        return settings

    def _new_settings(self, nodes: int, k3s: str, time_scale: float) -> dict[str, Any]:
        self._write_private(self.paths.api_key, "secret_lab_%s.%s\n" % (self.name, secrets.token_hex(16)))
        if not self.paths.ssh_key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lambda-lab-%s" % self.name, "-f", str(self.paths.ssh_key)],
                           check=True)
        standin = k3s == "standin" or (k3s == "auto" and not _release_reachable())
        mirror = self._serve_standin() if standin else None
        lab = {
            "name": self.name,
            "api_url": "http://127.0.0.1:%d/api/v1" % _free_port(),
            "api_key_file": str(self.paths.api_key),
            "ssh_private_key_file": str(self.paths.ssh_key),
            "time_scale": time_scale,
            "network_index": self.addresses.index,
            "k3s": {"source": "standin" if standin else "release", "note": STANDIN_NOTE if standin else REAL_NOTE},
            "skip_stages": dict(SKIPPED_WITH_STANDIN) if standin else {},
        }
        interval = time_scale * 1.1  # the collection's default pacing of the real API (1.1 s a request), scaled
        lab["environment"] = {"LAMBDA_API_URL": lab["api_url"], "LAMBDA_API_KEY_FILE": lab["api_key_file"],
                              "LAMBDA_K3S_CLUSTER": self.name, "LAMBDA_REQUEST_INTERVAL": "%.3f" % interval,
                              "ANSIBLE_PRIVATE_KEY_FILE": lab["ssh_private_key_file"]}
        settings: dict[str, Any] = {"lambda_k3s_lab": lab}
        settings.update(self._cluster_spec(nodes, time_scale))
        settings.update(_role_variables(mirror))
        return settings

    def _cluster_spec(self, nodes: int, time_scale: float) -> dict[str, Any]:
        """provision.yml's spec for the lab: one CPU server, GPU agents (A10s: the nodes have no GPU, see _role_variables)."""
        pools = [{"name": "server", "role": "server", "count": 1, "instance_types": ["cpu_4x_general"]}]
        if nodes > 1:
            pools.append({"name": "a10", "role": "agent", "count": nodes - 1, "instance_types": ["gpu_1x_a10"]})
        return {
            "lambda_cluster_name": self.name,
            "lambda_cluster_regions": ["us-east-1"],
            "lambda_cluster_ssh_key_name": SSH_KEY_NAME,
            "lambda_cluster_ssh_public_key_file": str(self.paths.ssh_key) + ".pub",
            # The nodes' public addresses are loopback addresses of this machine.
            "lambda_cluster_admin_networks": ["127.0.0.0/8"],
            "lambda_cluster_node_pools": pools,
            "lambda_cluster_launch_interval": round(12 * time_scale, 3),
            "lambda_cluster_poll_interval": max(1, round(10 * time_scale)),
        }

    def _serve_standin(self) -> str:
        """The stand-in K3s release, laid out as K3s's releases are, served by the lab's mirror; its URL."""
        version = _role_default("k3s", "k3s_version", self.checkout)
        release = self.paths.releases / version
        release.mkdir(parents=True, exist_ok=True)
        standin = (self.checkout / "tests" / "standins" / "k3s").read_text(encoding="utf-8")
        binary_name = "k3s" if os.uname().machine == "x86_64" else "k3s-arm64"
        binary = release / binary_name
        lines = ['VERSION = "%s"' % version if line.startswith("VERSION = ") else line for line in standin.splitlines()]
        binary.write_text("\n".join(lines) + "\n", encoding="utf-8")
        binary.chmod(0o755)
        digest = hashlib.sha256(binary.read_bytes()).hexdigest()
        arch = "amd64" if binary_name == "k3s" else "arm64"
        (release / ("sha256sum-%s.txt" % arch)).write_text("%s  %s\n" % (digest, binary_name), encoding="utf-8")
        for path in (self.paths.releases, release):
            path.chmod(0o755)
        return self.backend.ensure_mirror(self.paths.releases)

    def _write(self, settings: dict[str, Any]) -> None:
        header = ("# The local lab %s, written by `lambda-k3s lab up`; `lambda-k3s lab down` removes it.\n"
                  "# lambda-k3s uses it when no Lambda Cloud API key is configured (or with --lab). By hand:\n"
                  "#   eval \"$(lambda-k3s lab env)\" && %s\n" % (self.name, by_hand_command(self.paths.settings, settings["lambda_k3s_lab"]["skip_stages"])))
        self._write_private(self.paths.settings, header + yaml.safe_dump(settings, sort_keys=False, default_flow_style=False))

    @staticmethod
    def _write_private(path: Path, text: str) -> None:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)

    def _start_server(self, settings: dict[str, Any]) -> None:
        with self.paths.log.open("ab") as log:
            process = subprocess.Popen([sys.executable, "-m", "lambda_lab", "serve", str(self.paths.settings)], stdout=log, stderr=log,
                                       stdin=subprocess.DEVNULL, start_new_session=True, env=_python_path_env())
        self.paths.pid.write_text("%d\n" % process.pid)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.answers(settings):
                return
            if process.poll() is not None:
                break
            time.sleep(0.2)
        tail = self.paths.log.read_text(errors="replace")[-800:] if self.paths.log.exists() else ""
        raise LabError("The lab's API emulator did not start; its log %s ends with:\n%s" % (self.paths.log, tail))

    # -- status and down ---------------------------------------------------------------------------

    @staticmethod
    def answers(settings: dict[str, Any]) -> bool:
        url = settings["lambda_k3s_lab"]["api_url"].rsplit("/api/v1", 1)[0] + "/_emulator/health"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def status(self) -> dict[str, Any]:
        """What the lab is: running or not, its settings file, K3s's source, and its nodes as the API lists them."""
        settings = read_settings(self.paths.settings)
        if settings is None:
            return {"name": self.name, "running": False, "settings": None, "containers": self._containers()}
        lab = settings["lambda_k3s_lab"]
        running = self.answers(settings)
        return {"name": self.name, "running": running, "settings": str(self.paths.settings), "api_url": lab["api_url"],
                "k3s": lab["k3s"], "skip_stages": lab["skip_stages"], "instances": self._instances(lab) if running else [],
                "containers": self._containers()}

    def _instances(self, lab: dict[str, Any]) -> list[dict[str, Any]]:
        url = lab["api_url"].rsplit("/api/v1", 1)[0] + "/_emulator/state"
        with urllib.request.urlopen(url, timeout=5) as response:
            state = json.loads(response.read().decode())
        return [{key: instance.get(key) for key in ("name", "status", "ip", "private_ip")} | {"type": instance["instance_type"]["name"]}
                for instance in state.get("instances", [])]

    def _containers(self) -> list[str]:
        try:
            return self.backend.node_containers()
        except DockerError:
            return []

    def down(self) -> list[str]:
        """Stop the emulator, remove every container and network of the lab and its directory; what was removed."""
        self._stop_server()
        try:
            removed = self.backend.remove_everything()
        except DockerError as error:
            raise LabError(str(error)) from None
        if self.paths.directory.exists():
            shutil.rmtree(self.paths.directory)
            removed.append(str(self.paths.directory))
        return removed

    def _stop_server(self) -> None:
        try:
            pid = int(self.paths.pid.read_text())
        except (OSError, ValueError):
            return
        if not _is_lab_server(pid):
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _is_lab_server(pid):
            time.sleep(0.1)


def _role_variables(mirror: str | None) -> dict[str, Any]:
    """The roles' own variables for the lab's nodes: no GPU behind the A10 instance type, K3s from the lab's mirror."""
    variables: dict[str, Any] = {
        # The instance type says A10, but a container has no GPU: the GPU roles report that and install nothing.
        "nvidia_driver_expect_gpu": False,
        "nvidia_container_toolkit_expect_gpu": False,
    }
    if mirror:
        variables["k3s_release_url"] = mirror
    return variables


def _role_default(role: str, name: str, checkout: Path) -> str:
    defaults = yaml.safe_load((checkout / "roles" / role / "defaults" / "main.yml").read_text(encoding="utf-8"))
    return str(defaults[name])


def _release_reachable() -> bool:
    """Whether K3s's releases can be downloaded from here (a quick look at the release page's host)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(K3S_RELEASES, method="HEAD"), timeout=5):
            return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _is_lab_server(pid: int) -> bool:
    try:
        command = Path("/proc/%d/cmdline" % pid).read_bytes().split(b"\0")
    except OSError:
        return False
    return b"lambda_lab" in command and b"serve" in command


def _python_path_env() -> dict[str, str]:
    """The emulator and the lab are importable from tools/ (installed in editable mode, or from a plain checkout)."""
    tools = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH", "")
    # The emulator needs no Lambda key of the user's.
    environment = {name: value for name, value in os.environ.items() if name != "LAMBDA_API_KEY"}
    return dict(environment, PYTHONPATH=os.pathsep.join(filter(None, [tools, path])))
