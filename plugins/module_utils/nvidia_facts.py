# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a node says about its NVIDIA GPUs, driver, Fabric Manager and container toolkit.

The parsers are pure functions of the text the real tools print, so unit tests feed them captured
output. gather_facts() runs the probes through a small interface (the module passes one backed by
the node, the tests a fake), so one path leads from raw output to the ``nvidia`` fact.
"""

from __future__ import annotations

import fnmatch
import re

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.instance_types import gpu_model_from_description

SMI_FIELDS = ("index", "name", "uuid", "pci.bus_id", "driver_version", "persistence_mode")
SMI_QUERY = ["--query-gpu=" + ",".join(SMI_FIELDS), "--format=csv,noheader"]

# A loaded driver reports itself here; the package owning the NVIDIA Management Library is the
# driver's userland, whatever the distribution calls it.
NVRM_VERSION_FILE = "/proc/driver/nvidia/version"
NVML_LIBRARY = "libnvidia-ml.so.1"
# Written by Debian and Ubuntu packages whose update needs a reboot (/var/run links to /run).
REBOOT_REQUIRED_PACKAGES = "/run/reboot-required.pkgs"
APT_PREFERENCES = ("/etc/apt/preferences", "/etc/apt/preferences.d")
EFI_DIR = "/sys/firmware/efi"
PCI_DEVICES_DIR = "/sys/bus/pci/devices"

# Names the kernel module is installed under: upstream's, then Debian's DKMS packages'.
MODULE_NAMES = ("nvidia", "nvidia-current", "nvidia-current-open")
# Installed packages reported in the fact: what a driver, Fabric Manager, Lambda Stack or the
# container toolkit brings.
PACKAGE_PATTERNS = ("nvidia-*", "libnvidia-*", "libcuda*", "cuda-drivers*", "firmware-nvidia-*",
                    "linux-modules-nvidia-*", "xserver-xorg-video-nvidia*", "lambda-stack-*")
FABRICMANAGER_PATTERNS = ("nvidia-fabricmanager*", "cuda-drivers-fabricmanager*")
LAMBDA_STACK_PACKAGE = "lambda-stack-cuda"

NVIDIA_PCI_VENDOR = "10de"
PCI_GPU_CLASSES = ("0300", "0302")  # VGA and 3D controllers
PCI_NVSWITCH_CLASS = "0680"  # NVSwitches show up as bridges

# K3s looks a runtime up in these directories before $PATH (k3s pkg/agent/containerd/config_linux.go),
# and the unit's $PATH is systemd's default one.
K3S_RUNTIME_DIRS = ("/usr/local/nvidia/toolkit", "/opt/kwasm/bin")
SYSTEMD_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
STALE_TOOLKIT_DIR = "/usr/local/nvidia/toolkit"
# Runtime names K3s gives the executables it finds (k3s pkg/agent/containerd/runtimes.go).
K3S_NVIDIA_RUNTIMES = (
    ("nvidia", "nvidia-container-runtime"),
    ("nvidia-experimental", "nvidia-container-runtime-experimental"),
    ("nvidia-cdi", "nvidia-container-runtime.cdi"),
)

_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}

# nvidia-smi's words for why it cannot report (its exit status alone is less specific: 9 when
# the driver is not loaded, 6 when no GPU answers; a version mismatch comes out as NVML's 18).
_SMI_FAILURES = (
    ("version mismatch", "mismatch"),
    ("couldn't communicate with the nvidia driver", "no_driver"),
    ("no devices were found", "no_devices"),
)
_SMI_FAILURE_CODES = {9: "no_driver", 6: "no_devices", 18: "mismatch"}
_NVML_VERSION = re.compile(r"NVML library version:\s*(?P<version>\d+(?:\.\d+)+)")
_NVRM = re.compile(r"NVRM version: NVIDIA UNIX (?P<kind>.*?)Kernel Module(?: for \S+)?\s+(?P<version>\d+(?:\.\d+)+)")
_LSPCI = re.compile(r'^(?P<address>\S+) "(?P<class>[0-9a-fA-F]{4})" "(?P<vendor>[0-9a-fA-F]{4})" "(?P<device>[0-9a-fA-F]{4})"')
_CTK_VERSION = re.compile(r"version (?P<version>\d+\.\d+\.\d+\S*)")
_OPEN_LICENSE = "Dual MIT/GPL"


def upstream_version(package_version: str | None) -> str | None:
    """'1:550.127.05-0ubuntu0.22.04.1' -> '550.127.05': the epoch and the packaging revision go."""
    if not package_version:
        return None
    version = package_version.split(":", 1)[-1]
    return version.rsplit("-", 1)[0] if "-" in version else version


def branch_of(version: str | None) -> str | None:
    """'550.127.05' -> '550'."""
    return version.split(".", 1)[0] if version else None


def node_architecture(machine: str) -> str:
    """uname's machine ('aarch64') in the names Lambda and the inventory use ('arm64')."""
    return _ARCHITECTURES.get(machine, machine)


