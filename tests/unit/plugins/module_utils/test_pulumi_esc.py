"""The Pulumi ESC client against its emulator (tests/esc_emulator): values, paths, errors, retries, secrecy."""

from __future__ import annotations

import random

import pytest
from esc_emulator.server import EXAMPLE_ENVIRONMENT, TOKEN

from ansible_collections.sophia.lambda_k3s.plugins.module_utils import _http
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.pulumi_esc import (
    EnvironmentRef,
    EscClient,
    EscError,
    client_from_options,
    join_path,
    parse_path,
    plain_values,
    value_at,
)

SECRETS = ["esc-api-token-7Qm2", "esc-db-pass-9Xr", "esc-grafana-pass-K4v", "esc-git-token-8Hw"]
PROD = EnvironmentRef("sophia/platform/prod")


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.warnings: list[str] = []
        self.waits: list[float] = []
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(esc_emulator, recorder):
    def make(token: str = TOKEN, **kwargs) -> EscClient:
        return EscClient(token, api_url=esc_emulator.url, timeout=5, retry=_http.RetryPolicy(max_retries=3, max_delay=4),
                         token_source="the PULUMI_ACCESS_TOKEN environment variable", log=recorder.lines.append,
                         notify=recorder.warnings.append, sleep=recorder.sleep, clock=lambda: recorder.now, rng=random.Random(3), **kwargs)

    return make


def test_open_and_read_gives_every_value_and_flags_the_secret_leaves(client, esc_emulator, recorder) -> None:
    values, secret_paths = plain_values(client().open_and_read(PROD), "prod")
    assert values["backend"]["apiToken"] == "esc-api-token-7Qm2" and values["backend"]["replicas"] == 2
    assert values["hosts"] == ["a.example", "b.example"] and values["key.with.dots"] == "dotted"
    assert sorted(secret_paths) == ["backend.apiToken", "backend.databaseUrl", "git.token", "grafana.adminPassword"]
    assert [(entry["method"], entry["scheme"], entry["accept"]) for entry in esc_emulator.requests] == [
        ("POST", "token", "application/vnd.pulumi+8"), ("GET", "token", "application/vnd.pulumi+8")]
    # -vvv lines: the calls and their answers, never the token, a value or the session id (a capability for the secrets).
    assert len(recorder.lines) == 2 and all("/api/esc/environments/sophia/platform/prod" in line for line in recorder.lines)
    session = esc_emulator.requests[1]["path"].rsplit("/", 1)[1]
    assert not [line for line in recorder.lines if TOKEN in line or session in line or any(secret in line for secret in SECRETS)]


def test_a_version_or_tag_opens_that_revision(client, esc_emulator) -> None:
    esc_emulator.add_environment("sophia/platform/staged", {"a": 2}, revisions=[{"a": 1}], tags={"stable": 1})
    for reference, expected in (("sophia/platform/staged", 2), ("sophia/platform/staged@1", 1), ("sophia/platform/staged@stable", 1)):
        values, _secrets = plain_values(client().open_and_read(EnvironmentRef(reference)))
        assert values == {"a": expected}
    assert esc_emulator.requests[-2]["path"] == "/api/esc/environments/sophia/platform/staged/versions/stable/open"
    with pytest.raises(EscError, match=r"^Pulumi ESC has no environment sophia/platform/staged at version 7 \(HTTP 404\)\."):
        client().open_and_read(EnvironmentRef("sophia/platform/staged@7"))


@pytest.mark.parametrize(("path", "expected"), [("backend.replicas", 2), ("hosts[1]", "b.example"), ('["key.with.dots"]', "dotted"),
                                                ('backend["apiToken"]', "esc-api-token-7Qm2")])
def test_value_at_a_pulumi_path(path, expected) -> None:
    values, _secrets = plain_values(_tree(EXAMPLE_ENVIRONMENT))
    assert value_at(values, path) == expected


@pytest.mark.parametrize(("path", "message"), [
    ("backend.apiTokn", "The environment has no backend.apiTokn: backend has apiToken, databaseUrl, replicas."),
    ("hosts[5]", "The environment has no hosts[5]: hosts has 2 items."),
    ("backend.replicas.x", "The environment has no backend.replicas.x: backend.replicas is not a mapping."),
    ("nothing", "The environment has no nothing: the top level has backend, git, grafana, hosts, key.with.dots."),
])
def test_a_missing_path_names_what_exists_and_no_value(path, message) -> None:
    values, _secrets = plain_values(_tree(EXAMPLE_ENVIRONMENT))
    with pytest.raises(EscError) as raised:
        value_at(values, path, "The environment")
    assert str(raised.value) == message
    assert not any(secret in str(raised.value) for secret in SECRETS)


