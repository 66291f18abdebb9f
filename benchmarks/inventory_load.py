# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long does the Lambda Cloud inventory take to load, compared with a static inventory?

Seeds an emulator with N instances (default 2,000), then times, in one run and interleaved:

  uncached  ansible-inventory on a lambda_cloud.yml without cache (one GET /instances per load)
  cached    the same with a warm jsonfile cache (no request)
  static    a YAML inventory with the same hosts, groups and variables, generated from the plugin

each as an ``ansible-inventory --list`` subprocess (what a user waits for), and optionally the same
three parsed in this process with InventoryManager (the inventory work alone, without Python and
Ansible start-up). Prints medians, the ratios to static and the API requests per load, and writes
JSON to benchmarks/results/. Timings are reported, never asserted.

    .venv/bin/python benchmarks/inventory_load.py [--instances 2000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "tests"), str(REPO_ROOT / "collections")]

import yaml  # noqa: E402
from integration.helpers import EmulatorProcess, ansible_env, run_ansible  # noqa: E402

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
EXAMPLE_CONFIG = REPO_ROOT / "inventories" / "lambda_cloud.yml"
KINDS = ("uncached", "cached", "static")

# Where the seeded instances go: a spread like a large multi-region fleet.
REGIONS = ("us-east-1", "us-east-3", "us-west-1", "us-west-2", "us-west-3", "us-south-1", "us-south-2", "us-midwest-1",
           "europe-central-1", "asia-northeast-1")
TYPES = ("gpu_8x_h100_sxm5", "gpu_1x_gh200", "gpu_8x_a100_80gb_sxm4", "gpu_1x_a10", "gpu_1x_a6000", "gpu_8x_b200_sxm6",
         "gpu_1x_h100_pcie", "gpu_2x_a6000")
SERVERS = 3
DUPLICATE_EVERY = 50   # every 50th instance reuses the previous one's name
BOOTING_EVERY = 40     # every 40th instance is still booting, without addresses