def parse_smi_gpus(output: str) -> list[dict]:
    """The GPUs of `nvidia-smi --query-gpu=<SMI_FIELDS> --format=csv,noheader`, one per line."""
    gpus = []
    for line in output.splitlines():
        values = [value.strip() for value in line.split(",")]
        if len(values) != len(SMI_FIELDS):
            continue
        row = dict(zip(SMI_FIELDS, values))
        gpus.append({
            "index": int(row["index"]) if row["index"].isdigit() else row["index"],
            "name": row["name"],
            "model": gpu_model_from_description(row["name"]),
            "uuid": row["uuid"],
            "bus_id": row["pci.bus_id"],
            "driver_version": row["driver_version"],
            "persistence_mode": row["persistence_mode"].lower() == "enabled",
        })
    return gpus


def smi_state(rc: int, output: str) -> str:
    """ok, mismatch (kernel module and libraries differ), no_driver, no_devices or error."""
    if rc == 0:
        return "ok"
    lowered = output.lower()
    for words, state in _SMI_FAILURES:
        if words in lowered:
            return state
    return _SMI_FAILURE_CODES.get(rc, "error")


def parse_nvrm_version(text: str | None) -> dict | None:
    """Version and flavour of the loaded kernel module, from /proc/driver/nvidia/version."""
    found = _NVRM.search(text or "")
    if not found:
        return None
    return {"version": found.group("version"), "flavor": "open" if "Open" in found.group("kind") else "proprietary"}


def parse_modinfo(output: str) -> dict:
    """Version, licence and flavour of the module on disk: the open modules are MIT/GPL, the others 'NVIDIA'."""
    fields: dict = {}
    for line in output.splitlines():
        key, separator, value = line.partition(":")
        if separator and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    license_name = fields.get("license")
    return {
        "version": fields.get("version"),
        "filename": fields.get("filename"),
        "flavor": None if license_name is None else ("open" if license_name == _OPEN_LICENSE else "proprietary"),
    }


def parse_lspci(output: str) -> list[dict]:
    """NVIDIA devices from `lspci -Dnmm -d 10de:` (machine-readable: address "class" "vendor" "device")."""
    devices = []
    for line in output.splitlines():
        found = _LSPCI.match(line.strip())
        if found and found.group("vendor").lower() == NVIDIA_PCI_VENDOR:
            devices.append({"address": found.group("address"), "class": found.group("class").lower(),
                            "device": found.group("device").lower()})
    return devices


def pci_device_from_sysfs(address: str, vendor: str | None, device_class: str | None, device: str | None) -> dict | None:
    """One device of /sys/bus/pci/devices (vendor '0x10de', class '0x030200'), when it is NVIDIA's."""
    if (vendor or "").strip().lower() != "0x" + NVIDIA_PCI_VENDOR or not device_class:
        return None
    return {"address": address, "class": device_class.strip().lower()[2:6], "device": (device or "").strip().lower()[2:]}


def parse_dpkg_owner(output: str) -> str | None:
    """The package of the first path `dpkg -S <pattern>` lists, without its architecture."""
    for line in output.splitlines():
        if line.startswith(("diversion by", "local diversion")):
            continue
        owners, separator, _path = line.partition(": ")
        if separator:
            return owners.split(",")[0].strip().split(":")[0]
    return None


