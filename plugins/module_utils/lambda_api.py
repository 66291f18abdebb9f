# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lambda Cloud API client shared by the inventory plugin, inventories/lambda.py and the modules.

One client, one place for the rules the API imposes: Bearer auth, the ``{"data": ...}`` and
``{"error": {...}}`` envelopes, retries on rate limits and transient faults, the launch rate limit
and one readable sentence per error code. The API key never leaves the Authorization header:
it is not logged, not put in exception text and not written to disk.
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
from urllib.parse import quote, urlencode, urlparse

from ansible.module_utils.urls import open_url

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.controller_files import ControllerLock, lock_path

DEFAULT_API_URL = "https://cloud.lambda.ai/api/v1"
API_KEY_ENV = "LAMBDA_API_KEY"
# A file holding the key, for CI systems that mount secrets as files: only the path reaches the
# environment, which tools such as ansible-runner write into their artifacts.
API_KEY_FILE_ENV = "LAMBDA_API_KEY_FILE"
API_URL_ENV = "LAMBDA_API_URL"
COLLECTION_VERSION = "1.0.0"
USER_AGENT = "sophia.lambda_k3s/" + COLLECTION_VERSION

# Lambda documents one launch request per 12 seconds (five per minute), and one request per
# second for everything else. Requests sent exactly 1 s apart can still arrive closer together;
# against a strict limiter that got about a third of them answered 429 (benchmarks/provision_pacing.py),
# so the default keeps a tenth of a second of room.
DEFAULT_LAUNCH_INTERVAL = 12.0
DEFAULT_REQUEST_INTERVAL = 1.1
REQUEST_INTERVAL_ENV = "LAMBDA_REQUEST_INTERVAL"
# A reserved slot further ahead than this many intervals can only come from a wall clock that
# jumped back (or a stale file): it is ignored rather than waited for.
_MAX_QUEUED_INTERVALS = 60
# The slot file is locked only to read and write one number: a longer wait means a hung process,
# and pacing then holds within this process instead.
_PACER_LOCK_TIMEOUT = 30.0

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

_RETRYABLE_STATUSES = frozenset((429, 500, 502, 503, 504))

# Errors about the account rather than the request: every further launch would meet them too, so a
# run launching several instances stops at the first one instead of leaving a half-made cluster.
ACCOUNT_WIDE_CODES = frozenset(("global/quota-exceeded", "global/account-inactive", "global/invalid-address",
                                "global/invalid-api-key"))

# Instance fields that are credentials: the Jupyter URL embeds the token.
SECRET_INSTANCE_FIELDS = ("jupyter_token", "jupyter_url")


def without_secrets(instance: dict | None) -> dict:
    """The instance without its Jupyter credentials (empty for None)."""
    return {key: value for key, value in (instance or {}).items() if key not in SECRET_INSTANCE_FIELDS}


class LambdaAPIError(Exception):
    """A failure talking to the Lambda Cloud API, with a message fit to show a user.

    ``code`` is the API's error code (``global/invalid-api-key``...) or None for transport
    failures; ``status`` is the HTTP status or None when no response arrived.
    """

    def __init__(self, message: str, code: str | None = None, status: int | None = None, retryable: bool = False,
                 retry_after: float | None = None, not_sent: bool = False):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.retryable = retryable
        # Seconds the server asked us to wait (Retry-After), if it said.
        self.retry_after = retry_after
        # True when the request certainly never reached the server (connection refused...).
        self.not_sent = not_sent

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


class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts and in total time."""

    def __init__(self, max_retries: int = 5, base_delay: float = 1.0, max_delay: float = 30.0, max_total: float = 120.0):
        if max_retries < 0:
            raise ValueError("max_retries must be zero or more")
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_total = max_total

    def delay(self, retry_number: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based)."""
        if retry_after is not None:
            # The server said how long; honour it, but never wait longer than we are allowed to.
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        return rng.uniform(0, ceiling)


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


