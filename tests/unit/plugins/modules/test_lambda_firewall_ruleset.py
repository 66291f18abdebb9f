"""lambda_firewall_ruleset against an in-memory fake of the API client."""

from __future__ import annotations

import copy

import pytest
from unit.plugins.modules.module_harness import RecordingClient, run_with_client

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import AmbiguousRequestError, LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.modules import lambda_firewall_ruleset

MUTATING = ("create_firewall_ruleset", "update_firewall_ruleset", "delete_firewall_ruleset")
SSH = {"protocol": "tcp", "port_range": [22, 22], "source_network": "203.0.113.0/24", "description": "SSH"}
API = {"protocol": "tcp", "port_range": [6443, 6443], "source_network": "203.0.113.0/24", "description": "K3s API"}
IN_USE = LambdaAPIError("The firewall ruleset is still attached to an instance", code="firewall-rulesets/firewall-ruleset-in-use", status=400)


class FakeClient(RecordingClient):
    """The firewall ruleset and instance calls of LambdaClient, on dicts, recording every call."""

    MUTATING = MUTATING

    def __init__(self, rulesets=(), instances=()):
        super().__init__()
        self.rulesets = {ruleset["id"]: copy.deepcopy(ruleset) for ruleset in rulesets}
        self.instances = [copy.deepcopy(instance) for instance in instances]
        self.lose_create_answer = False

    def list_firewall_rulesets(self):
        self._call("list_firewall_rulesets")
        return copy.deepcopy(list(self.rulesets.values()))

    def list_instances(self):
        self._call("list_instances")
        return copy.deepcopy(self.instances)

    def create_firewall_ruleset(self, name, region, rules):
        self._call("create_firewall_ruleset", name, region, rules)
        self._next += 1
        ruleset = {"id": "fw%d" % self._next, "name": name, "region": {"name": region, "description": region},
                   "rules": copy.deepcopy(rules), "created": "2026-01-01T00:00:00Z", "instance_ids": []}
        self.rulesets[ruleset["id"]] = ruleset
        if self.lose_create_answer:
            raise AmbiguousRequestError("POST /firewall-rulesets may or may not have been carried out: HTTP 502")
        return copy.deepcopy(ruleset)

    def update_firewall_ruleset(self, ruleset_id, name=None, rules=None):
        self._call("update_firewall_ruleset", ruleset_id, rules)
        self.rulesets[ruleset_id]["rules"] = copy.deepcopy(rules)
        return copy.deepcopy(self.rulesets[ruleset_id])

    def delete_firewall_ruleset(self, ruleset_id):
        self._call("delete_firewall_ruleset", ruleset_id)
        del self.rulesets[ruleset_id]


def run(client: FakeClient, check_mode: bool = False, diff: bool = False, **params) -> dict:
    return run_with_client(lambda_firewall_ruleset, client, check_mode, diff, **params)


def ruleset(rules, ruleset_id="fw0", name="demo-k3s-us-east-1", region="us-east-1", instance_ids=()):
    return {"id": ruleset_id, "name": name, "region": {"name": region, "description": "Virginia, USA"}, "rules": rules,
            "created": "2026-01-01T00:00:00Z", "instance_ids": list(instance_ids)}


def member(name, ip, cluster="demo", status="active"):
    tags = [{"key": "k3s-cluster", "value": cluster}] if cluster else []
    return {"id": name + "-id", "name": name, "ip": ip, "status": status, "tags": tags}


PARAMS = {"name": "demo-k3s-us-east-1", "region": "us-east-1"}


# -- present ---------------------------------------------------------------------------------

def test_a_missing_ruleset_is_created_with_normalised_rules():
    client = FakeClient()
    result = run(client, rules=[dict(SSH, source_network="198.51.100.7")], **PARAMS)
    assert result["changed"] is True
    assert client.mutations() == [("create_firewall_ruleset", "demo-k3s-us-east-1", "us-east-1",
                                   [dict(SSH, source_network="198.51.100.7/32")])]
    assert result["firewall_ruleset"] == {"id": "fw1", "name": "demo-k3s-us-east-1", "region": "us-east-1",
                                          "rules": [dict(SSH, source_network="198.51.100.7/32")], "instance_ids": []}


