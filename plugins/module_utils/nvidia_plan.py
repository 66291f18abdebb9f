# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the NVIDIA roles do on a node, decided from its ``nvidia`` fact and the role's settings.

Adopt a working driver or install one, which packages, which flavour, what to hold, whether a
reboot is due, Fabric Manager, the container toolkit and its K3s drop-in: every decision is here,
with unit tests, and the roles' tasks only carry it out. Each failure is one sentence saying what
was found, what was asked and which variable changes the outcome.
"""

from __future__ import annotations

import fnmatch

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.instance_types import open_kernel_modules


_SMI_STATES = {
    "absent": "nvidia-smi is not installed",
    "no_driver": "nvidia-smi cannot reach a loaded driver",
    "mismatch": "nvidia-smi reports a driver/library version mismatch",
    "no_devices": "nvidia-smi finds no device",
    "error": "nvidia-smi fails",
}


class PlanError(ValueError):
    """Settings the plan cannot work with (a bug in the role's wiring, not a node problem)."""


def gpu_node(facts: dict, settings: dict, prefix: str) -> dict:
    """Whether a role has work on this node: manage it, skip it (no GPU, none expected) or fail.

    ``prefix`` names the role's variables in the messages (nvidia_driver, nvidia_container_toolkit).
    """
    host = settings.get("host", "this node")
    if facts.get("gpu_count", 0) > 0:
        return {"action": "manage", "message": None}
    if settings.get("expect_gpu"):
        smi = facts.get("nvidia_smi") or {}
        return {"action": "fail", "message": (
            "%s should have %s GPU(s) (its instance type says so) but shows none: %s and no PCI device has NVIDIA's vendor "
            "id 10de. Check the instance, or set %s_expect_gpu=false to configure it without a GPU."
            % (host, settings.get("expected_gpu_count") or "some", _SMI_STATES.get(smi.get("state"), "nvidia-smi lists no GPU"), prefix))}
    if settings.get("manage_without_gpu"):
        return {"action": "manage", "message": None}
    return {"action": "skip", "message": "%s has no NVIDIA GPU and none is expected: nothing to do." % host}


def driver_flavor(requested: str, gpu_model: str | None) -> tuple:
    """(flavour, error): 'auto' picks the open modules unless the GPU cannot run them."""
    need = open_kernel_modules(gpu_model)
    model = (gpu_model or "").upper()
    if requested == "auto":
        return ("proprietary" if need == "unsupported" else "open"), None
    if requested == "proprietary" and need == "required":
        return None, ("%s GPUs need NVIDIA's open kernel modules; nvidia_driver_flavor=proprietary cannot drive them "
                      "(use open or auto)." % model)
    if requested == "open" and need == "unsupported":
        return None, ("%s GPUs predate Turing and cannot run NVIDIA's open kernel modules; use "
                      "nvidia_driver_flavor=proprietary or auto." % model)
    return requested, None


def driver_packages(settings: dict, branch: str, flavor: str) -> list:
    """Package names for the source and flavour, from the distribution's templates ({branch}, {kernel})."""
    templates = ((settings.get("packages") or {}).get(settings["source"]) or {}).get(flavor)
    if not templates:
        raise PlanError("no %s driver packages are defined for source %s" % (flavor, settings["source"]))
    packages = [template.format(branch=branch, kernel=settings.get("kernel", "")) for template in templates]
    if settings.get("dkms") and settings.get("kernel_headers") and settings.get("headers_package"):
        packages.append(settings["headers_package"].format(kernel=settings.get("kernel", "")))
    return packages


def _describe_driver(driver: dict) -> str:
    """'550.127.05 (open kernel modules; package nvidia-utils-550-server from archive.lambdalabs.com)'."""
    details = []
    if driver.get("flavor"):
        details.append("%s kernel modules" % driver["flavor"])
    if driver.get("package"):
        details.append("package %s from %s" % (driver["package"], driver.get("origin") or "an unknown source"))
    elif driver.get("origin") == "unpackaged":
        details.append("installed outside any package")
    text = driver.get("version") or "of unknown version"
    return text + (" (%s)" % "; ".join(details) if details else "")


def driver_plan(facts: dict, settings: dict) -> dict:
    """adopt, install, skip or fail, with everything the role's tasks need to carry it out.

    ``reboot`` is true when the node needs a reboot for its driver to work and nvidia_driver_reboot
    allows it; when it does not, a warning says so.

    ``settings``: host, mode (auto|preinstalled|install), branch, flavor (auto|open|proprietary),
    source, allow_change, expect_gpu, expected_gpu_count, manage_without_gpu, gpu_model, distribution,
    kernel, packages (source -> flavour -> templates), dkms, kernel_headers, headers_package,
    dkms_with_secure_boot, reboot (if_needed|never), hold, hold_patterns, hold_exclude, fabricmanager,
    fabricmanager_package.
    """
    plan = _driver_action(facts, settings)
    driver = facts.get("driver") or {}
    pending = plan["action"] in ("adopt", "install") and bool(driver.get("reboot_required"))
    plan["reboot"] = pending and settings.get("reboot") == "if_needed"
    if pending and not plan["reboot"]:
        plan["warnings"].append("%s needs a reboot before its NVIDIA driver works (%s); nvidia_driver_reboot=never leaves "
                                "that to you." % (settings.get("host", "this node"), "; ".join(driver["reboot_reasons"])))
    return plan


def _driver_action(facts: dict, settings: dict) -> dict:
    plan = {"action": None, "message": None, "flavor": None, "branch": None, "packages": [], "repository": False,
            "release": [], "hold": [], "warnings": [], "fabricmanager": {"manage": False}}
    node = gpu_node(facts, settings, "nvidia_driver")
    if node["action"] != "manage":
        return dict(plan, action=node["action"], message=node["message"])

    driver = facts.get("driver") or {}
    host = settings.get("host", "this node")
    branch = str(settings.get("branch") or "")
    flavor, flavor_error = driver_flavor(settings.get("flavor", "auto"), settings.get("gpu_model") or facts.get("gpu_model"))
    plan.update(flavor=flavor, branch=branch, hold=_hold_packages(facts, settings), warnings=_driver_warnings(facts, settings))
    mode = settings.get("mode", "auto")

    if driver.get("installed") and (driver.get("healthy") or driver.get("reboot_required")) and mode != "install":
        plan["fabricmanager"] = fabricmanager_plan(facts, settings)
        return _adopt(plan, facts, settings)
    if mode == "preinstalled":
        return dict(plan, action="fail", message=(
            "%s has no working NVIDIA driver (%s) and nvidia_driver_mode=preinstalled only adopts one; set "
            "nvidia_driver_mode=auto or install to let the role install branch %s." % (host, _why_not_working(facts), branch)))
    if flavor_error:
        return dict(plan, action="fail", message="%s: %s" % (host, flavor_error))
    if driver.get("installed") and not _matches(driver, branch, flavor):
        if not settings.get("allow_change"):
            return dict(plan, action="fail", message=(
                "%s has NVIDIA driver %s, but nvidia_driver_mode=%s asks for branch %s with %s kernel modules. Set "
                "nvidia_driver_allow_change=true to replace it (the node then reboots), or nvidia_driver_mode=auto to keep "
                "a working one." % (host, _describe_driver(driver), mode, branch, flavor)))
        plan["release"] = sorted(name for name in plan["hold"] if facts["packages"][name].get("held"))
    problem = _install_problem(facts, settings)
    if problem:
        return dict(plan, action="fail", message="%s: %s" % (host, problem))
    plan.update(action="install", packages=driver_packages(settings, branch, flavor), repository=settings.get("source") == "nvidia",
                message="%s: NVIDIA driver branch %s (%s kernel modules) from %s." % (
                    host, branch, flavor, "NVIDIA's repository" if settings.get("source") == "nvidia" else settings.get("distribution", "the distribution")))
    plan["fabricmanager"] = fabricmanager_plan(facts, settings)
    return plan


def _adopt(plan: dict, facts: dict, settings: dict) -> dict:
    driver = facts["driver"]
    host = settings.get("host", "this node")
    plan.update(action="adopt", flavor=driver.get("flavor"), branch=driver.get("branch"),
                message="%s: adopted NVIDIA driver %s." % (host, _describe_driver(driver)))
    if driver.get("reboot_required") and settings.get("mode") == "preinstalled" and settings.get("reboot") == "never":
        return dict(plan, action="fail", message=(
            "%s needs a reboot before its NVIDIA driver works (%s) and nvidia_driver_reboot=never: reboot it, or set "
            "nvidia_driver_reboot=if_needed." % (host, "; ".join(driver["reboot_reasons"]))))
    return plan


def _matches(driver: dict, branch: str, flavor: str) -> bool:
    """Whether an installed driver is the requested branch and flavour (an unknown flavour is not held against it)."""
    return driver.get("branch") == branch and driver.get("flavor") in (None, flavor)


def _why_not_working(facts: dict) -> str:
    driver = facts.get("driver") or {}
    smi = facts.get("nvidia_smi") or {}
    if not driver.get("installed"):
        return "none is installed"
    if driver.get("module_missing"):
        return "driver %s is installed but no kernel module is built for the running kernel" % (driver.get("version") or "")
    return "nvidia-smi: %s" % (smi.get("message") or smi.get("state"))


def _install_problem(facts: dict, settings: dict) -> str | None:
    lambda_stack = facts.get("lambda_stack") or {}
    if settings.get("source") == "nvidia" and lambda_stack.get("pin_priority"):
        return ("Lambda's archive is pinned at priority %s (%s), so packages from NVIDIA's repository would mix with "
                "Lambda Stack's; use nvidia_driver_source=distribution or reinstall Lambda Stack."
                % (lambda_stack["pin_priority"], lambda_stack.get("pin_file")))
    if settings.get("dkms") and facts.get("secure_boot") == "enabled" and not settings.get("dkms_with_secure_boot"):
        return ("Secure Boot is enabled and this source builds the kernel module with DKMS, unsigned unless you enrolled "
                "DKMS's signing key, so the kernel would refuse it; enroll the key and set "
                "nvidia_driver_dkms_with_secure_boot=true, or disable Secure Boot.")
    return None


def _driver_warnings(facts: dict, settings: dict) -> list:
    warnings = []
    expected = settings.get("expected_gpu_count") or 0
    found = facts.get("gpu_count", 0)
    if expected and found and found != expected:
        warnings.append("%s shows %d GPU(s) but its instance type has %d." % (settings.get("host", "this node"), found, expected))
    driver = facts.get("driver") or {}
    if driver.get("module_missing"):
        warnings.append("No NVIDIA kernel module is built for the running kernel %s: DKMS needs that kernel's headers "
                        "(nvidia_driver_kernel_headers)." % settings.get("kernel", ""))
    return warnings


def _hold_packages(facts: dict, settings: dict) -> list:
    if not settings.get("hold", True):
        return []
    packages = facts.get("packages") or {}
    return [name for name in sorted(packages)
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in settings.get("hold_patterns") or ())
            and not any(fnmatch.fnmatchcase(name, pattern) for pattern in settings.get("hold_exclude") or ())]


