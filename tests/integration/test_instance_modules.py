"""lambda_instance, lambda_instance_info and lambda_instance_type_info through ansible-playbook.

Each test starts the Lambda Cloud API emulator as a subprocess with its launch limit on (one launch
per 12 nominal seconds) and time compressed by TIME_SCALE, so the launch window is WINDOW seconds;
the modules get launch_interval=WINDOW. Assertions read the emulator's request log, whose times are
the emulator's monotonic clock at the arrival of each request.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from integration.helpers import REPO_ROOT, EmulatorProcess, ansible_env, run_ansible

pytestmark = pytest.mark.integration

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
LAUNCH_PATH = "/api/v1/instance-operations/launch"
TIME_SCALE = 0.025
WINDOW = 12 * TIME_SCALE  # 0.3 s between two launches
GENERAL_WINDOW = TIME_SCALE  # one request per nominal second, when the general limit is on
DEPLOY_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBcTq1D8cLdiBZbq0SN1XjzOxKHq4C1bqd9o5HjvwAkJ deploy"
LIVE = ("booting", "active", "unhealthy")


# -- helpers -----------------------------------------------------------------------------------------

def _start_emulator(general_limit: bool = False, **options) -> EmulatorProcess:
    """The emulator with the launch limit on.

    The general limit (1 request/s, scaled) is off unless asked for: the modules read the
    instances and the catalogue right before launching, so under that limit a launch can be
    answered 429 for the general limit, which these tests would count as a launch-window breach.
    """
    options.setdefault("rate_limit", 1 if general_limit else 0)
    options.setdefault("launch_interval", 12)
    emulator = EmulatorProcess(time_scale=TIME_SCALE, **options).start()
    emulator.control("POST", "ssh-keys", {"name": "deploy", "public_key": DEPLOY_KEY})
    return emulator


@pytest.fixture
def emulator():
    emulator = _start_emulator()
    yield emulator
    emulator.stop()


def _inventory(tmp_path: Path, hosts: list) -> Path:
    """An inventory of local hosts that run modules with this interpreter (it has no Ansible state)."""
    path = tmp_path / "hosts.ini"
    path.write_text("[nodes]\n%s\n\n[nodes:vars]\nansible_connection=local\nansible_python_interpreter=%s\n"
                    % ("\n".join(hosts), sys.executable))
    return path


def _command(playbook: str, inventory: Path, extra_vars: dict, *flags: str) -> list:
    return ["ansible-playbook", str(PLAYBOOKS / playbook), "-i", str(inventory), "-e", json.dumps(extra_vars), *flags]


def _env(emulator: EmulatorProcess, tmp_path: Path, callback: str = "ansible.builtin.json", **overrides: str) -> dict:
    # ansible_env points ANSIBLE_LOCAL_TEMP, where the pacing and lock files go, into the test's directory. The repository's
    # ansible.cfg enables only the inventory plugins of its own sources; these tests' static inventory needs the ini one.
    return ansible_env(tmp_path, HOME=str(tmp_path), ANSIBLE_STDOUT_CALLBACK=callback, ANSIBLE_INVENTORY_ENABLED="ansible.builtin.ini",
                       **{**emulator.environment(), **overrides})


def _play(emulator, tmp_path, playbook="instance_present.yml", hosts=("localhost",), *flags, request_interval: float | None = None,
          **extra_vars) -> dict:
    """Run a playbook with the json callback; returns its parsed output plus returncode and stderr.

    ``request_interval`` replaces the LAMBDA_REQUEST_INTERVAL the emulator suggests."""
    extra_vars.setdefault("launch_window", WINDOW)
    overrides = {} if request_interval is None else {"LAMBDA_REQUEST_INTERVAL": repr(request_interval)}
    result = run_ansible(_command(playbook, _inventory(tmp_path, list(hosts)), extra_vars, *flags),
                         env=_env(emulator, tmp_path, **overrides), timeout=120)
    try:
        output = json.loads(result.stdout)
    except ValueError:
        raise AssertionError("no JSON output:\n%s\n%s" % (result.stdout[-3000:], result.stderr[-3000:])) from None
    output.update(returncode=result.returncode, stderr=result.stderr)
    return output


def _item_results(output: dict) -> list:
    """Every loop item's result of the first task, over all hosts."""
    results = []
    for host_result in output["plays"][0]["tasks"][0]["hosts"].values():
        results.extend(host_result.get("results", [host_result]))
    return results


