# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: what every HTTP API client of the collection shares.

The Lambda Cloud client (lambda_api.py) and the Pulumi ESC client (pulumi_esc.py) talk to different
services with the same rules: one sentence per error, retries with exponential backoff whose every
attempt is announced, a bounded total time, secrets kept out of every message and log line, https
only (plain http only to this machine), and credential files refused when others can read them.
Each client adds its own authentication, envelopes and error sentences on top of HTTPClient.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import random
import socket
import ssl
import stat
import time
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.parse import urlparse

from ansible.module_utils.urls import open_url

RETRYABLE_STATUSES = frozenset((429, 500, 502, 503, 504))
DEFAULT_MAX_RETRIES = 5
DEFAULT_CONNECT_RETRIES = 2
DEFAULT_RETRY_MAX_DELAY = 30.0
# However the budgets are set, a request stops being retried once this much time has gone by.
DEFAULT_RETRY_MAX_TOTAL = 120.0


class APIError(Exception):
    """A failure talking to an HTTP API, with a message fit to show a user.

    ``code`` is the API's error code or None for transport failures; ``status`` is the HTTP status
    or None when no response arrived.
    """

    def __init__(self, message: str, code=None, status: int | None = None, retryable: bool = False,
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


def transport_error(error: Exception, service: str, api_url: str, timeout: float, error_class=APIError) -> APIError:
    """The error for a request that got no HTTP answer (no connection, a timeout, a dropped connection)."""
    reason = getattr(error, "reason", error)
    if isinstance(reason, ssl.SSLCertVerificationError) or isinstance(error, ssl.SSLCertVerificationError):
        return error_class("The TLS certificate of %s could not be verified (%s). Fix the CA trust store; "
                           "validate_certs=false only for a test endpoint you control." % (api_url, getattr(reason, "verify_message", reason)))
    # A refused or unresolvable connection never reached the server, so even a request that creates something may be retried.
    not_sent = isinstance(reason, (ConnectionRefusedError, socket.gaierror)) or getattr(reason, "errno", None) in (
        errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH)
    # urllib wraps what fails while connecting and sending (URLError.reason); a timeout there means the connection was
    # never made, while a timeout waiting for the answer arrives bare.
    no_connection = not_sent or (reason is not error and isinstance(reason, socket.timeout))
    text = _reason_text(reason, no_connection, timeout)
    return error_class("Could not reach the %s at %s: %s." % (service, api_url, text), retryable=True, not_sent=not_sent,
                       no_connection=no_connection, reason=text)


def short_description(error: APIError) -> str:
    """What went wrong in a few words, for a retry line."""
    if error.status:
        return "HTTP %s%s" % (error.status, " %s" % error.code if isinstance(error.code, str) and error.code else "")
    return error.reason or error.message.rstrip(".")


def seconds(value: float) -> str:
    """A duration for a message: 0.5, 12, 2.3."""
    return ("%.1f" % value).rstrip("0").rstrip(".") or "0"


def certainly_not_processed(error: APIError) -> bool:
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


# -- retries --------------------------------------------------------------------------------------------------------


class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts (per kind of failure) and in total time.

    Two budgets: an API that answers "try again" (HTTP 429, 5xx) or answers too slowly is retried
    max_retries times; an API that cannot be connected to at all is more likely a wrong address or an
    outage, so it is retried only connect_retries times.
    """

    def __init__(self, max_retries: int = DEFAULT_MAX_RETRIES, base_delay: float = 1.0, max_delay: float = DEFAULT_RETRY_MAX_DELAY,
                 max_total: float = DEFAULT_RETRY_MAX_TOTAL, connect_retries: int = DEFAULT_CONNECT_RETRIES):
        if max_retries < 0 or connect_retries < 0:
            raise ValueError("max_retries and connect_retries must be zero or more")
        self.max_retries = max_retries
        self.connect_retries = connect_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_total = max_total

    def retries_for(self, failure: APIError) -> int:
        """How many retries this kind of failure gets."""
        return self.connect_retries if failure.no_connection else self.max_retries

    def delay(self, retry_number: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based)."""
        if retry_after is not None:
            # The server said how long; honour it, but never wait longer than we are allowed to.
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        return rng.uniform(0, ceiling)


class RetryCount:
    """The attempts of one request: how many failures of each kind, and whether another attempt is allowed."""

    def __init__(self, policy: RetryPolicy, started: float, service: str = "API"):
        self.policy = policy
        self.started = started
        self.service = service
        self.attempts = 0
        self._failures = {True: 0, False: 0}  # keyed by failure.no_connection

    def failed(self, failure: APIError) -> int:
        """Count a failed attempt; return how many of this kind there have been."""
        self.attempts += 1
        self._failures[failure.no_connection] += 1
        return self._failures[failure.no_connection]

    def allows_another(self, failure: APIError) -> bool:
        return failure.retryable and self._failures[failure.no_connection] <= self.policy.retries_for(failure)

    def retry_line(self, method: str, path: str, failure: APIError, wait: float) -> str:
        """One line announcing a retry: what failed, attempt k of n, and the wait."""
        allowed = self.policy.retries_for(failure) + 1
        return "%s: %s %s: %s; attempt %d of %d failed, trying again in %s s." % (
            self.service, method, path, short_description(failure), self._failures[failure.no_connection], allowed, seconds(wait))

    def given_up(self, failure: APIError, now: float) -> APIError:
        """The failure, its message ending with how many attempts were made over how long."""
        if not failure.retryable:
            return failure
        failure.message = "%s (gave up after %d attempt%s in %.1f s)" % (
            failure.message.rstrip("."), self.attempts, "" if self.attempts == 1 else "s", now - self.started)
        failure.args = (failure.message,)
        return failure


def option(options: dict, name: str, default):
    """The option's value, or ``default`` when it is missing or None."""
    value = options.get(name)
    return default if value is None else value


def retry_policy(options: dict) -> RetryPolicy:
    """The retry policy the client options ask for (max_retries, connect_retries, retry_max_delay), with the defaults."""
    return RetryPolicy(max_retries=int(option(options, "max_retries", DEFAULT_MAX_RETRIES)),
                       connect_retries=int(option(options, "connect_retries", DEFAULT_CONNECT_RETRIES)),
                       max_delay=float(option(options, "retry_max_delay", DEFAULT_RETRY_MAX_DELAY)))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header, which may be a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    return max(moment.timestamp() - (time.time() if now is None else now), 0.0)


# -- settings ---------------------------------------------------------------------------------------------------------


def checked_url(api_url: str, what: str, error_class=APIError) -> str:
    """The URL without a trailing slash; https only, except plain http to this machine (a local emulator),
    because credentials travel in a header that anyone on the path could read. ``what``: "The Lambda Cloud API URL"."""
    parsed = urlparse(api_url)
    if parsed.scheme == "https" and parsed.hostname:
        return api_url.rstrip("/")
    if parsed.scheme == "http" and _is_loopback(parsed.hostname or ""):
        return api_url.rstrip("/")
    raise error_class("%s must be an https:// address (plain http only to this machine), got %r." % (what, api_url))


def checked_secret(value: str | None, missing: str, what: str, error_class=APIError) -> str:
    """``value`` stripped; ``missing`` (a sentence) when there is none. A value with whitespace or control characters
    would corrupt the Authorization header: that is said without echoing it. ``what``: "The Lambda Cloud API key"."""
    if not value or not str(value).strip():
        raise error_class(missing)
    value = str(value).strip()
    if any(ord(char) < 33 or ord(char) == 127 for char in value):
        raise error_class("%s contains whitespace or control characters; check how it is set." % what)
    return value


def read_secret_file(path: str, what: str, named_by: str, error_class=APIError) -> str:
    """The secret in ``path``, refused (like ssh refuses a private key) when another user may read it or owns it.

    ``what``: "The Lambda Cloud API key"; ``named_by``: the environment variable or option that named the file.
    """
    try:
        with open(os.path.expanduser(path), "rb") as handle:
            # The open file's own mode and owner: a link (as Kubernetes and CI mount secrets) counts by its target.
            info = os.fstat(handle.fileno())
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise error_class("%s file %s (named by %s) is open to group or others (mode %04o); make it private with chmod 600 %s."
                                  % (what, path, named_by, stat.S_IMODE(info.st_mode), path))
            if info.st_uid not in (os.geteuid(), 0):
                raise error_class("%s file %s (named by %s) belongs to user id %d, not to this user (%d) or root; give it to this user."
                                  % (what, path, named_by, info.st_uid, os.geteuid()))
            return handle.read().decode("utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise error_class("Could not read %s from %s (named by %s): %s."
                          % (what[0].lower() + what[1:], path, named_by, getattr(error, "strerror", None) or error)) from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- the client -------------------------------------------------------------------------------------------------------


class HTTPClient:
    """One API's transport: a single exchange, the retry loop around it, and the secret kept out of every line.

    Subclasses set ``service`` (the API's name in messages: "Lambda Cloud API") and ``error_class``, and
    implement ``_error_from_http``. ``log`` receives one line per HTTP exchange (for -vvv) and ``notify``
    one line per retry (for every verbosity: a slow or unreachable API must not look like a hang);
    neither ever sees a header.
    """

    service = "API"
    error_class = APIError
    user_agent = "sophia.lambda_k3s"

    def __init__(self, api_url: str, secret: str, timeout: float, validate_certs: bool = True, retry: RetryPolicy | None = None,
                 log=None, notify=None, sleep=time.sleep, clock=time.monotonic, opener=open_url, rng: random.Random | None = None):
        self.api_url = api_url
        self._secret = secret
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.retry = retry or RetryPolicy()
        self._log = log
        self._notify = notify
        self._sleep = sleep
        self._clock = clock
        self._open = opener
        self._rng = rng or random.Random()
        self.request_count = 0

    def _with_retries(self, method: str, path: str, attempt, idempotent: bool):
        """Run ``attempt()`` until it returns, retrying what the policy allows; raise the final error otherwise.

        Requests that are safe to repeat (``idempotent``) are retried on every retryable failure; the others only
        when the server certainly did not act on them (HTTP 429, or no connection).
        """
        count = RetryCount(self.retry, self._clock(), self.service)
        # True once an earlier attempt may have been carried out although its answer was lost.
        maybe_done = False
        while True:
            self._before_attempt()
            try:
                return attempt()
            except APIError as error:
                failure = error
            if maybe_done and self._done_after_lost_answer(method, path, failure):
                return None
            maybe_done = maybe_done or not certainly_not_processed(failure)
            retry_number = count.failed(failure)
            if not count.allows_another(failure) or (not idempotent and not certainly_not_processed(failure)):
                raise self._final(failure, method, path, idempotent, count)
            wait = self.retry.delay(retry_number, failure.retry_after, self._rng)
            if self._clock() - count.started + wait > self.retry.max_total:
                raise self._final(failure, method, path, idempotent, count)
            self._announce(count.retry_line(method, path, failure, wait))
            self._sleep(wait)

    def _exchange(self, method: str, path: str, url: str, payload: bytes | None, headers: dict) -> tuple:
        """One HTTP exchange: (status, body bytes), or the API's error for a failure."""
        self.request_count += 1
        started = self._clock()
        try:
            response = self._open(url, data=payload, headers=headers, method=method, timeout=self.timeout,
                                  validate_certs=self.validate_certs, http_agent=self.user_agent, follow_redirects="none",
                                  use_netrc=False, use_proxy=True)
            status = response.getcode()
            raw = response.read()
        except HTTPError as error:
            self._debug("%s %s -> HTTP %s in %.2fs" % (method, path, error.code, self._clock() - started))
            failure = self._error_from_http(error)
            failure.retry_after = parse_retry_after(error.headers.get("Retry-After") if error.headers else None)
            raise failure from None
        except (URLError, HTTPException, socket.timeout, ConnectionError, OSError) as error:
            self._debug("%s %s -> %s in %.2fs" % (method, path, type(error).__name__, self._clock() - started))
            raise transport_error(error, self.service, self.api_url, self.timeout, self.error_class) from None
        self._debug("%s %s -> HTTP %s in %.2fs" % (method, path, status, self._clock() - started))
        return status, raw

    # -- hooks ----------------------------------------------------------------------------------------------------

    def _json_body(self, status: int, raw: bytes):
        """The decoded JSON of a response body ({} when empty); a body that is not JSON is a retryable error."""
        try:
            return json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            raise self.error_class("The %s sent a response that is not valid JSON (HTTP %s)." % (self.service, status), status=status,
                                   retryable=True) from None

    def _error_from_http(self, error: HTTPError) -> APIError:
        raise NotImplementedError

    def _before_attempt(self) -> None:
        """Called before every attempt (request pacing)."""

    def _done_after_lost_answer(self, method: str, path: str, failure: APIError) -> bool:
        """True when ``failure`` shows that an earlier attempt, whose answer was lost, was carried out."""
        return False

    def _final(self, failure: APIError, method: str, path: str, idempotent: bool, count: RetryCount) -> APIError:
        return count.given_up(failure, self._clock())

    # -- lines --------------------------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        # Defence in depth: should the server ever echo the secret back, it does not reach the user.
        return text.replace(self._secret, "<redacted>") if self._secret else text

    def _announce(self, line: str) -> None:
        if self._notify is None:
            self._debug(line)
        else:
            self._notify(self._scrub(line))

    def _debug(self, line: str) -> None:
        if self._log is not None:
            self._log(self._scrub(line))
