"""Rule validation, normalisation, comparison and the cluster member rules."""

from __future__ import annotations

import pytest

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import Membership
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.firewall import (
    RuleError,
    canonical_key,
    describe_rule,
    member_rules,
    normalise_rule,
    normalise_source_network,
    same_rules,
    sorted_rules,
    validate_rules,
    wider_rules,
    without_duplicates,
)


DEMO = Membership(cluster="demo")


def tcp(port: int, network: str, description: str = "") -> dict:
    return {"protocol": "tcp", "port_range": [port, port], "source_network": network, "description": description}


@pytest.mark.parametrize(("given", "expected"), [
    ("1.2.3.4", "1.2.3.4/32"),
    (" 1.2.3.4 ", "1.2.3.4/32"),
    ("1.2.3.4/32", "1.2.3.4/32"),
    ("10.0.0.0/8", "10.0.0.0/8"),
    ("0.0.0.0/0", "0.0.0.0/0"),
    ("10.0.0.0/255.0.0.0", "10.0.0.0/8"),
])
def test_source_networks_are_normalised(given, expected):
    assert normalise_source_network(given) == expected


@pytest.mark.parametrize(("given", "message"), [
    ("", "empty"),
    (None, "empty"),
    ("1.2.3", "not an IPv4"),
    ("256.1.1.1", "not an IPv4"),
    ("1.2.3.4/33", "not an IPv4"),
    ("2001:db8::/32", "not an IPv4"),
    ("office", "not an IPv4"),
    ("10.0.0.5/8", "did you mean 10.0.0.0/8"),
])
def test_bad_source_networks_are_refused_with_a_reason(given, message):
    with pytest.raises(RuleError, match=message):
        normalise_source_network(given)


def test_a_tcp_rule_is_normalised():
    rule = normalise_rule({"protocol": "TCP", "port_range": ["22", 22], "source_network": "198.51.100.7"})
    assert rule == {"protocol": "tcp", "port_range": [22, 22], "source_network": "198.51.100.7/32", "description": ""}


def test_an_icmp_rule_has_no_port_range():
    assert normalise_rule({"protocol": "icmp", "source_network": "0.0.0.0/0", "description": "ping"}) == {
        "protocol": "icmp", "source_network": "0.0.0.0/0", "description": "ping"}


@pytest.mark.parametrize(("rule", "message"), [
    ({"protocol": "icmp", "port_range": [1, 2], "source_network": "0.0.0.0/0"}, "icmp rules take no port_range"),
    ({"protocol": "tcp", "source_network": "0.0.0.0/0"}, r"tcp rules need a port_range.*\[22, 22\]"),
    ({"protocol": "all", "source_network": "0.0.0.0/0"}, r"use \[1, 65535\]"),
    ({"protocol": "udp", "port_range": [53], "source_network": "0.0.0.0/0"}, "two ports"),
    ({"protocol": "udp", "port_range": [0, 53], "source_network": "0.0.0.0/0"}, "outside 1-65535"),
    ({"protocol": "udp", "port_range": [53, 70000], "source_network": "0.0.0.0/0"}, "outside 1-65535"),
    ({"protocol": "udp", "port_range": [60, 53], "source_network": "0.0.0.0/0"}, "minimum above its maximum"),
    ({"protocol": "udp", "port_range": ["a", 53], "source_network": "0.0.0.0/0"}, "two integers"),
    ({"protocol": "gre", "port_range": [1, 2], "source_network": "0.0.0.0/0"}, "not one of"),
    ({"protocol": "tcp", "port_range": [1, 2], "source_network": "0.0.0.0/0", "description": "x" * 129}, "at most 128"),
    ("tcp/22", "must be a dictionary"),
])
def test_invalid_rules_are_explained(rule, message):
    with pytest.raises(RuleError, match=message):
        normalise_rule(rule)


def test_a_128_character_description_is_allowed():
    assert len(normalise_rule(tcp(22, "0.0.0.0/0", "x" * 128))["description"]) == 128


def test_validate_rules_reports_every_bad_rule_by_index():
    rules, errors = validate_rules([tcp(22, "0.0.0.0/0"), {"protocol": "tcp", "source_network": "x"}, tcp(80, "10.0.0.1/8")])
    assert len(rules) == 1
    assert [error.split(":")[0] for error in errors] == ["rules[1]", "rules[2]"]


def test_comparison_ignores_order_and_address_spelling():
    stored = [tcp(6443, "203.0.113.0/24"), tcp(22, "198.51.100.7/32", "ssh")]
    desired = [tcp(22, "198.51.100.7", "ssh"), tcp(6443, "203.0.113.0/24")]
    assert same_rules(stored, desired)


def test_comparison_sees_a_changed_port_description_or_duplicate():
    base = [tcp(22, "198.51.100.7/32", "ssh")]
    assert not same_rules(base, [tcp(2222, "198.51.100.7/32", "ssh")])
    assert not same_rules(base, [tcp(22, "198.51.100.7/32", "SSH")])
    assert not same_rules(base, base + base)
    assert not same_rules(base, [])


def test_stored_icmp_rules_with_or_without_a_port_range_compare_equal():
    assert same_rules([{"protocol": "icmp", "source_network": "0.0.0.0/0", "description": ""}],
                      [{"protocol": "icmp", "port_range": None, "source_network": "0.0.0.0/0"}])


