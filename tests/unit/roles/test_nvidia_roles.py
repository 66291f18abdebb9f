"""What the NVIDIA roles write, rendered from their own templates and variables for Ubuntu and Debian."""

from __future__ import annotations

import pytest
import yaml
from unit.roles.role_vars import ROLES, RoleVars, node_facts

TOOLKIT = "nvidia_container_toolkit"
DRIVER = "nvidia_driver"


@pytest.mark.parametrize(("arch", "directory"), [("x86_64", "amd64"), ("arm64", "arm64")])
def test_nvidia_container_toolkit_repository_for_the_nodes_architecture(arch, directory):
    sources = RoleVars(TOOLKIT, node_facts(arch=arch)).render("nvidia-container-toolkit.sources.j2")
    assert sources.splitlines()[1:] == [
        "Types: deb", "URIs: https://nvidia.github.io/libnvidia-container/stable/deb/" + directory, "Suites: /",
        "Signed-By: /etc/apt/keyrings/nvidia-container-toolkit.asc"]


@pytest.mark.parametrize(("distribution", "version", "arch", "uri"), [
    ("Ubuntu", "22.04", "x86_64", "https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2204/x86_64/"),
    ("Ubuntu", "24.04", "arm64", "https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2404/sbsa/"),
    ("Debian", "12", "x86_64", "https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/"),
])
def test_cuda_repository_per_release_and_architecture(distribution, version, arch, uri):
    role = RoleVars(DRIVER, node_facts(distribution, version, arch))
    assert "URIs: %s\n" % uri in role.render("nvidia-cuda.sources.j2")
    assert role["_nvidia_driver_cuda_key_url"] == uri + "3bf863cc.pub"


@pytest.mark.parametrize(("dropin", "expected"), [
    ({"node-label+": ["nvidia.com/gpu.present=true"]}, {"node-label+": ["nvidia.com/gpu.present=true"]}),
    ({"default-runtime": "nvidia", "node-label+": ["nvidia.com/gpu.present=true"]},
     {"default-runtime": "nvidia", "node-label+": ["nvidia.com/gpu.present=true"]}),
])
def test_the_k3s_drop_in(dropin, expected):
    text = RoleVars(TOOLKIT, node_facts()).render("k3s-nvidia.yaml.j2", _nvidia_container_toolkit_plan={"dropin": dropin})
    assert yaml.safe_load(text) == expected
    assert text.startswith("# Ansible managed")


def test_unattended_upgrades_leave_nvidia_and_cuda_alone():
    text = RoleVars(DRIVER, node_facts()).render("unattended-upgrades.conf.j2")
    assert "Unattended-Upgrade::Package-Blacklist {\n" in text
    for prefix in ("nvidia-", "libnvidia-", "libcuda", "cuda-", "firmware-nvidia-", "linux-modules-nvidia-"):
        assert '    "%s";\n' % prefix in text


@pytest.mark.parametrize(("distribution", "version", "user"), [("Ubuntu", "24.04", "nvidia-persistenced"), ("Debian", "12", "nvpd")])
def test_persistence_mode_is_turned_on_for_the_distributions_daemon_user(distribution, version, user):
    text = RoleVars(DRIVER, node_facts(distribution, version)).render("nvidia-persistenced.conf.j2")
    assert "ExecStart=\nExecStart=/usr/bin/nvidia-persistenced --user %s --persistence-mode --verbose\n" % user in text


def test_dev_char_links_follow_nvidias_documented_udev_rule():
    text = RoleVars(TOOLKIT, node_facts()).render("71-nvidia-dev-char.rules.j2")
    assert ('ACTION=="add", DEVPATH=="/bus/pci/drivers/nvidia", '
            'RUN+="/usr/bin/nvidia-ctk system create-dev-char-symlinks --create-all"') in text


@pytest.mark.parametrize(("inventory", "expected"), [({"lambda_gpu_count": 8}, True), ({"lambda_gpu_count": 0}, False), ({}, False)])
def test_a_gpu_is_expected_from_the_inventorys_gpu_count(inventory, expected):
    assert RoleVars(DRIVER, node_facts(), **inventory)["_nvidia_driver_settings"]["expect_gpu"] is expected
    assert RoleVars(TOOLKIT, node_facts(), **inventory)["_nvidia_container_toolkit_settings"]["expect_gpu"] is expected


@pytest.mark.parametrize("role", [DRIVER, TOOLKIT])
def test_documented_defaults_are_the_defaults(role):
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    spec = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(defaults) == set(spec)
    templated = {name for name, value in defaults.items() if isinstance(value, str) and "{{" in value}
    assert {name: defaults[name] for name in defaults if name not in templated} == {
        name: spec[name]["default"] for name in defaults if name not in templated}
