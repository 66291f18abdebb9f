# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection checkout the command runs (its playbooks, inventory and ansible.cfg), and the stages of its site.yml."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lambda_k3s_cli.outcome import UsageError

# tools/lambda_k3s_cli/project.py: the checkout this package was installed from (pip install -e, tools/setup.sh).
PACKAGE_CHECKOUT = Path(__file__).resolve().parents[2]
PROJECT_ENV = "LAMBDA_K3S_PROJECT_DIR"
COLLECTION = "sophia.lambda_k3s"
_IMPORT_KEYS = ("ansible.builtin.import_playbook", "import_playbook")


@dataclass(frozen=True)
class StageMap:
    """The stages of a playbook in order, and the stage each of its plays belongs to (by play name)."""

    stages: tuple[str, ...] = ()
    plays: dict[str, str] = field(default_factory=dict)

    def stage_of(self, play: str, default: str) -> str:
        return self.plays.get(play, default)


@dataclass(frozen=True)
class Project:
    """A checkout of the collection: galaxy.yml, playbooks/, inventories/ and ansible.cfg at its root."""

    root: Path

    @classmethod
    def locate(cls, explicit: str | None = None) -> Project:
        """The checkout named by --project-dir or LAMBDA_K3S_PROJECT_DIR, else the one this package belongs to."""
        named = explicit or os.environ.get(PROJECT_ENV)
        root = Path(named).expanduser().resolve() if named else PACKAGE_CHECKOUT
        if not (root / "galaxy.yml").is_file() or not (root / "playbooks").is_dir():
            where = "--project-dir or %s" % PROJECT_ENV if named else "the checkout lambda-k3s was installed from"
            raise UsageError("%s is not a checkout of the %s collection (no galaxy.yml and playbooks/ there): set %s to one."
                             % (root, COLLECTION, where))
        project = cls(root)
        project.enable_collection_imports()
        return project

    @property
    def default_inventory(self) -> Path:
        return self.root / "inventories" / "lambda.py"

    def playbook(self, name: str) -> Path:
        """A playbook by path (absolute, or relative to the checkout) or by name (upgrade -> playbooks/upgrade.yml)."""
        candidates = [Path(name).expanduser()]
        if not candidates[0].is_absolute():
            candidates = [self.root / name, self.root / "playbooks" / name, self.root / "playbooks" / ("%s.yml" % name)]
        for candidate in candidates:
            if candidate.is_file():
                return candidate.resolve()
        raise UsageError("No playbook %s in %s: name one of playbooks/ (for example upgrade) or give its path." % (name, self.root))

    def relative(self, path: Path) -> str:
        """How ansible-runner is given a playbook: relative to the checkout, which is its project directory."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def enable_collection_imports(self) -> None:
        """Make ansible_collections.sophia.lambda_k3s importable: the command shares the collection's run ledger."""
        collections = str(self.root / "collections")
        if collections not in sys.path:
            sys.path.insert(0, collections)

    def stage_map(self, playbook: Path) -> StageMap:
        """The stages of ``playbook``: the stage tags of the playbooks it imports, in order (site.yml's stages), and the
        stage of every play they hold. A playbook without stages maps every play to nothing."""
        from ansible_collections.sophia.lambda_k3s.plugins.plugin_utils.run_summary import SITE_STAGES, stage_of

        stages: dict[str, None] = {}
        plays: dict[str, str] = {}

        def walk(path: Path, inherited: list[str], seen: frozenset[Path]) -> None:
            for entry in _plays_of(path):
                tags = inherited + _tags(entry.get("tags"))
                target = next((entry[key] for key in _IMPORT_KEYS if key in entry), None)
                if isinstance(target, str):
                    imported = self._imported(path, target)
                    if imported and imported not in seen:
                        walk(imported, tags, seen | {imported})
                    continue
                name = entry.get("name")
                stage = stage_of(tags, "", SITE_STAGES)
                if stage:
                    stages.setdefault(stage)
                    if isinstance(name, str):
                        plays[name.strip()] = stage

        walk(playbook, [], frozenset({playbook}))
        return StageMap(tuple(stages), plays)

    def _imported(self, importer: Path, target: str) -> Path | None:
        if target.startswith(COLLECTION + "."):
            path = self.root / "playbooks" / (target[len(COLLECTION) + 1:] + ".yml")
        elif "{{" in target:
            return None
        else:
            path = importer.parent / target
        return path.resolve() if path.is_file() else None


def _plays_of(path: Path) -> list[dict[str, Any]]:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    return [entry for entry in content or [] if isinstance(entry, dict)] if isinstance(content, list) else []


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        return [tag.strip() for tag in value.split(",")]
    return [str(tag) for tag in value] if isinstance(value, list) else []
