"""Runs a module's main() in-process and captures what it would have returned to Ansible."""

from __future__ import annotations

from collections.abc import Callable

from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    """Raised by the patched exit_json/fail_json (see conftest.py) with the module's result."""

    def __init__(self, result: dict):
        super().__init__(result.get("msg", ""))
        self.result = result


def run_module(main: Callable[[], None], args: dict) -> dict:
    """The module's result; a failure has failed=True and msg, as Ansible would show it."""
    with patch_module_args(args):
        try:
            main()
        except ModuleExit as done:
            return done.result
    raise AssertionError("the module returned without calling exit_json or fail_json")
