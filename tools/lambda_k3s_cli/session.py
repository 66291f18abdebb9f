# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every verb shares: the checkout, the consoles, the inventory, and running a playbook with the key kept out
of the artifacts and the summary printed at the end."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ansible_runner
import yaml
from rich.console import Console
from rich.text import Text

from lambda_k3s_cli.display import LIVE, choose_mode, render_summary
from lambda_k3s_cli.environment import (
    api_key_file,
    base_settings,
    check_extra_vars,
    key_in_extra_vars,
    ssh_settings,
    state_dir,
)
from lambda_k3s_cli.execution import RunRequest, RunResult, Runs
from lambda_k3s_cli.lab import find_lab
from lambda_k3s_cli.outcome import ExitCode, UsageError
from lambda_k3s_cli.project import Project

CLUSTER_ENV = "LAMBDA_K3S_CLUSTER"
# Environment variables and inventory options that choose the cluster's instances (docs/inventory.md).
_MEMBERSHIP_ENV = (CLUSTER_ENV, "LAMBDA_K3S_MEMBER_NAMES", "LAMBDA_K3S_MEMBER_PATTERN", "LAMBDA_K3S_WHOLE_ACCOUNT")
_MEMBERSHIP_OPTIONS = ("cluster", "member_names", "member_name_pattern", "whole_account")
_LAMBDA_PLUGIN = "sophia.lambda_k3s.lambda_cloud"
DEFAULT_KEEP_RUNS = 20
LOG_WIDTH = 160


