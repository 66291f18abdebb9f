# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verbs. Each is a Verb in VERBS: its name, a line of help, its own options and what it runs. A new verb (or a
group of verbs, such as a later `lab up|down|status`, which adds sub-parsers in its add_arguments) is one more entry."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.text import Text

from lambda_k3s_cli.environment import state_dir
from lambda_k3s_cli.lab import lab, lab_arguments, lab_status_without_kubernetes
from lambda_k3s_cli.outcome import ExitCode, UsageError
from lambda_k3s_cli.project import StageMap
from lambda_k3s_cli.session import Session, load_spec
from lambda_k3s_cli.views import as_json, render_logs, render_rollback, render_status

LOG_SERVICES = ("k3s", "platform")
_SINCE = re.compile(r"^[1-9][0-9]*[smh]$")


@dataclass(frozen=True)
class Verb:
    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Session], int]
    # Its output is JSON on request (--json): progress and summary then go to standard error.
    json_output: bool = False


# -- shared option groups ----------------------------------------------------------------------------------------


def _check_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="change nothing: report what would change (ansible-playbook --check)")
    parser.add_argument("--diff", action="store_true", help="show the changes made to files (ansible-playbook --diff)")


def _node_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--node", action="append", default=[], metavar="NAME", help="%s (repeatable; default: every node)" % what)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _since(value: str) -> str:
    if not _SINCE.match(value):
        raise argparse.ArgumentTypeError("a duration such as 30s, 15m or 2h")
    return value


# -- provision and teardown ------------------------------------------------------------------------------------


def _provision_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", help="the cluster spec (format: playbooks/vars/cluster_example.yml; default with a lab: its own)")
    parser.add_argument("--ssh-public-key", metavar="FILE", help="the public key Lambda installs on the nodes (overrides the spec's)")
    _check_options(parser)


def _spec_cluster(session: Session, spec: dict) -> str:
    """The cluster a spec names, which --cluster or LAMBDA_K3S_CLUSTER may not contradict."""
    name = spec["lambda_cluster_name"]
    if session.cluster and session.cluster != name:
        raise UsageError("The cluster spec names cluster %s, but --cluster or LAMBDA_K3S_CLUSTER says %s: make them agree." % (name, session.cluster))
    return name


def provision(args: argparse.Namespace, session: Session) -> int:
    if not args.spec and session.lab:
        # The lab's settings file is a cluster spec too; it is already among the run's extra variables.
        args.spec = str(session.lab.file)
    if not args.spec:
        raise UsageError("Give the cluster spec to provision (format: playbooks/vars/cluster_example.yml).")
    spec = load_spec(args.spec)
    session.cluster = _spec_cluster(session, spec)
    variables = {}
    if args.ssh_public_key:
        public_key = Path(args.ssh_public_key).expanduser()
        if not public_key.is_file():
            raise UsageError("The SSH public key %s does not exist: check --ssh-public-key." % public_key)
        variables["lambda_cluster_ssh_public_key_file"] = str(public_key.resolve())
    spec_vars = [] if session.lab and Path(args.spec).resolve() == session.lab.file.resolve() else ["@%s" % Path(args.spec).expanduser().resolve()]
    request = session.request("provision", session.project.playbook("provision"), extra_vars=spec_vars,
                              variables=variables, check=args.check, diff=args.diff)
    return session.run(request, needs_key=True).code


def _teardown_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", help="the cluster spec (or name the cluster with --cluster)")
    parser.add_argument("--confirm", metavar="NAME", help="the cluster's name, to confirm (asked for on a terminal)")
    parser.add_argument("--keep-firewall-rulesets", action="store_true", help="leave the cluster's firewall rulesets in place")
    parser.add_argument("--delete-ssh-key", action="store_true", help="also delete the spec's SSH key from the account")
    _check_options(parser)


