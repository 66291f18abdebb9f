"""The k3s stand-in's own logic: the configuration merge, the containerd contract with the GPU roles,
the kubelet's label rule and the cluster bookkeeping. (Its behaviour as a service is exercised by the
Molecule scenarios.)"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
from pathlib import Path

import pytest

STANDIN = Path(__file__).resolve().parents[2] / "standins" / "k3s"


@pytest.fixture(scope="module")
def k3s():
    loader = importlib.machinery.SourceFileLoader("k3s_standin", str(STANDIN))
    spec = importlib.util.spec_from_loader("k3s_standin", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_it_is_executable_and_says_what_it_is() -> None:
    assert os.access(STANDIN, os.X_OK)
    head = STANDIN.read_text()[:400]
    assert head.startswith("#!/usr/bin/env python3") and "STAND-IN for the K3s executable" in head


def test_config_files_in_the_yaml_forms_k3s_configs_use(k3s) -> None:
    text = ('# comment\ntoken-file: "/etc/rancher/k3s/token"\ncluster-init: true\nhttps-listen-port: 6443\n'
            "disable: [traefik, 'servicelb']\nnode-label:\n  - \"gpu-type=H100\"\n  - plain=value # trailing comment\n"
            'quoted: "has # hash"\n')
    assert k3s.parse_config(text) == {"token-file": "/etc/rancher/k3s/token", "cluster-init": True, "https-listen-port": 6443,
                                      "disable": ["traefik", "servicelb"], "node-label": ["gpu-type=H100", "plain=value"],
                                      "quoted": "has # hash"}


def test_later_files_replace_keys_and_plus_appends(k3s) -> None:
    merged = k3s.merge_settings([
        {"node-label": ["gpu-type=A10"], "default-runtime": "runc", "kubelet-arg": "a=1"},
        {"node-label+": ["nvidia.com/gpu.present=true"], "default-runtime": "nvidia"},
        {"kubelet-arg+": "b=2"},
    ])
    assert merged == {"node-label": ["gpu-type=A10", "nvidia.com/gpu.present=true"], "default-runtime": "nvidia", "kubelet-arg": ["a=1", "b=2"]}
    assert k3s.merge_settings([{"node-label": ["a=1"]}, {"node-label": ["b=2"]}]) == {"node-label": ["b=2"]}


def test_flags_become_settings(k3s) -> None:
    assert k3s.parse_flags(["--server", "https://s:6443", "--node-label=a=b", "--node-label", "c=d", "--debug"]) == {
        "server": "https://s:6443", "node-label": ["a=b", "c=d"], "debug": True}


@pytest.fixture
def runtimes(tmp_path, monkeypatch):
    """A PATH with nvidia-container-runtime and the .cdi variant, as the toolkit packages install them."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("nvidia-container-runtime", "nvidia-container-runtime.cdi"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def test_containerd_config_names_each_runtime_found(k3s, tmp_path, runtimes) -> None:
    k3s.render_containerd_config({}, str(tmp_path / "data"))
    config = (tmp_path / "data" / "agent" / "etc" / "containerd" / "config.toml").read_text()
    assert "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'nvidia']" in config
    assert 'BinaryName = "%s/nvidia-container-runtime"' % runtimes in config
    assert "runtimes.'nvidia-cdi'" in config and "runtimes.'nvidia-experimental'" not in config
    assert "default_runtime_name" not in config and "SystemdCgroup = true" in config


def test_default_runtime_is_rendered_or_refused(k3s, tmp_path, runtimes) -> None:
    k3s.render_containerd_config({"default-runtime": "nvidia"}, str(tmp_path / "data"))
    assert 'default_runtime_name = "nvidia"' in (tmp_path / "data" / "agent" / "etc" / "containerd" / "config.toml").read_text()
    with pytest.raises(k3s.Fatal, match="default runtime nvidia-experimental was not found"):
        k3s.render_containerd_config({"default-runtime": "nvidia-experimental"}, str(tmp_path / "data"))


