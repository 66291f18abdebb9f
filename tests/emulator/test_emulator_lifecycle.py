"""Instance lifecycle: booting -> active, terminating -> terminated -> gone."""

from __future__ import annotations

import ipaddress
import re
import time

import pytest
from lambda_emulator import LambdaEmulator

NETWORK_FIELDS = ("ip", "private_ip", "hostname", "jupyter_token", "jupyter_url")
DOCUMENTATION_RANGES = (ipaddress.ip_network("198.51.100.0/24"), ipaddress.ip_network("203.0.113.0/24"))


def wait_for_status(api, instance_id: str, status: str, timeout: float = 3.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.get(f"/instances/{instance_id}")
        if response.status == 200 and response.data["status"] == status:
            return response.data
        time.sleep(0.01)
    raise AssertionError(f"{instance_id} never reached {status}")


def test_booting_instance_has_no_network_fields(api) -> None:
    api.emulator.configure(boot_seconds=1000)
    [instance_id] = api.launch().data["instance_ids"]
    instance = api.get(f"/instances/{instance_id}").data
    assert instance["status"] == "booting"
    assert not set(NETWORK_FIELDS) & set(instance)
    actions = instance["actions"]
    assert actions["terminate"] == {"available": True}
    for name in ("migrate", "rebuild", "restart", "cold_reboot"):
        assert actions[name]["available"] is False
        assert actions[name]["reason_code"] == "vm-has-not-launched"


def test_instance_becomes_active_with_addresses(api) -> None:
    [instance_id] = api.launch().data["instance_ids"]
    instance = wait_for_status(api, instance_id, "active")
    ip = ipaddress.ip_address(instance["ip"])
    assert any(ip in network for network in DOCUMENTATION_RANGES)
    assert ipaddress.ip_address(instance["private_ip"]) in ipaddress.ip_network("10.0.0.0/8")
    assert instance["hostname"] == instance["ip"].replace(".", "-")
    assert re.fullmatch(r"[0-9a-f]{32}", instance["jupyter_token"])
    assert instance["jupyter_url"].endswith("?token=" + instance["jupyter_token"])
    assert all(action["available"] for action in instance["actions"].values())


def test_requested_hostname_is_used(api) -> None:
    [instance_id] = api.launch(hostname="headnode1").data["instance_ids"]
    assert wait_for_status(api, instance_id, "active")["hostname"] == "headnode1"


def test_advance_moves_the_clock_without_waiting(api) -> None:
    api.emulator.configure(time_scale=1.0, boot_seconds=600)
    [instance_id] = api.launch().data["instance_ids"]
    assert api.get(f"/instances/{instance_id}").data["status"] == "booting"
    api.emulator.advance(600)
    assert api.get(f"/instances/{instance_id}").data["status"] == "active"


def test_terminate_then_terminated_then_gone(api) -> None:
    api.emulator.configure(time_scale=1.0, boot_seconds=0, terminate_seconds=30, terminated_visible_seconds=60)
    [instance_id] = api.launch().data["instance_ids"]
    api.post("/instance-operations/terminate", {"instance_ids": [instance_id]})
    instance = api.get(f"/instances/{instance_id}").data
    assert instance["status"] == "terminating"
    assert instance["actions"]["terminate"]["reason_code"] == "vm-is-terminating"
    api.emulator.advance(30)
    assert api.get(f"/instances/{instance_id}").data["status"] == "terminated"
    assert [item["status"] for item in api.get("/instances").data] == ["terminated"]
    api.emulator.advance(60)
    assert api.get("/instances").data == []
    assert api.get(f"/instances/{instance_id}").status == 404


def test_terminate_lifecycle_in_real_time(api) -> None:
    [instance_id] = api.launch().data["instance_ids"]
    api.post("/instance-operations/terminate", {"instance_ids": [instance_id]})
    wait_for_status(api, instance_id, "terminated")
    deadline = time.monotonic() + 3
    while api.get(f"/instances/{instance_id}").status != 404:
        assert time.monotonic() < deadline, "terminated instance never dropped out"
        time.sleep(0.01)


def test_terminating_twice_is_harmless(api) -> None:
    [instance_id] = api.launch().data["instance_ids"]
    for _attempt in range(2):
        response = api.post("/instance-operations/terminate", {"instance_ids": [instance_id]})
        assert response.data["terminated_instances"][0]["status"] in ("terminating", "terminated")


@pytest.mark.lambda_emulator(time_scale=1.0)
def test_seeded_instances_take_fields_omissions_and_frozen_status(lambda_emulator: LambdaEmulator, api) -> None:
    active, frozen = lambda_emulator.seed_instances([
        {"name": "a", "instance_type": "gpu_8x_h100_sxm5", "region": "us-west-3", "tags": {"role": "server"},
         "ip": "203.0.113.50", "omit": ["hostname", "jupyter_url"], "extra": {"unknown_field": 1}},
        {"name": "b", "status": "booting", "hold_status": True},
    ])
    instance = api.get(f"/instances/{active}").data
    assert instance["ip"] == "203.0.113.50"
    assert instance["tags"] == [{"key": "role", "value": "server"}]
    assert instance["region"]["description"] == "Utah, USA"
    assert instance["unknown_field"] == 1
    assert "hostname" not in instance and "jupyter_url" not in instance
    lambda_emulator.advance(10_000)
    assert api.get(f"/instances/{frozen}").data["status"] == "booting"


def test_seed_rejects_bad_specs(lambda_emulator: LambdaEmulator) -> None:
    for spec in ({"instance_type": "gpu_99x_nothing"}, {"region": "mars-1"}, {"status": "contactable"},
                 {"omit": ["id"]}, {"colour": "blue"}):
        with pytest.raises(ValueError):
            lambda_emulator.seed_instances([spec])
    assert lambda_emulator.instances() == []


def test_addresses_are_unique_while_the_pool_lasts(lambda_emulator: LambdaEmulator) -> None:
    lambda_emulator.seed_instances(count=300, template={"name": "node-{index}"})
    instances = lambda_emulator.instances()
    assert len({instance["ip"] for instance in instances}) == 300
    assert len({instance["private_ip"] for instance in instances}) == 300
    assert {instance["name"] for instance in instances} == {f"node-{index}" for index in range(300)}
