# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: what can go wrong talking to the Lambda Cloud API, in sentences a user can act on.

The client (lambda_api.py) raises these; modules, the inventory plugin and the script show their
text as it is. No message ever contains the API key.
"""

from __future__ import annotations

import errno
import socket
import ssl

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

RETRYABLE_STATUSES = frozenset((429, 500, 502, 503, 504))

# Errors about the account rather than the request: every further launch would meet them too, so a
# run launching several instances stops at the first one instead of leaving a half-made cluster.
ACCOUNT_WIDE_CODES = frozenset(("global/quota-exceeded", "global/account-inactive", "global/invalid-address",
                                "global/invalid-api-key"))


class LambdaAPIError(Exception):
    """A failure talking to the Lambda Cloud API, with a message fit to show a user.

    ``code`` is the API's error code (``global/invalid-api-key``...) or None for transport
    failures; ``status`` is the HTTP status or None when no response arrived.
    """

    def __init__(self, message: str, code: str | None = None, status: int | None = None, retryable: bool = False,
                 retry_after: float | None = None, not_sent: bool = False, no_connection: bool = False, reason: str | None = None):
        super().__init__(message)
        self.message = message
        # For a failure without an HTTP answer, what went wrong in a few words ("Connection refused").
        self.reason = reason
        self.code = code
        self.status = status
        self.retryable = retryable
        # Seconds the server asked us to wait (Retry-After), if it said.
        self.retry_after = retry_after
        # True when the request certainly never reached the server (connection refused...).
        self.not_sent = not_sent
        # True when no connection to the API could be made at all (refused, unresolvable, unreachable, no
        # answer to the connection attempt): a wrong address or a network outage, retried only briefly.
        self.no_connection = no_connection or not_sent

    def __str__(self) -> str:
        return self.message

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


def transport_error(error: Exception, api_url: str, timeout: float) -> LambdaAPIError:
    """The LambdaAPIError for a request that got no HTTP answer (no connection, a timeout, a dropped connection)."""
    reason = getattr(error, "reason", error)
    if isinstance(reason, ssl.SSLCertVerificationError) or isinstance(error, ssl.SSLCertVerificationError):
        return LambdaAPIError("The TLS certificate of %s could not be verified (%s). Fix the CA trust store; "
                              "validate_certs=false only for a test endpoint you control." % (api_url, getattr(reason, "verify_message", reason)))
    # A refused or unresolvable connection never reached the server, so even a launch may be retried.
    not_sent = isinstance(reason, (ConnectionRefusedError, socket.gaierror)) or getattr(reason, "errno", None) in (
        errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH)
    # urllib wraps what fails while connecting and sending (URLError.reason); a timeout there means the connection was
    # never made, while a timeout waiting for the answer arrives bare.
    no_connection = not_sent or (reason is not error and isinstance(reason, socket.timeout))
    text = _reason_text(reason, no_connection, timeout)
    return LambdaAPIError("Could not reach the Lambda Cloud API at %s: %s." % (api_url, text), retryable=True, not_sent=not_sent,
                          no_connection=no_connection, reason=text)


def short_description(error: LambdaAPIError) -> str:
    """What went wrong in a few words, for a retry line."""
    if error.status:
        return "HTTP %s%s" % (error.status, " " + error.code if error.code else "")
    return error.reason or error.message.rstrip(".")


def seconds(value: float) -> str:
    """A duration for a message: 0.5, 12, 2.3."""
    return ("%.1f" % value).rstrip("0").rstrip(".") or "0"


def certainly_not_processed(error: LambdaAPIError) -> bool:
    """True when the server cannot have acted on the request."""
    return error.status == 429 or error.not_sent


def _reason_text(reason, while_connecting: bool, timeout: float) -> str:
    if isinstance(reason, socket.timeout):
        what = "the connection attempt" if while_connecting else "the request"
        return "%s timed out after %s s without an answer (timeout)" % (what, seconds(timeout))
    if isinstance(reason, socket.gaierror):
        return "the host name could not be resolved (%s)" % (reason.strerror or reason)
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__
