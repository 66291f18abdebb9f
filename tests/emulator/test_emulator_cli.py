"""python -m lambda_emulator: prints its URL, serves, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from lambda_emulator import DEFAULT_API_KEY

TESTS_DIR = Path(__file__).resolve().parents[1]


def start_cli(*arguments: str) -> tuple[subprocess.Popen[str], str]:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable, "-m", "lambda_emulator", "--port", "0", *arguments],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    ready = select.select([process.stdout], [], [], 15)[0]
    if not ready:
        process.kill()
        pytest.fail("the emulator printed nothing within 15 s")
    line = process.stdout.readline().strip()
    assert line.startswith("LAMBDA_EMULATOR_URL=http://127.0.0.1:"), (line, process.stderr.read() if process.poll() else "")
    return process, line.partition("=")[2]


def get(url: str, key: str = DEFAULT_API_KEY) -> object:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=5) as reply:
        return json.load(reply)


def stop(process: subprocess.Popen[str], signal_number: int = signal.SIGTERM) -> int:
    process.send_signal(signal_number)
    try:
        return process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_and_exits_cleanly(signal_number: int) -> None:
    process, url = start_cli("--time-scale", "0.01", "--boot-seconds", "1")
    try:
        assert url.endswith("/api/v1")
        assert "gpu_1x_a10" in get(url + "/instance-types")["data"]
        config = get(url.replace("/api/v1", "/_emulator/config"))
        assert (config["time_scale"], config["boot_seconds"]) == (0.01, 1.0)
    finally:
        assert stop(process, signal_number) == 0


def test_cli_api_keys_and_state_file(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps({"instances": [{"name": "from-file"}]}))
    process, url = start_cli("--api-key", "secret_cli.key", "--state-file", str(state_file), "--no-retry-after")
    try:
        assert [item["name"] for item in get(url + "/instances", "secret_cli.key")["data"]] == ["from-file"]
        assert get(url.replace("/api/v1", "/_emulator/config"))["retry_after"] is False
    finally:
        assert stop(process) == 0


def test_cli_needs_only_the_compact_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain clone has no ../shared: the emulator validates with the schema shipped in tests/."""
    monkeypatch.setenv("LAMBDA_OPENAPI_SPEC", str(tmp_path / "missing.json"))
    process, url = start_cli()
    try:
        assert get(url + "/instances") == {"data": []}
    finally:
        assert stop(process) == 0
