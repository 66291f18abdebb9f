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
      - Seconds to wait for each HTTP response.
    type: float
    default: 30
  validate_certs:
    description:
      - Verify the API's TLS certificate. Only disable it for a test endpoint you control.
    type: bool
    default: true
  max_retries:
    description:
      - How many times a request is retried after HTTP 429, a 5xx answer, a C(provider/*) error or a network failure.
      - Waits grow exponentially with jitter and honour C(Retry-After).
      - Requests that create something are retried only when the API certainly did not act on them.
    type: int
    default: 5
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
