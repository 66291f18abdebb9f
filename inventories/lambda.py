#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lambda Cloud dynamic inventory script (the classic --list / --host protocol).

    ansible-playbook site.yml -i inventories/lambda.py

It runs the sophia.lambda_k3s.lambda_cloud inventory plugin and prints what the plugin built, so
both entry points give the same hosts, groups and variables for the same configuration.

Configuration, in this order:
  * the plugin configuration file named by $LAMBDA_INVENTORY_CONFIG, or else lambda_cloud.yml
    (or .yaml) in this script's directory, when one exists;
  * the environment, for every option the file leaves out: LAMBDA_API_KEY (or LAMBDA_API_KEY_FILE),
    LAMBDA_API_URL, LAMBDA_K3S_CLUSTER, LAMBDA_K3S_MEMBER_NAMES, LAMBDA_K3S_MEMBER_PATTERN,
    LAMBDA_K3S_WHOLE_ACCOUNT, LAMBDA_REQUEST_INTERVAL (and Ansible's ANSIBLE_INVENTORY_CACHE* settings).

The collection is found in ../collections next to a checkout, else wherever Ansible's
collections_path points (an installed collection). Errors go to stderr as one sentence, with
exit status 1; the API key is never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

PLUGIN_NAME = "sophia.lambda_k3s.lambda_cloud"
CONFIG_ENV = "LAMBDA_INVENTORY_CONFIG"
CONFIG_NAMES = ("lambda_cloud.yml", "lambda_cloud.yaml")
COLLECTION_PARTS = ("ansible_collections", "sophia", "lambda_k3s")
# JSON profiles (ansible-core >= 2.19) Ansible's script plugin decodes --list and --host output with.
LIST_PROFILE = "inventory_legacy"
HOST_PROFILE = "legacy"


class InventoryScriptError(Exception):
    """A failure to report as one line on stderr."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Lambda Cloud dynamic inventory (sophia.lambda_k3s).")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--list", action="store_true", help="print every group and, under _meta, every host's variables")
    mode.add_argument("--host", metavar="HOSTNAME", help="print one host's variables")
    parser.add_argument("--refresh-cache", action="store_true",
                        help="ignore a cached instance list and fetch a new one (when the configuration enables caching)")
    return parser.parse_args(argv)


def script_path() -> Path:
    # Not resolved: a symlinked script reads the configuration beside the link.
    return Path(os.path.abspath(__file__))


def config_file(directory: Path) -> Path | None:
    named = os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise InventoryScriptError("%s names %s, which is not a readable file." % (CONFIG_ENV, path))
        return path.absolute()
    for name in CONFIG_NAMES:
        if (directory / name).is_file():
            return directory / name
    return None


def checkout_collection_paths(directory: Path) -> list[str]:
    """collections/ directories of a checkout around this script that hold sophia.lambda_k3s."""
    candidates = []
    for base in (directory, Path(os.path.realpath(directory))):
        for root in (base.parent / "collections", base / "collections"):
            if root.joinpath(*COLLECTION_PARTS).is_dir() and str(root) not in candidates:
                candidates.append(str(root))
    return candidates


def load_plugin(directory: Path):
    try:
        from ansible.plugins.loader import init_plugin_loader, inventory_loader
    except ImportError as error:
        raise InventoryScriptError("This script needs ansible-core, which %s cannot import (%s); run it with the Python of the "
                                   "environment Ansible is installed in." % (sys.executable, error)) from None
    # A checkout's own collection comes first; the configured collections_path follows.
    init_plugin_loader(checkout_collection_paths(directory))
    plugin = inventory_loader.get(PLUGIN_NAME)
    if plugin is None:
        raise InventoryScriptError("The %s inventory plugin was not found: install the sophia.lambda_k3s collection or run this "
                                   "script from a checkout that has collections/ansible_collections/sophia/lambda_k3s." % PLUGIN_NAME)
    return plugin


def build_inventory(script: Path, refresh_cache: bool):
    """Run the plugin on a fresh InventoryData, exactly as an inventory manager would."""
    plugin = load_plugin(script.parent)
    from ansible.inventory.data import InventoryData
    from ansible.parsing.dataloader import DataLoader

    inventory = InventoryData()
    loader = DataLoader()
    config = config_file(script.parent)
    source = str(config or script)
    inventory.current_source = source
    if config:
        plugin.parse(inventory, loader, source, cache=not refresh_cache)
    else:
        plugin.parse_config(inventory, loader, source, {"plugin": PLUGIN_NAME}, cache=not refresh_cache)
    if getattr(plugin, "_cache", None) is not None:
        plugin.update_cache_if_changed()
    inventory.reconcile_inventory()
    return inventory


def public_vars(variables: dict) -> dict:
    """Variables without the ones Ansible sets itself (inventory_file, group_names...)."""
    from ansible import constants

    return {name: value for name, value in variables.items() if name not in constants.INTERNAL_STATIC_VARS}


def list_output(inventory) -> dict:
    """The --list document: groups with hosts, children and vars, and every host's own vars under _meta.

    Group variables stay on their group (as ansible-inventory --export shows them), so that the
    precedence of group_vars and host_vars is the same as with the plugin.
    """
    output: dict = {"_meta": {"hostvars": {}}}
    for name, group in inventory.groups.items():
        entry = {}
        hosts = [host.name for host in group.hosts]
        children = [child.name for child in group.child_groups]
        group_vars = public_vars(group.get_vars())
        if hosts and name != "all":
            entry["hosts"] = hosts
        if children:
            entry["children"] = children
        if group_vars:
            entry["vars"] = group_vars
        if entry:
            output[name] = entry
    for name, host in inventory.hosts.items():
        output["_meta"]["hostvars"][name] = public_vars(host.get_vars())
    return output


def host_output(inventory, hostname: str) -> dict:
    host = inventory.hosts.get(hostname)
    if host is None:
        # The protocol answers an unknown host with no variables; say so for a human reader.
        print("lambda.py: no host named %r in the Lambda Cloud inventory." % hostname, file=sys.stderr)
        return {}
    return public_vars(host.get_vars())


def inventory_encoder(profile: str) -> tuple[type[json.JSONEncoder], str | None]:
    """The JSON encoder Ansible's script plugin expects, and its profile name (None before ansible-core 2.19).

    Strings that came from the API are written as {"__ansible_unsafe": ...}, so that Ansible never
    evaluates a Jinja expression hidden in, say, an instance name: plain strings in script output
    are trusted as templates.
    """
    try:
        from ansible.module_utils.common.json import get_encoder
    except ImportError:  # ansible-core < 2.19
        from ansible.parsing.ajson import AnsibleJSONEncoder

        return AnsibleJSONEncoder, None
    return get_encoder(profile), profile


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from ansible.errors import AnsibleError
    except ImportError:
        AnsibleError = InventoryScriptError  # reported by load_plugin with a clearer sentence
    try:
        inventory = build_inventory(script_path(), args.refresh_cache)
        document = host_output(inventory, args.host) if args.host else list_output(inventory)
        # --list output marks API strings only inside variables; --host output is all variables.
        encoder, profile = inventory_encoder(HOST_PROFILE if args.host else LIST_PROFILE)
        if profile and not args.host:
            document["_meta"]["profile"] = profile  # tells Ansible's script plugin how to decode the strings
        text = json.dumps(document, cls=encoder, indent=2, sort_keys=True)
    except (InventoryScriptError, AnsibleError) as error:
        print("lambda.py: %s" % _message(error), file=sys.stderr)
        return 1
    except Exception as error:  # pylint: disable=broad-except  # one line, never a traceback that could show configuration
        print("lambda.py: unexpected %s: %s" % (type(error).__name__, error), file=sys.stderr)
        return 1
    print(text)
    return 0


def _message(error: Exception) -> str:
    """The error's own sentence, without the context lines Ansible may append."""
    return str(getattr(error, "message", None) or error).strip()


if __name__ == "__main__":
    sys.exit(main())