def teardown(args: argparse.Namespace, session: Session) -> int:
    cluster = _spec_cluster(session, load_spec(args.spec)) if args.spec else session.cluster
    if not cluster:
        raise UsageError("Name the cluster to tear down: give its spec, or --cluster NAME.")
    session.cluster = cluster
    confirm = args.confirm
    if confirm is None and sys.stdin.isatty() and not args.check:
        confirm = input("This terminates every instance of cluster %s. Type its name to confirm: " % cluster).strip()
    if confirm != cluster and not args.check:
        raise UsageError("Refusing to tear down %s without confirmation: pass --confirm %s." % (cluster, cluster))
    variables = {"lambda_cluster_name": cluster, "lambda_teardown_confirm": cluster,
                 "lambda_teardown_firewall_rulesets": not args.keep_firewall_rulesets, "lambda_teardown_ssh_key": args.delete_ssh_key}
    extra_vars = ["@%s" % Path(args.spec).expanduser().resolve()] if args.spec else []
    request = session.request("teardown", session.project.playbook("teardown"), extra_vars=extra_vars, variables=variables,
                              check=args.check, diff=args.diff)
    result = session.run(request, needs_key=True)
    if result.code == ExitCode.OK and not args.check:
        # Lambda gives a terminated instance's address to the next one: forget the cluster's host keys.
        session.known_hosts.unlink(missing_ok=True)
    return result.code


# -- deploy and run -------------------------------------------------------------------------------------------


def _deploy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", action="append", default=[], metavar="STAGE",
                        help="run only this stage of site.yml: preflight, gpu, k3s, cluster, platform, or an add-on stage "
                             "(secrets, monitoring, gitops) switched on by its variable (repeatable)")
    parser.add_argument("--skip-stage", action="append", default=[], metavar="STAGE", help="leave this stage out (repeatable)")
    _node_option(parser, "only this node")
    _check_options(parser)


def deploy(args: argparse.Namespace, session: Session) -> int:
    playbook = session.project.playbook("site")
    stage_map = session.project.stage_map(playbook)
    unknown = [stage for stage in args.stage + args.skip_stage if stage not in stage_map.stages]
    if unknown:
        raise UsageError("Unknown stage %s: the stages of site.yml are %s." % (", ".join(unknown), ", ".join(stage_map.stages)))
    skip_reasons = {stage: reason for stage, reason in (session.lab.skip_stages if session.lab else {}).items()
                    if stage in stage_map.stages and stage not in args.stage}
    return _run_playbook(args, session, "deploy", playbook, stage_map, args.stage, args.skip_stage + sorted(set(skip_reasons) - set(args.skip_stage)),
                         skip_reasons)


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("playbook", help="a playbook of the collection by name (upgrade, reset, verify_k3s...) or a path")
    parser.add_argument("--tags", action="append", default=[], metavar="TAG", help="only tasks with this tag (repeatable)")
    parser.add_argument("--skip-tags", action="append", default=[], metavar="TAG", help="leave out tasks with this tag (repeatable)")
    _node_option(parser, "only this node")
    _check_options(parser)


def run(args: argparse.Namespace, session: Session) -> int:
    playbook = session.project.playbook(args.playbook)
    return _run_playbook(args, session, "run", playbook, session.project.stage_map(playbook), args.tags, args.skip_tags)


def _run_playbook(args: argparse.Namespace, session: Session, verb: str, playbook: Path, stage_map: StageMap,
                  tags: list[str], skip_tags: list[str], skip_reasons: dict[str, str] | None = None) -> int:
    session.check_cluster_chosen()
    not_selected = tuple(stage for stage in stage_map.stages if (tags and stage not in tags) or stage in skip_tags)
    request = session.request(verb, playbook, inventory=str(session.inventory), nodes=args.node, tags=tags, skip_tags=skip_tags,
                              check=args.check, diff=args.diff, stage_map=stage_map, not_selected=not_selected,
                              skip_reasons=skip_reasons or {})
    return session.run(request, needs_key=session.lambda_inventory_options() is not None).code


# -- status, rollback, logs -------------------------------------------------------------------------------------


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the status as JSON on standard output")


def status(args: argparse.Namespace, session: Session) -> int:
    if session.lab and "cluster" in session.lab.skip_stages:
        # The lab's stand-in K3s has no Kubernetes API to read: show the lab's instances and say why, not an empty table.
        return lab_status_without_kubernetes(session.lab, session.output, args.json)
    return _show_published(args, session, "status", "lambda_k3s_status", {}, render_status)


def _rollback_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--revision", type=_positive, metavar="N", help="the release revision to go back to (default: the previous one)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on standard output")
    _check_options(parser)


