# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lambda Cloud firewall rules: validation, normalisation, comparison and the cluster rules.

Pure functions, no API calls: the lambda_firewall_ruleset module validates user input here before
it talks to the API, and compares what it wants with what the API holds in the same canonical form.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import Membership, is_live

PROTOCOLS = ("tcp", "udp", "icmp", "all")
PORT_MIN = 1
PORT_MAX = 65535
MAX_DESCRIPTION_LENGTH = 128
ALL_PORTS = [PORT_MIN, PORT_MAX]
# The account-wide ruleset appears in the list of rulesets under this id; it belongs to no cluster and is never matched by name.
GLOBAL_RULESET_ID = "global"


class RuleError(ValueError):
    """A firewall rule the API would reject, or that could never compare equal to its stored form."""


def normalise_source_network(value) -> str:
    """'1.2.3.4' -> '1.2.3.4/32'; '10.0.0.0/8' unchanged. Raises RuleError for anything else.

    Host bits must be clear ('10.0.0.5/8' is refused): the API would either reject it or store
    the network address, and then every run would see a difference.
    """
    text = str(value if value is not None else "").strip()
    if not text:
        raise RuleError("the address is empty; give an IPv4 address or CIDR such as 203.0.113.0/24")
    candidate = text if "/" in text else text + "/32"
    try:
        return str(ipaddress.IPv4Network(candidate, strict=True))
    except ValueError:
        pass
    try:
        network = ipaddress.IPv4Network(candidate, strict=False)
    except ValueError:
        raise RuleError('"%s" is not an IPv4 address or CIDR (for example 203.0.113.0/24)' % text) from None
    raise RuleError('"%s" has host bits set; did you mean %s?' % (text, network))


def normalise_rule(rule) -> dict:
    """Check one user-supplied rule and return it in the API's canonical form.

    Raises RuleError with a message that says what to change.
    """
    if not isinstance(rule, dict):
        raise RuleError("each rule must be a dictionary with protocol, source_network and (except icmp) port_range")
    protocol = str(rule.get("protocol") or "").strip().lower()
    if protocol not in PROTOCOLS:
        raise RuleError("protocol %r is not one of %s" % (rule.get("protocol"), ", ".join(PROTOCOLS)))
    normalised = {"protocol": protocol}
    port_range = rule.get("port_range")
    if protocol == "icmp":
        if port_range not in (None, []):
            raise RuleError("icmp rules take no port_range (got %r); remove it" % (port_range,))
    else:
        normalised["port_range"] = _checked_port_range(port_range, protocol)
    try:
        normalised["source_network"] = normalise_source_network(rule.get("source_network"))
    except RuleError as error:
        raise RuleError("source_network: %s" % error) from None
    description = rule.get("description")
    description = "" if description is None else str(description)
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise RuleError("description is %d characters long; the API allows at most %d" % (len(description), MAX_DESCRIPTION_LENGTH))
    normalised["description"] = description
    return normalised


def _checked_port_range(port_range, protocol: str) -> list:
    hint = "use [%d, %d] for all ports" % (PORT_MIN, PORT_MAX) if protocol == "all" else "for one port list it twice, e.g. [22, 22]"
    if port_range is None or port_range == []:
        raise RuleError("%s rules need a port_range [min, max]; %s" % (protocol, hint))
    if not isinstance(port_range, (list, tuple)) or len(port_range) != 2:
        raise RuleError("port_range must be a list of two ports [min, max] (got %r); %s" % (port_range, hint))
    try:
        low, high = (int(port) for port in port_range)
    except (TypeError, ValueError):
        raise RuleError("port_range %r must hold two integers" % (port_range,)) from None
    for port in (low, high):
        if not PORT_MIN <= port <= PORT_MAX:
            raise RuleError("port %d in port_range is outside %d-%d" % (port, PORT_MIN, PORT_MAX))
    if low > high:
        raise RuleError("port_range %r has its minimum above its maximum" % ([low, high],))
    return [low, high]


def validate_rules(rules) -> tuple:
    """Normalise a whole list; returns (normalised rules, error messages naming each bad rule)."""
    normalised, errors = [], []
    for index, rule in enumerate(rules or []):
        try:
            normalised.append(normalise_rule(rule))
        except RuleError as error:
            errors.append("rules[%d]: %s" % (index, error))
    return normalised, errors


def canonical_key(rule: dict) -> tuple:
    """A hashable, order-free form of a rule as the API returns it; tolerant of odd stored data."""
    protocol = str(rule.get("protocol") or "").lower()
    port_range = rule.get("port_range")
    ports = None
    if protocol != "icmp" and port_range:
        try:
            ports = tuple(int(port) for port in port_range)
        except (TypeError, ValueError):
            ports = tuple(str(port) for port in port_range)
    try:
        network = normalise_source_network(rule.get("source_network"))
    except RuleError:
        # Stored data we cannot parse still compares (unequal to anything valid), never crashes.
        network = str(rule.get("source_network"))
    return (protocol, ports or (), network, str(rule.get("description") or ""))


