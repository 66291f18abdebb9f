# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's machines: one systemd node container per Lambda instance, driven through the docker command.

Every container and network the lab makes carries the label ``lambda-lab=<lab name>`` and a name starting with
``lambda-lab-``, so the lab finds its own (and only its own) after a restart of the lab or of the machine. An
instance's public ``ip`` is a loopback address of its own with the container's port 22 published on it; its
``private_ip`` is the container's address on the lab network, where the nodes reach each other.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LABEL = "lambda-lab"
INSTANCE_LABEL = "lambda-lab.instance"
BASE_IMAGE = "sophia-lambda-k3s-node:bookworm"
LAB_IMAGE = "lambda-lab-node:bookworm"
NODE_DOCKERFILE = Path(__file__).with_name("node.Dockerfile")
# The capabilities, cgroup and tmpfs settings the Molecule node containers run with (.config/molecule/config.yml):
# systemd as PID 1 without --privileged, which this kind of machine refuses.
SYSTEMD_RUN_OPTIONS = ("--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--security-opt", "seccomp=unconfined",
                       "--security-opt", "apparmor=unconfined", "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                       "--tmpfs", "/run", "--tmpfs", "/run/lock")
# Host numbers of the nodes on the lab network and on their loopback /24: .10 to .(10 + MAX_NODES - 1).
FIRST_NODE_HOST = 10
MAX_NODES = 6
MIRROR_HOST = 2
MIRROR_PORT = 8080
BOOT_TIMEOUT = 120


class DockerError(RuntimeError):
    """A docker command failed."""


def docker(*arguments: str, stdin: str | None = None, check: bool = True, timeout: float = 600) -> str:
    """Run the docker command and return its output; fail with its error message."""
    try:
        process = subprocess.run(["docker", *arguments], input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise DockerError("The docker command is missing: install Docker (tools/docker-engine.sh does on Debian).") from None
    except subprocess.TimeoutExpired:
        raise DockerError("docker %s did not finish within %d s." % (arguments[0], timeout)) from None
    if check and process.returncode != 0:
        raise DockerError("docker %s failed: %s" % (" ".join(arguments[:2]), process.stderr.strip()[-500:]))
    return process.stdout


def image_recipe() -> str:
    """A digest of the lab image's recipe: a changed Dockerfile builds the image again."""
    return hashlib.sha256(NODE_DOCKERFILE.read_bytes()).hexdigest()[:12]


def ensure_engine(checkout: Path, say: Any) -> None:
    """A Docker engine that answers, and the SSH client Ansible needs: tools/docker-engine.sh installs and starts Docker on Debian."""
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        raise DockerError("The SSH client is missing: install it (apt-get install openssh-client) and run lambda-k3s lab up again.")
    if shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0:
        return
    say("No Docker engine answers: starting one with tools/docker-engine.sh")
    if subprocess.run([str(checkout / "tools" / "docker-engine.sh")], check=False).returncode != 0:
        raise DockerError("No Docker engine: tools/docker-engine.sh could not start one (it needs root on Debian); start Docker and run "
                          "lambda-k3s lab up again.")


def ensure_images(checkout: Path, say: Any) -> None:
    """The Molecule node image (built by tools/node-image.sh when absent), then the lab's image on top of it."""
    built = docker("image", "inspect", "--format", '{{ index .Config.Labels "lab-recipe" }}', LAB_IMAGE, check=False).strip()
    if built == image_recipe():
        return
    if not docker("image", "ls", "-q", BASE_IMAGE).strip():
        say("Building the node image %s (tools/node-image.sh, about a minute)" % BASE_IMAGE)
        process = subprocess.run([str(checkout / "tools" / "node-image.sh")], capture_output=True, text=True, check=False)
        if process.returncode != 0:
            raise DockerError("tools/node-image.sh failed: %s" % process.stderr.strip()[-500:])
    say("Building the lab's node image %s (sshd and Lambda's ubuntu user, from %s)" % (LAB_IMAGE, BASE_IMAGE))
    docker("build", "-q", "--label", "lab-recipe=" + image_recipe(), "-t", LAB_IMAGE, "-f", str(NODE_DOCKERFILE), str(NODE_DOCKERFILE.parent))


@dataclass(frozen=True)
class Addresses:
    """The lab's address plan: 10.213.<index>.0/24 for its network, 127.0.<index>.0/24 for the nodes' public ip."""

    index: int

    @property
    def subnet(self) -> str:
        return "10.213.%d.0/24" % self.index

    def private(self, slot: int) -> str:
        return "10.213.%d.%d" % (self.index, FIRST_NODE_HOST + slot)

    def public(self, slot: int) -> str:
        return "127.0.%d.%d" % (self.index, FIRST_NODE_HOST + slot)

    @property
    def mirror(self) -> str:
        return "10.213.%d.%d" % (self.index, MIRROR_HOST)


def _container_name(prefix: str, name: str | None, instance_id: str) -> str:
    readable = re.sub(r"[^a-zA-Z0-9_.-]+", "-", name or "instance").strip("-.") or "instance"
    return "%s-%s-%s" % (prefix, readable[:40], instance_id[:6])


class ContainerBackend:
    """The emulator's InstanceBackend for the lab: an instance is a node container, started in the background."""

    def __init__(self, lab: str, addresses: Addresses) -> None:
        self.lab = lab
        self.prefix = "lambda-lab-%s" % lab
        self.network = self.prefix
        self.addresses = addresses
        self._lock = threading.Lock()
        # instance id -> container name, slot, and its state: starting, ready, failed, removing, removed.
        self._containers: dict[str, dict[str, Any]] = {}

    # -- the emulator's hooks ----------------------------------------------------------------------

    def launch(self, record: Any, public_key: str | None) -> tuple[str, str]:
        slot = self._free_slot()
        name = _container_name(self.prefix, record.name, record.id)
        with self._lock:
            self._containers[record.id] = {"name": name, "slot": slot, "state": "starting"}
        ip, private_ip = self.addresses.public(slot), self.addresses.private(slot)
        description = {"id": record.id, "name": record.name, "instance_type": record.instance_type["name"], "region": record.region_name,
                       "ssh_key_names": record.ssh_key_names, "tags": {tag["key"]: tag["value"] for tag in record.tags},
                       "ip": ip, "private_ip": private_ip, "hostname": record.hostname or ip.replace(".", "-"), "slot": slot}
        self._background(record.id, "ready", self._start, name, description, public_key)
        return ip, private_ip

    def ready(self, record: Any) -> bool | None:
        state = self._state(record.id)
        return True if state == "ready" else None if state == "failed" else False

    def restart(self, record: Any) -> None:
        name = self._containers.get(record.id, {}).get("name")
        if name:
            self._set_state(record.id, "starting")
            self._background(record.id, "ready", self._restart, name)

    def terminate(self, record: Any) -> None:
        name = self._containers.get(record.id, {}).get("name")
        if name:
            self._set_state(record.id, "removing")
            self._background(record.id, "removed", self._remove, name)

    def gone(self, record: Any) -> bool:
        return self._state(record.id) in ("removed", None)

    # -- adoption: the containers of a lab that ran before -----------------------------------------

    def adopt(self) -> list[dict[str, Any]]:
        """The lab's node containers left from an earlier run of the lab, started again, as instance seeds."""
        seeds = []
        for name in self.node_containers():
            description = json.loads(docker("inspect", "--format", '{{ index .Config.Labels "%s" }}' % INSTANCE_LABEL, name).strip())
            if docker("inspect", "--format", "{{ .State.Running }}", name).strip() != "true":
                docker("start", name)
            with self._lock:
                self._containers[description["id"]] = {"name": name, "slot": description["slot"], "state": "starting"}
            self._background(description["id"], "ready", self._wait_for_ssh, name)
            seeds.append({"id": description["id"], "name": description["name"], "instance_type": description["instance_type"],
                          "region": description["region"], "ssh_key_names": description["ssh_key_names"], "tags": description["tags"],
                          "ip": description["ip"], "private_ip": description["private_ip"], "hostname": description["hostname"]})
        return seeds

    def node_containers(self) -> list[str]:
        output = docker("ps", "-a", "--filter", "label=%s=%s" % (LABEL, self.lab), "--filter", "label=" + INSTANCE_LABEL,
                        "--format", "{{ .Names }}")
        return sorted(output.split())

    # -- the lab's network and mirror --------------------------------------------------------------

    def ensure_network(self) -> None:
        if not docker("network", "ls", "-q", "--filter", "name=^%s$" % self.network).strip():
            docker("network", "create", "--label", "%s=%s" % (LABEL, self.lab), "--subnet", self.addresses.subnet, self.network)

    def ensure_mirror(self, directory: Path) -> str:
        """A tiny HTTP server on the lab network serving ``directory`` (the K3s releases); its URL."""
        name = self.prefix + "-mirror"
        if docker("ps", "-q", "--filter", "name=^%s$" % name).strip():
            return self.mirror_url
        docker("rm", "-f", name, check=False)
        docker("run", "-d", "--name", name, "--label", "%s=%s" % (LABEL, self.lab), "--network", self.network, "--ip", self.addresses.mirror,
               "-v", "%s:/srv:ro" % directory, LAB_IMAGE, "python3", "-m", "http.server", str(MIRROR_PORT), "--directory", "/srv")
        return self.mirror_url

    @property
    def mirror_url(self) -> str:
        return "http://%s:%d" % (self.addresses.mirror, MIRROR_PORT)

    def remove_everything(self) -> list[str]:
        """Every container and network of this lab, removed; their names."""
        containers = docker("ps", "-a", "--filter", "label=%s=%s" % (LABEL, self.lab), "--format", "{{ .Names }}").split()
        if containers:
            docker("rm", "-f", "-v", *containers)
        networks = docker("network", "ls", "--filter", "label=%s=%s" % (LABEL, self.lab), "--format", "{{ .Name }}").split()
        for network in networks:
            docker("network", "rm", network)
        return containers + networks

    # -- the work, in the background ---------------------------------------------------------------

    def _start(self, name: str, description: dict[str, Any], public_key: str | None) -> None:
        docker("rm", "-f", "-v", name, check=False)
        docker("run", "-d", "--name", name, "--hostname", _hostname(description), "--label", "%s=%s" % (LABEL, self.lab),
               "--label", "%s=%s" % (INSTANCE_LABEL, json.dumps(description, sort_keys=True)),
               "--network", self.network, "--ip", description["private_ip"], "-p", "%s:22:22" % description["ip"],
               *SYSTEMD_RUN_OPTIONS, LAB_IMAGE, "/lib/systemd/systemd")
        if public_key:
            # Lambda puts the launch's SSH key in the ubuntu user's authorized_keys.
            docker("exec", "-i", name, "sh", "-c", "umask 077 && mkdir -p /home/ubuntu/.ssh && cat > /home/ubuntu/.ssh/authorized_keys"
                   " && chown -R ubuntu:ubuntu /home/ubuntu/.ssh", stdin=public_key.strip() + "\n")
        self._wait_for_ssh(name)

    def _restart(self, name: str) -> None:
        docker("restart", "-t", "10", name)
        self._wait_for_ssh(name)

    def _remove(self, name: str) -> None:
        docker("rm", "-f", "-v", name)

    @staticmethod
    def _wait_for_ssh(name: str) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if docker("exec", name, "systemctl", "is-active", "ssh", check=False).strip() == "active":
                return
            time.sleep(0.5)
        raise DockerError("sshd did not start in %s within %d s" % (name, BOOT_TIMEOUT))

    def _background(self, instance_id: str, done: str, work: Any, *arguments: Any) -> None:
        """Run work in a thread; the instance's state becomes done when it ends, failed (with the reason) if Docker fails."""

        def run() -> None:
            try:
                work(*arguments)
                self._set_state(instance_id, done)
            except DockerError as error:
                self._set_state(instance_id, "failed", str(error))

        threading.Thread(target=run, name="lab-%s" % work.__name__, daemon=True).start()

    def _free_slot(self) -> int:
        with self._lock:
            taken = {entry["slot"] for entry in self._containers.values() if entry["state"] != "removed"}
        for slot in range(MAX_NODES):
            if slot not in taken:
                return slot
        raise DockerError("the lab holds at most %d nodes" % MAX_NODES)

    def _state(self, instance_id: str) -> str | None:
        with self._lock:
            return self._containers.get(instance_id, {}).get("state")

    def _set_state(self, instance_id: str, state: str, error: str | None = None) -> None:
        with self._lock:
            if instance_id in self._containers:
                self._containers[instance_id].update(state=state, error=error)

    def errors(self) -> dict[str, str]:
        with self._lock:
            return {entry["name"]: entry["error"] for entry in self._containers.values() if entry.get("error")}


def _hostname(description: dict[str, Any]) -> str:
    hostname = re.sub(r"[^a-zA-Z0-9-]+", "-", description.get("name") or description["hostname"]).strip("-")
    return hostname[:63] or description["hostname"]