class Session:
    """One invocation of the command."""

    def __init__(self, args: argparse.Namespace, json_output: bool = False) -> None:
        self.args = args
        self.project = Project.locate(args.project_dir)
        # With --json, standard output carries the JSON alone; progress and the summary go to standard error.
        # --progress live on something that is not a terminal draws for a terminal anyway: never rich's fallback,
        # which shows nothing until the end.
        forced = True if args.progress == LIVE else None
        self.console = Console(stderr=json_output, highlight=False, force_terminal=forced, force_interactive=forced)
        if not self.console.is_terminal and not os.environ.get("COLUMNS"):
            # A log has no width: 80 columns would cut the tables' host names.
            self.console.width = LOG_WIDTH
        self.output = Console(highlight=False)
        self.mode = choose_mode(args.progress, self.console)
        self.cluster = args.cluster or os.environ.get(CLUSTER_ENV) or ""
        check_extra_vars(args.extra_vars)
        self.lab = None if args.verb_name == "lab" else find_lab(args.lab, args.api_key_file)
        if self.lab:
            self._use_lab()

    def _use_lab(self) -> None:
        """The lab's settings stand in for a Lambda account: its key file, SSH key, cluster and variables."""
        lab = self.lab.lab
        self.args.api_key_file = self.args.api_key_file or lab["api_key_file"]
        self.args.ssh_key = self.args.ssh_key or lab["ssh_private_key_file"]
        self.cluster = self.cluster or lab["name"]
        self.console.print(Text("Using the local lab %s (%s): %s" % (lab["name"], self.lab.file, lab["k3s"]["note"]), style="yellow"),
                           soft_wrap=True)

    # -- inventory ---------------------------------------------------------------------------------

    @property
    def inventory(self) -> Path:
        return Path(self.args.inventory).expanduser().resolve() if self.args.inventory else self.project.default_inventory

    def lambda_inventory_options(self) -> dict[str, Any] | None:
        """The Lambda inventory plugin's options when the inventory is the Lambda one (inventories/lambda.py or a
        lambda_cloud.yml), else None."""
        inventory = self.inventory
        if inventory.name == "lambda.py":
            named = os.environ.get("LAMBDA_INVENTORY_CONFIG")
            return _yaml_mapping(Path(named) if named else inventory.with_name("lambda_cloud.yml"))
        options = _yaml_mapping(inventory) if inventory.suffix in (".yml", ".yaml") else {}
        return options if options.get("plugin") == _LAMBDA_PLUGIN else None

    def check_cluster_chosen(self) -> None:
        """A Lambda inventory run must say which instances are the cluster, or it reaches none (or the whole account)."""
        options = self.lambda_inventory_options()
        if options is None or self.cluster or any(os.environ.get(name) for name in _MEMBERSHIP_ENV):
            return
        if not any(options.get(name) for name in _MEMBERSHIP_OPTIONS):
            raise UsageError("No cluster chosen: pass --cluster NAME (the instances tagged k3s-cluster=NAME) or set %s." % CLUSTER_ENV)

    # -- running -----------------------------------------------------------------------------------

    def run(self, request: RunRequest, needs_key: bool, compact: bool = False) -> RunResult:
        """Run a playbook. ``needs_key``: it calls the Lambda API (modules, or the Lambda inventory) and fails
        without a key. ``compact``: the verb prints its own result, so a successful run ends with one line."""
        key_elsewhere = key_in_extra_vars(request.extra_vars)
        options = self.lambda_inventory_options() if request.inventory else None
        if options and options.get("api_key"):
            key_elsewhere = True
        with api_key_file(self.args.api_key_file, required=needs_key and not key_elsewhere) as key_settings:
            environment = base_settings()
            environment.update(self.lab.environment if self.lab else {})
            environment.update(key_settings)
            environment.update(ssh_settings(self.args.ssh_key, self.known_hosts))
            if self.cluster:
                environment[CLUSTER_ENV] = self.cluster
            if request.nodes:
                self._check_nodes(request.nodes, environment)
            runs = Runs(self.project, self.artifacts_root, self.keep_runs, environment, self.console, self.mode)
            result = runs.execute(request)
        if not compact or result.code != ExitCode.OK:
            render_summary(self.console, request.verb, result.summary, result.code, result.summary["duration_seconds"], result.artifact_dir)
        else:
            self.console.print(Text("%s: %s (exit 0). Artifacts: %s" % (request.verb, result.code.meaning, result.artifact_dir)), soft_wrap=True)
        return result

    def _check_nodes(self, nodes: list[str], environment: dict[str, str]) -> None:
        """Every node asked for must be one of the inventory's cluster nodes: --limit alone would run on the others
        and only warn about a misspelt name."""
        scratch = tempfile.mkdtemp(prefix="lambda-k3s-inventory-")
        try:
            listing, errors = ansible_runner.get_inventory(
                action="list", inventories=[str(self.inventory)], response_format="json", private_data_dir=scratch, quiet=True,
                envvars=dict(environment, ANSIBLE_CONFIG=os.environ.get("ANSIBLE_CONFIG") or str(self.project.root / "ansible.cfg")))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if not isinstance(listing, dict):
            raise UsageError("Cannot list the inventory %s to check --node: %s" % (self.inventory, " ".join(str(errors).split())[-300:]))
        known = set(_group_hosts(listing, "k3s_cluster")) or set(listing.get("_meta", {}).get("hostvars", {}))
        unknown = [node for node in nodes if node not in known]
        if unknown:
            raise UsageError("No node named %s in the cluster; its nodes are %s." % (", ".join(unknown), ", ".join(sorted(known)) or "none"))

    def request(self, verb: str, playbook: Path, **fields: Any) -> RunRequest:
        """A run of ``playbook`` with the options every verb shares (-e, -v)."""
        fields.setdefault("extra_vars", [])
        lab_vars = ["@%s" % self.lab.file] if self.lab else []
        fields["extra_vars"] = lab_vars + list(fields["extra_vars"]) + list(self.args.extra_vars)
        return RunRequest(verb=verb, playbook=playbook, verbosity=self.args.verbose, **fields)

    @property
    def artifacts_root(self) -> Path:
        named = self.args.artifacts_dir or os.environ.get("LAMBDA_K3S_ARTIFACTS_DIR")
        return Path(named).expanduser().resolve() if named else state_dir() / "runs"

    @property
    def keep_runs(self) -> int:
        value = self.args.keep_runs if self.args.keep_runs is not None else os.environ.get("LAMBDA_K3S_KEEP_RUNS", DEFAULT_KEEP_RUNS)
        try:
            return int(value)
        except ValueError:
            raise UsageError("LAMBDA_K3S_KEEP_RUNS must be a whole number, not %r." % value) from None

    @property
    def known_hosts(self) -> Path:
        return state_dir() / "known_hosts" / (self.cluster or "default")


def _group_hosts(listing: Mapping[str, Any], group: str) -> list[str]:
    """The hosts of a group of an ansible-inventory --list answer, its children's included."""
    entry = listing.get(group) or {}
    hosts = list(entry.get("hosts") or [])
    for child in entry.get("children") or []:
        hosts += _group_hosts(listing, child)
    return hosts


def _yaml_mapping(path: Path) -> Mapping[str, Any]:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return content if isinstance(content, dict) else {}


def load_spec(path: str) -> dict[str, Any]:
    """A cluster spec file (playbooks/vars/cluster_example.yml's format): it must be a YAML mapping naming the cluster."""
    spec_file = Path(path).expanduser()
    try:
        content = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError("Cannot read the cluster spec %s (%s): check the path." % (spec_file, error.strerror)) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = " at line %d" % (mark.line + 1) if mark else ""
        raise UsageError("The cluster spec %s is not valid YAML%s: fix it and run again." % (spec_file, where)) from None
    if not isinstance(content, dict) or not isinstance(content.get("lambda_cluster_name"), str) or not content["lambda_cluster_name"]:
        raise UsageError("The cluster spec %s does not set lambda_cluster_name: see playbooks/vars/cluster_example.yml." % spec_file)
    return content