def test_the_toolkit_directory_is_searched_first(k3s, monkeypatch, runtimes) -> None:
    monkeypatch.setattr(k3s, "RUNTIME_SEARCH_FIRST", (str(runtimes),))
    monkeypatch.setenv("PATH", "/nonexistent")
    assert k3s.find_runtime("nvidia-container-runtime") == str(runtimes / "nvidia-container-runtime")


def test_labels_the_kubelet_may_not_set_stop_the_start(k3s) -> None:
    assert k3s.node_labels({"node-label": ["gpu-type=H100", "topology.kubernetes.io/region=us-east-1"]}) == {
        "gpu-type": "H100", "topology.kubernetes.io/region": "us-east-1"}
    with pytest.raises(k3s.Fatal, match="node-role.kubernetes.io/worker"):
        k3s.node_labels({"node-label": ["node-role.kubernetes.io/worker=true"]})


def test_token_forms(k3s) -> None:
    assert k3s.token_parts("K10%s::node:pw" % ("c" * 64)) == ("c" * 64, "node", "pw")
    assert k3s.token_parts("just-a-password") == (None, None, "just-a-password")


def report(k3s, name="a1", boot="b1", password="p1", **extra):
    node = {"name": name, "role": "agent", "labels": {"x": "1"}, "taints": [], "addresses": [], "version": "v1.35.6+k3s1",
            "etcd": False, "boot": boot, "password": password, "url": None}
    node.update(extra)
    return node


@pytest.fixture
def cluster(k3s, tmp_path):
    state = {"server_password": "server-pw", "agent_password": "agent-pw", "servers": {}, "nodes": {}, "passwords": {}, "deleted": {},
             "self": "s1"}
    return k3s.Cluster(str(tmp_path / "state.json"), state)


def test_tokens_authorise_their_users(cluster) -> None:
    assert cluster.authorised("server", "server-pw") and not cluster.authorised("server", "agent-pw")
    assert cluster.authorised("node", "agent-pw") and cluster.authorised("node", "server-pw") and not cluster.authorised("node", "x")


def test_node_passwords_labels_and_deletion(k3s, cluster) -> None:
    assert cluster.report(report(k3s))[0] == 200
    assert cluster.report(report(k3s, password="other"))[0] == 403
    cluster.report(report(k3s, labels={"y": "2"}))
    assert cluster.node_list()["items"][0]["metadata"]["labels"]["x"] == "1"
    assert cluster.node_list()["items"][0]["metadata"]["labels"]["y"] == "2"
    assert cluster.cordon("a1", True) and cluster.node_object("a1")["spec"]["unschedulable"] is True
    assert cluster.delete("a1") and not cluster.delete("a1")
    assert cluster.report(report(k3s))[0] == 410
    assert cluster.report(report(k3s, boot="b2", password="new"))[0] == 200


def test_servers_are_etcd_voters_while_they_report(k3s, cluster, monkeypatch) -> None:
    cluster.report(report(k3s, name="s2", role="server", etcd=True, url="https://10.0.0.2:6443"))
    node = cluster.node_object("s2")
    assert {"type": "EtcdIsVoter", "status": "True", "reason": "MemberIsVoter"} in node["status"]["conditions"]
    assert node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == "true"
    assert cluster.state["servers"] == {"s2": "https://10.0.0.2:6443"}
    later = k3s.time.monotonic() + k3s.NOT_READY_AFTER_SECONDS + 1
    monkeypatch.setattr(k3s.time, "monotonic", lambda: later)
    assert cluster.node_object("s2")["status"]["conditions"][0]["status"] == "Unknown"


def test_version_output(k3s, capsys) -> None:
    assert k3s.main(["k3s", "--version"]) == 0
    assert capsys.readouterr().out == "k3s version %s (%s)\ngo version %s\n" % (k3s.VERSION, k3s.COMMIT, k3s.GO_VERSION)
