"""The lab's settings file, and when the command's verbs use a lab (no Docker needed: the real lab runs in
tests/integration/test_lab_e2e.py)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml
from lambda_k3s_cli.lab import _exports, find_lab
from lambda_k3s_cli.outcome import UsageError
from lambda_lab.lab import SKIPPED_WITH_STANDIN, Lab, LabError, by_hand_command, read_settings


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAMBDA_K3S_STATE_DIR", str(tmp_path))
    for name in ("LAMBDA_API_KEY", "LAMBDA_API_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def written_lab(state: Path, name: str = "lab") -> Lab:
    """A lab whose settings file is written as lab up writes it, with nothing started (the real K3s release: no mirror)."""
    lab = Lab(state / ("lab-%s" % name), name=name, network_index=77, say=lambda line: None)
    lab.paths.directory.mkdir(mode=0o700)
    lab._write(lab._new_settings(nodes=4, k3s="release", time_scale=0.1))
    return lab


def test_the_settings_file_is_a_private_cluster_spec_with_the_roles_variables(state: Path) -> None:
    lab = written_lab(state)
    assert stat.S_IMODE(lab.paths.settings.stat().st_mode) == 0o600
    assert stat.S_IMODE(lab.paths.api_key.stat().st_mode) == 0o600
    settings = yaml.safe_load(lab.paths.settings.read_text())
    key = lab.paths.api_key.read_text().strip()
    assert key not in lab.paths.settings.read_text(), "the file names the key file, never the key"
    assert settings["lambda_cluster_name"] == "lab"
    pools = {pool["name"]: (pool["role"], pool["count"]) for pool in settings["lambda_cluster_node_pools"]}
    assert pools == {"server": ("server", 1), "a10": ("agent", 3)}
    assert settings["lambda_cluster_ssh_public_key_file"] == str(lab.paths.ssh_key) + ".pub"
    assert settings["nvidia_driver_expect_gpu"] is False and settings["nvidia_container_toolkit_expect_gpu"] is False
    assert "k3s_release_url" not in settings, "the real release comes from the role's own default URL"
    environment = settings["lambda_k3s_lab"]["environment"]
    assert environment["LAMBDA_API_URL"].startswith("http://127.0.0.1:") and environment["LAMBDA_API_KEY_FILE"] == str(lab.paths.api_key)
    assert environment["LAMBDA_REQUEST_INTERVAL"] == "0.110", "the client's pacing follows the emulator's faster clock"
    assert settings["lambda_k3s_lab"]["skip_stages"] == {}
    assert read_settings(lab.paths.settings) == settings


def test_stages_the_stand_in_cannot_serve_have_a_reason() -> None:
    assert set(SKIPPED_WITH_STANDIN) == {"cluster", "platform"}
    assert all("no Kubernetes API" in reason for reason in SKIPPED_WITH_STANDIN.values())


@pytest.mark.parametrize("nodes", [0, 7])
def test_a_lab_has_one_to_six_nodes(state: Path, nodes: int) -> None:
    with pytest.raises(LabError, match="1 to 6 nodes"):
        Lab(state / "lab-lab", say=lambda line: None).up(nodes=nodes)


def test_no_lab_and_no_key_means_no_lab(state: Path) -> None:
    assert find_lab(None, None) is None


def test_a_lab_asked_for_must_exist(state: Path) -> None:
    with pytest.raises(UsageError, match="There is no lab e2e: start it with lambda-k3s lab up --lab e2e"):
        find_lab("e2e", None)


def test_a_configured_key_wins_over_the_default_lab(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written_lab(state)
    monkeypatch.setenv("LAMBDA_API_KEY_FILE", "/somewhere/key")
    assert find_lab(None, None) is None
    assert find_lab(None, "/somewhere/key") is None


def test_a_lab_that_stopped_is_named_with_how_to_start_it(state: Path) -> None:
    written_lab(state)
    with pytest.raises(UsageError, match="The lab lab is not running .* run lambda-k3s lab up to start it again"):
        find_lab(None, None)


def test_lab_env_prints_shell_exports_of_the_lab(state: Path) -> None:
    lab = written_lab(state)
    exports = _exports(lab.paths.settings).splitlines()
    assert "export LAMBDA_K3S_CLUSTER=lab" in exports
    assert "export LAMBDA_API_KEY_FILE=%s" % lab.paths.api_key in exports
    assert lab.paths.api_key.read_text().strip() not in "\n".join(exports), "the key file, never the key"
    assert exports[-1] == "# then: ansible-playbook site.yml -i inventories/lambda.py -e @%s" % lab.paths.settings


def test_the_by_hand_run_leaves_out_what_the_stand_in_cannot_serve(tmp_path: Path) -> None:
    assert by_hand_command(tmp_path / "lab.yml", SKIPPED_WITH_STANDIN).endswith("-e @%s --skip-tags cluster,platform" % (tmp_path / "lab.yml"))


@pytest.mark.parametrize("name", ["lab", "e2e"])
def test_the_lab_s_own_key_file_means_that_lab(state: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """After eval "$(lambda-k3s lab env)" the shell has the lab's key file: the verbs still use the lab (its variables
    and skipped stages), they do not take it for a Lambda account."""
    lab = written_lab(state, name)
    monkeypatch.setenv("LAMBDA_API_KEY_FILE", str(lab.paths.api_key))
    with pytest.raises(UsageError, match="The lab %s is not running" % name):
        find_lab(None, None)
    monkeypatch.delenv("LAMBDA_API_KEY_FILE")
    with pytest.raises(UsageError, match="The lab %s is not running" % name):
        find_lab(None, str(lab.paths.api_key))


def test_the_lab_s_own_key_file_is_found_beside_it_whatever_the_state_directory(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = written_lab(state, "e2e")
    monkeypatch.setenv("LAMBDA_K3S_STATE_DIR", str(state / "elsewhere"))
    with pytest.raises(UsageError, match="The lab e2e is not running"):
        find_lab(None, str(lab.paths.api_key))