def fabricmanager_plan(facts: dict, settings: dict) -> dict:
    """Fabric Manager on NVSwitch systems: its package must carry exactly the driver's version."""
    if not facts.get("nvswitch_count") or not settings.get("fabricmanager", True):
        return {"manage": False}
    driver = facts.get("driver") or {}
    installed = facts.get("fabricmanager") or {}
    version = driver.get("version")
    host = settings.get("host", "this node")
    if not version:
        # The driver is being installed in this run; the role plans Fabric Manager again afterwards.
        return {"manage": False}
    if installed.get("package") and installed.get("version") == version:
        return {"manage": True, "package": installed["package"], "install": None, "error": None}
    template = settings.get("fabricmanager_package") or ""
    if not template:
        return {"manage": True, "package": None, "install": None, "error": (
            "%s has %d NVSwitch(es) but no Fabric Manager package is known for %s; set nvidia_driver_fabricmanager_package "
            "to one that carries driver version %s." % (host, facts["nvswitch_count"], settings.get("distribution", "this system"), version))}
    package = template.format(branch=driver.get("branch") or "")
    if installed.get("package") and not settings.get("allow_change"):
        return {"manage": True, "package": installed["package"], "install": None, "error": (
            "%s runs Fabric Manager %s but driver %s; CUDA fails on NVSwitch systems unless they match. Set "
            "nvidia_driver_allow_change=true to install %s %s." % (host, installed.get("version"), version, package, version))}
    return {"manage": True, "package": package, "install": "%s=%s-*" % (package, version), "error": None}


