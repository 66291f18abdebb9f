"""The HTTP control API under /_emulator/, for tests that run ansible in a subprocess."""

from __future__ import annotations

import pytest


def test_health(lambda_emulator, control_api) -> None:
    assert control_api("GET", "health").body == {"ok": True, "url": lambda_emulator.url}


def test_requests_list_filter_and_clear(api, control_api) -> None:
    api.get("/instances")
    api.get("/images")
    assert [record["path"] for record in control_api("GET", "requests").body["requests"]] == [
        "/api/v1/instances", "/api/v1/images"]
    filtered = control_api("GET", "requests?path=/images&method=GET").body["requests"]
    assert [record["status"] for record in filtered] == [200]
    assert control_api("DELETE", "requests").status == 200
    assert control_api("GET", "requests").body["requests"] == []


def test_faults_add_list_clear(api, control_api) -> None:
    added = control_api("POST", "faults", [
        {"kind": "error", "status": 503, "path": "/instances", "times": 2},
        {"kind": "drop", "method": "POST", "path": "/instance-operations/launch", "after_side_effect": True},
    ])
    assert len(added.body["added"]) == 2
    assert [fault["status"] for fault in control_api("GET", "faults").body["faults"]] == [503, 500]
    assert api.get("/instances").status == 503
    assert control_api("DELETE", "faults").status == 200
    assert api.get("/instances").status == 200


def test_bad_fault_is_400(control_api) -> None:
    response = control_api("POST", "faults", [{"kind": "explode"}])
    assert response.status == 400
    assert "explode" in response.body["error"]


def test_capacity(api, control_api) -> None:
    response = control_api("POST", "capacity", {"clear": True, "entries": [
        {"instance_type": "gpu_1x_a10", "region": "us-west-2", "count": 1},
        {"instance_type": "gpu_1x_gh200", "region": "us-east-3", "count": None}]})
    assert response.body["capacity"] == [
        {"instance_type": "gpu_1x_a10", "region": "us-west-2", "count": 1},
        {"instance_type": "gpu_1x_gh200", "region": "us-east-3", "count": None}]
    types = api.get("/instance-types").data
    assert [region["name"] for region in types["gpu_1x_a10"]["regions_with_capacity_available"]] == ["us-west-2"]
    assert control_api("POST", "capacity", [{"instance_type": "gpu_1x_a10", "region": "us-west-2", "count": 0}]).status == 200
    assert control_api("POST", "capacity", [{"instance_type": "nope", "region": "us-west-2", "count": 1}]).status == 400


def test_seed_instances_by_list_and_by_count(api, control_api) -> None:
    listed = control_api("POST", "instances", [
        {"name": "head", "status": "active", "tags": [{"key": "role", "value": "server"}]},
        {"name": "worker", "status": "booting", "hold_status": True, "instance_type": "gpu_8x_h100_sxm5",
         "region": "us-west-3"},
    ]).body["instance_ids"]
    counted = control_api("POST", "instances", {"count": 5, "template": {"name": "bulk-{index}", "omit": ["ip"]}})
    assert len(listed) == 2 and len(counted.body["instance_ids"]) == 5
    instances = {item["name"]: item for item in api.get("/instances").data}
    assert instances["worker"]["status"] == "booting"
    assert "ip" not in instances["bulk-4"] and "private_ip" in instances["bulk-4"]
    assert control_api("POST", "instances", [{"status": "nonsense"}]).status == 400


def test_ssh_keys(api, control_api, public_key: str) -> None:
    keys = control_api("POST", "ssh-keys", [{"name": "k1", "public_key": public_key}, {"name": "k2"}]).body["ssh_keys"]
    assert "private_key" in keys[1] and "private_key" not in keys[0]
    assert {key["name"] for key in api.get("/ssh-keys").data} == {"deploy", "k1", "k2"}


def test_config_reads_and_changes(api, control_api) -> None:
    changed = control_api("POST", "config", {"instance_quota": 0, "boot_seconds": 1}).body
    assert (changed["instance_quota"], changed["boot_seconds"]) == (0, 1)
    assert control_api("GET", "config").body["instance_quota"] == 0
    assert api.launch().error_code == "global/quota-exceeded"
    assert control_api("POST", "config", {"port": 1}).status == 400
    assert control_api("POST", "config", {"time_scale": -1}).status == 400


def test_state_and_reset(api, control_api) -> None:
    [instance_id] = api.launch(user_data="#cloud-config\n").data["instance_ids"]
    control_api("POST", "config", {"instance_quota": 3})
    state = control_api("GET", "state").body
    [instance] = state["instances"]
    assert (instance["id"], instance["emulator"]["user_data"]) == (instance_id, "#cloud-config\n")
    assert {"ssh_keys", "filesystems", "firewall_rulesets", "global_firewall_rules", "capacity", "config",
            "faults"} <= set(state)
    assert control_api("POST", "reset").status == 200
    state = control_api("GET", "state").body
    assert (state["instances"], state["ssh_keys"], state["config"]["instance_quota"]) == ([], [], None)


def test_load_state(api, control_api, public_key: str) -> None:
    control_api("POST", "state", {
        "ssh_keys": [{"name": "ops", "public_key": public_key}],
        "filesystems": [{"name": "shared", "region": "us-east-1"}],
        "firewall_rulesets": [{"name": "web", "region": "us-east-1", "rules": []}],
        "instances": [{"name": "seeded"}],
    })
    assert [item["name"] for item in api.get("/file-systems").data] == ["shared"]
    assert [item["name"] for item in api.get("/firewall-rulesets").data] == ["web"]
    assert [item["name"] for item in api.get("/instances").data] == ["seeded"]
    assert control_api("POST", "state", {"bogus": []}).status == 400


def test_advance(api, control_api) -> None:
    control_api("POST", "config", {"time_scale": 1.0, "boot_seconds": 300})
    [instance_id] = api.launch().data["instance_ids"]
    control_api("POST", "advance", {"seconds": 300})
    assert api.get(f"/instances/{instance_id}").data["status"] == "active"


@pytest.mark.parametrize(("method", "action"), [("GET", "nothing"), ("PUT", "faults")])
def test_unknown_control_endpoint_is_404(control_api, method: str, action: str) -> None:
    assert control_api(method, action).status == 404
