"""Adopt, install or fail; packages, holds, reboots, Fabric Manager, the toolkit and its K3s drop-in.

Settings come from the roles' own variables (tests/unit/roles/role_vars.py), so these tests also
cover what the roles ship for Ubuntu, which the test machines cannot run.
"""

from __future__ import annotations

import pytest
from unit.plugins.module_utils.nvidia_nodes import (
    a10_proprietary,
    cpu_only,
    debian_installed_without_module,
    gh200,
    lambda_hgx_h100,
    waiting_for_reboot,
)
from unit.roles.role_vars import RoleVars, node_facts

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.nvidia_facts import gather_facts
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.nvidia_plan import (
    PlanError,
    driver_flavor,
    driver_packages,
    driver_plan,
    gpu_node,
    k3s_runtime_problems,
    node_problems,
    toolkit_plan,
)


def facts_of(node, machine="x86_64") -> dict:
    return gather_facts(node, machine)


def driver_settings(distribution="Ubuntu", version="22.04", arch="x86_64", **inventory) -> dict:
    inventory.setdefault("lambda_gpu_count", 8)
    inventory.setdefault("lambda_gpu_model", "h100")
    return RoleVars("nvidia_driver", node_facts(distribution, version, arch), **inventory)["_nvidia_driver_settings"]


def toolkit_settings(**inventory) -> dict:
    inventory.setdefault("lambda_gpu_count", 8)
    return RoleVars("nvidia_container_toolkit", node_facts(), **inventory)["_nvidia_container_toolkit_settings"]


def without_driver(node):
    """The node as it boots before any driver is installed: the GPUs only show on the PCI bus."""
    node.commands = {"lspci": node.commands["lspci"]}
    node.files = {}
    node.executables = set()
    return node


# Which nodes a role works on

def test_a_cpu_only_node_is_skipped():
    plan = driver_plan(facts_of(cpu_only()), driver_settings(lambda_gpu_count=0, lambda_gpu_model=None))
    assert plan["action"] == "skip"
    assert plan["message"] == "gpu-node-1 has no NVIDIA GPU and none is expected: nothing to do."


def test_a_gpu_instance_showing_no_gpu_fails_clearly():
    plan = driver_plan(facts_of(cpu_only()), driver_settings(lambda_gpu_count=1, lambda_gpu_model="a10"))
    assert plan["action"] == "fail"
    assert plan["message"] == (
        "gpu-node-1 should have 1 GPU(s) (its instance type says so) but shows none: nvidia-smi is not installed and no PCI "
        "device has NVIDIA's vendor id 10de. Check the instance, or set nvidia_driver_expect_gpu=false to configure it without a GPU.")


def test_a_node_without_gpu_can_be_configured_on_purpose():
    settings = dict(driver_settings(lambda_gpu_count=0), manage_without_gpu=True)
    assert gpu_node(facts_of(cpu_only()), settings, "nvidia_driver")["action"] == "manage"


# Adopting a working driver

def test_lambda_stack_driver_is_adopted_without_touching_packages():
    plan = driver_plan(facts_of(lambda_hgx_h100()), driver_settings())
    assert plan["action"] == "adopt"
    assert plan["packages"] == [] and not plan["repository"] and not plan["reboot"]
    assert plan["message"] == ("gpu-node-1: adopted NVIDIA driver 550.127.05 (open kernel modules; package "
                               "libnvidia-compute-550-server from archive.lambdalabs.com).")


def test_holds_cover_the_driver_family_but_not_the_toolkit():
    plan = driver_plan(facts_of(lambda_hgx_h100()), driver_settings())
    assert plan["hold"] == ["libnvidia-compute-550-server", "linux-modules-nvidia-550-server-open-6.8.0-49-generic",
                            "nvidia-compute-utils-550-server", "nvidia-fabricmanager-550", "nvidia-headless-no-dkms-550-server-open",
                            "nvidia-kernel-common-550-server", "nvidia-utils-550-server"]
    assert driver_plan(facts_of(lambda_hgx_h100()), dict(driver_settings(), hold=False))["hold"] == []


def test_a_working_driver_of_another_branch_is_adopted_in_auto_mode():
    plan = driver_plan(facts_of(a10_proprietary()), driver_settings(lambda_gpu_count=1, lambda_gpu_model="a10"))
    assert (plan["action"], plan["branch"], plan["flavor"]) == ("adopt", "535", "proprietary")
    assert plan["message"] == "gpu-node-1: adopted NVIDIA driver 535.183.01 (proprietary kernel modules; installed outside any package)."