def parse_dpkg_packages(output: str) -> dict:
    """Installed packages from `dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\t${source:Package}\\n'`.

    Only installed ones count (the second status letter is 'i'); a first letter 'h' means held.
    """
    packages = {}
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) < 3 or len(fields[2]) < 2 or fields[2][1] != "i":
            continue
        packages[fields[0]] = {"version": fields[1], "held": fields[2][0] == "h",
                               "source": fields[3].strip() if len(fields) > 3 and fields[3].strip() else fields[0]}
    return packages


def parse_apt_policy(output: str) -> dict:
    """Installed and candidate versions from `apt-cache policy <package>`, and where the installed one comes from."""
    result: dict = {"installed": None, "candidate": None, "origins": []}
    in_installed = False
    for line in output.splitlines():
        stripped = line.strip()
        if stripped.startswith("Installed:"):
            result["installed"] = _none_word(stripped.split(":", 1)[1])
        elif stripped.startswith("Candidate:"):
            result["candidate"] = _none_word(stripped.split(":", 1)[1])
        elif stripped and stripped != "Version table:" and not stripped.endswith(":"):
            tokens = stripped.split()
            is_source = len(tokens) >= 2 and tokens[0].lstrip("-").isdigit() and (tokens[1].startswith("/") or ":" in tokens[1])
            if not is_source:
                in_installed = tokens[0] == "***"
            elif in_installed:
                result["origins"].append(_origin(tokens[1]))
    return result


def _none_word(value: str) -> str | None:
    value = value.strip()
    return None if value in ("", "(none)") else value


def _origin(uri: str) -> str:
    """'http://archive.lambdalabs.com/ubuntu' -> 'archive.lambdalabs.com'; dpkg's own status file -> 'local'."""
    if uri == "/var/lib/dpkg/status":
        return "local"
    found = re.match(r"^[a-z+]+://(?P<host>[^/:]+)", uri)
    return found.group("host") if found else uri


def package_origin(policy: dict) -> str | None:
    """The repository the installed version came from; 'local' when no configured source has it any more."""
    remote = [origin for origin in policy.get("origins", []) if origin != "local"]
    if remote:
        return remote[0]
    return "local" if policy.get("origins") else None


def parse_apt_pins(files: dict) -> list[dict]:
    """Pin stanzas (Package, Pin, Pin-Priority) of apt preferences files, keyed by file name."""
    pins = []
    for name in sorted(files):
        for stanza in re.split(r"\n\s*\n", files[name] or ""):
            fields = {}
            for line in stanza.splitlines():
                key, separator, value = line.partition(":")
                if separator and not line.lstrip().startswith("#"):
                    fields[key.strip().lower()] = value.strip()
            if "pin" in fields:
                priority = fields.get("pin-priority", "")
                pins.append({"file": name, "package": fields.get("package", "*"), "pin": fields["pin"],
                             "priority": int(priority) if priority.lstrip("-").isdigit() else None})
    return pins


def parse_secure_boot(output: str) -> str:
    """enabled, disabled, unsupported (no EFI variables) or unknown, from `mokutil --sb-state`."""
    lowered = output.lower()
    if "secureboot enabled" in lowered:
        return "enabled"
    if "secureboot disabled" in lowered:
        return "disabled"
    if "not supported" in lowered:
        return "unsupported"
    return "unknown"


def parse_ctk_version(output: str) -> str | None:
    """'NVIDIA Container Toolkit CLI version 1.17.8' -> '1.17.8'."""
    found = _CTK_VERSION.search(output)
    return found.group("version") if found else None


def matching(packages: dict, patterns) -> list[str]:
    """Names of ``packages`` matching any of the shell-style ``patterns``, sorted."""
    return sorted(name for name in packages if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns))


class Probe:
    """What gather_facts() asks of a node. The module backs it with the node; the tests with captures."""

    def run(self, args: list) -> tuple | None:
        """(rc, stdout, stderr) of a command, or None when its executable is not installed."""
        raise NotImplementedError

    def read(self, path: str) -> str | None:
        """A file's text, or None when it cannot be read."""
        raise NotImplementedError

    def listdir(self, path: str) -> list:
        """Entry names of a directory, empty when it does not exist."""
        raise NotImplementedError

    def is_executable(self, path: str) -> bool:
        raise NotImplementedError


