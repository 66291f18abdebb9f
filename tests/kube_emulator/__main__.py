"""Run the Kubernetes API emulator in the foreground: ``python3 -m kube_emulator --port 6443 --nodes nodes.json``.

Prints ``KUBE_EMULATOR_URL=http://HOST:PORT`` once listening and serves until stopped. ``--nodes``
seeds nodes from a JSON list of KubeEmulator.seed_node arguments. Python standard library only: the
Molecule scenarios run it inside a test container.
"""

from __future__ import annotations

import argparse
import json
import sys

from .server import KubeEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m kube_emulator", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    parser.add_argument("--nodes", help="JSON file: a list of nodes to seed (name, labels, gpus, reports, ready, taints)")
    args = parser.parse_args(argv)
    emulator = KubeEmulator(args.host, args.port)
    if args.nodes:
        with open(args.nodes, encoding="utf-8") as handle:
            for node in json.load(handle):
                emulator.seed_node(**node)
    print("KUBE_EMULATOR_URL=%s" % emulator.url, flush=True)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