def test_paths_parse_and_print_back() -> None:
    assert parse_path('a.b[0]["c.d"].e') == ["a", "b", 0, "c.d", "e"]
    assert join_path(join_path("a", "c.d"), "e") == 'a["c.d"].e'
    for bad in ("", ".a", "a..b", "a[x]"):
        with pytest.raises(EscError):
            parse_path(bad)


def test_a_wrong_token_is_one_sentence_naming_its_source_never_the_token(client) -> None:
    wrong = "pul-" + "9" * 36
    with pytest.raises(EscError) as raised:
        client(token=wrong).open_and_read(PROD)
    assert str(raised.value) == ("Pulumi ESC refused the access token (HTTP 401). The token came from the PULUMI_ACCESS_TOKEN environment "
                                 "variable; create an access token in Pulumi Cloud and set it there.")
    assert wrong not in repr(raised.value.args)


def test_unknown_environment_and_diagnostics(client, esc_emulator) -> None:
    with pytest.raises(EscError, match=r"^Pulumi ESC has no environment sophia/platform/qa \(HTTP 404\)\. Check the organization"):
        client().open_and_read(EnvironmentRef("sophia/platform/qa"))
    esc_emulator.add_environment("sophia/platform/broken", {}, diagnostics=[{"summary": "unknown property \"regon\"", "path": "values.aws"}])
    with pytest.raises(EscError, match=r'^Pulumi ESC could not evaluate sophia/platform/broken \(HTTP 400\): unknown property "regon"\.$'):
        client().open_and_read(EnvironmentRef("sophia/platform/broken"))


def test_transient_errors_are_retried_and_announced(client, esc_emulator, recorder) -> None:
    esc_emulator.fail_next("open", 503, times=1)
    esc_emulator.fail_next("read", 429, times=2, retry_after="1")
    values, _secrets = plain_values(client().open_and_read(PROD))
    assert values["git"]["username"] == "deploy-bot"
    assert [entry["method"] for entry in esc_emulator.requests] == ["POST", "POST", "GET", "GET", "GET"]
    assert recorder.warnings[0].startswith("Pulumi ESC API: POST /api/esc/environments/sophia/platform/prod/open: HTTP 503; attempt 1 of 4 failed")
    assert recorder.warnings[1] == ("Pulumi ESC API: GET /api/esc/environments/sophia/platform/prod/open/<session>: HTTP 429; attempt 1 of 4 "
                                    "failed, trying again in 1 s.")
    assert recorder.waits[1:] == [1.0, 1.0]


def test_retries_end_with_the_count(client, esc_emulator) -> None:
    esc_emulator.fail_next("open", 500, times=10)
    with pytest.raises(EscError, match=r"^The Pulumi ESC API answered HTTP 500: emulated transient failure \(gave up after 4 attempts in"):
        client().open_and_read(PROD)


def test_the_address_and_the_token_come_from_options_or_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("PULUMI_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("PULUMI_BACKEND_URL", "https://pulumi.example.internal/api/esc/")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o644)
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN_FILE", str(token_file))
    with pytest.raises(EscError, match=r"is open to group or others \(mode 0644\); make it private with chmod 600"):
        client_from_options({})
    token_file.chmod(0o600)
    esc = client_from_options({})
    assert esc.api_url == "https://pulumi.example.internal"
    assert esc.token_source == "the file %s (named by PULUMI_ACCESS_TOKEN_FILE)" % token_file
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://state-bucket")
    with pytest.raises(EscError, match="a self-managed state backend"):
        client_from_options({"token": TOKEN})
    with pytest.raises(EscError, match="plain http only to this machine"):
        client_from_options({"token": TOKEN, "api_url": "http://pulumi.example.internal"})
    monkeypatch.delenv("PULUMI_ACCESS_TOKEN_FILE")
    with pytest.raises(EscError, match="^No Pulumi access token was given: set PULUMI_ACCESS_TOKEN"):
        client_from_options({"api_url": "https://api.pulumi.com"})


@pytest.mark.parametrize("reference", ["sophia/prod", "sophia/platform/prod@", "a/b/c/d", "sophia/platform/ prod"])
def test_environment_names_are_checked(reference) -> None:
    with pytest.raises(EscError, match="is not a Pulumi ESC environment"):
        EnvironmentRef(reference)


def test_an_unknown_value_is_refused_by_its_path() -> None:
    with pytest.raises(EscError, match=r"^Pulumi ESC could not compute aws\.creds of prod \(its value is unknown\)"):
        plain_values({"aws": {"value": {"creds": {"value": None, "unknown": True, "trace": {}}}, "trace": {}}}, "prod")


def _tree(values: dict) -> dict:
    from esc_emulator.server import _value

    return {key: _value(item, "test") for key, item in values.items()}
