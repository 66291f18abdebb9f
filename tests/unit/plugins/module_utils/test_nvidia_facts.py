"""The nvidia fact: parsers fed real command output, and whole nodes put together from it."""

from __future__ import annotations

import json

import pytest
from unit.plugins.module_utils.nvidia_nodes import (
    FakeNode,
    a10_proprietary,
    cpu_only,
    debian_installed_without_module,
    fixture,
    gh200,
    lambda_hgx_h100,
    waiting_for_reboot,
)

from ansible_collections.sophia.lambda_k3s.plugins.module_utils import nvidia_facts as nf


def test_nvidia_smi_rows_become_gpus_with_the_inventory_model():
    gpus = nf.parse_smi_gpus(fixture("lambda_h100x8_nvidia_smi.txt"))
    assert len(gpus) == 8
    assert gpus[0] == {"index": 0, "name": "NVIDIA H100 80GB HBM3", "model": "h100", "uuid": gpus[0]["uuid"],
                       "bus_id": "00000000:18:00.0", "driver_version": "550.127.05", "persistence_mode": True}
    assert nf.parse_smi_gpus(fixture("gh200_nvidia_smi.txt"))[0]["model"] == "gh200"
    assert nf.parse_smi_gpus(fixture("a10_nvidia_smi_persistence_off.txt"))[0]["persistence_mode"] is False


@pytest.mark.parametrize(("rc", "name", "state"), [
    (0, "lambda_h100x8_nvidia_smi.txt", "ok"),
    (18, "nvidia_smi_mismatch.txt", "mismatch"),
    (9, "debian12_nvidia_smi_no_driver.txt", "no_driver"),
    (6, None, "no_devices"),
    (255, None, "error"),
])
def test_nvidia_smi_failures_are_told_apart(rc, name, state):
    assert nf.smi_state(rc, fixture(name) if name else "") == state


@pytest.mark.parametrize(("name", "expected"), [
    ("proc_version_open_x86_64.txt", {"version": "550.127.05", "flavor": "open"}),
    ("proc_version_open_aarch64.txt", {"version": "550.127.05", "flavor": "open"}),
    ("proc_version_proprietary.txt", {"version": "535.183.01", "flavor": "proprietary"}),
])
def test_the_loaded_module_reports_version_and_flavour(name, expected):
    assert nf.parse_nvrm_version(fixture(name)) == expected


def test_no_loaded_module():
    assert nf.parse_nvrm_version(None) is None
    assert nf.parse_nvrm_version("") is None


def test_modinfo_licence_tells_the_flavour():
    assert nf.parse_modinfo(fixture("modinfo_ubuntu_open.txt"))["flavor"] == "open"
    assert nf.parse_modinfo(fixture("modinfo_proprietary.txt")) == {
        "version": "535.183.01", "filename": "/lib/modules/5.15.0-119-generic/updates/dkms/nvidia.ko", "flavor": "proprietary"}


def test_lspci_separates_gpus_from_nvswitches():
    devices = nf.parse_lspci(fixture("hgx_h100_lspci.txt"))
    assert [device["class"] for device in devices].count("0302") == 8
    assert [device["class"] for device in devices].count("0680") == 4
    assert nf.parse_lspci('0000:00:00.0 "0600" "8086" "0d57" -p00 "" ""\n') == []


def test_sysfs_devices_of_other_vendors_are_ignored():
    assert nf.pci_device_from_sysfs("0000:18:00.0", "0x10de\n", "0x030200\n", "0x2330\n") == {
        "address": "0000:18:00.0", "class": "0302", "device": "2330"}
    assert nf.pci_device_from_sysfs("0000:00:00.0", "0x8086\n", "0x060000\n", "0x0d57\n") is None


def test_dpkg_tells_which_package_owns_nvml():
    assert nf.parse_dpkg_owner(fixture("debian12_dpkg_search_nvml.txt")) == "libnvidia-ml1"
    assert nf.parse_dpkg_owner(fixture("lambda_dpkg_search_nvml.txt")) == "libnvidia-compute-550-server"
    assert nf.parse_dpkg_owner("diversion by foo from: /usr/bin/x\nbar:arm64, baz: /usr/lib/x\n") == "bar"
    assert nf.parse_dpkg_owner("") is None


