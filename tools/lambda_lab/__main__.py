# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's emulator process: ``python -m lambda_lab serve <lab.yml>`` (started by ``lambda-k3s lab up``).

Serves the Lambda Cloud API on the settings file's URL with a node container behind every instance, after taking
back the containers an earlier run of the lab left, until SIGTERM or SIGINT.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

from lambda_emulator import LambdaEmulator
from lambda_lab.containers import MAX_NODES, Addresses, ContainerBackend
from lambda_lab.lab import read_settings


def serve(settings_file: Path) -> int:
    settings = read_settings(settings_file)
    if settings is None:
        print("lambda_lab: %s is not a lab settings file" % settings_file, file=sys.stderr)
        return 2
    lab = settings["lambda_k3s_lab"]
    api_key = Path(lab["api_key_file"]).read_text(encoding="utf-8").strip()
    # Boot and termination take as long as the containers do; the rate limits are the real API's, scaled.
    emulator = LambdaEmulator(port=urlsplit(lab["api_url"]).port, api_keys=[api_key], time_scale=float(lab["time_scale"]),
                              boot_seconds=0, terminate_seconds=0, instance_quota=MAX_NODES)
    backend = ContainerBackend(lab["name"], Addresses(int(lab["network_index"])))
    emulator.cloud.backend = backend
    adopted = backend.adopt()
    if adopted:
        emulator.seed_instances(adopted)
        print("lambda_lab: took back %d node container(s) from an earlier run" % len(adopted), flush=True)
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    emulator.start()
    print("lambda_lab: serving %s" % emulator.url, flush=True)
    reported: set[str] = set()
    while not stop.wait(1.0):
        for name, error in backend.errors().items():
            if name not in reported:
                reported.add(name)
                print("lambda_lab: %s: %s" % (name, error), flush=True)
    emulator.stop()
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "serve":
        print("usage: python -m lambda_lab serve <lab.yml>", file=sys.stderr)
        return 2
    return serve(Path(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
