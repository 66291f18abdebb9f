"""Ownership checks, networking derivation, rendering of config.yaml and the kubeconfig rewrite."""

from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.filter.k3s_config import (
    FilterModule,
    k3s_config_problems,
    k3s_config_yaml,
    k3s_dropin_problems,
    k3s_interface_of,
    k3s_kubeconfig,
    k3s_label_list,
    k3s_network_problems,
    k3s_network_settings,
    k3s_node_config,
    k3s_node_name_problems,
)

FACTS = {
    "interfaces": ["lo", "eth0", "eth1", "flannel.1"],
    "eth0": {"device": "eth0", "ipv4": {"address": "198.51.100.7"}},
    "eth1": {"device": "eth1", "ipv4": {"address": "10.0.2.5"}, "ipv4_secondaries": [{"address": "10.0.3.5"}]},
    "flannel_1": {"device": "flannel.1", "ipv4": {"address": "10.42.0.0"}},
    "lo": {"device": "lo", "ipv4": {"address": "127.0.0.1"}},
}


@pytest.mark.parametrize("key", ["token", "token-file", "agent-token", "server", "cluster-init", "node-ip", "node-external-ip",
                                 "flannel-iface", "tls-san", "node-label", "node-label+", "node-taint", "node-name", "data-dir",
                                 "write-kubeconfig-mode"])
def test_owned_keys_are_refused_with_what_to_set_instead(key) -> None:
    problems = k3s_config_problems({key: "x"}, "k3s_agent_config")
    assert len(problems) == 1
    assert problems[0].startswith("k3s_agent_config sets %s, which the collection manages: set " % key)


def test_the_message_names_the_variable_to_use() -> None:
    assert "set k3s_token (from a vault or any lookup) instead" in k3s_config_problems({"token": "secret"}, "k3s_server_config")[0]
    assert "secret" not in k3s_config_problems({"token": "secret"}, "k3s_server_config")[0]


def test_user_settings_are_accepted() -> None:
    assert k3s_config_problems({"disable": ["traefik"], "kubelet-arg": ["max-pods=200"], "selinux": True}, "k3s_server_config") == []
    assert k3s_config_problems(None, "k3s_server_config") == []


def test_settings_of_the_wrong_shape_are_refused() -> None:
    problems = k3s_config_problems({"kube-apiserver-arg": {"a": 1}, "disable": [["nested"]]}, "k3s_server_config")
    assert len(problems) == 2
    assert k3s_config_problems(["not", "a", "dict"], "k3s_server_config")[0].startswith("k3s_server_config must be a dictionary")


def test_dropins_must_be_numbered_10_to_49_and_follow_the_same_rules() -> None:
    assert k3s_dropin_problems({"20-gpu": {"kubelet-arg": ["a=b"]}}, "k3s_config_dropins") == []
    problems = k3s_dropin_problems({"60-nvidia": {}, "gpu": {}, "30-x": {"token": "t"}}, "k3s_config_dropins")
    assert len(problems) == 3
    assert any("60-nvidia" in problem and "50-89 belong to other roles" in problem for problem in problems)
    assert any("k3s_config_dropins[30-x] sets token" in problem for problem in problems)


@pytest.mark.parametrize(("name", "valid"), [("demo-gh200-1", True), ("a.b", True), ("Demo_1", False), ("-x", False), ("", False)])
def test_node_names(name, valid) -> None:
    assert (k3s_node_name_problems(name) == []) is valid


def test_the_interface_carrying_an_address_is_found() -> None:
    assert k3s_interface_of(FACTS, "10.0.2.5") == "eth1"
    assert k3s_interface_of(FACTS, "10.0.3.5") == "eth1"
    assert k3s_interface_of(FACTS, "10.42.0.0") == "flannel.1"
    assert k3s_interface_of(FACTS, "192.0.2.1") is None


