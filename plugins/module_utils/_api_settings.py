# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: where the Lambda Cloud API client's settings come from, and how they are checked.

The modules, the inventory plugin and inventories/lambda.py take the same options; what they leave
out comes from the environment (LAMBDA_API_KEY or LAMBDA_API_KEY_FILE, LAMBDA_API_URL,
LAMBDA_REQUEST_INTERVAL). The key is checked without ever being echoed.
"""

from __future__ import annotations

import os

from ansible_collections.sophia.lambda_k3s.plugins.module_utils import _http
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_pacing import DEFAULT_REQUEST_INTERVAL, REQUEST_INTERVAL_ENV

DEFAULT_API_URL = "https://cloud.lambda.ai/api/v1"
DEFAULT_TIMEOUT = 30.0
API_KEY_ENV = "LAMBDA_API_KEY"
# A file holding the key, for CI systems that mount secrets as files: only the path reaches the
# environment, which tools such as ansible-runner write into their artifacts.
API_KEY_FILE_ENV = "LAMBDA_API_KEY_FILE"
API_URL_ENV = "LAMBDA_API_URL"


def key_from_environment() -> tuple:
    """(key or None, where it came from): LAMBDA_API_KEY, else the file LAMBDA_API_KEY_FILE names."""
    if os.environ.get(API_KEY_ENV):
        return os.environ[API_KEY_ENV], "the %s environment variable" % API_KEY_ENV
    path = os.environ.get(API_KEY_FILE_ENV)
    if not path:
        return None, "the %s environment variable" % API_KEY_ENV
    return read_key_file(path), "the file %s (named by %s)" % (path, API_KEY_FILE_ENV)


def read_key_file(path: str) -> str:
    """The key in ``path``, refused (like ssh refuses a private key) when another user may read it or owns it."""
    return _http.read_secret_file(path, "The Lambda Cloud API key", API_KEY_FILE_ENV, LambdaAPIError)


def request_interval(options: dict) -> float:
    """request_interval from the options, else LAMBDA_REQUEST_INTERVAL, else the default; a clear error for a bad value."""
    value = option(options, "request_interval", os.environ.get(REQUEST_INTERVAL_ENV) or DEFAULT_REQUEST_INTERVAL)
    try:
        interval = float(value)
    except (TypeError, ValueError):
        interval = -1.0
    if not interval >= 0:  # also rejects NaN
        raise LambdaAPIError("request_interval (or %s) must be a number of seconds, zero or more." % REQUEST_INTERVAL_ENV)
    return interval


# The clients' shared option reader; the Lambda client's modules import it from here.
option = _http.option


def checked_key(api_key: str | None) -> str:
    return _http.checked_secret(api_key, "No Lambda Cloud API key was given: set the api_key option, the %s environment variable, "
                                "or %s to the path of a file holding the key." % (API_KEY_ENV, API_KEY_FILE_ENV),
                                "The Lambda Cloud API key", LambdaAPIError)


def checked_url(api_url: str) -> str:
    """The URL without a trailing slash; https only, except plain http to this machine (a local emulator),
    because the key travels in a header that anyone on the path could read."""
    return _http.checked_url(api_url, "The Lambda Cloud API URL", LambdaAPIError)
