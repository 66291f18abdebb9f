#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: nvidia_facts
short_description: Facts about a node's NVIDIA GPUs, driver, Fabric Manager and container toolkit
version_added: 1.0.0
description:
  - Reads, without changing anything, what the node's own tools report and returns it as the C(nvidia) fact
    (C(ansible_facts.nvidia)).
  - GPUs come from C(nvidia-smi), or from the PCI bus (vendor C(10de), through C(lspci) or C(/sys/bus/pci)) when
    C(nvidia-smi) is missing or cannot reach the driver. NVSwitches are the NVIDIA PCI bridges.
  - The driver's userland is the package owning C(libnvidia-ml.so.1); its version is compared with the loaded kernel
    module's (C(/proc/driver/nvidia/version), or what C(nvidia-smi) reports). A difference, a module installed but not
    loaded, or a pending reboot the package manager asked for sets C(driver.reboot_required) in the fact.
  - The module flavour (open or proprietary) comes from the loaded module, else from C(modinfo)'s licence.
  - Also reports Fabric Manager's package, Lambda Stack and its apt pin, the Secure Boot state (C(mokutil)) and the
    container toolkit (C(nvidia-ctk --version), and the NVIDIA runtimes K3s would find, searching the directories K3s
    searches first).
  - The roles M(sophia.lambda_k3s.nvidia_driver) and M(sophia.lambda_k3s.nvidia_container_toolkit) decide from these
    facts; later plays (node labels, status, C(playbooks/verify_gpu.yml)) read them too.
author:
  - sophia.lambda_k3s contributors (@sophia-ai)
attributes:
  check_mode:
    description: The module only reads, so it runs normally in check mode.
    support: full
  diff_mode:
    description: The module changes nothing, so it has no diff to show.
    support: N/A
  facts:
    description: The result is returned as the C(nvidia) fact.
    support: full
options: {}
notes:
  - Runs on Debian and Ubuntu nodes (it reads C(dpkg) and C(apt-cache)); a tool that is not installed only leaves its
    facts empty.
seealso:
  - module: sophia.lambda_k3s.apt_signing_key
"""

EXAMPLES = r"""
- name: Read the node's NVIDIA facts
  sophia.lambda_k3s.nvidia_facts:

- name: Say which driver the node runs
  ansible.builtin.debug:
    msg: >-
      {{ ansible_facts.nvidia.gpu_count }} GPU(s), driver {{ ansible_facts.nvidia.driver.version }}
      ({{ ansible_facts.nvidia.driver.flavor }}) from {{ ansible_facts.nvidia.driver.origin }}
"""

RETURN = r"""
ansible_facts:
  description: The facts, under one key.
  returned: always
  type: dict
  contains:
    nvidia:
      description: Everything the module found.
      type: dict
      contains:
        arch:
          description: CPU architecture in Lambda's names, C(x86_64) or C(arm64).
          type: str
          sample: arm64
        gpu_count:
          description: GPUs found, by C(nvidia-smi) or on the PCI bus, whichever sees more.
          type: int
          sample: 8
        gpu_model:
          description: The GPU model in the inventory's names (C(h100), C(gh200), C(a10)), from C(nvidia-smi); null when unknown.
          type: str
          sample: h100
        gpus:
          description: What C(nvidia-smi) lists, one entry per GPU (empty when it cannot run).
          type: list
          elements: dict
          sample: [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "model": "h100", "uuid": "GPU-5e3c...", "bus_id": "00000000:18:00.0",
                    "driver_version": "550.127.05", "persistence_mode": true}]
        pci_gpus:
          description: PCI addresses of NVIDIA display and 3D controllers.
          type: list
          elements: str
          sample: ["0000:18:00.0"]
        nvswitch_count:
          description: NVSwitches on the PCI bus; Fabric Manager must run when there are any.
          type: int
          sample: 4
        nvidia_smi:
          description: C(state) (C(ok), C(absent), C(no_driver), C(mismatch), C(no_devices), C(error)), C(message), C(nvml_version).
          type: dict
        driver:
          description:
            - C(installed), C(version) (the userland's), C(branch), C(package), C(package_version), C(origin) (the repository
              host the package came from, C(local) or C(unpackaged)), C(loaded_version), C(module) (C(name), C(version),
              C(flavor), C(filename) of the module on disk), C(flavor) (C(open) or C(proprietary)), C(healthy),
              C(reboot_required), C(reboot_reasons) and C(module_missing) (userland present, no module for the running kernel).
          type: dict
        fabricmanager:
          description: C(package) and C(version) of the installed Fabric Manager, or nulls.
          type: dict
        lambda_stack:
          description: C(installed), C(version) of C(lambda-stack-cuda), and the C(pin_priority) and C(pin_file) of Lambda's apt pin.
          type: dict
        secure_boot:
          description: C(enabled), C(disabled), C(unsupported) (no EFI) or C(unknown).
          type: str
        packages:
          description: Installed NVIDIA, CUDA driver and Lambda Stack packages, each with C(version), C(held) and C(source).
          type: dict
        container_toolkit:
          description:
            - C(ctk_version), C(runtimes) (runtime name to the executable K3s would use) and C(stale_toolkit_dir) (set when
              a runtime under C(/usr/local/nvidia/toolkit), left by the GPU Operator, would win K3s's lookup).
          type: dict
"""

import os
import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.nvidia_facts import Probe, gather_facts


class NodeProbe(Probe):
    """The node itself, through the module: commands run with the C locale so their words can be parsed."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module

    def run(self, args: list) -> tuple | None:
        executable = self.module.get_bin_path(args[0])
        if executable is None:
            return None
        return self.module.run_command([executable] + list(args[1:]), environ_update={"LC_ALL": "C", "LANG": "C"})

    def read(self, path: str) -> str | None:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return None

    def listdir(self, path: str) -> list:
        try:
            return sorted(os.listdir(path))
        except OSError:
            return []

    def is_executable(self, path: str) -> bool:
        return os.path.isfile(path) and os.access(path, os.X_OK)


def main() -> None:
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    facts = gather_facts(NodeProbe(module), platform.machine())
    module.exit_json(changed=False, ansible_facts={"nvidia": facts})


if __name__ == "__main__":
    main()