def test_unparseable_stored_rules_do_not_crash_the_comparison():
    assert canonical_key({"protocol": "tcp", "port_range": ["x", "y"], "source_network": "nonsense"})[2] == "nonsense"
    assert not same_rules([{"protocol": "tcp", "source_network": "nonsense"}], [tcp(22, "0.0.0.0/0")])


def test_sorted_rules_gives_a_stable_canonical_list():
    assert sorted_rules([tcp(6443, "10.0.0.0/8"), {"protocol": "icmp", "source_network": "1.2.3.4"}]) == [
        {"protocol": "icmp", "source_network": "1.2.3.4/32", "description": ""},
        {"protocol": "tcp", "port_range": [6443, 6443], "source_network": "10.0.0.0/8", "description": ""},
    ]


def test_duplicates_are_dropped_keeping_the_first():
    assert without_duplicates([tcp(22, "1.2.3.4"), tcp(22, "1.2.3.4/32"), tcp(80, "1.2.3.4")]) == [
        tcp(22, "1.2.3.4"), tcp(80, "1.2.3.4")]


def instance(name: str, ip: str | None, cluster: str | None = "demo", status: str = "active") -> dict:
    tags = [{"key": "k3s-cluster", "value": cluster}] if cluster else []
    item = {"id": name + "-id", "name": name, "status": status, "tags": tags}
    if ip:
        item["ip"] = ip
    return item


def test_member_rules_trust_each_live_member_address_in_address_order():
    instances = [
        instance("demo-gpu-2", "198.51.100.20"),
        instance("demo-server-1", "198.51.100.3"),
        instance("demo-gpu-1", None, status="booting"),
        instance("demo-gpu-3", "198.51.100.30", status="terminated"),
        instance("other-1", "203.0.113.9", cluster="other"),
        instance("demo-untagged", "198.51.100.40", cluster=None),
    ]
    assert member_rules(instances, DEMO) == [
        {"protocol": "all", "port_range": [1, 65535], "source_network": "198.51.100.3/32", "description": "k3s cluster demo member demo-server-1"},
        {"protocol": "all", "port_range": [1, 65535], "source_network": "198.51.100.20/32", "description": "k3s cluster demo member demo-gpu-2"},
    ], "an untagged look-alike (demo-untagged) gets no port of the cluster"


def test_member_rules_trust_instances_the_user_named():
    named = instance("sophia-control", "198.51.100.40", cluster=None)
    members = Membership(cluster="sophia", names=["sophia-control"])
    assert [rule["source_network"] for rule in member_rules([named], members)] == ["198.51.100.40/32"]
    assert member_rules([named], Membership()) == [], "no cluster chosen, nobody trusted"


def test_member_rules_are_valid_rules_even_for_long_names():
    rules = member_rules([instance("demo-" + "x" * 200, "198.51.100.3")], DEMO)
    normalised, errors = validate_rules(rules)
    assert errors == [] and normalised == rules


def test_member_rules_skip_malformed_addresses():
    assert member_rules([instance("demo-1", "not-an-ip")], DEMO) == []


ADMIN = [tcp(22, "203.0.113.0/24"), tcp(6443, "203.0.113.0/24")]


@pytest.mark.parametrize("rule, wider", [
    (tcp(22, "0.0.0.0/0", "Allow SSH from anywhere"), True),
    (tcp(22, "203.0.113.0/25"), False),
    (tcp(22, "203.0.113.7"), False),
    (tcp(22, "203.0.112.0/23"), True),
    (tcp(80, "203.0.113.0/24"), True),
    ({"protocol": "tcp", "port_range": [22, 23], "source_network": "203.0.113.0/24", "description": ""}, True),
    ({"protocol": "udp", "port_range": [22, 22], "source_network": "203.0.113.0/24", "description": ""}, True),
    ({"protocol": "all", "port_range": [22, 22], "source_network": "203.0.113.0/24", "description": ""}, True),
    ({"protocol": "icmp", "source_network": "0.0.0.0/0", "description": "ping"}, False),
])
def test_global_rules_wider_than_what_the_cluster_allows(rule, wider):
    allowed = ADMIN + [{"protocol": "icmp", "source_network": "0.0.0.0/0", "description": "ping from anywhere"}]
    assert wider_rules([rule], allowed) == ([rule] if wider else [])


def test_an_all_protocol_rule_covers_every_protocol_in_its_ports_and_network():
    everything = [{"protocol": "all", "port_range": [1, 65535], "source_network": "10.0.0.0/8", "description": ""}]
    inside = [tcp(22, "10.1.0.0/16"), {"protocol": "icmp", "source_network": "10.0.0.1", "description": ""},
              {"protocol": "udp", "port_range": [8472, 8472], "source_network": "10.2.3.4/32", "description": ""}]
    assert wider_rules(inside, everything) == []
    assert wider_rules([tcp(22, "11.0.0.0/8")], everything) == [tcp(22, "11.0.0.0/8")]


def test_rules_are_described_for_people():
    assert describe_rule(tcp(22, "0.0.0.0/0", "Allow SSH from anywhere")) == "'Allow SSH from anywhere' (tcp port 22 from 0.0.0.0/0)"
    assert describe_rule({"protocol": "all", "port_range": [1, 65535], "source_network": "10.0.0.0/8"}) == "all protocols, all ports from 10.0.0.0/8"
    assert describe_rule({"protocol": "udp", "port_range": [30000, 32767], "source_network": "1.2.3.4"}) == "udp ports 30000-32767 from 1.2.3.4/32"
    assert describe_rule({"protocol": "icmp", "source_network": "0.0.0.0/0", "description": ""}) == "icmp from 0.0.0.0/0"
