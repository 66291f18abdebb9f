"""The NVIDIA filters: reading K3s's rendered containerd config, and handing the fact to the plans."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.filter.nvidia import (
    FilterModule,
    k3s_containerd_runtimes,
    nvidia_driver_plan,
    nvidia_k3s_runtime_problems,
)

# K3s's containerd 2 template (pkg/agent/templates/templates.go, ContainerdConfigTemplateV3) with
# two NVIDIA runtimes found and default-runtime set, as the k3s stand-in also renders it.
CONFIG_V3 = """
version = 3
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"

[plugins.'io.containerd.cri.v1.runtime'.containerd]
  default_runtime_name = "nvidia"

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'runc']
  runtime_type = "io.containerd.runc.v2"

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'runc'.options]
  SystemdCgroup = true

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'nvidia']
  runtime_type = "io.containerd.runc.v2"

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'nvidia'.options]
  BinaryName = "/usr/bin/nvidia-container-runtime"
  SystemdCgroup = true

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'nvidia-cdi']
  runtime_type = "io.containerd.runc.v2"

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'nvidia-cdi'.options]
  BinaryName = "/usr/bin/nvidia-container-runtime.cdi"
  SystemdCgroup = true
"""

# The containerd 1.7 form (config version 2) of K3s releases before containerd 2.
CONFIG_V2 = """
version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."nvidia"]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."nvidia".options]
  BinaryName = "/usr/bin/nvidia-container-runtime"
  SystemdCgroup = true
"""


def test_containerd_2_config():
    assert k3s_containerd_runtimes(CONFIG_V3) == {
        "runtimes": {"runc": {"binary": None, "runtime_type": "io.containerd.runc.v2"},
                     "nvidia": {"binary": "/usr/bin/nvidia-container-runtime", "runtime_type": "io.containerd.runc.v2"},
                     "nvidia-cdi": {"binary": "/usr/bin/nvidia-container-runtime.cdi", "runtime_type": "io.containerd.runc.v2"}},
        "default_runtime": "nvidia", "error": None}


def test_containerd_1_7_config():
    rendered = k3s_containerd_runtimes(CONFIG_V2)
    assert rendered["runtimes"]["nvidia"]["binary"] == "/usr/bin/nvidia-container-runtime"
    assert rendered["default_runtime"] is None


@pytest.mark.parametrize("text", ["", None, "version = 3\n"])
def test_no_config_yet_has_no_runtime(text):
    assert k3s_containerd_runtimes(text) == {"runtimes": {}, "default_runtime": None, "error": None}


def test_a_half_written_config_is_an_error_not_an_exception():
    rendered = k3s_containerd_runtimes("[plugins.'io.containerd")
    assert rendered["runtimes"] == {} and rendered["error"]


def test_the_runtime_problems_filter_reads_what_the_config_filter_read():
    facts = {"driver": {}, "container_toolkit": {"runtimes": {"nvidia": "/usr/bin/nvidia-container-runtime"}}}
    assert nvidia_k3s_runtime_problems(k3s_containerd_runtimes(CONFIG_V3), facts, {"default_runtime": True}) == []


def test_plans_want_the_nvidia_fact():
    with pytest.raises(AnsibleFilterError, match="expected the nvidia fact"):
        nvidia_driver_plan({"gpus": []}, {})


def test_a_wiring_error_is_a_filter_error():
    facts = {"driver": {}, "gpu_count": 1}
    with pytest.raises(AnsibleFilterError, match="no open driver packages are defined for source distribution"):
        nvidia_driver_plan(facts, {"mode": "install", "source": "distribution", "branch": "580", "packages": {}})


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"nvidia_driver_plan", "nvidia_container_toolkit_plan", "nvidia_node_problems",
                                             "nvidia_k3s_runtime_problems", "k3s_containerd_runtimes"}