def test_dpkg_query_keeps_installed_packages_and_their_holds():
    packages = nf.parse_dpkg_packages(fixture("debian12_dpkg_query.txt"))
    assert "nvidia-kernel-dkms" not in packages  # known to dpkg, not installed
    assert packages["nvidia-smi"] == {"version": "535.261.03-1", "held": False, "source": "nvidia-graphics-drivers"}
    lambda_packages = nf.parse_dpkg_packages(fixture("lambda_dpkg_query.txt"))
    assert lambda_packages["libnvidia-compute-550-server"]["held"] is True


def test_apt_policy_tells_where_the_installed_version_came_from():
    debian = nf.parse_apt_policy(fixture("debian12_apt_policy_libnvidia-ml1.txt"))
    assert debian == {"installed": "535.261.03-1", "candidate": "535.261.03-1", "origins": ["deb.debian.org", "local"]}
    assert nf.package_origin(debian) == "deb.debian.org"
    lambda_policy = nf.parse_apt_policy(fixture("lambda_apt_policy_libnvidia-compute-550-server.txt"))
    assert nf.package_origin(lambda_policy) == "archive.lambdalabs.com"
    assert nf.package_origin({"origins": ["local"]}) == "local"
    assert nf.package_origin({"origins": []}) is None


def test_apt_pins():
    pins = nf.parse_apt_pins({"/etc/apt/preferences.d/lambda-repository": fixture("lambda_preferences.txt"),
                              "/etc/apt/preferences.d/other": "# nothing\n"})
    assert pins == [{"file": "/etc/apt/preferences.d/lambda-repository", "package": "*",
                     "pin": "origin archive.lambdalabs.com", "priority": 1001}]


@pytest.mark.parametrize(("output", "state"), [
    ("SecureBoot enabled\n", "enabled"),
    ("SecureBoot disabled\nPlatform is in Setup Mode\n", "disabled"),
    ("EFI variables are not supported on this system\n", "unsupported"),
    ("", "unknown"),
])
def test_secure_boot(output, state):
    assert nf.parse_secure_boot(output) == state


def test_versions():
    assert nf.parse_ctk_version(fixture("nvidia_ctk_version.txt")) == "1.17.8"
    assert nf.upstream_version("1:550.127.05-0ubuntu0.22.04.1") == "550.127.05"
    assert nf.upstream_version("550.127.05") == "550.127.05"
    assert nf.upstream_version(None) is None
    assert nf.branch_of("550.127.05") == "550"
    assert nf.node_architecture("aarch64") == "arm64"


def test_a_lambda_stack_hgx_node():
    facts = nf.gather_facts(lambda_hgx_h100(), "x86_64")
    assert (facts["gpu_count"], facts["gpu_model"], facts["nvswitch_count"], facts["arch"]) == (8, "h100", 4, "x86_64")
    assert facts["driver"] == {
        "installed": True, "version": "550.127.05", "branch": "550", "package": "libnvidia-compute-550-server",
        "package_version": "550.127.05-0lambda0.22.04.1", "origin": "archive.lambdalabs.com", "loaded_version": "550.127.05",
        "module": {"name": "nvidia", "version": "550.127.05", "flavor": "open",
                   "filename": "/lib/modules/6.8.0-49-generic/kernel/nvidia-550srv-open/nvidia.ko"},
        "flavor": "open", "healthy": True, "reboot_required": False, "reboot_reasons": [], "module_missing": False}
    assert facts["fabricmanager"] == {"package": "nvidia-fabricmanager-550", "version": "550.127.05"}
    assert facts["lambda_stack"] == {"installed": True, "version": "0.1.20~22.04.1", "pin_priority": 1001,
                                     "pin_file": "/etc/apt/preferences.d/lambda-repository"}
    assert facts["secure_boot"] == "disabled"
    assert facts["container_toolkit"] == {"ctk_version": "1.17.8", "runtimes": {"nvidia": "/usr/bin/nvidia-container-runtime"},
                                          "stale_toolkit_dir": None}
    json.dumps(facts)


def test_a_gh200_node_is_arm64_with_open_modules():
    facts = nf.gather_facts(gh200(), "aarch64")
    assert (facts["arch"], facts["gpu_model"], facts["driver"]["flavor"], facts["driver"]["healthy"]) == ("arm64", "gh200", "open", True)
    assert facts["driver"]["origin"] == "unpackaged"  # no package owns NVML here
    assert facts["secure_boot"] == "unsupported"  # no mokutil, no EFI


def test_a_driver_outside_any_package_is_adopted_as_unpackaged():
    facts = nf.gather_facts(a10_proprietary(), "x86_64")
    assert facts["driver"]["origin"] == "unpackaged"
    assert facts["driver"]["version"] == "535.183.01"
    assert facts["driver"]["flavor"] == "proprietary"
    assert facts["gpus"][0]["persistence_mode"] is False


