"""Launch validation and capacity."""

from __future__ import annotations

import pytest

RULE_SSH = {"protocol": "tcp", "port_range": [22, 22], "source_network": "0.0.0.0/0", "description": "SSH"}


def assert_error(response, status: int, code: str) -> None:
    assert (response.status, response.error_code) == (status, code), response.body


def test_two_ssh_keys_are_rejected(api, public_key: str) -> None:
    api.emulator.add_ssh_key("second", public_key)
    assert_error(api.launch(ssh_key_names=["deploy", "second"]), 400, "global/invalid-parameters")
    assert_error(api.launch(ssh_key_names=[]), 400, "global/invalid-parameters")


def test_missing_required_field_is_rejected(api) -> None:
    response = api.post("/instance-operations/launch", {"region_name": "us-east-1", "ssh_key_names": ["deploy"]})
    assert_error(response, 400, "global/invalid-parameters")
    assert "instance_type_name" in response.body["error"]["suggestion"]


def test_unknown_region_fails_the_schema(api) -> None:
    assert_error(api.launch(region_name="mars-1"), 400, "global/invalid-parameters")


def test_unknown_instance_type_is_404(api) -> None:
    response = api.launch(instance_type_name="gpu_99x_nothing")
    assert_error(response, 404, "global/object-does-not-exist")
    assert "suggestion" in response.body["error"]


@pytest.mark.lambda_emulator(launch_not_found_status=400)
def test_not_found_on_launch_can_be_400(api) -> None:
    assert_error(api.launch(instance_type_name="gpu_99x_nothing"), 400, "global/object-does-not-exist")


def test_unknown_ssh_key_filesystem_ruleset_image_are_not_found(api) -> None:
    for fields in ({"ssh_key_names": ["nobody"]}, {"file_system_names": ["nothing"]},
                   {"firewall_rulesets": [{"id": "0" * 32}]}, {"image": {"family": "windows-95"}}):
        assert_error(api.launch(**fields), 404, "global/object-does-not-exist")
    assert api.emulator.instances() == []


def test_region_without_capacity(api) -> None:
    assert_error(api.launch(region_name="europe-central-1"), 400, "instance-operations/launch/insufficient-capacity")


def test_capacity_is_consumed_and_reflected_in_instance_types(api) -> None:
    api.emulator.set_capacity("gpu_1x_a10", "us-east-1", 1)
    api.emulator.set_capacity("gpu_1x_a10", "us-west-1", 0)
    regions = api.get("/instance-types").data["gpu_1x_a10"]["regions_with_capacity_available"]
    assert [region["name"] for region in regions] == ["us-east-1"]
    assert api.launch().status == 200
    assert api.get("/instance-types").data["gpu_1x_a10"]["regions_with_capacity_available"] == []
    assert_error(api.launch(), 400, "instance-operations/launch/insufficient-capacity")


def test_unlimited_capacity_is_not_consumed(api) -> None:
    api.emulator.clear_capacity()
    api.emulator.set_capacity("gpu_8x_b200_sxm6", "us-south-3", None)
    for _attempt in range(3):
        assert api.launch(instance_type_name="gpu_8x_b200_sxm6", region_name="us-south-3").status == 200
    data = api.get("/instance-types").data
    assert [region["name"] for region in data["gpu_8x_b200_sxm6"]["regions_with_capacity_available"]] == ["us-south-3"]
    assert data["gpu_1x_a10"]["regions_with_capacity_available"] == []


@pytest.mark.lambda_emulator(instance_quota=2)
def test_quota_counts_non_terminated_instances(api) -> None:
    first = api.launch().data["instance_ids"][0]
    api.launch()
    response = api.launch()
    assert_error(response, 400, "global/quota-exceeded")
    assert response.body["error"]["suggestion"] == "Contact Support to increase your quota."
    api.post("/instance-operations/terminate", {"instance_ids": [first]})
    api.emulator.advance(api.emulator.config.terminate_seconds)
    assert api.launch().status == 200


def test_quantity_above_one_is_rejected(api) -> None:
    response = api.launch(quantity=2)
    assert_error(response, 400, "global/invalid-parameters")
    assert response.body["error"]["message"] == "Requested too many instances."
    assert api.launch(quantity=1).status == 200


def test_invalid_billing_address_is_403(api) -> None:
    api.emulator.configure(billing_address_invalid=True)
    assert_error(api.launch(), 403, "global/invalid-address")
    assert_error(api.post("/filesystems", {"name": "fs", "region": "us-east-1"}), 403, "global/invalid-address")


def test_filesystem_in_another_region(api) -> None:
    api.post("/filesystems", {"name": "west", "region": "us-west-1"})
    assert_error(api.launch(file_system_names=["west"]), 400, "instance-operations/launch/file-system-in-wrong-region")


def test_firewall_ruleset_in_another_region(api) -> None:
    ruleset = api.post("/firewall-rulesets", {"name": "w", "region": "us-west-1", "rules": [RULE_SSH]}).data
    assert_error(api.launch(firewall_rulesets=[{"id": ruleset["id"]}]), 400, "global/invalid-parameters")


def test_bad_tag_key_fails_the_schema(api) -> None:
    assert_error(api.launch(tags=[{"key": "Upper", "value": "x"}]), 400, "global/invalid-parameters")


def test_user_data_is_kept_for_tests(api) -> None:
    [instance_id] = api.launch(user_data="#cloud-config\n").data["instance_ids"]
    assert api.emulator.instance(instance_id)["emulator"]["user_data"] == "#cloud-config\n"
    assert "user_data" not in api.get(f"/instances/{instance_id}").data
