"""The client's settings from options and the environment: where the API key comes from, and how it is checked (_api_settings)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_settings import DEFAULT_API_URL, key_from_environment
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.lambda_api import client_from_options

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


class TestClientFromOptions:
    def test_environment_fallback(self, monkeypatch, lambda_emulator):
        monkeypatch.setenv("LAMBDA_API_KEY", lambda_emulator.api_key)
        monkeypatch.setenv("LAMBDA_API_URL", lambda_emulator.url)
        client = client_from_options({})
        assert client.api_url == lambda_emulator.url
        assert client.key_source == "the LAMBDA_API_KEY environment variable"
        assert client.list_instances() == []
        assert lambda_emulator.requests()[0].auth_scheme == "bearer"

    def test_options_win_over_the_environment(self, monkeypatch, lambda_emulator):
        monkeypatch.setenv("LAMBDA_API_KEY", "secret_from_env.x")
        monkeypatch.setenv("LAMBDA_API_URL", "http://127.0.0.1:9/api/v1")
        client = client_from_options({"api_key": lambda_emulator.api_key, "api_url": lambda_emulator.url})
        assert client.key_source == "the api_key option"
        assert client.list_instances() == []

    def test_defaults(self, monkeypatch):
        monkeypatch.delenv("LAMBDA_API_URL", raising=False)
        client = client_from_options({"api_key": "secret_x.y", "timeout": None, "max_retries": None})
        assert client.api_url == DEFAULT_API_URL
        assert (client.timeout, client.retry.max_retries, client.retry.max_delay, client.validate_certs) == (30.0, 5, 30.0, True)

    def test_no_key(self, monkeypatch):
        monkeypatch.delenv("LAMBDA_API_KEY", raising=False)
        with pytest.raises(LambdaAPIError, match="No Lambda Cloud API key.*LAMBDA_API_KEY"):
            client_from_options({})

    def test_a_key_with_whitespace_inside_is_refused_without_echoing_it(self):
        with pytest.raises(LambdaAPIError, match="whitespace") as raised:
            client_from_options({"api_key": "secret_abc def"})
        assert "secret_abc" not in str(raised.value)

    def test_surrounding_whitespace_is_trimmed(self, lambda_emulator):
        client = client_from_options({"api_key": " %s\n" % lambda_emulator.api_key, "api_url": lambda_emulator.url})
        assert client.list_instances() == []

    def test_url_scheme_is_checked(self):
        with pytest.raises(LambdaAPIError, match="https://"):
            client_from_options({"api_key": "secret_x.y", "api_url": "cloud.lambda.ai/api/v1"})
