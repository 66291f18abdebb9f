# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How provisioning and converging grow with the nodes, on the local lab, through the command line.

For each lab size N (default 1, 3 and 6 nodes: one server, N-1 agents), in one run of this script:

1. ``lambda-k3s lab up --nodes N --time-scale 1.0``: the emulator enforces Lambda's real limits (one request per
   second, one launch per 12 s) and every instance is a node container;
2. ``lambda-k3s provision``: wall time, and the requests the emulator answered (by its own log), next to the floor
   ``(N - 1) x 12 s + (R - (N - 1)) x 1.1 s`` (N launches 12 s apart, every other request one pacing interval);
3. ``lambda-k3s deploy`` (site.yml) twice: the first converge, then the rerun on the converged lab (its changes must
   be 0);
4. teardown and ``lab down``.

Ratios, not seconds, are the result: converge(N) / converge(1) and rerun / first converge, within this run, since the
machine's load moves every absolute figure. Nothing here is asserted; the results go to
benchmarks/results/lab-converge-<timestamp>.json and are summarised in benchmarks/README.md.

    .venv/bin/python benchmarks/lab_converge.py [--nodes 1 3 6]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
LAMBDA_K3S = Path(sys.executable).with_name("lambda-k3s")
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
LAB = "bench"
NETWORK_INDEX = "62"
PACING = 1.1
LAUNCH_INTERVAL = 12.0


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy since boot (/proc/stat): the controller and every node container."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def controller_cpu_seconds() -> float:
    """CPU time of this process's finished children: lambda-k3s, ansible-playbook, its forks and their ssh clients."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def lambda_k3s(arguments: list[str], env: dict[str, str]) -> tuple[float, dict]:
    """Run the command; its wall time and its run's summary (empty for the lab verb), with the CPU it cost in the summary."""
    runs = Path(env["LAMBDA_K3S_STATE_DIR"]) / "runs"
    before = set(runs.iterdir()) if runs.exists() else set()
    machine_before, controller_before = machine_cpu_seconds(), controller_cpu_seconds()
    started = time.monotonic()
    result = subprocess.run([str(LAMBDA_K3S), *arguments, "--lab", LAB], env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    cpu = {"machine_cpu_seconds": machine_cpu_seconds() - machine_before, "controller_cpu_seconds": controller_cpu_seconds() - controller_before}
    if result.returncode != 0:
        raise SystemExit("lambda-k3s %s failed (%d):\n%s" % (" ".join(arguments), result.returncode, (result.stdout + result.stderr)[-3000:]))
    new = sorted(set(runs.iterdir()) - before) if runs.exists() else []
    summary = json.loads((new[-1] / "summary.json").read_text()) if new else {}
    return elapsed, {**summary, **cpu}


def emulator_requests(state: Path) -> list[dict]:
    settings = yaml.safe_load((state / ("lab-%s" % LAB) / "lab.yml").read_text())
    url = settings["lambda_k3s_lab"]["api_url"].rsplit("/api/v1", 1)[0] + "/_emulator/requests"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())["requests"]


def measure(nodes: int, env: dict[str, str], state: Path) -> dict:
    lambda_k3s(["lab", "up", "--nodes", str(nodes), "--time-scale", "1.0", "--k3s", "standin", "--network-index", NETWORK_INDEX], env)
    try:
        provision_seconds = lambda_k3s(["provision", "--progress", "plain"], env)[0]
        requests = [record for record in emulator_requests(state) if record.get("path", "").startswith("/api/v1")]
        floor = (nodes - 1) * LAUNCH_INTERVAL + (len(requests) - (nodes - 1)) * PACING
        first_seconds, first = lambda_k3s(["deploy", "--progress", "plain"], env)
        rerun_seconds, rerun = lambda_k3s(["deploy", "--progress", "plain"], env)
        lambda_k3s(["teardown", "--confirm", LAB, "--progress", "plain"], env)
    finally:
        subprocess.run([str(LAMBDA_K3S), "lab", "down", "--lab", LAB], env=env, capture_output=True, check=False)
    return {"nodes": nodes, "provision_seconds": round(provision_seconds, 1), "requests": len(requests),
            "rate_limited": sum(1 for record in requests if record.get("status") == 429), "floor_seconds": round(floor, 1),
            "converge_seconds": round(first_seconds, 1), "converge_changed": first.get("changed"),
            "rerun_seconds": round(rerun_seconds, 1), "rerun_changed": rerun.get("changed"),
            "converge_cpu_seconds": round(first["machine_cpu_seconds"], 1), "converge_controller_cpu_seconds": round(first["controller_cpu_seconds"], 1),
            "rerun_cpu_seconds": round(rerun["machine_cpu_seconds"], 1)}


