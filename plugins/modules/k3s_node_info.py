#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k3s_node_info
short_description: What a node's K3s installation looks like
version_added: 1.0.0
description:
  - Reports, in one call, what the k3s role needs to know about a node before it changes anything - the installed
    K3s version, whether the K3s service exists and runs, whether the node has already joined a cluster, and its
    current K3s configuration file.
  - It reads only; no token or other secret is returned.
author:
  - sophia.lambda_k3s contributors (@sophia-ai)
extends_documentation_fragment:
  - sophia.lambda_k3s.node_reader
options:
  role:
    description:
      - V(server) or V(agent); selects the systemd unit (C(k3s) or C(k3s-agent)) and what "joined" means.
    type: str
    required: true
    choices: [server, agent]
  binary:
    description: The K3s executable (normally a link to a versioned file).
    type: path
    default: /usr/local/bin/k3s
  releases_dir:
    description: Directory holding the versioned K3s executables (C(k3s-<version>)).
    type: path
    default: /usr/local/lib/k3s
  data_dir:
    description: K3s's data directory.
    type: path
    default: /var/lib/rancher/k3s
  config_file:
    description: K3s's configuration file.
    type: path
    default: /etc/rancher/k3s/config.yaml
notes:
  - A server has joined (or initialised) a cluster once K3s has written C(<data_dir>/server/token); an agent once it has
    written C(<data_dir>/agent/client-ca.crt), the cluster CA it fetched when it joined.
"""

EXAMPLES = r"""
- name: Look at the node's K3s installation
  sophia.lambda_k3s.k3s_node_info:
    role: agent
  register: k3s_node

- name: Show the installed version
  ansible.builtin.debug:
    msg: "{{ k3s_node.version or 'K3s is not installed' }}"
"""

RETURN = r"""
version:
  description: The installed K3s version, as C(k3s --version) prints it; empty when K3s is not installed.
  returned: always
  type: str
  sample: v1.35.6+k3s1
binary_target:
  description: The file the K3s executable links to; empty when it is not a link or absent.
  returned: always
  type: str
  sample: /usr/local/lib/k3s/k3s-v1.35.6+k3s1
releases:
  description: Versioned K3s executables present in O(releases_dir).
  returned: always
  type: list
  elements: str
service:
  description: The node's K3s systemd unit.
  returned: always
  type: dict
  contains:
    name:
      description: C(k3s.service) or C(k3s-agent.service).
      type: str
    exists:
      description: Whether systemd knows the unit.
      type: bool
    active:
      description: Whether the unit is active (for K3s, started and reported ready).
      type: bool
    active_state:
      description: systemd's ActiveState, for example V(active), V(activating) or V(failed).
      type: str
    sub_state:
      description: systemd's SubState, for example V(running) or V(auto-restart).
      type: str
    enabled:
      description: Whether the unit starts at boot.
      type: bool
    invocation_id:
      description: systemd's ID of the unit's current run; it changes at every start, so a restart can be told apart.
      type: str
joined:
  description: Whether the node has already joined (or, for the first server, initialised) a cluster.
  returned: always
  type: bool
tools:
  description:
    - For each of C(kubectl), C(crictl) and C(ctr) in the executable's directory - V(k3s) when it is a link to the K3s
      executable, V(absent) when there is no such file, V(other) when it is something else (left alone).
  returned: always
  type: dict
  sample: {kubectl: k3s, crictl: absent, ctr: other}
config_text:
  description: The content of O(config_file); empty when it does not exist. It never holds the token, which lives in a separate file.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

SERVICES = {"server": "k3s.service", "agent": "k3s-agent.service"}
TOOLS = ("kubectl", "crictl", "ctr")
JOIN_MARKERS = {"server": ("server", "token"), "agent": ("agent", "client-ca.crt")}


def installed_version(module: AnsibleModule, binary: str) -> str:
    if not os.path.exists(binary):
        return ""
    rc, out, _err = module.run_command([binary, "--version"])
    if rc != 0:
        return ""
    first = out.strip().splitlines()[0] if out.strip() else ""
    words = first.split()
    return words[2] if len(words) >= 3 and words[0] == "k3s" and words[1] == "version" else ""


def service_state(module: AnsibleModule, name: str) -> dict:
    systemctl = module.get_bin_path("systemctl", required=True)
    rc, out, err = module.run_command([systemctl, "show", name, "--property=LoadState,ActiveState,SubState,UnitFileState,InvocationID"])
    if rc != 0:
        module.fail_json(msg="systemctl show %s failed: %s" % (name, err.strip() or out.strip()))
    properties = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return {
        "name": name,
        "exists": properties.get("LoadState") == "loaded",
        "active": properties.get("ActiveState") == "active",
        "active_state": properties.get("ActiveState", ""),
        "sub_state": properties.get("SubState", ""),
        "enabled": properties.get("UnitFileState") == "enabled",
        "invocation_id": properties.get("InvocationID", ""),
    }


def read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def releases(directory: str) -> list:
    try:
        return sorted(os.path.join(directory, name) for name in os.listdir(directory) if name.startswith("k3s-v"))
    except FileNotFoundError:
        return []


def tools(binary: str) -> dict:
    directory = os.path.dirname(binary)
    states = {}
    for name in TOOLS:
        path = os.path.join(directory, name)
        if not os.path.lexists(path):
            states[name] = "absent"
        elif os.path.islink(path) and os.readlink(path) in (os.path.basename(binary), binary):
            states[name] = "k3s"
        else:
            states[name] = "other"
    return states


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "role": {"type": "str", "required": True, "choices": ["server", "agent"]},
            "binary": {"type": "path", "default": "/usr/local/bin/k3s"},
            "releases_dir": {"type": "path", "default": "/usr/local/lib/k3s"},
            "data_dir": {"type": "path", "default": "/var/lib/rancher/k3s"},
            "config_file": {"type": "path", "default": "/etc/rancher/k3s/config.yaml"},
        },
        supports_check_mode=True,
    )
    params = module.params
    binary = params["binary"]
    module.exit_json(
        changed=False,
        version=installed_version(module, binary),
        binary_target=os.path.realpath(binary) if os.path.islink(binary) else "",
        releases=releases(params["releases_dir"]),
        service=service_state(module, SERVICES[params["role"]]),
        tools=tools(binary),
        joined=os.path.exists(os.path.join(params["data_dir"], *JOIN_MARKERS[params["role"]])),
        config_text=read_text(params["config_file"]),
    )


if __name__ == "__main__":
    main()
