"""The repository is an installable collection whose artifact carries only runtime files."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
RUNTIME_TOP_LEVEL = {"MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.md", "LICENSE", "meta", "plugins", "roles", "playbooks", "docs"}


def _ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    # Prove that ansible.cfg alone makes sophia.lambda_k3s resolve to this checkout.
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    env.pop("ANSIBLE_COLLECTIONS_PATHS", None)
    env.pop("ANSIBLE_CONFIG", None)
    return env


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> tarfile.TarFile:
    output = tmp_path_factory.mktemp("build")
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(output), str(REPO)],
                   check=True, capture_output=True, env=_ansible_env())
    built = list(output.glob("sophia-lambda_k3s-*.tar.gz"))
    assert len(built) == 1
    return tarfile.open(built[0])


def test_artifact_holds_only_runtime_files(artifact: tarfile.TarFile) -> None:
    top_level = {name.split("/", 1)[0] for name in artifact.getnames()}
    assert top_level <= RUNTIME_TOP_LEVEL, f"repo-only files in the artifact: {sorted(top_level - RUNTIME_TOP_LEVEL)}"
    assert {"meta", "plugins", "roles", "playbooks"} <= top_level
    assert not [name for name in artifact.getnames() if "__pycache__" in name or name.endswith(".pyc")]


def test_artifact_declares_the_collection_dependencies(artifact: tarfile.TarFile) -> None:
    manifest = yaml.safe_load(artifact.extractfile("MANIFEST.json"))
    requirements = yaml.safe_load((REPO / "requirements.yml").read_text())
    declared = set(manifest["collection_info"]["dependencies"])
    assert declared == {entry["name"] for entry in requirements["collections"]}


def test_site_playbook_resolves_the_collection_from_the_checkout() -> None:
    result = subprocess.run([str(BIN / "ansible-playbook"), "site.yml", "-i", "localhost,", "--list-tasks"],
                            cwd=REPO, capture_output=True, text=True, env=_ansible_env(), check=False)
    assert result.returncode == 0, result.stderr
    assert "sophia.lambda_k3s.preflight : Fail on an unsupported platform" in result.stdout


def _role_names() -> list[str]:
    return sorted(path.name for path in (REPO / "roles").iterdir() if path.is_dir())


@pytest.mark.parametrize("role", _role_names())
def test_role_argument_spec_matches_its_defaults(role: str) -> None:
    role_dir = REPO / "roles" / role
    defaults_file = role_dir / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}
    spec = yaml.safe_load((role_dir / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(defaults or {}) <= set(spec), f"defaults without an argument spec entry: {sorted(set(defaults) - set(spec))}"
    assert all(name.startswith(role + "_") for name in spec), "role variables must carry the role's prefix"