class LaunchThrottle:
    """Keeps launch requests at least ``interval`` seconds apart, across processes on the controller.

    The lock file holds the wall-clock time of the last launch.
    """

    def __init__(self, interval: float = DEFAULT_LAUNCH_INTERVAL, api_url: str = DEFAULT_API_URL, state_dir: str | None = None,
                 sleep=time.sleep, clock=time.time):
        self.interval = max(float(interval), 0.0)
        self._sleep = sleep
        self._clock = clock
        self._lock = ControllerLock(lock_path(state_dir, "launch", api_url), error=LambdaAPIError)

    @property
    def path(self) -> str:
        return self._lock.path

    def __enter__(self) -> LaunchThrottle:
        self._lock.__enter__()
        wait = self._lock.read_time() + self.interval - self._clock()
        if wait > 0:
            self._sleep(min(wait, self.interval))
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            # The request went out (or was attempted): the next one waits from now either way.
            self._lock.write(repr(self._clock()))
        finally:
            self._lock.__exit__(*exc_info)


class RequestPacer:
    """Spaces every API request ``interval`` seconds apart, across processes on the controller.

    Several hosts' tasks call the API at once (one process each), and Lambda allows about one
    request per second. Each request reserves the next free slot under the lock, then waits for
    it with the lock released, so a queue of processes drains at the allowed rate instead of
    meeting HTTP 429 and backing off. The lock file holds the last reserved slot (wall clock).
    """

    def __init__(self, interval: float = DEFAULT_REQUEST_INTERVAL, api_url: str = DEFAULT_API_URL, state_dir: str | None = None,
                 sleep=time.sleep, clock=time.time):
        self.interval = max(float(interval), 0.0)
        self._sleep = sleep
        self._clock = clock
        self._path = lock_path(state_dir, "requests", api_url)
        # This process's last slot: all there is to go by when the shared file cannot be used.
        self._last_slot = 0.0
        # Why requests are paced only within this process, when the shared file cannot be used.
        self.not_shared_because: str | None = None

    def wait_for_slot(self) -> float:
        """Reserve the next free slot and sleep until it comes; return the slot (wall-clock time)."""
        now = self._clock()
        slot = self.reserve_slot(now)
        if slot > now:
            self._sleep(slot - now)
        return slot

    def reserve_slot(self, now: float) -> float:
        """Claim the first moment at least ``interval`` after every slot claimed before, from ``now`` on."""
        if not self.interval:
            return now
        try:
            with ControllerLock(self._path, timeout=_PACER_LOCK_TIMEOUT, error=LambdaAPIError) as lock:
                slot = self._next_slot(now, lock.read_time())
                lock.write(repr(slot))
        except LambdaAPIError as error:
            # Pacing is a courtesy to the API: without the shared file (a read-only home, as in
            # some execution environments) it still holds within this process, and 429s are retried.
            self.not_shared_because = str(error)
            slot = self._next_slot(now, self._last_slot)
        self._last_slot = slot
        return slot

    def _next_slot(self, now: float, last_slot: float) -> float:
        slot = max(now, last_slot + self.interval)
        if slot - now > self.interval * _MAX_QUEUED_INTERVALS:
            return now
        return slot


