"""Happy paths of every operation, and generic routing errors.

The lambda_emulator fixture checks every response against the OpenAPI spec, so
these tests assert behaviour and leave shape to the fixture.
"""

from __future__ import annotations

import http.client
import json
import re

from lambda_emulator import Fault, LambdaEmulator, SpecValidator
from lambda_emulator.server import ROUTES

RULE_SSH = {"protocol": "tcp", "port_range": [22, 22], "source_network": "0.0.0.0/0", "description": "SSH"}
RULE_PING = {"protocol": "icmp", "source_network": "10.0.0.0/8", "description": "ping"}


def test_every_spec_operation_is_routed(lambda_spec: SpecValidator) -> None:
    assert sorted((route.method, route.template) for route in ROUTES) == sorted(lambda_spec.operations())


def test_instance_types_lists_the_catalogue(api) -> None:
    data = api.get("/instance-types").data
    required = {"gpu_1x_gh200", "gpu_8x_h100_sxm5", "gpu_1x_h100_pcie", "gpu_1x_h100_sxm5", "gpu_8x_a100_80gb_sxm4",
                "gpu_1x_a100", "gpu_1x_a100_sxm4", "gpu_1x_a10", "gpu_1x_a6000", "gpu_2x_a6000", "gpu_1x_rtx6000",
                "gpu_8x_v100", "cpu_4x_general", "gpu_8x_b200_sxm6"}
    assert required <= set(data)
    a10 = data["gpu_1x_a10"]
    assert a10["instance_type"]["price_cents_per_hour"] == 75
    assert {"name": "us-east-1", "description": "Virginia, USA"} in a10["regions_with_capacity_available"]
    assert data["gpu_8x_b200_sxm6"]["regions_with_capacity_available"] == []


def test_launch_get_list_rename(api) -> None:
    [instance_id] = api.launch(name="trainer", tags=[{"key": "env", "value": "dev"}]).data["instance_ids"]
    assert re.fullmatch(r"[0-9a-f]{32}", instance_id)
    instance = api.get(f"/instances/{instance_id}").data
    assert instance["name"] == "trainer"
    assert instance["tags"] == [{"key": "env", "value": "dev"}]
    assert instance["ssh_key_names"] == ["deploy"]
    assert instance["region"] == {"name": "us-east-1", "description": "Virginia, USA"}
    assert instance["instance_type"]["name"] == "gpu_1x_a10"
    assert [item["id"] for item in api.get("/instances").data] == [instance_id]
    renamed = api.post(f"/instances/{instance_id}", {"name": "renamed"}).data
    assert renamed["name"] == "renamed"
    assert api.get(f"/instances/{instance_id}").data["name"] == "renamed"


def test_launch_without_a_name_has_no_name(api) -> None:
    [instance_id] = api.launch().data["instance_ids"]
    assert "name" not in api.get(f"/instances/{instance_id}").data


def test_restart_returns_the_instances(api) -> None:
    [instance_id] = api.launch().data["instance_ids"]
    restarted = api.post("/instance-operations/restart", {"instance_ids": [instance_id]}).data
    assert [item["id"] for item in restarted["restarted_instances"]] == [instance_id]
    assert api.emulator.instance(instance_id)["emulator"]["restart_count"] == 1


def test_terminate_returns_the_instances_terminating(api) -> None:
    [instance_id] = api.launch().data["instance_ids"]
    terminated = api.post("/instance-operations/terminate", {"instance_ids": [instance_id]}).data
    [item] = terminated["terminated_instances"]
    assert (item["id"], item["status"]) == (instance_id, "terminating")


def test_unknown_instance_is_404_everywhere(api) -> None:
    missing = "0" * 32
    for response in (api.get(f"/instances/{missing}"),
                     api.post(f"/instances/{missing}", {"name": "x"}),
                     api.post("/instance-operations/restart", {"instance_ids": [missing]}),
                     api.post("/instance-operations/terminate", {"instance_ids": [missing]})):
        assert (response.status, response.error_code) == (404, "global/object-does-not-exist")
        assert response.body["error"]["message"] == "Specified instance does not exist."


def test_terminate_with_one_unknown_id_changes_nothing(api) -> None:
    api.emulator.configure(boot_seconds=1000)
    [instance_id] = api.launch().data["instance_ids"]
    response = api.post("/instance-operations/terminate", {"instance_ids": [instance_id, "f" * 32]})
    assert response.status == 404
    assert api.get(f"/instances/{instance_id}").data["status"] == "booting"


def test_list_instances_filters_by_cluster_id(api) -> None:
    [in_cluster] = api.emulator.seed_instances([{"name": "a", "cluster_id": "c1"}])
    api.emulator.seed_instances([{"name": "b"}])
    assert [item["id"] for item in api.get("/instances?cluster_id=c1").data] == [in_cluster]
    assert len(api.get("/instances").data) == 2


