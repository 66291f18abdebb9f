"""When the client retries, and what it says meanwhile (_api_retry)."""

from __future__ import annotations

import pytest

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_retry import RetryCount, RetryPolicy, parse_retry_after

REFUSED = LambdaAPIError("Could not reach the Lambda Cloud API at https://cloud.lambda.ai/api/v1: Connection refused.",
                         retryable=True, not_sent=True, reason="Connection refused")
BUSY = LambdaAPIError("Lambda Cloud reported an internal error.", status=503, retryable=True)


@pytest.mark.parametrize(("header", "seconds"), [("3", 3.0), (" 0 ", 0.0), ("-4", 0.0), ("soon", None), ("", None), (None, None),
                                                 ("Thu, 01 Jan 1970 00:01:40 GMT", 40.0)])
def test_parse_retry_after(header, seconds):
    assert parse_retry_after(header, now=60.0) == seconds


def test_retry_policy_rejects_negative_retries():
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)


def test_each_kind_of_failure_has_its_own_budget():
    count = RetryCount(RetryPolicy(max_retries=3, connect_retries=1), started=10.0)
    assert count.failed(REFUSED) == 1 and count.allows_another(REFUSED)
    assert count.failed(BUSY) == 1 and count.allows_another(BUSY)
    assert count.failed(REFUSED) == 2 and not count.allows_another(REFUSED)
    assert count.attempts == 3


def test_a_retry_line_says_what_failed_which_attempt_and_the_wait():
    count = RetryCount(RetryPolicy(max_retries=3, connect_retries=1), started=0.0)
    count.failed(BUSY)
    assert count.retry_line("GET", "/instances", BUSY, 1.25) == (
        "Lambda Cloud API: GET /instances: HTTP 503; attempt 1 of 4 failed, trying again in 1.2 s.")
    count.failed(REFUSED)
    assert count.retry_line("POST", "/ssh-keys", REFUSED, 0.5) == (
        "Lambda Cloud API: POST /ssh-keys: Connection refused; attempt 1 of 2 failed, trying again in 0.5 s.")


def test_the_error_that_ends_the_attempts_counts_them():
    count = RetryCount(RetryPolicy(), started=100.0)
    for _attempt in range(3):
        count.failed(BUSY)
    failure = LambdaAPIError(BUSY.message, status=503, retryable=True)
    assert str(count.given_up(failure, now=104.26)) == "Lambda Cloud reported an internal error (gave up after 3 attempts in 4.3 s)"