def gather_facts(probe: Probe, machine: str) -> dict:
    """The ``nvidia`` fact: GPUs, NVSwitches, driver, Fabric Manager, Lambda Stack, Secure Boot, toolkit."""
    packages = _installed_packages(probe)
    smi = _nvidia_smi(probe)
    pci = _pci_devices(probe)
    pci_gpus = [device["address"] for device in pci if device["class"] in PCI_GPU_CLASSES]
    gpus = smi.pop("gpus")
    model = next((gpu["model"] for gpu in gpus if gpu["model"]), None)
    return {
        "arch": node_architecture(machine),
        "gpu_count": max(len(gpus), len(pci_gpus)),
        "gpu_model": model,
        "gpus": gpus,
        "pci_gpus": pci_gpus,
        "nvswitch_count": len([device for device in pci if device["class"] == PCI_NVSWITCH_CLASS]),
        "nvidia_smi": smi,
        "driver": _driver(probe, smi, gpus, packages),
        "fabricmanager": _fabricmanager(packages),
        "lambda_stack": _lambda_stack(probe, packages),
        "secure_boot": _secure_boot(probe),
        "packages": packages,
        "container_toolkit": _container_toolkit(probe),
    }


def _installed_packages(probe: Probe) -> dict:
    result = probe.run(["dpkg-query", "-W", "-f=${Package}\t${Version}\t${db:Status-Abbrev}\t${source:Package}\n"]
                       + list(PACKAGE_PATTERNS))
    # dpkg-query exits 1 when a pattern matches nothing, and still lists the others.
    return parse_dpkg_packages(result[1]) if result else {}


def _nvidia_smi(probe: Probe) -> dict:
    result = probe.run(["nvidia-smi"] + SMI_QUERY)
    if result is None:
        return {"state": "absent", "message": None, "nvml_version": None, "gpus": []}
    rc, out, err = result
    state = smi_state(rc, out + "\n" + err)
    message = None if state == "ok" else " ".join((out + " " + err).split()) or "exit status %d" % rc
    nvml = _NVML_VERSION.search(out + "\n" + err)
    return {"state": state, "message": message, "nvml_version": nvml.group("version") if nvml else None,
            "gpus": parse_smi_gpus(out) if state == "ok" else []}


def _pci_devices(probe: Probe) -> list[dict]:
    result = probe.run(["lspci", "-Dnmm", "-d", NVIDIA_PCI_VENDOR + ":"])
    if result is not None and result[0] == 0:
        return parse_lspci(result[1])
    devices = []
    for address in probe.listdir(PCI_DEVICES_DIR):
        base = "%s/%s/" % (PCI_DEVICES_DIR, address)
        device = pci_device_from_sysfs(address, probe.read(base + "vendor"), probe.read(base + "class"), probe.read(base + "device"))
        if device:
            devices.append(device)
    return devices


def _kernel_module(probe: Probe) -> dict:
    for name in MODULE_NAMES:
        result = probe.run(["modinfo", name])
        if result is None:
            break
        if result[0] == 0:
            return dict(parse_modinfo(result[1]), name=name)
    return {"version": None, "filename": None, "flavor": None, "name": None}


def _driver(probe: Probe, smi: dict, gpus: list[dict], packages: dict) -> dict:
    owner = None
    search = probe.run(["dpkg", "-S", NVML_LIBRARY])
    if search and search[0] == 0:
        owner = parse_dpkg_owner(search[1])
    package_version = (packages.get(owner) or {}).get("version") if owner else None
    origin = None
    if owner:
        policy = probe.run(["apt-cache", "policy", owner])
        origin = package_origin(parse_apt_policy(policy[1])) if policy and policy[0] == 0 else None

    loaded = parse_nvrm_version(probe.read(NVRM_VERSION_FILE))
    module = _kernel_module(probe)
    reported = gpus[0]["driver_version"] if gpus else None
    userland = upstream_version(package_version) or smi.get("nvml_version") or reported
    loaded_version = (loaded or {}).get("version") or reported
    installed = bool(owner or smi["state"] != "absent" or module["version"])

    reasons = _reboot_reasons(probe, smi, loaded_version, userland, module, installed)
    module_missing = installed and smi["state"] == "no_driver" and not loaded and not module["version"]
    return {
        "installed": installed,
        "version": userland,
        "branch": branch_of(userland),
        "package": owner,
        "package_version": package_version,
        "origin": origin if owner else ("unpackaged" if installed else None),
        "loaded_version": loaded_version,
        "module": module,
        "flavor": (loaded or {}).get("flavor") or module["flavor"] or _flavor_from_packages(packages),
        "healthy": smi["state"] == "ok" and bool(gpus) and not _versions_differ(loaded_version, userland),
        "reboot_required": bool(reasons),
        "reboot_reasons": reasons,
        "module_missing": module_missing,
    }


