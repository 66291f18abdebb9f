"""Nodes described by captured command output, for the NVIDIA facts and plan tests.

FakeNode answers nvidia_facts.gather_facts() from fixtures/nvidia/; the builders put together the
nodes the roles meet: a Lambda Stack HGX H100, a GH200, an A10, Debian after installing its driver,
a node whose driver waits for a reboot, a CPU-only node.
"""

from __future__ import annotations

from pathlib import Path

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.nvidia_facts import Probe

FIXTURES = Path(__file__).parent / "fixtures" / "nvidia"
SMI = "nvidia-smi"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


class FakeNode(Probe):
    """Commands answer from ``commands`` (first word -> (rc, stdout, stderr), or a dict keyed by the
    second word); a command without an answer is not installed. Files, directories and executables
    come from their dicts and sets."""

    def __init__(self, commands=None, files=None, dirs=None, executables=()):
        self.commands = dict(commands or {})
        self.files = dict(files or {})
        self.dirs = dict(dirs or {})
        self.executables = set(executables)
        self.ran: list = []

    def run(self, args):
        self.ran.append(list(args))
        answer = self.commands.get(args[0])
        if isinstance(answer, dict):
            answer = answer.get(args[1]) if len(args) > 1 else None
        return answer

    def read(self, path):
        return self.files.get(path)

    def listdir(self, path):
        return list(self.dirs.get(path, []))

    def is_executable(self, path):
        return path in self.executables


def ok(text: str) -> tuple:
    return (0, text, "")


def lambda_hgx_h100(**changes) -> FakeNode:
    """gpu_8x_h100_sxm5 on Lambda Stack: 8 GPUs, 4 NVSwitches, Fabric Manager, toolkit 1.17.8, Lambda's pin."""
    node = FakeNode(
        commands={
            SMI: ok(fixture("lambda_h100x8_nvidia_smi.txt")),
            "lspci": ok(fixture("hgx_h100_lspci.txt")),
            "modinfo": {"nvidia": ok(fixture("modinfo_ubuntu_open.txt"))},
            "dpkg": ok(fixture("lambda_dpkg_search_nvml.txt")),
            "dpkg-query": (0, fixture("lambda_dpkg_query.txt"), ""),
            "apt-cache": ok(fixture("lambda_apt_policy_libnvidia-compute-550-server.txt")),
            "mokutil": ok("SecureBoot disabled\n"),
            "nvidia-ctk": ok(fixture("nvidia_ctk_version.txt")),
        },
        files={"/proc/driver/nvidia/version": fixture("proc_version_open_x86_64.txt"),
               "/etc/apt/preferences.d/lambda-repository": fixture("lambda_preferences.txt")},
        dirs={"/etc/apt/preferences.d": ["lambda-repository"], "/sys/firmware/efi": ["efivars"]},
        executables={"/usr/bin/nvidia-container-runtime"},
    )
    for key, value in changes.items():
        getattr(node, key).update(value)
    return node


def gh200() -> FakeNode:
    """gpu_1x_gh200 (arm64) with Ubuntu's open modules and no toolkit."""
    return FakeNode(
        commands={SMI: ok(fixture("gh200_nvidia_smi.txt")), "lspci": ok('0009:01:00.0 "0302" "10de" "2342" -ra1 "10de" "16eb"\n'),
                  "modinfo": {"nvidia": ok(fixture("modinfo_ubuntu_open.txt"))}},
        files={"/proc/driver/nvidia/version": fixture("proc_version_open_aarch64.txt")},
    )


def a10_proprietary() -> FakeNode:
    """gpu_1x_a10 with a proprietary 535 driver installed outside any package (NVIDIA's runfile)."""
    return FakeNode(
        commands={SMI: ok(fixture("a10_nvidia_smi_persistence_off.txt")), "modinfo": {"nvidia": ok(fixture("modinfo_proprietary.txt"))},
                  "dpkg": (1, "", "dpkg-query: no path found matching pattern *libnvidia-ml.so.1*\n")},
        files={"/proc/driver/nvidia/version": fixture("proc_version_proprietary.txt")},
    )


def debian_installed_without_module() -> FakeNode:
    """The Debian 12 test node after the role installed Debian's driver: no GPU, no module built."""
    return FakeNode(
        commands={
            SMI: (9, fixture("debian12_nvidia_smi_no_driver.txt"), ""),
            "lspci": ok(""),
            "modinfo": {name: (1, "", "modinfo: ERROR: Module %s not found.\n" % name) for name in ("nvidia", "nvidia-current", "nvidia-current-open")},
            "dpkg": ok(fixture("debian12_dpkg_search_nvml.txt")),
            "dpkg-query": (1, fixture("debian12_dpkg_query.txt"), "dpkg-query: no packages found matching lambda-stack-*\n"),
            "apt-cache": ok(fixture("debian12_apt_policy_libnvidia-ml1.txt")),
        },
    )


def waiting_for_reboot() -> FakeNode:
    """Lambda Stack after an upgrade of the driver's libraries: the old module is still loaded."""
    return lambda_hgx_h100(commands={SMI: (18, fixture("nvidia_smi_mismatch.txt"), "")},
                           files={"/proc/driver/nvidia/version": fixture("proc_version_proprietary.txt").replace("535.183.01", "550.90.07")})


def cpu_only() -> FakeNode:
    """A CPU instance: no nvidia-smi, no NVIDIA device, nothing NVIDIA installed."""
    return FakeNode(commands={"lspci": ok(""), "dpkg": (1, "", ""), "dpkg-query": (1, "", "")})
