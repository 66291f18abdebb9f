"""Every filter the collection ships is documented for `ansible-doc -t filter`, and every page loads.

The filters are listed twice, by Ansible (`ansible-doc -l --json`) and by loading every plugins/filter/*.py
FilterModule, so a filter neither forgets its YAML page (plugins/filter/<name>.yml) nor hides from the list.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
FILTERS = REPO / "plugins" / "filter"
BIN = Path(sys.executable).parent
NAMESPACE = "sophia.lambda_k3s"


def ansible_doc(*arguments: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH="%s%s%s" % (BIN, os.pathsep, os.environ.get("PATH", "")), ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"))
    return subprocess.run([str(BIN / "ansible-doc"), "-t", "filter", *arguments], cwd=REPO, capture_output=True, text=True, env=env, check=False)


@cache
def shipped_filters() -> dict[str, str]:
    """Every filter the plugin files register, with the file that registers it."""
    filters = {}
    for path in sorted(FILTERS.glob("*.py")):
        module = importlib.import_module("ansible_collections.sophia.lambda_k3s.plugins.filter.%s" % path.stem)
        for name in module.FilterModule().filters():
            assert name not in filters, "%s is registered by both %s and %s" % (name, filters[name], path.name)
            filters[name] = path.name
    return filters


@cache
def listed_filters() -> dict[str, str]:
    result = ansible_doc("-l", NAMESPACE, "--json")
    assert result.returncode == 0, result.stderr
    return {name.removeprefix(NAMESPACE + "."): description for name, description in json.loads(result.stdout).items()}


def test_ansible_doc_lists_every_filter_the_plugins_register() -> None:
    assert set(listed_filters()) == set(shipped_filters())


def test_every_filter_is_documented() -> None:
    undocumented = sorted(name for name, description in listed_filters().items()
                          if description == "UNDOCUMENTED" or not (FILTERS / ("%s.yml" % name)).is_file())
    assert not undocumented, "filters without a doc page (plugins/filter/<name>.yml): %s" % ", ".join(
        "%s (%s)" % (name, shipped_filters().get(name, "?")) for name in undocumented)


def test_every_doc_page_belongs_to_a_filter_and_names_it() -> None:
    pages = {path.stem: yaml.safe_load(path.read_text(encoding="utf-8")) for path in FILTERS.glob("*.yml")}
    assert sorted(set(pages) - set(shipped_filters())) == [], "doc pages without a filter"
    assert sorted(name for name, page in pages.items() if page["DOCUMENTATION"]["name"] != name) == [], "pages naming another filter"


def test_every_doc_page_loads_with_its_examples_and_return_value() -> None:
    names = sorted(shipped_filters())
    result = ansible_doc("--json", *("%s.%s" % (NAMESPACE, name) for name in names))
    if result.returncode != 0:
        # One page that does not load fails the whole call: name each one that does not.
        failing = [name for name in names if ansible_doc("--json", "%s.%s" % (NAMESPACE, name)).returncode != 0]
        raise AssertionError("ansible-doc cannot load the pages of: %s\n%s" % (", ".join(failing), result.stderr))
    pages = json.loads(result.stdout)
    incomplete = []
    for name in names:
        page = pages.get("%s.%s" % (NAMESPACE, name)) or {}
        doc = page.get("doc") or {}
        options = doc.get("options") or {}
        positional = [item.strip() for item in str(doc.get("positional") or "").split(",") if item.strip()]
        if not (doc.get("short_description") and doc.get("description") and page.get("examples") and (page.get("return") or {}).get("_value")):
            incomplete.append("%s (short_description, description, EXAMPLES and RETURN._value are all needed)" % name)
        elif "%s.%s" % (NAMESPACE, name) not in page["examples"]:
            incomplete.append("%s (its examples do not use it by its full name)" % name)
        elif "_input" not in options or not set(positional) <= set(options):
            incomplete.append("%s (_input and every positional argument need an entry under options)" % name)
    assert not incomplete, "incomplete filter doc pages: %s" % "; ".join(incomplete)
