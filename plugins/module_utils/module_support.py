# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every Lambda Cloud module shares: the auth argument spec, the client, error reporting."""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.cluster import Membership, MembershipError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_pacing import DEFAULT_REQUEST_INTERVAL, REQUEST_INTERVAL_ENV
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_retry import DEFAULT_CONNECT_RETRIES, DEFAULT_MAX_RETRIES, DEFAULT_RETRY_MAX_DELAY
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_settings import API_KEY_ENV, API_URL_ENV, DEFAULT_API_URL, DEFAULT_TIMEOUT
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.lambda_api import LambdaClient, client_from_options


def lambda_argument_spec(**extra) -> dict:
    """The options of the sophia.lambda_k3s.lambda_cloud doc fragment, plus the module's own."""
    spec = dict(
        api_key=dict(type="str", no_log=True, fallback=(env_fallback, [API_KEY_ENV])),
        api_url=dict(type="str", default=DEFAULT_API_URL, fallback=(env_fallback, [API_URL_ENV])),
        timeout=dict(type="float", default=DEFAULT_TIMEOUT),
        validate_certs=dict(type="bool", default=True),
        max_retries=dict(type="int", default=DEFAULT_MAX_RETRIES),
        connect_retries=dict(type="int", default=DEFAULT_CONNECT_RETRIES),
        retry_max_delay=dict(type="float", default=DEFAULT_RETRY_MAX_DELAY),
        request_interval=dict(type="float", default=DEFAULT_REQUEST_INTERVAL, fallback=(env_fallback, [REQUEST_INTERVAL_ENV])),
    )
    spec.update(extra)
    return spec


def membership_argument_spec() -> dict:
    """The options of the sophia.lambda_k3s.lambda_cloud.membership doc fragment."""
    return dict(
        member_names=dict(type="list", elements="str"),
        member_name_pattern=dict(type="str"),
    )


def snapshot_argument_spec() -> dict:
    """The snapshot option of the sophia.lambda_k3s.lambda_cloud.snapshot doc fragment."""
    return dict(type="dict", options=dict(
        instances=dict(type="list", elements="dict"),
        capacity=dict(type="dict"),
        rulesets=dict(type="list", elements="dict"),
        read_at=dict(type="float"),
    ))


def membership_for(module) -> Membership:
    """The cluster named by the module's cluster, member_names and member_name_pattern; fails before any API call."""
    try:
        return Membership(module.params.get("cluster"), module.params.get("member_names"), module.params.get("member_name_pattern"))
    except MembershipError as error:
        module.fail_json(msg=str(error))


def client_for(module, **overrides) -> LambdaClient:
    """A client configured from the module's parameters; fails the module with a clear message."""
    options = dict(module.params)
    options.update(overrides)
    try:
        # Retries are announced as warnings, the one channel a module has to every verbosity.
        return client_from_options(options, notify=module.warn,
                                   key_source="the api_key option or the %s environment variable" % API_KEY_ENV)
    except LambdaAPIError as error:
        fail_for(module, error)


def fail_for(module, error: LambdaAPIError, **result) -> None:
    """Fail the module with the error's one-line explanation, its machine-readable code, and whether it
    concerns the whole account (so that a playbook launching several instances stops at the first)."""
    module.fail_json(msg=str(error), error_code=error.code, http_status=error.status, account_wide=error.account_wide, **result)
