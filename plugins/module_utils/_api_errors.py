# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: what can go wrong talking to the Lambda Cloud API, in sentences a user can act on.

The client (lambda_api.py) raises these; modules, the inventory plugin and the script show their
text as it is. No message ever contains the API key.
"""

from __future__ import annotations

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._http import APIError
# Re-exported: the Lambda client takes them from here, with the Lambda errors.
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._http import (  # noqa: F401 pylint: disable=unused-import
    RETRYABLE_STATUSES,
    certainly_not_processed,
)

# Clear sentences for the error codes the spec documents. The API's own message and
# suggestion are appended because they carry the specifics (which key, which region).
_CODE_EXPLANATIONS = {
    "global/account-inactive": "The Lambda Cloud account is inactive, so the API refuses every request",
    "global/invalid-address": "Lambda Cloud refused the request because the account's billing address is invalid",
    "global/invalid-parameters": "Lambda Cloud rejected the request parameters",
    "global/object-does-not-exist": "Lambda Cloud could not find the requested object",
    "global/quota-exceeded": "The Lambda Cloud account quota is exhausted; ask Lambda support to raise it",
    "global/duplicate": "An object with that name already exists in Lambda Cloud",
    "global/internal-error": "Lambda Cloud reported an internal error",
    "instance-operations/launch/insufficient-capacity": "Lambda Cloud has no capacity for that instance type in that region right now",
    "instance-operations/launch/file-system-in-wrong-region": "The file system is in a different region from the instance",
    "filesystems/filesystem-in-use": "The file system is still mounted by an instance",
    "firewall-rulesets/firewall-ruleset-in-use": "The firewall ruleset is still attached to an instance",
}

# Errors about the account rather than the request: every further launch would meet them too, so a
# run launching several instances stops at the first one instead of leaving a half-made cluster.
ACCOUNT_WIDE_CODES = frozenset(("global/quota-exceeded", "global/account-inactive", "global/invalid-address",
                                "global/invalid-api-key"))


class LambdaAPIError(APIError):
    """A failure talking to the Lambda Cloud API, with a message fit to show a user.

    ``code`` is the API's error code (``global/invalid-api-key``...) or None for transport
    failures; ``status`` is the HTTP status or None when no response arrived.
    """

    @property
    def account_wide(self) -> bool:
        """True when the error concerns the whole account (quota, billing, an inactive account, the key)."""
        return self.code in ACCOUNT_WIDE_CODES


class AmbiguousRequestError(LambdaAPIError):
    """A request that changes state may or may not have been carried out (the answer was lost).

    Raised instead of retrying blindly: retrying a launch whose answer was lost would start a
    second instance. Callers reconcile by reading the state back (list the instances by name).
    """


def describe_error(code: str | None, status: int | None, message: str | None, suggestion: str | None, key_source: str) -> str:
    """One readable sentence (or two) for an API error envelope."""
    if code == "global/invalid-api-key" or (status == 401 and not code):
        return (
            "The Lambda Cloud API rejected the API key as invalid, expired or deleted (global/invalid-api-key). "
            "The key came from %s; create a new key in the Lambda Cloud dashboard and set it there." % key_source
        )
    if status == 403 and not code:
        return "The Lambda Cloud API refused access (HTTP 403). The key came from %s." % key_source
    if status == 429:
        return "The Lambda Cloud API kept answering 'too many requests' (HTTP 429) after every retry; wait and try again."
    detail = " ".join(part.strip() for part in (message, suggestion) if part and part.strip())
    lead = _CODE_EXPLANATIONS.get(code or "")
    if lead is None:
        lead = "The Lambda Cloud API answered HTTP %s" % status if status else "The Lambda Cloud API failed"
        if code:
            lead += " with error %s" % code
    elif code:
        lead += " (%s)" % code
    return lead + (": " + detail if detail else ".")
