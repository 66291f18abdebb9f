# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lambda-k3s: the command line. Parses the arguments, hands them to a verb, and turns errors into exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from lambda_k3s_cli import __version__
from lambda_k3s_cli.display import MODES
from lambda_k3s_cli.outcome import ExitCode, UsageError
from lambda_k3s_cli.verbs import STATE_HELP, VERBS

EPILOG = """exit codes: 0 success, 1 error, 2 bad input (nothing changed), 3 a task failed on a host,
4 a host was unreachable (and none failed), 130 canceled. Documentation: docs/cli.md."""


def common_options() -> argparse.ArgumentParser:
    """Options every verb takes, after the verb (lambda-k3s deploy --cluster demo)."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument("--cluster", metavar="NAME", help="the cluster: instances tagged k3s-cluster=NAME (default: $LAMBDA_K3S_CLUSTER)")
    group.add_argument("-i", "--inventory", metavar="PATH", help="the inventory (default: the checkout's inventories/lambda.py)")
    group.add_argument("--api-key-file", metavar="FILE", help="a file (mode 600) holding the Lambda Cloud API key (default: $LAMBDA_API_KEY_FILE)")
    group.add_argument("--ssh-key", metavar="FILE", help="the SSH private key for the nodes")
    group.add_argument("--lab", nargs="?", const="lab", metavar="NAME",
                       help="run against the local lab NAME (default lab), which is also used when no Lambda key is configured")
    group.add_argument("-e", "--extra-vars", action="append", default=[], metavar="VARS",
                       help="extra variables as for ansible-playbook: @file, key=value or JSON (repeatable)")
    group.add_argument("--artifacts-dir", metavar="DIR",
                       help="where each run's artifacts go (default: $LAMBDA_K3S_ARTIFACTS_DIR, else <state>/runs; %s)" % STATE_HELP)
    group.add_argument("--keep-runs", type=int, metavar="N", help="runs kept in the artifacts directory (default: $LAMBDA_K3S_KEEP_RUNS, 20)")
    group.add_argument("--progress", choices=MODES, default="auto",
                       help="live: redrawn in place; plain: a line per event (CI logs); auto: live on a terminal (default)")
    group.add_argument("--project-dir", metavar="DIR", help="the collection checkout to run (default: $LAMBDA_K3S_PROJECT_DIR, else the "
                                                            "checkout lambda-k3s was installed from)")
    group.add_argument("-v", "--verbose", action="count", default=0, help="more detail in the run's artifacts (ansible-playbook -v)")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lambda-k3s", description="Run the sophia.lambda_k3s pipeline: Lambda Cloud GPU instances "
                                     "to a K3s cluster.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    verbs = parser.add_subparsers(dest="verb_name", metavar="VERB", required=True)
    common = common_options()
    for verb in VERBS:
        sub = verbs.add_parser(verb.name, help=verb.help, description=verb.description, parents=[common], epilog=EPILOG,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        verb.add_arguments(sub)
        sub.set_defaults(verb=verb)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    errors = Console(stderr=True, highlight=False)
    try:
        from lambda_k3s_cli.session import Session

        session = Session(args, json_output=args.verb.json_output and getattr(args, "json", False))
        return int(args.verb.run(args, session))
    except UsageError as error:
        errors.print(Text("lambda-k3s %s: %s" % (args.verb_name, error), style="red"), soft_wrap=True)
        return int(ExitCode.BAD_INPUT)
    except KeyboardInterrupt:
        errors.print(Text("lambda-k3s %s: interrupted" % args.verb_name, style="red"))
        return int(ExitCode.CANCELED)


if __name__ == "__main__":
    sys.exit(main())
