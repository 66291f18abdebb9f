# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What removing K3s from a node must clean up, for the k3s role's reset.

The choices follow K3s's own k3s-killall.sh (written by install.sh): its mounts, its network
namespaces and interfaces, and its iptables rules; nothing else on the machine is touched.
"""

from __future__ import annotations

import re

# Mount points K3s and its containers leave (k3s-killall.sh do_unmount_and_remove).
_MOUNT_PREFIXES = ("/run/k3s", "/var/lib/kubelet/pods", "/var/lib/kubelet/plugins", "/run/netns/cni-")
_INTERFACES = ("cni0", "flannel.1", "flannel-v6.1", "kube-ipvs0", "flannel-wg", "flannel-wg-v6")
# iptables-save lines K3s, kube-proxy, flannel and the CNI plugins own.
_K3S_RULE = re.compile(r"KUBE-|CNI-|flannel", re.IGNORECASE)
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def k3s_mounts_to_unmount(mounts: str, data_dir: str = "/var/lib/rancher/k3s") -> list:
    """Mount points under K3s's directories, from /proc/mounts, deepest first."""
    prefixes = _MOUNT_PREFIXES + (data_dir.rstrip("/"),)
    points = []
    for line in (mounts or "").splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        point = _OCTAL_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), fields[1])
        if any(_under(point, prefix) for prefix in prefixes):
            points.append(point)
    return sorted(set(points), key=lambda point: (-point.count("/"), point))


def _under(point: str, prefix: str) -> bool:
    if prefix.endswith("-"):
        return point.startswith(prefix)
    return point == prefix or point.startswith(prefix + "/")


def k3s_interfaces_to_delete(ip_link: str) -> list:
    """K3s's network interfaces present in ``ip -o link show`` output, and the pods' veths attached to cni0."""
    names = []
    for line in (ip_link or "").splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        name = fields[1].rstrip(":").split("@", 1)[0]
        if name in _INTERFACES or "master cni0" in line:
            names.append(name)
    return sorted(set(names), key=lambda name: (name == "cni0", name))


def k3s_netns_to_delete(ip_netns: str) -> list:
    """The CNI network namespaces (cni-...) in ``ip netns list`` output."""
    return sorted({line.split()[0] for line in (ip_netns or "").splitlines() if line.strip().startswith("cni-")})


def k3s_iptables_without_k3s(saved: str) -> str:
    """``iptables-save`` output without the chains and rules K3s's components created."""
    return "".join(line + "\n" for line in (saved or "").splitlines() if not _K3S_RULE.search(line))


class FilterModule:
    """Reset filters for the k3s role."""

    def filters(self) -> dict:
        return {
            "k3s_mounts_to_unmount": k3s_mounts_to_unmount,
            "k3s_interfaces_to_delete": k3s_interfaces_to_delete,
            "k3s_netns_to_delete": k3s_netns_to_delete,
            "k3s_iptables_without_k3s": k3s_iptables_without_k3s,
        }
