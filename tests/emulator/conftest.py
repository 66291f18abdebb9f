"""Helpers for the emulator's own tests: a tiny urllib client bound to the emulator.

Test modules reach these through fixtures (api, http_call, control_api, public_key):
importing from a conftest module is unreliable when several conftest.py exist.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from lambda_emulator import LambdaEmulator

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T deploy@example"


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def data(self) -> Any:
        assert self.status == 200, f"expected 200, got {self.status}: {self.body}"
        return self.body["data"]

    @property
    def error_code(self) -> str:
        return self.body["error"]["code"]


def authorization(key: str | None, scheme: str = "bearer") -> dict[str, str]:
    if key is None:
        return {}
    if scheme == "bearer":
        return {"Authorization": f"Bearer {key}"}
    if scheme == "basic":
        return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    if scheme == "basic-raw":
        return {"Authorization": f"Basic {key}"}
    raise ValueError(scheme)


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
         timeout: float = 5.0, raw: bytes | None = None) -> Response:
    """One request; HTTP errors come back as a Response, not an exception."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", "Accept": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            status, payload, reply_headers = reply.status, reply.read(), dict(reply.headers)
    except urllib.error.HTTPError as error:
        status, payload, reply_headers = error.code, error.read(), dict(error.headers)
    return Response(status, json.loads(payload) if payload else None, reply_headers)


class ApiClient:
    def __init__(self, emulator: LambdaEmulator, key: str | None = None, scheme: str = "bearer") -> None:
        self.emulator = emulator
        self.key = emulator.api_key if key is None else key
        self.scheme = scheme

    def with_key(self, key: str | None, scheme: str = "bearer") -> ApiClient:
        client = ApiClient(self.emulator, key, scheme)
        client.key = key  # None really means "no Authorization header" here
        return client

    def call(self, method: str, path: str, body: Any = None, **options: Any) -> Response:
        return http(method, self.emulator.url + path, body, authorization(self.key, self.scheme), **options)

    def get(self, path: str, **options: Any) -> Response:
        return self.call("GET", path, **options)

    def post(self, path: str, body: Any = None, **options: Any) -> Response:
        return self.call("POST", path, {} if body is None else body, **options)

    def put(self, path: str, body: Any, **options: Any) -> Response:
        return self.call("PUT", path, body, **options)

    def patch(self, path: str, body: Any, **options: Any) -> Response:
        return self.call("PATCH", path, body, **options)

    def delete(self, path: str, **options: Any) -> Response:
        return self.call("DELETE", path, **options)

    def launch(self, **fields: Any) -> Response:
        body = {"region_name": "us-east-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["deploy"], **fields}
        return self.post("/instance-operations/launch", body)


@pytest.fixture
def api(lambda_emulator: LambdaEmulator) -> ApiClient:
    """A client with the default key, and an SSH key named "deploy" in the account."""
    lambda_emulator.add_ssh_key("deploy", PUBLIC_KEY)
    return ApiClient(lambda_emulator)


@pytest.fixture
def http_call() -> Callable[..., Response]:
    return http


@pytest.fixture
def control_api(lambda_emulator: LambdaEmulator) -> Callable[..., Response]:
    """control_api(method, action, body=None) against /_emulator/<action>."""
    def call(method: str, action: str, body: Any = None) -> Response:
        return http(method, f"{lambda_emulator.control_url}/{action}", body)
    return call


@pytest.fixture
def public_key() -> str:
    return PUBLIC_KEY
