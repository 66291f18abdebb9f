# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the NVIDIA roles and playbooks/verify_gpu.yml.

The decisions themselves live in module_utils/nvidia_plan.py (tested there); these filters hand
them the ``nvidia`` fact and the role's settings, and read K3s's rendered containerd config.
"""

from __future__ import annotations

import tomllib

from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.nvidia_plan import (
    PlanError,
    driver_plan,
    k3s_runtime_problems,
    node_problems,
    toolkit_plan,
)

# Where K3s's containerd template puts the CRI runtimes: containerd 2 (config v3), then 1.7 (v2).
_CRI_PLUGINS = ("io.containerd.cri.v1.runtime", "io.containerd.grpc.v1.cri")


def _facts(value) -> dict:
    if not isinstance(value, dict) or "driver" not in value:
        raise AnsibleFilterError("expected the nvidia fact (ansible_facts.nvidia from sophia.lambda_k3s.nvidia_facts)")
    return value


def nvidia_driver_plan(facts: dict, settings: dict) -> dict:
    """What sophia.lambda_k3s.nvidia_driver does on this node (see nvidia_plan.driver_plan)."""
    try:
        return driver_plan(_facts(facts), dict(settings))
    except PlanError as error:
        raise AnsibleFilterError("nvidia_driver_plan: %s" % error) from error


def nvidia_container_toolkit_plan(facts: dict, settings: dict) -> dict:
    """What sophia.lambda_k3s.nvidia_container_toolkit does on this node (see nvidia_plan.toolkit_plan)."""
    return toolkit_plan(_facts(facts), dict(settings))


def nvidia_node_problems(facts: dict, expectations: dict) -> list:
    """Sentences naming what keeps a GPU node from serving GPU pods; empty when it is ready."""
    return node_problems(_facts(facts), dict(expectations))


def nvidia_k3s_runtime_problems(rendered: dict, facts: dict, expectations: dict) -> list:
    """What is wrong with K3s's containerd config (read by k3s_containerd_runtimes) for the NVIDIA runtime."""
    return k3s_runtime_problems(dict(rendered), _facts(facts), dict(expectations))


def k3s_containerd_runtimes(config_text: str) -> dict:
    """The runtimes and default runtime of K3s's rendered containerd config.toml.

    Returns {runtimes: {name: {binary, runtime_type}}, default_runtime, error}: ``error`` is set, and
    the rest empty, when the text is not TOML (a file caught half-written, or not K3s's).
    """
    try:
        config = tomllib.loads(config_text or "")
    except tomllib.TOMLDecodeError as error:
        return {"runtimes": {}, "default_runtime": None, "error": str(error)}
    plugins = config.get("plugins") or {}
    containerd = next((plugins[name]["containerd"] for name in _CRI_PLUGINS
                       if isinstance(plugins.get(name), dict) and isinstance(plugins[name].get("containerd"), dict)), {})
    runtimes = {}
    for name, runtime in (containerd.get("runtimes") or {}).items():
        options = runtime.get("options") or {}
        runtimes[name] = {"binary": options.get("BinaryName"), "runtime_type": runtime.get("runtime_type")}
    return {"runtimes": runtimes, "default_runtime": containerd.get("default_runtime_name"), "error": None}


class FilterModule:
    """NVIDIA driver and container toolkit decisions."""

    def filters(self) -> dict:
        return {
            "nvidia_driver_plan": nvidia_driver_plan,
            "nvidia_container_toolkit_plan": nvidia_container_toolkit_plan,
            "nvidia_node_problems": nvidia_node_problems,
            "nvidia_k3s_runtime_problems": nvidia_k3s_runtime_problems,
            "k3s_containerd_runtimes": k3s_containerd_runtimes,
        }