def toolkit_plan(facts: dict, settings: dict) -> dict:
    """Reuse a present toolkit or install the pinned one, and what the K3s drop-in says.

    ``settings``: host, mode (auto|install), version, packages, cdi, cdi_package, hold, expect_gpu,
    expected_gpu_count, manage_without_gpu, k3s_default_runtime, k3s_node_labels.
    """
    plan = {"action": None, "message": None, "packages": [], "repository": False, "hold": [], "dropin": {},
            "runtime": None, "warnings": []}
    node = gpu_node(facts, settings, "nvidia_container_toolkit")
    if node["action"] != "manage":
        return dict(plan, action=node["action"], message=node["message"])
    toolkit = facts.get("container_toolkit") or {}
    runtimes = toolkit.get("runtimes") or {}
    host = settings.get("host", "this node")
    if toolkit.get("stale_toolkit_dir"):
        return dict(plan, action="fail", message=(
            "%s has NVIDIA runtimes in %s (left there by the GPU Operator), which K3s uses before the toolkit's own; "
            "remove that directory, then run again." % (host, toolkit["stale_toolkit_dir"])))

    version = settings["version"]
    wanted = list(settings.get("packages") or [])
    if settings.get("cdi"):
        wanted.append(settings["cdi_package"])
    present = toolkit.get("ctk_version") and "nvidia" in runtimes
    if settings.get("mode") == "auto" and present:
        plan.update(action="reuse", message="%s: reusing NVIDIA Container Toolkit %s." % (host, toolkit["ctk_version"]))
        if settings.get("cdi") and "nvidia-cdi" not in runtimes:
            if _older(toolkit["ctk_version"], "1.18.0"):
                return dict(plan, action="fail", message=(
                    "%s: CDI mode needs NVIDIA Container Toolkit 1.18 or later (its nvidia-cdi-refresh units); this node "
                    "has %s. Set nvidia_container_toolkit_mode=install to install %s." % (host, toolkit["ctk_version"], version)))
            plan.update(packages=["%s=%s-*" % (settings["cdi_package"], toolkit["ctk_version"])], repository=True)
    else:
        plan.update(action="install", packages=["%s=%s" % (name, version) for name in wanted], repository=True,
                    message="%s: NVIDIA Container Toolkit %s from NVIDIA's repository." % (host, version))
    packages = facts.get("packages") or {}
    plan["hold"] = sorted(name for name in packages if name in wanted) if settings.get("hold", True) else []
    plan["runtime"] = runtimes.get("nvidia")
    plan["dropin"] = k3s_dropin(settings, runtimes)
    if settings.get("k3s_default_runtime") and "nvidia" not in runtimes:
        plan["warnings"].append("default-runtime: nvidia is left out of the K3s drop-in until nvidia-container-runtime "
                                "exists (K3s refuses to start without it).")
    return plan


