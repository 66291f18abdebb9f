"""The checkout the command runs, and the stages of site.yml."""

from __future__ import annotations

from pathlib import Path

import pytest
from lambda_k3s_cli.outcome import UsageError
from lambda_k3s_cli.project import PACKAGE_CHECKOUT, Project

from ansible_collections.sophia.lambda_k3s.plugins.plugin_utils.run_summary import SITE_STAGES

REPO = Path(__file__).resolve().parents[3]


def test_the_default_checkout_is_the_one_the_package_lives_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMBDA_K3S_PROJECT_DIR", raising=False)
    assert PACKAGE_CHECKOUT == REPO
    assert Project.locate().root == REPO


def test_a_directory_that_is_not_a_checkout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a checkout of the sophia.lambda_k3s collection.*--project-dir"):
        Project.locate(str(tmp_path))


def test_site_yml_has_the_five_stages_and_every_play_belongs_to_one() -> None:
    project = Project(REPO)
    stage_map = project.stage_map(project.playbook("site"))
    assert stage_map.stages == SITE_STAGES
    assert stage_map.plays["Check that the inventory found the cluster"] == "preflight"
    assert stage_map.plays["Check the cluster's nodes"] == "preflight"
    assert stage_map.plays["Prepare the GPU nodes' driver and container runtime"] == "gpu"
    assert stage_map.plays["Stop when a server dropped out of the run"] == "k3s"
    assert stage_map.plays["Install K3s on the agents"] == "k3s"
    # The root site.yml imports playbooks/site.yml: the same stages.
    assert project.stage_map(REPO / "site.yml").stages == SITE_STAGES


def test_a_playbook_without_stages_has_an_empty_map() -> None:
    project = Project(REPO)
    assert project.stage_map(project.playbook("provision")).stages == ()


def test_playbooks_are_found_by_name_or_path() -> None:
    project = Project(REPO)
    assert project.playbook("upgrade") == REPO / "playbooks" / "upgrade.yml"
    assert project.playbook("playbooks/upgrade.yml") == REPO / "playbooks" / "upgrade.yml"
    assert project.playbook(str(REPO / "site.yml")) == REPO / "site.yml"
    assert project.relative(REPO / "playbooks" / "upgrade.yml") == "playbooks/upgrade.yml"
    with pytest.raises(UsageError, match="No playbook nonesuch in .*: name one of playbooks/"):
        project.playbook("nonesuch")