def _versions_differ(loaded: str | None, userland: str | None) -> bool:
    return bool(loaded and userland and loaded != userland)


def _reboot_reasons(probe: Probe, smi: dict, loaded: str | None, userland: str | None, module: dict,
                    installed: bool) -> list[str]:
    reasons = []
    if smi["state"] == "mismatch" or _versions_differ(loaded, userland):
        reasons.append("the loaded kernel module (%s) and the driver's libraries (%s) differ"
                       % (loaded or "unknown version", userland or smi.get("nvml_version") or "unknown version"))
    elif installed and smi["state"] in ("no_driver", "absent") and module["version"]:
        reasons.append("the kernel module %s is installed but not loaded" % module["version"])
    pending = probe.read(REBOOT_REQUIRED_PACKAGES) or ""
    updated = [name for name in pending.split() if any(fnmatch.fnmatchcase(name, pattern) for pattern in PACKAGE_PATTERNS)]
    if updated:
        reasons.append("the package manager asks for a reboot after updating %s" % ", ".join(sorted(set(updated))))
    return reasons


def _flavor_from_packages(packages: dict) -> str | None:
    kernel_packages = [name for name in packages if re.search(r"(kernel|dkms|linux-modules|headless)", name)]
    if not kernel_packages:
        return None
    return "open" if any("open" in name for name in kernel_packages) else "proprietary"


def _fabricmanager(packages: dict) -> dict:
    names = matching(packages, FABRICMANAGER_PATTERNS)
    if not names:
        return {"package": None, "version": None}
    return {"package": names[0], "version": upstream_version(packages[names[0]]["version"])}


def _lambda_stack(probe: Probe, packages: dict) -> dict:
    files = {}
    for path in APT_PREFERENCES:
        entries = probe.listdir(path)
        if entries:
            files.update({"%s/%s" % (path, entry): probe.read("%s/%s" % (path, entry)) for entry in entries})
        else:
            text = probe.read(path)
            if text:
                files[path] = text
    pin = next((pin for pin in parse_apt_pins(files) if "lambdalabs" in pin["pin"]), None)
    stack = packages.get(LAMBDA_STACK_PACKAGE)
    return {"installed": stack is not None, "version": stack["version"] if stack else None,
            "pin_priority": pin["priority"] if pin else None, "pin_file": pin["file"] if pin else None}


def _secure_boot(probe: Probe) -> str:
    result = probe.run(["mokutil", "--sb-state"])
    if result is not None:
        state = parse_secure_boot(result[1] + "\n" + result[2])
        if state != "unknown":
            return state
    # Without mokutil: a machine that did not boot through EFI has no Secure Boot at all.
    return "unknown" if probe.listdir(EFI_DIR) else "unsupported"


def _container_toolkit(probe: Probe) -> dict:
    version = None
    result = probe.run(["nvidia-ctk", "--version"])
    if result and result[0] == 0:
        version = parse_ctk_version(result[1])
    runtimes = {}
    for name, executable in K3S_NVIDIA_RUNTIMES:
        found = next((directory + "/" + executable for directory in K3S_RUNTIME_DIRS + SYSTEMD_PATH
                      if probe.is_executable(directory + "/" + executable)), None)
        if found:
            runtimes[name] = found
    stale = any(path.startswith(STALE_TOOLKIT_DIR + "/") for path in runtimes.values())
    return {"ctk_version": version, "runtimes": runtimes, "stale_toolkit_dir": STALE_TOOLKIT_DIR if stale else None}
