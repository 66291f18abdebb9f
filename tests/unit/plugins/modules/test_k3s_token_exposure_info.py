"""k3s_token_exposure_info: where a token could be read, never the token itself."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from unit.plugins.modules.module_harness import run_module

from ansible_collections.sophia.lambda_k3s.plugins.modules import k3s_token_exposure_info

SECRET = "Zq81-unit-test-only-token-value"


@pytest.fixture
def token_file(tmp_path) -> str:
    path = tmp_path / "token"
    path.write_text("K10%s::server:%s\n" % ("ab" * 32, SECRET))
    path.chmod(0o600)
    return str(path)


def scan(token_file: str, root) -> dict:
    return run_module(k3s_token_exposure_info.main, {"token_files": [token_file, "/nonexistent/token"], "paths": [str(root)]})


def test_nothing_exposed(token_file, tmp_path) -> None:
    (tmp_path / "config.yaml").write_text("token-file: /etc/rancher/k3s/token\n")
    result = scan(token_file, tmp_path)
    assert result["tokens_checked"] == 1 and result["exposures"] == []


def test_world_readable_files_holding_the_secret_are_found_and_private_ones_are_not(token_file, tmp_path) -> None:
    public, private = tmp_path / "unit.service", tmp_path / "private.env"
    public.write_text("ExecStart=/usr/local/bin/k3s agent --token %s\n" % SECRET)
    public.chmod(0o644)
    private.write_text("K3S_TOKEN=%s\n" % SECRET)
    private.chmod(0o600)
    os.symlink(public, tmp_path / "link-to-unit")
    result = scan(token_file, tmp_path)
    assert result["exposures"] == [{"kind": "world-readable file", "location": str(public)}]
    assert SECRET not in repr(result)


def test_a_process_command_line_holding_the_secret_is_found(token_file, tmp_path) -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(30)", "--token", SECRET],
                               stdout=subprocess.PIPE, text=True)
    try:
        # Once it prints, the child has replaced the forked test process: its command line is its own.
        assert process.stdout.readline() == "ready\n"
        result = scan(token_file, tmp_path)
    finally:
        process.kill()
        process.wait()
    assert any(entry["kind"] == "command line" and entry["location"].startswith("/proc/%d (" % process.pid)
               for entry in result["exposures"])
    assert SECRET not in repr(result)


def test_short_tokens_are_not_searched(tmp_path) -> None:
    short = tmp_path / "token"
    short.write_text("abc\n")
    result = run_module(k3s_token_exposure_info.main, {"token_files": [str(short)], "paths": [str(tmp_path)]})
    assert result["tokens_checked"] == 0 and result["exposures"] == []
