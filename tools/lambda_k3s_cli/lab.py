# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lambda-k3s lab up|down|status|env, and how the other verbs use a lab: its settings file (lab.yml) gives them the
API's URL, the key file, the SSH key, the cluster, the variables and the stages its K3s cannot serve."""

from __future__ import annotations

import argparse
import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lambda_k3s_cli.environment import KEY_ENV, KEY_FILE_ENV, state_dir
from lambda_k3s_cli.outcome import ExitCode, UsageError
from lambda_lab.lab import (DEFAULT_NAME, DEFAULT_NETWORK_INDEX, DEFAULT_NODES, DEFAULT_TIME_SCALE, Lab, LabError, by_hand_command, lab_directory,
                            read_settings)
from lambda_lab.containers import MAX_NODES

# What the lab's settings set in the environment of a run; the key file and SSH key go through the usual options.
_RUN_ENVIRONMENT = ("LAMBDA_API_URL", "LAMBDA_REQUEST_INTERVAL")


@dataclass(frozen=True)
class LabSettings:
    """A running lab, as the other verbs use it."""

    name: str
    file: Path
    settings: dict[str, Any] = field(repr=False)

    @property
    def lab(self) -> dict[str, Any]:
        return self.settings["lambda_k3s_lab"]

    @property
    def environment(self) -> dict[str, str]:
        return {name: str(self.lab["environment"][name]) for name in _RUN_ENVIRONMENT}

    @property
    def skip_stages(self) -> dict[str, str]:
        return dict(self.lab.get("skip_stages") or {})


def find_lab(requested: str | None, api_key_file: str | None) -> LabSettings | None:
    """The lab the verbs run against: the one --lab names, else the lab whose key file is the configured one (a shell
    that ran ``eval "$(lambda-k3s lab env)"``), else the default lab when no Lambda key is configured."""
    key_file = api_key_file or os.environ.get(KEY_FILE_ENV)
    own = _lab_of_key_file(key_file) if key_file and not requested else None
    if own is not None:
        return _running(own)
    key_configured = bool(key_file or os.environ.get(KEY_ENV))
    name = requested or (None if key_configured else DEFAULT_NAME)
    if name is None:
        return None
    file = lab_directory(state_dir(), name) / "lab.yml"
    settings = read_settings(file)
    if settings is None:
        if requested:
            raise UsageError("There is no lab %s: start it with lambda-k3s lab up%s." % (name, "" if name == DEFAULT_NAME else " --lab " + name))
        return None
    return _running(LabSettings(name, file, settings))


def _running(lab: LabSettings) -> LabSettings:
    if not Lab.answers(lab.settings):
        raise UsageError("The lab %s is not running (no answer at %s): run lambda-k3s lab up%s to start it again, or give a Lambda "
                         "Cloud API key to use your account." % (lab.name, lab.lab["api_url"], _lab_option(lab.name)))
    return lab


def _lab_of_key_file(key_file: str) -> LabSettings | None:
    """The lab this key file belongs to, if it is a lab's: its settings file sits next to the key and names it, wherever
    the lab's state directory is. Without this, the verbs run in a shell with the lab's exports would take the lab for a
    Lambda account and run without its variables and skipped stages."""
    path = Path(key_file).expanduser().resolve()
    file = path.parent / "lab.yml"
    settings = read_settings(file)
    lab = settings["lambda_k3s_lab"] if settings else {}
    if not lab.get("name") or not lab.get("api_key_file") or Path(lab["api_key_file"]).resolve() != path:
        return None
    return LabSettings(str(lab["name"]), file, settings)


def _lab_option(name: str) -> str:
    return "" if name == DEFAULT_NAME else " --lab " + name


# -- the lab verb -----------------------------------------------------------------------------------------------


def lab_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("up", "down", "status", "env"),
                        help="up: start the lab or reuse the running one; down: remove it all; status: what runs; env: shell exports")
    parser.add_argument("--nodes", type=int, default=DEFAULT_NODES, metavar="N",
                        help="nodes of the lab's cluster spec: 1 server and N-1 agents (1 to %d; default %d)" % (MAX_NODES, DEFAULT_NODES))
    parser.add_argument("--k3s", choices=("auto", "release", "standin"), default="auto",
                        help="K3s on the nodes: the real release, the test stand-in served by the lab, or auto (the release when it "
                             "can be downloaded)")
    parser.add_argument("--network-index", type=int, default=DEFAULT_NETWORK_INDEX, metavar="N",
                        help="the lab's addresses: network 10.213.N.0/24, nodes' public ip 127.0.N.x (default %d)" % DEFAULT_NETWORK_INDEX)
    parser.add_argument("--time-scale", type=float, default=DEFAULT_TIME_SCALE, metavar="X",
                        help="the emulator's clock: 1.0 runs the real API's rate limits, 0.1 (default) ten times faster")
    parser.add_argument("--json", action="store_true", help="status as JSON")


