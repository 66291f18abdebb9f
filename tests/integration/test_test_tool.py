"""tools/test.sh itself: what it leaves on the machine besides the checkout."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from integration.helpers import REPO_ROOT

pytestmark = pytest.mark.integration


def test_sanity_keeps_ansible_tests_pip_bootstrap_out_of_the_users_home(tmp_path: Path) -> None:
    """ansible-test caches its pip bootstrap in ~/.ansible/test/cache and uses it for every collection on the machine
    from then on: the stand-in tools/test.sh writes must stay in the project's own scratch space."""
    home = tmp_path / "home"
    home.mkdir()
    real_home = Path(os.path.expanduser("~"))
    env = dict(os.environ, HOME=str(home), TMPDIR=str(tmp_path),
               # pip's own configuration (package index, certificates) and cache stay where the user has them.
               XDG_CONFIG_HOME=os.environ.get("XDG_CONFIG_HOME", str(real_home / ".config")),
               XDG_CACHE_HOME=os.environ.get("XDG_CACHE_HOME", str(real_home / ".cache")))
    result = subprocess.run([str(REPO_ROOT / "tools" / "test.sh"), "sanity", "--", "--test", "shebang"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert not (home / ".ansible").exists(), "tools/test.sh wrote into the user's ~/.ansible"
    scratch = REPO_ROOT / ".cache" / "ansible-test"
    if len(str(scratch)) <= 45:
        assert list((scratch / ".ansible" / "test" / "cache").glob("get_pip_*.py")), "the bootstrap stand-in is in .cache/"
