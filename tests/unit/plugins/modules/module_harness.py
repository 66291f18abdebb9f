"""Runs a module's main() in-process and captures what it would have returned to Ansible."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from unittest import mock

from ansible.module_utils.common import warnings as module_warnings
from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    """Raised by the patched exit_json/fail_json (see conftest.py) with the module's result."""

    def __init__(self, result: dict):
        super().__init__(result.get("msg", ""))
        self.result = result


def run_module(main: Callable[[], None], args: dict) -> dict:
    """The module's result; a failure has failed=True and msg, as Ansible would show it.

    Each run starts with no warning, as a module process does (they are kept in a module global).
    """
    with patch_module_args(args), mock.patch.object(module_warnings, "_global_warnings", {}):
        try:
            main()
        except ModuleExit as done:
            return done.result
    raise AssertionError("the module returned without calling exit_json or fail_json")


def run_with_client(module: ModuleType, client, check_mode: bool = False, diff: bool = False, **params) -> dict:
    """Run ``module`` with ``client`` in place of the Lambda Cloud client it would build."""
    params = dict(params, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with mock.patch.object(module, "client_for", return_value=client):
        return run_module(module.main, params)


class RecordingClient:
    """Base of the in-memory fakes of LambdaClient: every call is recorded, and an error put in
    ``errors[method name]`` is raised once by that method."""

    # Names of the methods that change something, for mutations().
    MUTATING: tuple = ()

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.errors: dict[str, Exception] = {}
        self._next = 0

    def _call(self, name: str, *args) -> None:
        self.calls.append((name,) + args)
        error = self.errors.pop(name, None)
        if error is not None:
            raise error

    def mutations(self) -> list[tuple]:
        return [call for call in self.calls if call[0] in self.MUTATING]
