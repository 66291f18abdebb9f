"""lambda_ssh_key and lambda_firewall_ruleset through ansible-playbook against the emulator (a subprocess).

Each playbook run executes a list of steps (module options, optionally in check mode); the tests read
every step's result from the json callback and the emulator's request log, which shows which calls
changed something.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from integration.helpers import EmulatorProcess, ansible_env, run_ansible

pytestmark = pytest.mark.integration

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBcTq1D8cLdiBZbq0SN1XjzOxKHq4C1bqd9o5HjvwAkJ admin@example"
KEY_A_OTHER_COMMENT = KEY_A.rsplit(" ", 1)[0] + " laptop"
KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEiRrE5P1WYQkcSm4TNKSqo1y3yX1xZr8u2x7x4nP2Vt rotated@example"
SSH = {"protocol": "tcp", "port_range": [22, 22], "source_network": "203.0.113.0/24", "description": "SSH"}
K3S_API = {"protocol": "tcp", "port_range": [6443, 6443], "source_network": "203.0.113.0/24", "description": "K3s API"}
PING = {"protocol": "icmp", "source_network": "0.0.0.0/0", "description": "Ping"}
RULESET = {"name": "demo-k3s-us-east-1", "region": "us-east-1"}


def run_steps(emulator: EmulatorProcess, tmp_path: Path, playbook: str, steps: list, *flags: str) -> list:
    """Run the step playbook; return one result per step."""
    env = ansible_env(tmp_path, HOME=str(tmp_path), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", **emulator.environment())
    result = run_ansible(["ansible-playbook", str(PLAYBOOKS / playbook), "-e", json.dumps({"steps": steps}), *flags], env=env, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = json.loads(result.stdout)
    return output["plays"][0]["tasks"][0]["hosts"]["localhost"]["results"]


def terminate(emulator: EmulatorProcess, instance_ids: list) -> None:
    """Terminate through the API, as a user would, and wait (boundedly) until the instances are terminated."""
    request = urllib.request.Request(emulator.url + "/instance-operations/terminate", method="POST",
                                     data=json.dumps({"instance_ids": instance_ids}).encode(),
                                     headers={"Authorization": "Bearer " + emulator.api_key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30):
        pass
    for dummy in range(100):
        if all(item["status"] == "terminated" for item in emulator.control("GET", "state")["instances"] if item["id"] in instance_ids):
            return
        time.sleep(0.05)
    raise AssertionError("instances %s were not terminated in time" % instance_ids)


def failed(result: dict) -> bool:
    # The step playbook sets failed_when: false; a module failure still carries its msg.
    return "msg" in result


# -- lambda_ssh_key --------------------------------------------------------------------------------

def ssh(name="cluster-admin", **options) -> dict:
    return dict(options, name=name)


def test_ssh_key_is_added_once_and_then_left_alone(emulator, tmp_path):
    results = run_steps(emulator, tmp_path, "ssh_key_steps.yml", [
        ssh(public_key=KEY_A), ssh(public_key=KEY_A), ssh(public_key=KEY_A_OTHER_COMMENT)])
    assert [result["changed"] for result in results] == [True, False, False]
    assert results[0]["ssh_key"]["public_key"] == KEY_A and results[0]["ssh_key"]["id"]
    assert emulator.changing_requests() == [("POST", "/api/v1/ssh-keys")]
    [stored] = emulator.control("GET", "state")["ssh_keys"]
    assert stored["public_key"] == KEY_A


def test_ssh_key_check_mode_reports_changes_but_makes_no_changing_call(emulator, tmp_path):
    run_steps(emulator, tmp_path, "ssh_key_steps.yml", [ssh(public_key=KEY_A)])
    emulator.clear_requests()
    results = run_steps(emulator, tmp_path, "ssh_key_steps.yml", [
        ssh(name="new-key", public_key=KEY_B), ssh(public_key=KEY_B, force=True), ssh(state="absent")], "--check", "--diff")
    assert [result["changed"] for result in results] == [True, True, True]
    assert results[0]["diff"] == {"before": {}, "after": {"name": "new-key", "public_key": KEY_B}}
    assert emulator.changing_requests() == []
    assert [key["public_key"] for key in emulator.control("GET", "state")["ssh_keys"]] == [KEY_A]


def test_ssh_key_replacement_needs_force_and_absent_removes_it(emulator, tmp_path):
    results = run_steps(emulator, tmp_path, "ssh_key_steps.yml", [
        ssh(public_key=KEY_A),
        ssh(public_key=KEY_B, label="different key, no force"),
        ssh(public_key=KEY_B, force=True),
        ssh(state="absent"),
        ssh(state="absent"),
    ])
    refused = results[1]
    assert failed(refused) and not refused["changed"]
    assert "already exists in Lambda Cloud with different key material" in refused["msg"] and "force=true" in refused["msg"]
    assert results[2]["changed"] and results[2]["ssh_key"]["public_key"] == KEY_B
    assert [result["changed"] for result in results[3:]] == [True, False]
    assert emulator.changing_requests() == [("POST", "/api/v1/ssh-keys"), ("DELETE", "/api/v1/ssh-keys/" + results[0]["ssh_key"]["id"]),
                                            ("POST", "/api/v1/ssh-keys"), ("DELETE", "/api/v1/ssh-keys/" + results[2]["ssh_key"]["id"])]
    assert emulator.control("GET", "state")["ssh_keys"] == []


def test_ssh_key_lost_answer_is_reconciled(emulator, tmp_path):
    emulator.add_faults({"kind": "error", "status": 502, "method": "POST", "path": "/ssh-keys", "after_side_effect": True})
    [result] = run_steps(emulator, tmp_path, "ssh_key_steps.yml", [ssh(public_key=KEY_A)])
    assert result["changed"] and not failed(result) and result["ssh_key"]["name"] == "cluster-admin"
    assert len(emulator.control("GET", "state")["ssh_keys"]) == 1


def test_ssh_key_input_errors_stop_before_any_api_call(emulator, tmp_path):
    results = run_steps(emulator, tmp_path, "ssh_key_steps.yml", [
        ssh(public_key="ssh-ed25519 truncated"),
        ssh(public_key="-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"),
        ssh(name="x" * 65, public_key=KEY_A),
        ssh(),
    ])
    assert all(failed(result) for result in results)
    assert "not valid base64" in results[0]["msg"] or "does not belong" in results[0]["msg"]
    assert "private key" in results[1]["msg"] and "b3BlbnNzaC1rZXktdjEAAAAA" not in results[1]["msg"]
    assert "1 to 64" in results[2]["msg"]
    assert "public_key" in results[3]["msg"]
    assert emulator.requests() == []


# -- lambda_firewall_ruleset -------------------------------------------------------------------------

def ruleset(**options) -> dict:
    return dict(RULESET, **options)


def stored_rulesets(emulator: EmulatorProcess) -> list:
    return emulator.control("GET", "state")["firewall_rulesets"]


def test_ruleset_is_created_then_unchanged_whatever_the_order(emulator, tmp_path):
    results = run_steps(emulator, tmp_path, "firewall_ruleset_steps.yml", [
        ruleset(rules=[SSH, K3S_API, PING]),
        ruleset(rules=[PING, K3S_API, SSH]),
        ruleset(rules=[dict(SSH, source_network="203.0.113.0/24"), K3S_API, dict(PING, source_network="0.0.0.0/0")]),
    ])
    assert [result["changed"] for result in results] == [True, False, False]
    created = results[0]["firewall_ruleset"]
    assert created["region"] == "us-east-1" and created["instance_ids"] == [] and len(created["rules"]) == 3
    assert emulator.changing_requests() == [("POST", "/api/v1/firewall-rulesets")]


def test_ruleset_rules_are_patched_when_they_differ(emulator, tmp_path):
    results = run_steps(emulator, tmp_path, "firewall_ruleset_steps.yml", [
        ruleset(rules=[SSH]),
        ruleset(rules=[SSH, dict(K3S_API, source_network="198.51.100.7")]),
        ruleset(rules=[SSH, dict(K3S_API, source_network="198.51.100.7/32")]),
    ], "--diff")
    assert [result["changed"] for result in results] == [True, True, False]
    assert results[1]["diff"]["before"]["rules"] == [SSH]
    assert dict(K3S_API, source_network="198.51.100.7/32") in results[1]["diff"]["after"]["rules"]
    ruleset_id = results[0]["firewall_ruleset"]["id"]
    assert emulator.changing_requests() == [("POST", "/api/v1/firewall-rulesets"), ("PATCH", "/api/v1/firewall-rulesets/" + ruleset_id)]
    [stored] = stored_rulesets(emulator)
    assert dict(K3S_API, source_network="198.51.100.7/32") in stored["rules"]


def test_ruleset_check_mode_makes_no_changing_call(emulator, tmp_path):
    run_steps(emulator, tmp_path, "firewall_ruleset_steps.yml", [ruleset(rules=[SSH])])
    emulator.clear_requests()
    results = run_steps(emulator, tmp_path, "firewall_ruleset_steps.yml", [
        ruleset(rules=[SSH, K3S_API]), ruleset(region="us-west-1", rules=[SSH]), ruleset(state="absent")], "--check")
    assert [result["changed"] for result in results] == [True, True, True]
    assert results[1]["firewall_ruleset"]["id"] is None
    assert emulator.changing_requests() == []
    [stored] = stored_rulesets(emulator)
    assert stored["rules"] == [SSH]


def test_ruleset_absent_and_in_use(emulator, tmp_path):
    [created] = run_steps(emulator, tmp_path, "firewall_ruleset_steps.yml", [ruleset(rules=[SSH])])
    ruleset_id = created["firewall_ruleset"]["id"]
    [holder] = emulator.seed([{"name": "demo-server-1", "region": "us-east-1", "firewall_rulesets": [ruleset_id]}])
    in_use, = run_steps(emulator, tmp_path, "firewall_ruleset_steps.yml", [ruleset(state="absent")])
    assert failed(in_use) and in_use["error_code"] == "firewall-rulesets/firewall-ruleset-in-use"
    assert "still attached to demo-server-1 (%s, active)" % holder in in_use["msg"] and "terminate" in in_use["msg"]
    assert len(stored_rulesets(emulator)) == 1

    terminate(emulator, [holder])
    gone, again = run_steps(emulator, tmp_path, "firewall_ruleset_steps.yml", [ruleset(state="absent"), ruleset(state="absent")])
    assert gone["changed"] and not failed(gone) and not again["changed"]
    assert stored_rulesets(emulator) == []


def test_ruleset_trusts_the_cluster_members(emulator, tmp_path):
    emulator.seed([
        {"name": "demo-server-1", "ip": "198.51.100.10", "tags": {"k3s-cluster": "demo"}},
        {"name": "demo-gpu-1", "ip": "198.51.100.11", "tags": {"k3s-cluster": "demo"}, "region": "us-west-1"},
        {"name": "other-1", "ip": "198.51.100.12", "tags": {"k3s-cluster": "other"}},
    ])
    first, second = run_steps(emulator, tmp_path, "firewall_ruleset_steps.yml", [
        ruleset(rules=[SSH], cluster="demo"), ruleset(rules=[SSH], cluster="demo")])
    assert first["changed"] and not second["changed"]
    sources = [rule["source_network"] for rule in first["firewall_ruleset"]["rules"]]
    assert sources == ["203.0.113.0/24", "198.51.100.10/32", "198.51.100.11/32"]


def test_ruleset_input_errors_stop_before_any_api_call(emulator, tmp_path):
    results = run_steps(emulator, tmp_path, "firewall_ruleset_steps.yml", [
        ruleset(rules=[dict(PING, port_range=[1, 1])]),
        ruleset(rules=[{"protocol": "udp", "source_network": "0.0.0.0/0"}]),
        ruleset(rules=[dict(SSH, source_network="203.0.113.5/24")]),
        ruleset(rules=[dict(SSH, source_network="300.1.1.1")]),
        ruleset(rules=[dict(SSH, description="d" * 129)]),
        ruleset(rules=[dict(SSH, protocol="sctp")]),
    ])
    assert all(failed(result) for result in results)
    messages = [result["msg"] for result in results]
    assert "icmp rules take no port_range" in messages[0]
    assert "udp rules need a port_range" in messages[1]
    assert "did you mean 203.0.113.0/24" in messages[2]
    assert "not an IPv4 address" in messages[3]
    assert "at most 128" in messages[4]
    assert "protocol" in messages[5]
    assert emulator.requests() == []