def add_ratios(samples: list[dict]) -> None:
    """Ratios within the run. The CPU floor is the busy CPU time spread over every core: no schedule of the run's work
    on this machine can finish sooner, so converge / CPU floor near 1 means the run is bound by the machine, not by
    the playbooks' order."""
    base = samples[0]
    cores = os.cpu_count() or 1
    for sample in samples:
        sample["cores"] = cores
        sample["converge_vs_first_size"] = round(sample["converge_seconds"] / base["converge_seconds"], 2)
        sample["rerun_vs_converge"] = round(sample["rerun_seconds"] / sample["converge_seconds"], 2)
        sample["provision_vs_floor"] = round(sample["provision_seconds"] / sample["floor_seconds"], 2)
        sample["converge_cpu_floor_seconds"] = round(sample["converge_cpu_seconds"] / cores, 1)
        sample["converge_vs_cpu_floor"] = round(sample["converge_seconds"] / sample["converge_cpu_floor_seconds"], 2)
        sample["converge_cpu_per_node_seconds"] = round(sample["converge_cpu_seconds"] / sample["nodes"], 1)


def print_tables(samples: list[dict]) -> None:
    base = samples[0]
    print("\n| nodes | provision | requests | 429s | floor | provision / floor |")
    print("|---|---|---|---|---|---|")
    for sample in samples:
        print("| %(nodes)d | %(provision_seconds).1f s | %(requests)d | %(rate_limited)d | %(floor_seconds).1f s | %(provision_vs_floor).2f |"
              % sample)
    print("\n| nodes | converge | converge / converge(%d) | CPU busy (controller) | per node | CPU floor (%d cores) | converge / CPU floor "
          "| rerun | changes | rerun / converge | rerun CPU busy |" % (base["nodes"], base["cores"]))
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for sample in samples:
        print("| %(nodes)d | %(converge_seconds).1f s | %(converge_vs_first_size).2f | %(converge_cpu_seconds).1f s "
              "(%(converge_controller_cpu_seconds).1f s) | %(converge_cpu_per_node_seconds).1f s | %(converge_cpu_floor_seconds).1f s "
              "| %(converge_vs_cpu_floor).2f | %(rerun_seconds).1f s | %(rerun_changed)s | %(rerun_vs_converge).2f | %(rerun_cpu_seconds).1f s |"
              % sample)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 3, 6])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lab-bench-") as home:
        state = Path(home) / "state"
        env = {name: value for name, value in os.environ.items() if not name.startswith(("LAMBDA_", "ANSIBLE_"))}
        env.update(LAMBDA_K3S_STATE_DIR=str(state), ANSIBLE_HOME=str(Path(home) / "ansible"), ANSIBLE_LOCAL_TEMP=str(Path(home) / "tmp"))
        samples = []
        for nodes in args.nodes:
            sample = measure(nodes, env, state)
            samples.append(sample)
            print(json.dumps(sample), flush=True)
    add_ratios(samples)
    print_tables(samples)
    RESULTS_DIR.mkdir(exist_ok=True)
    result_file = RESULTS_DIR / ("lab-converge-%s.json" % time.strftime("%Y%m%dT%H%M%S"))
    result_file.write_text(json.dumps(samples, indent=2) + "\n")
    print("\nSamples: %s" % result_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