def test_a_driver_waiting_for_its_reboot_is_adopted_and_rebooted_when_allowed():
    plan = driver_plan(facts_of(waiting_for_reboot()), driver_settings())
    assert (plan["action"], plan["reboot"], plan["warnings"]) == ("adopt", True, [])


def test_without_permission_to_reboot_the_role_warns():
    plan = driver_plan(facts_of(waiting_for_reboot()), dict(driver_settings(), reboot="never"))
    assert (plan["action"], plan["reboot"]) == ("adopt", False)
    assert plan["warnings"] == ["gpu-node-1 needs a reboot before its NVIDIA driver works (the loaded kernel module (550.90.07) "
                                "and the driver's libraries (550.127.05) differ); nvidia_driver_reboot=never leaves that to you."]


def test_preinstalled_mode_fails_when_the_reboot_is_not_allowed():
    plan = driver_plan(facts_of(waiting_for_reboot()), dict(driver_settings(), mode="preinstalled", reboot="never"))
    assert plan["action"] == "fail"
    assert plan["message"].endswith("and nvidia_driver_reboot=never: reboot it, or set nvidia_driver_reboot=if_needed.")


def test_preinstalled_mode_fails_without_a_driver():
    plan = driver_plan(facts_of(without_driver(lambda_hgx_h100())), dict(driver_settings(), mode="preinstalled"))
    assert plan["message"] == ("gpu-node-1 has no working NVIDIA driver (none is installed) and nvidia_driver_mode=preinstalled only "
                               "adopts one; set nvidia_driver_mode=auto or install to let the role install branch 580.")


# Installing

@pytest.mark.parametrize(("version", "arch", "model", "kernel", "expected"), [
    ("22.04", "x86_64", "h100", "6.8.0-49-generic",
     ["nvidia-headless-no-dkms-580-server-open", "nvidia-utils-580-server", "linux-modules-nvidia-580-server-open-6.8.0-49-generic"]),
    ("24.04", "arm64", "gh200", "6.8.0-1017-nvidia-64k",
     ["nvidia-headless-no-dkms-580-server-open", "nvidia-utils-580-server", "linux-modules-nvidia-580-server-open-6.8.0-1017-nvidia-64k"]),
    ("22.04", "x86_64", "v100", "5.15.0-119-generic",
     ["nvidia-headless-no-dkms-580-server", "nvidia-utils-580-server", "linux-modules-nvidia-580-server-5.15.0-119-generic"]),
])
def test_ubuntu_installs_canonicals_signed_precompiled_modules(version, arch, model, kernel, expected):
    settings = RoleVars("nvidia_driver", node_facts("Ubuntu", version, arch, kernel), lambda_gpu_count=1,
                        lambda_gpu_model=model)["_nvidia_driver_settings"]
    plan = driver_plan(facts_of(without_driver(gh200() if arch == "arm64" else lambda_hgx_h100()), arch), settings)
    assert (plan["action"], plan["packages"], plan["repository"]) == ("install", expected, False)


def test_ubuntu_from_nvidias_repository_builds_with_dkms_and_needs_the_headers():
    settings = RoleVars("nvidia_driver", node_facts(), lambda_gpu_count=8, lambda_gpu_model="h100",
                        nvidia_driver_source="nvidia", nvidia_driver_branch=570)["_nvidia_driver_settings"]
    plan = driver_plan(facts_of(without_driver(lambda_hgx_h100())), settings)
    assert plan["packages"] == ["nvidia-headless-570-open", "nvidia-utils-570", "linux-headers-6.8.0-49-generic"]
    assert plan["repository"]


@pytest.mark.parametrize(("flavor", "expected"), [
    ("open", ["nvidia-open-kernel-dkms=535.*", "nvidia-smi=535.*", "libcuda1=535.*", "nvidia-persistenced", "linux-headers-6.1.0-28-amd64"]),
    ("proprietary", ["nvidia-kernel-dkms=535.*", "nvidia-smi=535.*", "libcuda1=535.*", "nvidia-persistenced", "linux-headers-6.1.0-28-amd64"]),
])
def test_debian_installs_from_non_free_on_its_only_branch(flavor, expected):
    settings = RoleVars("nvidia_driver", node_facts("Debian", "12", kernel="6.1.0-28-amd64"), lambda_gpu_count=1, lambda_gpu_model="a10",
                        nvidia_driver_flavor=flavor)["_nvidia_driver_settings"]
    plan = driver_plan(facts_of(without_driver(lambda_hgx_h100())), settings)
    assert (plan["action"], plan["branch"], plan["packages"]) == ("install", "535", expected)


