#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k3s_token_exposure_info
short_description: Find where a node's K3s tokens could be read by someone who should not
version_added: 1.0.0
description:
  - Reads the K3s tokens on the node (the files K3s and the k3s role write) and looks for their secret part in every
    process's command line and environment, and in every world-readable file under O(paths).
  - Only the places are returned, never a token. Run it as root, so that every process and file can be read.
  - The shipped playbooks/verify_k3s.yml runs it on every node; the Molecule scenarios use it to prove the role leaks nothing.
author:
  - sophia.lambda_k3s contributors (@sophia-ai)
extends_documentation_fragment:
  - sophia.lambda_k3s.node_reader
options:
  token_files:
    description:
      - Files holding tokens, in K3s's secure form (C(K10<hash>::<user>:<password>)) or as a plain password. Missing files are skipped.
    type: list
    elements: path
    default:
      - /etc/rancher/k3s/token
      - /etc/rancher/k3s/agent-token
      - /var/lib/rancher/k3s/server/token
      - /var/lib/rancher/k3s/server/agent-token
  paths:
    description: Directories searched for world-readable files holding a token (symbolic links are not followed).
    type: list
    elements: path
    default: [/etc, /var/lib/rancher, /run, /tmp, /usr/local/bin, /var/log]
  max_file_size:
    description: Larger files (images, binaries) are not read.
    type: int
    default: 1048576
"""

EXAMPLES = r"""
- name: Look for exposed K3s tokens
  sophia.lambda_k3s.k3s_token_exposure_info:
  become: true
  register: exposure

- name: Fail when a token can be read where it should not
  ansible.builtin.assert:
    that: exposure.exposures | length == 0
    fail_msg: "K3s tokens exposed: {{ exposure.exposures | map(attribute='location') | join(', ') }}"
"""

RETURN = r"""
tokens_checked:
  description: How many distinct tokens were read from O(token_files).
  returned: always
  type: int
  sample: 2
exposures:
  description: Where a token was found.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: V(command line), V(environment) or V(world-readable file).
      type: str
    location:
      description: The file, or C(/proc/<pid>) with the process name.
      type: str
  sample: [{kind: command line, location: /proc/4242 (k3s)}]
"""

import os
import re
import stat

from ansible.module_utils.basic import AnsibleModule

SECURE_TOKEN = re.compile(r"^K10[0-9a-f]{64}::[^:]+:(?P<password>.+)$")
# Shorter values would match by chance.
MIN_SECRET_LENGTH = 8


def secrets_from(paths: list) -> set:
    found = set()
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                token = handle.read().strip()
        except (FileNotFoundError, NotADirectoryError):
            continue
        match = SECURE_TOKEN.match(token)
        secret = match.group("password") if match else token
        if len(secret) >= MIN_SECRET_LENGTH:
            found.add(secret.encode())
    return found


def process_exposures(secrets: set) -> list:
    exposures = []
    for pid in sorted((entry for entry in os.listdir("/proc") if entry.isdigit()), key=int):
        name = _read(os.path.join("/proc", pid, "comm"), 256).strip().decode(errors="replace")
        for kind, source in (("command line", "cmdline"), ("environment", "environ")):
            content = _read(os.path.join("/proc", pid, source), 1 << 20)
            if any(secret in content for secret in secrets):
                exposures.append({"kind": kind, "location": "/proc/%s (%s)" % (pid, name)})
    return exposures


def file_exposures(secrets: set, roots: list, max_size: int, skip: set) -> list:
    exposures = []
    for root in roots:
        for directory, subdirectories, files in os.walk(root, followlinks=False):
            subdirectories[:] = [name for name in subdirectories if not os.path.islink(os.path.join(directory, name))]
            for name in files:
                path = os.path.join(directory, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if path in skip or not stat.S_ISREG(info.st_mode) or not info.st_mode & stat.S_IROTH or info.st_size > max_size:
                    continue
                if any(secret in _read(path, max_size) for secret in secrets):
                    exposures.append({"kind": "world-readable file", "location": path})
    return exposures


def _read(path: str, limit: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError:
        return b""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            # Paths of token files, not tokens.
            "token_files": {"type": "list", "elements": "path", "no_log": False, "default": [
                "/etc/rancher/k3s/token", "/etc/rancher/k3s/agent-token",
                "/var/lib/rancher/k3s/server/token", "/var/lib/rancher/k3s/server/agent-token"]},
            "paths": {"type": "list", "elements": "path", "default": ["/etc", "/var/lib/rancher", "/run", "/tmp", "/usr/local/bin", "/var/log"]},
            "max_file_size": {"type": "int", "default": 1048576},
        },
        supports_check_mode=True,
    )
    secrets = secrets_from(module.params["token_files"])
    exposures = process_exposures(secrets) if secrets else []
    if secrets:
        exposures += file_exposures(secrets, module.params["paths"], module.params["max_file_size"], set(module.params["token_files"]))
    module.exit_json(changed=False, tokens_checked=len(secrets), exposures=exposures)


if __name__ == "__main__":
    main()