def _changed(output: dict) -> int:
    return sum(stats["changed"] for stats in output["stats"].values())


def _launches(emulator: EmulatorProcess) -> list:
    return emulator.requests("POST", LAUNCH_PATH)


def _instances(emulator: EmulatorProcess, statuses=LIVE) -> list:
    return [item for item in emulator.control("GET", "state")["instances"] if item["status"] in statuses]


def _kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL a process and all its descendants, as a crash would.

    Ansible's workers call setsid(), so killing the process group is not enough; the tree is
    read from /proc (parent ids) before anything is killed, then each process is killed by id.
    """
    children: dict = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, pending = [], [process.pid]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    for pid in tree:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=30)


def _assert_spaced(launches: list) -> list:
    """No two launch requests within one window, and none answered 429; returns the gaps."""
    times = sorted(record["time"] for record in launches)
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    assert all(gap >= WINDOW for gap in gaps), "launches closer than %.3fs: %s" % (WINDOW, gaps)
    assert [record["status"] for record in launches] == [200] * len(launches)
    return gaps


# -- launch spacing ----------------------------------------------------------------------------------

def test_loop_of_launches_keeps_the_launch_window(emulator, tmp_path):
    names = ["demo-server-1", "demo-agent-1", "demo-agent-2", "demo-agent-3"]
    output = _play(emulator, tmp_path, instance_names=names, wait_for_instances=False)
    assert output["returncode"] == 0, output["stderr"]
    launches = _launches(emulator)
    assert len(launches) == 4
    gaps = _assert_spaced(launches)
    print("launch gaps (loop): %s" % ", ".join("%.3f" % gap for gap in gaps))
    assert sorted(item["name"] for item in _instances(emulator)) == sorted(names)


def test_parallel_hosts_share_the_launch_window(emulator, tmp_path):
    hosts = ["demo-server-1", "demo-agent-1", "demo-agent-2", "demo-agent-3"]
    output = _play(emulator, tmp_path, "instance_present.yml", hosts, wait_for_instances=False)
    assert output["returncode"] == 0, output["stderr"]
    launches = _launches(emulator)
    assert len(launches) == 4
    gaps = _assert_spaced(launches)
    print("launch gaps (4 parallel processes): %s" % ", ".join("%.3f" % gap for gap in gaps))


def test_without_spacing_the_emulator_does_answer_429(tmp_path):
    """The control for the two tests above: without the module's spacing, the emulator refuses launches."""
    emulator = _start_emulator(launch_interval=40)  # a 1 s window, which four parallel launches cannot respect
    try:
        output = _play(emulator, tmp_path, "instance_present.yml", ("demo-agent-1", "demo-agent-2", "demo-agent-3", "demo-agent-4"),
                       wait_for_instances=False, launch_window=0)
        statuses = [record["status"] for record in _launches(emulator)]
        names = [item["name"] for item in _instances(emulator)]
    finally:
        emulator.stop()
    assert 429 in statuses, statuses
    # A refused launch is retried (the API did not act on it) or fails; it never makes a duplicate.
    assert len(names) == len(set(names)) == statuses.count(200)
    assert output["returncode"] == 0 or "HTTP 429" in json.dumps(output)


@pytest.mark.parametrize("paced", [True, False], ids=["paced", "control-unpaced"])
def test_parallel_hosts_queue_for_the_general_limit_instead_of_meeting_429(tmp_path, paced):
    """Four hosts launch and wait at once under the general limit (1 request per GENERAL_WINDOW).

    Paced at ten times the limit's spacing (a margin for processes that wake late), no request
    is refused. The control run, with pacing off, shows the same play does meet 429.
    """
    emulator = _start_emulator(general_limit=True)
    try:
        output = _play(emulator, tmp_path, "instance_present.yml", ("demo-agent-1", "demo-agent-2", "demo-agent-3", "demo-agent-4"),
                       request_interval=10 * GENERAL_WINDOW if paced else 0)
        statuses = [record["status"] for record in emulator.requests()]
        names = [item["name"] for item in _instances(emulator)]
    finally:
        emulator.stop()
    print("requests: %d, answered 429: %d" % (len(statuses), statuses.count(429)))
    if paced:
        assert output["returncode"] == 0, output["stderr"]
        assert statuses.count(429) == 0, statuses
        assert sorted(names) == ["demo-agent-1", "demo-agent-2", "demo-agent-3", "demo-agent-4"]
    else:
        assert statuses.count(429) > 0, statuses