def _rule_from_key(key: tuple) -> dict:
    protocol, ports, network, description = key
    rule = {"protocol": protocol}
    if ports:
        rule["port_range"] = list(ports)
    rule.update(source_network=network, description=description)
    return rule


def sorted_rules(rules) -> list:
    """The rules in canonical form and a stable order: what diffs show and comparisons use."""
    return [_rule_from_key(key) for key in sorted(canonical_key(rule) for rule in rules or [])]


def same_rules(current, desired) -> bool:
    """True when both lists hold the same rules, ignoring order (duplicates count)."""
    return sorted(canonical_key(rule) for rule in current or []) == sorted(canonical_key(rule) for rule in desired or [])


def without_duplicates(rules) -> list:
    """Drop rules identical to an earlier one, keeping the first spelling and the order."""
    seen, unique = set(), []
    for rule in rules:
        key = canonical_key(rule)
        if key not in seen:
            seen.add(key)
            unique.append(rule)
    return unique


def member_rules(instances, membership: Membership) -> list:
    """One rule per live member of the cluster that has a public IP: every protocol and port from it.

    K3s nodes need many ports between them (6443, 10250, flannel's VXLAN or WireGuard, etcd on
    servers, NodePorts), and a cluster that spans regions talks over public addresses, so each
    member's /32 is trusted fully, so only explicit members are (membership.chosen false trusts
    nobody). Ordered by address so the rule list is stable between runs.
    """
    by_address = {}
    label = membership.cluster or "named"
    for instance in instances or []:
        if not membership.includes(instance) or not is_live(instance):
            continue
        address = instance.get("ip")
        if not address:
            continue
        try:
            network = normalise_source_network(address)
        except RuleError:
            continue
        name = str(instance.get("name") or instance.get("id") or "")
        description = ("k3s cluster %s member %s" % (label, name))[:MAX_DESCRIPTION_LENGTH]
        by_address.setdefault(network, description)
    return [{"protocol": "all", "port_range": list(ALL_PORTS), "source_network": network, "description": by_address[network]}
            for network in sorted(by_address, key=ipaddress.IPv4Network)]


# -- the account-wide (global) rules -------------------------------------------------------------

def _covers(outer: tuple, inner: tuple) -> bool:
    """True when every packet rule ``inner`` admits, rule ``outer`` admits too (canonical keys)."""
    outer_protocol, outer_ports, outer_network = outer[:3]
    inner_protocol, inner_ports, inner_network = inner[:3]
    if outer_protocol not in ("all", inner_protocol):
        return False
    if inner_protocol == "icmp":
        ports_covered = outer_protocol == "icmp" or tuple(outer_ports) == tuple(ALL_PORTS)
    elif outer_protocol == "icmp":
        ports_covered = False
    else:
        ports_covered = _within(inner_ports, outer_ports)
    if not ports_covered:
        return False
    try:
        return ipaddress.IPv4Network(inner_network).subnet_of(ipaddress.IPv4Network(outer_network))
    except ValueError:
        return False


def _within(inner_ports: tuple, outer_ports: tuple) -> bool:
    try:
        return len(inner_ports) == len(outer_ports) == 2 and outer_ports[0] <= inner_ports[0] and inner_ports[1] <= outer_ports[1]
    except TypeError:
        return False


def wider_rules(rules, allowed) -> list:
    """The rules that admit traffic no single rule of ``allowed`` admits (in their order).

    Lambda's account-wide rules apply on top of each instance's ruleset, so a global rule opening
    SSH to 0.0.0.0/0 defeats a cluster whose ruleset opens it to the admin networks only. The check
    is rule by rule, so a rule only covered by several allowed rules together counts as wider:
    it errs towards saying too much, never too little.
    """
    allowed_keys = [canonical_key(rule) for rule in allowed or []]
    return [rule for rule in rules or [] if not any(_covers(outer, canonical_key(rule)) for outer in allowed_keys)]


def describe_rule(rule: dict) -> str:
    """A rule in words, for messages: 'Allow SSH' (tcp port 22 from 0.0.0.0/0)."""
    protocol, ports, network, description = canonical_key(rule)
    name = "all protocols" if protocol == "all" else protocol
    if protocol == "icmp" or len(ports) != 2:
        what = name
    elif tuple(ports) == tuple(ALL_PORTS):
        what = "%s, all ports" % name
    elif ports[0] == ports[1]:
        what = "%s port %s" % (name, ports[0])
    else:
        what = "%s ports %s-%s" % (name, ports[0], ports[1])
    text = "%s from %s" % (what, network)
    return "'%s' (%s)" % (description, text) if description else text
