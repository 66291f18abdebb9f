# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What does request pacing change for a real provision run under Lambda's 1 request/s limit?

Runs playbooks/provision.yml with the example spec (one server, four GPU workers) against the
emulator with its general rate limit on at the real rate (one request per second, no time scale),
interleaved:

  default  request_interval 1.1 s (the default): requests queue on the controller
  exact    request_interval 1.0 s: exactly the documented limit, without room for jitter
  unpaced  request_interval 0: requests go at once, and 429s are retried with backoff

and reports, per mode, the median wall time, the requests sent and how many were answered 429,
plus each mode's wall time as a ratio to unpaced in the same run. Timings are reported, never
asserted. The launch limit (12 s) is switched off on both sides: it is paced separately, and
leaving it on would only add the same minute to both modes.

    .venv/bin/python benchmarks/provision_pacing.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "tests"), str(REPO_ROOT / "collections")]

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_pacing import DEFAULT_REQUEST_INTERVAL  # noqa: E402
from integration.helpers import EmulatorProcess, ansible_env, provision_overrides, run_ansible  # noqa: E402

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
PROVISION = REPO_ROOT / "playbooks" / "provision.yml"
EXAMPLE_SPEC = REPO_ROOT / "playbooks" / "vars" / "cluster_example.yml"
MODES = {"default": DEFAULT_REQUEST_INTERVAL, "exact": 1.0, "unpaced": 0.0}
BOOT_SECONDS = 5


def provision_once(mode: str, scratch: Path) -> dict:
    """One provision of the example cluster on a fresh emulator; returns its time and request counts."""
    directory = Path(tempfile.mkdtemp(prefix=mode + "-", dir=scratch))
    # No launch spacing (the emulator's launch limit is off too), polls every 2 s.
    overrides = provision_overrides(directory, lambda_cluster_launch_interval=0, lambda_cluster_poll_interval=2,
                                    lambda_cluster_wait_timeout=300)
    with EmulatorProcess(rate_limit=1, launch_interval=0, boot_seconds=BOOT_SECONDS, time_scale=1) as emulator:
        env = ansible_env(directory, HOME=str(directory), **{**emulator.environment(), "LAMBDA_REQUEST_INTERVAL": repr(MODES[mode])})
        started = time.monotonic()
        result = run_ansible(["ansible-playbook", str(PROVISION), "-e", "@%s" % EXAMPLE_SPEC, "-e", "@%s" % overrides], env,
                             timeout=900)
        elapsed = time.monotonic() - started
        statuses = [record["status"] for record in emulator.requests()]
        live = [item for item in emulator.control("GET", "state")["instances"] if item["status"] == "active"]
    if result.returncode != 0 or len(live) != 5:
        raise SystemExit("provision (%s) did not bring up 5 nodes (exit %d):\n%s\n%s"
                         % (mode, result.returncode, result.stdout[-3000:], result.stderr[-3000:]))
    return {"seconds": elapsed, "requests": len(statuses), "rate_limited": statuses.count(429)}


def summarise(runs: dict) -> dict:
    summary = {}
    for mode, samples in runs.items():
        summary[mode] = {"median_seconds": statistics.median(sample["seconds"] for sample in samples),
                         "median_requests": statistics.median(sample["requests"] for sample in samples),
                         "median_rate_limited": statistics.median(sample["rate_limited"] for sample in samples),
                         "samples": samples}
    for mode in MODES:
        summary[mode]["time_ratio_to_unpaced"] = summary[mode]["median_seconds"] / summary["unpaced"]["median_seconds"]
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=3, help="provision runs per mode (interleaved)")
    args = parser.parse_args()
    runs: dict = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="provision-pacing-") as scratch:
        for repeat in range(args.repeats):
            modes = list(MODES)
            order = modes[repeat % len(modes):] + modes[:repeat % len(modes)]  # rotate, so no mode always runs first
            for mode in order:
                sample = provision_once(mode, Path(scratch))
                runs[mode].append(sample)
                print("run %d %-8s %6.1f s  %3d requests  %3d answered 429"
                      % (repeat + 1, mode, sample["seconds"], sample["requests"], sample["rate_limited"]), flush=True)
    summary = summarise(runs)
    for mode in MODES:
        print("%-8s (%.1f s) median %6.1f s (%.2f of unpaced), %g requests, %g answered 429"
              % (mode, MODES[mode], summary[mode]["median_seconds"], summary[mode]["time_ratio_to_unpaced"],
                 summary[mode]["median_requests"], summary[mode]["median_rate_limited"]))
    RESULTS_DIR.mkdir(exist_ok=True)
    output = RESULTS_DIR / ("provision-pacing-%s.json" % time.strftime("%Y%m%dT%H%M%S"))
    output.write_text(json.dumps({"python": platform.python_version(), "machine": platform.machine(), "repeats": args.repeats,
                                  **summary}, indent=2))
    print("results: %s" % output.relative_to(REPO_ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