def test_the_debian_test_node_keeps_its_installed_driver_on_the_next_run():
    settings = dict(RoleVars("nvidia_driver", node_facts("Debian", "12"), nvidia_driver_mode="install",
                             nvidia_driver_manage_without_gpu=True)["_nvidia_driver_settings"], kernel_headers=False)
    plan = driver_plan(facts_of(debian_installed_without_module()), settings)
    assert (plan["action"], plan["reboot"]) == ("install", False)
    assert plan["packages"] == ["nvidia-open-kernel-dkms=535.*", "nvidia-smi=535.*", "libcuda1=535.*", "nvidia-persistenced"]
    assert plan["warnings"] == ["No NVIDIA kernel module is built for the running kernel 6.8.0-49-generic: DKMS needs that kernel's "
                                "headers (nvidia_driver_kernel_headers)."]


def test_another_installed_driver_is_refused_with_what_is_there_what_was_asked_and_the_variable():
    plan = driver_plan(facts_of(lambda_hgx_h100()), dict(driver_settings(), mode="install"))
    assert plan["action"] == "fail"
    assert plan["message"] == (
        "gpu-node-1 has NVIDIA driver 550.127.05 (open kernel modules; package libnvidia-compute-550-server from "
        "archive.lambdalabs.com), but nvidia_driver_mode=install asks for branch 580 with open kernel modules. Set "
        "nvidia_driver_allow_change=true to replace it (the node then reboots), or nvidia_driver_mode=auto to keep a working one.")


def test_allowed_changes_release_the_held_packages_first():
    plan = driver_plan(facts_of(lambda_hgx_h100()), dict(driver_settings(), mode="install", allow_change=True))
    assert plan["action"] == "install"
    assert plan["release"] == ["libnvidia-compute-550-server"]  # the only one held in the capture


def test_install_mode_keeps_a_driver_of_the_requested_branch():
    plan = driver_plan(facts_of(lambda_hgx_h100()), dict(driver_settings(), mode="install", branch="550"))
    assert (plan["action"], plan["release"]) == ("install", [])


@pytest.mark.parametrize(("requested", "model", "flavor", "error"), [
    ("auto", "h100", "open", None),
    ("auto", "gh200", "open", None),
    ("auto", "b200", "open", None),
    ("auto", "a10", "open", None),
    ("auto", "v100", "proprietary", None),
    ("auto", None, "open", None),
    ("proprietary", "a100", "proprietary", None),
    ("proprietary", "gh200", None, "GH200 GPUs need NVIDIA's open kernel modules"),
    ("proprietary", "b200", None, "B200 GPUs need NVIDIA's open kernel modules"),
    ("open", "v100", None, "V100 GPUs predate Turing"),
])
def test_open_kernel_modules_where_the_gpu_needs_them(requested, model, flavor, error):
    chosen, problem = driver_flavor(requested, model)
    assert chosen == flavor
    assert (problem or "").startswith(error or "")


def test_a_flavour_the_gpu_cannot_run_fails_before_installing():
    plan = driver_plan(facts_of(without_driver(gh200()), "aarch64"),
                       dict(driver_settings(arch="arm64", lambda_gpu_count=1, lambda_gpu_model="gh200"), flavor="proprietary"))
    assert plan["action"] == "fail" and "nvidia_driver_flavor=proprietary cannot drive them" in plan["message"]


def test_secure_boot_refuses_unsigned_dkms_modules():
    node = without_driver(lambda_hgx_h100())
    node.commands["mokutil"] = (0, "SecureBoot enabled\n", "")
    debian = RoleVars("nvidia_driver", node_facts("Debian", "12"), lambda_gpu_count=8, lambda_gpu_model="h100")["_nvidia_driver_settings"]
    assert "Secure Boot is enabled" in driver_plan(facts_of(node), debian)["message"]
    assert driver_plan(facts_of(node), dict(debian, dkms_with_secure_boot=True))["action"] == "install"
    # Ubuntu's precompiled modules are signed by Canonical: nothing to refuse.
    assert driver_plan(facts_of(node), driver_settings())["action"] == "install"


def test_nvidias_repository_is_not_mixed_with_lambda_stacks_pinned_archive():
    node = without_driver(lambda_hgx_h100())
    node.files["/etc/apt/preferences.d/lambda-repository"] = "Package: *\nPin: origin archive.lambdalabs.com\nPin-Priority: 1001\n"
    node.dirs["/etc/apt/preferences.d"] = ["lambda-repository"]
    plan = driver_plan(facts_of(node), dict(driver_settings(), source="nvidia"))
    assert plan["action"] == "fail" and "Lambda's archive is pinned at priority 1001" in plan["message"]