class LambdaClient:
    """A small, synchronous client for the Lambda Cloud API v1.

    ``key_source`` only says where the key came from ("the api_key option", "the
    LAMBDA_API_KEY environment variable") so that an authentication error can tell the user
    what to fix. ``log`` receives one line per HTTP exchange and never sees headers.
    """

    def __init__(self, api_key: str | None, api_url: str | None = None, timeout: float = 30, validate_certs: bool = True,
                 retry: RetryPolicy | None = None, key_source: str = "the api_key option",
                 launch_interval: float = DEFAULT_LAUNCH_INTERVAL, state_dir: str | None = None,
                 request_interval: float = DEFAULT_REQUEST_INTERVAL, log=None, sleep=time.sleep, clock=time.monotonic, opener=open_url,
                 rng: random.Random | None = None):
        self._api_key = _checked_key(api_key)
        self.api_url = _checked_url(api_url or DEFAULT_API_URL)
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.retry = retry or RetryPolicy()
        self.key_source = key_source
        self.launch_throttle = LaunchThrottle(launch_interval, self.api_url, state_dir)
        self.pacer = RequestPacer(request_interval, self.api_url, state_dir, sleep=sleep)
        self._said_pacing_is_local = False
        self._state_dir = state_dir
        self._log = log
        self._sleep = sleep
        self._clock = clock
        self._open = opener
        self._rng = rng or random.Random()
        self.request_count = 0

    def controller_lock(self, name: str, *scope: str | None) -> ControllerLock:
        """A lock named ``name`` for this API address and ``scope`` (a cluster and an instance name, say),
        shared by every process on this controller."""
        return ControllerLock(lock_path(self._state_dir, name, self.api_url, *scope), error=LambdaAPIError)

    # -- transport -------------------------------------------------------------------------

    def request(self, method: str, path: str, body=None, query: dict | None = None, idempotent: bool | None = None):
        """Send one API call and return the ``data`` payload.

        Requests that are safe to repeat (reads, deletes, terminate, rename: ``idempotent``) are
        retried on 429, 5xx, ``provider/*`` errors and network failures; a DELETE retried after an
        answer was lost and then answered 404 was carried out the first time, so it succeeds. Requests that create
        something are retried only when the server certainly did not act (429, or no connection);
        when the answer is lost they raise AmbiguousRequestError for the caller to reconcile.
        """
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE")
        url = self.api_url + path
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        payload = None if body is None else json.dumps(body).encode("utf-8")
        started = self._clock()
        retry_number = 0
        # True once an earlier attempt may have been carried out although its answer was lost.
        maybe_done = False
        while True:
            self._wait_for_request_slot()
            try:
                return self._send_once(method, path, url, payload)
            except LambdaAPIError as error:
                failure = error
            if method == "DELETE" and maybe_done and failure.status == 404:
                # The first attempt deleted it; the retry finds nothing left to delete.
                self._debug("%s %s: gone after an answer was lost, so it is deleted" % (method, path))
                return None
            maybe_done = maybe_done or not _certainly_not_processed(failure)
            retry_number += 1
            if not failure.retryable or retry_number > self.retry.max_retries:
                raise self._final(failure, method, path, idempotent)
            if not idempotent and not _certainly_not_processed(failure):
                raise self._final(failure, method, path, idempotent)
            wait = self.retry.delay(retry_number, failure.retry_after, self._rng)
            if self._clock() - started + wait > self.retry.max_total:
                raise self._final(failure, method, path, idempotent)
            self._debug("%s %s: %s; retry %d/%d in %.1fs" % (method, path, _short(failure), retry_number, self.retry.max_retries, wait))
            self._sleep(wait)

    def _send_once(self, method: str, path: str, url: str, payload: bytes | None):
        headers = {"Authorization": "Bearer " + self._api_key, "Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        self.request_count += 1
        started = self._clock()
        try:
            response = self._open(url, data=payload, headers=headers, method=method, timeout=self.timeout,
                                  validate_certs=self.validate_certs, http_agent=USER_AGENT, follow_redirects="none",
                                  use_netrc=False, use_proxy=True)
            status = response.getcode()
            raw = response.read()
        except HTTPError as error:
            self._debug("%s %s -> HTTP %s in %.2fs" % (method, path, error.code, self._clock() - started))
            raise self._error_from_http(error) from None
        except (URLError, HTTPException, socket.timeout, ConnectionError, OSError) as error:
            self._debug("%s %s -> %s in %.2fs" % (method, path, type(error).__name__, self._clock() - started))
            raise _transport_error(error, self.api_url) from None
        self._debug("%s %s -> HTTP %s in %.2fs" % (method, path, status, self._clock() - started))
        return self._data_from(raw, status)

    def _data_from(self, raw: bytes, status: int):
        try:
            document = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            raise LambdaAPIError("The Lambda Cloud API sent a response that is not valid JSON (HTTP %s)." % status,
                                 status=status, retryable=True) from None
        if not isinstance(document, dict) or "data" not in document:
            raise LambdaAPIError("The Lambda Cloud API sent a response without the expected 'data' field (HTTP %s)." % status,
                                 status=status, retryable=True)
        return document["data"]

    def _error_from_http(self, error: HTTPError) -> LambdaAPIError:
        status = error.code
        code = message = suggestion = None
        try:
            envelope = json.loads(error.read().decode("utf-8")).get("error") or {}
            code, message, suggestion = envelope.get("code"), envelope.get("message"), envelope.get("suggestion")
        except (ValueError, AttributeError, OSError, HTTPException):
            pass
        if 300 <= status < 400:
            location = error.headers.get("Location", "another address") if error.headers else "another address"
            result = LambdaAPIError("The Lambda Cloud API at %s redirected to %s; set api_url to the current API address "
                                    "(the default is %s)." % (self.api_url, location, DEFAULT_API_URL), status=status)
        else:
            retryable = status in _RETRYABLE_STATUSES or (code or "").startswith("provider/")
            result = LambdaAPIError(self._scrub(describe_error(code, status, message, suggestion, self.key_source)),
                                    code=code, status=status, retryable=retryable)
        result.retry_after = parse_retry_after(error.headers.get("Retry-After") if error.headers else None)
        return result

    def _final(self, failure: LambdaAPIError, method: str, path: str, idempotent: bool) -> LambdaAPIError:
        if not idempotent and failure.retryable and not _certainly_not_processed(failure):
            return AmbiguousRequestError(
                "%s %s may or may not have been carried out: %s" % (method, path, failure.message),
                code=failure.code, status=failure.status, retryable=False)
        return failure

    def _scrub(self, text: str) -> str:
        # Defence in depth: should the server ever echo the key back, it does not reach the user.
        return text.replace(self._api_key, "<redacted>") if self._api_key else text

    def _wait_for_request_slot(self) -> None:
        self.pacer.wait_for_slot()
        if self.pacer.not_shared_because and not self._said_pacing_is_local:
            self._said_pacing_is_local = True
            self._debug("request pacing holds within this process only: %s" % self.pacer.not_shared_because)

    def _debug(self, line: str) -> None:
        if self._log is not None:
            self._log(self._scrub(line))

    # -- instances -------------------------------------------------------------------------

    def list_instances(self, cluster_id: str | None = None) -> list:
        return self.request("GET", "/instances", query={"cluster_id": cluster_id} if cluster_id else None)

    def get_instance(self, instance_id: str) -> dict:
        return self.request("GET", "/instances/" + _segment(instance_id))

    def rename_instance(self, instance_id: str, name: str) -> dict:
        return self.request("POST", "/instances/" + _segment(instance_id), {"name": name}, idempotent=True)

    def list_instance_types(self) -> dict:
        return self.request("GET", "/instance-types")

    def launch_instance(self, launch_request: dict) -> str:
        """Launch one instance (the API takes one per call) and return its id.

        Waits as long as needed to keep launches ``launch_interval`` apart across processes.
        """
        with self.launch_throttle:
            data = self.request("POST", "/instance-operations/launch", launch_request, idempotent=False)
        ids = (data.get("instance_ids") if isinstance(data, dict) else None) or []
        if len(ids) != 1:
            raise LambdaAPIError("The Lambda Cloud API accepted the launch but returned %d instance ids instead of one." % len(ids))
        return ids[0]

    def terminate_instances(self, instance_ids: list) -> list:
        data = self.request("POST", "/instance-operations/terminate", {"instance_ids": list(instance_ids)}, idempotent=True)
        return data.get("terminated_instances", [])

    def restart_instances(self, instance_ids: list) -> list:
        data = self.request("POST", "/instance-operations/restart", {"instance_ids": list(instance_ids)}, idempotent=True)
        return data.get("restarted_instances", [])

    # -- ssh keys, images, file systems ------------------------------------------------------

    def list_ssh_keys(self) -> list:
        return self.request("GET", "/ssh-keys")

    def add_ssh_key(self, name: str, public_key: str) -> dict:
        return self.request("POST", "/ssh-keys", {"name": name, "public_key": public_key}, idempotent=False)

    def delete_ssh_key(self, key_id: str) -> None:
        self.request("DELETE", "/ssh-keys/" + _segment(key_id))

    def list_file_systems(self) -> list:
        return self.request("GET", "/file-systems")

    # -- firewall rulesets -----------------------------------------------------------------

    def list_firewall_rulesets(self) -> list:
        return self.request("GET", "/firewall-rulesets")

    def create_firewall_ruleset(self, name: str, region: str, rules: list) -> dict:
        return self.request("POST", "/firewall-rulesets", {"name": name, "region": region, "rules": rules}, idempotent=False)

    def update_firewall_ruleset(self, ruleset_id: str, name: str | None = None, rules: list | None = None) -> dict:
        body = {key: value for key, value in (("name", name), ("rules", rules)) if value is not None}
        return self.request("PATCH", "/firewall-rulesets/" + _segment(ruleset_id), body, idempotent=True)

    def delete_firewall_ruleset(self, ruleset_id: str) -> None:
        self.request("DELETE", "/firewall-rulesets/" + _segment(ruleset_id))

    def get_global_firewall_ruleset(self) -> dict:
        """The account-wide rules, which apply to every instance on top of its rulesets."""
        return self.request("GET", "/firewall-rulesets/global")

    def update_global_firewall_rules(self, rules: list) -> dict:
        return self.request("PATCH", "/firewall-rulesets/global", {"rules": rules}, idempotent=True)

    # -- waiting -------------------------------------------------------------------------

    def wait_for_instances(self, instance_ids: list, ready, timeout: float = 900, poll_interval: float = 10) -> list:
        """Poll GET /instances until ``ready(instance)`` holds for every id; return those instances.

        One list call per poll whatever the number of instances, which keeps within the 1 req/s limit.
        An instance that disappears from the list counts as ready when ``ready(None)`` is true.
        """
        deadline = self._clock() + timeout
        wanted = list(instance_ids)
        while True:
            by_id = {item.get("id"): item for item in self.list_instances()}
            current = [by_id.get(instance_id) for instance_id in wanted]
            if all(ready(item) for item in current):
                return current
            if self._clock() + poll_interval > deadline:
                waiting = [instance_id for instance_id, item in zip(wanted, current) if not ready(item)]
                raise LambdaAPIError("Timed out after %ds waiting for Lambda Cloud instances %s; their status is %s."
                                     % (timeout, ", ".join(waiting), ", ".join(
                                         (by_id.get(i) or {}).get("status", "gone") for i in waiting)))
            self._sleep(poll_interval)


def client_from_options(options: dict, log=None, key_source: str = "the api_key option") -> LambdaClient:
    """Build a client from the options shared by the modules, the inventory plugin and the script.

    Keys: api_key, api_url, timeout, validate_certs, max_retries, retry_max_delay, launch_interval,
    request_interval.
    ``key_source`` says where a given api_key came from. Without one the key comes from
    LAMBDA_API_KEY, else from the file LAMBDA_API_KEY_FILE names; the URL falls back to LAMBDA_API_URL
    and request_interval to LAMBDA_REQUEST_INTERVAL.
    """
    api_key = options.get("api_key")
    if not api_key:
        api_key, key_source = key_from_environment()
    retry = RetryPolicy(max_retries=int(_option(options, "max_retries", 5)),
                        max_delay=float(_option(options, "retry_max_delay", 30.0)))
    return LambdaClient(api_key, api_url=options.get("api_url") or os.environ.get(API_URL_ENV) or DEFAULT_API_URL,
                        timeout=float(_option(options, "timeout", 30)), validate_certs=bool(_option(options, "validate_certs", True)),
                        retry=retry, key_source=key_source, launch_interval=float(_option(options, "launch_interval", DEFAULT_LAUNCH_INTERVAL)),
                        request_interval=_request_interval(options), log=log)


def key_from_environment() -> tuple:
    """(key or None, where it came from): LAMBDA_API_KEY, else the file LAMBDA_API_KEY_FILE names."""
    if os.environ.get(API_KEY_ENV):
        return os.environ[API_KEY_ENV], "the %s environment variable" % API_KEY_ENV
    path = os.environ.get(API_KEY_FILE_ENV)
    if not path:
        return None, "the %s environment variable" % API_KEY_ENV
    return _read_key_file(path), "the file %s (named by %s)" % (path, API_KEY_FILE_ENV)


def _read_key_file(path: str) -> str:
    """The key in ``path``, refused (like ssh refuses a private key) when another user may read it or owns it."""
    try:
        with open(os.path.expanduser(path), "rb") as handle:
            # The open file's own mode and owner: a link (as Kubernetes and CI mount secrets) counts by its target.
            info = os.fstat(handle.fileno())
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise LambdaAPIError("The Lambda Cloud API key file %s (named by %s) is open to group or others (mode %04o); "
                                     "make it private with chmod 600 %s." % (path, API_KEY_FILE_ENV, stat.S_IMODE(info.st_mode), path))
            if info.st_uid not in (os.geteuid(), 0):
                raise LambdaAPIError("The Lambda Cloud API key file %s (named by %s) belongs to user id %d, not to this user (%d) "
                                     "or root; give it to this user." % (path, API_KEY_FILE_ENV, info.st_uid, os.geteuid()))
            return handle.read().decode("utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise LambdaAPIError("Could not read the Lambda Cloud API key from %s (named by %s): %s."
                             % (path, API_KEY_FILE_ENV, getattr(error, "strerror", None) or error)) from None


def _request_interval(options: dict) -> float:
    value = _option(options, "request_interval", os.environ.get(REQUEST_INTERVAL_ENV) or DEFAULT_REQUEST_INTERVAL)
    try:
        interval = float(value)
    except (TypeError, ValueError):
        interval = -1.0
    if not interval >= 0:  # also rejects NaN
        raise LambdaAPIError("request_interval (or %s) must be a number of seconds, zero or more." % REQUEST_INTERVAL_ENV)
    return interval


def _option(options: dict, name: str, default):
    value = options.get(name)
    return default if value is None else value


def _checked_key(api_key: str | None) -> str:
    if not api_key or not str(api_key).strip():
        raise LambdaAPIError("No Lambda Cloud API key was given: set the api_key option, the %s environment variable, "
                             "or %s to the path of a file holding the key." % (API_KEY_ENV, API_KEY_FILE_ENV))
    api_key = str(api_key).strip()
    if any(ord(char) < 33 or ord(char) == 127 for char in api_key):
        # A key with a newline or space would corrupt the Authorization header; say so without echoing it.
        raise LambdaAPIError("The Lambda Cloud API key contains whitespace or control characters; check how it is set.")
    return api_key


def _checked_url(api_url: str) -> str:
    """The URL without a trailing slash; https only, except plain http to this machine (a local emulator),
    because the key travels in a header that anyone on the path could read."""
    parsed = urlparse(api_url)
    if parsed.scheme == "https" and parsed.hostname:
        return api_url.rstrip("/")
    if parsed.scheme == "http" and _is_loopback(parsed.hostname or ""):
        return api_url.rstrip("/")
    raise LambdaAPIError("The Lambda Cloud API URL must be an https:// address (plain http only to this machine), got %r." % api_url)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def _short(error: LambdaAPIError) -> str:
    return "HTTP %s %s" % (error.status, error.code or "") if error.status else error.message


def _certainly_not_processed(error: LambdaAPIError) -> bool:
    """True when the server cannot have acted on the request."""
    return error.status == 429 or error.not_sent


def _transport_error(error: Exception, api_url: str) -> LambdaAPIError:
    reason = getattr(error, "reason", error)
    if isinstance(reason, ssl.SSLCertVerificationError) or isinstance(error, ssl.SSLCertVerificationError):
        return LambdaAPIError("The TLS certificate of %s could not be verified (%s). Fix the CA trust store; "
                              "validate_certs=false only for a test endpoint you control." % (api_url, getattr(reason, "verify_message", reason)))
    result = LambdaAPIError("Could not reach the Lambda Cloud API at %s: %s." % (api_url, _reason_text(reason)), retryable=True)
    # A refused or unresolvable connection never reached the server, so even a launch may be retried.
    result.not_sent = isinstance(reason, (ConnectionRefusedError, socket.gaierror)) or getattr(reason, "errno", None) in (
        errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH)
    return result


def _reason_text(reason) -> str:
    if isinstance(reason, socket.timeout):
        return "the request timed out"
    text = str(reason) or type(reason).__name__
    return text
