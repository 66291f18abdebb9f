"""Playbooks that cannot run on the test machines still parse and resolve everything they use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def test_verify_gpu_passes_syntax_check_and_lists_its_tasks():
    env = dict(os.environ, PATH="%s%s%s" % (BIN, os.pathsep, os.environ.get("PATH", "")))
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    for check in ("--syntax-check", "--list-tasks"):
        result = subprocess.run([str(BIN / "ansible-playbook"), "playbooks/verify_gpu.yml", "-i", "localhost,", check],
                                cwd=REPO, capture_output=True, text=True, env=env, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
    assert "Check that the node can serve GPU pods" in result.stdout
    assert "Check each pod listed its node's GPUs" in result.stdout
