# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lambda-k3s: the daily verbs of a Lambda Cloud K3s cluster (provision, deploy, status, rollback, logs, teardown),
run through ansible-runner against the sophia.lambda_k3s checkout this package belongs to. See docs/cli.md."""

import sys
from pathlib import Path

__version__ = "1.0.0"


def _use_checkout_collection() -> None:
    """The command shares the collection's run ledger (plugins/plugin_utils/run_summary.py): the checkout it is
    installed from (tools/setup.sh installs it in editable mode) is importable as ansible_collections.sophia.lambda_k3s
    through the checkout's collections/ link."""
    collections = Path(__file__).resolve().parents[2] / "collections"
    if collections.is_dir() and str(collections) not in sys.path:
        sys.path.insert(0, str(collections))


_use_checkout_collection()
