#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lambda_instance
short_description: Launch, terminate or restart one Lambda Cloud instance of a K3s cluster
version_added: 1.0.0
description:
  - Makes sure one Lambda Cloud instance, identified by its O(name) within its O(cluster), is launched, terminated or restarted.
  - The Lambda Cloud API does not require names to be unique; this module does. It matches instances by name among the members
    of the cluster - instances tagged C(k3s-cluster=<cluster>), plus untagged ones named in O(member_names) or matching
    O(member_name_pattern), the rule the inventory plugin uses. Instances that are terminated, terminating or preempted do not count.
  - An untagged instance that merely carries the name is not a member. O(state=present) then fails rather than launch a second
    instance of that name or take over one nobody declared part of the cluster; name it in O(member_names) to adopt it.
  - To launch, the module reads the current capacity from the API and tries (instance type, region) pairs in preference order,
    B(type first) - the first instance type in each region of O(regions) in turn, then the second type, and so on.
    Pairs that the API lists without capacity are skipped; a pair whose launch is refused for lack of capacity (capacity
    taken in the meantime) is followed by the next one.
  - A region or an instance type Lambda Cloud does not know (a typo such as C(us-east1)) fails before anything is launched, with the
    regions or types it knows.
  - Given O(snapshot) (what P(sophia.lambda_k3s.lambda_cluster_plan#module) read), the module takes the instances and the capacity
    from it instead of reading them, so a playbook launching several nodes does not read the account once per node. It reads the
    instances anyway when this controller launched an instance of that name after the snapshot was read.
  - The API launches one instance per call and accepts one launch every 12 seconds. Launches from all tasks and processes
    on the controller that use the same O(api_url) are spaced O(launch_interval) seconds apart.
  - If the answer to a launch request is lost (connection dropped, HTTP 5xx), the module does not blindly retry. It lists the
    instances and adopts the one it launched (same name in the same cluster); it launches again only when no such instance
    exists. An interrupted run therefore never creates a duplicate when it is run again.
  - Runs on the same controller look for the instance and launch it under one lock, so two concurrent runs for the same name
    launch it once. The API offers no conditional launch, so runs on different controllers are not protected against each other.
  - Those locks (one per cluster and name) and the launch spacing live in small private files under
    C($ANSIBLE_LOCAL_TEMP/sophia.lambda_k3s/) on the controller, C(~/.ansible/tmp/sophia.lambda_k3s/) by default; they hold
    no secret. A directory another user owns or may write to, or a file replaced by a symbolic link, is refused, and a lock
    still held after 15 minutes ends the wait with an error.
author:
  - sophia.lambda_k3s contributors (@sophia-ai)
extends_documentation_fragment:
  - sophia.lambda_k3s.lambda_cloud
  - sophia.lambda_k3s.lambda_cloud.membership
  - sophia.lambda_k3s.lambda_cloud.snapshot
  - sophia.lambda_k3s.lambda_cloud.action_group
attributes:
  check_mode:
    description: Can run in check mode and predict the change (including the chosen region and type) without making it.
    support: full
  diff_mode:
    description: Shows the name, status, region and instance type before and after the change.
    support: full
options:
  name:
    description:
      - Name of the instance. It must be unique within the O(cluster) (or within the account when O(cluster) is not set).
      - At most 64 characters.
      - Required with O(state=present); with O(state=absent) or O(state=restarted), O(instance_id) may identify the instance instead.
    type: str
  instance_id:
    description:
      - Id of the instance to terminate or restart, for instances that have no name or share one (O(name) is then only a label).
      - With O(cluster) (or O(member_names), O(member_name_pattern)) set, an instance that is not a member of that cluster is refused.
      - Not used with O(state=present), which identifies instances by O(name).
    type: str
  cluster:
    description:
      - Name of the K3s cluster the instance belongs to.
      - Set as the C(k3s-cluster) tag at launch, and used to find the instance among the cluster's members.
      - When neither O(cluster), O(member_names) nor O(member_name_pattern) is set, the instance is matched by name across the
        whole account and gets no C(k3s-cluster) tag.
    type: str
  role:
    description:
      - K3s role of the instance, set as the C(k3s-role) tag at launch.
      - Not changed on an instance that already exists.
    type: str
    choices: [server, agent]
  state:
    description:
      - V(present) launches the instance unless a live instance with that name exists in the cluster.
        An existing instance is never modified, even if its type or region differs from the options (a warning says so).
      - V(absent) terminates the instance if it exists.
      - V(restarted) restarts the existing instance; it fails if there is none.
    type: str
    choices: [present, absent, restarted]
    default: present
  regions:
    description:
      - Regions to launch in, most preferred first.
      - Required with O(state=present) unless the instance already exists.
    type: list
    elements: str
  instance_types:
    description:
      - Instance types to launch, most preferred first, for example V(gpu_1x_a10).
      - Each type is tried in every region of O(regions) before the next type.
      - Required with O(state=present) unless the instance already exists.
    type: list
    elements: str
  ssh_key_name:
    description:
      - Name of the SSH key (already registered with Lambda Cloud) to install on the instance. The API takes exactly one.
      - Required with O(state=present) unless the instance already exists.
    type: str
  file_system_names:
    description:
      - Names of file systems to mount at their default mount point.
      - File systems live in one region, so they restrict the launch to that region.
    type: list
    elements: str
  file_system_mounts:
    description:
      - File systems to mount at a chosen mount point.
    type: list
    elements: dict
    suboptions:
      mount_point:
        description:
          - Absolute path on the instance; it must start with C(/home), C(/lambda/nfs) or C(/data).
        type: str
        required: true
      file_system_id:
        description:
          - Id of the file system.
        type: str
        required: true
  image:
    description:
      - Machine image to launch. Defaults to the latest Lambda Stack image.
    type: dict
    suboptions:
      id:
        description:
          - Id of the image.
        type: str
      family:
        description:
          - Image family, for example V(lambda-stack-24-04). The latest image of the family is used.
        type: str
  user_data:
    description:
      - Cloud-init user data (plain text, at most 1 MB) passed at launch.
      - It often carries secrets (a K3s join token), so it is never shown, not even in the task's invocation at C(-vvv) or in
        ansible-runner's events; the RV(launch.request) only reports its size.
    type: str
  firewall_ruleset_ids:
    description:
      - Ids of firewall rulesets to attach at launch. They must be in the region the instance launches in.
    type: list
    elements: str
  file_system_names_by_region:
    description:
      - File systems to mount when the instance lands in a given region, as a mapping of region name to a file system name or a list.
      - Unlike O(file_system_names), it does not narrow O(regions); an instance in a region without an entry mounts none.
    type: dict
  firewall_ruleset_ids_by_region:
    description:
      - Firewall rulesets to attach at launch, per region, as a mapping of region name to a ruleset id or a list of ids.
      - Rulesets belong to one region and attach only at launch; with this mapping the instance can still go to whichever
        of O(regions) has capacity and get that region's rules. Only the regions in the mapping are tried.
    type: dict
  tags:
    description:
      - Extra tags to set at launch, merged with the C(k3s-cluster) and C(k3s-role) tags (which cannot be set here).
      - Keys must match C(^[a-z][a-z0-9-:]+$) and be at most 55 characters; values at most 128 characters.
      - Not changed on an instance that already exists.
    type: dict
  hostname:
    description:
      - Hostname written to C(/etc/hostname) on the instance. Lower case letters, digits and C(-), at most 63 characters.
      - When not set, the API assigns a hostname derived from the IP address.
    type: str
  wait:
    description:
      - Wait until the instance is active (V(present), V(restarted)) or terminated (V(absent)).
      - After a launch with O(wait=false), the module returns at once without reading the instance back, so RV(instance) holds only
        its C(id) and C(name) (RV(launch) says where it went); poll P(sophia.lambda_k3s.lambda_instance_info#module) once for
        several instances.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait when O(wait=true).
    type: int
    default: 1200
  poll_interval:
    description:
      - Seconds between two looks at the instance list while waiting. Each look is one API request.
    type: float
    default: 10
  launch_interval:
    description:
      - Minimum number of seconds between two launch requests from this controller to the same O(api_url).
      - Lambda Cloud accepts one launch every 12 seconds; lower it only for a test endpoint.
    type: float
    default: 12
notes:
  - The Jupyter token and URL of the instance are never returned.
  - On failure the result also has C(error_code) (the API's error code), C(http_status) and C(account_wide), true when the error
    concerns the whole account (quota, billing address, inactive account, API key), so that a loop launching several instances
    can stop at the first one (C(loop_control.break_when)), as C(provision.yml) does.
seealso:
  - module: sophia.lambda_k3s.lambda_instance_info
  - module: sophia.lambda_k3s.lambda_instance_type_info
"""

EXAMPLES = r"""
- name: Launch a K3s server, preferring an A10 anywhere over an A100
  sophia.lambda_k3s.lambda_instance:
    name: demo-server-1
    cluster: demo
    role: server
    regions: [us-east-1, us-west-1]
    instance_types: [gpu_1x_a10, gpu_1x_a100]
    ssh_key_name: demo-key
    firewall_ruleset_ids: []
    tags:
      owner: platform-team
  register: server

- name: Launch three agents, one after the other (launches are spaced 12 s apart)
  sophia.lambda_k3s.lambda_instance:
    name: "demo-agent-{{ item }}"
    cluster: demo
    role: agent
    regions: [us-east-1, us-west-1, us-south-1]
    instance_types: [gpu_1x_a10]
    ssh_key_name: demo-key
    image:
      family: lambda-stack-24-04
  loop: [1, 2, 3]

- name: Set the API key once for every Lambda Cloud module
  module_defaults:
    group/sophia.lambda_k3s.lambda_cloud:
      api_key: "{{ lambda_api_key }}"
  block:
    - name: Restart an agent
      sophia.lambda_k3s.lambda_instance:
        name: demo-agent-1
        cluster: demo
        state: restarted

    - name: Terminate an agent and wait until it is gone
      sophia.lambda_k3s.lambda_instance:
        name: demo-agent-3
        cluster: demo
        state: absent
"""

RETURN = r"""
instance:
  description:
    - The instance as the Lambda Cloud API describes it, without C(jupyter_token) and C(jupyter_url).
    - Empty when there is no instance (after V(absent)), or in check mode when the instance would be launched.
    - Only C(id) and C(name) right after a launch with O(wait=false).
    - C(ip), C(private_ip) and C(hostname) are missing while an existing instance boots (with O(wait=false)).
  returned: always
  type: dict
  sample:
    id: 0920582c7ff041399e34823a0be62549
    name: demo-server-1
    status: active
    ip: 198.51.100.2
    private_ip: 10.0.2.100
    hostname: demo-server-1
    region: {name: us-east-1, description: "Virginia, USA"}
    instance_type:
      name: gpu_1x_a10
      description: 1x A10 (24 GB PCIe)
      gpu_description: A10 (24 GB PCIe)
      price_cents_per_hour: 75
      specs: {vcpus: 30, memory_gib: 200, storage_gib: 1400, gpus: 1}
    ssh_key_names: [demo-key]
    file_system_names: []
    tags:
      - {key: k3s-cluster, value: demo}
      - {key: k3s-role, value: server}
launch:
  description:
    - What was launched (or, in check mode, would be launched).
  returned: when the module launched an instance or would launch one
  type: dict
  contains:
    region:
      description: Region chosen.
      type: str
      sample: us-east-1
    instance_type:
      description: Instance type chosen.
      type: str
      sample: gpu_1x_a10
    skipped:
      description: Pairs, in the form C(<type> in <region>), whose launch was refused for lack of capacity before this one succeeded.
      type: list
      elements: str
      sample: [gpu_1x_a10 in us-west-1]
    adopted:
      description:
        - True when the answer to the launch request was lost and the module found the launched instance by its name.
      type: bool
      sample: false
    request:
      description: The launch request sent (or that would be sent); C(user_data) is replaced by its size.
      type: dict
terminated_ids:
  description: Ids of the instances terminated (or, in check mode, that would be terminated).
  returned: when O(state=absent)
  type: list
  elements: str
  sample: [0920582c7ff041399e34823a0be62549]
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import GONE_STATUSES, lifecycle
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import AmbiguousRequestError, LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_pacing import DEFAULT_LAUNCH_INTERVAL
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._instance_facts import diff_view, without_secrets
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._instance_match import (
    DuplicateInstancesError,
    dying_ids,
    match_by_id,
    namesake_message,
    not_as_requested,
    single_match,
    untagged_namesakes,
)
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._launch_request import build_launch_request, launch_summary, option_problems, per_region
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._placement import (
    INSUFFICIENT_CAPACITY,
    capacity_by_type,
    describe_no_capacity,
    describe_unknown,
    placement_candidates,
    regions_for_file_systems,
)
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.module_support import (
    client_for,
    fail_for,
    lambda_argument_spec,
    membership_argument_spec,
    membership_for,
    snapshot_argument_spec,
)

# How often one placement is launched again after its answer was lost and the instance did not
# show up: a few times covers a flaky network, more would hide a real outage.
MAX_LOST_LAUNCHES = 3
# How many times the instance list is read to find an instance whose launch answer was lost.
RECONCILE_LOOKS = 2


class InstanceManager:
    """Brings one named instance to the requested state; every decision comes from the module_utils helpers."""

    def __init__(self, module: AnsibleModule, client, scope):
        self.module = module
        self.client = client
        self.params = module.params
        # With instance_id the id identifies the instance and the name is only a label for messages.
        self.instance_id = self.params.get("instance_id")
        self.name = self.params["name"] or self.instance_id
        # The cluster's members: where the name is looked for, and what an id may point at.
        self.scope = scope
        self.result = {"changed": False, "instance": {}}
        # {region: ruleset ids} from firewall_ruleset_ids_by_region.
        self._rulesets_by_region = per_region(self.params["firewall_ruleset_ids_by_region"])
        # What an earlier step read (lambda_cluster_plan's snapshot): the parts given are not read again.
        self._snapshot = self.params["snapshot"] or {}
        # True once a launch request went out (whatever its answer): the name's lock then records the time.
        self._launch_attempted = False

    # -- states ------------------------------------------------------------------------------

    def run(self) -> dict:
        state = self.params["state"]
        if state == "present":
            self.ensure_present()
            return self.result
        instances = self._instances()
        if self.instance_id:
            try:
                existing, dying = match_by_id(instances, self.instance_id, self.scope)
            except ValueError as error:
                self.module.fail_json(msg="Cannot act on it: %s." % error, changed=False)
        else:
            existing, dying = single_match(instances, self.name, self.scope), dying_ids(instances, self.name, self.scope)
        if state == "absent":
            self.ensure_absent(existing, dying)
        else:
            self.ensure_restarted(existing)
        return self.result

    def ensure_present(self) -> None:
        if self.module.check_mode:
            existing = self._find_existing()
            if existing is None:
                self._plan_launch()
                return
        else:
            # Looking for the instance and launching it happen under one lock, so two runs for the
            # same name on this controller cannot both find it absent and both launch it. The lock file
            # holds the time of the last launch of the name, which makes a snapshot read before it stale.
            with self.client.controller_lock("present", self.scope.cluster, self.name) as lock:
                existing = self._find_existing(launched_since=lock.read_time())
                if existing is None:
                    try:
                        launched_id = self._launch()
                    finally:
                        if self._launch_attempted:
                            lock.write(repr(time.time()))
            if existing is None:
                self._report_launched(launched_id)
                return
        warning = not_as_requested(existing, self.params["instance_types"], self.params["regions"])
        if warning:
            self.module.warn(warning)
        if self.params["wait"] and existing.get("status") != "active" and not self.module.check_mode:
            existing = self._wait_until_active(existing["id"])
        self._set_instance(existing)
        self._set_diff(diff_view(existing, self.name), diff_view(existing, self.name))

    def ensure_absent(self, existing: dict | None, terminating_ids: list) -> None:
        to_wait_for = list(terminating_ids)
        self.result["terminated_ids"] = []
        if existing is not None:
            self.result["terminated_ids"] = [existing["id"]]
            self._set_diff(diff_view(existing, self.name), diff_view(None, self.name))
            if self.module.check_mode:
                self.result["changed"] = True
                self._set_instance(existing)
                return
            self.client.terminate_instances([existing["id"]])
            self.result["changed"] = True
            to_wait_for = [existing["id"]]
        if self.params["wait"] and to_wait_for and not self.module.check_mode:
            self.client.wait_for_instances(to_wait_for, _is_gone, timeout=self.params["wait_timeout"], poll_interval=self.params["poll_interval"])

    def ensure_restarted(self, existing: dict | None) -> None:
        if existing is None:
            self.module.fail_json(msg="Cannot restart: no live Lambda Cloud instance is named %r %s." % (self.name, self._where()))
        if self.module.check_mode:
            self.result["changed"] = True
            self._set_instance(existing)
            return
        if existing.get("status") != "active":
            if not self.params["wait"]:
                self.module.fail_json(msg="Cannot restart instance %s (%s): it is %s, not active. Use wait=true to wait until it is active."
                                      % (self.name, existing["id"], existing.get("status")), changed=False, instance=without_secrets(existing))
            self._wait_until_active(existing["id"])
        self.client.restart_instances([existing["id"]])
        self.result["changed"] = True
        if self.params["wait"]:
            self._set_instance(self._wait_until_active(existing["id"]))
        else:
            self._set_instance(self.client.get_instance(existing["id"]))

    # -- what the module reads, unless it was given ----------------------------------------------

    def _instances(self, launched_since: float = 0.0) -> list:
        """The account's instances: the snapshot's, unless this controller launched the name after the snapshot was read."""
        given = self._snapshot.get("instances")
        if given is not None and launched_since <= (self._snapshot.get("read_at") or 0.0):
            return given
        return self.client.list_instances()

    def _capacity(self) -> dict:
        """{instance type: regions with capacity}: the snapshot's, else from the catalogue."""
        given = self._snapshot.get("capacity")
        return given if given is not None else capacity_by_type(self.client.list_instance_types())

    # -- launching -------------------------------------------------------------------------

    def _find_existing(self, launched_since: float = 0.0) -> dict | None:
        instances = self._instances(launched_since)
        existing = single_match(instances, self.name, self.scope)
        namesakes = untagged_namesakes(instances, self.name, self.scope) if existing is None else []
        if namesakes:
            self.module.fail_json(msg=namesake_message(self.name, namesakes, self.scope), changed=False)
        return existing

    def _placement(self):
        """(regions, capacity by type, candidate placements in preference order) for a launch."""
        self._require_launch_options()
        capacity = self._capacity()
        # A misspelt region or type fails here, before anything is launched, naming what Lambda Cloud knows.
        unknown = describe_unknown(self.params["instance_types"], self.params["regions"], capacity, "asked for by %s" % self.name)
        if unknown:
            self.module.fail_json(msg=" ".join(unknown), changed=False)
        regions = self._launchable_regions()
        return regions, capacity, placement_candidates(self.params["instance_types"], regions, capacity)

    def _plan_launch(self) -> None:
        """Check mode: report the placement a launch would use now."""
        regions, capacity, candidates = self._placement()
        if not candidates:
            self.module.fail_json(msg=describe_no_capacity(self.params["instance_types"], regions, capacity, []), changed=False)
        chosen = candidates[0]
        self.result["changed"] = True
        self._report_launch(chosen, build_launch_request(self.params, chosen), skipped=[], adopted=False)
        self._set_diff(diff_view(None, self.name), {"name": self.name, "status": "booting", "region": chosen.region,
                                                    "instance_type": chosen.instance_type})

    def _launch(self) -> str:
        """Launch at the first placement that has capacity; return the instance id."""
        regions, capacity, candidates = self._placement()
        skipped = []
        for placement in candidates:
            request = build_launch_request(self.params, placement)
            try:
                instance_id, adopted = self._launch_reconciled(request)
            except LambdaAPIError as error:
                if error.code == INSUFFICIENT_CAPACITY:
                    # Someone took the capacity between the catalogue read and the launch.
                    skipped.append(placement)
                    continue
                fail_for(self.module, LambdaAPIError("Launching %s (%s in %s) failed. %s" % (
                    self.name, placement.instance_type, placement.region, error.message), code=error.code, status=error.status),
                    changed=False)
            self.result["changed"] = True
            self._report_launch(placement, request, skipped, adopted)
            return instance_id
        self.module.fail_json(msg=describe_no_capacity(self.params["instance_types"], regions, capacity, skipped), changed=False)

    def _launch_reconciled(self, request: dict):
        """(instance id, adopted): launch once; when the answer is lost, find the instance before launching again."""
        lost = None
        for dummy in range(MAX_LOST_LAUNCHES):
            self._launch_attempted = True
            try:
                return self.client.launch_instance(request), False
            except AmbiguousRequestError as error:
                lost = error
            self.module.warn("The answer to the launch of %s was lost (%s); looking for the instance before launching again."
                             % (self.name, lost.message))
            adopted = self._find_launched()
            if adopted is not None:
                return adopted["id"], True
        raise LambdaAPIError("The answers to %d launches of %s were lost and no instance of that name appeared. "
                             "Run again: the module finds the instance if one was launched. Last error: %s"
                             % (MAX_LOST_LAUNCHES, self.name, lost.message), code=lost.code, status=lost.status)

    def _find_launched(self) -> dict | None:
        """The live instance with our name in our cluster, read back after a lost launch answer.

        Before launching, the module saw no such instance, so one that appears now is ours.
        The list is read twice, a poll interval apart, in case the new instance shows up late.
        """
        for look in range(RECONCILE_LOOKS):
            if look:
                self.module.log("instance %s not listed yet; looking again" % self.name)
                time.sleep(self.params["poll_interval"])
            found = single_match(self.client.list_instances(), self.name, self.scope)
            if found is not None:
                return found
        return None

    def _report_launched(self, instance_id: str) -> None:
        """The result of a launch: the active instance when waiting; otherwise only what is known without another request
        (whoever launches several instances polls one list for all of them)."""
        if self.params["wait"]:
            instance = self._wait_until_active(instance_id)
        else:
            instance = {"id": instance_id, "name": self.name}
        self._set_instance(instance)
        after = diff_view(instance, self.name) if self.params["wait"] else {
            "name": self.name, "status": "booting", "region": self.result["launch"]["region"],
            "instance_type": self.result["launch"]["instance_type"]}
        self._set_diff(diff_view(None, self.name), after)

    def _report_launch(self, placement, request: dict, skipped: list, adopted: bool) -> None:
        self.result["launch"] = {
            "region": placement.region,
            "instance_type": placement.instance_type,
            "skipped": ["%s in %s" % (item.instance_type, item.region) for item in skipped],
            "adopted": adopted,
            "request": launch_summary(request),
        }

    # -- options -----------------------------------------------------------------------------

    def _require_launch_options(self) -> None:
        missing = [option for option in ("regions", "instance_types", "ssh_key_name") if not self.params[option]]
        if missing:
            self.module.fail_json(msg="No live instance is named %r %s, so it must be launched, which needs %s."
                                  % (self.name, self._where(), ", ".join(missing)))

    def _launchable_regions(self) -> list:
        """The requested regions, narrowed to those firewall_ruleset_ids_by_region covers and to the one
        holding the requested file systems."""
        return self._regions_with_rulesets(self._regions_with_file_systems(list(self.params["regions"])))

    def _regions_with_rulesets(self, regions: list) -> list:
        if self.params["firewall_ruleset_ids_by_region"] is None:
            return regions
        narrowed = [region for region in regions if region in self._rulesets_by_region]
        if not narrowed:
            self.module.fail_json(msg="Cannot launch %s: firewall_ruleset_ids_by_region names rulesets for %s only, none of the regions %s."
                                  % (self.name, ", ".join(sorted(self._rulesets_by_region)) or "no region", ", ".join(regions)),
                                  changed=False)
        return narrowed

    def _regions_with_file_systems(self, regions: list) -> list:
        mounts = self.params["file_system_mounts"] or []
        if not self.params["file_system_names"] and not mounts:
            return regions
        holding, problems = regions_for_file_systems(self.client.list_file_systems(), self.params["file_system_names"],
                                                     [mount["file_system_id"] for mount in mounts])
        if problems:
            self.module.fail_json(msg="Cannot launch %s: %s." % (self.name, "; ".join(problems)), changed=False)
        narrowed = [region for region in regions if region in holding]
        if not narrowed:
            self.module.fail_json(msg="Cannot launch %s: its file systems are in %s, which is not among the regions %s."
                                  % (self.name, ", ".join(sorted(holding)), ", ".join(regions)), changed=False)
        return narrowed

    # -- waiting and results -----------------------------------------------------------------

    def _wait_until_active(self, instance_id: str) -> dict:
        self.result["instance"] = {"id": instance_id}
        found = self.client.wait_for_instances([instance_id], _is_settled, timeout=self.params["wait_timeout"],
                                               poll_interval=self.params["poll_interval"])[0]
        if found is None or found.get("status") != "active":
            self.module.fail_json(msg="Instance %s (%s) became %s while waiting for it to become active."
                                  % (self.name, instance_id, (found or {}).get("status", "gone")),
                                  changed=self.result["changed"], instance=without_secrets(found))
        return found

    def _where(self) -> str:
        return "among %s" % self.scope.describe() if self.scope.chosen else "in the account"

    def _set_instance(self, instance: dict | None) -> None:
        self.result["instance"] = without_secrets(instance)

    def _set_diff(self, before: dict, after: dict) -> None:
        if self.module._diff:
            self.result["diff"] = {"before": before, "after": after}


def _is_settled(instance: dict | None) -> bool:
    """Stop waiting for 'active' once the instance is active, or can never become active."""
    return instance is not None and (instance.get("status") == "active" or instance.get("status") in GONE_STATUSES)


def _is_gone(instance: dict | None) -> bool:
    return lifecycle(instance) == "gone"


def main() -> None:
    argument_spec = lambda_argument_spec(
        name=dict(type="str"),
        instance_id=dict(type="str"),
        cluster=dict(type="str"),
        role=dict(type="str", choices=["server", "agent"]),
        state=dict(type="str", default="present", choices=["present", "absent", "restarted"]),
        regions=dict(type="list", elements="str"),
        instance_types=dict(type="list", elements="str"),
        ssh_key_name=dict(type="str", no_log=False),
        file_system_names=dict(type="list", elements="str"),
        file_system_mounts=dict(type="list", elements="dict", options=dict(
            mount_point=dict(type="str", required=True),
            file_system_id=dict(type="str", required=True),
        )),
        image=dict(type="dict", options=dict(
            id=dict(type="str"),
            family=dict(type="str"),
        ), mutually_exclusive=[("id", "family")], required_one_of=[("id", "family")]),
        # Cloud-init is where join tokens go: never shown, not even in the invocation at -vvv.
        user_data=dict(type="str", no_log=True),
        firewall_ruleset_ids=dict(type="list", elements="str"),
        firewall_ruleset_ids_by_region=dict(type="dict"),
        file_system_names_by_region=dict(type="dict"),
        tags=dict(type="dict"),
        hostname=dict(type="str"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1200),
        poll_interval=dict(type="float", default=10),
        launch_interval=dict(type="float", default=DEFAULT_LAUNCH_INTERVAL),
        snapshot=snapshot_argument_spec(),
        **membership_argument_spec(),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           # instance_id only identifies an instance to terminate or restart: a launch needs a name.
                           required_if=[("state", "present", ("name",))], required_one_of=[("name", "instance_id")])
    problems = option_problems(module.params)
    if problems:
        module.fail_json(msg="Invalid options: %s." % "; ".join(problems))
    scope = membership_for(module)

    client = client_for(module, launch_interval=module.params["launch_interval"])
    manager = InstanceManager(module, client, scope)
    try:
        result = manager.run()
    except DuplicateInstancesError as error:
        module.fail_json(msg=str(error), instance_ids=error.instance_ids, changed=False)
    except LambdaAPIError as error:
        fail_for(module, error, changed=manager.result["changed"], instance=manager.result["instance"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
