#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lambda_firewall_ruleset
short_description: Manage Lambda Cloud firewall rulesets
version_added: 1.0.0
description:
  - Creates a firewall ruleset in a region, updates its inbound rules when they differ, or deletes it.
  - A ruleset is identified by O(name) and O(region). Rules are compared without regard to order, after
    normalising each source network (V(203.0.113.7) and V(203.0.113.7/32) are the same rule).
  - Every rule is validated before any API call.
  - Lambda Cloud attaches rulesets to instances only at launch (the C(firewall_ruleset_ids) option of
    P(sophia.lambda_k3s.lambda_instance#module)). Changing the rules of an attached ruleset changes what
    reaches those instances; deleting one that is attached fails until its instances are terminated.
  - With O(cluster), the module adds one rule per live member of that K3s cluster, allowing every
    protocol and port from the member's public IP. Members are found as the inventory finds them
    (the C(k3s-cluster) tag, plus untagged instances named in O(member_names) or matching O(member_name_pattern)).
    An untagged instance whose name merely starts with C(<cluster>-) is not trusted.
  - Given O(snapshot), the module takes the rulesets and the instances from it instead of reading them (a ruleset it
    creates is still looked for by reading, should the answer to the creation be lost).
author:
  - sophia.lambda_k3s contributors (@sophia-ai)
extends_documentation_fragment:
  - sophia.lambda_k3s.lambda_cloud
  - sophia.lambda_k3s.lambda_cloud.membership
  - sophia.lambda_k3s.lambda_cloud.snapshot
  - sophia.lambda_k3s.lambda_cloud.action_group
attributes:
  check_mode:
    support: full
    description: Reads the rulesets (and, with O(cluster), the instances) and reports what would change without changing anything.
  diff_mode:
    support: full
    description: Shows the rules before and after, in a stable order.
options:
  name:
    description:
      - Name of the ruleset, 1 to 64 characters.
    type: str
    required: true
  region:
    description:
      - Region code of the ruleset, for example V(us-east-1). Rulesets only apply to instances in their region.
    type: str
    required: true
  rules:
    description:
      - The complete list of inbound rules. Traffic no rule allows is dropped.
      - Required when O(state=present); an empty list allows no inbound traffic at all.
      - Rules are validated before any API call.
    type: list
    elements: dict
    suboptions:
      protocol:
        description:
          - Protocol the rule allows.
        type: str
        required: true
        choices: [tcp, udp, icmp, all]
      port_range:
        description:
          - Inclusive port range as V([min, max]); list a single port twice, for example V([22, 22]).
          - Required for V(tcp), V(udp) and V(all) (use V([1, 65535]) for every port); not allowed for V(icmp).
        type: list
        elements: int
      source_network:
        description:
          - IPv4 address or CIDR the traffic may come from. A bare address means that address only (C(/32)).
          - Host bits must be zero (V(10.0.0.0/8), not V(10.0.0.5/8)).
        type: str
        required: true
      description:
        description:
          - Human-readable description, at most 128 characters.
        type: str
        default: ""
  cluster:
    description:
      - Name of a K3s cluster whose members may reach each other. For each member with a public IP, a rule
        allowing protocol V(all) on ports V([1, 65535]) from the member's address (as C(/32)) is added to O(rules).
      - Members are read when the module runs, so run it again after instances are launched or replaced;
        addresses of terminated members are then removed.
      - O(member_names) and O(member_name_pattern) add untagged members (and work without O(cluster)).
    type: str
  state:
    description:
      - V(present) creates the ruleset or updates its rules; V(absent) deletes every ruleset with this name in O(region).
    type: str
    choices: [present, absent]
    default: present
notes:
  - The account-wide global ruleset (C(/firewall-rulesets/global)) is not managed by this module and never matched by name.
  - Lambda Cloud documents that its account-wide firewall rules do not apply in C(us-south-1); check its current documentation
    before relying on a ruleset there.
seealso:
  - module: sophia.lambda_k3s.lambda_instance
"""

EXAMPLES = r"""
- name: Allow SSH and the Kubernetes API from the office only
  sophia.lambda_k3s.lambda_firewall_ruleset:
    name: demo-k3s-us-east-1
    region: us-east-1
    rules:
      - protocol: tcp
        port_range: [22, 22]
        source_network: 203.0.113.0/24
        description: SSH from the office
      - protocol: tcp
        port_range: [6443, 6443]
        source_network: 203.0.113.0/24
        description: Kubernetes API from the office
      - protocol: icmp
        source_network: 0.0.0.0/0
        description: Ping

- name: Also let the members of cluster demo reach each other
  sophia.lambda_k3s.lambda_firewall_ruleset:
    name: demo-k3s-us-east-1
    region: us-east-1
    cluster: demo
    rules:
      - protocol: tcp
        port_range: [22, 22]
        source_network: 203.0.113.0/24
        description: SSH from the office

- name: Delete the ruleset (its instances must be terminated first)
  sophia.lambda_k3s.lambda_firewall_ruleset:
    name: demo-k3s-us-east-1
    region: us-east-1
    state: absent
"""

RETURN = r"""
firewall_ruleset:
  description:
    - The ruleset as stored in Lambda Cloud after the change. Empty when O(state=absent).
    - In check mode a ruleset that would be created has no RV(firewall_ruleset.id), and the rules are those that would be sent.
  returned: always
  type: dict
  contains:
    id:
      description: Lambda Cloud's identifier of the ruleset.
      type: str
      returned: when O(state=present)
      sample: c4d291f47f9d436fa39f58493ce3b50d
    name:
      description: Name of the ruleset.
      type: str
      returned: when O(state=present)
      sample: demo-k3s-us-east-1
    region:
      description: Region code of the ruleset.
      type: str
      returned: when O(state=present)
      sample: us-east-1
    rules:
      description: The inbound rules.
      type: list
      elements: dict
      returned: when O(state=present)
      sample: [{"protocol": "tcp", "port_range": [22, 22], "source_network": "203.0.113.0/24", "description": "SSH"}]
    instance_ids:
      description: Identifiers of the instances the ruleset is attached to.
      type: list
      elements: str
      returned: when O(state=present)
      sample: ["0920582c7ff041399e34823a0be62549"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.firewall import (
    GLOBAL_RULESET_ID,
    member_rules,
    same_rules,
    sorted_rules,
    validate_rules,
    without_duplicates,
)
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import AmbiguousRequestError, LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.module_support import (
    client_for,
    fail_for,
    lambda_argument_spec,
    membership_argument_spec,
    membership_for,
    snapshot_argument_spec,
)

MAX_NAME_LENGTH = 64
IN_USE_CODE = "firewall-rulesets/firewall-ruleset-in-use"


def region_of(ruleset: dict) -> str:
    """The region code whether the API sends a Region object or a bare string."""
    region = ruleset.get("region")
    return str(region.get("name") or "") if isinstance(region, dict) else str(region or "")


def public_view(ruleset: dict) -> dict:
    return {
        "id": ruleset.get("id"),
        "name": ruleset.get("name"),
        "region": region_of(ruleset),
        "rules": list(ruleset.get("rules") or []),
        "instance_ids": list(ruleset.get("instance_ids") or []),
    }


def diff_view(ruleset: dict | None) -> dict:
    if not ruleset:
        return {}
    return {"name": ruleset.get("name"), "region": region_of(ruleset), "rules": sorted_rules(ruleset.get("rules"))}


class RulesetManager:
    """Brings the rulesets called ``name`` in ``region`` to the requested state."""

    def __init__(self, module: AnsibleModule, client, membership) -> None:
        self.module = module
        self.client = client
        self.name = module.params["name"]
        self.region = module.params["region"]
        self.membership = membership
        self.changed = False
        # What an earlier step read (lambda_cluster_plan's snapshot, or the rulesets an earlier pass returned).
        self._snapshot = module.params["snapshot"] or {}

    def matching(self, read: bool = False) -> list:
        """The rulesets with this name in this region: from the snapshot, unless it has none or ``read`` asks for the API's."""
        rulesets = self._snapshot.get("rulesets")
        if read or rulesets is None:
            rulesets = self.client.list_firewall_rulesets()
        return [ruleset for ruleset in rulesets
                if ruleset.get("id") != GLOBAL_RULESET_ID and ruleset.get("name") == self.name and region_of(ruleset) == self.region]

    def desired_rules(self, rules: list) -> list:
        if self.membership.chosen:
            instances = self._snapshot.get("instances")
            rules = rules + member_rules(self.client.list_instances() if instances is None else instances, self.membership)
        return without_duplicates(rules)

    def present(self, stored: list, rules: list) -> dict:
        if len(stored) > 1:
            self.module.fail_json(msg="%d firewall rulesets are named %r in %s (ids %s); delete the extras first."
                                      % (len(stored), self.name, self.region, ", ".join(str(r.get("id")) for r in stored)))
        if not stored:
            return self.create(rules)
        current = stored[0]
        if same_rules(current.get("rules"), rules):
            return current
        self.changed = True
        if self.module.check_mode:
            return dict(current, rules=rules)
        return self.client.update_firewall_ruleset(current["id"], rules=rules)

    def create(self, rules: list) -> dict:
        self.changed = True
        if self.module.check_mode:
            return {"id": None, "name": self.name, "region": self.region, "rules": rules, "instance_ids": []}
        try:
            return self.client.create_firewall_ruleset(self.name, self.region, rules)
        except AmbiguousRequestError as error:
            # The answer was lost; the ruleset may exist now. Read back instead of creating a twin.
            created = self.matching(read=True)
            if len(created) == 1:
                if same_rules(created[0].get("rules"), rules):
                    return created[0]
                return self.client.update_firewall_ruleset(created[0]["id"], rules=rules)
            found = "%d rulesets with that name exist now (ids %s)" % (len(created), ", ".join(str(r.get("id")) for r in created)) \
                if created else "no ruleset with that name exists now, so it was not created; run again"
            fail_for(self.module, LambdaAPIError("%s Looking for %r in %s: %s." % (error.message, self.name, self.region, found),
                                                 code=error.code, status=error.status), changed=bool(created))
        return {}

    def absent(self, stored: list) -> None:
        for ruleset in stored:
            self.changed = True
            if self.module.check_mode:
                continue
            try:
                self.client.delete_firewall_ruleset(ruleset["id"])
            except LambdaAPIError as error:
                if error.code != IN_USE_CODE:
                    raise
                self.module.fail_json(msg=self.in_use_message(ruleset), error_code=error.code, http_status=error.status,
                                      instance_ids=list(ruleset.get("instance_ids") or []), changed=self.changed)

    def in_use_message(self, ruleset: dict) -> str:
        attached = list(ruleset.get("instance_ids") or [])
        try:
            by_id = {instance.get("id"): instance for instance in self.client.list_instances()}
        except LambdaAPIError:
            by_id = {}
        described = []
        for instance_id in attached:
            instance = by_id.get(instance_id) or {}
            described.append("%s (%s, %s)" % (instance.get("name") or "unnamed", instance_id, instance.get("status", "status unknown")))
        holders = ", ".join(described) if described else "instances the API did not list"
        return ("Firewall ruleset %r in %s is still attached to %s. Lambda Cloud detaches a ruleset only when its instances are "
                "terminated: terminate them (and wait until they are gone), then delete the ruleset." % (self.name, self.region, holders))


def argument_spec() -> dict:
    rule_options = dict(
        protocol=dict(type="str", required=True, choices=["tcp", "udp", "icmp", "all"]),
        port_range=dict(type="list", elements="int"),
        source_network=dict(type="str", required=True),
        description=dict(type="str", default=""),
    )
    return lambda_argument_spec(
        name=dict(type="str", required=True),
        region=dict(type="str", required=True),
        rules=dict(type="list", elements="dict", options=rule_options),
        cluster=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        snapshot=snapshot_argument_spec(),
        **membership_argument_spec(),
    )


def checked_rules(module: AnsibleModule) -> list:
    """Fail before any API call on a bad name, region or rule; return the rules in canonical form."""
    name = module.params["name"]
    if not name or not name.strip() or len(name) > MAX_NAME_LENGTH:
        module.fail_json(msg="name must be 1 to %d characters long (got %d)." % (MAX_NAME_LENGTH, len(name or "")))
    if not module.params["region"].strip():
        module.fail_json(msg="region must be a region code such as us-east-1.")
    if module.params["state"] != "present":
        return []
    rules, errors = validate_rules(module.params["rules"])
    if errors:
        module.fail_json(msg="Invalid firewall rules, nothing was changed: " + "; ".join(errors), rule_errors=errors)
    return rules


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), required_if=[("state", "present", ("rules",))], supports_check_mode=True)
    rules = checked_rules(module)
    manager = RulesetManager(module, client_for(module), membership_for(module))
    after = None
    stored = []
    try:
        stored = manager.matching()
        if module.params["state"] == "present":
            after = manager.present(stored, manager.desired_rules(rules))
        else:
            manager.absent(stored)
    except LambdaAPIError as error:
        fail_for(module, error, changed=manager.changed)
    result = {"changed": manager.changed, "firewall_ruleset": public_view(after) if after else {}}
    if module._diff:
        result["diff"] = {"before": diff_view(stored[0] if stored else None), "after": diff_view(after)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
