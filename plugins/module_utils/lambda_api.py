# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lambda Cloud API client shared by the inventory plugin, inventories/lambda.py and the modules.

One client, one place for the rules the API imposes: Bearer auth, the ``{"data": ...}`` and
``{"error": {...}}`` envelopes, retries on rate limits and transient faults, the rate limits and one
readable sentence per error. The API key never leaves the Authorization header: it is not logged,
not put in exception text and not written to disk.

Its parts live in private helpers, one concern each: _api_errors (errors and their sentences),
_api_retry (when to retry, and the lines that say so), _api_pacing (launch spacing and request
pacing across processes) and _api_settings (options and the environment).
"""

from __future__ import annotations

import json
import os
import random
import time
from http.client import HTTPException
from urllib.error import HTTPError
from urllib.parse import quote, urlencode

from ansible.module_utils.urls import open_url

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import (
    RETRYABLE_STATUSES,
    AmbiguousRequestError,
    LambdaAPIError,
    certainly_not_processed,
    describe_error,
)
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_pacing import (
    DEFAULT_LAUNCH_INTERVAL,
    DEFAULT_REQUEST_INTERVAL,
    LaunchThrottle,
    RequestPacer,
)
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_retry import (
    SERVICE,
    RetryCount,
    RetryPolicy,
)
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_settings import (
    API_URL_ENV,
    DEFAULT_API_URL,
    DEFAULT_TIMEOUT,
    checked_key,
    checked_url,
    key_from_environment,
    option,
    request_interval,
)
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._http import HTTPClient, retry_policy
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.controller_files import ControllerLock, lock_path

COLLECTION_VERSION = "1.0.0"
USER_AGENT = "sophia.lambda_k3s/" + COLLECTION_VERSION


class LambdaClient(HTTPClient):
    """A small, synchronous client for the Lambda Cloud API v1.

    ``key_source`` only says where the key came from ("the api_key option", "the
    LAMBDA_API_KEY environment variable") so that an authentication error can tell the user
    what to fix. ``log`` receives one line per HTTP exchange (for -vvv) and ``notify`` one line per retry
    (for every verbosity: a slow or unreachable API must not look like a hang); neither sees headers.
    """

    service = SERVICE
    error_class = LambdaAPIError
    user_agent = USER_AGENT

    def __init__(self, api_key: str | None, api_url: str | None = None, timeout: float = DEFAULT_TIMEOUT, validate_certs: bool = True,
                 retry: RetryPolicy | None = None, key_source: str = "the api_key option",
                 launch_interval: float = DEFAULT_LAUNCH_INTERVAL, state_dir: str | None = None,
                 request_interval: float = DEFAULT_REQUEST_INTERVAL, log=None, notify=None, sleep=time.sleep, clock=time.monotonic, opener=open_url,
                 rng: random.Random | None = None):
        super().__init__(checked_url(api_url or DEFAULT_API_URL), checked_key(api_key), timeout, validate_certs=validate_certs, retry=retry,
                         log=log, notify=notify, sleep=sleep, clock=clock, opener=opener, rng=rng)
        self.key_source = key_source
        self.launch_throttle = LaunchThrottle(launch_interval, self.api_url, state_dir)
        self.pacer = RequestPacer(request_interval, self.api_url, state_dir, sleep=sleep)
        self._said_pacing_is_local = False
        self._state_dir = state_dir

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
        return self._with_retries(method, path, lambda: self._send_once(method, path, url, payload), idempotent)

    def _send_once(self, method: str, path: str, url: str, payload: bytes | None):
        headers = {"Authorization": "Bearer " + self._secret, "Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        status, raw = self._exchange(method, path, url, payload, headers)
        return self._data_from(raw, status)

    def _data_from(self, raw: bytes, status: int):
        document = self._json_body(status, raw)
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
            return LambdaAPIError("The Lambda Cloud API at %s redirected to %s; set api_url to the current API address "
                                  "(the default is %s)." % (self.api_url, location, DEFAULT_API_URL), status=status)
        retryable = status in RETRYABLE_STATUSES or (code or "").startswith("provider/")
        return LambdaAPIError(self._scrub(describe_error(code, status, message, suggestion, self.key_source)),
                              code=code, status=status, retryable=retryable)

    def _done_after_lost_answer(self, method: str, path: str, failure: LambdaAPIError) -> bool:
        if method == "DELETE" and failure.status == 404:
            # The first attempt deleted it; the retry finds nothing left to delete.
            self._debug("%s %s: gone after an answer was lost, so it is deleted" % (method, path))
            return True
        return False

    def _final(self, failure: LambdaAPIError, method: str, path: str, idempotent: bool, count: RetryCount) -> LambdaAPIError:
        if not idempotent and failure.retryable and not certainly_not_processed(failure):
            return AmbiguousRequestError(
                "%s %s may or may not have been carried out: %s" % (method, path, failure.message),
                code=failure.code, status=failure.status, retryable=False)
        return count.given_up(failure, self._clock())

    def _before_attempt(self) -> None:
        self.pacer.wait_for_slot()
        if self.pacer.not_shared_because and not self._said_pacing_is_local:
            self._said_pacing_is_local = True
            self._debug("request pacing holds within this process only: %s" % self.pacer.not_shared_because)

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


def client_from_options(options: dict, log=None, notify=None, key_source: str = "the api_key option") -> LambdaClient:
    """Build a client from the options shared by the modules, the inventory plugin and the script.

    Keys: api_key, api_url, timeout, validate_certs, max_retries, connect_retries, retry_max_delay,
    launch_interval, request_interval.
    ``key_source`` says where a given api_key came from. Without one the key comes from
    LAMBDA_API_KEY, else from the file LAMBDA_API_KEY_FILE names; the URL falls back to LAMBDA_API_URL
    and request_interval to LAMBDA_REQUEST_INTERVAL.
    """
    api_key = options.get("api_key")
    if not api_key:
        api_key, key_source = key_from_environment()
    retry = retry_policy(options)
    return LambdaClient(api_key, api_url=options.get("api_url") or os.environ.get(API_URL_ENV) or DEFAULT_API_URL,
                        timeout=float(option(options, "timeout", DEFAULT_TIMEOUT)),
                        validate_certs=bool(option(options, "validate_certs", True)), retry=retry, key_source=key_source,
                        launch_interval=float(option(options, "launch_interval", DEFAULT_LAUNCH_INTERVAL)),
                        request_interval=request_interval(options), log=log, notify=notify)


def _segment(value: str) -> str:
    return quote(str(value), safe="")
