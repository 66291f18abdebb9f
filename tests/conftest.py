"""Shared pytest configuration.

pyproject.toml puts collections/ (the checkout linked as ansible_collections/sophia/lambda_k3s)
and tests/ (the emulators) on sys.path.
"""

from __future__ import annotations

pytest_plugins = ["lambda_emulator.fixtures", "kube_emulator.fixtures", "esc_emulator.fixtures"]
