"""The execution environment definition: ansible-builder makes its build context (no image is built: no registry is
reachable here), and the context holds what the image needs; the galaxy stage's install of the collection from the
context is run here too."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from integration.helpers import PYTHON_BIN, REPO_ROOT, ansible_env

pytestmark = pytest.mark.integration

DEFINITION = REPO_ROOT / "execution-environment.yml"
COLLECTION = Path("_build") / "collection" / "sophia" / "lambda_k3s"


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    context = tmp_path_factory.mktemp("ee") / "context"
    result = subprocess.run([str(PYTHON_BIN / "ansible-builder"), "create", "--file", str(DEFINITION), "--context", str(context),
                             "--output-filename", "Containerfile"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return context


def test_the_image_gets_ansible_core_of_the_projects_ansible_and_runner(context: Path) -> None:
    containerfile = (context / "Containerfile").read_text()
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core>=2.19,<2.20 ansible-runner>=2.4,<3"' in containerfile
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert '"ansible>=12.0,<13"' in pyproject, "ansible 12 bundles ansible-core 2.19: keep the two pins together"
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile


def test_the_image_gets_the_collections_this_one_depends_on(context: Path) -> None:
    assert yaml.safe_load((context / "_build" / "requirements.yml").read_text()) == yaml.safe_load((REPO_ROOT / "requirements.yml").read_text())
    assert "openssh-clients [platform:rpm]" in (context / "_build" / "bindep.txt").read_text()


def test_the_image_gets_the_collection_itself_and_only_its_runtime_files(context: Path) -> None:
    collection = context / COLLECTION
    assert {path.name for path in collection.iterdir()} == {"galaxy.yml", "README.md", "meta", "plugins", "roles", "playbooks"}
    assert (collection / "playbooks" / "site.yml").is_file() and (collection / "plugins" / "callback" / "run_summary.py").is_file()
    containerfile = (context / "Containerfile").read_text()
    galaxy_stage = containerfile.split("FROM base AS galaxy", 1)[1].split("FROM base AS builder", 1)[0]
    assert "COPY _build /build" in galaxy_stage
    assert "RUN ansible-galaxy collection install /build/collection/sophia/lambda_k3s --collections-path /usr/share/ansible/collections" \
        in galaxy_stage


def test_the_collection_installs_from_the_build_context(context: Path, tmp_path: Path) -> None:
    """The galaxy stage's command, run here against the context (its dependencies come with the ansible package). Not with
    the checkout's ansible.cfg, whose collections path already holds sophia.lambda_k3s."""
    empty_config = tmp_path / "ansible.cfg"
    empty_config.write_text("")
    result = subprocess.run([str(PYTHON_BIN / "ansible-galaxy"), "collection", "install", str(context / COLLECTION), "--collections-path",
                             str(tmp_path)], capture_output=True, text=True, timeout=120, check=False,
                            env=ansible_env(tmp_path, ANSIBLE_CONFIG=str(empty_config)), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    installed = tmp_path / "ansible_collections" / "sophia" / "lambda_k3s"
    assert (installed / "MANIFEST.json").is_file() and (installed / "playbooks" / "site.yml").is_file()
    assert not list(installed.rglob("__pycache__")), "the build leaves Python caches out"