def test_debian_after_installing_its_driver_without_kernel_headers():
    facts = nf.gather_facts(debian_installed_without_module(), "x86_64")
    driver = facts["driver"]
    assert (driver["installed"], driver["version"], driver["package"], driver["origin"]) == (True, "535.261.03", "libnvidia-ml1", "deb.debian.org")
    assert driver["flavor"] == "open"  # from the package names: no module is built or loaded
    assert driver["module_missing"] and not driver["healthy"] and not driver["reboot_required"]
    assert facts["gpu_count"] == 0
    assert facts["nvidia_smi"]["state"] == "no_driver"


def test_a_version_mismatch_asks_for_a_reboot():
    facts = nf.gather_facts(waiting_for_reboot(), "x86_64")
    assert facts["driver"]["reboot_required"] and not facts["driver"]["healthy"]
    assert facts["driver"]["reboot_reasons"] == ["the loaded kernel module (550.90.07) and the driver's libraries (550.127.05) differ"]
    assert facts["nvidia_smi"]["nvml_version"] == "550.127"
    assert facts["gpu_count"] == 8  # still seen on the PCI bus


def test_an_installed_module_not_yet_loaded_asks_for_a_reboot():
    node = lambda_hgx_h100(commands={"nvidia-smi": (9, fixture("debian12_nvidia_smi_no_driver.txt"), "")})
    node.files.pop("/proc/driver/nvidia/version")
    facts = nf.gather_facts(node, "x86_64")
    assert facts["driver"]["reboot_reasons"] == ["the kernel module 550.127.05 is installed but not loaded"]


def test_the_package_manager_can_ask_for_the_reboot():
    node = lambda_hgx_h100(files={"/run/reboot-required.pkgs": "linux-image-6.8.0-50-generic\nnvidia-dkms-550-server\n"})
    facts = nf.gather_facts(node, "x86_64")
    assert facts["driver"]["reboot_reasons"] == ["the package manager asks for a reboot after updating nvidia-dkms-550-server"]
    assert facts["driver"]["healthy"]  # it still works until then


def test_a_cpu_only_node():
    facts = nf.gather_facts(cpu_only(), "x86_64")
    assert (facts["gpu_count"], facts["nvswitch_count"], facts["driver"]["installed"], facts["nvidia_smi"]["state"]) == (0, 0, False, "absent")
    assert facts["driver"]["origin"] is None


def test_pci_falls_back_to_sysfs_without_lspci():
    node = FakeNode(dirs={"/sys/bus/pci/devices": ["0000:18:00.0", "0000:00:00.0"]},
                    files={"/sys/bus/pci/devices/0000:18:00.0/vendor": "0x10de\n", "/sys/bus/pci/devices/0000:18:00.0/class": "0x030200\n",
                           "/sys/bus/pci/devices/0000:18:00.0/device": "0x2330\n",
                           "/sys/bus/pci/devices/0000:00:00.0/vendor": "0x8086\n", "/sys/bus/pci/devices/0000:00:00.0/class": "0x060000\n"})
    facts = nf.gather_facts(node, "x86_64")
    assert facts["pci_gpus"] == ["0000:18:00.0"] and facts["gpu_count"] == 1


def test_runtimes_are_looked_up_where_k3s_looks_first():
    node = lambda_hgx_h100(executables={"/usr/local/nvidia/toolkit/nvidia-container-runtime", "/usr/bin/nvidia-container-runtime.cdi"})
    toolkit = nf.gather_facts(node, "x86_64")["container_toolkit"]
    assert toolkit["runtimes"] == {"nvidia": "/usr/local/nvidia/toolkit/nvidia-container-runtime",
                                   "nvidia-cdi": "/usr/bin/nvidia-container-runtime.cdi"}
    assert toolkit["stale_toolkit_dir"] == "/usr/local/nvidia/toolkit"


def test_commands_run_with_their_documented_arguments():
    node = lambda_hgx_h100()
    nf.gather_facts(node, "x86_64")
    assert ["nvidia-smi", "--query-gpu=index,name,uuid,pci.bus_id,driver_version,persistence_mode", "--format=csv,noheader"] in node.ran
    assert ["lspci", "-Dnmm", "-d", "10de:"] in node.ran
    assert ["dpkg", "-S", "libnvidia-ml.so.1"] in node.ran
    assert ["mokutil", "--sb-state"] in node.ran