def test_a_source_without_packages_for_the_flavour_is_a_wiring_error():
    with pytest.raises(PlanError):
        driver_packages({"source": "nvidia", "packages": {}}, "580", "open")


def test_a_gpu_count_below_the_instance_types_is_reported():
    node = lambda_hgx_h100(commands={"lspci": (0, "", "")})
    node.commands["nvidia-smi"] = (0, "".join(node.commands["nvidia-smi"][1].splitlines(keepends=True)[:7]), "")
    plan = driver_plan(facts_of(node), driver_settings())
    assert "gpu-node-1 shows 7 GPU(s) but its instance type has 8." in plan["warnings"]


# Fabric Manager

def test_fabric_manager_in_the_drivers_version_is_kept():
    plan = driver_plan(facts_of(lambda_hgx_h100()), driver_settings())
    assert plan["fabricmanager"] == {"manage": True, "package": "nvidia-fabricmanager-550", "install": None, "error": None}


def test_a_missing_fabric_manager_is_installed_in_the_drivers_exact_version():
    node = lambda_hgx_h100()
    node.commands["dpkg-query"] = (0, "".join(line for line in node.commands["dpkg-query"][1].splitlines(keepends=True)
                                              if "fabricmanager" not in line), "")
    plan = driver_plan(facts_of(node), driver_settings())
    assert plan["fabricmanager"]["install"] == "nvidia-fabricmanager-550=550.127.05-*"


def test_a_fabric_manager_of_another_version_is_refused_unless_changes_are_allowed():
    node = lambda_hgx_h100()
    node.commands["dpkg-query"] = (0, node.commands["dpkg-query"][1].replace(
        "nvidia-fabricmanager-550\t550.127.05", "nvidia-fabricmanager-550\t550.90.07"), "")
    refused = driver_plan(facts_of(node), driver_settings())["fabricmanager"]
    assert refused["error"].startswith("gpu-node-1 runs Fabric Manager 550.90.07 but driver 550.127.05")
    allowed = driver_plan(facts_of(node), dict(driver_settings(), allow_change=True))["fabricmanager"]
    assert allowed["install"] == "nvidia-fabricmanager-550=550.127.05-*"


def test_debian_has_no_fabric_manager_package_to_offer():
    settings = RoleVars("nvidia_driver", node_facts("Debian", "12"), lambda_gpu_count=8, lambda_gpu_model="h100")["_nvidia_driver_settings"]
    node = lambda_hgx_h100()
    node.commands["dpkg-query"] = (0, "".join(line for line in node.commands["dpkg-query"][1].splitlines(keepends=True)
                                              if "fabricmanager" not in line), "")
    error = driver_plan(facts_of(node), settings)["fabricmanager"]["error"]
    assert error.startswith("gpu-node-1 has 4 NVSwitch(es) but no Fabric Manager package is known for Debian 12")


def test_no_nvswitch_no_fabric_manager():
    assert driver_plan(facts_of(gh200(), "aarch64"), driver_settings(arch="arm64", lambda_gpu_count=1, lambda_gpu_model="gh200"))[
        "fabricmanager"] == {"manage": False}


# The container toolkit

def test_lambda_stacks_toolkit_is_reused():
    plan = toolkit_plan(facts_of(lambda_hgx_h100()), toolkit_settings())
    assert (plan["action"], plan["packages"], plan["repository"]) == ("reuse", [], False)
    assert plan["hold"] == ["libnvidia-container-tools", "libnvidia-container1", "nvidia-container-toolkit", "nvidia-container-toolkit-base"]
    assert plan["runtime"] == "/usr/bin/nvidia-container-runtime"
    assert plan["dropin"] == {"node-label+": ["nvidia.com/gpu.present=true"]}


def test_without_a_toolkit_the_pinned_version_is_installed_from_nvidias_repository():
    plan = toolkit_plan(facts_of(gh200(), "aarch64"), toolkit_settings(lambda_gpu_count=1))
    assert plan["action"] == "install" and plan["repository"]
    assert plan["packages"] == ["nvidia-container-toolkit=1.18.2-1", "nvidia-container-toolkit-base=1.18.2-1",
                                "libnvidia-container-tools=1.18.2-1", "libnvidia-container1=1.18.2-1"]


def test_install_mode_pins_the_version_over_a_present_toolkit():
    plan = toolkit_plan(facts_of(lambda_hgx_h100()), dict(toolkit_settings(), mode="install"))
    assert plan["action"] == "install" and plan["packages"][0] == "nvidia-container-toolkit=1.18.2-1"