def k3s_dropin(settings: dict, runtimes: dict) -> dict:
    """The K3s configuration drop-in: labels appended with node-label+ (a plain node-label would replace
    the K3s role's), default-runtime only once the runtime exists."""
    dropin = {}
    if settings.get("k3s_default_runtime") and "nvidia" in runtimes:
        dropin["default-runtime"] = "nvidia"
    labels = list(settings.get("k3s_node_labels") or [])
    if labels:
        dropin["node-label+"] = labels
    return dropin


def _older(version: str, reference: str) -> bool:
    def numbers(text: str) -> tuple:
        return tuple(int(part) if part.isdigit() else 0 for part in text.split("-")[0].split("~")[0].split(".")[:3])
    return numbers(version) < numbers(reference)


def node_problems(facts: dict, expectations: dict) -> list:
    """What keeps a GPU node from serving GPU pods, one sentence each; empty when it is ready.

    ``expectations``: host, gpu_count (from the instance type, 0 = unknown), fabricmanager_active,
    containerd (what k3s_containerd_runtimes read, or None when K3s does not run there), config, default_runtime.
    """
    host = expectations.get("host", "this node")
    problems = []
    driver = facts.get("driver") or {}
    smi = facts.get("nvidia_smi") or {}
    expected = expectations.get("gpu_count") or 0
    if not driver.get("healthy"):
        problems.append("%s: the NVIDIA driver does not work (nvidia-smi: %s)." % (host, smi.get("message") or smi.get("state")))
    if driver.get("reboot_required"):
        problems.append("%s needs a reboot: %s." % (host, "; ".join(driver.get("reboot_reasons") or [])))
    if expected and len(facts.get("gpus") or []) != expected:
        problems.append("%s: nvidia-smi lists %d GPU(s), the instance type has %d." % (host, len(facts.get("gpus") or []), expected))
    off = [str(gpu["index"]) for gpu in facts.get("gpus") or [] if not gpu.get("persistence_mode")]
    if off:
        problems.append("%s: persistence mode is off on GPU %s." % (host, ", ".join(off)))
    if facts.get("nvswitch_count"):
        manager = facts.get("fabricmanager") or {}
        if not manager.get("version"):
            problems.append("%s has %d NVSwitch(es) but no Fabric Manager." % (host, facts["nvswitch_count"]))
        elif manager["version"] != driver.get("version"):
            problems.append("%s: Fabric Manager %s does not match driver %s." % (host, manager["version"], driver.get("version")))
        if not expectations.get("fabricmanager_active"):
            problems.append("%s: nvidia-fabricmanager is not running on a node with NVSwitches." % host)
    rendered = expectations.get("containerd")
    if rendered is not None:
        problems.extend(k3s_runtime_problems(rendered, facts, expectations))
    return problems


