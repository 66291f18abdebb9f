#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: apt_signing_key
short_description: Install an apt repository's signing key after checking its fingerprint
version_added: 1.0.0
description:
  - Downloads an OpenPGP public key and writes it to O(dest) for an apt source's C(signed-by=) option, but only when its
    primary key has the fingerprint given, so a key served by a compromised or wrong host is never installed.
  - Does nothing when O(dest) already holds a key with that fingerprint, so a run that finds the key in place sends no request.
  - Checks fingerprints with C(gpg --show-keys) in a throw-away home directory; no keyring of the node is touched.
author:
  - sophia.lambda_k3s contributors (@sophia-ai)
attributes:
  check_mode:
    description: Downloads and checks the key, and reports whether it would be written.
    support: full
  diff_mode:
    description: Keys are binary or armored blobs; no diff is shown.
    support: none
options:
  url:
    description:
      - Where to download the key, C(https://) in production (C(file://) works too).
    type: str
    required: true
  fingerprint:
    description:
      - Fingerprint of the primary key, 40 hexadecimal digits; spaces and case do not matter.
    type: str
    required: true
  dest:
    description:
      - Path of the key file. Use a C(.asc) name for an armored key, which apt reads directly.
    type: path
    required: true
  mode:
    description:
      - Permissions of the key file.
    type: str
    default: "0644"
  timeout:
    description:
      - Seconds to wait for the download.
    type: int
    default: 30
requirements:
  - gpg (GnuPG 2.2.8 or later) on the node
seealso:
  - module: ansible.builtin.deb822_repository
"""

EXAMPLES = r"""
- name: Install the signing key of NVIDIA's container toolkit repository
  sophia.lambda_k3s.apt_signing_key:
    url: https://nvidia.github.io/libnvidia-container/gpgkey
    fingerprint: C95B321B61E88C1809C4F759DDCAE044F796ECB0
    dest: /etc/apt/keyrings/nvidia-container-toolkit.asc
"""

RETURN = r"""
fingerprints:
  description: Primary key fingerprints found in the key file (installed or already in place).
  returned: success
  type: list
  elements: str
  sample: [C95B321B61E88C1809C4F759DDCAE044F796ECB0]
"""

import os
import re
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url

_FINGERPRINT = re.compile(r"^[0-9A-F]{40}$")


def normalise_fingerprint(value: str) -> str:
    return re.sub(r"\s+", "", value or "").upper()


def primary_fingerprints(colons: str) -> list:
    """Primary key fingerprints from `gpg --with-colons` output (the fpr record after each pub, not after a sub)."""
    fingerprints = []
    record_owner = None
    for line in colons.splitlines():
        fields = line.split(":")
        if fields[0] in ("pub", "sub"):
            record_owner = fields[0]
        elif fields[0] == "fpr" and record_owner == "pub" and len(fields) > 9:
            fingerprints.append(fields[9].upper())
            record_owner = None
    return fingerprints


def key_fingerprints(module: AnsibleModule, path: str) -> list:
    gpg = module.get_bin_path("gpg", required=True)
    home = tempfile.mkdtemp(prefix="apt-signing-key-")
    try:
        rc, out, _err = module.run_command([gpg, "--homedir", home, "--batch", "--with-colons", "--show-keys", path],
                                           environ_update={"LC_ALL": "C"})
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return primary_fingerprints(out) if rc == 0 else []


def download(module: AnsibleModule, url: str) -> str:
    response, info = fetch_url(module, url, timeout=module.params["timeout"])
    if response is None or (info.get("status") != 200 and not url.startswith("file:")):
        module.fail_json(msg="Could not download the signing key from %s: %s." % (url, info.get("msg", "no answer")))
    handle, path = tempfile.mkstemp(prefix="apt-signing-key-")
    with os.fdopen(handle, "wb") as output:
        shutil.copyfileobj(response, output)
    return path


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            fingerprint=dict(type="str", required=True),
            dest=dict(type="path", required=True),
            mode=dict(type="str", default="0644"),
            timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    wanted = normalise_fingerprint(module.params["fingerprint"])
    if not _FINGERPRINT.match(wanted):
        module.fail_json(msg="fingerprint must be 40 hexadecimal digits, not %r." % module.params["fingerprint"])
    dest = module.params["dest"]

    if os.path.exists(dest):
        found = key_fingerprints(module, dest)
        if wanted in found:
            file_args = module.load_file_common_arguments(dict(path=dest, mode=module.params["mode"]))
            changed = module.set_fs_attributes_if_different(file_args, False)
            module.exit_json(changed=changed, fingerprints=found)

    downloaded = download(module, module.params["url"])
    try:
        found = key_fingerprints(module, downloaded)
        if wanted not in found:
            module.fail_json(msg="The key at %s has fingerprint %s, not %s: it was not installed." % (
                module.params["url"], ", ".join(found) or "(none: not an OpenPGP key)", wanted))
        if not module.check_mode:
            os.makedirs(os.path.dirname(dest) or ".", mode=0o755, exist_ok=True)
            module.atomic_move(downloaded, dest)
            downloaded = None
            module.set_fs_attributes_if_different(module.load_file_common_arguments(dict(path=dest, mode=module.params["mode"])), False)
    finally:
        if downloaded and os.path.exists(downloaded):
            os.unlink(downloaded)
    module.exit_json(changed=True, fingerprints=found)


if __name__ == "__main__":
    main()