def test_the_same_rules_in_another_order_change_nothing():
    client = FakeClient([ruleset([SSH, API])])
    result = run(client, rules=[API, SSH], **PARAMS)
    assert result["changed"] is False and client.mutations() == []
    assert result["firewall_ruleset"]["id"] == "fw0"


def test_a_bare_address_matches_its_stored_slash_32():
    client = FakeClient([ruleset([dict(SSH, source_network="198.51.100.7/32")])])
    assert run(client, rules=[dict(SSH, source_network="198.51.100.7")], **PARAMS)["changed"] is False


def test_different_rules_are_patched_and_diffed():
    client = FakeClient([ruleset([SSH])])
    result = run(client, diff=True, rules=[SSH, API], **PARAMS)
    assert result["changed"] is True
    assert client.mutations() == [("update_firewall_ruleset", "fw0", [SSH, API])]
    assert result["diff"]["before"]["rules"] == [SSH]
    assert result["diff"]["after"]["rules"] == sorted([SSH, API], key=lambda rule: rule["port_range"])


def test_rulesets_of_the_same_name_in_other_regions_are_not_touched():
    client = FakeClient([ruleset([SSH], region="us-west-1")])
    run(client, rules=[SSH], **PARAMS)
    assert [call[0] for call in client.mutations()] == ["create_firewall_ruleset"]


def test_the_global_ruleset_is_never_matched():
    client = FakeClient([dict(ruleset([SSH], ruleset_id="global"))])
    run(client, rules=[SSH], **PARAMS)
    assert [call[0] for call in client.mutations()] == ["create_firewall_ruleset"]


def test_check_mode_creates_nothing_and_shows_the_rules():
    client = FakeClient()
    result = run(client, check_mode=True, diff=True, rules=[SSH], **PARAMS)
    assert result["changed"] is True and client.mutations() == []
    assert result["firewall_ruleset"]["id"] is None and result["firewall_ruleset"]["rules"] == [SSH]
    assert result["diff"] == {"before": {}, "after": {"name": PARAMS["name"], "region": "us-east-1", "rules": [SSH]}}


def test_check_mode_patches_nothing():
    client = FakeClient([ruleset([SSH])])
    assert run(client, check_mode=True, rules=[API], **PARAMS)["changed"] is True
    assert client.mutations() == []


def test_an_empty_rule_list_is_honoured():
    client = FakeClient([ruleset([SSH])])
    assert run(client, rules=[], **PARAMS)["changed"] is True
    assert client.mutations() == [("update_firewall_ruleset", "fw0", [])]


def test_duplicate_rules_are_sent_once():
    client = FakeClient()
    run(client, rules=[SSH, dict(SSH)], **PARAMS)
    assert client.mutations()[0][3] == [SSH]


def test_several_rulesets_with_the_name_are_refused():
    client = FakeClient([ruleset([SSH], ruleset_id="a"), ruleset([SSH], ruleset_id="b")])
    result = run(client, rules=[SSH], **PARAMS)
    assert result["failed"] and "a, b" in result["msg"] and client.mutations() == []


def test_a_lost_create_answer_adopts_the_ruleset_instead_of_making_a_twin():
    client = FakeClient()
    client.lose_create_answer = True
    result = run(client, rules=[SSH], **PARAMS)
    assert result["changed"] is True and result["firewall_ruleset"]["id"] == "fw1"
    assert len(client.rulesets) == 1


def test_a_lost_create_answer_without_a_ruleset_afterwards_fails_clearly():
    client = FakeClient()

    def lost(name, region, rules):
        client.calls.append(("create_firewall_ruleset", name, region, rules))
        raise AmbiguousRequestError("POST /firewall-rulesets may or may not have been carried out: HTTP 502")

    client.create_firewall_ruleset = lost
    result = run(client, rules=[SSH], **PARAMS)
    assert result["failed"] and "may or may not" in result["msg"] and "not created; run again" in result["msg"]
    assert result["changed"] is False


