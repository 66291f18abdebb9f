"""The pytest fixtures: marker merging, and failing a test whose responses break the spec."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from lambda_emulator import LambdaEmulator

TESTS_DIR = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.lambda_emulator(boot_seconds=42, instance_quota=5)


@pytest.mark.lambda_emulator(instance_quota=7)
def test_markers_merge_closest_first(lambda_emulator: LambdaEmulator) -> None:
    config = lambda_emulator.config
    assert (config.boot_seconds, config.instance_quota, config.time_scale) == (42, 7, 0.01)
    assert config.rate_limit_per_second is None and config.launch_interval_seconds is None


def test_factory_makes_independent_emulators(lambda_emulator_factory) -> None:
    first, second = lambda_emulator_factory(), lambda_emulator_factory(validate_responses=False)
    assert first.port != second.port
    assert first.response_hook is not None and second.response_hook is None


def test_off_spec_response_fails_the_test(tmp_path: Path) -> None:
    # A 400 on DELETE /filesystems/{id} must carry the spec's filesystem-in-use code; this one does not.
    (tmp_path / "test_off_spec.py").write_text(textwrap.dedent("""
        import urllib.request, urllib.error
        from lambda_emulator import Fault

        def test_it(lambda_emulator):
            lambda_emulator.add_fault(Fault.server_error(400, path="/filesystems"))
            request = urllib.request.Request(lambda_emulator.url + "/filesystems/x", method="DELETE")
            try:
                urllib.request.urlopen(request, timeout=5)
            except urllib.error.HTTPError as error:
                assert error.code == 400
    """))
    environment = {**os.environ, "PYTHONPATH": str(TESTS_DIR)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "lambda_emulator.fixtures", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path)],
        capture_output=True, text=True, env=environment, timeout=60, cwd=tmp_path, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed, 1 error" in result.stdout
    assert "filesystem-in-use" in result.stdout