def instance_specs(count: int) -> list[dict]:
    specs = []
    for index in range(count):
        spec = {"region": REGIONS[index % len(REGIONS)], "instance_type": TYPES[(index // 3) % len(TYPES)],
                "tags": {"k3s-cluster": "bench", "team": "team-%d" % (index % 7)}}
        if index < SERVERS:
            spec["name"] = "bench-server-%d" % index
        elif index % DUPLICATE_EVERY == 0:
            spec["name"] = "bench-gpu-%d" % (index - 1)
        else:
            spec["name"] = "bench-gpu-%d" % index
        if index % 97 == 0 and index >= SERVERS:
            spec["tags"]["k3s-role"] = "server"
        if index % BOOTING_EVERY == 0 and index >= SERVERS:
            spec.update(status="booting", hold_status=True)
        specs.append(spec)
    return specs


def write_configs(directory: Path, emulator: EmulatorProcess) -> dict[str, Path]:
    """The repository's example configuration (inventories/lambda_cloud.yml) pointed at the emulator, with booting
    instances included, without and with a jsonfile cache; and where the static inventory goes."""
    base = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    base.update(api_url=emulator.url, cluster="bench", statuses=["active", "booting"])
    cached = dict(base, cache=True, cache_plugin="ansible.builtin.jsonfile", cache_connection=str(directory / "cache"), cache_timeout=86400)
    paths = {"uncached": directory / "uncached" / "bench.lambda_cloud.yml", "cached": directory / "cached" / "bench.lambda_cloud.yml"}
    for kind, config in (("uncached", base), ("cached", cached)):
        paths[kind].parent.mkdir(parents=True)
        paths[kind].write_text(yaml.safe_dump(config))
    paths["static"] = directory / "static" / "hosts.yml"
    paths["static"].parent.mkdir()
    return paths


def generate_static(paths: dict[str, Path], env: dict) -> dict:
    """The static YAML inventory, from ansible-inventory --export (group variables stay on their groups)."""
    result = run_ansible(["ansible-inventory", "-i", str(paths["uncached"]), "--list", "--yaml", "--export",
                          "--output", str(paths["static"])], env, timeout=600)
    if result.returncode != 0:
        raise SystemExit("could not generate the static inventory: " + result.stderr)
    return yaml.safe_load(paths["static"].read_text().replace("!unsafe", ""))


def time_cli(kind: str, path: Path, env: dict, output: Path, emulator: EmulatorProcess) -> tuple[float, int, int]:
    """(seconds, API requests, hosts) for one ansible-inventory --list."""
    before = emulator.count("GET", "/instances")
    started = time.perf_counter()
    result = run_ansible(["ansible-inventory", "-i", str(path), "--list", "--output", str(output)], env, timeout=600)
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or "Failed to parse" in result.stderr:
        raise SystemExit("%s load failed: %s" % (kind, result.stderr[-2000:]))
    hosts = len(json.loads(output.read_text())["_meta"]["hostvars"])
    return elapsed, emulator.count("GET", "/instances") - before, hosts


class InProcess:
    """The same loads with InventoryManager in this process: inventory work without interpreter start-up."""

    def __init__(self, env: dict):
        for name in ("LAMBDA_API_KEY", "ANSIBLE_CONFIG", "ANSIBLE_HOME", "ANSIBLE_LOCAL_TEMP"):
            os.environ[name] = env[name]
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        from ansible.plugins.loader import init_plugin_loader

        init_plugin_loader([str(REPO_ROOT / "collections")])
        self._manager = InventoryManager
        self._loader = DataLoader

    def time(self, path: Path) -> tuple[float, int]:
        started = time.perf_counter()
        inventory = self._manager(loader=self._loader(), sources=[str(path)])
        return time.perf_counter() - started, len(inventory.hosts)


def summarise(samples: dict[str, list[float]]) -> dict[str, float]:
    return {kind: statistics.median(values) for kind, values in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7, help="subprocess loads per kind")
    parser.add_argument("--in-process-repeats", type=int, default=7, help="in-process loads per kind; 0 skips them")
    args = parser.parse_args(argv)
    if not 1 <= args.instances <= 20000 or not 1 <= args.repeats <= 100 or not 0 <= args.in_process_repeats <= 100:
        parser.error("keep --instances within 1..20000 and repeats within 1..100")

    with tempfile.TemporaryDirectory(prefix="inventory-bench-") as scratch, EmulatorProcess(rate_limit=0, launch_interval=0) as emulator:
        directory = Path(scratch)
        emulator.seed(instance_specs(args.instances))
        env = ansible_env(directory, LAMBDA_API_KEY=emulator.api_key)
        paths = write_configs(directory, emulator)
        static = generate_static(paths, env)
        warm = time_cli("cached", paths["cached"], env, directory / "warm.json", emulator)  # fills the cache

        cli: dict[str, list[float]] = {kind: [] for kind in KINDS}
        requests: dict[str, list[int]] = {kind: [] for kind in KINDS}
        hosts: dict[str, set[int]] = {kind: set() for kind in KINDS}
        for repeat in range(args.repeats):
            # Rotate the order so that no kind always runs first (warm disk caches, CPU boost).
            for kind in KINDS[repeat % 3:] + KINDS[:repeat % 3]:
                seconds, sent, count = time_cli(kind, paths[kind], env, directory / ("%s.json" % kind), emulator)
                cli[kind].append(seconds)
                requests[kind].append(sent)
                hosts[kind].add(count)

        in_process: dict[str, list[float]] = {kind: [] for kind in KINDS}
        if args.in_process_repeats:
            runner = InProcess(env)
            for kind in KINDS:
                runner.time(paths[kind])  # imports and first-use costs are not part of a load
            for repeat in range(args.in_process_repeats):
                for kind in KINDS[repeat % 3:] + KINDS[:repeat % 3]:
                    seconds, count = runner.time(paths[kind])
                    in_process[kind].append(seconds)
                    hosts[kind].add(count)
        # Every answer should be a 200: a 429 or 5xx would mean retries were timed, not loads.
        statuses = Counter(str(record["status"]) for record in emulator.requests("GET", "/instances"))

    report = build_report(args, cli, in_process, requests, hosts, static, warm)
    report["api_response_statuses"] = dict(statuses)
    print_table(report)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / ("inventory_load-%s.json" % time.strftime("%Y%m%dT%H%M%S"))
    out.write_text(json.dumps(report, indent=2, sort_keys=True))
    print("GET /instances answers during the run: %s" % report["api_response_statuses"])
    print("\nwritten to %s" % out.relative_to(REPO_ROOT))
    return 0


def build_report(args, cli, in_process, requests, hosts, static, warm) -> dict:
    cli_median = summarise(cli)
    report = {
        "instances_seeded": args.instances,
        "hosts_per_load": {kind: sorted(counts) for kind, counts in hosts.items()},
        "static_inventory_groups": len(static["all"].get("children", {})),
        "repeats": args.repeats,
        "cli_seconds": cli,
        "cli_median_seconds": cli_median,
        "cli_ratio_to_static": {kind: cli_median[kind] / cli_median["static"] for kind in ("uncached", "cached")},
        "api_requests_per_load": {kind: sorted(set(values)) for kind, values in requests.items()},
        "cache_warm_up": {"seconds": warm[0], "api_requests": warm[1]},
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "emulator": "subprocess on 127.0.0.1, general rate limit off, no spec validation",
    }
    if args.in_process_repeats:
        median = summarise(in_process)
        report.update(in_process_repeats=args.in_process_repeats, in_process_seconds=in_process, in_process_median_seconds=median,
                      in_process_ratio_to_static={kind: median[kind] / median["static"] for kind in ("uncached", "cached")})
    try:
        from ansible.release import __version__ as ansible_core
    except ImportError:
        ansible_core = "unknown"
    report["machine"]["ansible_core"] = ansible_core
    return report


def print_table(report: dict) -> None:
    print("Inventory load, %d instances seeded -> %s hosts (median of %d, ansible-core %s)"
          % (report["instances_seeded"], report["hosts_per_load"]["uncached"], report["repeats"], report["machine"]["ansible_core"]))
    print("%-10s %14s %10s %16s %16s %14s" % ("load", "cli median s", "cli ratio", "in-proc median s", "in-proc ratio", "GET /instances"))
    for kind in KINDS:
        cli = report["cli_median_seconds"][kind]
        in_process = report.get("in_process_median_seconds", {}).get(kind)
        cli_ratio = report["cli_ratio_to_static"].get(kind, 1.0)
        in_ratio = report.get("in_process_ratio_to_static", {}).get(kind, 1.0 if in_process else None)
        in_process_text = "%.3f" % in_process if in_process else "-"
        in_ratio_text = "%.2f" % in_ratio if in_ratio else "-"
        print("%-10s %14.3f %10.2f %16s %16s %14s" % (kind, cli, cli_ratio, in_process_text, in_ratio_text, report["api_requests_per_load"][kind]))


if __name__ == "__main__":
    sys.exit(main())
