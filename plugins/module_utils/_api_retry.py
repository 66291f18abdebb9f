# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: when the Lambda Cloud API client tries a request again, and what it says meanwhile.

Two budgets: an API that answers "try again" (HTTP 429, 5xx, provider errors) or answers too slowly
is retried max_retries times; an API that cannot be connected to at all (refused, unresolvable,
unreachable) is more likely a wrong address or an outage, so it is retried only connect_retries
times. Every retry is announced in one line, and the error that ends the attempts says how many
there were and how long they took.
"""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import LambdaAPIError, seconds, short_description

DEFAULT_MAX_RETRIES = 5
DEFAULT_CONNECT_RETRIES = 2
DEFAULT_RETRY_MAX_DELAY = 30.0
# However the budgets are set, a request stops being retried once this much time has gone by.
DEFAULT_RETRY_MAX_TOTAL = 120.0


class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts (per kind of failure) and in total time."""

    def __init__(self, max_retries: int = DEFAULT_MAX_RETRIES, base_delay: float = 1.0, max_delay: float = DEFAULT_RETRY_MAX_DELAY,
                 max_total: float = DEFAULT_RETRY_MAX_TOTAL, connect_retries: int = DEFAULT_CONNECT_RETRIES):
        if max_retries < 0 or connect_retries < 0:
            raise ValueError("max_retries and connect_retries must be zero or more")
        self.max_retries = max_retries
        self.connect_retries = connect_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_total = max_total

    def retries_for(self, failure: LambdaAPIError) -> int:
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

    def __init__(self, policy: RetryPolicy, started: float):
        self.policy = policy
        self.started = started
        self.attempts = 0
        self._failures = {True: 0, False: 0}  # keyed by failure.no_connection

    def failed(self, failure: LambdaAPIError) -> int:
        """Count a failed attempt; return how many of this kind there have been."""
        self.attempts += 1
        self._failures[failure.no_connection] += 1
        return self._failures[failure.no_connection]

    def allows_another(self, failure: LambdaAPIError) -> bool:
        return failure.retryable and self._failures[failure.no_connection] <= self.policy.retries_for(failure)

    def retry_line(self, method: str, path: str, failure: LambdaAPIError, wait: float) -> str:
        """One line announcing a retry: what failed, attempt k of n, and the wait."""
        allowed = self.policy.retries_for(failure) + 1
        return "Lambda Cloud API: %s %s: %s; attempt %d of %d failed, trying again in %s s." % (
            method, path, short_description(failure), self._failures[failure.no_connection], allowed, seconds(wait))

    def given_up(self, failure: LambdaAPIError, now: float) -> LambdaAPIError:
        """The failure, its message ending with how many attempts were made over how long."""
        if not failure.retryable:
            return failure
        failure.message = "%s (gave up after %d attempt%s in %.1f s)" % (
            failure.message.rstrip("."), self.attempts, "" if self.attempts == 1 else "s", now - self.started)
        failure.args = (failure.message,)
        return failure


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
