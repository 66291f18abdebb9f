#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lambda_ssh_key
short_description: Manage SSH public keys registered in a Lambda Cloud account
version_added: 1.0.0
description:
  - Registers an SSH public key under a name, or removes the keys with that name.
  - Lambda Cloud cannot edit a stored key. When the key stored under O(name) differs from O(public_key),
    the module fails unless O(force=true), in which case it deletes the stored key and adds the new one.
  - Keys are compared by key type and key material only. The trailing comment is ignored, so a key whose
    comment alone differs is left as it is.
  - The module never sends or returns a private key, and refuses input that looks like one.
author:
  - sophia.lambda_k3s contributors (@sophia-ai)
extends_documentation_fragment:
  - sophia.lambda_k3s.lambda_cloud
  - sophia.lambda_k3s.lambda_cloud.action_group
attributes:
  check_mode:
    support: full
    description: Reads the account's keys and reports what would change without adding or deleting any.
  diff_mode:
    support: full
    description: Shows the stored and the desired key (name and public key).
options:
  name:
    description:
      - Name of the key in Lambda Cloud, 1 to 64 characters.
      - Instances are launched with a key name, so this is the name to give to P(sophia.lambda_k3s.lambda_instance#module).
    type: str
    required: true
  public_key:
    description:
      - The OpenSSH public key, for example the content of C(~/.ssh/id_ed25519.pub).
      - Required when O(state=present).
      - A value that is not a public key (a private key given by mistake) is refused and never shown, not even in the
        task's invocation.
    type: str
  state:
    description:
      - V(present) makes sure a key with this name and key material exists.
      - V(absent) deletes every key with this name.
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - Replace the stored key (delete, then add) when its key material differs from O(public_key).
      - Running instances keep the old key in their C(authorized_keys); only instances launched afterwards
        receive the new one. Without O(force=true) such a difference is an error, so a key in use is never
        swapped silently.
    type: bool
    default: false
notes:
  - Lambda Cloud key names need not be unique. When several keys share O(name), O(state=present) fails and lists
    them, and O(state=absent) deletes them all.
seealso:
  - module: sophia.lambda_k3s.lambda_instance
"""

EXAMPLES = r"""
- name: Register the cluster's SSH key
  sophia.lambda_k3s.lambda_ssh_key:
    name: k3s-admin
    public_key: "{{ lookup('ansible.builtin.file', '~/.ssh/id_ed25519.pub') }}"

- name: Rotate the key (running instances keep the old one)
  sophia.lambda_k3s.lambda_ssh_key:
    name: k3s-admin
    public_key: "{{ lookup('ansible.builtin.file', '~/.ssh/id_ed25519_new.pub') }}"
    force: true

- name: Remove the key
  sophia.lambda_k3s.lambda_ssh_key:
    name: k3s-admin
    state: absent
"""

RETURN = r"""
ssh_key:
  description:
    - The key as stored in Lambda Cloud. Empty when O(state=absent).
    - In check mode, a key that would be added has no RV(ssh_key.id).
  returned: always
  type: dict
  contains:
    id:
      description: Lambda Cloud's identifier of the key.
      type: str
      returned: when O(state=present)
      sample: ddf9a910ceb744a0bb95242cbba6cb50
    name:
      description: Name of the key.
      type: str
      returned: when O(state=present)
      sample: k3s-admin
    public_key:
      description: The stored public key.
      type: str
      returned: when O(state=present)
      sample: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T admin@example
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import AmbiguousRequestError, LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.module_support import client_for, fail_for, lambda_argument_spec
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.ssh_public_key import (
    PublicKeyError,
    fingerprint,
    key_material,
    parse_public_key,
)

MAX_NAME_LENGTH = 64


def public_view(key: dict) -> dict:
    """The fields the module returns; a generated private_key would never leave this function."""
    return {"id": key.get("id"), "name": key.get("name"), "public_key": key.get("public_key")}


def diff_view(key: dict | None) -> dict:
    return {} if not key else {"name": key.get("name"), "public_key": key.get("public_key")}


class SSHKeyManager:
    """Brings the keys stored under one name to the requested state."""

    def __init__(self, module: AnsibleModule, client) -> None:
        self.module = module
        self.client = client
        self.name = module.params["name"]
        self.changed = False

    def keys_named(self) -> list:
        return [key for key in self.client.list_ssh_keys() if key.get("name") == self.name]

    def present(self, stored: list, public_key: str) -> dict:
        if len(stored) > 1:
            self.module.fail_json(msg="%d SSH keys are named %r in Lambda Cloud (ids %s); delete the extras with state=absent "
                                      "or in the dashboard." % (len(stored), self.name, ", ".join(str(k.get("id")) for k in stored)))
        current = stored[0] if stored else None
        if current is not None and key_material(current.get("public_key")) == key_material(public_key):
            return current
        if current is not None and not self.module.params["force"]:
            self.module.fail_json(
                msg="The SSH key %r already exists in Lambda Cloud with different key material (stored %s, requested %s). "
                    "Replacing it would give instances launched from now on the new key while running ones keep the stored one; "
                    "to replace it, set force=true (with provision.yml, the variable lambda_cluster_ssh_key_replace=true), or register "
                    "the new key under another name (lambda_cluster_ssh_key_name)."
                    % (self.name, fingerprint(current.get("public_key")), fingerprint(public_key)))
        self.changed = True
        if self.module.check_mode:
            return {"id": None, "name": self.name, "public_key": public_key}
        if current is not None:
            self.delete(current["id"])
        return self.add(public_key)

    def add(self, public_key: str) -> dict:
        try:
            return self.client.add_ssh_key(self.name, public_key)
        except AmbiguousRequestError as error:
            # The answer was lost and the key may exist now: read back before deciding anything.
            for key in self.keys_named():
                if key_material(key.get("public_key")) == key_material(public_key):
                    return key
            fail_for(self.module, LambdaAPIError("%s No key named %r exists now, so it was not added; run again." % (error.message, self.name),
                                                 code=error.code, status=error.status), changed=self.changed)
        return {}

    def delete(self, key_id: str) -> None:
        try:
            self.client.delete_ssh_key(key_id)
        except LambdaAPIError:
            # A retry after a lost answer is refused because the first attempt deleted the key (the API
            # answers an unknown key with 400, not 404): read back before calling it a failure.
            if any(key.get("id") == key_id for key in self.client.list_ssh_keys()):
                raise

    def absent(self, stored: list) -> None:
        if stored:
            self.changed = True
            if not self.module.check_mode:
                for key in stored:
                    self.delete(key["id"])


def argument_spec() -> dict:
    return lambda_argument_spec(
        name=dict(type="str", required=True),
        public_key=dict(type="str", no_log=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        force=dict(type="bool", default=False),
    )


def check_input(module: AnsibleModule) -> str | None:
    """Fail before any API call on a bad name or key; return the cleaned public key."""
    name = module.params["name"]
    if not name or not name.strip() or len(name) > MAX_NAME_LENGTH:
        module.fail_json(msg="name must be 1 to %d characters long (got %d)." % (MAX_NAME_LENGTH, len(name or "")))
    if module.params["state"] != "present":
        return None
    try:
        key_type, body, comment = parse_public_key(module.params["public_key"])
    except PublicKeyError as error:
        # What was refused may be a private key pasted by mistake: keep it out of the result's invocation too.
        module.no_log_values.add(module.params["public_key"])
        module.fail_json(msg=str(error))
    return " ".join(part for part in (key_type, body, comment) if part)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), required_if=[("state", "present", ("public_key",))], supports_check_mode=True)
    public_key = check_input(module)
    manager = SSHKeyManager(module, client_for(module))
    after = None
    try:
        stored = manager.keys_named()
        if module.params["state"] == "present":
            after = manager.present(stored, public_key)
        else:
            manager.absent(stored)
    except LambdaAPIError as error:
        fail_for(module, error, changed=manager.changed)
    result = {"changed": manager.changed, "ssh_key": public_view(after) if after else {}}
    if module._diff:
        result["diff"] = {"before": diff_view(stored[0] if stored else None), "after": diff_view(after)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