def test_a_server_on_lambda_uses_the_private_network() -> None:
    settings = k3s_network_settings(FACTS, "server", "10.0.2.5", "198.51.100.7", tls_san=["k3s.example.com", "10.0.2.5"])
    assert settings == {"node-ip": "10.0.2.5", "flannel-iface": "eth1", "node-external-ip": "198.51.100.7",
                        "tls-san": ["198.51.100.7", "10.0.2.5", "k3s.example.com"]}


def test_an_agent_gets_no_tls_san_and_overrides_win() -> None:
    settings = k3s_network_settings(FACTS, "agent", "10.0.2.5", "", flannel_iface="eth9")
    assert settings == {"node-ip": "10.0.2.5", "flannel-iface": "eth9"}


def test_network_problems_name_the_address_and_the_fix() -> None:
    assert "No network interface of this host carries the private address 192.0.2.9" in k3s_network_problems(FACTS, "192.0.2.9")[0]
    assert "no private address" in k3s_network_problems(FACTS, "")[0]
    assert 'k3s_node_external_ip "public" is not an IP address.' in k3s_network_problems(FACTS, "10.0.2.5", "public")
    assert k3s_network_problems(FACTS, "10.0.2.5", "198.51.100.7") == []
    with pytest.raises(AnsibleFilterError, match="192.0.2.9"):
        k3s_network_settings(FACTS, "agent", "192.0.2.9")


def test_owned_settings_win_and_empty_ones_are_left_out() -> None:
    config = k3s_node_config({"token-file": "/etc/rancher/k3s/token", "data-dir": "", "node-taint": []},
                             {"disable": ["traefik"], "zz": 1}, {"disable": ["servicelb"]})
    assert config == {"disable": ["servicelb"], "token-file": "/etc/rancher/k3s/token", "zz": 1}
    assert list(config) == sorted(config)


def test_rendered_yaml_reads_back_as_the_same_values() -> None:
    config = {"cluster-init": True, "write-kubeconfig-mode": "0600", "https-listen-port": 6443, "flag": "on",
              "node-label": ["gpu-type=H100", "a=b: c"], "long": "x" * 300, "quote": 'say "hi" # not a comment'}
    text = k3s_config_yaml(config, "Managed by Ansible.\nSecond line.")
    assert text.startswith("# Managed by Ansible.\n# Second line.\n")
    assert yaml.safe_load(text) == config
    # One line per setting and per list item: nothing wrapped.
    assert len(text.splitlines()) == 2 + (len(config) - 1) + 1 + 2


def test_label_lists() -> None:
    assert k3s_label_list({"b": "2", "a": "1"}) == ["a=1", "b=2"]


def test_the_kubeconfig_points_at_the_chosen_endpoint_under_the_cluster_name() -> None:
    admin = {"apiVersion": "v1", "kind": "Config", "current-context": "default",
             "clusters": [{"name": "default", "cluster": {"server": "https://127.0.0.1:6443", "certificate-authority-data": "Q0E="}}],
             "users": [{"name": "default", "user": {"client-certificate-data": "Y2VydA==", "client-key-data": "a2V5"}}],
             "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}]}
    result = k3s_kubeconfig(admin, "https://198.51.100.7:6443", "demo")
    assert result["clusters"] == [{"name": "demo", "cluster": {"server": "https://198.51.100.7:6443", "certificate-authority-data": "Q0E="}}]
    assert result["users"][0] == {"name": "demo", "user": {"client-certificate-data": "Y2VydA==", "client-key-data": "a2V5"}}
    assert result["contexts"] == [{"name": "demo", "context": {"cluster": "demo", "user": "demo"}}]
    assert result["current-context"] == "demo"
    assert admin["clusters"][0]["name"] == "default"
    with pytest.raises(AnsibleFilterError, match="no cluster"):
        k3s_kubeconfig({}, "https://x:6443", "demo")


def test_every_filter_is_registered() -> None:
    assert set(FilterModule().filters()) == {
        "k3s_config_problems", "k3s_dropin_problems", "k3s_node_name_problems", "k3s_network_problems",
        "k3s_network_settings", "k3s_node_config", "k3s_label_list", "k3s_config_yaml", "k3s_kubeconfig"}
