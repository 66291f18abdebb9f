"""The client's errors and their sentences (_api_errors)."""

from __future__ import annotations

from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import describe_error


def test_describe_error_for_an_unknown_code_keeps_the_api_text():
    text = describe_error("global/something-new", 418, "I am a teapot.", "Use coffee.", "the api_key option")
    assert text == "The Lambda Cloud API answered HTTP 418 with error global/something-new: I am a teapot. Use coffee."
