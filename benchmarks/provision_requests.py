# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How many requests does provisioning the example cluster send, and how close does it come to the floor Lambda's limits set?

Runs playbooks/provision.yml with the example spec (one server and four GPU workers, N = 5) against the emulator
enforcing Lambda's real limits — one request per second, one launch per 12 seconds — with the collection's own
pacing (request_interval 1.1 s, launch_interval 12 s), then counts the requests the emulator received and times the run.

The floor is what those limits alone impose on the run's R requests:

    floor = (N - 1) x launch_interval  +  (R - (N - 1)) x request_interval

the N launches are at least launch_interval apart, and every other request (and the first launch) takes a pacing
interval. The nodes boot while the run polls for them, so their boot is in the floor as the polls it costs. A run
cannot be faster than its floor without sending fewer requests; the ratio to it measures everything else (Ansible's
start-up and task overhead, waits the pacing could not fill).
The goal is R <= 2 N + a small constant and a wall time within 1.1 x the floor.

    .venv/bin/python benchmarks/provision_requests.py                    # 3 runs at the real limits, about 4 minutes
    .venv/bin/python benchmarks/provision_requests.py --repeats 1
    .venv/bin/python benchmarks/provision_requests.py --checkout /tmp/main-export   # the same, for another checkout

--time-scale shortens every limit, interval and boot by the same factor; Ansible's own start-up does not shrink with
them, so scaled runs overstate the ratio to the floor. --checkout measures another checkout of the collection (for
example an export of the main branch) with this harness, so the two can be compared within one run.
"""

from __future__ import annotations

import argparse
import collections
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "tests"), str(REPO_ROOT / "collections")]

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_pacing import (  # noqa: E402
    DEFAULT_LAUNCH_INTERVAL,
    DEFAULT_REQUEST_INTERVAL,
)
from integration.helpers import EmulatorProcess, ansible_env, provision_overrides, run_ansible  # noqa: E402

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
NODES = 5
BOOT_SECONDS = 5.0
POLL_SECONDS = 2.0


def provision_once(checkout: Path, scale: float, scratch: Path) -> dict:
    """One provision of the example cluster on a fresh emulator at Lambda's limits (times ``scale``)."""
    directory = Path(tempfile.mkdtemp(dir=scratch))
    overrides = provision_overrides(directory, lambda_cluster_launch_interval=DEFAULT_LAUNCH_INTERVAL * scale,
                                    lambda_cluster_poll_interval=POLL_SECONDS * scale, lambda_cluster_wait_timeout=600)
    with EmulatorProcess(rate_limit=1, launch_interval=DEFAULT_LAUNCH_INTERVAL, boot_seconds=BOOT_SECONDS, time_scale=scale) as emulator:
        env = ansible_env(directory, HOME=str(directory), **{**emulator.environment(),
                                                             "LAMBDA_REQUEST_INTERVAL": repr(DEFAULT_REQUEST_INTERVAL * scale),
                                                             "ANSIBLE_CONFIG": str(checkout / "ansible.cfg"),
                                                             "ANSIBLE_COLLECTIONS_PATH": str(checkout / "collections")})
        started = time.monotonic()
        result = run_ansible(["ansible-playbook", str(checkout / "playbooks" / "provision.yml"),
                              "-e", "@%s" % (checkout / "playbooks" / "vars" / "cluster_example.yml"), "-e", "@%s" % overrides],
                             env, cwd=checkout, timeout=1800)
        seconds = time.monotonic() - started
        records = emulator.requests()
        active = [item for item in emulator.control("GET", "state")["instances"] if item["status"] == "active"]
    if result.returncode != 0 or len(active) != NODES:
        raise SystemExit("provision did not bring up %d nodes (exit %d):\n%s\n%s"
                         % (NODES, result.returncode, result.stdout[-3000:], result.stderr[-3000:]))
    kinds = collections.Counter("%s %s" % (record["method"], (record["path_template"] or record["path"]).replace("/api/v1", "", 1))
                                for record in records)
    requests = len(records)
    floor = ((NODES - 1) * DEFAULT_LAUNCH_INTERVAL + (requests - (NODES - 1)) * DEFAULT_REQUEST_INTERVAL) * scale
    return {"seconds": seconds, "requests": requests, "rate_limited": sum(record["status"] == 429 for record in records),
            "floor_seconds": floor, "ratio_to_floor": seconds / floor, "by_kind": dict(sorted(kinds.items()))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=3, help="provision runs")
    parser.add_argument("--time-scale", type=float, default=1.0, help="multiply every limit, interval and boot by this")
    parser.add_argument("--checkout", type=Path, default=REPO_ROOT, help="the checkout whose provision.yml to measure")
    args = parser.parse_args()
    samples = []
    with tempfile.TemporaryDirectory(prefix="provision-requests-") as scratch:
        for repeat in range(args.repeats):
            sample = provision_once(args.checkout.resolve(), args.time_scale, Path(scratch))
            samples.append(sample)
            print("run %d  %6.1f s  %3d requests (%.1f per node, %d answered 429)  floor %5.1f s  ratio %.3f"
                  % (repeat + 1, sample["seconds"], sample["requests"], sample["requests"] / NODES, sample["rate_limited"],
                     sample["floor_seconds"], sample["ratio_to_floor"]), flush=True)
    keys = ("seconds", "requests", "floor_seconds", "ratio_to_floor", "rate_limited")
    median = {key: statistics.median(sample[key] for sample in samples) for key in keys}
    print("median  %6.1f s  %g requests for %d nodes (goal: at most 2 per node plus a small constant)  floor %.1f s  "
          "ratio %.3f (goal: at most 1.1)" % (median["seconds"], median["requests"], NODES, median["floor_seconds"], median["ratio_to_floor"]))
    print("requests by kind (last run): %s" % ", ".join("%s x%d" % item for item in samples[-1]["by_kind"].items()))
    RESULTS_DIR.mkdir(exist_ok=True)
    output = RESULTS_DIR / ("provision-requests-%s.json" % time.strftime("%Y%m%dT%H%M%S"))
    output.write_text(json.dumps({"python": platform.python_version(), "machine": platform.machine(), "checkout": str(args.checkout),
                                  "time_scale": args.time_scale, "nodes": NODES, "boot_seconds": BOOT_SECONDS,
                                  "median": median, "samples": samples}, indent=2))
    print("results: %s" % output.relative_to(REPO_ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
