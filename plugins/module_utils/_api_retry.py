# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: when the Lambda Cloud API client tries a request again, and what it says meanwhile.

The policy and the counting are the collection's shared ones (_http.py): two budgets, one for an API
that answers "try again" (HTTP 429, 5xx, provider errors) or answers too slowly (max_retries), one for
an API that cannot be connected to at all (connect_retries). Every retry is announced in one line
that names the Lambda Cloud API, and the error that ends the attempts says how many there were and
how long they took.
"""

from __future__ import annotations

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._http import RetryPolicy
# Re-exported: the Lambda client and its modules take the defaults from here.
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._http import (  # noqa: F401 pylint: disable=unused-import
    DEFAULT_CONNECT_RETRIES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_MAX_DELAY,
    parse_retry_after,
)
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._http import RetryCount as _RetryCount

SERVICE = "Lambda Cloud API"


class RetryCount(_RetryCount):
    """The attempts of one Lambda Cloud API request (its retry lines name the Lambda Cloud API)."""

    def __init__(self, policy: RetryPolicy, started: float, service: str = SERVICE):
        super().__init__(policy, started, service)
