"""The small files the collection keeps on the controller (locks, launch spacing, request slots): where they
live, that nobody else can redirect or tamper with them, and that waiting for a lock ends."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import threading

import pytest

from ansible_collections.sophia.lambda_k3s.plugins.module_utils import controller_files
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.controller_files import (
    ControllerLock,
    ControllerStateError,
    lock_path,
    state_directory,
)
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_pacing import LaunchThrottle
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.lambda_api import LambdaClient

API_URL = "https://cloud.lambda.ai/api/v1"
NOBODY = 65534


def lock(directory, *scope, timeout: float = 5.0) -> ControllerLock:
    return ControllerLock(lock_path(str(directory), "test", *(scope or (API_URL,))), timeout=timeout)


def test_the_state_directory_follows_ansible_local_temp(monkeypatch, tmp_path):
    monkeypatch.setenv("ANSIBLE_LOCAL_TEMP", str(tmp_path / "local-tmp"))
    assert state_directory() == str(tmp_path / "local-tmp" / "sophia.lambda_k3s")
    monkeypatch.delenv("ANSIBLE_LOCAL_TEMP")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert state_directory() == str(tmp_path / ".ansible" / "tmp" / "sophia.lambda_k3s")


def test_the_client_keeps_its_files_under_ansible_local_temp(monkeypatch, tmp_path, lambda_emulator):
    monkeypatch.setenv("ANSIBLE_LOCAL_TEMP", str(tmp_path / "local-tmp"))
    client = LambdaClient(lambda_emulator.api_key, api_url=lambda_emulator.url, request_interval=0.001)
    client.list_instances()
    assert os.listdir(tmp_path / "local-tmp" / "sophia.lambda_k3s"), "the request slot file is there"
    assert client.launch_throttle.path.startswith(str(tmp_path / "local-tmp" / "sophia.lambda_k3s"))


def test_a_new_directory_and_file_are_private(tmp_path):
    with lock(tmp_path / "state") as held:
        held.write("1.5")
        assert held.read_time() == 1.5
        path = held.path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "state").st_mode) == 0o700


def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(tmp_path):
    directory = tmp_path / "state"
    directory.mkdir(mode=0o700)
    target = tmp_path / "precious"
    target.write_text("keep me")
    os.symlink(target, lock_path(str(directory), "test", API_URL))
    with pytest.raises(ControllerStateError, match="symbolic link"):
        with lock(directory) as held:
            held.write("1")
    assert target.read_text() == "keep me"


def test_a_symlinked_directory_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    os.symlink(tmp_path / "elsewhere", tmp_path / "state")
    with pytest.raises(ControllerStateError, match="symbolic link"):
        with lock(tmp_path / "state"):
            pass


def test_a_directory_others_can_write_to_is_refused_with_the_fix(tmp_path):
    directory = tmp_path / "state"
    directory.mkdir()
    directory.chmod(0o777)
    with pytest.raises(ControllerStateError, match=r"writable by group or others \(mode 0777\).*chmod go-w"):
        with lock(directory):
            pass


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_directory_of_another_user_is_refused(tmp_path):
    directory = tmp_path / "state"
    directory.mkdir(mode=0o700)
    os.chown(directory, NOBODY, NOBODY)
    with pytest.raises(ControllerStateError, match="belongs to user id %d" % NOBODY):
        with lock(directory):
            pass


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_lock_file_of_another_user_is_refused(tmp_path):
    directory = tmp_path / "state"
    directory.mkdir(mode=0o700)
    path = lock_path(str(directory), "test", API_URL)
    with open(path, "w", encoding="ascii"):
        pass
    os.chown(path, NOBODY, NOBODY)
    with pytest.raises(ControllerStateError, match="belongs to user id %d" % NOBODY):
        with lock(directory):
            pass


def test_waiting_for_a_lock_ends_with_a_clear_message(tmp_path):
    with lock(tmp_path / "state"):
        with pytest.raises(ControllerStateError, match=r"Waited 0\.2 s for .*test-.*\.lock.*another process on this controller"):
            with lock(tmp_path / "state", timeout=0.2):
                pass


def test_a_lock_is_taken_as_soon_as_it_is_released(tmp_path):
    first = lock(tmp_path / "state").__enter__()
    threading.Timer(0.2, first.__exit__, (None, None, None)).start()
    with lock(tmp_path / "state", timeout=30) as second:
        second.write("2")


def test_flock_and_write_errors_are_one_clear_sentence(monkeypatch, tmp_path):
    def no_locks(*_arguments):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.raises(ControllerStateError, match="Could not lock .*test-.*No locks available"):
        with lock(tmp_path / "state"):
            pass
    monkeypatch.undo()

    def disk_full(*_arguments):
        raise OSError(errno.ENOSPC, "No space left on device")

    with lock(tmp_path / "state") as held:
        monkeypatch.setattr(controller_files.os, "write", disk_full)
        with pytest.raises(ControllerStateError, match="Could not write .*No space left on device"):
            held.write("3")


def test_locks_are_scoped(tmp_path):
    """Locks for two names of a cluster do not wait for each other; the same name does."""
    with lock(tmp_path, API_URL, "demo", "demo-agent-1"):
        with lock(tmp_path, API_URL, "demo", "demo-agent-2", timeout=0.2):
            pass
        with pytest.raises(ControllerStateError):
            with lock(tmp_path, API_URL, "demo", "demo-agent-1", timeout=0.2):
                pass


def test_the_clients_launch_lock_is_per_cluster_and_name(tmp_path, lambda_emulator):
    client = LambdaClient(lambda_emulator.api_key, api_url=lambda_emulator.url, state_dir=str(tmp_path))
    with client.controller_lock("present", "demo", "demo-agent-1"):
        with client.controller_lock("present", "demo", "demo-agent-2"):
            pass
    assert client.controller_lock("present", "demo", "a").path != client.controller_lock("present", "prod", "a").path


def test_the_client_reports_an_unusable_lock_as_an_api_error(tmp_path):
    directory = tmp_path / "state"
    directory.mkdir()
    directory.chmod(0o757)
    with pytest.raises(LambdaAPIError, match="writable by group or others"):
        with LaunchThrottle(0, API_URL, str(directory)):
            pass