def test_concurrent_runs_under_the_general_rate_limit_launch_each_name_once(tmp_path):
    """Two hosts launch the same names at once, with the API's general limit on as well.

    429s are retried, and the check-then-launch lock makes the second run find what the first
    launched instead of launching it again.
    """
    emulator = _start_emulator(general_limit=True)
    names = ["demo-agent-1", "demo-agent-2", "demo-agent-3"]
    try:
        output = _play(emulator, tmp_path, "instance_present.yml", ("localhost", "other"), instance_names=names)
        launches = _launches(emulator)
        instances = _instances(emulator)
        throttled = [record for record in emulator.requests() if record["status"] == 429]
    finally:
        emulator.stop()
    assert output["returncode"] == 0, output["stderr"]
    assert sorted(item["name"] for item in instances) == sorted(names)
    accepted = sorted(record["time"] for record in launches if record["status"] == 200)
    assert len(accepted) == 3 and all(later - earlier >= WINDOW for earlier, later in zip(accepted, accepted[1:]))
    print("general-limit 429s retried: %d" % len(throttled))


# -- idempotence and check mode ------------------------------------------------------------------------

def test_second_run_changes_nothing_and_check_mode_launches_nothing(emulator, tmp_path):
    names = ["demo-server-1", "demo-agent-1"]
    first = _play(emulator, tmp_path, instance_names=names)
    assert first["returncode"] == 0, first["stderr"]
    assert _changed(first) == 1 and all(item["changed"] and item["instance"]["status"] == "active" for item in _item_results(first))

    emulator.clear_requests()
    second = _play(emulator, tmp_path, instance_names=names)
    assert second["returncode"] == 0 and _changed(second) == 0
    assert not any(item["changed"] for item in _item_results(second))
    assert _launches(emulator) == []

    check = _play(emulator, tmp_path, "instance_present.yml", ("localhost",), "--check", "--diff",
                  instance_names=names + ["demo-agent-2"])
    assert check["returncode"] == 0, check["stderr"]
    planned = _item_results(check)[2]
    assert planned["changed"] and planned["instance"] == {} and planned["launch"]["region"] == "us-east-1"
    assert planned["diff"]["after"]["status"] == "booting"
    assert _launches(emulator) == [] and len(_instances(emulator)) == 2


# -- capacity ------------------------------------------------------------------------------------

def test_capacity_fallback_and_clear_failures(emulator, tmp_path):
    emulator.control("POST", "capacity", {"clear": True, "entries": [
        {"instance_type": "gpu_1x_a10", "region": "us-west-1", "count": 1},
        {"instance_type": "gpu_1x_a100", "region": "us-east-1", "count": 1},
    ]})
    output = _play(emulator, tmp_path, instance_names=["demo-agent-1", "demo-agent-2", "demo-agent-3"],
                   instance_types=["gpu_1x_a10", "gpu_1x_a100"], wait_for_instances=False)
    assert output["returncode"] != 0
    first, second, third = _item_results(output)
    assert (first["launch"]["instance_type"], first["launch"]["region"]) == ("gpu_1x_a10", "us-west-1")  # next region
    assert (second["launch"]["instance_type"], second["launch"]["region"]) == ("gpu_1x_a100", "us-east-1")  # next type
    assert third["failed"] and "No capacity for instance types gpu_1x_a10, gpu_1x_a100 in regions us-east-1, us-west-1" in third["msg"]
    assert "gpu_1x_a10 in us-east-1, gpu_1x_a10 in us-west-1, gpu_1x_a100 in us-east-1, gpu_1x_a100 in us-west-1" in third["msg"]
    assert len(_launches(emulator)) == 2


def test_quota_error_is_reported_clearly(tmp_path):
    emulator = _start_emulator(instance_quota=1)
    try:
        output = _play(emulator, tmp_path, instance_names=["demo-agent-1", "demo-agent-2"], wait_for_instances=False)
    finally:
        emulator.stop()
    assert output["returncode"] != 0
    failure = _item_results(output)[1]
    assert failure["error_code"] == "global/quota-exceeded"
    assert "quota is exhausted" in failure["msg"] and "Contact Support to increase your quota." in failure["msg"]


