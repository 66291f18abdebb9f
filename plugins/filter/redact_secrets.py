# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets replaced in text that leaves a node (logs): K3s tokens, Lambda API keys, bearer tokens and the values of
token=, password=, secret= and api_key= settings (Jupyter prints its URL with ?token=...). Documentation:
redact_secrets.yml."""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

REDACTED = "<redacted>"

_SECRET_NAMES = r"(?:token|password|passwd|secret|api[_-]?key|access[_-]?key|private[_-]?key)"
# Each pattern's first group, when it has one, is kept: it names what was redacted.
_PATTERNS = (
    # K3s secure tokens: K10<sha256 of the cluster CA>::<user>:<password> (docs.k3s.io, "Token Management").
    re.compile(r"()K10[0-9a-fA-F]{64}::[^\s:]+:\S+"),
    # Lambda Cloud API keys: secret_<name>_<id>.<secret>.
    re.compile(r"()\bsecret_[A-Za-z0-9_-]+\.[A-Za-z0-9]+"),
    re.compile(r"(\b[Bb]earer\s+)[A-Za-z0-9._~+/=-]+"),
    # name=value, name: value and "name": "value", and --name value, for names that hold secrets.
    re.compile(r"((?:\b|_)%s\b[\"']?\s*[:=]\s*[\"']?)(?!<redacted>)[^\s\"'&,;]+" % _SECRET_NAMES, re.IGNORECASE),
    re.compile(r"(--%s\s+)(?!<redacted>)[^\s\"'&,;]+" % _SECRET_NAMES, re.IGNORECASE),
)


def redact_secrets(text: object) -> str:
    """``text`` with every secret it holds replaced by <redacted>."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise AnsibleFilterError("redact_secrets expects text (a log), got %s" % type(text).__name__)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class FilterModule:
    """Ansible filters: sophia.lambda_k3s.redact_secrets."""

    def filters(self) -> dict:
        return {"redact_secrets": redact_secrets}