def test_cluster_members_are_trusted_and_dead_or_foreign_ones_are_not():
    client = FakeClient([ruleset([SSH])], instances=[
        member("demo-server-1", "198.51.100.3"),
        member("demo-gpu-1", "198.51.100.4", status="terminated"),
        member("other-1", "198.51.100.5", cluster="other"),
        member("demo-db", "198.51.100.6", cluster=None),
    ])
    result = run(client, rules=[SSH], cluster="demo", **PARAMS)
    assert result["changed"] is True
    sent = client.mutations()[0][2]
    assert sent == [SSH, {"protocol": "all", "port_range": [1, 65535], "source_network": "198.51.100.3/32",
                          "description": "k3s cluster demo member demo-server-1"}]


def test_instances_the_user_named_are_trusted():
    client = FakeClient(instances=[member("sophia-control", "198.51.100.3", cluster=None), member("sophia-db", "198.51.100.4", cluster=None)])
    run(client, rules=[SSH], cluster="sophia", member_names=["sophia-control"], **PARAMS)
    assert [rule["source_network"] for rule in client.mutations()[0][3]] == ["203.0.113.0/24", "198.51.100.3/32"]


def test_cluster_member_rules_are_stable_between_runs():
    client = FakeClient(instances=[member("demo-server-1", "198.51.100.3"), member("demo-gpu-1", "198.51.100.4")])
    assert run(client, rules=[SSH], cluster="demo", **PARAMS)["changed"] is True
    assert run(client, rules=[SSH], cluster="demo", **PARAMS)["changed"] is False
    assert len(client.mutations()) == 1


def test_a_replaced_member_address_is_swapped_in_the_rules():
    client = FakeClient(instances=[member("demo-server-1", "198.51.100.3")])
    run(client, rules=[SSH], cluster="demo", **PARAMS)
    client.instances = [member("demo-server-1", "198.51.100.9")]
    assert run(client, rules=[SSH], cluster="demo", **PARAMS)["changed"] is True
    networks = [rule["source_network"] for rule in client.rulesets["fw1"]["rules"]]
    assert networks == ["203.0.113.0/24", "198.51.100.9/32"]


# -- what an earlier step read -----------------------------------------------------------------

def test_a_snapshot_spares_reading_the_rulesets_and_the_instances():
    client = FakeClient()
    snapshot = {"rulesets": [ruleset([SSH], region="us-west-1")], "instances": [member("demo-server-1", "198.51.100.3")]}
    result = run(client, rules=[SSH], cluster="demo", snapshot=snapshot, **PARAMS)
    assert result["changed"] is True and [call[0] for call in client.calls] == ["create_firewall_ruleset"]
    assert [rule["source_network"] for rule in client.mutations()[0][3]] == ["203.0.113.0/24", "198.51.100.3/32"]


def test_a_second_pass_takes_the_first_ones_result_and_the_info_modules_instances():
    """provision.yml's second pass: the rulesets the first pass returned, the members as lambda_instance_info lists them."""
    client = FakeClient([ruleset([SSH])])
    first = run(client, rules=[SSH], cluster="demo", **PARAMS)["firewall_ruleset"]
    client.calls.clear()
    listed = {"id": "demo-server-1-id", "name": "demo-server-1", "ip": "198.51.100.3", "status": "active", "tags": {"k3s-cluster": "demo"}}
    result = run(client, rules=[SSH], cluster="demo", snapshot={"rulesets": [first], "instances": [listed]}, **PARAMS)
    assert result["changed"] is True and [call[0] for call in client.calls] == ["update_firewall_ruleset"]
    again = run(client, rules=[SSH], cluster="demo", snapshot={"rulesets": [result["firewall_ruleset"]], "instances": [listed]}, **PARAMS)
    assert again["changed"] is False and len(client.calls) == 1


