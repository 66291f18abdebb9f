"""playbooks/provision.yml and playbooks/teardown.yml through ansible-playbook against the emulator (a subprocess).

Time runs 100 times faster in the emulator (booting takes 0.1 s) and its rate limits are off; the
playbooks get matching intervals. Assertions read the emulator's state and request log.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from integration.helpers import ADMIN_PUBLIC_KEY, PYTHON_BIN, REPO_ROOT, EmulatorProcess, ansible_env, provision_overrides, run_ansible

pytestmark = pytest.mark.integration

PROVISION = str(REPO_ROOT / "playbooks" / "provision.yml")
TEARDOWN = str(REPO_ROOT / "playbooks" / "teardown.yml")
EXAMPLE_SPEC = REPO_ROOT / "playbooks" / "vars" / "cluster_example.yml"
SMALL_SPEC = Path(__file__).resolve().parent / "vars" / "provision_small_cluster.yml"
LAUNCH_PATH = "/api/v1/instance-operations/launch"
LIVE = ("booting", "active", "unhealthy")
RECAP = re.compile(r"^localhost\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=\d+\s+failed=(?P<failed>\d+)", re.M)


@pytest.fixture
def spec_overrides(tmp_path) -> Path:
    """The test's public key file and fast intervals, passed after the spec so they win."""
    return provision_overrides(tmp_path, lambda_cluster_launch_interval=0, lambda_cluster_poll_interval=0.05,
                               lambda_cluster_wait_timeout=60)


