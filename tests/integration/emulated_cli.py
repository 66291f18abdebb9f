"""lambda-k3s against nodes the Lambda API emulator describes, for the Molecule scenario `pipeline`.

Starts an emulator, seeds it with one set of instances from a YAML file (their addresses are the scenario's node
containers', published on loopback), runs the command with a clean environment, the emulator's address and a key
file, stops the emulator, and prints the outcome as JSON: the exit code, the run's summary.json and the output's end.

    python -m integration.emulated_cli --seeds seeds.yml --set pipeline --home DIR -- deploy --cluster pipeline ...

The command's state (run artifacts, SSH host keys) stays in DIR/state between calls, as it would for a user.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from integration.cli import cli_env, run_cli, runs
from integration.helpers import EmulatorProcess

OUTPUT_TAIL = 8000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m integration.emulated_cli", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--seeds", type=Path, required=True, help="YAML file: a mapping of set names to lists of instance seeds")
    parser.add_argument("--set", dest="seed_set", required=True, help="the set of instances the emulator holds")
    parser.add_argument("--home", type=Path, required=True, help="where the command keeps its state")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="lambda-k3s's arguments, after --")
    args = parser.parse_args(argv)
    arguments = args.arguments[1:] if args.arguments[:1] == ["--"] else args.arguments
    instances = yaml.safe_load(args.seeds.read_text(encoding="utf-8"))[args.seed_set]
    args.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    with EmulatorProcess(time_scale=0.01) as emulator:
        emulator.seed(instances)
        key_file = args.home / "lambda_api_key"
        key_file.write_text(emulator.api_key + "\n")
        key_file.chmod(0o600)
        settings = emulator.environment()
        del settings["LAMBDA_API_KEY"]
        env = cli_env(args.home, LAMBDA_API_KEY_FILE=str(key_file), **settings)
        before = set(runs(env))
        result = run_cli(arguments, env, timeout=1800)
        new_runs = [run for run in runs(env) if run not in before]
    summary = json.loads((new_runs[-1] / "summary.json").read_text()) if new_runs else {}
    json.dump({"returncode": result.returncode, "summary": summary, "output": (result.stdout + result.stderr)[-OUTPUT_TAIL:]},
              sys.stdout, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
