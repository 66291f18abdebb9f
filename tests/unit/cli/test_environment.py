"""The run's environment: the API key only ever as a file, secrets scrubbed from what ansible-runner records."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from lambda_k3s_cli.environment import (
    REDACTED,
    api_key_file,
    check_extra_vars,
    key_in_extra_vars,
    scrub_command_file,
    ssh_settings,
    state_dir,
)
from lambda_k3s_cli.outcome import UsageError

KEY = "secret_unit_0123456789abcdef.0123456789abcdefghijklmnopqrstuv"


def private_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture(autouse=True)
def no_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LAMBDA_API_KEY", "LAMBDA_API_KEY_FILE", "ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_COMMON_ARGS", "LAMBDA_K3S_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_an_exported_key_becomes_a_private_file_and_leaves_the_environment_for_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_API_KEY", KEY)
    with api_key_file(None, required=True) as settings:
        key_file = Path(settings["LAMBDA_API_KEY_FILE"])
        assert "LAMBDA_API_KEY" not in os.environ, "ansible-runner records the environment"
        assert key_file.read_text().strip() == KEY
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert os.environ["LAMBDA_API_KEY"] == KEY, "given back afterwards"
    assert not key_file.exists() and not key_file.parent.exists()


def test_a_key_file_option_wins_and_must_be_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_API_KEY", KEY)
    key_file = private_file(tmp_path / "key", KEY)
    with api_key_file(str(key_file), required=True) as settings:
        assert settings == {"LAMBDA_API_KEY_FILE": str(key_file)} and "LAMBDA_API_KEY" not in os.environ
    key_file.chmod(0o644)
    with pytest.raises(UsageError, match="can be read by other users: run chmod 600"), api_key_file(str(key_file), required=True):
        pass
    with pytest.raises(UsageError, match="does not exist or is not a file: check --api-key-file"), \
            api_key_file(str(tmp_path / "missing"), required=True):
        pass


def test_the_key_file_variable_is_checked_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_API_KEY_FILE", str(private_file(tmp_path / "key", KEY, 0o640)))
    with pytest.raises(UsageError, match="can be read by other users"), api_key_file(None, required=True):
        pass


def test_no_key_at_all_fails_with_one_sentence_unless_it_is_not_needed() -> None:
    with pytest.raises(UsageError) as raised, api_key_file(None, required=True):
        pass
    assert str(raised.value).count(".") == 1 and "LAMBDA_API_KEY_FILE" in str(raised.value)
    with api_key_file(None, required=False) as settings:
        assert settings == {}


def test_the_key_is_refused_inline_and_found_in_variable_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="Do not pass lambda_api_key with -e"):
        check_extra_vars(["lambda_api_key=%s" % KEY])
    check_extra_vars(["@vars.yml", "k3s_version=v1.35.6+k3s1"])
    vault = private_file(tmp_path / "vault.yml", "$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    plain = private_file(tmp_path / "plain.yml", "lambda_cluster_name: demo\n")
    assert key_in_extra_vars(["@%s" % vault]) and not key_in_extra_vars(["@%s" % plain, "x=1"])


def test_the_recorded_environment_is_scrubbed_of_secrets(tmp_path: Path) -> None:
    recorded = {"command": ["ansible-playbook"], "cwd": "/repo", "env": {
        "LAMBDA_API_KEY_FILE": "/tmp/k", "GITHUB_TOKEN": "ghs_x", "AWS_SECRET_ACCESS_KEY": "y", "VAULT_PASSWORD": "z",
        "ANSIBLE_HOST_KEY_CHECKING": "True", "SSH_AUTH_SOCK": "/run/agent", "PATH": "/bin"}}
    (tmp_path / "command").write_text(json.dumps(recorded))
    scrub_command_file(tmp_path)
    env = json.loads((tmp_path / "command").read_text())["env"]
    assert env == {"LAMBDA_API_KEY_FILE": "/tmp/k", "GITHUB_TOKEN": REDACTED, "AWS_SECRET_ACCESS_KEY": REDACTED, "VAULT_PASSWORD": REDACTED,
                   "ANSIBLE_HOST_KEY_CHECKING": "True", "SSH_AUTH_SOCK": "/run/agent", "PATH": "/bin"}
    scrub_command_file(tmp_path / "missing")  # nothing recorded: nothing to do


def test_host_keys_are_learned_once_and_checked_afterwards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = private_file(tmp_path / "id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\n")
    settings = ssh_settings(str(key), tmp_path / "state" / "known_hosts" / "demo")
    assert settings["ANSIBLE_PRIVATE_KEY_FILE"] == str(key)
    assert settings["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    assert "StrictHostKeyChecking=accept-new" in settings["ANSIBLE_SSH_COMMON_ARGS"]
    assert "UserKnownHostsFile=%s" % (tmp_path / "state" / "known_hosts" / "demo") in settings["ANSIBLE_SSH_COMMON_ARGS"]
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "False")
    assert ssh_settings(None, tmp_path / "kh") == {}, "the user's own setting wins"


def test_state_lives_under_the_xdg_state_home_unless_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert state_dir() == tmp_path / "sophia.lambda_k3s"
    monkeypatch.setenv("LAMBDA_K3S_STATE_DIR", str(tmp_path / "mine"))
    assert state_dir() == tmp_path / "mine"
