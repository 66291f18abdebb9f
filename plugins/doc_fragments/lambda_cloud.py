# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Connection and authentication options shared by every Lambda Cloud module.
    DOCUMENTATION = r"""
options:
  api_key:
    description:
      - Lambda Cloud API key, sent as a Bearer token.
      - If not set, the value of the E(LAMBDA_API_KEY) environment variable is used, and without that the content of the
        file the E(LAMBDA_API_KEY_FILE) environment variable names (only a path then reaches the environment, which tools
        such as ansible-runner record in their artifacts).
      - That file must be private, like an SSH private key; one that group or others may read, or that another user owns, is
        refused with the C(chmod) that fixes it.
      - The key is never logged or returned.
    type: str
  api_url:
    description:
      - Base URL of the Lambda Cloud API.
      - If not set, the value of the E(LAMBDA_API_URL) environment variable is used, then the default.
      - Must be an C(https://) address; plain C(http://) is accepted only for this machine (a local emulator), since the key travels in a header.
    type: str
    default: https://cloud.lambda.ai/api/v1
  timeout:
    description:
      - Seconds to wait for each HTTP response (and for the connection to be made).
    type: float
    default: 30
  validate_certs:
    description:
      - Verify the API's TLS certificate. Only disable it for a test endpoint you control.
    type: bool
    default: true
  max_retries:
    description:
      - How many times a request is retried after HTTP 429, a 5xx answer, a C(provider/*) error, an answer that did not come
        within O(timeout) or a connection dropped before the answer.
      - Waits grow exponentially with jitter and honour C(Retry-After); a request is not retried once two minutes have passed.
      - Requests that create something are retried only when the API certainly did not act on them.
      - Each retry is announced in a warning that says what failed, which attempt it was and how long the wait is, and the
        final error says how many attempts were made over how long.
    type: int
    default: 5
  connect_retries:
    description:
      - How many times a request is retried when no connection to the API could be made at all (connection refused, host name
        not resolved, network unreachable, no answer to the connection attempt).
      - That usually means a wrong O(api_url) or a network outage, so it gives up sooner than O(max_retries).
    type: int
    default: 2
  retry_max_delay:
    description:
      - Longest wait in seconds between two retries.
    type: float
    default: 30
  request_interval:
    description:
      - Seconds kept between two API requests from this controller to the same O(api_url), counted across every task and
        host running at the same time, so parallel hosts queue for Lambda's limit of about one request per second instead of
        meeting HTTP 429.
      - If not set, the value of the E(LAMBDA_REQUEST_INTERVAL) environment variable is used, then the default.
      - The default leaves a tenth of a second of room, since requests sent exactly one second apart can arrive closer.
      - V(0) turns the pacing off.
    type: float
    default: 1.1
notes:
  - >-
    These modules call the Lambda Cloud API from the host they run on; run them on C(localhost)
    (or delegate them to C(localhost)) so the API key stays on the controller.
"""

    # Every module is in the action group meta/runtime.yml defines.
    ACTION_GROUP = r"""
attributes:
  action_group:
    description: Use C(group/sophia.lambda_k3s.lambda_cloud) in C(module_defaults) to set the API options once.
    support: full
    membership:
      - sophia.lambda_k3s.lambda_cloud
"""

    # Members of a cluster beyond its k3s-cluster tag, for modules that take a cluster.
    MEMBERSHIP = r"""
options:
  member_names:
    description:
      - Names of instances that are members of the cluster although they carry no C(k3s-cluster) tag, for instances
        launched by hand (Lambda Cloud cannot tag an instance after its launch), for example V([sophia-control, sophia-ai-core]).
      - An instance tagged for another cluster is never a member through its name.
    type: list
    elements: str
  member_name_pattern:
    description:
      - Python regular expression that makes an untagged instance a member of the cluster when it matches its B(whole) name,
        for example V(sophia-.*).
      - An instance tagged for another cluster is never a member through its name.
    type: str
"""

    # What an earlier step read, for modules that would otherwise read it again.
    SNAPSHOT = r"""
options:
  snapshot:
    description:
      - What an earlier step of the same run read from the API, usually RV(sophia.lambda_k3s.lambda_cluster_plan#module:snapshot).
        The module uses the parts it needs from it instead of reading them again; a part that is missing is read as usual.
      - Only give what was read in this run, from the same account. Instances launched or rulesets changed since then by something
        else than this run are not seen.
    type: dict
    suboptions:
      instances:
        description:
          - Instances as the API lists them (or as P(sophia.lambda_k3s.lambda_instance_info#module) returns them). It must hold every
            instance the module could act on.
        type: list
        elements: dict
      capacity:
        description:
          - For each instance type, the list of regions with capacity, keyed by the type's name.
        type: dict
      rulesets:
        description:
          - The account's firewall rulesets as the API lists them (or as P(sophia.lambda_k3s.lambda_firewall_ruleset#module) returns one).
        type: list
        elements: dict
      read_at:
        description:
          - When RV(sophia.lambda_k3s.lambda_cluster_plan#module:snapshot.instances) were read, in seconds since the epoch.
        type: float
"""
