"""Where the client finds the API key when no api_key option is given, and how it says so."""

from __future__ import annotations

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


def test_the_environment_variable_comes_first(monkeypatch, tmp_path) -> None:
    (tmp_path / "key").write_text("secret_from.file\n")
    monkeypatch.setenv("LAMBDA_API_KEY", "secret_from.env")
    monkeypatch.setenv("LAMBDA_API_KEY_FILE", str(tmp_path / "key"))
    assert key_from_environment() == ("secret_from.env", "the LAMBDA_API_KEY environment variable")


def test_the_key_file_is_read_and_stripped(monkeypatch, tmp_path) -> None:
    (tmp_path / "key").write_text("  %s\n" % KEY)
    monkeypatch.setenv("LAMBDA_API_KEY_FILE", str(tmp_path / "key"))
    key, source = key_from_environment()
    assert key == KEY
    assert source == "the file %s (named by LAMBDA_API_KEY_FILE)" % (tmp_path / "key")


def test_a_missing_key_file_is_one_clear_sentence(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LAMBDA_API_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(LambdaAPIError, match=r"Could not read the Lambda Cloud API key from .*absent \(named by LAMBDA_API_KEY_FILE\)"):
        key_from_environment()


def test_no_key_anywhere_names_every_way_to_give_one() -> None:
    with pytest.raises(LambdaAPIError) as raised:
        client_from_options({})
    assert "api_key option" in str(raised.value) and "LAMBDA_API_KEY " in str(raised.value) and "LAMBDA_API_KEY_FILE" in str(raised.value)


def test_an_explicit_key_keeps_the_callers_description(monkeypatch, tmp_path) -> None:
    (tmp_path / "key").write_text(KEY)
    monkeypatch.setenv("LAMBDA_API_KEY_FILE", str(tmp_path / "key"))
    client = client_from_options({"api_key": "secret_option.key"}, key_source="the lambda_api_key variable")
    assert client.key_source == "the lambda_api_key variable"
    assert client_from_options({}).key_source.startswith("the file ")


def test_a_rejected_file_key_says_which_file(monkeypatch, tmp_path, lambda_emulator) -> None:
    (tmp_path / "key").write_text("secret_wrong.key")
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
