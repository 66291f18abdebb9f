# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The environment the playbooks run in, built so that no secret lands in ansible-runner's artifacts.

ansible-runner writes the whole environment of the run into artifacts/<ident>/command, which CI keeps. So the
Lambda API key reaches the playbooks only as a file (LAMBDA_API_KEY_FILE): a key exported as LAMBDA_API_KEY is
written to a private temporary file for the run and taken out of the environment, and the command file is
scrubbed of anything else that looks like a secret once the run ends.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import yaml

from lambda_k3s_cli.outcome import UsageError

KEY_ENV = "LAMBDA_API_KEY"
KEY_FILE_ENV = "LAMBDA_API_KEY_FILE"
STATE_ENV = "LAMBDA_K3S_STATE_DIR"
# Names of environment variables whose values are secrets; those naming a file, directory or socket are not.
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL", re.IGNORECASE)
_REFERENCE_NAME = re.compile(r"_(FILE|PATH|DIR|SOCK)$", re.IGNORECASE)
_HARMLESS_NAMES = frozenset({"ANSIBLE_HOST_KEY_CHECKING"})
REDACTED = "<redacted>"
_VAULT_HEADER = "$ANSIBLE_VAULT;"


def state_dir() -> Path:
    """Where the command keeps its state (run artifacts, SSH host keys): $LAMBDA_K3S_STATE_DIR, else the XDG state home."""
    named = os.environ.get(STATE_ENV)
    if named:
        return Path(named).expanduser()
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "sophia.lambda_k3s"


def check_private_file(path: str, what: str, option: str) -> Path:
    """A file the command was given that holds a secret: it must exist, be readable, and be private."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise UsageError("%s %s does not exist or is not a file: check %s." % (what, file, option))
    if not os.access(file, os.R_OK):
        raise UsageError("%s %s is not readable by this user: check its owner and mode." % (what, file))
    if stat.S_IMODE(file.stat().st_mode) & 0o077:
        raise UsageError("%s %s can be read by other users: run chmod 600 %s." % (what, file, file))
    return file.resolve()


def check_extra_vars(extra_vars: Sequence[str]) -> None:
    """-e arguments are recorded in the run's artifacts: refuse the API key given inline there."""
    for value in extra_vars:
        if not value.startswith("@") and "lambda_api_key" in value:
            raise UsageError("Do not pass lambda_api_key with -e: the command line is kept in the run's artifacts; "
                             "give the key as a file with --api-key-file or LAMBDA_API_KEY_FILE.")


def key_in_extra_vars(extra_vars: Sequence[str]) -> bool:
    """Whether a -e @file may hold lambda_api_key (it does, or it is vault-encrypted and might)."""
    for value in extra_vars:
        if not value.startswith("@"):
            continue
        try:
            text = Path(value[1:]).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if text.lstrip().startswith(_VAULT_HEADER) or "lambda_api_key" in text:
            return True
    return False


def key_in_inventory_config(inventory: Path) -> bool:
    """Whether a lambda_cloud.yml inventory configuration sets api_key (usually a vault lookup)."""
    configs = [inventory] if inventory.suffix in (".yml", ".yaml") else []
    configs += [Path(os.environ["LAMBDA_INVENTORY_CONFIG"])] if os.environ.get("LAMBDA_INVENTORY_CONFIG") else []
    configs += [inventory.with_name("lambda_cloud.yml")] if inventory.name == "lambda.py" else []
    for config in configs:
        try:
            content = yaml.safe_load(config.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        if isinstance(content, dict) and content.get("api_key"):
            return True
    return False


@contextmanager
def api_key_file(option: str | None, required: bool) -> Iterator[dict[str, str]]:
    """The environment variables that give the run the API key as a file, for the duration of the run.

    --api-key-file wins, then LAMBDA_API_KEY (written to a private temporary file), then LAMBDA_API_KEY_FILE.
    LAMBDA_API_KEY is taken out of this process's environment while the run lasts, since ansible-runner passes
    (and records) the whole environment. ``required``: fail when no key is given at all.
    """
    exported = os.environ.pop(KEY_ENV, None)
    scratch = None
    try:
        if option:
            yield {KEY_FILE_ENV: str(check_private_file(option, "The API key file", "--api-key-file"))}
        elif exported:
            scratch = Path(tempfile.mkdtemp(prefix="lambda-k3s-key-"))
            key_file = scratch / "lambda_api_key"
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(exported.strip() + "\n")
            yield {KEY_FILE_ENV: str(key_file)}
        elif os.environ.get(KEY_FILE_ENV):
            yield {KEY_FILE_ENV: str(check_private_file(os.environ[KEY_FILE_ENV], "The API key file", KEY_FILE_ENV))}
        elif required:
            raise UsageError("No Lambda Cloud API key: put it in a file only you can read (chmod 600) and set "
                             "LAMBDA_API_KEY_FILE to it, or pass --api-key-file; without an account, start the local lab: lambda-k3s lab up.")
        else:
            yield {}
    finally:
        if exported is not None:
            os.environ[KEY_ENV] = exported
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def ssh_settings(ssh_key: str | None, known_hosts: Path) -> dict[str, str]:
    """SSH for the run: the private key given, and host keys learned on first contact and checked afterwards.

    ansible-runner turns host key checking off unless told otherwise; here a host's key is accepted the first time
    and refused if it changes later, in a known_hosts file of the cluster's own (teardown removes it, since Lambda
    reuses addresses). ANSIBLE_HOST_KEY_CHECKING or ANSIBLE_SSH_COMMON_ARGS set by the user win.
    """
    settings = {}
    if ssh_key:
        settings["ANSIBLE_PRIVATE_KEY_FILE"] = str(check_private_file(ssh_key, "The SSH private key", "--ssh-key"))
    if "ANSIBLE_HOST_KEY_CHECKING" not in os.environ and "ANSIBLE_SSH_COMMON_ARGS" not in os.environ:
        known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        settings["ANSIBLE_HOST_KEY_CHECKING"] = "True"
        settings["ANSIBLE_SSH_COMMON_ARGS"] = "-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=%s" % known_hosts
    return settings


def base_settings() -> dict[str, str]:
    """What every run needs: this environment's Ansible first on PATH, and plain text in the artifacts."""
    settings = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    if "ANSIBLE_NOCOLOR" not in os.environ and "ANSIBLE_FORCE_COLOR" not in os.environ:
        settings["ANSIBLE_NOCOLOR"] = "1"
    return settings


def scrub_command_file(artifact_dir: Path) -> None:
    """Replace the values of secret-looking variables in the environment ansible-runner recorded for the run."""
    command_file = artifact_dir / "command"
    try:
        recorded = json.loads(command_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    env = recorded.get("env")
    if not isinstance(env, dict):
        return
    for name in env:
        if _SECRET_NAME.search(name) and not _REFERENCE_NAME.search(name) and name not in _HARMLESS_NAMES:
            env[name] = REDACTED
    descriptor = os.open(command_file, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(recorded, handle)
