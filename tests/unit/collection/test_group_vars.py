"""inventories/group_vars/ advertises only settings something reads.

Every variable a group_vars file sets or shows in a comment must be an Ansible connection variable
(ansible_*), or a setting a role documents (its defaults or argument spec) or a playbook uses.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
GROUP_VARS = REPO / "inventories" / "group_vars"
# "name:" at the start of a line, or of a comment line showing an example setting.
SETTING = re.compile(r"^#?\s?([a-z][a-z0-9_]*):(?:\s|$)", re.MULTILINE)


def role_settings() -> set[str]:
    names: set[str] = set()
    for role in (REPO / "roles").iterdir():
        defaults = role / "defaults" / "main.yml"
        if defaults.exists():
            names.update(yaml.safe_load(defaults.read_text()) or {})
        specs = role / "meta" / "argument_specs.yml"
        if specs.exists():
            for entry in (yaml.safe_load(specs.read_text()) or {}).get("argument_specs", {}).values():
                names.update(entry.get("options") or {})
    return names


def playbook_text() -> str:
    return "\n".join(path.read_text() for path in [REPO / "site.yml", *sorted((REPO / "playbooks").rglob("*.yml"))])


@pytest.mark.parametrize("path", sorted(GROUP_VARS.glob("*.yml")), ids=lambda path: path.name)
def test_every_setting_shown_is_read_by_something(path: Path) -> None:
    shown = set(SETTING.findall(path.read_text()))
    unread = sorted(name for name in shown
                    if not name.startswith("ansible_") and name not in role_settings() and name not in playbook_text())
    assert unread == [], "%s advertises settings nothing reads: %s" % (path.name, ", ".join(unread))
