# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: the Lambda Cloud API's rate limits, kept on the controller across processes.

Every task of a play runs in its own process, so both limits are kept through small files
(controller_files.py): the time of the last launch, and the last reserved request slot.
"""

from __future__ import annotations

import time

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.controller_files import ControllerLock, lock_path

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


class LaunchThrottle:
    """Keeps launch requests at least ``interval`` seconds apart, across processes on the controller.

    The lock file holds the wall-clock time of the last launch.
    """

    def __init__(self, interval: float, api_url: str, state_dir: str | None = None,
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

    def __init__(self, interval: float, api_url: str, state_dir: str | None = None,
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
