# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pulumi ESC client: opens an environment through Pulumi Cloud's REST API and reads its values.

Two calls per environment, as Pulumi documents them (https://www.pulumi.com/docs/reference/cloud-rest-api/):
``POST /api/esc/environments/{org}/{project}/{env}/open`` (or ``.../versions/{version}/open``) returns a
session id, and ``GET .../open/{session}`` returns the evaluated environment: ``properties``, a tree of
``Value`` objects ({value, secret, unknown, trace}) whose objects and arrays hold further Values. Secrets
arrive decrypted; which leaves are secret is kept (``secret_paths``) so callers can say so.

Authentication is the header ``Authorization: token <access token>``. The token comes from the caller,
else PULUMI_ACCESS_TOKEN, else the file PULUMI_ACCESS_TOKEN_FILE names (for runners that record their
environment); it never appears in a message or a log line. The API address is https://api.pulumi.com, or
PULUMI_BACKEND_URL for a self-hosted Pulumi Cloud (and the tests' emulator).

Transport, retries and redaction are the collection's shared ones (_http.py): reads and opens are retried
on HTTP 429, 5xx and network failures (opening twice only makes a second short-lived session).
"""

from __future__ import annotations

import json
import os
import re
import time
from http.client import HTTPException
from urllib.error import HTTPError
from urllib.parse import quote, urlencode

from ansible.module_utils.urls import open_url

from ansible_collections.sophia.lambda_k3s.plugins.module_utils import _http

DEFAULT_API_URL = "https://api.pulumi.com"
DEFAULT_TIMEOUT = 30.0
TOKEN_ENV = "PULUMI_ACCESS_TOKEN"
TOKEN_FILE_ENV = "PULUMI_ACCESS_TOKEN_FILE"
API_URL_ENV = "PULUMI_BACKEND_URL"
SERVICE = "Pulumi ESC API"
# The media type the esc CLI asks for; the API answers JSON with it.
ACCEPT = "application/vnd.pulumi+8"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PATH_TOKEN = re.compile(r'\.?([^.\[\]"]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')


class EscError(_http.APIError):
    """A failure opening or reading a Pulumi ESC environment, with a message fit to show a user."""


class EnvironmentRef:
    """``org/project/env`` with an optional ``@version`` (a revision number or a tag)."""

    def __init__(self, text: str):
        self.text = str(text or "").strip()
        name, _at, version = self.text.partition("@")
        parts = name.split("/")
        if len(parts) != 3 or not all(_NAME.match(part) for part in parts) or (_at and not version):
            raise EscError('"%s" is not a Pulumi ESC environment: give it as <organization>/<project>/<environment>, optionally '
                           "with @<revision or tag> (a two-part org/env name is the project \"default\": write org/default/env)." % self.text)
        self.org, self.project, self.env = parts
        self.version = version or None

    @property
    def name(self) -> str:
        return "%s/%s/%s" % (self.org, self.project, self.env)

    def __str__(self) -> str:
        return self.text


class EscClient(_http.HTTPClient):
    """Opens Pulumi ESC environments and reads their values. ``token_source`` says where the token came from."""

    service = SERVICE
    error_class = EscError
    user_agent = "sophia.lambda_k3s"

    def __init__(self, token: str | None, api_url: str | None = None, timeout: float = DEFAULT_TIMEOUT, validate_certs: bool = True,
                 retry: _http.RetryPolicy | None = None, token_source: str = "the token option", log=None, notify=None,
                 sleep=time.sleep, clock=time.monotonic, opener=open_url, rng=None):
        token = _http.checked_secret(token, "No Pulumi access token was given: set %s, or %s to the path of a file holding it (or the "
                                            "token option)." % (TOKEN_ENV, TOKEN_FILE_ENV), "The Pulumi access token", EscError)
        super().__init__(_base_url(api_url or DEFAULT_API_URL), token, timeout, validate_certs=validate_certs, retry=retry, log=log,
                         notify=notify, sleep=sleep, clock=clock, opener=opener, rng=rng)
        self.token_source = token_source
        # The environment of the request in progress, for its error sentences.
        self._environment: EnvironmentRef | None = None

    def open_and_read(self, environment: EnvironmentRef, duration: str | None = None) -> dict:
        """The environment's ``properties`` (a dictionary of Values), from one open and one read."""
        session = self.open(environment, duration)
        document = self._call("GET", environment, "/open/" + quote(session, safe=""))
        properties = document.get("properties") if isinstance(document, dict) else None
        if not isinstance(properties, dict):
            raise EscError("Pulumi ESC answered the read of %s without its properties." % environment.name)
        return properties

    def open(self, environment: EnvironmentRef, duration: str | None = None) -> str:
        """Open a session on the environment (at its version, if it names one) and return the session id."""
        suffix = ("/versions/%s/open" % quote(environment.version, safe="")) if environment.version else "/open"
        document = self._call("POST", environment, suffix, {"duration": duration} if duration else None)
        session = document.get("id") if isinstance(document, dict) else None
        if not session:
            raise EscError("Pulumi ESC answered the opening of %s without a session id." % environment.name)
        return str(session)

    def _call(self, method: str, environment: EnvironmentRef, suffix: str, query: dict | None = None) -> dict:
        path = "/api/esc/environments/%s/%s/%s%s" % (quote(environment.org, safe=""), quote(environment.project, safe=""),
                                                     quote(environment.env, safe=""), suffix)
        url = self.api_url + path + ("?" + urlencode(query) if query else "")
        headers = {"Authorization": "token " + self._secret, "Accept": ACCEPT, "Content-Type": "application/json"}
        # The session id is a capability for the environment's secrets: log lines show only the environment.
        shown = "/api/esc/environments/%s%s" % (environment.name, "/open/<session>" if "/open/" in suffix else suffix)
        self._environment = environment
        return self._with_retries(method, shown, lambda: self._json_body(*self._exchange(method, shown, url, None, headers)), True)

    def _error_from_http(self, error: HTTPError) -> EscError:
        status = error.code
        message, diagnostics = "", []
        try:
            body = json.loads(error.read().decode("utf-8"))
            message = str(body.get("message") or "").strip()
            diagnostics = body.get("diagnostics") or []
            diagnostics = diagnostics.get("diagnostics") or [] if isinstance(diagnostics, dict) else diagnostics
        except (ValueError, AttributeError, OSError, HTTPException):
            pass
        environment = self._environment
        name = environment.name if environment else "the environment"
        detail = (": " + message.rstrip(".") + ".") if message else "."
        if status == 401:
            text = ("Pulumi ESC refused the access token (HTTP 401). The token came from %s; create an access token in Pulumi Cloud and "
                    "set it there." % self.token_source)
        elif status == 403:
            text = ("Pulumi ESC refused to open %s (HTTP 403). The token from %s needs the permission to open this environment."
                    % (name, self.token_source))
        elif status == 404:
            version = " at version %s" % environment.version if environment and environment.version else ""
            text = ("Pulumi ESC has no environment %s%s (HTTP 404). Check the organization, project and environment names, and that "
                    "the token's organization can see it." % (name, version))
        elif status == 400 and diagnostics:
            summaries = "; ".join(str(item.get("summary") or item) for item in diagnostics if isinstance(item, dict))
            text = "Pulumi ESC could not evaluate %s (HTTP 400): %s." % (name, summaries.rstrip("."))
        elif status == 429:
            text = "The Pulumi ESC API kept answering 'too many requests' (HTTP 429) after every retry; wait and try again."
        elif 300 <= status < 400:
            text = ("The Pulumi ESC API at %s redirected elsewhere; set PULUMI_BACKEND_URL (or api_url) to the API's own address."
                    % self.api_url)
        else:
            text = "The Pulumi ESC API answered HTTP %s%s" % (status, detail)
        return EscError(self._scrub(text), status=status, retryable=status in _http.RETRYABLE_STATUSES)


def client_from_options(options: dict, log=None, notify=None) -> EscClient:
    """A client from the lookup's options: token, token_file, api_url, timeout, validate_certs, max_retries, retry_max_delay.

    Without a token option the token comes from PULUMI_ACCESS_TOKEN, else the file PULUMI_ACCESS_TOKEN_FILE names; without
    api_url the address comes from PULUMI_BACKEND_URL, else Pulumi Cloud's.
    """
    token, source = options.get("token"), "the token option"
    if not token and options.get("token_file"):
        token = _http.read_secret_file(options["token_file"], "The Pulumi access token", "the token_file option", EscError)
        source = "the file %s (the token_file option)" % options["token_file"]
    if not token and os.environ.get(TOKEN_ENV):
        token, source = os.environ[TOKEN_ENV], "the %s environment variable" % TOKEN_ENV
    if not token and os.environ.get(TOKEN_FILE_ENV):
        path = os.environ[TOKEN_FILE_ENV]
        token = _http.read_secret_file(path, "The Pulumi access token", TOKEN_FILE_ENV, EscError)
        source = "the file %s (named by %s)" % (path, TOKEN_FILE_ENV)
    return EscClient(token, api_url=options.get("api_url") or os.environ.get(API_URL_ENV) or DEFAULT_API_URL,
                     timeout=float(_http.option(options, "timeout", DEFAULT_TIMEOUT)),
                     validate_certs=bool(_http.option(options, "validate_certs", True)), retry=_http.retry_policy(options),
                     token_source=source, log=log, notify=notify)


def _base_url(api_url: str) -> str:
    """Pulumi Cloud's API root: PULUMI_BACKEND_URL names the service, and the SDKs add /api/esc themselves."""
    if not str(api_url).startswith(("http://", "https://")):
        raise EscError("The Pulumi ESC API address must be an https:// URL, got %r: a self-managed state backend (PULUMI_BACKEND_URL=s3://, "
                       "file://...) has no ESC API; set api_url to your Pulumi Cloud's address." % api_url)
    url = _http.checked_url(api_url, "The Pulumi ESC API URL", EscError)
    for suffix in ("/api/esc", "/api"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


# -- values and paths --------------------------------------------------------------------------------------------------


def plain_values(properties: dict, environment: str = "the environment") -> tuple:
    """(values, secret paths): the Value tree as plain data, and the paths of its secret leaves.

    A value ESC could not compute (``unknown``) is refused, naming its path: handing on a placeholder would deploy it.
    """
    secrets: list = []

    def convert(value, path: str):
        if not isinstance(value, dict) or "value" not in value and not value.get("unknown"):
            raise EscError("Pulumi ESC sent %s with a value at %s that is not a Value object." % (environment, path or "the top"))
        if value.get("unknown"):
            raise EscError("Pulumi ESC could not compute %s of %s (its value is unknown); check the environment's providers and "
                           "imports." % (path, environment))
        inner = value.get("value")
        if value.get("secret"):
            secrets.append(path)
        if isinstance(inner, dict):
            return {key: convert(item, join_path(path, key)) for key, item in inner.items()}
        if isinstance(inner, list):
            return [convert(item, "%s[%d]" % (path, index)) for index, item in enumerate(inner)]
        return inner

    values = {key: convert(item, join_path("", key)) for key, item in (properties or {}).items()}
    return values, secrets


def join_path(parent: str, key: str) -> str:
    """The Pulumi path of ``key`` under ``parent``: a.b, or a["key.with.dots"]."""
    if re.match(r"^[A-Za-z_$][A-Za-z0-9_$:-]*$", key):
        return "%s.%s" % (parent, key) if parent else key
    return '%s["%s"]' % (parent, key.replace("\\", "\\\\").replace('"', '\\"'))


def parse_path(path: str) -> list:
    """A Pulumi path (``a.b[0]``, ``a["key.with.dots"]``) as its keys and indexes: ["a", "b", 0]."""
    text = str(path or "").strip()
    parts: list = []
    position = 0
    while position < len(text):
        match = _PATH_TOKEN.match(text, position)
        if not match or (position == 0 and text.startswith(".")) or match.end() == position:
            raise EscError('"%s" is not a Pulumi path: write keys separated by dots, [N] for a list item and ["key"] for a key with dots '
                           "or spaces (a.b[0].c)." % text)
        key, index, quoted = match.groups()
        parts.append(key if key is not None else int(index) if index is not None else re.sub(r"\\(.)", r"\1", quoted))
        position = match.end()
    if not parts:
        raise EscError("An empty Pulumi path was given: name the value, for example app.apiToken.")
    return parts


def value_at(values, path: str, where: str = "the environment"):
    """The value at a Pulumi path; a missing one is named with what exists at the level where the path stops.

    Messages show key names only, never a value.
    """
    current = values
    walked = ""
    for part in parse_path(path):
        if isinstance(part, int):
            if not isinstance(current, list) or part >= len(current):
                found = "is not a list" if not isinstance(current, list) else "has %d item%s" % (len(current), "" if len(current) == 1 else "s")
                raise EscError("%s has no %s: %s %s." % (where, path, walked or "the top", found))
            current, walked = current[part], "%s[%d]" % (walked, part)
            continue
        if not isinstance(current, dict) or part not in current:
            known = ", ".join(sorted(current)) if isinstance(current, dict) else ""
            raise EscError("%s has no %s: %s %s." % (where, path, walked or "the top level",
                                                     "has %s" % known if known else "holds no keys" if isinstance(current, dict)
                                                     else "is not a mapping"))
        current, walked = current[part], join_path(walked, part)
    return current