# -- interrupted runs -----------------------------------------------------------------------------

def test_lost_launch_answer_is_adopted_within_the_run(emulator, tmp_path):
    emulator.add_faults({"kind": "drop", "path": "/instance-operations/launch", "after_side_effect": True})
    output = _play(emulator, tmp_path, instance_names=["demo-agent-1"])
    assert output["returncode"] == 0, output["stderr"]
    [result] = _item_results(output)
    assert result["changed"] and result["launch"]["adopted"] is True and result["instance"]["status"] == "active"
    assert len(_launches(emulator)) == 1 and len(_instances(emulator)) == 1


def test_run_failing_after_the_launch_converges_on_rerun(emulator, tmp_path):
    # The launch happens but its answer is lost (502), and reading the instances back fails too.
    emulator.add_faults({"kind": "error", "status": 502, "path": "/instance-operations/launch", "after_side_effect": True},
                        {"kind": "delay", "delay_seconds": 0, "method": "GET", "path": "/instances"},
                        {"kind": "error", "status": 500, "method": "GET", "path": "/instances", "times": 20})
    failed = _play(emulator, tmp_path, instance_names=["demo-agent-1"])
    assert failed["returncode"] != 0 and len(_instances(emulator)) == 1
    emulator.control("DELETE", "faults")

    rerun = _play(emulator, tmp_path, instance_names=["demo-agent-1"])
    assert rerun["returncode"] == 0, rerun["stderr"]
    assert _changed(rerun) == 0
    assert len(_launches(emulator)) == 1 and [item["name"] for item in _instances(emulator)] == ["demo-agent-1"]


def test_killed_run_converges_on_rerun(tmp_path):
    """ansible-playbook killed (SIGKILL) while waiting for a launched instance; the rerun adopts it."""
    emulator = _start_emulator(boot_seconds=4000)  # 100 s: the first run is still waiting when killed
    try:
        command = _command("instance_present.yml", _inventory(tmp_path, ["localhost"]),
                           {"launch_window": WINDOW, "instance_names": ["demo-agent-1", "demo-agent-2"]})
        command[0] = str(Path(sys.executable).parent / "ansible-playbook")
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=_env(emulator, tmp_path), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not _launches(emulator) and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.05)
        finally:
            _kill_tree(process)
        assert len(_launches(emulator)) == 1, "the first run should have launched demo-agent-1 before it was killed"

        emulator.control("POST", "config", {"boot_seconds": 4})  # booting takes 0.1 s from now on
        rerun = _play(emulator, tmp_path, instance_names=["demo-agent-1", "demo-agent-2"])
        assert rerun["returncode"] == 0, rerun["stderr"]
        first, second = _item_results(rerun)
        assert not first["changed"] and first["instance"]["status"] == "active"
        assert second["changed"], json.dumps(second)[:3000]
        assert len(_launches(emulator)) == 2
        assert sorted(item["name"] for item in _instances(emulator)) == ["demo-agent-1", "demo-agent-2"]
    finally:
        emulator.stop()


# -- the whole life of an instance, and secrets ------------------------------------------------------

def test_lifecycle_at_vvv_leaks_no_secret(tmp_path):
    # Terminated instances stay listed, so their Jupyter token can be read back after the run.
    emulator = _start_emulator(terminated_visible_seconds=100000)
    try:
        result = run_ansible(_command("instance_lifecycle.yml", _inventory(tmp_path, ["localhost"]), {}, "-vvv"),
                             env=_env(emulator, tmp_path, callback="ansible.builtin.default"), timeout=120)
        state = emulator.control("GET", "state")
    finally:
        emulator.stop()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "ok=11" in result.stdout and "failed=0" in result.stdout
    [instance] = state["instances"]
    assert instance["status"] == "terminated" and instance["emulator"]["restart_count"] == 1
    secrets = {"API key": emulator.api_key, "Jupyter token": instance["jupyter_token"], "Jupyter URL": instance["jupyter_url"]}
    for label, secret in secrets.items():
        assert secret and secret not in output, "the %s appears in the -vvv output" % label
    assert "jupyter" not in output