def lab(args: argparse.Namespace, console: Console) -> int:
    name = args.lab or DEFAULT_NAME
    directory = lab_directory(state_dir(), name)
    instance = Lab(directory, name=name, network_index=args.network_index, say=lambda line: console.print(Text(line), soft_wrap=True))
    try:
        if args.action == "up":
            instance.up(nodes=args.nodes, k3s=args.k3s, time_scale=args.time_scale)
            _print_status(console, instance.status(), args.json)
            console.print(Text("Next: lambda-k3s provision && lambda-k3s deploy && lambda-k3s status   (no key configured: the lab is used)"
                               if name == DEFAULT_NAME else "Next: lambda-k3s provision --lab %s, deploy --lab %s, status --lab %s" % ((name,) * 3)))
        elif args.action == "down":
            removed = instance.down()
            (state_dir() / "known_hosts" / name).unlink(missing_ok=True)
            console.print(Text("The lab %s is gone: removed %s." % (name, ", ".join(removed) if removed else "nothing (there was no lab)")))
        elif args.action == "status":
            _print_status(console, instance.status(), args.json)
        else:
            print(_exports(directory / "lab.yml"))
    except LabError as error:
        raise UsageError(str(error)) from None
    return ExitCode.OK


def _exports(file: Path) -> str:
    settings = read_settings(file)
    if settings is None:
        raise UsageError("There is no lab settings file %s: run lambda-k3s lab up first." % file)
    variables = settings["lambda_k3s_lab"]["environment"]
    exports = ["export %s=%s" % (name, shlex.quote(str(value))) for name, value in variables.items()]
    return "\n".join(exports + ["# then: %s" % by_hand_command(file, settings["lambda_k3s_lab"]["skip_stages"])])


def _print_status(console: Console, status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(status, indent=2, sort_keys=True))
        return
    if not status["settings"]:
        console.print(Text("No lab %s here%s." % (status["name"], " (but containers of it are left: lambda-k3s lab down)" if status["containers"] else "")))
        return
    state = Text("running", style="green") if status["running"] else Text("not running (lambda-k3s lab up starts it again)", style="red")
    console.print(Text.assemble("Lab ", (status["name"], "bold"), ": ", state, "   API ", status["api_url"], "   settings ", status["settings"]))
    console.print(Text(status["k3s"]["note"], style="yellow" if status["k3s"]["source"] == "standin" else ""), soft_wrap=True)
    for stage, reason in status["skip_stages"].items():
        console.print(Text("Stage %s is skipped: %s." % (stage, reason), style="yellow"), soft_wrap=True)
    if status["instances"]:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in ("name", "type", "status", "ip", "private_ip"):
            table.add_column(column, no_wrap=True)
        for instance in status["instances"]:
            table.add_row(*(str(instance.get(column) or "") for column in ("name", "type", "status", "ip", "private_ip")))
        console.print(table)
    elif not status["running"] and status["containers"]:
        console.print(Text("%d node container(s) wait: lambda-k3s lab up%s takes them back." % (len(status["containers"]), _lab_option(status["name"]))))
    else:
        console.print(Text("No instances yet: lambda-k3s provision%s launches the lab's cluster spec." % _lab_option(status["name"])))


def lab_status_without_kubernetes(settings: LabSettings, console: Console, as_json: bool) -> int:
    """status on a lab whose K3s is the stand-in: the instances as the lab's API lists them, and why the cluster's own
    state (nodes Ready, GPUs, device plugin, release) is not read."""
    status = Lab(settings.file.parent, name=settings.name, network_index=int(settings.lab["network_index"])).status()
    reason = settings.skip_stages["cluster"]
    if as_json:
        print(json.dumps({"instances": status["instances"], "skipped": [{"stage": "status", "reason": reason}]}, indent=2, sort_keys=True))
        return ExitCode.OK
    _print_status(console, status, False)
    console.print(Text("Not checked: the nodes' Kubernetes state (Ready, GPUs, device plugin, release): %s." % reason, style="yellow"),
                  soft_wrap=True)
    return ExitCode.OK
