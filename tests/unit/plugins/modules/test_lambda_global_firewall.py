"""Unit tests for sophia.lambda_k3s.lambda_global_firewall, run in-process against the API emulator, whose new
account allows SSH from anywhere (as Lambda's do)."""

from __future__ import annotations

import pytest
from unit.plugins.modules.module_harness import run_module

from ansible_collections.sophia.lambda_k3s.plugins.modules import lambda_global_firewall

ADMIN_SSH = {"protocol": "tcp", "port_range": [22, 22], "source_network": "203.0.113.0/24", "description": "SSH from the office"}
PING = {"protocol": "icmp", "source_network": "0.0.0.0/0", "description": "ping"}


def run(emu, check_mode=False, diff=False, **options) -> dict:
    args = {"api_key": emu.api_key, "api_url": emu.url, "allowed_rules": [ADMIN_SSH, PING],
            "_ansible_check_mode": check_mode, "_ansible_diff": diff}
    args.update(options)
    return run_module(lambda_global_firewall.main, args)


def global_rules(emu) -> list:
    return emu.state()["global_firewall_rules"]


def test_warn_names_each_wider_rule_and_changes_nothing(lambda_emulator):
    result = run(lambda_emulator)
    assert result["changed"] is False and not result.get("failed")
    assert [rule["source_network"] for rule in result["wider_rules"]] == ["0.0.0.0/0"]
    [warning] = result["warnings"]
    assert "'Allow SSH from anywhere' (tcp port 22 from 0.0.0.0/0)" in warning and "lambda_cluster_global_firewall" in warning
    assert lambda_emulator.count("PATCH") == 0


def test_rules_within_what_the_cluster_allows_raise_nothing(lambda_emulator):
    lambda_emulator.load_state({"global_firewall_rules": [dict(ADMIN_SSH, source_network="203.0.113.128/25"), PING]})
    result = run(lambda_emulator)
    assert result["wider_rules"] == [] and result["warnings"] == [] and result["changed"] is False


def test_match_removes_the_wider_rules_and_keeps_the_others(lambda_emulator):
    lambda_emulator.load_state({"global_firewall_rules": [
        {"protocol": "tcp", "port_range": [22, 22], "source_network": "0.0.0.0/0", "description": "Allow SSH from anywhere"}, PING]})
    check = run(lambda_emulator, check_mode=True, diff=True, mode="match")
    assert check["changed"] is True and lambda_emulator.count("PATCH") == 0
    assert check["diff"]["after"]["rules"] == [PING]
    result = run(lambda_emulator, mode="match")
    assert result["changed"] is True and result["rules"] == [PING] and global_rules(lambda_emulator) == [PING]
    assert result["warnings"] == []
    again = run(lambda_emulator, mode="match")
    assert again["changed"] is False and lambda_emulator.count("PATCH") == 1


@pytest.mark.parametrize("rules, message", [
    ([{"protocol": "tcp", "port_range": [22, 22], "source_network": "10.0.0.5/8"}], "host bits set"),
    ([{"protocol": "icmp", "port_range": [1, 1], "source_network": "0.0.0.0/0"}], "icmp rules take no port_range"),
])
def test_bad_allowed_rules_fail_before_any_api_call(lambda_emulator, rules, message):
    result = run(lambda_emulator, allowed_rules=rules)
    assert result["failed"] is True and message in result["msg"] and lambda_emulator.count() == 0
