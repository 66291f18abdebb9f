"""Version rules for installs and upgrades, node health, and release pruning."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.filter.k3s_versions import (
    FilterModule,
    k3s_node_problems,
    k3s_nodes_report,
    k3s_releases_to_prune,
    k3s_version_key,
    k3s_version_problems,
)


def test_versions_sort_like_releases() -> None:
    ordered = ["v1.34.9+k3s1", "v1.35.0-rc1+k3s1", "v1.35.0+k3s1", "v1.35.0+k3s2", "v1.35.6+k3s1", "v1.36.0+k3s1"]
    assert sorted(reversed(ordered), key=k3s_version_key) == ordered


@pytest.mark.parametrize("bad", ["1.35.6", "v1.35", "v1.35.6", "v1.35.6+k3s", "latest", "", None])
def test_malformed_versions_are_refused_with_an_example(bad) -> None:
    with pytest.raises(AnsibleFilterError, match="is not a K3s release version such as v1.35.6\\+k3s1"):
        k3s_version_key(bad)


def test_fresh_and_current_nodes_raise_no_problem() -> None:
    assert k3s_version_problems("v1.35.6+k3s1", {"a": "", "b": "v1.35.6+k3s1"}) == []


def test_a_version_change_outside_an_upgrade_is_refused() -> None:
    problems = k3s_version_problems("v1.35.6+k3s1", {"a": "v1.35.5+k3s1"})
    assert problems == ["a runs K3s v1.35.5+k3s1 and k3s_version asks for v1.35.6+k3s1: change versions with playbooks/upgrade.yml, "
                        "which drains each node first (or set k3s_allow_version_change=true)."]


@pytest.mark.parametrize(("installed", "target", "refusal"), [
    ("v1.35.6+k3s1", "v1.35.5+k3s1", "downgrades are refused"),
    ("v1.35.6+k3s1", "v1.34.9+k3s1", "downgrades are refused"),
    ("v1.33.4+k3s1", "v1.35.6+k3s1", "skips a minor version"),
    ("v1.35.6+k3s1", "v2.0.0+k3s1", "skips a minor version"),
    ("v1.34.9+k3s1", "v1.35.6+k3s1", None),
    ("v1.35.5+k3s1", "v1.35.6+k3s1", None),
])
def test_upgrades_go_one_minor_at_a_time_and_never_down(installed, target, refusal) -> None:
    problems = k3s_version_problems(target, {"node": installed}, allow_change=True)
    assert (refusal in problems[0]) if refusal else problems == []
    assert k3s_version_problems(target, {"node": installed}, allow_change=True, force=True) == []


def test_a_malformed_target_or_installed_version_is_reported() -> None:
    assert k3s_version_problems("1.35", {})[0].startswith('k3s_version: "1.35" is not a K3s release version')
    assert "k3s_version_force=true" in k3s_version_problems("v1.35.6+k3s1", {"x": "v0.0.0+standin"}, allow_change=True)[0]


def node(name: str, ready="True", version="v1.35.6+k3s1", voter=None, unschedulable=False) -> dict:
    conditions = [{"type": "Ready", "status": ready}]
    if voter is not None:
        conditions.append({"type": "EtcdIsVoter", "status": voter})
    return {"metadata": {"name": name}, "spec": {"unschedulable": unschedulable},
            "status": {"conditions": conditions, "nodeInfo": {"kubeletVersion": version}}}


def test_a_healthy_cluster() -> None:
    report = k3s_nodes_report({"items": [node("s1", voter="True"), node("a1")]}, ["s1", "a1"], "v1.35.6+k3s1", ["s1"])
    assert report["ok"] and report["summary"] == "all nodes Ready"


def test_every_problem_is_named() -> None:
    items = [node("s1", voter="False"), node("a1", ready="Unknown"), node("a2", version="v1.34.9+k3s1", unschedulable=True)]
    report = k3s_nodes_report({"items": items}, ["s1", "a1", "a2", "a3"], "v1.35.6+k3s1", ["s1"])
    assert not report["ok"]
    assert report["missing"] == ["a3"] and report["not_ready"] == ["a1"] and report["not_voter"] == ["s1"]
    assert report["wrong_version"] == {"a2": "v1.34.9+k3s1"} and report["unschedulable"] == ["a2"]
    assert report["summary"] == ("not in the cluster: a3; not Ready: a1; not at v1.35.6+k3s1: a2 (v1.34.9+k3s1); "
                                 "not a healthy etcd voter: s1")


def test_releases_beyond_the_kept_number_are_pruned_never_the_current_one() -> None:
    paths = ["/usr/local/lib/k3s/k3s-v1.33.1+k3s1", "/usr/local/lib/k3s/k3s-v1.35.6+k3s1", "/usr/local/lib/k3s/k3s-v1.34.9+k3s1",
             "/usr/local/lib/k3s/k3s-vnot-a-version"]
    assert k3s_releases_to_prune(paths, "v1.35.6+k3s1", 2) == ["/usr/local/lib/k3s/k3s-v1.33.1+k3s1"]
    assert k3s_releases_to_prune(paths, "v1.34.9+k3s1", 1) == ["/usr/local/lib/k3s/k3s-v1.33.1+k3s1"]


def test_node_problems_cover_version_service_files_config_and_exposure() -> None:
    info = {"version": "v1.35.5+k3s1", "service": {"name": "k3s.service", "active": True, "enabled": False},
            "config_text": "token: abc\nnode-name: x\n"}
    files = {"/etc/rancher/k3s/token": {"exists": True, "pw_name": "root", "mode": "0644"},
             "/etc/rancher/k3s/config.yaml": {"exists": False},
             "/etc/systemd/system/k3s.service": {"exists": True, "pw_name": "ubuntu", "mode": "0644"}}
    problems = k3s_node_problems(info, files, [{"kind": "command line", "location": "/proc/1 (k3s)"}], "v1.35.6+k3s1",
                                 ["/etc/rancher/k3s/token", "/etc/rancher/k3s/config.yaml"])
    assert problems == [
        "runs K3s v1.35.5+k3s1, not v1.35.6+k3s1",
        "k3s.service does not start at boot",
        "/etc/rancher/k3s/config.yaml is missing",
        "/etc/rancher/k3s/token has mode 0644, not 0600",
        "/etc/systemd/system/k3s.service is owned by ubuntu, not root",
        "config.yaml holds token itself instead of naming a file",
        "config.yaml names no token-file",
        "a token can be read from the command line /proc/1 (k3s)",
    ]


def test_every_filter_is_registered() -> None:
    assert len(FilterModule().filters()) == 4
