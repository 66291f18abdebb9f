"""Shared by every module unit test: in-process runs whose exit is captured instead of exiting."""

from __future__ import annotations

import pytest
from ansible.module_utils import _internal, basic
from ansible.module_utils.common.warnings import get_warning_messages
from unit.plugins.modules.module_harness import ModuleExit


@pytest.fixture(autouse=True)
def module_harness(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """exit_json/fail_json raise ModuleExit; warnings stay with the module, as on a target host (other
    tests in the run load controller code, which would otherwise send them to the display); launch
    spacing and locks write under tmp_path; the caller's LAMBDA_* variables do not leak in."""
    def exit_json(self, **result):
        result.setdefault("warnings", list(get_warning_messages()))
        raise ModuleExit(result)

    def fail_json(self, msg, **result):
        raise ModuleExit(dict(result, failed=True, msg=msg))

    monkeypatch.setattr(_internal, "is_controller", False)
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("LAMBDA_API_KEY", "LAMBDA_API_URL", "ANSIBLE_LOCAL_TEMP"):
        monkeypatch.delenv(name, raising=False)
