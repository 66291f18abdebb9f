"""The README's ansible-runner snippet, run as written against the emulator.

Only what a user fills in is replaced: the checkout's path, the key file's path and, when the
tests' environment is not the checkout's .venv, the directory of the Ansible commands. The
emulator's account has no instance of cluster demo, so site.yml stops at its first play with its
one-sentence message: what is checked is that the snippet itself works (the private data directory
exists, the key file reaches the inventory, no artifact holds the key).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from integration.helpers import PYTHON_BIN, REPO_ROOT, EmulatorProcess

pytestmark = pytest.mark.integration

README = REPO_ROOT / "README.md"
CHECKOUT_PLACEHOLDER = '"/path/to/this/checkout"'
KEY_FILE_PLACEHOLDER = '"/run/secrets/lambda_api_key"'
VENV_BIN = 'os.path.join(checkout, ".venv", "bin")'


def readme_snippet() -> str:
    section = README.read_text(encoding="utf-8").split("## From CI, with ansible-runner", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_snippet_runs_as_written(emulator: EmulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    snippet = readme_snippet()
    for placeholder in (CHECKOUT_PLACEHOLDER, KEY_FILE_PLACEHOLDER, VENV_BIN):
        assert snippet.count(placeholder) == 1, "the README snippet changed: update this test's placeholders (%s)" % placeholder
    key_file = tmp_path / "secrets" / "lambda_api_key"
    key_file.parent.mkdir(mode=0o700)
    key_file.write_text(emulator.api_key + "\n")
    key_file.chmod(0o600)
    snippet = snippet.replace(CHECKOUT_PLACEHOLDER, repr(str(REPO_ROOT))).replace(KEY_FILE_PLACEHOLDER, repr(str(key_file)))
    if PYTHON_BIN != REPO_ROOT / ".venv" / "bin":
        snippet = snippet.replace(VENV_BIN, repr(str(PYTHON_BIN)))
    # ansible-runner passes its own environment on: point it at the emulator and keep ~ in the test's directory.
    for name in [name for name in os.environ if name.startswith(("LAMBDA_", "ANSIBLE_"))]:
        monkeypatch.delenv(name)
    settings = emulator.environment()
    monkeypatch.setenv("LAMBDA_API_URL", settings["LAMBDA_API_URL"])
    monkeypatch.setenv("LAMBDA_REQUEST_INTERVAL", settings["LAMBDA_REQUEST_INTERVAL"])
    monkeypatch.setenv("HOME", str(tmp_path))

    exec(compile(snippet, str(README), "exec"), {})  # noqa: S102  # the README's own code

    private_data_dir = tmp_path / ".cache" / "sophia.lambda_k3s" / "runner"
    assert stat.S_IMODE(private_data_dir.stat().st_mode) == 0o700
    assert capsys.readouterr().out.rstrip().endswith("failed 2"), "site.yml ran and stopped at its first play"
    assert "The inventory has no hosts in k3s_cluster" in "".join(path.read_text() for path in private_data_dir.rglob("stdout"))
    [listing] = emulator.requests("GET", "/instances")
    assert listing["auth_valid"], "the key came from the file"
    leaked = [str(path) for path in private_data_dir.rglob("*") if path.is_file() and emulator.api_key.encode() in path.read_bytes()]
    assert leaked == []
    assert any("LAMBDA_API_KEY_FILE" in path.read_text() for path in private_data_dir.rglob("command"))