def play(emulator: EmulatorProcess, tmp_path: Path, playbook: str, *arguments: str, key_in_env: bool = True,
         timeout: float = 180) -> subprocess.CompletedProcess:
    environment = emulator.environment()
    if not key_in_env:
        del environment["LAMBDA_API_KEY"]
    env = ansible_env(tmp_path, HOME=str(tmp_path), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", **environment)
    return run_ansible(["ansible-playbook", playbook, *arguments], env=env, timeout=timeout)


def recap(result: subprocess.CompletedProcess) -> dict:
    found = RECAP.search(result.stdout)
    assert found, result.stdout[-3000:] + result.stderr[-3000:]
    return {name: int(value) for name, value in found.groupdict().items()}


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def instances(emulator: EmulatorProcess, statuses=LIVE) -> list:
    return [item for item in emulator.control("GET", "state")["instances"] if item["status"] in statuses]


def tags(instance: dict) -> dict:
    return {tag["key"]: tag["value"] for tag in instance.get("tags", [])}


def add_key_and_other_cluster(emulator: EmulatorProcess) -> str:
    """Another cluster's node, which neither playbook may touch; returns its id."""
    [other] = emulator.seed([{"name": "other-server-1", "tags": {"k3s-cluster": "other", "k3s-role": "server"}}])
    emulator.clear_requests()
    return other


# -- provision -------------------------------------------------------------------------------------

# Every request a provision of the example spec sends, by method and path: what the plan reads once (instances, catalogue,
# rulesets), the SSH key, the account-wide rules, a ruleset in each of the 5 regions, 5 launches, one look at the list
# (the emulator boots instantly here, so one poll sees every node active) and the rulesets of the 4 regions the nodes
# landed in, now trusting every member. 21 requests for 5 nodes; a rerun reads 6 times and changes nothing.
FIRST_RUN = {("GET", "/instances"): 2, ("GET", "/instance-types"): 1, ("GET", "/firewall-rulesets"): 1, ("GET", "/ssh-keys"): 1,
             ("POST", "/ssh-keys"): 1, ("GET", "/firewall-rulesets/global"): 1, ("POST", "/firewall-rulesets"): 5,
             ("POST", "/instance-operations/launch"): 5, ("PATCH", "/firewall-rulesets/{id}"): 4}
RERUN = {("GET", "/instances"): 2, ("GET", "/instance-types"): 1, ("GET", "/firewall-rulesets"): 1, ("GET", "/ssh-keys"): 1,
         ("GET", "/firewall-rulesets/global"): 1}


def requests_by_kind(emulator: EmulatorProcess) -> dict:
    return dict(Counter((record["method"], (record["path_template"] or record["path"]).replace("/api/v1", "", 1))
                        for record in emulator.requests()))


def test_example_spec_provisions_reruns_unchanged_and_tears_down_without_leaking_the_key(emulator, tmp_path, spec_overrides):
    other = add_key_and_other_cluster(emulator)
    emulator.control("POST", "config", {"boot_seconds": 0})  # active at once: the number of polls is then always one
    secrets = tmp_path / "secrets.yml"
    secrets.write_text(yaml.safe_dump({"lambda_api_key": emulator.api_key}))

    first = play(emulator, tmp_path, PROVISION, "-e", "@%s" % EXAMPLE_SPEC, "-e", "@%s" % spec_overrides, "-e", "@%s" % secrets,
                 "-vvv", key_in_env=False)
    assert recap(first)["failed"] == 0 and recap(first)["changed"] > 0, output(first)[-5000:]

    nodes = {item["name"]: item for item in instances(emulator) if tags(item).get("k3s-cluster") == "demo"}
    placement = {name: (item["instance_type"]["name"], item["region"]["name"]) for name, item in nodes.items()}
    assert placement == {
        "demo-server-1": ("cpu_4x_general", "us-east-1"),
        "demo-gh200-1": ("gpu_1x_gh200", "us-east-3"),
        "demo-a6000-1": ("gpu_1x_a6000", "us-west-1"),
        "demo-a100-1": ("gpu_1x_a100", "us-south-1"),
        "demo-a10-1": ("gpu_1x_a10", "us-east-1"),
    }
    assert all(item["status"] == "active" for item in nodes.values())
    assert tags(nodes["demo-server-1"]) == {"k3s-cluster": "demo", "k3s-role": "server", "k3s-pool": "server"}
    assert tags(nodes["demo-a100-1"]) == {"k3s-cluster": "demo", "k3s-role": "agent", "k3s-pool": "a100"}
    assert nodes["demo-a10-1"]["hostname"] == "demo-a10-1" and nodes["demo-a10-1"]["ssh_key_names"] == ["demo-k3s-admin"]

    state = emulator.control("GET", "state")
    rulesets = {ruleset["region"]["name"]: ruleset for ruleset in state["firewall_rulesets"]}
    # A ruleset in every region of the spec: a node may land in any of them if capacity moves before its launch.
    assert sorted(rulesets) == sorted(yaml.safe_load(EXAMPLE_SPEC.read_text())["lambda_cluster_regions"])
    member_sources = sorted("%s/32" % item["ip"] for item in nodes.values())
    for region, ruleset in rulesets.items():
        assert ruleset["name"] == "demo-k3s-" + region
        sources = sorted(rule["source_network"] for rule in ruleset["rules"] if rule["protocol"] == "all")
        if region == "us-west-2":
            assert sources == [], "no node landed there: its ruleset gets the members before one may"
        else:
            assert sources == member_sources, "every member may reach the nodes of %s" % region
        admin = [(rule["port_range"], rule["source_network"]) for rule in ruleset["rules"] if rule["protocol"] == "tcp"]
        assert sorted(admin) == [([22, 22], "203.0.113.0/24"), ([6443, 6443], "203.0.113.0/24")]
        attached = sorted(name for name, item in nodes.items() if item["region"]["name"] == region)
        assert sorted(name for name, item in nodes.items() if {"id": ruleset["id"]} in item["firewall_rulesets"]) == attached
    assert "Total: $4.53 per hour for 5 nodes of cluster demo." in first.stdout
    assert requests_by_kind(emulator) == FIRST_RUN

    emulator.clear_requests()
    second = play(emulator, tmp_path, PROVISION, "-e", "@%s" % EXAMPLE_SPEC, "-e", "@%s" % spec_overrides)
    assert recap(second)["changed"] == 0 and recap(second)["failed"] == 0, output(second)[-5000:]
    assert requests_by_kind(emulator) == RERUN

    teardown = play(emulator, tmp_path, TEARDOWN, "-e", "@%s" % EXAMPLE_SPEC, "-e", "@%s" % spec_overrides,
                    "-e", "lambda_teardown_confirm=demo", "-vvv")
    assert recap(teardown)["failed"] == 0, output(teardown)[-5000:]
    assert "Terminated 5 instances of cluster demo, which cost $4.53 per hour together." in teardown.stdout
    assert [item["id"] for item in instances(emulator)] == [other]
    state = emulator.control("GET", "state")
    assert state["firewall_rulesets"] == [] and [key["name"] for key in state["ssh_keys"]] == ["demo-k3s-admin"]

    for result in (first, second, teardown):
        assert emulator.api_key not in output(result)
        assert "jupyter" not in output(result)


def test_check_mode_launches_nothing_and_reports_the_plan(emulator, tmp_path, spec_overrides):
    result = play(emulator, tmp_path, PROVISION, "-e", "@%s" % SMALL_SPEC, "-e", "@%s" % spec_overrides, "--check", "--diff")
    assert recap(result)["failed"] == 0, output(result)[-5000:]
    assert emulator.changing_requests() == []
    assert "Would cost: $1.70 per hour for 3 nodes of cluster mini." in result.stdout
    assert re.search(r"mini-a10-1\s+gpu_1x_a10\s+us-west-1\s+\(new\)\s+\$0\.75", result.stdout)
    assert "mini-k3s-us-west-1" in result.stdout  # the ruleset diff
    # A new Lambda account allows SSH from anywhere account-wide, which the admin networks cannot undo.
    assert "account-wide firewall rule 'Allow SSH from anywhere' (tcp port 22 from 0.0.0.0/0) is wider" in " ".join(output(result).split())


def test_capacity_lost_between_plan_and_launch_falls_back_to_the_next_region(emulator, tmp_path, spec_overrides):
    """The plan saw capacity in us-east-1; by the launch it is gone. The node goes to us-west-1, with
    us-west-1's ruleset, and the region's file system, instead of failing."""
    emulator.add_faults({"kind": "error", "status": 400, "code": "instance-operations/launch/insufficient-capacity",
                         "method": "POST", "path": "/instance-operations/launch"})
    emulator.control("POST", "state", {"filesystems": [{"name": "west-data", "region": "us-west-1"}]})
    one_server = tmp_path / "one_server.yml"
    one_server.write_text(yaml.safe_dump({
        "lambda_cluster_node_pools": [{"name": "server", "role": "server", "count": 1, "instance_types": ["cpu_4x_general"]}],
        "lambda_cluster_file_systems": [{"name": "west-data", "region": "us-west-1"}],
    }))
    result = play(emulator, tmp_path, PROVISION, "-e", "@%s" % SMALL_SPEC, "-e", "@%s" % spec_overrides, "-e", "@%s" % one_server)
    assert recap(result)["failed"] == 0, output(result)[-5000:]
    [node] = instances(emulator)
    assert node["name"] == "mini-server-1" and node["region"]["name"] == "us-west-1"
    assert node["file_system_names"] == ["west-data"]
    rulesets = {item["region"]["name"]: item["id"] for item in emulator.control("GET", "state")["firewall_rulesets"]}
    assert node["firewall_rulesets"] == [{"id": rulesets["us-west-1"]}]
    assert [record["status"] for record in emulator.requests("POST", LAUNCH_PATH)] == [400, 200]


def one_server_spec(tmp_path: Path, **extra) -> Path:
    path = tmp_path / "one_server.yml"
    path.write_text(yaml.safe_dump({
        "lambda_cluster_node_pools": [{"name": "server", "role": "server", "count": 1, "instance_types": ["cpu_4x_general"]}],
        "lambda_cluster_regions": ["us-east-1"], **extra}))
    return path


def test_the_firewall_trusts_tagged_and_named_members_only_and_can_close_the_account_wide_rules(emulator, tmp_path, spec_overrides):
    look_alike, _hand_launched = emulator.seed([{"name": "mini-db", "ip": "198.51.100.201"},
                                               {"name": "mini-gpu-x", "ip": "198.51.100.202"}])
    spec = one_server_spec(tmp_path, lambda_cluster_member_names=["mini-gpu-x"], lambda_cluster_global_firewall="match")
    result = play(emulator, tmp_path, PROVISION, "-e", "@%s" % SMALL_SPEC, "-e", "@%s" % spec_overrides, "-e", "@%s" % spec)
    assert recap(result)["failed"] == 0, output(result)[-5000:]
    assert emulator.control("GET", "state")["global_firewall_rules"] == [], "match removed SSH from anywhere, account-wide"
    assert "wider" not in output(result)
    [server] = [item for item in instances(emulator) if item["name"] == "mini-server-1"]
    [ruleset] = emulator.control("GET", "state")["firewall_rulesets"]
    trusted = sorted(rule["source_network"] for rule in ruleset["rules"] if rule["protocol"] == "all")
    assert trusted == sorted(["%s/32" % server["ip"], "198.51.100.202/32"]), "mini-db gets no port"
    text = " ".join(result.stdout.split())
    # mini-gpu-x is not in the spec but runs (an A10 launched by hand), so the total counts it.
    assert "Total: $0.95 per hour for 2 nodes of cluster mini." in text
    assert "Also in the cluster but not in the spec (left as they are): mini-gpu-x." in text
    assert "mini-db (%s)" % look_alike in text and "lambda_cluster_member_names" in text


def test_an_untagged_namesake_stops_provision_before_any_launch(emulator, tmp_path, spec_overrides):
    [namesake] = emulator.seed([{"name": "mini-server-1"}])
    result = play(emulator, tmp_path, PROVISION, "-e", "@%s" % SMALL_SPEC, "-e", "@%s" % spec_overrides, "-e", "@%s" % one_server_spec(tmp_path))
    assert recap(result)["failed"] == 1
    text = " ".join(result.stdout.split())
    assert "untagged Lambda Cloud instance is named mini-server-1 (%s)" % namesake in text and "member_names" in text
    assert emulator.requests("POST", LAUNCH_PATH) == []


def test_lost_launch_answers_mid_provision_leave_no_duplicates(emulator, tmp_path, spec_overrides):
    # Launch 1 answers normally; launch 2 happens but answers 502, launch 3 happens but its connection
    # drops. lambda_instance finds those instances by name instead of launching them again.
    emulator.add_faults(
        {"kind": "delay", "method": "POST", "path": "/instance-operations/launch", "after_side_effect": True},
        {"kind": "error", "status": 502, "method": "POST", "path": "/instance-operations/launch", "after_side_effect": True},
        {"kind": "drop", "method": "POST", "path": "/instance-operations/launch", "after_side_effect": True},
    )
    # This run also mounts a file system on the nodes of its region and gives the server pool its own image.
    emulator.control("POST", "state", {"filesystems": [{"name": "shared", "region": "us-east-1"}]})
    features = tmp_path / "features.yml"
    features.write_text(yaml.safe_dump({
        "lambda_cluster_file_systems": [{"name": "shared", "region": "us-east-1"}],
        "lambda_cluster_node_pools": [
            {"name": "server", "role": "server", "count": 1, "instance_types": ["cpu_4x_general"], "image": {"family": "ubuntu-22-04"}},
            {"name": "a10", "role": "agent", "count": 2, "instance_types": ["gpu_1x_a10"], "regions": ["us-west-1", "us-east-1"]},
        ],
    }))
    spec = ["-e", "@%s" % SMALL_SPEC, "-e", "@%s" % spec_overrides, "-e", "@%s" % features]
    emulator.clear_requests()
    first = play(emulator, tmp_path, PROVISION, *spec)
    assert recap(first)["failed"] == 0, output(first)[-5000:]
    assert emulator.control("GET", "faults")["faults"] == []
    nodes = {item["name"]: item for item in instances(emulator)}
    assert sorted(nodes) == ["mini-a10-1", "mini-a10-2", "mini-server-1"]
    assert len(emulator.requests("POST", LAUNCH_PATH)) == 3
    assert {name: item["file_system_names"] for name, item in nodes.items()} == {
        "mini-server-1": ["shared"], "mini-a10-1": [], "mini-a10-2": []}
    launches = {record["body"]["name"]: record["body"] for record in emulator.requests("POST", LAUNCH_PATH)}
    assert launches["mini-server-1"]["image"] == {"family": "ubuntu-22-04"} and "image" not in launches["mini-a10-1"]

    # The admin address without a mask is stored as /32 and compares equal on the rerun.
    [ruleset] = [item for item in emulator.control("GET", "state")["firewall_rulesets"] if item["region"]["name"] == "us-west-1"]
    assert {"protocol": "tcp", "port_range": [22, 22], "source_network": "198.51.100.77/32",
            "description": "SSH from an admin network"} in ruleset["rules"]

    emulator.clear_requests()
    second = play(emulator, tmp_path, PROVISION, *spec)
    assert recap(second)["changed"] == 0 and recap(second)["failed"] == 0, output(second)[-5000:]
    assert emulator.changing_requests() == []


def test_killed_provision_converges_on_rerun(emulator, tmp_path, spec_overrides):
    emulator.control("POST", "config", {"boot_seconds": 100000})  # nodes stay booting: the run waits
    spec = ["-e", "@%s" % SMALL_SPEC, "-e", "@%s" % spec_overrides]
    env = ansible_env(tmp_path, HOME=str(tmp_path), **emulator.environment())
    process = subprocess.Popen([str(PYTHON_BIN / "ansible-playbook"), PROVISION, *spec], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while len(emulator.requests("POST", LAUNCH_PATH)) < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    launched_before_kill = len(emulator.requests("POST", LAUNCH_PATH))
    assert launched_before_kill >= 2

    emulator.control("POST", "config", {"boot_seconds": 10})
    rerun = play(emulator, tmp_path, PROVISION, *spec)
    assert recap(rerun)["failed"] == 0, output(rerun)[-5000:]
    names = sorted(item["name"] for item in instances(emulator))
    assert names == ["mini-a10-1", "mini-a10-2", "mini-server-1"]
    assert len(emulator.requests("POST", LAUNCH_PATH)) == 3


def test_no_capacity_fails_clearly_before_any_launch(emulator, tmp_path, spec_overrides):
    emulator.control("POST", "capacity", [{"instance_type": "gpu_1x_a10", "region": region, "count": 0}
                                          for region in ("us-east-1", "us-west-1")])
    result = play(emulator, tmp_path, PROVISION, "-e", "@%s" % SMALL_SPEC, "-e", "@%s" % spec_overrides)
    assert recap(result)["failed"] == 1
    text = " ".join(result.stdout.split())
    assert "Plan where each node runs" in text and "No capacity for instance types gpu_1x_a10" in text
    assert emulator.requests("POST", LAUNCH_PATH) == []


def test_quota_fails_clearly(emulator, tmp_path, spec_overrides):
    emulator.control("POST", "config", {"instance_quota": 2})
    result = play(emulator, tmp_path, PROVISION, "-e", "@%s" % SMALL_SPEC, "-e", "@%s" % spec_overrides)
    assert recap(result)["failed"] == 1
    text = " ".join(result.stdout.split())
    assert "quota is exhausted" in text and "global/quota-exceeded" in text
    assert "Launched in this run: mini-server-1, mini-a10-1. Not launched: mini-a10-2." in text
    assert len(instances(emulator)) == 2


def test_an_account_error_stops_the_launches_and_the_next_run_continues(emulator, tmp_path, spec_overrides):
    """The server's launch meets the quota: the GPU agents must not be launched to bill without a control plane."""
    emulator.add_faults({"kind": "error", "status": 400, "code": "global/quota-exceeded", "message": "Quota exceeded.",
                         "suggestion": "Contact Support to increase your quota.", "method": "POST", "path": "/instance-operations/launch"})
    spec = ["-e", "@%s" % SMALL_SPEC, "-e", "@%s" % spec_overrides]
    result = play(emulator, tmp_path, PROVISION, *spec)
    assert recap(result)["failed"] == 1
    assert instances(emulator) == [] and len(emulator.requests("POST", LAUNCH_PATH)) == 1
    text = " ".join(result.stdout.split())
    assert "Launching mini-server-1 (cpu_4x_general in us-east-1) failed" in text and "concerns the whole Lambda Cloud account" in text
    assert "Launched in this run: none. Not launched: mini-server-1, mini-a10-1, mini-a10-2." in text

    rerun = play(emulator, tmp_path, PROVISION, *spec)
    assert recap(rerun)["failed"] == 0, output(rerun)[-5000:]
    assert sorted(item["name"] for item in instances(emulator)) == ["mini-a10-1", "mini-a10-2", "mini-server-1"]


def test_invalid_spec_fails_before_any_api_call(emulator, tmp_path, spec_overrides):
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump({
        "lambda_cluster_name": "Demo_1",
        "lambda_cluster_admin_networks": ["10.0.0.5/8", "example.com"],
        "lambda_cluster_extra_firewall_rules": [{"protocol": "icmp", "port_range": [1, 1], "source_network": "0.0.0.0/0"}],
        "lambda_cluster_node_pools": [{"name": "gpu", "role": "agent", "count": 1, "instance_types": ["gpu_1x_a10"]}],
    }))
    result = play(emulator, tmp_path, PROVISION, "-e", "@%s" % SMALL_SPEC, "-e", "@%s" % spec_overrides, "-e", "@%s" % bad)
    assert recap(result)["failed"] == 1
    text = " ".join(result.stdout.split())
    for problem in ('lambda_cluster_name "Demo_1" must be', '"10.0.0.5/8" has host bits set', '"example.com" is not an IPv4',
                    "icmp rules take no port_range", "needs at least one node in a pool with role server"):
        assert problem in text, problem
    assert emulator.requests() == []

    missing = play(emulator, tmp_path, PROVISION, "-e", "lambda_cluster_name=x")
    assert recap(missing)["failed"] == 1 and "lambda_cluster_regions is not set; it must be a list of strings." in missing.stdout
    assert emulator.requests() == []


def failure_message(result: subprocess.CompletedProcess) -> str:
    """The msg of the failed task, unwrapped from the YAML callback's folding."""
    text = result.stdout
    return " ".join(text[text.index("    msg: ") + len("    msg: "):].split("\n\nPLAY RECAP")[0].split())


def test_a_misspelt_variable_fails_naming_the_closest_before_anything_changes(emulator, tmp_path, spec_overrides):
    """lambda_cluster_extra_firewall_rule (no s) was silently ignored, and --check --diff showed the extra rules being removed."""
    typo = tmp_path / "typo.yml"
    typo.write_text(yaml.safe_dump({"lambda_cluster_extra_firewall_rule": [{"protocol": "icmp", "source_network": "0.0.0.0/0"}]}))
    for mode in ([], ["--check", "--diff"]):
        result = play(emulator, tmp_path, PROVISION, "-e", "@%s" % SMALL_SPEC, "-e", "@%s" % spec_overrides, "-e", "@%s" % typo, *mode)
        assert recap(result)["failed"] == 1
        assert failure_message(result) == (
            "The cluster spec is invalid; nothing was changed. lambda_cluster_extra_firewall_rule is not a variable provision.yml "
            "knows; did you mean lambda_cluster_extra_firewall_rules?")
        assert emulator.requests() == []


@pytest.mark.parametrize("mistake, sentence", [
    ({"lambda_cluster_node_pools": [{"name": "server", "role": "server", "count": "one", "instance_types": ["cpu_4x_general"]}]},
     'lambda_cluster_node_pools[0].count must be a whole number; got "one".'),
    ({"lambda_cluster_node_pools": [{"name": "server", "role": "server", "count": 1, "instance_type": ["cpu_4x_general"]}]},
     'lambda_cluster_node_pools[0] ("server") has the key instance_type, which it does not take (did you mean instance_types?); '
     "it takes name, role, count, instance_types, regions, image and tags. "
     "lambda_cluster_node_pools[0].instance_types is not set; it must be a list of strings."),
], ids=["wrong-type", "misspelt-pool-key"])
def test_a_wrong_type_or_pool_key_is_one_sentence_not_a_schema_dump(emulator, tmp_path, spec_overrides, mistake, sentence):
    spec = tmp_path / "mistake.yml"
    spec.write_text(yaml.safe_dump(mistake))
    result = play(emulator, tmp_path, PROVISION, "-e", "@%s" % SMALL_SPEC, "-e", "@%s" % spec_overrides, "-e", "@%s" % spec)
    assert recap(result)["failed"] == 1
    assert failure_message(result) == "The cluster spec is invalid; nothing was changed. " + sentence
    assert "argument_spec" not in result.stdout and "validate_args_context" not in result.stdout
    assert emulator.requests() == []


def test_an_unknown_region_fails_before_any_changing_request_naming_the_known_ones(emulator, tmp_path, spec_overrides):
    regions = tmp_path / "regions.yml"
    regions.write_text(yaml.safe_dump({"lambda_cluster_regions": ["us-east-1", "us-west1"]}))
    result = play(emulator, tmp_path, PROVISION, "-e", "@%s" % SMALL_SPEC, "-e", "@%s" % spec_overrides, "-e", "@%s" % regions)
    assert recap(result)["failed"] == 1
    message = failure_message(result)
    assert message.startswith("Cannot provision cluster mini; nothing was changed. Lambda Cloud has no region us-west1 "
                              "(in the cluster spec; did you mean us-west-1?); its regions are asia-northeast-1, ")
    assert "us-west-1, us-west-2" in message
    assert emulator.changing_requests() == [] and emulator.control("GET", "state")["ssh_keys"] == []


def test_a_different_key_under_the_name_says_which_variable_replaces_it(emulator, tmp_path, spec_overrides):
    other_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0c2VtdWxhdG9ya2V5Zm9ydGVzdHNvbmx5MDEyMzQ1 old@example"
    emulator.control("POST", "state", {"ssh_keys": [{"name": "mini-admin", "public_key": other_key}]})
    spec = ["-e", "@%s" % SMALL_SPEC, "-e", "@%s" % spec_overrides, "-e", "@%s" % one_server_spec(tmp_path)]
    refused = play(emulator, tmp_path, PROVISION, *spec)
    assert recap(refused)["failed"] == 1
    assert "with provision.yml, the variable lambda_cluster_ssh_key_replace=true" in failure_message(refused)
    assert emulator.requests("POST", LAUNCH_PATH) == []

    replaced = play(emulator, tmp_path, PROVISION, *spec, "-e", "lambda_cluster_ssh_key_replace=true")
    assert recap(replaced)["failed"] == 0, output(replaced)[-5000:]
    [key] = emulator.control("GET", "state")["ssh_keys"]
    assert key["public_key"].split()[:2] == ADMIN_PUBLIC_KEY.split()[:2]


def test_the_documented_commands_warn_only_about_the_users_situation(emulator, tmp_path, spec_overrides):
    """No 'No inventory was parsed', 'provided hosts list is empty' or deprecation: only the account-wide SSH rule."""
    environment = dict(emulator.environment())
    env = {name: value for name, value in ansible_env(tmp_path, HOME=str(tmp_path), **environment).items()
           if name != "ANSIBLE_DEPRECATION_WARNINGS"}
    spec = ["-e", "@%s" % EXAMPLE_SPEC, "-e", "@%s" % spec_overrides]
    for playbook, extra in ((PROVISION, []), (TEARDOWN, ["-e", "lambda_teardown_confirm=demo"])):
        result = run_ansible(["ansible-playbook", playbook, *spec, *extra], env=env, timeout=180)
        assert result.returncode == 0, output(result)[-5000:]
        warnings = [line for line in output(result).splitlines() if "WARNING" in line or "DEPRECATION" in line]
        expected = ["[WARNING]: The Lambda Cloud account-wide firewall rule 'Allow SSH from anywhere'"] if playbook == PROVISION else []
        assert [line[:len(expected[0])] if expected else line for line in warnings] == expected


# -- teardown ------------------------------------------------------------------------------------

def seed_cluster(emulator: EmulatorProcess) -> dict:
    """Cluster mini: a tagged server with a ruleset, an untagged node launched by hand (which the tests name in
    lambda_cluster_member_names), an untagged look-alike that is not a member (mini-db), and another cluster's node."""
    emulator.control("POST", "state", {"firewall_rulesets": [
        {"id": "f" * 32, "name": "mini-k3s-us-east-1", "region": "us-east-1", "rules": []}]})
    ids = emulator.seed([
        {"name": "mini-server-1", "instance_type": "cpu_4x_general", "tags": {"k3s-cluster": "mini", "k3s-role": "server"},
         "firewall_rulesets": ["f" * 32]},
        {"name": "mini-a10-1", "instance_type": "gpu_1x_a10", "region": "us-west-1"},
        {"name": "mini-db", "instance_type": "gpu_1x_a10"},
        {"name": "other-a10-1", "instance_type": "gpu_1x_a10", "tags": {"k3s-cluster": "other"}},
    ])
    emulator.clear_requests()
    return dict(zip(("server", "agent", "look_alike", "other"), ids))


HAND_LAUNCHED = '{"lambda_cluster_member_names": ["mini-a10-1"]}'


@pytest.mark.parametrize("confirmation", [None, "", "other", "MINI"])
def test_teardown_refuses_without_the_cluster_name_and_calls_nothing(emulator, tmp_path, confirmation):
    seed_cluster(emulator)
    arguments = ["-e", "lambda_cluster_name=mini"]
    if confirmation is not None:
        arguments += ["-e", "lambda_teardown_confirm=%s" % confirmation]
    result = play(emulator, tmp_path, TEARDOWN, *arguments)
    assert recap(result)["failed"] == 1
    assert "Refusing to tear down" in result.stdout and "lambda_teardown_confirm=mini" in result.stdout
    assert emulator.requests() == []
    assert len(instances(emulator)) == 4


def test_teardown_terminates_exactly_the_cluster_and_leaves_look_alikes(emulator, tmp_path):
    seeded = seed_cluster(emulator)
    confirmed = ["-e", "lambda_cluster_name=mini", "-e", "lambda_teardown_confirm=mini", "-e", HAND_LAUNCHED]
    check = play(emulator, tmp_path, TEARDOWN, *confirmed, "--check")
    assert recap(check)["failed"] == 0 and emulator.changing_requests() == []
    assert "Would terminate 2 instances of cluster mini, which cost $0.95 per hour together." in check.stdout

    result = play(emulator, tmp_path, TEARDOWN, *confirmed, "-e", "lambda_cluster_poll_interval=0.05")
    assert recap(result)["failed"] == 0, output(result)[-5000:]
    assert "Terminated 2 instances of cluster mini, which cost $0.95 per hour together." in result.stdout
    assert re.search(r"mini-a10-1\s+gpu_1x_a10\s+us-west-1\s+[0-9.]+\s+\$0\.75", result.stdout)
    assert "Not members, although named like the cluster" in result.stdout and "mini-db (%s)" % seeded["look_alike"] in result.stdout
    assert sorted(item["id"] for item in instances(emulator)) == sorted([seeded["look_alike"], seeded["other"]])
    terminated = [(record["body"] or {}).get("instance_ids") for record in emulator.requests("POST", "/instance-operations/terminate")]
    assert sorted(sum(terminated, [])) == sorted([seeded["server"], seeded["agent"]])
    state = emulator.control("GET", "state")
    assert state["firewall_rulesets"] == []

    again = play(emulator, tmp_path, TEARDOWN, *confirmed)
    assert recap(again)["changed"] == 0 and "Terminated 0 instances" in again.stdout


def test_teardown_without_member_names_leaves_an_untagged_node_alone(emulator, tmp_path):
    """The old rule terminated every untagged <cluster>-* instance (an untagged prod-db with cluster prod)."""
    seeded = seed_cluster(emulator)
    result = play(emulator, tmp_path, TEARDOWN, "-e", "lambda_cluster_name=mini", "-e", "lambda_teardown_confirm=mini", "--check")
    assert recap(result)["failed"] == 0, output(result)[-5000:]
    assert "Would terminate 1 instances of cluster mini" in result.stdout
    assert "mini-a10-1 (%s), mini-db (%s)" % (seeded["agent"], seeded["look_alike"]) in result.stdout


def test_teardown_terminates_unnamed_and_same_named_members_by_id(emulator, tmp_path):
    """Names are optional and not unique: teardown must still leave nothing of the cluster running."""
    ids = emulator.seed([
        {"name": "mini-a10-1", "instance_type": "gpu_1x_a10", "tags": {"k3s-cluster": "mini"}},
        {"name": "mini-a10-1", "instance_type": "gpu_1x_a10", "tags": {"k3s-cluster": "mini"}},
        {"instance_type": "cpu_4x_general", "tags": {"k3s-cluster": "mini"}},
        {"name": "other-a10-1", "instance_type": "gpu_1x_a10", "tags": {"k3s-cluster": "other"}},
    ])
    emulator.clear_requests()
    result = play(emulator, tmp_path, TEARDOWN, "-e", "lambda_cluster_name=mini", "-e", "lambda_teardown_confirm=mini",
                  "-e", "lambda_cluster_poll_interval=0.05")
    assert recap(result)["failed"] == 0, output(result)[-5000:]
    assert "Terminated 3 instances of cluster mini" in result.stdout and "(unnamed)" in result.stdout
    assert [item["id"] for item in instances(emulator)] == [ids[3]]
