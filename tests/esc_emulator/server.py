"""EMULATOR of the Pulumi ESC REST API calls the pulumi_esc lookup makes (tests only; Python standard library only).

What it mirrors, from Pulumi's API reference (https://www.pulumi.com/docs/reference/cloud-rest-api/environments/ and the
OpenAPI document of the ESC SDKs, ``sdk/swagger.yaml`` in pulumi/esc-sdk):
- ``POST /api/esc/environments/{org}/{project}/{env}/open`` (query ``duration``) and
  ``POST .../{env}/versions/{version}/open`` (a revision number or a tag) answer ``{"id": "<session>"}``;
- ``GET .../{env}/open/{session}`` answers the evaluated ``Environment``: ``properties``, a map of names to ``Value``
  objects ({value, secret, unknown, trace}), whose objects and arrays hold Values in turn, secrets decrypted, with
  ``secret: true`` on each secret leaf; with the query ``property`` (a Pulumi path) it answers the one Value there;
- authentication by the header ``Authorization: token <access token>``: a missing or wrong token is 401;
- errors as ``{"message", "code"}`` (401, 404 for an unknown environment, version, session or property); an environment
  that does not evaluate answers the open with 400 and ``{"diagnostics": [{"summary", "path"}]}``.

Environments are given as their ``values`` with ``{"fn::secret": ...}`` around secret values, as in an environment's
definition; ``trace`` holds only ``def.environment``.

SIMPLIFICATIONS (on purpose): plain HTTP; one token for every environment (no organizations, teams or permissions);
no imports, interpolation or providers; sessions never expire; nothing but the calls above (no environment editing,
listing, tags API or definitions).

Test control (Python only): ``add_environment``, ``fail_next(kind, status, times)`` for transient faults on opens or
reads, ``requests`` (the log, without the Authorization header's value) and ``reset``.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

TOKEN = "pul-emulator-token-3c1e9a0d5f"
EXAMPLE_ENVIRONMENT = {
    "backend": {"apiToken": {"fn::secret": "esc-api-token-7Qm2"}, "databaseUrl": {"fn::secret": "postgres://app:esc-db-pass-9Xr@db/app"},
                "replicas": 2},
    "grafana": {"adminPassword": {"fn::secret": "esc-grafana-pass-K4v"}},
    "git": {"username": "deploy-bot", "token": {"fn::secret": "esc-git-token-8Hw"}},
    "hosts": ["a.example", "b.example"],
    "key.with.dots": "dotted",
}
_ROUTE = re.compile(r"^/api/esc/environments/(?P<org>[^/]+)/(?P<project>[^/]+)/(?P<env>[^/]+)"
                    r"(?:/versions/(?P<version>[^/]+))?/open(?:/(?P<session>[^/]+))?$")
_PATH_TOKEN = re.compile(r'\.?([^.\[\]"]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')


class EscEmulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, token: str = TOKEN) -> None:
        self.token = token
        self._lock = threading.Lock()
        self.environments: dict[str, dict] = {}
        self.sessions: dict[str, tuple[str, int]] = {}
        self.requests: list[dict] = []
        self._faults: list[dict] = []
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return "http://%s:%d" % (host, port)

    def start(self) -> EscEmulator:
        threading.Thread(target=self._server.serve_forever, name="esc-emulator", daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- test control -----------------------------------------------------------------------------------------------

    def add_environment(self, name: str, values: dict, revisions: list[dict] | None = None, tags: dict[str, int] | None = None,
                        diagnostics: list[dict] | None = None) -> None:
        """An environment whose latest revision holds ``values``; ``revisions`` are earlier ones (revision 1 first)."""
        with self._lock:
            self.environments[name] = {"revisions": list(revisions or []) + [values], "tags": dict(tags or {}),
                                       "diagnostics": list(diagnostics or [])}

    def fail_next(self, kind: str, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """The next ``times`` requests of ``kind`` ("open" or "read") answer ``status``."""
        with self._lock:
            self._faults.append({"kind": kind, "status": status, "times": times, "retry_after": retry_after})

    def reset(self) -> None:
        with self._lock:
            self.environments.clear()
            self.sessions.clear()
            self.requests.clear()
            self._faults.clear()

    # -- HTTP -------------------------------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict) -> tuple[int, Any, dict]:
        parts = urlsplit(raw_path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        authorization = headers.get("Authorization") or ""
        with self._lock:
            self.requests.append({"method": method, "path": parts.path, "query": query, "scheme": authorization.split(" ")[0],
                                  "accept": headers.get("Accept")})
            match = _ROUTE.match(parts.path)
            if not match:
                return 404, _error(404, "Not Found"), {}
            kind = "read" if match.group("session") else "open"
            if method != ("GET" if kind == "read" else "POST"):
                return 405, _error(405, "Method Not Allowed"), {}
            if authorization != "token " + self.token:
                return 401, _error(401, "Unauthorized: No credentials provided or are invalid."), {}
            fault = next((item for item in self._faults if item["kind"] == kind and item["times"] > 0), None)
            if fault:
                fault["times"] -= 1
                return fault["status"], _error(fault["status"], "emulated transient failure"), (
                    {"Retry-After": fault["retry_after"]} if fault["retry_after"] else {})
            name = "/".join(unquote(match.group(part)) for part in ("org", "project", "env"))
            environment = self.environments.get(name)
            if environment is None:
                return 404, _error(404, "Environment '%s' not found" % name), {}
            if kind == "open":
                return self._open(name, environment, match.group("version"), query)
            return self._read(name, environment, unquote(match.group("session")), query)

    def _open(self, name: str, environment: dict, version: str | None, query: dict) -> tuple[int, Any, dict]:
        if "duration" in query and not re.match(r"^(\d*\.\d+|\d+)(ns|us|µs|ms|s|m|h)?((\d*\.\d+|\d+)(ns|us|µs|ms|s|m|h))?$", query["duration"]):
            return 400, _error(400, "invalid duration %r" % query["duration"]), {}
        revisions = len(environment["revisions"])
        if version is None:
            revision = revisions
        elif version.isdigit():
            revision = int(version)
        else:
            revision = environment["tags"].get(unquote(version), 0)
        if not 1 <= revision <= revisions:
            return 404, _error(404, "Environment '%s' has no revision or tag '%s'" % (name, version)), {}
        if environment["diagnostics"]:
            return 400, {"diagnostics": environment["diagnostics"]}, {}
        session = secrets.token_hex(8)
        self.sessions[session] = (name, revision)
        return 200, {"id": session}, {}

    def _read(self, name: str, environment: dict, session: str, query: dict) -> tuple[int, Any, dict]:
        opened = self.sessions.get(session)
        if opened is None or opened[0] != name:
            return 404, _error(404, "Open session '%s' not found" % session), {}
        properties = {key: _value(item, name) for key, item in environment["revisions"][opened[1] - 1].items()}
        if "property" not in query:
            return 200, {"properties": properties}, {}
        current: Any = {"value": properties}
        for part in _parse_path(query["property"]):
            inner = current.get("value")
            if isinstance(part, int) and isinstance(inner, list) and part < len(inner):
                current = inner[part]
            elif isinstance(part, str) and isinstance(inner, dict) and part in inner:
                current = inner[part]
            else:
                return 404, _error(404, "Property '%s' not found" % query["property"]), {}
        return 200, current, {}


def _value(item: Any, environment: str) -> dict:
    """The Value the API sends for a definition's item: secrets decrypted and flagged on their leaf."""
    trace = {"def": {"environment": environment, "begin": {"line": 0, "column": 0, "byte": 0}, "end": {"line": 0, "column": 0, "byte": 0}}}
    if isinstance(item, dict) and set(item) == {"fn::secret"}:
        return {"value": item["fn::secret"], "secret": True, "trace": trace}
    if isinstance(item, dict):
        return {"value": {key: _value(value, environment) for key, value in item.items()}, "trace": trace}
    if isinstance(item, list):
        return {"value": [_value(value, environment) for value in item], "trace": trace}
    return {"value": item, "trace": trace}


def _parse_path(text: str) -> list:
    parts, position = [], 0
    while position < len(text):
        match = _PATH_TOKEN.match(text, position)
        if not match or match.end() == position:
            return [None]
        key, index, quoted = match.groups()
        parts.append(key if key is not None else int(index) if index is not None else quoted)
        position = match.end()
    return parts


def _error(code: int, message: str) -> dict:
    return {"message": message, "code": code}


def _handler_for(emulator: EscEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status, body, extra = emulator.handle(self.command, self.path, dict(self.headers))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for header, value in extra.items():
                self.send_header(header, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
            pass

    return Handler
