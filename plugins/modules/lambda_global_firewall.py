#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lambda_global_firewall
short_description: Find, and optionally remove, Lambda Cloud account-wide firewall rules wider than a cluster allows
version_added: 1.0.0
description:
  - Lambda Cloud's account-wide firewall rules (the global ruleset, C(/firewall-rulesets/global)) apply to every instance of the
    account on top of the rulesets attached to it. A new account allows SSH from anywhere there, which defeats a cluster ruleset
    that opens SSH to its admin networks only.
  - The module reads the global rules and compares each one with O(allowed_rules), the rules the cluster itself allows. A global
    rule is B(wider) when no single allowed rule admits everything it admits (same or C(all) protocol, a port range that contains
    its ports, a network that contains its network).
  - With O(mode=warn) it warns naming each wider rule and changes nothing. With O(mode=match) it removes the wider rules from the
    global ruleset and keeps the others; this affects every instance of the account, not only the cluster's.
author:
  - sophia.lambda_k3s contributors (@sophia-ai)
extends_documentation_fragment:
  - sophia.lambda_k3s.lambda_cloud
  - sophia.lambda_k3s.lambda_cloud.action_group
attributes:
  check_mode:
    support: full
    description: Reads the global rules and reports what O(mode=match) would remove without removing it.
  diff_mode:
    support: full
    description: Shows the global rules before and after, in a stable order.
options:
  allowed_rules:
    description:
      - The inbound rules the cluster allows, in the P(sophia.lambda_k3s.lambda_firewall_ruleset#module) rule format, for example
        SSH and the K3s API from the admin networks plus any extra rules.
      - Validated before any API call.
    type: list
    elements: dict
    required: true
    suboptions:
      protocol:
        description:
          - Protocol the rule allows.
        type: str
        required: true
        choices: [tcp, udp, icmp, all]
      port_range:
        description:
          - Inclusive port range as V([min, max]); required except for V(icmp).
        type: list
        elements: int
      source_network:
        description:
          - IPv4 address or CIDR the traffic may come from.
        type: str
        required: true
      description:
        description:
          - Human-readable description, at most 128 characters.
        type: str
        default: ""
  mode:
    description:
      - V(warn) reports the wider global rules as warnings and changes nothing.
      - V(match) removes them from the global ruleset, for every instance of the account.
    type: str
    choices: [warn, match]
    default: warn
notes:
  - Lambda Cloud documents that its account-wide firewall rules do not apply in C(us-south-1).
seealso:
  - module: sophia.lambda_k3s.lambda_firewall_ruleset
"""

EXAMPLES = r"""
- name: Warn about account-wide rules wider than SSH and the K3s API from the office
  sophia.lambda_k3s.lambda_global_firewall:
    allowed_rules:
      - {protocol: tcp, port_range: [22, 22], source_network: 203.0.113.0/24}
      - {protocol: tcp, port_range: [6443, 6443], source_network: 203.0.113.0/24}

- name: Remove them
  sophia.lambda_k3s.lambda_global_firewall:
    allowed_rules:
      - {protocol: tcp, port_range: [22, 22], source_network: 203.0.113.0/24}
    mode: match
"""

RETURN = r"""
rules:
  description: The account-wide rules after the module ran (in check mode, as they would be).
  returned: always
  type: list
  elements: dict
  sample: [{"protocol": "icmp", "source_network": "0.0.0.0/0", "description": "Allow ping"}]
wider_rules:
  description: The account-wide rules wider than O(allowed_rules); with O(mode=match), the ones removed (or, in check mode, to remove).
  returned: always
  type: list
  elements: dict
  sample: [{"protocol": "tcp", "port_range": [22, 22], "source_network": "0.0.0.0/0", "description": "Allow SSH from anywhere"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.firewall import (
    canonical_key,
    describe_rule,
    sorted_rules,
    validate_rules,
    wider_rules,
)
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.module_support import client_for, fail_for, lambda_argument_spec


def argument_spec() -> dict:
    rule_options = dict(
        protocol=dict(type="str", required=True, choices=["tcp", "udp", "icmp", "all"]),
        port_range=dict(type="list", elements="int"),
        source_network=dict(type="str", required=True),
        description=dict(type="str", default=""),
    )
    return lambda_argument_spec(
        allowed_rules=dict(type="list", elements="dict", required=True, options=rule_options),
        mode=dict(type="str", default="warn", choices=["warn", "match"]),
    )


def warning_for(rule: dict) -> str:
    return ("The Lambda Cloud account-wide firewall rule %s is wider than the cluster's admin networks and extra rules, and it "
            "applies to every instance of the account, this cluster's nodes included. Narrow or remove it in the Lambda Cloud "
            "dashboard, or set lambda_cluster_global_firewall: match (mode=match) to have it removed." % describe_rule(rule))


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    allowed, errors = validate_rules(module.params["allowed_rules"])
    if errors:
        module.fail_json(msg="Invalid allowed_rules, nothing was read or changed: " + "; ".join(errors), rule_errors=errors)
    client = client_for(module)
    changed = False
    try:
        before = list(client.get_global_firewall_ruleset().get("rules") or [])
        wider = wider_rules(before, allowed)
        after = before
        if wider and module.params["mode"] == "match":
            removed = {canonical_key(rule) for rule in wider}
            after = [rule for rule in before if canonical_key(rule) not in removed]
            changed = True
            if not module.check_mode:
                after = list(client.update_global_firewall_rules(after).get("rules") or [])
        else:
            for rule in wider:
                module.warn(warning_for(rule))
    except LambdaAPIError as error:
        fail_for(module, error, changed=changed)
    result = {"changed": changed, "rules": after, "wider_rules": wider}
    if module._diff:
        result["diff"] = {"before": {"rules": sorted_rules(before)}, "after": {"rules": sorted_rules(after)}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