def k3s_runtime_problems(rendered: dict, facts: dict, expectations: dict) -> list:
    """What is wrong with K3s's rendered containerd config for the NVIDIA runtime; empty when nothing.

    ``rendered`` is what the k3s_containerd_runtimes filter read ({runtimes, default_runtime, error});
    ``expectations``: host, config (its path), default_runtime (whether the drop-in asks for it).
    """
    host = expectations.get("host", "this node")
    path = expectations.get("config", "K3s's containerd config")
    if rendered.get("error"):
        return ["%s: %s is not valid TOML (%s)." % (host, path, rendered["error"])]
    runtime = (rendered.get("runtimes") or {}).get("nvidia")
    if runtime is None:
        return ["%s: %s names no 'nvidia' runtime: K3s looks nvidia-container-runtime up when it starts, so restart it "
                "after installing the toolkit." % (host, path)]
    problems = []
    found = ((facts.get("container_toolkit") or {}).get("runtimes") or {}).get("nvidia")
    if found and runtime.get("binary") != found:
        problems.append("%s: K3s's 'nvidia' runtime runs %s, not the toolkit's %s." % (host, runtime.get("binary"), found))
    if expectations.get("default_runtime") and rendered.get("default_runtime") != "nvidia":
        problems.append("%s: K3s's default runtime is %s, not nvidia, although its drop-in asks for it." % (
            host, rendered.get("default_runtime") or "runc"))
    return problems