def rollback(args: argparse.Namespace, session: Session) -> int:
    variables = {"lambda_k3s_rollback_revision": args.revision if args.revision else ""}
    return _show_published(args, session, "rollback", "lambda_k3s_rollback", variables, render_rollback, check=args.check, diff=args.diff)


def _logs_arguments(parser: argparse.ArgumentParser) -> None:
    _node_option(parser, "logs of this node only")
    parser.add_argument("--service", action="append", choices=LOG_SERVICES, default=[],
                        help="k3s (the node's K3s journal) or platform (the platform release's pods); repeatable, default both")
    parser.add_argument("--lines", type=_positive, default=100, metavar="N", help="last lines per node and pod (default 100)")
    parser.add_argument("--since", type=_since, metavar="DURATION", help="only lines newer than this: 30s, 15m, 2h")
    parser.add_argument("--json", action="store_true", help="print the logs as JSON on standard output")


def logs(args: argparse.Namespace, session: Session) -> int:
    variables = {"lambda_k3s_logs_services": args.service or list(LOG_SERVICES), "lambda_k3s_logs_lines": args.lines,
                 "lambda_k3s_logs_since": args.since or ""}
    return _show_published(args, session, "logs", "lambda_k3s_logs", variables, render_logs, nodes=args.node)


def _show_published(args: argparse.Namespace, session: Session, verb: str, key: str, variables: dict,
                    render: Callable[[Console, dict], None], **fields: object) -> int:
    """Run playbooks/<verb>.yml and show what it published under ``key``: as JSON with --json, else with ``render``."""
    session.check_cluster_chosen()
    request = session.request(verb, session.project.playbook(verb), inventory=str(session.inventory), variables=variables,
                              show_messages=False, **fields)
    result = session.run(request, needs_key=session.lambda_inventory_options() is not None, compact=True)
    if result.code != ExitCode.OK:
        return result.code
    data = result.artifact_data.get(key)
    if not isinstance(data, dict):
        session.console.print(Text("playbooks/%s.yml published no %s (set_stats): is it the collection's own?" % (verb, key), style="red"))
        return ExitCode.ERROR
    if args.json:
        print(as_json(data))
    else:
        render(session.output, data)
    return ExitCode.OK


VERBS: tuple[Verb, ...] = (
    Verb("provision", "create the cluster's Lambda Cloud instances from a spec",
         "Launch what the cluster spec asks for and is missing (playbooks/provision.yml); a rerun changes nothing.",
         _provision_arguments, provision),
    Verb("deploy", "run site.yml: preflight, GPU, K3s, cluster, platform",
         "Configure the cluster's nodes, stage by stage (site.yml). A node that fails leaves the run; the others finish.",
         _deploy_arguments, deploy),
    Verb("status", "show the nodes, the device plugin and the platform release",
         "Ask the cluster for its state (playbooks/status.yml) and show it.", _status_arguments, status, json_output=True),
    Verb("rollback", "roll the platform release back",
         "Roll the platform's Helm release back to the previous revision, or to --revision (playbooks/rollback.yml).",
         _rollback_arguments, rollback, json_output=True),
    Verb("logs", "show K3s and platform logs from the nodes",
         "The K3s journal of each node and the logs of the platform's pods, secrets redacted (playbooks/logs.yml).",
         _logs_arguments, logs, json_output=True),
    Verb("teardown", "terminate the cluster's instances",
         "Terminate every instance of the cluster and, by default, its firewall rulesets (playbooks/teardown.yml).",
         _teardown_arguments, teardown),
    Verb("lab", "the local lab: the Lambda API emulator with a node container per instance (up, down, status, env)",
         "Start the local lab (or reuse the running one), remove it, show it, or print its shell exports (docs/lab.md). With no "
         "Lambda Cloud API key configured, the other verbs run against it.", lab_arguments, lambda args, session: lab(args, session.console)),
    Verb("run", "run another playbook of the collection (upgrade, reset, verify_k3s...)",
         "Run a playbook of the checkout with the same progress display, artifacts and exit codes.", _run_arguments, run),
)

# Where the state lives, for the help text.
STATE_HELP = "state (artifacts, SSH host keys): $LAMBDA_K3S_STATE_DIR, default %s" % state_dir()
