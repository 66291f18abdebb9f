"""Secrets found in logs are replaced before the logs leave a node's task."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.filter.redact_secrets import FilterModule, redact_secrets

K3S_TOKEN = "K10" + "0123456789abcdef" * 4 + "::server:6f3b2c1d9e8a7f60"


@pytest.mark.parametrize(("line", "expected"), [
    ("Jupyter Server is running at http://127.0.0.1:8888/lab?token=4c1f7e0b9a",
     "Jupyter Server is running at http://127.0.0.1:8888/lab?token=<redacted>"),
    ("token: %s" % K3S_TOKEN, "token: <redacted>"),
    ("joining with %s now" % K3S_TOKEN, "joining with <redacted> now"),
    ("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.abc-def", "Authorization: Bearer <redacted>"),
    ("key secret_ci_0123456789abcdef.AbCdEf012 refused", "key <redacted> refused"),
    ("k3s server --token s3cr3t --flannel-iface eth1", "k3s server --token <redacted> --flannel-iface eth1"),
    ("password=hunter2; user=admin", "password=<redacted>; user=admin"),
    ('{"api_key": "xyz", "name": "n"}', '{"api_key": "<redacted>", "name": "n"}'),
    ("LAMBDA_API_KEY=abc K3S_TOKEN=def", "LAMBDA_API_KEY=<redacted> K3S_TOKEN=<redacted>"),
])
def test_secrets_are_redacted(line: str, expected: str) -> None:
    assert redact_secrets(line) == expected


@pytest.mark.parametrize("line", [
    "Using token file /var/lib/rancher/k3s/server/token",
    "Node demo-a10-1 is Ready",
    "level=info msg=\"Starting k3s v1.35.6+k3s1\"",
])
def test_ordinary_lines_are_left_alone(line: str) -> None:
    assert redact_secrets(line) == line


def test_redaction_is_stable_and_handles_nothing() -> None:
    once = redact_secrets("token=abc")
    assert redact_secrets(once) == once
    assert redact_secrets(None) == ""


def test_only_text_is_accepted() -> None:
    with pytest.raises(AnsibleFilterError, match="expects text"):
        redact_secrets({"token": "x"})
    assert FilterModule().filters()["redact_secrets"] is redact_secrets