def test_a_lost_create_answer_reads_the_rulesets_even_with_a_snapshot():
    client = FakeClient()
    client.lose_create_answer = True
    result = run(client, rules=[SSH], snapshot={"rulesets": []}, **PARAMS)
    assert result["changed"] is True and result["firewall_ruleset"]["id"] == "fw1"
    assert [call[0] for call in client.calls] == ["create_firewall_ruleset", "list_firewall_rulesets"]


# -- absent ----------------------------------------------------------------------------------

def test_absent_deletes_the_ruleset():
    client = FakeClient([ruleset([SSH]), ruleset([SSH], ruleset_id="other", region="us-west-1")])
    result = run(client, diff=True, state="absent", **PARAMS)
    assert result["changed"] is True and result["firewall_ruleset"] == {}
    assert client.mutations() == [("delete_firewall_ruleset", "fw0")]
    assert result["diff"]["after"] == {}


def test_absent_without_a_ruleset_changes_nothing():
    client = FakeClient()
    assert run(client, state="absent", **PARAMS)["changed"] is False


def test_absent_in_check_mode_deletes_nothing():
    client = FakeClient([ruleset([SSH])])
    assert run(client, check_mode=True, state="absent", **PARAMS)["changed"] is True
    assert client.mutations() == []


def test_deleting_a_ruleset_in_use_names_the_instances():
    client = FakeClient([ruleset([SSH], instance_ids=["i1", "i2"])],
                        instances=[{"id": "i1", "name": "demo-server-1", "status": "active"}])
    client.errors["delete_firewall_ruleset"] = IN_USE
    result = run(client, state="absent", **PARAMS)
    assert result["failed"] and result["error_code"] == "firewall-rulesets/firewall-ruleset-in-use"
    assert "demo-server-1 (i1, active)" in result["msg"] and "unnamed (i2, status unknown)" in result["msg"]
    assert "terminate" in result["msg"] and result["instance_ids"] == ["i1", "i2"]


def test_other_delete_errors_are_reported_as_they_are():
    client = FakeClient([ruleset([SSH])])
    client.errors["delete_firewall_ruleset"] = LambdaAPIError("Lambda Cloud reported an internal error", code="global/internal-error", status=409)
    result = run(client, state="absent", **PARAMS)
    assert result["failed"] and result["error_code"] == "global/internal-error"


# -- validation before any call ----------------------------------------------------------------

@pytest.mark.parametrize(("params", "message"), [
    ({"rules": [{"protocol": "icmp", "port_range": [1, 1], "source_network": "0.0.0.0/0"}]}, "icmp rules take no port_range"),
    ({"rules": [{"protocol": "tcp", "source_network": "0.0.0.0/0"}]}, "need a port_range"),
    ({"rules": [{"protocol": "tcp", "port_range": [22, 22], "source_network": "10.0.0.5/8"}]}, "did you mean 10.0.0.0/8"),
    ({"rules": [{"protocol": "tcp", "port_range": [22, 22], "source_network": "office"}]}, "not an IPv4"),
    ({"rules": [{"protocol": "tcp", "port_range": [22, 22], "source_network": "0.0.0.0/0", "description": "d" * 129}]}, "at most 128"),
    ({"rules": [{"protocol": "gre", "port_range": [22, 22], "source_network": "0.0.0.0/0"}]}, "protocol"),
    ({"rules": [{"port_range": [22, 22], "source_network": "0.0.0.0/0"}]}, "protocol"),
    ({}, "rules"),
    ({"rules": [], "name": "n" * 65}, "1 to 64"),
    ({"rules": [], "region": " "}, "region"),
])
def test_bad_input_fails_before_any_api_call(params, message):
    client = FakeClient([ruleset([SSH])])
    result = run(client, **dict(PARAMS, **params))
    assert result["failed"] and message in result["msg"]
    assert client.calls == []


def test_every_bad_rule_is_listed_at_once():
    client = FakeClient()
    result = run(client, rules=[SSH, {"protocol": "tcp", "source_network": "x"}, {"protocol": "icmp", "port_range": [1, 2], "source_network": "1.2.3.4"}],
                 **PARAMS)
    assert result["rule_errors"][0].startswith("rules[1]:") and result["rule_errors"][1].startswith("rules[2]:")