def test_ssh_keys_add_list_delete(api, public_key: str) -> None:
    added = api.post("/ssh-keys", {"name": "laptop", "public_key": public_key}).data
    assert added["public_key"] == public_key and "private_key" not in added
    names = {key["name"] for key in api.get("/ssh-keys").data}
    assert names == {"deploy", "laptop"}
    assert api.delete(f"/ssh-keys/{added['id']}").data == {}
    assert {key["name"] for key in api.get("/ssh-keys").data} == {"deploy"}


def test_ssh_key_without_public_key_is_generated(api) -> None:
    generated = api.post("/ssh-keys", {"name": "generated"}).data
    assert generated["public_key"].startswith("ssh-ed25519 ")
    assert "PRIVATE KEY" in generated["private_key"]
    listed = {key["name"]: key for key in api.get("/ssh-keys").data}
    assert "private_key" not in listed["generated"]


def test_ssh_key_errors_are_invalid_parameters(api, public_key: str) -> None:
    duplicate = api.post("/ssh-keys", {"name": "deploy", "public_key": public_key})
    not_a_key = api.post("/ssh-keys", {"name": "other", "public_key": "hello"})
    missing = api.delete("/ssh-keys/" + "0" * 32)  # the spec documents no 404 for this operation
    for response in (duplicate, not_a_key, missing):
        assert (response.status, response.error_code) == (400, "global/invalid-parameters")


def test_filesystems_create_list_delete(api) -> None:
    created = api.post("/filesystems", {"name": "shared", "region": "us-east-1"}).data
    assert created["mount_point"] == "/lambda/nfs/shared"
    assert created["is_in_use"] is False
    assert [item["name"] for item in api.get("/file-systems").data] == ["shared"]
    assert api.delete(f"/filesystems/{created['id']}").data == {"deleted_ids": [created["id"]]}
    assert api.get("/file-systems").data == []


def test_filesystem_errors(api) -> None:
    created = api.post("/filesystems", {"name": "shared", "region": "us-east-1"}).data
    duplicate = api.post("/filesystems", {"name": "shared", "region": "us-east-1"})
    assert (duplicate.status, duplicate.error_code) == (400, "global/duplicate")
    bad_name = api.post("/filesystems", {"name": "1-starts-with-digit", "region": "us-east-1"})
    assert (bad_name.status, bad_name.error_code) == (400, "global/invalid-parameters")
    missing = api.delete("/filesystems/" + "0" * 32)
    assert (missing.status, missing.body["error"]["message"]) == (404, "Filesystem was not found.")
    api.launch(file_system_names=["shared"])
    assert api.get("/file-systems").data[0]["is_in_use"] is True
    in_use = api.delete(f"/filesystems/{created['id']}")
    assert (in_use.status, in_use.error_code) == (400, "filesystems/filesystem-in-use")


def test_launch_mounts_filesystems(api) -> None:
    shared = api.post("/filesystems", {"name": "shared", "region": "us-east-1"}).data
    data = api.post("/filesystems", {"name": "data", "region": "us-east-1"}).data
    [instance_id] = api.launch(file_system_names=["shared"], file_system_mounts=[
        {"mount_point": "/data/custom", "file_system_id": data["id"]}]).data["instance_ids"]
    instance = api.get(f"/instances/{instance_id}").data
    assert instance["file_system_names"] == ["shared", "data"]
    assert instance["file_system_mounts"] == [
        {"mount_point": "/lambda/nfs/shared", "file_system_id": shared["id"]},
        {"mount_point": "/data/custom", "file_system_id": data["id"]}]


def test_instance_without_filesystems_has_no_mounts_key(api) -> None:
    [instance_id] = api.launch().data["instance_ids"]
    instance = api.get(f"/instances/{instance_id}").data
    assert instance["file_system_names"] == []
    assert "file_system_mounts" not in instance


def test_images_cover_several_families_and_regions(api) -> None:
    images = api.get("/images").data
    assert {"lambda-stack-24-04", "ubuntu-22-04"} <= {image["family"] for image in images}
    assert {image["architecture"] for image in images} == {"x86_64", "arm64"}
    assert len({image["id"] for image in images}) == len(images)


def test_launch_records_the_chosen_image(api) -> None:
    image = next(image for image in api.get("/images").data
                 if image["family"] == "ubuntu-22-04" and image["region"]["name"] == "us-east-1")
    [by_id] = api.launch(image={"id": image["id"]}).data["instance_ids"]
    [by_family] = api.launch(image={"family": "ubuntu-22-04"}).data["instance_ids"]
    assert api.emulator.instance(by_id)["emulator"]["image_id"] == image["id"]
    assert api.emulator.instance(by_family)["emulator"]["image_id"] == image["id"]


def test_legacy_firewall_rules_and_global_ruleset_share_rules(api) -> None:
    assert api.get("/firewall-rules").data[0]["port_range"] == [22, 22]
    assert api.put("/firewall-rules", {"data": [RULE_SSH, RULE_PING]}).data == [RULE_SSH, RULE_PING]
    assert api.get("/firewall-rulesets/global").data == {
        "id": "global", "name": "Global Firewall Rules", "rules": [RULE_SSH, RULE_PING]}
    patched = api.patch("/firewall-rulesets/global", {"rules": [RULE_PING]}).data
    assert patched["rules"] == [RULE_PING]
    assert api.get("/firewall-rules").data == [RULE_PING]