def test_the_default_runtime_waits_for_the_runtime_binary():
    settings = toolkit_settings(nvidia_container_toolkit_k3s_default_runtime=True)
    assert toolkit_plan(facts_of(lambda_hgx_h100()), settings)["dropin"] == {
        "default-runtime": "nvidia", "node-label+": ["nvidia.com/gpu.present=true"]}
    before_install = toolkit_plan(facts_of(gh200(), "aarch64"), dict(settings, expected_gpu_count=1))
    assert before_install["dropin"] == {"node-label+": ["nvidia.com/gpu.present=true"]}
    assert before_install["warnings"][0].startswith("default-runtime: nvidia is left out of the K3s drop-in")


def test_no_default_runtime_when_k3s_is_not_wired():
    settings = toolkit_settings(nvidia_container_toolkit_k3s_default_runtime=True, nvidia_container_toolkit_k3s=False)
    assert "default-runtime" not in toolkit_plan(facts_of(lambda_hgx_h100()), settings)["dropin"]


def test_cdi_adds_the_cdi_runtime_package_in_the_present_toolkits_version():
    node = lambda_hgx_h100()
    node.commands["nvidia-ctk"] = (0, "NVIDIA Container Toolkit CLI version 1.18.2\n", "")
    plan = toolkit_plan(facts_of(node), toolkit_settings(nvidia_container_toolkit_cdi=True))
    assert (plan["action"], plan["packages"], plan["repository"]) == (
        "reuse", ["nvidia-container-toolkit-operator-extensions=1.18.2-*"], True)


def test_cdi_needs_toolkit_1_18():
    plan = toolkit_plan(facts_of(lambda_hgx_h100()), toolkit_settings(nvidia_container_toolkit_cdi=True))
    assert plan["action"] == "fail" and "needs NVIDIA Container Toolkit 1.18 or later" in plan["message"]


def test_a_gpu_operator_leftover_that_k3s_would_pick_first_is_refused():
    node = lambda_hgx_h100(executables={"/usr/local/nvidia/toolkit/nvidia-container-runtime"})
    plan = toolkit_plan(facts_of(node), toolkit_settings())
    assert plan["action"] == "fail" and "remove that directory" in plan["message"]


def test_the_toolkit_skips_cpu_nodes_too():
    assert toolkit_plan(facts_of(cpu_only()), toolkit_settings(lambda_gpu_count=0))["action"] == "skip"


# What keeps a node from serving GPU pods

RENDERED_OK = {"runtimes": {"runc": {"binary": None}, "nvidia": {"binary": "/usr/bin/nvidia-container-runtime"}},
               "default_runtime": None, "error": None}


def test_a_ready_node_has_no_problem():
    assert node_problems(facts_of(lambda_hgx_h100()), {"host": "n", "gpu_count": 8, "fabricmanager_active": True,
                                                       "containerd": RENDERED_OK}) == []


def test_problems_are_named_one_sentence_each():
    facts = facts_of(waiting_for_reboot())
    problems = node_problems(facts, {"host": "n", "gpu_count": 8, "fabricmanager_active": False,
                                     "containerd": {"runtimes": {}, "default_runtime": None, "error": None}})
    assert problems[0].startswith("n: the NVIDIA driver does not work (nvidia-smi: Failed to initialize NVML")
    assert "n needs a reboot: the loaded kernel module (550.90.07) and the driver's libraries (550.127.05) differ." in problems
    assert "n: nvidia-smi lists 0 GPU(s), the instance type has 8." in problems
    assert "n: nvidia-fabricmanager is not running on a node with NVSwitches." in problems
    assert problems[-1].startswith("n: K3s's containerd config names no 'nvidia' runtime")


def test_persistence_mode_off_is_a_problem():
    problems = node_problems(facts_of(a10_proprietary()), {"host": "n", "gpu_count": 1})
    assert problems == ["n: persistence mode is off on GPU 0."]


def test_k3s_running_another_runtime_binary_or_default():
    facts = facts_of(lambda_hgx_h100())
    rendered = {"runtimes": {"nvidia": {"binary": "/usr/local/nvidia/toolkit/nvidia-container-runtime"}}, "default_runtime": "runc",
                "error": None}
    assert k3s_runtime_problems(rendered, facts, {"host": "n", "default_runtime": True}) == [
        "n: K3s's 'nvidia' runtime runs /usr/local/nvidia/toolkit/nvidia-container-runtime, not the toolkit's /usr/bin/nvidia-container-runtime.",
        "n: K3s's default runtime is runc, not nvidia, although its drop-in asks for it."]
    assert k3s_runtime_problems({"error": "bad"}, facts, {"host": "n", "config": "/x.toml"}) == ["n: /x.toml is not valid TOML (bad)."]
