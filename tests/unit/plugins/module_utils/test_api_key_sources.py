"""Where the client finds the API key when no api_key option is given, and how it says so."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.lambda_api import (
    LambdaAPIError,
    client_from_options,
    key_from_environment,
)

KEY = "secret_unit.keyfromfile"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMBDA_API_KEY", raising=False)
    monkeypatch.delenv("LAMBDA_API_KEY_FILE", raising=False)


def key_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_the_environment_variable_comes_first(monkeypatch, tmp_path) -> None:
    key_file(tmp_path / "key", "secret_from.file\n")
    monkeypatch.setenv("LAMBDA_API_KEY", "secret_from.env")
    monkeypatch.setenv("LAMBDA_API_KEY_FILE", str(tmp_path / "key"))
    assert key_from_environment() == ("secret_from.env", "the LAMBDA_API_KEY environment variable")


def test_the_key_file_is_read_and_stripped(monkeypatch, tmp_path) -> None:
    key_file(tmp_path / "key", "  %s\n" % KEY)
    monkeypatch.setenv("LAMBDA_API_KEY_FILE", str(tmp_path / "key"))
    key, source = key_from_environment()
    assert key == KEY
    assert source == "the file %s (named by LAMBDA_API_KEY_FILE)" % (tmp_path / "key")


def test_a_missing_key_file_is_one_clear_sentence(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LAMBDA_API_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(LambdaAPIError, match=r"Could not read the Lambda Cloud API key from .*absent \(named by LAMBDA_API_KEY_FILE\)"):
        key_from_environment()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_is_refused_with_the_fix(monkeypatch, tmp_path, mode) -> None:
    path = key_file(tmp_path / "key", KEY, mode)
    monkeypatch.setenv("LAMBDA_API_KEY_FILE", str(path))
    with pytest.raises(LambdaAPIError) as raised:
        key_from_environment()
    message = str(raised.value)
    assert "open to group or others (mode %04o)" % mode in message and "chmod 600 %s" % path in message
    assert KEY not in message


def test_a_key_file_through_a_symlink_counts_by_its_target(monkeypatch, tmp_path) -> None:
    """Secrets mounted by Kubernetes or CI are often links to the real file: its mode is what counts."""
    target = key_file(tmp_path / "real-key", KEY, 0o400)
    (tmp_path / "link").symlink_to(target)
    monkeypatch.setenv("LAMBDA_API_KEY_FILE", str(tmp_path / "link"))
    assert key_from_environment()[0] == KEY


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_key_file_of_another_user_is_refused(monkeypatch, tmp_path) -> None:
    path = key_file(tmp_path / "key", KEY)
    os.chown(path, 65534, 65534)
    monkeypatch.setenv("LAMBDA_API_KEY_FILE", str(path))
    with pytest.raises(LambdaAPIError, match="belongs to user id 65534"):
        key_from_environment()


def test_no_key_anywhere_names_every_way_to_give_one() -> None:
    with pytest.raises(LambdaAPIError) as raised:
        client_from_options({})
    assert "api_key option" in str(raised.value) and "LAMBDA_API_KEY " in str(raised.value) and "LAMBDA_API_KEY_FILE" in str(raised.value)


def test_an_explicit_key_keeps_the_callers_description(monkeypatch, tmp_path) -> None:
    key_file(tmp_path / "key", KEY)
    monkeypatch.setenv("LAMBDA_API_KEY_FILE", str(tmp_path / "key"))
    client = client_from_options({"api_key": "secret_option.key"}, key_source="the lambda_api_key variable")
    assert client.key_source == "the lambda_api_key variable"
    assert client_from_options({}).key_source.startswith("the file ")


def test_a_rejected_file_key_says_which_file(monkeypatch, tmp_path, lambda_emulator) -> None:
    key_file(tmp_path / "key", "secret_wrong.key")
    monkeypatch.setenv("LAMBDA_API_KEY_FILE", str(tmp_path / "key"))
    client = client_from_options({"api_url": lambda_emulator.url, "max_retries": 0})
    with pytest.raises(LambdaAPIError) as raised:
        client.list_instances()
    assert "The key came from the file %s" % (tmp_path / "key") in str(raised.value)
    assert "secret_wrong.key" not in str(raised.value)


@pytest.mark.parametrize("url", ["https://cloud.lambda.ai/api/v1", "http://127.0.0.1:8910/api/v1", "http://localhost/api/v1",
                                 "http://[::1]:80/api/v1"])
def test_https_and_loopback_http_urls_are_accepted(url: str) -> None:
    assert client_from_options({"api_key": KEY, "api_url": url + "/"}).api_url == url


@pytest.mark.parametrize("url", ["http://cloud.lambda.ai/api/v1", "http://10.0.0.5/api/v1", "ftp://cloud.lambda.ai/", "cloud.lambda.ai"])
def test_urls_that_would_expose_the_key_are_refused(url: str) -> None:
    with pytest.raises(LambdaAPIError, match="must be an https:// address"):
        client_from_options({"api_key": KEY, "api_url": url})
