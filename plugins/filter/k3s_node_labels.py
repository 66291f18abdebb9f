# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes node labels of a Lambda instance, computed once for the whole collection.

The K3s role writes the labels a kubelet may set on itself into the node's K3s configuration (they
are applied when the node registers); the cluster plays apply the whole set through the API. Both
call this filter, so a label is defined in one place. Documentation: k3s_node_labels.yml.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.instance_types import gpu_facts

DEFAULT_PREFIX = "lambda-k3s.sophia.ai"
# The container toolkit role adds this label through its own K3s drop-in once the runtime exists,
# so the device plugin never lands on a node that cannot run it.
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"

# The NodeRestriction admission plugin lets a kubelet set labels under kubernetes.io and k8s.io only
# from this list (Kubernetes docs, "Using Node Authorization" / kubelet --node-labels).
_KUBELET_ALLOWED_LABELS = frozenset((
    "kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os",
    "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
    "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
    "topology.kubernetes.io/region", "topology.kubernetes.io/zone",
))
_KUBELET_ALLOWED_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
_RESTRICTED_NAMESPACES = ("kubernetes.io", "k8s.io")

_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_MAX_VALUE_LENGTH = 63
_MAX_PREFIX_LENGTH = 253


def k3s_node_labels(host: Mapping, role: str | None = None, prefix: str = DEFAULT_PREFIX, registration: bool = False,
                    extra: Mapping | None = None) -> dict:
    """Labels for one node from its Lambda host variables, plus ``extra`` (a user's own labels).

    ``registration=True`` keeps only what the node may set on itself when it joins: no label in the
    kubernetes.io / k8s.io namespaces outside NodeRestriction's list, and not the GPU-present label
    the container toolkit role owns.
    """
    if not isinstance(host, Mapping):
        raise AnsibleFilterError("k3s_node_labels expects a host's variables (for example hostvars[inventory_hostname]), got %s"
                                 % type(host).__name__)
    _check_prefix(prefix)
    role = role or host.get("lambda_k3s_role") or "agent"
    if role not in ("server", "agent"):
        raise AnsibleFilterError('k3s_node_labels: role must be "server" or "agent", got "%s"' % role)

    labels = {"node-role": "control-plane" if role == "server" else "worker"}
    if role == "agent":
        labels["node-role.kubernetes.io/worker"] = "true"
    labels.update(_lambda_labels(host, prefix))
    labels.update({str(name): _label_value_text(value) for name, value in (extra or {}).items()})
    for name, value in labels.items():
        _check_label(name, value)
    if registration:
        labels = {name: value for name, value in labels.items() if kubelet_may_set(name) and name != GPU_PRESENT_LABEL}
    return dict(sorted(labels.items()))


def kubelet_may_set(name: str) -> bool:
    """Whether NodeRestriction lets a kubelet set this label on its own node."""
    if name in _KUBELET_ALLOWED_LABELS:
        return True
    namespace = name.split("/", 1)[0] if "/" in name else ""
    if any(namespace == allowed or namespace.endswith("." + allowed) for allowed in _KUBELET_ALLOWED_NAMESPACES):
        return True
    return not any(namespace == restricted or namespace.endswith("." + restricted) for restricted in _RESTRICTED_NAMESPACES)


def _lambda_labels(host: Mapping, prefix: str) -> dict:
    instance_type = host.get("lambda_instance_type")
    from_type = gpu_facts({"name": instance_type}) if instance_type else {}
    model = host.get("lambda_gpu_model") or from_type.get("gpu_model")
    count = host.get("lambda_gpu_count")
    if count is None:
        count = from_type.get("gpu_count", 0)
    memory = host.get("lambda_gpu_memory_gib") or from_type.get("gpu_memory_gib")
    labels = {}
    region = host.get("lambda_region")
    if region:
        labels["topology.kubernetes.io/region"] = str(region)
        labels["%s/region" % prefix] = str(region)
    if instance_type:
        labels["%s/instance-type" % prefix] = str(instance_type)
    if model:
        labels["gpu-type"] = str(model).upper()
        labels[GPU_PRESENT_LABEL] = "true"
        labels["%s/gpu-count" % prefix] = str(int(count or 0))
        if memory:
            labels["%s/gpu-memory-gib" % prefix] = str(int(memory))
    elif instance_type:
        labels["%s/gpu-count" % prefix] = "0"
    return labels


def _label_value_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _check_prefix(prefix: str) -> None:
    if not prefix or len(prefix) > _MAX_PREFIX_LENGTH or not _DNS_SUBDOMAIN.match(prefix):
        raise AnsibleFilterError('k3s_node_labels: prefix "%s" must be a DNS subdomain such as %s.' % (prefix, DEFAULT_PREFIX))


def _check_label(name: str, value: str) -> None:
    label_prefix, _slash, label_name = name.rpartition("/")
    if (label_prefix and (len(label_prefix) > _MAX_PREFIX_LENGTH or not _DNS_SUBDOMAIN.match(label_prefix))) or not _LABEL_NAME.match(label_name):
        raise AnsibleFilterError('Node label name "%s" is not a valid Kubernetes label name (an optional DNS prefix and "/", then up to 63 '
                                 'letters, digits, "-", "_" or ".", starting and ending with a letter or digit).' % name)
    if len(value) > _MAX_VALUE_LENGTH or not _LABEL_VALUE.match(value):
        raise AnsibleFilterError('Node label %s has the value "%s", which is not a valid label value (up to 63 letters, digits, "-", "_" '
                                 'or ".", starting and ending with a letter or digit).' % (name, value))


class FilterModule:
    """The collection's node label set."""

    def filters(self) -> dict:
        return {"k3s_node_labels": k3s_node_labels}
