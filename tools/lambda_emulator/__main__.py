"""Run the emulator in the foreground: ``python -m lambda_emulator --port 0``.

Prints ``LAMBDA_EMULATOR_URL=http://127.0.0.1:PORT/api/v1`` once listening and
serves until SIGTERM or SIGINT. The control API is at ``/_emulator/`` on the
same port.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from .server import DEFAULT_API_KEY, LambdaEmulator
from .spec import SpecNotFoundError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lambda_emulator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--time-scale", type=float, help="multiplier for every delay and rate-limit window")
    parser.add_argument("--boot-seconds", type=float, help="nominal seconds from booting to active")
    parser.add_argument("--terminate-seconds", type=float, help="nominal seconds from terminating to terminated")
    parser.add_argument("--terminated-visible-seconds", type=float, help="nominal seconds a terminated instance stays listed")
    parser.add_argument("--api-key", action="append", dest="api_keys", metavar="KEY",
                        help=f"a valid API key (repeatable; default {DEFAULT_API_KEY})")
    parser.add_argument("--inactive-api-key", action="append", dest="inactive_api_keys", metavar="KEY",
                        help="a key whose account is inactive (403)")
    parser.add_argument("--rate-limit", type=float, dest="rate_limit_per_second",
                        help="general requests per second per key; 0 switches it off")
    parser.add_argument("--launch-interval", type=float, dest="launch_interval_seconds",
                        help="nominal seconds between launches per key; 0 switches it off")
    parser.add_argument("--no-retry-after", action="store_false", dest="retry_after", default=None,
                        help="send rate-limit 429s without a Retry-After header")
    parser.add_argument("--instance-quota", type=int, help="max non-terminated instances")
    parser.add_argument("--state-file", help="JSON file of resources to seed (see LambdaEmulator.load_state)")
    parser.add_argument("--verbose", action="store_true", default=None, help="log each request to stderr")
    return parser.parse_args(argv)


def emulator_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Only the options given, so EmulatorConfig's defaults apply to the rest."""
    names = ("port", "time_scale", "boot_seconds", "terminate_seconds", "terminated_visible_seconds", "api_keys",
             "inactive_api_keys", "rate_limit_per_second", "launch_interval_seconds", "retry_after",
             "instance_quota", "verbose")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        emulator = LambdaEmulator(state_file=args.state_file, **emulator_settings(args))
    except (SpecNotFoundError, ValueError, OSError) as error:
        print(f"lambda_emulator: {error}", file=sys.stderr)
        return 2
    stop_requested = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop_requested.set())
    emulator.start()
    print(f"LAMBDA_EMULATOR_URL={emulator.url}", flush=True)
    # A timed wait keeps the main thread responsive to signals.
    while not stop_requested.wait(0.2):
        pass
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
