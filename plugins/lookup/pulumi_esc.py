# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: pulumi_esc
author: sophia.lambda_k3s contributors (@sophia-ai)
version_added: 1.0.0
short_description: Values and secrets of a Pulumi ESC environment
description:
  - Opens a Pulumi ESC environment through Pulumi Cloud's REST API (one C(open) and one read, as the C(esc env open) command
    does) and returns its values, or the value at one path. Secrets arrive decrypted - use the result only in tasks with
    C(no_log), or in the collection's secret variables, which never print them.
  - No C(esc) or C(pulumi) binary is needed. The access token needs the permission to open the environment.
  - Transient failures (HTTP 429, 5xx, a dropped connection) are retried with exponential backoff, each retry announced as a
    warning; an error is one sentence naming the environment and what to do. Neither the token nor a value ever appears in
    a message or at any verbosity.
options:
  _terms:
    description:
      - Environments as C(<organization>/<project>/<environment>), optionally pinned with C(@<revision>) or C(@<tag>).
    type: list
    elements: str
    required: true
  path:
    description:
      - A Pulumi path (C(app.apiToken), C(db.hosts[0]), C(app["key.with.dots"])) - the value there is returned instead of
        the whole environment. A missing path fails naming the keys that exist where it stops.
    type: str
  token:
    description:
      - The Pulumi access token. Prefer the environment variable, or a file - a token given as a variable can end up in
        places that record variables.
    type: str
    env:
      - name: PULUMI_ACCESS_TOKEN
  token_file:
    description:
      - A file holding the access token, readable by its owner only (for runners that record their environment, such as
        ansible-runner). Used when no token is given.
    type: path
    env:
      - name: PULUMI_ACCESS_TOKEN_FILE
  api_url:
    description:
      - Pulumi Cloud's API address; a self-hosted Pulumi Cloud's own. C(https://) only (plain C(http://) only to this machine).
    type: str
    default: https://api.pulumi.com
    env:
      - name: PULUMI_BACKEND_URL
  duration:
    description: How long the opened session lives, as a Go duration (C(10m)); Pulumi's default (one hour) when empty.
    type: str
  timeout:
    description: Seconds to wait for each answer.
    type: float
    default: 30
  validate_certs:
    description: Check the API's TLS certificate. Turn off only for a test endpoint you control.
    type: bool
    default: true
  max_retries:
    description: Retries of a request that failed with HTTP 429, 5xx or a timeout.
    type: int
    default: 5
  connect_retries:
    description: Retries of a request that could not connect at all (a wrong address, an outage).
    type: int
    default: 2
  retry_max_delay:
    description: Longest wait between two attempts, in seconds.
    type: float
    default: 30
notes:
  - Every environment costs two API calls (Pulumi's free tier counts API calls); read an environment once per play, for example
    into a fact with C(no_log), rather than in every task.
  - External Secrets Operator's Pulumi provider is the alternative when Secrets must follow rotations continuously; this lookup
    applies values when a play runs.
seealso:
  - name: Pulumi ESC REST API
    link: https://www.pulumi.com/docs/reference/cloud-rest-api/environments/
    description: The open and read calls this lookup makes.
"""

EXAMPLES = r"""
- name: Read the platform's secrets once (PULUMI_ACCESS_TOKEN or PULUMI_ACCESS_TOKEN_FILE in the environment)
  ansible.builtin.set_fact:
    platform_env: "{{ lookup('sophia.lambda_k3s.pulumi_esc', 'sophia/platform/prod') }}"
  no_log: true

- name: One value, at a tagged version of the environment
  ansible.builtin.set_fact:
    api_token: "{{ lookup('sophia.lambda_k3s.pulumi_esc', 'sophia/platform/prod@stable', path='backend.apiToken') }}"
  no_log: true

# The collection's secret mapping reads the environment for you (docs/addons.md):
# lambda_k3s_esc_environment: sophia/platform/prod
# platform_release_secret_paths:
#   sophia-platform-secrets:
#     API_TOKEN: backend.apiToken
"""

RETURN = r"""
_raw:
  description:
    - For each environment, its values as a dictionary (the evaluated C(values) of the environment, secrets in clear), or the
      value at O(path).
  type: list
  elements: raw
"""

from ansible.errors import AnsibleLookupError  # noqa: E402
from ansible.plugins.lookup import LookupBase  # noqa: E402
from ansible.utils.display import Display  # noqa: E402

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.pulumi_esc import (  # noqa: E402
    EnvironmentRef,
    EscError,
    client_from_options,
    plain_values,
    value_at,
)

display = Display()


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        names = ("token", "token_file", "api_url", "timeout", "validate_certs", "max_retries", "connect_retries", "retry_max_delay")
        options = {name: self.get_option(name) for name in names}
        path = self.get_option("path")
        results = []
        try:
            environments = [EnvironmentRef(term) for term in terms]
            client = client_from_options(options, log=display.vvv, notify=display.warning)
            for environment in environments:
                where = "The Pulumi ESC environment %s" % environment
                values, secret_paths = plain_values(client.open_and_read(environment, self.get_option("duration")), where)
                # Only names and counts at -vvv: which paths are secret is not secret, their values are.
                display.vvv("Pulumi ESC: %s opened, %d top-level keys, %d secret values" % (environment, len(values), len(secret_paths)))
                results.append(value_at(values, path, where) if path else values)
        except EscError as error:
            raise AnsibleLookupError(str(error)) from None
        return results
