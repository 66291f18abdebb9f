"""k3s_node_info: one read of a node's K3s installation, secrets excluded."""

from __future__ import annotations

import os

import pytest
from ansible.module_utils import basic
from unit.plugins.modules.module_harness import run_module

from ansible_collections.sophia.lambda_k3s.plugins.modules import k3s_node_info

ACTIVE = "LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\nInvocationID=abc123\n"
MISSING = "LoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\nInvocationID=\n"


@pytest.fixture
def systemctl(monkeypatch: pytest.MonkeyPatch) -> dict:
    """systemctl show answers from this dict (unit name -> output); other commands run for real."""
    answers: dict = {}
    real_run = basic.AnsibleModule.run_command

    def run_command(self, args, **kwargs):
        if args[0] == "/usr/bin/systemctl":
            return 0, answers.get(args[2], MISSING), ""
        return real_run(self, args, **kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: "/usr/bin/" + name)
    return answers


@pytest.fixture
def node(tmp_path) -> dict:
    bin_dir, releases, data = tmp_path / "bin", tmp_path / "releases", tmp_path / "data"
    for directory in (bin_dir, releases, data / "server", data / "agent"):
        directory.mkdir(parents=True)
    release = releases / "k3s-v1.35.6+k3s1"
    release.write_text("#!/bin/sh\necho 'k3s version v1.35.6+k3s1 (5a7d1e11)'\necho 'go version go1.25.11'\n")
    release.chmod(0o755)
    (releases / "k3s-v1.34.9+k3s1").write_text("")
    (releases / "notes.txt").write_text("")
    os.symlink(release, bin_dir / "k3s")
    os.symlink("k3s", bin_dir / "kubectl")
    (bin_dir / "crictl").write_text("another crictl")
    config = tmp_path / "config.yaml"
    config.write_text('token-file: "/etc/rancher/k3s/token"\ncluster-init: true\n')
    return {"binary": str(bin_dir / "k3s"), "releases_dir": str(releases), "data_dir": str(data), "config_file": str(config),
            "release": str(release)}


def test_an_installed_running_server(node, systemctl) -> None:
    systemctl["k3s.service"] = ACTIVE
    open(os.path.join(node["data_dir"], "server", "token"), "w").close()
    result = run_module(k3s_node_info.main, {"role": "server", **{key: node[key] for key in ("binary", "releases_dir", "data_dir", "config_file")}})
    assert result["changed"] is False
    assert result["version"] == "v1.35.6+k3s1"
    assert result["binary_target"] == node["release"]
    assert [os.path.basename(path) for path in result["releases"]] == ["k3s-v1.34.9+k3s1", "k3s-v1.35.6+k3s1"]
    assert result["service"] == {"name": "k3s.service", "exists": True, "active": True, "active_state": "active", "sub_state": "running",
                                 "enabled": True, "invocation_id": "abc123"}
    assert result["joined"] is True
    assert result["tools"] == {"kubectl": "k3s", "crictl": "other", "ctr": "absent"}
    assert "cluster-init: true" in result["config_text"]


def test_a_fresh_agent(tmp_path, systemctl) -> None:
    result = run_module(k3s_node_info.main, {"role": "agent", "binary": str(tmp_path / "k3s"), "releases_dir": str(tmp_path / "none"),
                                             "data_dir": str(tmp_path / "data"), "config_file": str(tmp_path / "config.yaml")})
    assert result["version"] == "" and result["binary_target"] == "" and result["releases"] == []
    assert result["service"]["name"] == "k3s-agent.service" and not result["service"]["exists"] and not result["service"]["active"]
    assert result["joined"] is False and result["config_text"] == ""


def test_an_agent_has_joined_once_it_holds_the_cluster_ca(node, systemctl) -> None:
    open(os.path.join(node["data_dir"], "agent", "client-ca.crt"), "w").close()
    result = run_module(k3s_node_info.main, {"role": "agent", "data_dir": node["data_dir"], "binary": node["binary"]})
    assert result["joined"] is True


def test_a_broken_binary_reports_no_version(tmp_path, systemctl) -> None:
    binary = tmp_path / "k3s"
    binary.write_text("#!/bin/sh\nexit 3\n")
    binary.chmod(0o755)
    assert run_module(k3s_node_info.main, {"role": "server", "binary": str(binary)})["version"] == ""


def test_a_systemctl_failure_is_reported(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, args, **kwargs: (1, "", "Failed to connect to bus"))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: "/usr/bin/" + name)
    result = run_module(k3s_node_info.main, {"role": "server", "binary": str(tmp_path / "none")})
    assert result["failed"] and "Failed to connect to bus" in result["msg"]
