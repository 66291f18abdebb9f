# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The small files the collection keeps on the controller, and the locks on them.

Every task of a play runs in its own process, so coordination between them (launch spacing,
request pacing, "look for the instance, then launch it") goes through files in one directory:
$ANSIBLE_LOCAL_TEMP/sophia.lambda_k3s, or ~/.ansible/tmp/sophia.lambda_k3s. They hold no secret,
but whoever can replace them can redirect a write or stall every run, so the directory must be
the user's own and closed to others' writes, and no file is opened through a symbolic link.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
import time

LOCAL_TEMP_ENV = "ANSIBLE_LOCAL_TEMP"
STATE_DIRECTORY_NAME = "sophia.lambda_k3s"
# Launch locks wait behind other launches (12 s apart each) of the same controller; a lock held
# longer than this is held by a process that hangs.
DEFAULT_LOCK_TIMEOUT = 900.0
_POLL_FIRST = 0.01
_POLL_LONGEST = 0.25


class ControllerStateError(Exception):
    """A state file or lock that cannot be used safely; the message says which and what to do."""


def state_directory() -> str:
    """Where the collection's controller files live: under $ANSIBLE_LOCAL_TEMP, else ~/.ansible/tmp."""
    base = os.environ.get(LOCAL_TEMP_ENV) or os.path.join("~", ".ansible", "tmp")
    return os.path.join(os.path.expanduser(base), STATE_DIRECTORY_NAME)


def lock_path(directory: str | None, purpose: str, *scope: str | None) -> str:
    """One file per purpose and scope (an API address; a cluster and instance name...), in ``directory``."""
    digest = hashlib.sha256("\n".join(part or "" for part in scope).encode("utf-8")).hexdigest()[:16]
    return os.path.join(directory or state_directory(), "%s-%s.lock" % (purpose, digest))


def private_directory(path: str, error=ControllerStateError) -> None:
    """Create ``path`` (mode 0700), or check that the existing one is a real directory of this user that
    nobody else may write to."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError as failure:
        raise error("Could not create %s, where this collection coordinates API calls between the processes of a run: %s. "
                    "Make it writable, or set %s to a writable directory." % (path, _reason(failure), LOCAL_TEMP_ENV)) from None
    if stat.S_ISLNK(info.st_mode):
        raise error("%s is a symbolic link; this collection keeps its lock files only in a real directory. Remove the link, "
                    "or set %s to another directory." % (path, LOCAL_TEMP_ENV))
    if not stat.S_ISDIR(info.st_mode):
        raise error("%s is not a directory; remove it, or set %s to another directory." % (path, LOCAL_TEMP_ENV))
    _check_owner(path, info, error)
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise error("%s is writable by group or others (mode %04o), who could then tamper with this collection's lock files; "
                    "run chmod go-w %s." % (path, stat.S_IMODE(info.st_mode), path))


def open_private_file(path: str, error=ControllerStateError) -> int:
    """A read-write descriptor on ``path``, created 0600; never through a symbolic link, never another user's file."""
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as failure:
        if failure.errno == errno.ELOOP:
            raise error("%s is a symbolic link; this collection never writes through one. Remove it." % path) from None
        raise error("Could not open %s, where this collection coordinates API calls between the processes of a run: %s. "
                    "Make that directory writable, or set %s to a writable directory." % (path, _reason(failure), LOCAL_TEMP_ENV)) from None
    info = os.fstat(handle)
    try:
        if not stat.S_ISREG(info.st_mode):
            raise error("%s is not a regular file; remove it." % path)
        _check_owner(path, info, error)
    except Exception:
        os.close(handle)
        raise
    return handle


class ControllerLock:
    """An exclusive lock shared by every process on this controller, held on a small private file.

    Waiting ends after ``timeout`` seconds with a message instead of blocking a run forever; the
    file itself may hold a short text (a timestamp). ``error`` is the exception class raised, so
    that callers report lock problems like their other errors.
    """

    def __init__(self, path: str, timeout: float = DEFAULT_LOCK_TIMEOUT, error=ControllerStateError, sleep=time.sleep,
                 clock=time.monotonic):
        self.path = path
        self.timeout = timeout
        self._error = error
        self._sleep = sleep
        self._clock = clock
        self._handle = -1

    def __enter__(self) -> ControllerLock:
        private_directory(os.path.dirname(self.path), self._error)
        self._handle = open_private_file(self.path, self._error)
        try:
            self._acquire()
        except Exception:
            os.close(self._handle)
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
        finally:
            os.close(self._handle)

    def _acquire(self) -> None:
        deadline = self._clock() + self.timeout
        pause = _POLL_FIRST
        while True:
            try:
                fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as failure:
                if failure.errno not in (errno.EAGAIN, errno.EACCES):
                    raise self._error("Could not lock %s: %s." % (self.path, _reason(failure))) from None
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise self._error("Waited %s s for %s, which another process on this controller holds (another run of this "
                                  "collection, or one that hangs: fuser -v %s names it); try again once it is done."
                                  % (_seconds(self.timeout), self.path, self.path))
            self._sleep(min(pause, remaining))
            pause = min(pause * 2, _POLL_LONGEST)

    def read(self) -> str:
        try:
            os.lseek(self._handle, 0, os.SEEK_SET)
            return os.read(self._handle, 64).decode("ascii", "replace")
        except OSError as failure:
            raise self._error("Could not read %s: %s." % (self.path, _reason(failure))) from None

    def read_time(self) -> float:
        """The timestamp the file holds, or 0 when it is empty or unreadable."""
        try:
            return float(self.read() or 0)
        except ValueError:
            return 0.0

    def write(self, text: str) -> None:
        try:
            os.lseek(self._handle, 0, os.SEEK_SET)
            os.ftruncate(self._handle, 0)
            os.write(self._handle, text.encode("ascii"))
        except OSError as failure:
            raise self._error("Could not write %s: %s." % (self.path, _reason(failure))) from None


def _check_owner(path: str, info: os.stat_result, error) -> None:
    if info.st_uid != os.geteuid():
        raise error("%s belongs to user id %d, not to this user (%d); remove it, or set %s to a directory of your own."
                    % (path, info.st_uid, os.geteuid(), LOCAL_TEMP_ENV))


def _reason(failure: OSError) -> str:
    return failure.strerror or str(failure)


def _seconds(value: float) -> str:
    return ("%.1f" % value).rstrip("0").rstrip(".") if value < 10 else "%d" % value
