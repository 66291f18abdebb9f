# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""K3s versions and node health, for the k3s role and the upgrade and verification playbooks."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.filter.k3s_config import parse_config_text

# v1.35.6+k3s1, v1.36.0-rc1+k3s1: Kubernetes version, optional pre-release, K3s revision.
_VERSION = re.compile(r"^v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)(?:-(?P<pre>rc\d+))?\+k3s(?P<revision>\d+)$")


def k3s_version_key(version: str) -> tuple:
    """A sortable key; fails with a clear message on a malformed version."""
    match = _VERSION.match(str(version or "").strip())
    if not match:
        raise AnsibleFilterError('"%s" is not a K3s release version such as v1.35.6+k3s1 (see https://github.com/k3s-io/k3s/releases).'
                                 % version)
    pre = match.group("pre")
    # A release candidate sorts before its release.
    return (int(match.group("major")), int(match.group("minor")), int(match.group("patch")),
            0 if pre else 1, int(pre[2:]) if pre else 0, int(match.group("revision")))


def k3s_version_problems(target: str, installed: Mapping, allow_change: bool = False, force: bool = False) -> list:
    """Why nodes may not move from their installed version (``installed``: {host: version or ""}) to ``target``.

    Moving at all needs ``allow_change`` (playbooks/upgrade.yml drains first); a downgrade or a skipped
    minor version (Kubernetes supports one minor at a time) needs ``force`` as well.
    """
    try:
        wanted = k3s_version_key(target)
    except AnsibleFilterError as error:
        return ["k3s_version: %s" % error]
    problems = []
    for host, version in sorted((installed or {}).items()):
        if not version or version == target:
            continue
        try:
            current = k3s_version_key(version)
        except AnsibleFilterError:
            problems.append("%s runs K3s %s, which is not a version this collection can compare; set k3s_version_force=true to replace it."
                            % (host, version))
            continue
        if not allow_change:
            problems.append("%s runs K3s %s and k3s_version asks for %s: change versions with playbooks/upgrade.yml, which drains each "
                            "node first (or set k3s_allow_version_change=true)." % (host, version, target))
        elif wanted < current and not force:
            problems.append("%s runs K3s %s, newer than k3s_version %s: downgrades are refused (etcd and the API may not read newer data); "
                            "set k3s_version_force=true if you really mean it." % (host, version, target))
        elif (wanted[0] != current[0] or wanted[1] > current[1] + 1) and not force:
            problems.append("%s runs K3s %s: going to %s skips a minor version, which Kubernetes does not support; upgrade to each minor "
                            "in turn (or set k3s_version_force=true)." % (host, version, target))
    return problems


def k3s_nodes_report(node_list: Mapping, expected: list, version: str = "", voters: list | None = None) -> dict:
    """Health of the ``expected`` nodes in ``kubectl get nodes -o json`` output.

    ``version``: the kubelet version every node must run ("" to skip); ``voters``: nodes that must be
    healthy etcd voters (K3s's EtcdIsVoter node condition). ``ok`` is true when nothing is wrong.
    """
    nodes = {(item.get("metadata") or {}).get("name"): item for item in (node_list or {}).get("items") or []}
    report = {"missing": [], "not_ready": [], "wrong_version": {}, "not_voter": [], "unschedulable": []}
    for name in expected:
        node = nodes.get(name)
        if node is None:
            report["missing"].append(name)
            continue
        if node_condition(node, "Ready") != "True":
            report["not_ready"].append(name)
        running = ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")
        if version and running != version:
            report["wrong_version"][name] = running
        if name in (voters or []) and node_condition(node, "EtcdIsVoter") != "True":
            report["not_voter"].append(name)
        if (node.get("spec") or {}).get("unschedulable"):
            report["unschedulable"].append(name)
    report["ok"] = not (report["missing"] or report["not_ready"] or report["wrong_version"] or report["not_voter"])
    report["summary"] = _summary(report, version)
    return report


def k3s_node_problems(node: Mapping, files: Mapping, exposures: list, version: str, private: list) -> list:
    """What is wrong with one node's K3s installation, as sentences (the verification playbook's node check).

    ``node``: k3s_node_info's result; ``files``: {path: stat result} of the files K3s and the role keep;
    ``private``: those that must be 0600 and owned by root (the others must exist and be root's).
    """
    problems = []
    if node.get("version") != version:
        problems.append("runs K3s %s, not %s" % (node.get("version") or "(not installed)", version))
    service = node.get("service") or {}
    if not service.get("active"):
        problems.append("%s is %s" % (service.get("name", "the K3s service"), service.get("active_state") or "missing"))
    elif not service.get("enabled"):
        problems.append("%s does not start at boot" % service.get("name"))
    for path, info in sorted(files.items()):
        if not info.get("exists"):
            problems.append("%s is missing" % path)
        elif info.get("pw_name") != "root":
            problems.append("%s is owned by %s, not root" % (path, info.get("pw_name")))
        elif path in private and info.get("mode") != "0600":
            problems.append("%s has mode %s, not 0600" % (path, info.get("mode")))
    config = parse_config_text(node.get("config_text"))
    for key in ("token", "agent-token"):
        if key in config:
            problems.append("config.yaml holds %s itself instead of naming a file" % key)
    if "token-file" not in config:
        problems.append("config.yaml names no token-file")
    problems.extend("a token can be read from the %s %s" % (entry.get("kind"), entry.get("location")) for entry in exposures or [])
    return problems


def k3s_releases_to_prune(paths: list, current: str, keep: int) -> list:
    """Installed release binaries (paths ending in k3s-<version>) beyond the ``keep`` newest, never the current one."""
    releases = []
    for path in paths or []:
        version = str(path).rsplit("/", 1)[-1][len("k3s-"):]
        try:
            releases.append((k3s_version_key(version), str(path), version))
        except AnsibleFilterError:
            continue
    releases.sort(reverse=True)
    kept = {path for _key, path, _version in releases[:max(int(keep), 1)]}
    return [path for _key, path, version in releases if path not in kept and version != current]


def node_condition(node: Mapping, kind: str) -> str:
    """The status ("True", "False", "Unknown") of a condition of a Node object."""
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return "Unknown"


def _summary(report: dict, version: str) -> str:
    parts = []
    if report["missing"]:
        parts.append("not in the cluster: %s" % ", ".join(report["missing"]))
    if report["not_ready"]:
        parts.append("not Ready: %s" % ", ".join(report["not_ready"]))
    if report["wrong_version"]:
        parts.append("not at %s: %s" % (version, ", ".join("%s (%s)" % item for item in sorted(report["wrong_version"].items()))))
    if report["not_voter"]:
        parts.append("not a healthy etcd voter: %s" % ", ".join(report["not_voter"]))
    return "; ".join(parts) if parts else "all nodes Ready"


class FilterModule:
    """K3s version and node health filters."""

    def filters(self) -> dict:
        return {
            "k3s_version_problems": k3s_version_problems,
            "k3s_nodes_report": k3s_nodes_report,
            "k3s_releases_to_prune": k3s_releases_to_prune,
            "k3s_node_problems": k3s_node_problems,
        }