def test_firewall_rulesets_crud(api) -> None:
    created = api.post("/firewall-rulesets", {"name": "web", "region": "us-east-1", "rules": [RULE_SSH]}).data
    assert (created["name"], created["instance_ids"]) == ("web", [])
    assert [item["id"] for item in api.get("/firewall-rulesets").data] == [created["id"]]
    assert api.get(f"/firewall-rulesets/{created['id']}").data["rules"] == [RULE_SSH]
    patched = api.patch(f"/firewall-rulesets/{created['id']}", {"name": "web2"}).data
    assert (patched["name"], patched["rules"]) == ("web2", [RULE_SSH])
    patched = api.patch(f"/firewall-rulesets/{created['id']}", {"rules": [RULE_PING]}).data
    assert (patched["name"], patched["rules"]) == ("web2", [RULE_PING])
    assert api.delete(f"/firewall-rulesets/{created['id']}").data == {}
    missing = api.get(f"/firewall-rulesets/{created['id']}")
    assert (missing.status, missing.error_code) == (404, "global/object-does-not-exist")
    assert api.patch(f"/firewall-rulesets/{created['id']}", {"name": "x"}).status == 404
    assert api.delete(f"/firewall-rulesets/{created['id']}").status == 404


def test_firewall_ruleset_tracks_instances_and_refuses_delete_in_use(api) -> None:
    ruleset = api.post("/firewall-rulesets", {"name": "web", "region": "us-east-1", "rules": [RULE_SSH]}).data
    [instance_id] = api.launch(firewall_rulesets=[{"id": ruleset["id"]}]).data["instance_ids"]
    assert api.get(f"/firewall-rulesets/{ruleset['id']}").data["instance_ids"] == [instance_id]
    assert api.get(f"/instances/{instance_id}").data["firewall_rulesets"] == [{"id": ruleset["id"]}]
    in_use = api.delete(f"/firewall-rulesets/{ruleset['id']}")
    assert (in_use.status, in_use.error_code) == (400, "firewall-rulesets/firewall-ruleset-in-use")


def test_firewall_rules_are_checked_beyond_the_schema(api) -> None:
    icmp_with_ports = {**RULE_PING, "port_range": [1, 2]}
    tcp_without_ports = {"protocol": "tcp", "source_network": "0.0.0.0/0", "description": "x"}
    bad_network = {**RULE_SSH, "source_network": "not-a-network"}
    for rule in (icmp_with_ports, tcp_without_ports, bad_network):
        response = api.post("/firewall-rulesets", {"name": "bad", "region": "us-east-1", "rules": [rule]})
        assert (response.status, response.error_code) == (400, "global/invalid-parameters"), rule


def test_audit_events_is_an_empty_page(api) -> None:
    assert api.get("/audit-events").data == {"events": [], "page_token": None}


def test_unknown_path_is_404_envelope(api) -> None:
    response = api.get("/regions")
    assert (response.status, response.error_code) == (404, "global/object-does-not-exist")


def test_wrong_method_is_405_envelope(api) -> None:
    response = api.delete("/instances")
    assert response.status == 405
    assert response.headers["Allow"] == "GET"
    assert set(response.body["error"]) >= {"code", "message"}


def test_invalid_json_body_is_400(api, http_call) -> None:
    response = http_call("POST", api.emulator.url + "/ssh-keys", raw=b"{not json",
                         headers={"Authorization": f"Bearer {api.key}"})
    assert (response.status, response.error_code) == (400, "global/invalid-parameters")


def test_body_against_schema_is_400(api) -> None:
    response = api.post("/instances/" + "0" * 32, {"name": "x" * 65})
    assert (response.status, response.error_code) == (400, "global/invalid-parameters")
    assert "name" in response.body["error"]["suggestion"]


def test_emulator_reports_no_internal_errors(api, lambda_emulator: LambdaEmulator) -> None:
    api.get("/instances")
    assert lambda_emulator.internal_errors == []


def test_keep_alive_connection_serves_several_requests(api) -> None:
    api.emulator.add_fault(Fault.rate_limited(retry_after=1, path="/images"))
    connection = http.client.HTTPConnection("127.0.0.1", api.emulator.port, timeout=5)
    headers = {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}
    try:
        statuses = []
        for method, path, body in (("GET", "/images", None), ("GET", "/images", None),
                                   ("POST", "/ssh-keys", b'{"name": 1}'), ("GET", "/nowhere", None)):
            connection.request(method, "/api/v1" + path, body=body, headers=headers)
            reply = connection.getresponse()
            json.loads(reply.read())
            statuses.append(reply.status)
    finally:
        connection.close()
    assert statuses == [429, 200, 400, 404]
