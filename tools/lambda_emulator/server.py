"""A local emulator of the Lambda Cloud API (OpenAPI spec v1.8.3).

Layout of this module, top to bottom:
  * errors and the spec's error bodies,
  * configuration,
  * faults, the request log and rate limiting (the "network" around the API),
  * CloudState: the account's resources and every operation on them,
  * LambdaEmulator: HTTP routing, auth, the request pipeline and the control API.

The emulator binds loopback only. Time-dependent behaviour (boot, termination,
rate-limit windows) is multiplied by ``time_scale`` so tests can compress minutes
into milliseconds; ``advance()`` moves the emulator's clock forward instead.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import dataclasses
import hashlib
import ipaddress
import json
import math
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from . import catalogue
from .spec import SpecValidator

API_PREFIX = "/api/v1"
CONTROL_PREFIX = "/_emulator"
DEFAULT_API_KEY = "secret_emulator_0123456789abcdef.0123456789abcdefghijklmnopqrstuv"
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_USER_DATA_BYTES = 1024 * 1024
REDACTED = "<redacted>"
# Keys whose values never reach the request log, at any depth of a JSON body.
SECRET_FIELDS = frozenset({"user_data", "private_key", "jupyter_token", "jupyter_url",
                           "api_key", "password", "token", "secret", "authorization"})

ResponseHook = Callable[[str, str | None, int, Any], None]


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

class ApiError(Exception):
    """An error the API answers with an ``{"error": {...}}`` envelope."""

    def __init__(self, status: int, code: str, message: str, suggestion: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.suggestion = suggestion
        self.headers = dict(headers or {})

    def envelope(self) -> dict[str, Any]:
        error = {"code": self.code, "message": self.message}
        if self.suggestion is not None:
            error["suggestion"] = self.suggestion
        return {"error": error}


# Default texts are the spec's `default` values where it has them.
def unauthorized() -> ApiError:
    return ApiError(401, "global/invalid-api-key", "API key was invalid, expired, or deleted.",
                    "Check your API key or create a new one, then try again.")


def account_inactive() -> ApiError:
    return ApiError(403, "global/account-inactive", "Your account is inactive.",
                    "Make sure you have verified your email address and have a valid payment method. "
                    "Contact Support if problems continue.")


def invalid_billing_address() -> ApiError:
    return ApiError(403, "global/invalid-address", "Your billing address is invalid.",
                    "Make sure your billing address is valid. Contact Support if problems continue.")


def invalid_parameters(message: str = "Invalid request data.", suggestion: str | None = None) -> ApiError:
    return ApiError(400, "global/invalid-parameters", message, suggestion)


def instance_not_found() -> ApiError:
    return ApiError(404, "global/object-does-not-exist", "Specified instance does not exist.")


def quota_exceeded() -> ApiError:
    return ApiError(400, "global/quota-exceeded", "Quota exceeded.", "Contact Support to increase your quota.")


def insufficient_capacity() -> ApiError:
    return ApiError(400, "instance-operations/launch/insufficient-capacity",
                    "Not enough capacity to fulfill launch request.",
                    "Try a different region or instance type, or try again later.")


def filesystem_not_found() -> ApiError:
    return ApiError(404, "global/object-does-not-exist", "Filesystem was not found.")


def firewall_ruleset_not_found() -> ApiError:
    return ApiError(404, "global/object-does-not-exist",
                    "Firewall ruleset does not exist or you do not have permission to access it.",
                    "Check your firewall ruleset ID and try again.")


def rate_limited(retry_after: int | None) -> ApiError:
    # Lambda does not document the 429 body; this keeps the documented envelope shape.
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return ApiError(429, "global/rate-limited", "Too many requests.",
                    "Requests are limited to one per second, and launches to one per 12 seconds. "
                    "Wait, then try again.", headers)


def internal_error(status: int = 500) -> ApiError:
    return ApiError(status, "global/internal-error", "An internal server error occurred.",
                    "Try again later. Contact Support if the problem persists.")


def provider_unavailable(status: int = 503) -> ApiError:
    return ApiError(status, "provider/internal-unavailable", "Provider unavailable", "Try again shortly")


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

@dataclass
class EmulatorConfig:
    """Every knob of the emulator. Durations are nominal seconds, multiplied by time_scale."""

    host: str = "127.0.0.1"
    port: int = 0
    api_keys: list[str] = field(default_factory=lambda: [DEFAULT_API_KEY])
    inactive_api_keys: list[str] = field(default_factory=list)
    time_scale: float = 1.0
    boot_seconds: float = 10.0
    terminate_seconds: float = 5.0
    # How long a terminated instance stays listed before it disappears.
    terminated_visible_seconds: float = 10.0
    # General limit per API key; None or 0 switches it off.
    rate_limit_per_second: float | None = 1.0
    rate_limit_burst: int = 1
    # Launch limit per API key: one launch per interval (the spec's 12 s); None or 0 switches it off.
    launch_interval_seconds: float | None = 12.0
    launch_burst: int = 1
    # Retry-After on rate-limit 429s: off, computed (ceil of the wait), or a fixed value.
    retry_after: bool = True
    retry_after_seconds: int | None = None
    # Max non-terminated instances per account; None means unlimited.
    instance_quota: int | None = None
    billing_address_invalid: bool = False
    # The spec allows 404 or 400 for a missing type/key/filesystem/image on launch.
    launch_not_found_status: int = 404
    verbose: bool = False

    def validate(self) -> None:
        if not ipaddress.ip_address(self.host).is_loopback:
            raise ValueError(f"the emulator binds loopback addresses only, not {self.host!r}")
        if self.time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        for name in ("boot_seconds", "terminate_seconds", "terminated_visible_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.rate_limit_burst < 1 or self.launch_burst < 1:
            raise ValueError("rate limit bursts must be >= 1")
        if self.launch_not_found_status not in (400, 404):
            raise ValueError("launch_not_found_status must be 400 or 404")
        if not self.api_keys and not self.inactive_api_keys:
            raise ValueError("configure at least one API key")

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale

    def client_request_interval(self) -> float:
        """The request_interval a client needs to stay within the general limit (0 when it is off).

        Tests hand it to the clients they start (LAMBDA_REQUEST_INTERVAL), as the collection's
        default of 1.1 s does for the real API's one request per second.
        """
        if not self.rate_limit_per_second or self.time_scale <= 0:
            return 0.0
        return self.scaled(1.0 / self.rate_limit_per_second)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _config_field_names() -> set[str]:
    return {item.name for item in dataclasses.fields(EmulatorConfig)}


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------

FAULT_KINDS = ("error", "delay", "drop", "malformed")


@dataclass
class Fault:
    """A scripted misbehaviour for the next ``times`` requests matching method and path prefix.

    kinds: "error" (an error envelope with ``status``), "delay" (sleep, then answer
    normally), "drop" (close the socket without answering), "malformed" (200 with
    broken JSON). ``delay_seconds`` also delays the other kinds; it is real time,
    not scaled. With ``after_side_effect`` the request is processed first and the
    fault replaces its response, and it only fires on requests that succeeded (2xx),
    since its purpose is a change the client never hears about.
    """

    kind: str = "error"
    status: int = 500
    method: str | None = None
    path: str | None = None
    times: int = 1
    after_side_effect: bool = False
    retry_after: int | None = None
    code: str | None = None
    message: str | None = None
    suggestion: str | None = None
    delay_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {FAULT_KINDS}, not {self.kind!r}")
        if self.kind == "error" and not 400 <= self.status <= 599:
            raise ValueError("an error fault needs a 4xx or 5xx status")
        if self.times < 1:
            raise ValueError("times must be >= 1")
        if self.delay_seconds < 0:
            raise ValueError("delay_seconds must be >= 0")
        if self.method is not None:
            self.method = self.method.upper()
        if self.path is not None:
            self.path = _absolute_api_path(self.path)

    # Constructors for the common cases; ``match`` takes method, path, times, after_side_effect.
    @classmethod
    def rate_limited(cls, retry_after: int | None = None, **match: Any) -> Fault:
        return cls(kind="error", status=429, retry_after=retry_after, **match)

    @classmethod
    def server_error(cls, status: int = 500, **match: Any) -> Fault:
        return cls(kind="error", status=status, **match)

    @classmethod
    def provider_unavailable(cls, status: int = 503, **match: Any) -> Fault:
        return cls(kind="error", status=status, code="provider/internal-unavailable", **match)

    @classmethod
    def unauthorized(cls, **match: Any) -> Fault:
        return cls(kind="error", status=401, **match)

    @classmethod
    def forbidden(cls, **match: Any) -> Fault:
        return cls(kind="error", status=403, **match)

    @classmethod
    def slow(cls, seconds: float, **match: Any) -> Fault:
        return cls(kind="delay", delay_seconds=seconds, **match)

    @classmethod
    def dropped_connection(cls, **match: Any) -> Fault:
        return cls(kind="drop", **match)

    @classmethod
    def malformed_json(cls, **match: Any) -> Fault:
        return cls(kind="malformed", **match)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        unknown = set(data) - {item.name for item in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or path.startswith(self.path)

    def to_error(self) -> ApiError:
        """The error this fault answers with; 401/403 use the spec's bodies so they validate."""
        if self.status == 401:
            error = unauthorized()
        elif self.status == 403:
            error = account_inactive()
        elif self.status == 429:
            error = rate_limited(self.retry_after)
        elif self.code == "provider/internal-unavailable":
            error = provider_unavailable(self.status)
        else:
            error = _default_error_for_status(self.status)
        error.code = self.code or error.code
        error.message = self.message or error.message
        error.suggestion = self.suggestion or error.suggestion
        if self.retry_after is not None:
            error.headers["Retry-After"] = str(self.retry_after)
        return error


def _default_error_for_status(status: int) -> ApiError:
    if status == 400:
        return invalid_parameters()
    if status == 404:
        return ApiError(404, "global/object-does-not-exist", "Specified object does not exist.",
                        "Check the identifier and try again.")
    return internal_error(status)


def _absolute_api_path(path: str) -> str:
    """Let callers write "/instances" for "/api/v1/instances"."""
    if path.startswith(API_PREFIX) or path.startswith(CONTROL_PREFIX):
        return path
    return API_PREFIX + (path if path.startswith("/") else "/" + path)


class FaultQueue:
    """Faults in the order they were added; the first match with uses left fires."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return [copy.copy(fault) for fault in self._faults]

    def take(self, method: str, path: str, after_side_effect: bool) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.after_side_effect == after_side_effect and fault.matches(method, path):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return copy.copy(fault)
        return None


# ---------------------------------------------------------------------------
# Request log
# ---------------------------------------------------------------------------

@dataclass
class RequestRecord:
    """One API request as the emulator saw it. The Authorization header is never kept."""

    method: str
    path: str
    path_template: str | None
    query: dict[str, str]
    body: Any
    time: float  # time.monotonic() on arrival (not the emulator clock, which advance() moves)
    status: int | None = None  # None: the connection was dropped without a response
    auth_scheme: str | None = None  # "bearer", "basic", "basic-raw", "unknown" or None (no header)
    auth_valid: bool = False  # a known key of an active account
    key_fingerprint: str | None = None  # LambdaEmulator.fingerprint(key) of a known key
    fault: str | None = None  # kind of the injected fault, if any

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def redact(value: Any) -> Any:
    """A copy of a JSON value with secret fields replaced."""
    if isinstance(value, dict):
        return {key: REDACTED if key.lower() in SECRET_FIELDS else redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


class RequestLog:
    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def select(self, method: str | None = None, path: str | None = None) -> list[RequestRecord]:
        """Records by method and by exact path or path template ("/instances/{id}" works too)."""
        wanted_path = _absolute_api_path(path) if path is not None else None
        with self._lock:
            records = list(self._records)
        return [record for record in records
                if (method is None or record.method == method.upper())
                and (wanted_path is None or wanted_path in (record.path, record.path_template))]


# ---------------------------------------------------------------------------
# Rate limiting
# ---------------------------------------------------------------------------

@dataclass
class _TokenBucket:
    tokens: float
    updated: float

    def take(self, now: float, rate: float, burst: int) -> float:
        """Take a token; returns 0.0 on success, else the seconds until one is available."""
        self.tokens = min(float(burst), self.tokens + max(0.0, now - self.updated) * rate)
        self.updated = now
        # The epsilon absorbs float error when a client waits exactly one interval.
        if self.tokens >= 1.0 - 1e-9:
            self.tokens = max(0.0, self.tokens - 1.0)
            return 0.0
        return (1.0 - self.tokens) / rate


class RateLimiter:
    """Token buckets per (limit name, API key)."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], _TokenBucket] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()

    def take(self, limit: str, key: str, now: float, rate: float, burst: int) -> float:
        with self._lock:
            bucket = self._buckets.setdefault((limit, key), _TokenBucket(float(burst), now))
            return bucket.take(now, rate, burst)


# ---------------------------------------------------------------------------
# Cloud state
# ---------------------------------------------------------------------------

INSTANCE_STATUSES = ("booting", "active", "unhealthy", "terminated", "terminating", "preempted")
# Fields of the spec's Instance that are optional, so a seed may leave them out.
OPTIONAL_INSTANCE_FIELDS = frozenset({"name", "ip", "private_ip", "hostname", "jupyter_token", "jupyter_url",
                                      "file_system_mounts", "tags", "firewall_rulesets", "is_reserved"})
# Lambda only has addresses for an instance once it has booted.
NETWORK_FIELDS = ("ip", "private_ip", "hostname", "jupyter_token", "jupyter_url")
INSTANCE_SEED_FIELDS = frozenset({
    "id", "name", "instance_type", "region", "status", "ssh_key_names", "tags", "file_system_names",
    "file_system_mounts", "firewall_rulesets", "ip", "private_ip", "hostname", "jupyter_token", "jupyter_url",
    "cluster_id", "omit", "hold_status", "extra"})
ACTION_NAMES = ("migrate", "rebuild", "restart", "cold_reboot", "terminate")
SSH_PUBLIC_KEY_PATTERN = re.compile(
    r"^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|"
    r"sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$")
EMULATOR_USER = {"id": "5f3d6c1a2b4e4f0a9c8d7e6f5a4b3c2d", "email": "emulator@example.com", "status": "active"}


def new_id() -> str:
    """Lambda ids are 32 lowercase hex characters."""
    return uuid.uuid4().hex


def utc_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AddressPool:
    """Public addresses from the documentation ranges, private ones from 10.0.0.0/8.

    There are only 508 documentation addresses, so when all are taken (large
    seeded inventories) addresses are reused; seeds can pin their own ``ip``.
    """

    PUBLIC = tuple([f"198.51.100.{host}" for host in range(2, 255)] + [f"203.0.113.{host}" for host in range(2, 255)])

    def __init__(self) -> None:
        self._in_use: dict[str, int] = {}
        self._next_public = 0
        self._next_private = 0

    def allocate_public(self) -> str:
        for _attempt in range(len(self.PUBLIC)):
            candidate = self._advance_public()
            if candidate not in self._in_use:
                return self.claim(candidate)
        return self.claim(self._advance_public())

    def allocate_private(self) -> str:
        # Skip network and broadcast-looking last octets (.0 and .255).
        self._next_private += 1
        while (self._next_private & 255) in (0, 255):
            self._next_private += 1
        number = self._next_private
        return f"10.{(number >> 16) & 255}.{(number >> 8) & 255}.{number & 255}"

    def claim(self, address: str) -> str:
        self._in_use[address] = self._in_use.get(address, 0) + 1
        return address

    def release(self, address: str | None) -> None:
        if address in self._in_use:
            self._in_use[address] -= 1
            if self._in_use[address] <= 0:
                del self._in_use[address]

    def _advance_public(self) -> str:
        address = self.PUBLIC[self._next_public % len(self.PUBLIC)]
        self._next_public += 1
        return address


@dataclass
class InstanceRecord:
    """An instance as stored; ``view()`` renders the spec's Instance object."""

    id: str
    name: str | None
    instance_type: dict[str, Any]
    region_name: str
    ssh_key_names: list[str]
    status: str
    status_since: float
    ip: str | None
    private_ip: str | None
    hostname: str | None
    jupyter_token: str | None
    jupyter_url: str | None
    file_system_names: list[str] = field(default_factory=list)
    file_system_mounts: list[dict[str, str]] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    firewall_ruleset_ids: list[str] = field(default_factory=list)
    omitted_fields: set[str] = field(default_factory=set)
    extra_fields: dict[str, Any] = field(default_factory=dict)
    hold_status: bool = False
    cluster_id: str | None = None
    image_id: str | None = None
    user_data: str | None = None
    restart_count: int = 0
    created_at: str = field(default_factory=utc_timestamp)

    @property
    def is_live(self) -> bool:
        """Counts against quota, holds filesystems and rulesets."""
        return self.status != "terminated"

    def view(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id}
        if self.name is not None:
            data["name"] = self.name
        if self.status != "booting":
            data.update({name: getattr(self, name) for name in NETWORK_FIELDS if getattr(self, name) is not None})
        data.update({
            "status": self.status,
            "ssh_key_names": list(self.ssh_key_names),
            "file_system_names": list(self.file_system_names),
            "region": catalogue.region(self.region_name),
            "instance_type": copy.deepcopy(self.instance_type),
            "actions": instance_actions(self.status),
            "tags": [dict(tag) for tag in self.tags],
            "firewall_rulesets": [{"id": ruleset_id} for ruleset_id in self.firewall_ruleset_ids],
            "is_reserved": False,
        })
        if self.file_system_mounts:
            data["file_system_mounts"] = [dict(mount) for mount in self.file_system_mounts]
        data.update(copy.deepcopy(self.extra_fields))
        for name in self.omitted_fields:
            data.pop(name, None)
        return data

    def internal_view(self) -> dict[str, Any]:
        """The public view plus what only the emulator knows, for tests."""
        data = self.view()
        data["emulator"] = {"status_since": self.status_since, "hold_status": self.hold_status,
                            "cluster_id": self.cluster_id, "image_id": self.image_id,
                            "user_data": self.user_data, "restart_count": self.restart_count,
                            "created_at": self.created_at}
        return data


def instance_actions(status: str) -> dict[str, dict[str, Any]]:
    def unavailable(code: str, description: str) -> dict[str, Any]:
        return {"available": False, "reason_code": code, "reason_description": description}

    if status == "booting":
        actions = {name: unavailable("vm-has-not-launched", "The VM has not launched yet.") for name in ACTION_NAMES}
        actions["terminate"] = {"available": True}
        return actions
    if status in ("terminating", "terminated"):
        return {name: unavailable("vm-is-terminating", "The VM is terminating.") for name in ACTION_NAMES}
    if status == "preempted":
        actions = {name: unavailable("vm-is-preempted", "The VM was preempted.") for name in ACTION_NAMES}
        actions["terminate"] = {"available": True}
        return actions
    return {name: {"available": True} for name in ACTION_NAMES}


def _parse_tags(tags: Any) -> list[dict[str, str]]:
    """Seeds may give tags as a mapping or as the API's list of {key, value}."""
    if tags is None:
        return []
    if isinstance(tags, Mapping):
        return [{"key": str(key), "value": str(value)} for key, value in tags.items()]
    return [{"key": str(tag["key"]), "value": str(tag["value"])} for tag in tags]


def firewall_rule_problem(rule: Mapping[str, Any]) -> str | None:
    """Checks the spec states in prose, beyond what its schema can say."""
    protocol, port_range = rule["protocol"], rule.get("port_range")
    if protocol == "icmp" and port_range is not None:
        return "port_range is not allowed for the icmp protocol"
    if protocol in ("tcp", "udp") and port_range is None:
        return f"port_range is required for the {protocol} protocol"
    if port_range is not None and port_range[0] > port_range[1]:
        return "port_range must be [min, max]"
    try:
        ipaddress.IPv4Network(rule["source_network"], strict=False)
    except ValueError:
        return f"source_network {rule['source_network']!r} is not an IPv4 CIDR block"
    return None


def generate_ssh_key_pair() -> tuple[str, str]:
    """(public, private) OpenSSH ed25519 keys, through `cryptography` or else ssh-keygen."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:
        return _generate_ssh_key_pair_with_ssh_keygen()
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return public, private


def _generate_ssh_key_pair_with_ssh_keygen() -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as directory:
        key_path = Path(directory) / "key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(key_path)],
                       check=True, capture_output=True, timeout=30)
        return key_path.with_suffix(".pub").read_text().strip(), key_path.read_text()


class InstanceBackend(Protocol):
    """What stands behind the instances, when something does (the local lab's containers); without one, instances
    exist only as records. Called with the emulator's lock held, so each call returns at once and slow work (starting
    a container) goes on in the background; the record's status waits for it.
    """

    def launch(self, record: InstanceRecord, public_key: str | None) -> tuple[str, str]:
        """Start the machine of a launched instance and return its (ip, private_ip)."""

    def ready(self, record: InstanceRecord) -> bool | None:
        """Whether the machine is up (True), still starting (False) or failed to start (None)."""

    def restart(self, record: InstanceRecord) -> None:
        """Restart the machine."""

    def terminate(self, record: InstanceRecord) -> None:
        """Remove the machine."""

    def gone(self, record: InstanceRecord) -> bool:
        """Whether the machine of a terminating instance is removed."""


class CloudState:
    """The emulated account. Not thread-safe by itself: LambdaEmulator holds a lock around it.

    Statuses advance lazily: every operation first calls ``refresh()``, which moves
    instances along booting -> active and terminating -> terminated -> gone
    according to the clock and the scaled delays in the config.
    """

    def __init__(self, config: EmulatorConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self.instance_types = catalogue.default_instance_types()
        self.capacity = catalogue.default_capacity()
        self.images = catalogue.default_images()
        self.instances: dict[str, InstanceRecord] = {}
        self.ssh_keys: dict[str, dict[str, str]] = {}
        self.filesystems: dict[str, dict[str, Any]] = {}
        self.firewall_rulesets: dict[str, dict[str, Any]] = {}
        self.global_firewall_rules = catalogue.default_global_firewall_rules()
        self.addresses = AddressPool()
        self.backend: InstanceBackend | None = None

    # -- lifecycle -------------------------------------------------------

    def refresh(self) -> None:
        now = self.clock()
        for record in list(self.instances.values()):
            self._advance(record, now)

    def _advance(self, record: InstanceRecord, now: float) -> None:
        if record.hold_status:
            return
        boot = self.config.scaled(self.config.boot_seconds)
        if record.status == "booting" and now - record.status_since >= boot:
            machine = True if self.backend is None else self.backend.ready(record)
            # A machine that could not start leaves its instance unhealthy, as a failed boot does on Lambda.
            if machine is not False:
                self._set_status(record, "active" if machine else "unhealthy", self._settled(record.status_since + boot, now))
        terminate = self.config.scaled(self.config.terminate_seconds)
        if record.status == "terminating" and now - record.status_since >= terminate and (self.backend is None or self.backend.gone(record)):
            self._set_status(record, "terminated", self._settled(record.status_since + terminate, now))
        visible = self.config.scaled(self.config.terminated_visible_seconds)
        if record.status == "terminated" and now - record.status_since >= visible:
            self.forget(record)

    def _settled(self, due: float, now: float) -> float:
        """When a status change happened: when it was due, or, with a backend that may take longer, now."""
        return due if self.backend is None else max(due, now)

    @staticmethod
    def _set_status(record: InstanceRecord, status: str, since: float) -> None:
        record.status = status
        record.status_since = since

    def forget(self, record: InstanceRecord) -> None:
        self.addresses.release(record.ip)
        del self.instances[record.id]

    # -- instances -------------------------------------------------------

    def list_instances(self, cluster_id: str | None = None) -> list[dict[str, Any]]:
        return [record.view() for record in self.instances.values()
                if cluster_id is None or record.cluster_id == cluster_id]

    def get_instance(self, instance_id: str) -> InstanceRecord:
        record = self.instances.get(instance_id)
        if record is None:
            raise instance_not_found()
        return record

    def rename_instance(self, instance_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        record = self.get_instance(instance_id)
        if "name" in body:
            record.name = body["name"]
        return record.view()

    def restart_instances(self, instance_ids: list[str]) -> list[dict[str, Any]]:
        records = [self.get_instance(instance_id) for instance_id in instance_ids]
        for record in records:
            record.restart_count += 1
            if self.backend is not None and record.status == "active":
                self.backend.restart(record)
        return [record.view() for record in records]

    def terminate_instances(self, instance_ids: list[str]) -> list[dict[str, Any]]:
        # Look every id up first, so an unknown id leaves all instances untouched.
        records = [self.get_instance(instance_id) for instance_id in instance_ids]
        now = self.clock()
        for record in records:
            if record.status not in ("terminating", "terminated"):
                self._set_status(record, "terminating", now)
                record.hold_status = False
                if self.backend is not None:
                    self.backend.terminate(record)
        return [record.view() for record in records]

    def launch(self, body: Mapping[str, Any]) -> str:
        self._check_launch_shape(body)
        type_name, region_name = body["instance_type_name"], body["region_name"]
        instance_type = self._launch_instance_type(type_name)
        public_key = self._launch_ssh_key(body["ssh_key_names"][0])
        file_system_names, mounts = self._launch_filesystems(body, region_name)
        ruleset_ids = self._launch_firewall_rulesets(body, region_name)
        image_id = self._launch_image(body.get("image"), region_name)
        if self.config.instance_quota is not None and self._live_instance_count() >= self.config.instance_quota:
            raise quota_exceeded()
        self._consume_capacity(type_name, region_name)
        record = self._new_instance(
            name=body.get("name"), instance_type=instance_type, region_name=region_name,
            ssh_key_names=list(body["ssh_key_names"]), status="booting", hostname=body.get("hostname"),
            file_system_names=file_system_names, file_system_mounts=mounts,
            tags=_parse_tags(body.get("tags")), firewall_ruleset_ids=ruleset_ids)
        record.image_id = image_id
        record.user_data = body.get("user_data")
        if self.backend is not None:
            self.addresses.release(record.ip)
            record.ip, record.private_ip = self.backend.launch(record, public_key)
            self.addresses.claim(record.ip)
            if body.get("hostname") is None:
                record.hostname = record.ip.replace(".", "-")
        return record.id

    def _check_launch_shape(self, body: Mapping[str, Any]) -> None:
        quantity = body.get("quantity", 1)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise invalid_parameters("Invalid request data.", "quantity: Input should be a positive integer.")
        if quantity > 1:
            # The live API rejects this (skypilot#7084); one instance per launch call.
            raise invalid_parameters("Requested too many instances.", "Launch one instance per request.")
        if len(body["ssh_key_names"]) != 1:
            raise invalid_parameters("Invalid request data.", "Exactly one SSH key must be specified.")
        if len(body.get("user_data", "").encode()) > MAX_USER_DATA_BYTES:
            raise invalid_parameters("Invalid request data.", "user_data cannot exceed 1MB.")
        if self.config.billing_address_invalid:
            raise invalid_billing_address()

    def _launch_not_found(self, what: str) -> ApiError:
        return ApiError(self.config.launch_not_found_status, "global/object-does-not-exist",
                        f"Specified {what} does not exist.", "Check the name or ID and try again.")

    def _launch_instance_type(self, type_name: str) -> dict[str, Any]:
        instance_type = self.instance_types.get(type_name)
        if instance_type is None:
            raise self._launch_not_found(f"instance type {type_name!r}")
        return instance_type

    def _launch_ssh_key(self, key_name: str) -> str:
        """The public key of the registered SSH key the launch names (the backend puts it on the machine)."""
        key = next((key for key in self.ssh_keys.values() if key["name"] == key_name), None)
        if key is None:
            raise self._launch_not_found(f"SSH key {key_name!r}")
        return key["public_key"]

    def _launch_filesystems(self, body: Mapping[str, Any], region_name: str) -> tuple[list[str], list[dict[str, str]]]:
        """Names listed plus filesystems mounted by id; explicit mount points win over defaults."""
        by_name = {filesystem["name"]: filesystem for filesystem in self.filesystems.values()}
        mount_points: dict[str, str] = {}
        for name in body.get("file_system_names", []):
            filesystem = by_name.get(name)
            if filesystem is None:
                raise self._launch_not_found(f"filesystem {name!r}")
            mount_points[filesystem["id"]] = filesystem["mount_point"]
        for mount in body.get("file_system_mounts", []):
            if mount["file_system_id"] not in self.filesystems:
                raise self._launch_not_found(f"filesystem {mount['file_system_id']!r}")
            mount_points[mount["file_system_id"]] = mount["mount_point"]
        for filesystem_id in mount_points:
            if self.filesystems[filesystem_id]["region"]["name"] != region_name:
                raise ApiError(400, "instance-operations/launch/file-system-in-wrong-region",
                               "Filesystem is in a different region than the instance.",
                               "Launch the instance in the filesystem's region.")
        names = [self.filesystems[filesystem_id]["name"] for filesystem_id in mount_points]
        mounts = [{"mount_point": point, "file_system_id": filesystem_id} for filesystem_id, point in mount_points.items()]
        return names, mounts

    def _launch_firewall_rulesets(self, body: Mapping[str, Any], region_name: str) -> list[str]:
        ids = [entry["id"] for entry in body.get("firewall_rulesets", [])]
        for ruleset_id in ids:
            ruleset = self.firewall_rulesets.get(ruleset_id)
            if ruleset is None:
                raise self._launch_not_found(f"firewall ruleset {ruleset_id!r}")
            if ruleset["region"]["name"] != region_name:
                raise invalid_parameters("Invalid request data.",
                                         "The firewall rulesets must be in the same region as the instance.")
        return list(dict.fromkeys(ids))

    def _launch_image(self, image: Mapping[str, Any] | None, region_name: str) -> str | None:
        """The image id used; with none requested, the default family in that region if listed."""
        if image is None:
            image = {"family": catalogue.DEFAULT_IMAGE_FAMILY}
            required = False
        else:
            required = True
        candidates = [candidate for candidate in self.images
                      if candidate["id"] == image.get("id") or candidate["family"] == image.get("family")]
        in_region = [candidate for candidate in candidates if candidate["region"]["name"] == region_name]
        chosen = (in_region or candidates or [None])[0]
        if chosen is None and required:
            raise self._launch_not_found(f"image {image!r}")
        return chosen["id"] if chosen else None

    def _live_instance_count(self) -> int:
        return sum(1 for record in self.instances.values() if record.is_live)

    def _consume_capacity(self, type_name: str, region_name: str) -> None:
        key = (type_name, region_name)
        if key not in self.capacity or self.capacity[key] == 0:
            raise insufficient_capacity()
        if self.capacity[key] is not None:
            self.capacity[key] -= 1

    def _new_instance(self, *, name: str | None, instance_type: dict[str, Any], region_name: str,
                      ssh_key_names: list[str], status: str, hostname: str | None = None,
                      ip: str | None = None, **fields: Any) -> InstanceRecord:
        public_ip = self.addresses.claim(ip) if ip else self.addresses.allocate_public()
        token = new_id()
        record = InstanceRecord(
            id=fields.pop("id", None) or new_id(), name=name, instance_type=copy.deepcopy(instance_type),
            region_name=region_name, ssh_key_names=ssh_key_names, status=status, status_since=self.clock(),
            ip=public_ip, private_ip=fields.pop("private_ip", None) or self.addresses.allocate_private(),
            hostname=hostname or public_ip.replace(".", "-"),
            jupyter_token=fields.pop("jupyter_token", None) or token,
            jupyter_url=fields.pop("jupyter_url", None), **fields)
        if record.jupyter_url is None:
            record.jupyter_url = f"https://jupyter-{new_id()}.lambdaspaces.com/?token={record.jupyter_token}"
        self.instances[record.id] = record
        return record

    # -- seeding ---------------------------------------------------------

    def seed_instance(self, spec: Mapping[str, Any]) -> str:
        """Create an instance directly, bypassing the API (see LambdaEmulator.seed_instances)."""
        unknown = set(spec) - INSTANCE_SEED_FIELDS
        if unknown:
            raise ValueError(f"unknown instance seed fields: {sorted(unknown)}")
        spec = dict(spec)
        type_name = spec.pop("instance_type", "gpu_1x_a10")
        region_name = spec.pop("region", "us-east-1")
        status = spec.pop("status", "active")
        omit = set(spec.pop("omit", []))
        if type_name not in self.instance_types:
            raise ValueError(f"unknown instance type {type_name!r}")
        if region_name not in catalogue.REGION_DESCRIPTIONS:
            raise ValueError(f"unknown region {region_name!r}")
        if status not in INSTANCE_STATUSES:
            raise ValueError(f"status must be one of {INSTANCE_STATUSES}")
        if not omit <= OPTIONAL_INSTANCE_FIELDS:
            raise ValueError(f"only optional fields can be omitted: {sorted(OPTIONAL_INSTANCE_FIELDS)}")
        instance_id = spec.pop("id", None)
        if instance_id is not None and (not re.fullmatch(r"[0-9a-f]{32}", instance_id) or instance_id in self.instances):
            raise ValueError(f"instance id {instance_id!r} is not 32 hex characters or already exists")
        record = self._new_instance(
            id=instance_id, name=spec.pop("name", None), instance_type=self.instance_types[type_name],
            region_name=region_name, ssh_key_names=list(spec.pop("ssh_key_names", ["emulator-key"])),
            status=status, hostname=spec.pop("hostname", None), ip=spec.pop("ip", None),
            private_ip=spec.pop("private_ip", None), jupyter_token=spec.pop("jupyter_token", None),
            jupyter_url=spec.pop("jupyter_url", None),
            file_system_names=list(spec.pop("file_system_names", [])),
            file_system_mounts=list(spec.pop("file_system_mounts", [])),
            tags=_parse_tags(spec.pop("tags", None)),
            firewall_ruleset_ids=[entry["id"] if isinstance(entry, Mapping) else entry
                                  for entry in spec.pop("firewall_rulesets", [])],
            omitted_fields=omit, extra_fields=dict(spec.pop("extra", {})),
            hold_status=bool(spec.pop("hold_status", False)), cluster_id=spec.pop("cluster_id", None))
        return record.id

    # -- capacity --------------------------------------------------------

    def set_capacity(self, type_name: str, region_name: str, count: int | None) -> None:
        if type_name not in self.instance_types:
            raise ValueError(f"unknown instance type {type_name!r}")
        if region_name not in catalogue.REGION_DESCRIPTIONS:
            raise ValueError(f"unknown region {region_name!r}")
        if count is not None and (not isinstance(count, int) or count < 0):
            raise ValueError("capacity count must be an integer >= 0, or None for unlimited")
        self.capacity[(type_name, region_name)] = count

    def instance_types_view(self) -> dict[str, Any]:
        return {name: {"instance_type": copy.deepcopy(instance_type),
                       "regions_with_capacity_available": [
                           catalogue.region(region_name) for (type_name, region_name), count in self.capacity.items()
                           if type_name == name and count != 0]}
                for name, instance_type in self.instance_types.items()}

    def capacity_view(self) -> list[dict[str, Any]]:
        return [{"instance_type": type_name, "region": region_name, "count": count}
                for (type_name, region_name), count in sorted(self.capacity.items())]

    # -- SSH keys --------------------------------------------------------

    def add_ssh_key(self, name: str, public_key: str | None = None, key_id: str | None = None) -> dict[str, str]:
        if any(key["name"] == name for key in self.ssh_keys.values()):
            raise invalid_parameters("Invalid request data.", f"An SSH key named {name!r} already exists.")
        private_key = None
        if public_key is None:
            public_key, private_key = generate_ssh_key_pair()
        elif not SSH_PUBLIC_KEY_PATTERN.match(public_key.strip()):
            raise invalid_parameters("Invalid request data.", "public_key is not a valid OpenSSH public key.")
        key = {"id": key_id or new_id(), "name": name, "public_key": public_key.strip()}
        self.ssh_keys[key["id"]] = key
        return {**key, "private_key": private_key} if private_key else dict(key)

    def delete_ssh_key(self, key_id: str) -> None:
        # The spec documents no 404 here; a missing key is an invalid parameter.
        if self.ssh_keys.pop(key_id, None) is None:
            raise invalid_parameters("Invalid request data.", f"SSH key {key_id!r} does not exist.")

    # -- filesystems -----------------------------------------------------

    def create_filesystem(self, name: str, region_name: str, filesystem_id: str | None = None) -> dict[str, Any]:
        if self.config.billing_address_invalid:
            raise invalid_billing_address()
        if any(filesystem["name"] == name for filesystem in self.filesystems.values()):
            raise ApiError(400, "global/duplicate", f"A filesystem named {name!r} already exists.")
        filesystem = {"id": filesystem_id or new_id(), "name": name, "mount_point": f"/lambda/nfs/{name}",
                      "created": utc_timestamp(), "created_by": dict(EMULATOR_USER),
                      "region": catalogue.region(region_name), "bytes_used": 0}
        self.filesystems[filesystem["id"]] = filesystem
        return self.filesystem_view(filesystem)

    def filesystem_view(self, filesystem: Mapping[str, Any]) -> dict[str, Any]:
        return {**copy.deepcopy(dict(filesystem)), "is_in_use": self._filesystem_in_use(filesystem["name"])}

    def _filesystem_in_use(self, name: str) -> bool:
        return any(record.is_live and name in record.file_system_names for record in self.instances.values())

    def delete_filesystem(self, filesystem_id: str) -> None:
        filesystem = self.filesystems.get(filesystem_id)
        if filesystem is None:
            raise filesystem_not_found()
        if self._filesystem_in_use(filesystem["name"]):
            raise ApiError(400, "filesystems/filesystem-in-use", "Filesystem is in use by one or more instances.",
                           "Terminate the instances that use the filesystem, then try again.")
        del self.filesystems[filesystem_id]

    # -- firewall --------------------------------------------------------

    @staticmethod
    def check_rules(rules: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        for rule in rules:
            problem = firewall_rule_problem(rule)
            if problem:
                raise invalid_parameters("Invalid request data.", problem)
        return [copy.deepcopy(dict(rule)) for rule in rules]

    def create_firewall_ruleset(self, name: str, region_name: str, rules: list[Mapping[str, Any]],
                                ruleset_id: str | None = None) -> dict[str, Any]:
        ruleset = {"id": ruleset_id or new_id(), "name": name, "region": catalogue.region(region_name),
                   "rules": self.check_rules(rules), "created": utc_timestamp()}
        self.firewall_rulesets[ruleset["id"]] = ruleset
        return self.firewall_ruleset_view(ruleset["id"])

    def firewall_ruleset_view(self, ruleset_id: str) -> dict[str, Any]:
        ruleset = self.firewall_rulesets.get(ruleset_id)
        if ruleset is None:
            raise firewall_ruleset_not_found()
        return {**copy.deepcopy(ruleset), "instance_ids": self._ruleset_instance_ids(ruleset_id)}

    def _ruleset_instance_ids(self, ruleset_id: str) -> list[str]:
        return [record.id for record in self.instances.values()
                if record.is_live and ruleset_id in record.firewall_ruleset_ids]

    def update_firewall_ruleset(self, ruleset_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        ruleset = self.firewall_rulesets.get(ruleset_id)
        if ruleset is None:
            raise firewall_ruleset_not_found()
        rules = self.check_rules(body["rules"]) if "rules" in body else ruleset["rules"]
        ruleset["name"] = body.get("name", ruleset["name"])
        ruleset["rules"] = rules
        return self.firewall_ruleset_view(ruleset_id)

    def delete_firewall_ruleset(self, ruleset_id: str) -> None:
        if ruleset_id not in self.firewall_rulesets:
            raise firewall_ruleset_not_found()
        if self._ruleset_instance_ids(ruleset_id):
            raise ApiError(400, "firewall-rulesets/firewall-ruleset-in-use",
                           "Firewall ruleset is in use by one or more instances.",
                           "Terminate all instances that are using the ruleset before deleting it.")
        del self.firewall_rulesets[ruleset_id]

    def global_firewall_ruleset(self) -> dict[str, Any]:
        return {"id": "global", "name": "Global Firewall Rules", "rules": copy.deepcopy(self.global_firewall_rules)}

    def set_global_firewall_rules(self, rules: list[Mapping[str, Any]]) -> None:
        self.global_firewall_rules = self.check_rules(rules)

    # -- whole-state views -----------------------------------------------

    def dump(self) -> dict[str, Any]:
        return {
            "instances": [record.internal_view() for record in self.instances.values()],
            "ssh_keys": [dict(key) for key in self.ssh_keys.values()],
            "filesystems": [self.filesystem_view(filesystem) for filesystem in self.filesystems.values()],
            "firewall_rulesets": [self.firewall_ruleset_view(ruleset_id) for ruleset_id in self.firewall_rulesets],
            "global_firewall_rules": copy.deepcopy(self.global_firewall_rules),
            "capacity": self.capacity_view(),
        }


# ---------------------------------------------------------------------------
# Routing
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: str  # name of a LambdaEmulator method taking an ApiRequest
    pattern: re.Pattern[str]


def _route(method: str, template: str, handler: str) -> Route:
    pattern = re.escape(template).replace(r"\{id\}", r"(?P<id>[^/]+)")
    return Route(method, template, handler, re.compile(f"^{pattern}$"))


# "/firewall-rulesets/global" precedes "/firewall-rulesets/{id}" so it wins.
ROUTES: tuple[Route, ...] = tuple(_route(method, API_PREFIX + path, handler) for method, path, handler in (
    ("GET", "/instances", "_api_list_instances"),
    ("GET", "/instances/{id}", "_api_get_instance"),
    ("POST", "/instances/{id}", "_api_rename_instance"),
    ("GET", "/instance-types", "_api_instance_types"),
    ("POST", "/instance-operations/launch", "_api_launch"),
    ("POST", "/instance-operations/restart", "_api_restart"),
    ("POST", "/instance-operations/terminate", "_api_terminate"),
    ("GET", "/ssh-keys", "_api_list_ssh_keys"),
    ("POST", "/ssh-keys", "_api_add_ssh_key"),
    ("DELETE", "/ssh-keys/{id}", "_api_delete_ssh_key"),
    ("GET", "/file-systems", "_api_list_filesystems"),
    ("POST", "/filesystems", "_api_create_filesystem"),
    ("DELETE", "/filesystems/{id}", "_api_delete_filesystem"),
    ("GET", "/images", "_api_list_images"),
    ("GET", "/firewall-rules", "_api_list_firewall_rules"),
    ("PUT", "/firewall-rules", "_api_set_firewall_rules"),
    ("GET", "/firewall-rulesets", "_api_list_firewall_rulesets"),
    ("POST", "/firewall-rulesets", "_api_create_firewall_ruleset"),
    ("GET", "/firewall-rulesets/global", "_api_get_global_firewall_ruleset"),
    ("PATCH", "/firewall-rulesets/global", "_api_update_global_firewall_ruleset"),
    ("GET", "/firewall-rulesets/{id}", "_api_get_firewall_ruleset"),
    ("PATCH", "/firewall-rulesets/{id}", "_api_update_firewall_ruleset"),
    ("DELETE", "/firewall-rulesets/{id}", "_api_delete_firewall_ruleset"),
    ("GET", "/audit-events", "_api_audit_events"),
))


def match_route(method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
    """(route, path parameters, methods allowed on the path when the method is wrong)."""
    allowed: list[str] = []
    for route in ROUTES:
        found = route.pattern.match(path)
        if not found:
            continue
        if route.method == method:
            return route, found.groupdict(), []
        allowed.append(route.method)
    return None, {}, sorted(set(allowed))


# ---------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class AuthResult:
    scheme: str | None
    key: str | None  # the key presented, if one could be read


def read_authorization(header: str | None) -> AuthResult:
    """Bearer <key>, Basic base64(<key>:) or Basic <key>, as the spec's securitySchemes allow."""
    if not header:
        return AuthResult(None, None)
    scheme, _separator, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        return AuthResult("bearer", credentials)
    if scheme.lower() != "basic" or not credentials:
        return AuthResult("unknown", None)
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if decoded.endswith(":") and decoded[:-1]:
        return AuthResult("basic", decoded[:-1])
    return AuthResult("basic-raw", credentials)


# ---------------------------------------------------------------------------
# The emulator
# ---------------------------------------------------------------------------

@dataclass
class ApiRequest:
    params: dict[str, str]
    query: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as-is instead of JSON (malformed-body faults)
    drop: bool = False  # close the connection without answering


def _error_reply(error: ApiError) -> Reply:
    return Reply(error.status, error.envelope(), dict(error.headers))


class LambdaEmulator:
    """The Lambda Cloud API on 127.0.0.1, with test controls.

    Use as ``with LambdaEmulator(time_scale=0.01) as emu:``; ``emu.url`` is the API
    base URL and ``emu.api_key`` a valid key. Keyword arguments are EmulatorConfig
    fields. ``response_hook(method, path_template, status, body)`` is called for
    every /api/v1 response except deliberately broken ones (malformed or dropped).
    """

    def __init__(self, *, response_hook: ResponseHook | None = None, spec: SpecValidator | None = None,
                 state: Mapping[str, Any] | None = None, state_file: str | Path | None = None,
                 **config: Any) -> None:
        unknown = set(config) - _config_field_names()
        if unknown:
            raise TypeError(f"unknown emulator settings: {sorted(unknown)}")
        self._initial_config = EmulatorConfig(**copy.deepcopy(config))
        self._initial_config.validate()
        self._initial_state = dict(state or {})
        if state_file is not None:
            self._initial_state = {**json.loads(Path(state_file).read_text()), **self._initial_state}
        self.response_hook = response_hook
        self.spec = spec or SpecValidator()
        self.internal_errors: list[str] = []
        self._lock = threading.RLock()
        self._faults = FaultQueue()
        self._log = RequestLog()
        self._limiter = RateLimiter()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._restore_initial_state()

    # -- server lifecycle ------------------------------------------------

    def start(self) -> LambdaEmulator:
        if self._server is not None:
            return self
        server = _EmulatorHTTPServer((self.config.host, self.config.port), _RequestHandler)
        server.emulator = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name=f"lambda-emulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LambdaEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def control_url(self) -> str:
        return self.base_url + CONTROL_PREFIX

    @property
    def api_key(self) -> str:
        return (self.config.api_keys or self.config.inactive_api_keys)[0]

    @staticmethod
    def fingerprint(key: str) -> str:
        """How the request log names a key without storing it."""
        return hashlib.sha256(key.encode()).hexdigest()[:12]

    # -- clock -----------------------------------------------------------

    def now(self) -> float:
        """The emulator's clock: time.monotonic() plus whatever advance() added."""
        return time.monotonic() + self._clock_offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward by nominal seconds (scaled like every other delay)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._clock_offset += self.config.scaled(seconds)

    # -- configuration and state -----------------------------------------

    def configure(self, **changes: Any) -> dict[str, Any]:
        not_settable = set(changes) - (_config_field_names() - {"host", "port"})
        if not_settable:
            raise ValueError(f"unknown settings, or settings fixed once started: {sorted(not_settable)}")
        with self._lock:
            candidate = dataclasses.replace(self.config, **copy.deepcopy(changes))
            candidate.validate()
            self.config = candidate
            self.cloud.config = candidate
            return candidate.to_dict()

    def reset(self) -> None:
        """Back to the state and config the emulator was built with; faults, log and limits cleared."""
        with self._lock:
            self._faults.clear()
            self._log.clear()
            self._limiter.reset()
            self.internal_errors.clear()
            self._restore_initial_state()

    def _restore_initial_state(self) -> None:
        with self._lock:
            self.config = copy.deepcopy(self._initial_config)
            self._clock_offset = 0.0
            # What stands behind the instances (the lab's containers) outlives a reset of the records.
            backend = self.cloud.backend if hasattr(self, "cloud") else None
            self.cloud = CloudState(self.config, self.now)
            self.cloud.backend = backend
            if self._initial_state:
                self.load_state(self._initial_state)

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Seed resources, as from a --state-file. Every section is optional:

            {"config": {EmulatorConfig fields but host/port},
             "ssh_keys": [{"name", "public_key"?, "id"?}],
             "filesystems": [{"name", "region", "id"?}],
             "firewall_rulesets": [{"name", "region", "rules", "id"?}],
             "global_firewall_rules": [FirewallRule, ...],
             "capacity": [{"instance_type", "region", "count"}] or {"clear": true, "entries": [...]},
             "instances": [seed specs, see seed_instances()]}
        """
        known = {"config", "ssh_keys", "filesystems", "firewall_rulesets", "global_firewall_rules", "capacity", "instances"}
        unknown = set(state) - known
        if unknown:
            raise ValueError(f"unknown state sections: {sorted(unknown)}")
        with self._lock:
            if "config" in state:
                self.configure(**state["config"])
            for key in state.get("ssh_keys", []):
                self.cloud.add_ssh_key(key["name"], key.get("public_key"), key.get("id"))
            for filesystem in state.get("filesystems", []):
                self.cloud.create_filesystem(filesystem["name"], filesystem["region"], filesystem.get("id"))
            for ruleset in state.get("firewall_rulesets", []):
                self.cloud.create_firewall_ruleset(ruleset["name"], ruleset["region"], ruleset.get("rules", []),
                                                   ruleset.get("id"))
            if "global_firewall_rules" in state:
                self.cloud.set_global_firewall_rules(state["global_firewall_rules"])
            if "capacity" in state:
                self._apply_capacity_document(state["capacity"])
            if "instances" in state:
                self.seed_instances(state["instances"])

    def state(self) -> dict[str, Any]:
        with self._lock:
            self.cloud.refresh()
            return {**self.cloud.dump(), "config": self.config.to_dict(),
                    "faults": [fault.to_dict() for fault in self._faults.pending()]}

    # -- resources, bypassing the API (no auth, rate limits or faults) ----

    def seed_instances(self, specs: Iterable[Mapping[str, Any]] | None = None, *, count: int | None = None,
                       template: Mapping[str, Any] | None = None) -> list[str]:
        """Create instances directly; returns their ids.

        Either ``specs`` (one mapping per instance) or ``count`` copies of
        ``template``, where "{index}" in the name is replaced by 0..count-1.
        A spec's keys: id, name, instance_type, region, status (default "active"),
        ssh_key_names, tags (list or mapping), file_system_names, file_system_mounts,
        firewall_rulesets, ip, private_ip, hostname, jupyter_token, jupyter_url,
        cluster_id, omit (optional fields to leave out), hold_status (freeze the
        status), extra (additional fields in the API view).
        """
        if count is not None:
            specs = [self._spec_from_template(template or {}, index) for index in range(count)]
        with self._lock:
            created: list[str] = []
            try:
                for spec in specs or []:
                    created.append(self.cloud.seed_instance(spec))
            except Exception:
                for instance_id in created:
                    self.cloud.forget(self.cloud.instances[instance_id])
                raise
            return created

    @staticmethod
    def _spec_from_template(template: Mapping[str, Any], index: int) -> dict[str, Any]:
        spec = copy.deepcopy(dict(template))
        if isinstance(spec.get("name"), str):
            spec["name"] = spec["name"].replace("{index}", str(index))
        return spec

    def add_ssh_key(self, name: str, public_key: str | None = None) -> dict[str, str]:
        with self._lock:
            return self._as_value_error(self.cloud.add_ssh_key, name, public_key)

    def add_filesystem(self, name: str, region: str) -> dict[str, Any]:
        with self._lock:
            return self._as_value_error(self.cloud.create_filesystem, name, region)

    def add_firewall_ruleset(self, name: str, region: str, rules: list[Mapping[str, Any]]) -> dict[str, Any]:
        with self._lock:
            return self._as_value_error(self.cloud.create_firewall_ruleset, name, region, rules)

    @staticmethod
    def _as_value_error(function: Callable[..., Any], *args: Any) -> Any:
        try:
            return function(*args)
        except ApiError as error:
            raise ValueError(error.envelope()["error"]) from error

    def set_capacity(self, instance_type: str, region: str, count: int | None) -> None:
        """Units of ``instance_type`` launchable in ``region``; None is unlimited, 0 is none."""
        with self._lock:
            self.cloud.set_capacity(instance_type, region, count)

    def clear_capacity(self) -> None:
        """No capacity anywhere; follow with set_capacity() for what a test needs."""
        with self._lock:
            self.cloud.capacity.clear()

    def capacity(self) -> list[dict[str, Any]]:
        with self._lock:
            return self.cloud.capacity_view()

    def _apply_capacity_document(self, document: Any) -> None:
        """A list of {instance_type, region, count}, or {"clear": bool, "entries": [...]}."""
        entries = document
        if isinstance(document, Mapping):
            if document.get("clear"):
                self.clear_capacity()
            entries = document.get("entries", [])
        for entry in entries:
            self.set_capacity(entry["instance_type"], entry["region"], entry.get("count"))

    def instance(self, instance_id: str) -> dict[str, Any]:
        """An instance's internal view (API fields plus an "emulator" section)."""
        with self._lock:
            self.cloud.refresh()
            record = self.cloud.instances.get(instance_id)
            if record is None:
                raise KeyError(instance_id)
            return record.internal_view()

    def instances(self) -> list[dict[str, Any]]:
        with self._lock:
            self.cloud.refresh()
            return [record.internal_view() for record in self.cloud.instances.values()]

    # -- faults and the request log --------------------------------------

    def add_fault(self, fault: Fault | None = None, **fields: Any) -> Fault:
        """Queue a Fault, or build one from Fault's fields: add_fault(kind="drop", path="/instances")."""
        fault = fault if fault is not None else Fault(**fields)
        self._faults.add(fault)
        return fault

    def add_faults(self, faults: Iterable[Fault | Mapping[str, Any]]) -> list[Fault]:
        built = [fault if isinstance(fault, Fault) else Fault.from_dict(fault) for fault in faults]
        for fault in built:
            self._faults.add(fault)
        return built

    def clear_faults(self) -> None:
        self._faults.clear()

    def faults(self) -> list[Fault]:
        return self._faults.pending()

    def requests(self, method: str | None = None, path: str | None = None) -> list[RequestRecord]:
        return self._log.select(method, path)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return len(self._log.select(method, path))

    def clear_requests(self) -> None:
        self._log.clear()

    # -- the API request pipeline ----------------------------------------

    def handle_api(self, method: str, target: str, headers: Mapping[str, str], raw_body: bytes) -> Reply:
        """Faults, auth, rate limits, body validation, the operation, logging and the hook."""
        url = urlsplit(target)
        route, params, allowed = match_route(method, url.path)
        query = {name: values[0] for name, values in parse_qs(url.query, keep_blank_values=True).items()}
        body, body_error = _parse_json_body(raw_body)
        record = RequestRecord(method=method, path=url.path, path_template=route.template if route else None,
                               query=query, body=redact(body), time=time.monotonic())
        reply, fault = self._apply_fault(method, url.path, after_side_effect=False)
        if reply is None:
            reply = self._process(route, allowed, ApiRequest(params, query, body), body_error, headers, record)
            if 200 <= reply.status < 300:
                after_reply, after_fault = self._apply_fault(method, url.path, after_side_effect=True)
                reply, fault = (after_reply or reply), (after_fault or fault)
        record.status = None if reply.drop else reply.status
        record.fault = fault.kind if fault else None
        self._log.append(record)
        if reply.raw is None and not reply.drop:
            self._report(method, record.path_template, reply)
        return reply

    def _apply_fault(self, method: str, path: str, after_side_effect: bool) -> tuple[Reply | None, Fault | None]:
        """The fault's reply, or None to carry on (delay faults only sleep)."""
        fault = self._faults.take(method, path, after_side_effect)
        if fault is None:
            return None, None
        if fault.delay_seconds:
            time.sleep(fault.delay_seconds)
        if fault.kind == "delay":
            return None, fault
        if fault.kind == "drop":
            return Reply(0, drop=True), fault
        if fault.kind == "malformed":
            return Reply(200, raw=b'{"data": [{"id": "0920582c7ff041399e34823a0be62549", "status": '), fault
        return _error_reply(fault.to_error()), fault

    def _process(self, route: Route | None, allowed: list[str], request: ApiRequest, body_error: str | None,
                 headers: Mapping[str, str], record: RequestRecord) -> Reply:
        if route is None:
            return self._no_route_reply(allowed)
        try:
            key = self._authenticate(headers, record)
            self._check_rate_limits(route, key)
            self._check_request_body(route, request.body, body_error)
            with self._lock:
                self.cloud.refresh()
                payload = getattr(self, route.handler)(request)
            return Reply(200, {"data": payload})
        except ApiError as error:
            return _error_reply(error)
        except Exception:  # a bug in the emulator: answer 500 and make the test fail
            self.internal_errors.append(traceback.format_exc())
            print(self.internal_errors[-1], file=sys.stderr)
            return _error_reply(internal_error())

    @staticmethod
    def _no_route_reply(allowed: list[str]) -> Reply:
        if allowed:
            reply = _error_reply(ApiError(405, "global/method-not-allowed", "Method not allowed.",
                                          f"Use one of: {', '.join(allowed)}."))
            reply.headers["Allow"] = ", ".join(allowed)
            return reply
        return _error_reply(ApiError(404, "global/object-does-not-exist", "Not found.", "Check the request path."))

    def _authenticate(self, headers: Mapping[str, str], record: RequestRecord) -> str:
        auth = read_authorization(headers.get("Authorization"))
        record.auth_scheme = auth.scheme
        config = self.config
        if auth.key is None or auth.key not in (*config.api_keys, *config.inactive_api_keys):
            raise unauthorized()
        record.key_fingerprint = self.fingerprint(auth.key)
        if auth.key not in config.api_keys:
            raise account_inactive()
        record.auth_valid = True
        return auth.key

    def _check_rate_limits(self, route: Route, key: str) -> None:
        config, now, fingerprint = self.config, self.now(), self.fingerprint(key)
        if config.time_scale <= 0:
            return
        if config.rate_limit_per_second:
            rate = config.rate_limit_per_second / config.time_scale
            self._raise_if_limited(self._limiter.take("general", fingerprint, now, rate, config.rate_limit_burst))
        if config.launch_interval_seconds and route.handler == "_api_launch":
            rate = 1.0 / config.scaled(config.launch_interval_seconds)
            self._raise_if_limited(self._limiter.take("launch", fingerprint, now, rate, config.launch_burst))

    def _raise_if_limited(self, wait_seconds: float) -> None:
        if wait_seconds <= 0:
            return
        retry_after = None
        if self.config.retry_after:
            fixed = self.config.retry_after_seconds
            retry_after = fixed if fixed is not None else math.ceil(wait_seconds)
        raise rate_limited(retry_after)

    def _check_request_body(self, route: Route, body: Any, body_error: str | None) -> None:
        if self.spec.operation(route.method, route.template).get("request") is None:
            return
        if body_error:
            raise invalid_parameters("Invalid request data.", body_error)
        errors = self.spec.request_errors(route.method, route.template, body)
        if errors:
            raise invalid_parameters("Invalid request data.", "; ".join(errors))

    def _report(self, method: str, template: str | None, reply: Reply) -> None:
        if self.response_hook is None:
            return
        try:
            self.response_hook(method, template, reply.status, reply.body)
        except Exception:  # the hook is the test's; its failure must not kill the server thread
            self.internal_errors.append("response_hook failed:\n" + traceback.format_exc())

    # -- API operations (called with the lock held, after refresh) -------

    def _api_list_instances(self, request: ApiRequest) -> Any:
        return self.cloud.list_instances(request.query.get("cluster_id"))

    def _api_get_instance(self, request: ApiRequest) -> Any:
        return self.cloud.get_instance(request.params["id"]).view()

    def _api_rename_instance(self, request: ApiRequest) -> Any:
        return self.cloud.rename_instance(request.params["id"], request.body)

    def _api_instance_types(self, request: ApiRequest) -> Any:
        return self.cloud.instance_types_view()

    def _api_launch(self, request: ApiRequest) -> Any:
        return {"instance_ids": [self.cloud.launch(request.body)]}

    def _api_restart(self, request: ApiRequest) -> Any:
        return {"restarted_instances": self.cloud.restart_instances(request.body["instance_ids"])}

    def _api_terminate(self, request: ApiRequest) -> Any:
        return {"terminated_instances": self.cloud.terminate_instances(request.body["instance_ids"])}

    def _api_list_ssh_keys(self, request: ApiRequest) -> Any:
        return [dict(key) for key in self.cloud.ssh_keys.values()]

    def _api_add_ssh_key(self, request: ApiRequest) -> Any:
        return self.cloud.add_ssh_key(request.body["name"], request.body.get("public_key"))

    def _api_delete_ssh_key(self, request: ApiRequest) -> Any:
        self.cloud.delete_ssh_key(request.params["id"])
        return {}

    def _api_list_filesystems(self, request: ApiRequest) -> Any:
        return [self.cloud.filesystem_view(filesystem) for filesystem in self.cloud.filesystems.values()]

    def _api_create_filesystem(self, request: ApiRequest) -> Any:
        return self.cloud.create_filesystem(request.body["name"], request.body["region"])

    def _api_delete_filesystem(self, request: ApiRequest) -> Any:
        self.cloud.delete_filesystem(request.params["id"])
        return {"deleted_ids": [request.params["id"]]}

    def _api_list_images(self, request: ApiRequest) -> Any:
        return copy.deepcopy(self.cloud.images)

    def _api_list_firewall_rules(self, request: ApiRequest) -> Any:
        return copy.deepcopy(self.cloud.global_firewall_rules)

    def _api_set_firewall_rules(self, request: ApiRequest) -> Any:
        self.cloud.set_global_firewall_rules(request.body["data"])
        return copy.deepcopy(self.cloud.global_firewall_rules)

    def _api_list_firewall_rulesets(self, request: ApiRequest) -> Any:
        return [self.cloud.firewall_ruleset_view(ruleset_id) for ruleset_id in self.cloud.firewall_rulesets]

    def _api_create_firewall_ruleset(self, request: ApiRequest) -> Any:
        body = request.body
        return self.cloud.create_firewall_ruleset(body["name"], body["region"], body["rules"])

    def _api_get_global_firewall_ruleset(self, request: ApiRequest) -> Any:
        return self.cloud.global_firewall_ruleset()

    def _api_update_global_firewall_ruleset(self, request: ApiRequest) -> Any:
        if "rules" in request.body:
            self.cloud.set_global_firewall_rules(request.body["rules"])
        return self.cloud.global_firewall_ruleset()

    def _api_get_firewall_ruleset(self, request: ApiRequest) -> Any:
        return self.cloud.firewall_ruleset_view(request.params["id"])

    def _api_update_firewall_ruleset(self, request: ApiRequest) -> Any:
        return self.cloud.update_firewall_ruleset(request.params["id"], request.body)

    def _api_delete_firewall_ruleset(self, request: ApiRequest) -> Any:
        self.cloud.delete_firewall_ruleset(request.params["id"])
        return {}

    def _api_audit_events(self, request: ApiRequest) -> Any:
        # Not emulated beyond the envelope: no events, no further page.
        return {"events": [], "page_token": None}

    # -- control API (/_emulator/...) -------------------------------------

    def handle_control(self, method: str, target: str, raw_body: bytes) -> Reply:
        """Test controls: no auth, no faults, not logged, not spec-validated."""
        url = urlsplit(target)
        action = url.path[len(CONTROL_PREFIX):].strip("/")
        body, body_error = _parse_json_body(raw_body)
        if body_error:
            return Reply(400, {"error": body_error})
        handler = self._control_handlers().get((method, action))
        if handler is None:
            return Reply(404, {"error": f"no control endpoint {method} {url.path}"})
        try:
            return Reply(200, handler(body, url.query))
        except ApiError as error:
            return Reply(400, {"error": error.envelope()["error"]})
        except (ValueError, KeyError, TypeError) as error:
            return Reply(400, {"error": f"{type(error).__name__}: {error}"})

    def _control_handlers(self) -> dict[tuple[str, str], Callable[[Any, str], Any]]:
        """(method, action) -> handler(body, query string) returning the JSON answer."""
        return {
            ("GET", "health"): self._control_health,
            ("GET", "requests"): self._control_list_requests,
            ("DELETE", "requests"): self._control_clear_requests,
            ("GET", "faults"): self._control_list_faults,
            ("POST", "faults"): self._control_add_faults,
            ("DELETE", "faults"): self._control_clear_faults,
            ("GET", "capacity"): self._control_get_capacity,
            ("POST", "capacity"): self._control_set_capacity,
            ("POST", "instances"): self._control_seed_instances,
            ("POST", "ssh-keys"): self._control_add_ssh_keys,
            ("POST", "reset"): self._control_reset,
            ("GET", "state"): self._control_get_state,
            ("POST", "state"): self._control_load_state,
            ("GET", "config"): self._control_get_config,
            ("POST", "config"): self._control_configure,
            ("POST", "advance"): self._control_advance,
        }

    def _control_health(self, body: Any, query: str) -> Any:
        return {"ok": True, "url": self.url}

    def _control_clear_requests(self, body: Any, query: str) -> Any:
        self.clear_requests()
        return {"cleared": True}

    def _control_list_faults(self, body: Any, query: str) -> Any:
        return {"faults": [fault.to_dict() for fault in self.faults()]}

    def _control_clear_faults(self, body: Any, query: str) -> Any:
        self.clear_faults()
        return {"cleared": True}

    def _control_get_capacity(self, body: Any, query: str) -> Any:
        return {"capacity": self.capacity()}

    def _control_reset(self, body: Any, query: str) -> Any:
        self.reset()
        return {"reset": True}

    def _control_get_state(self, body: Any, query: str) -> Any:
        return self.state()

    def _control_load_state(self, body: Any, query: str) -> Any:
        self.load_state(body or {})
        return self.state()

    def _control_get_config(self, body: Any, query: str) -> Any:
        return self.config.to_dict()

    def _control_configure(self, body: Any, query: str) -> Any:
        return self.configure(**(body or {}))

    def _control_advance(self, body: Any, query: str) -> Any:
        self.advance(float(body["seconds"]))
        return {"advanced": True}

    def _control_list_requests(self, body: Any, query: str) -> Any:
        filters = {name: values[0] for name, values in parse_qs(query).items() if name in ("method", "path")}
        return {"requests": [record.to_dict() for record in self.requests(**filters)]}

    def _control_add_faults(self, body: Any, query: str) -> Any:
        faults = self.add_faults(body if isinstance(body, list) else [body])
        return {"added": [fault.to_dict() for fault in faults]}

    def _control_set_capacity(self, body: Any, query: str) -> Any:
        with self._lock:
            self._apply_capacity_document(body if isinstance(body, list | dict) else [])
        return {"capacity": self.capacity()}

    def _control_seed_instances(self, body: Any, query: str) -> Any:
        if isinstance(body, Mapping) and "count" in body:
            ids = self.seed_instances(count=int(body["count"]), template=body.get("template"))
        else:
            ids = self.seed_instances(body if isinstance(body, list) else body["instances"])
        return {"instance_ids": ids}

    def _control_add_ssh_keys(self, body: Any, query: str) -> Any:
        keys = body if isinstance(body, list) else [body]
        return {"ssh_keys": [self.add_ssh_key(key["name"], key.get("public_key")) for key in keys]}


def _parse_json_body(raw_body: bytes) -> tuple[Any, str | None]:
    """(parsed body or None, error text if it is not JSON)."""
    if not raw_body.strip():
        return None, None
    try:
        return json.loads(raw_body), None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"The request body is not valid JSON: {error}"


# ---------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------

class _EmulatorHTTPServer(ThreadingHTTPServer):
    # Daemon threads: a request stuck in a delay fault must not block stop().
    daemon_threads = True
    allow_reuse_address = True
    emulator: LambdaEmulator


class _RequestHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive, like the real API; every reply carries Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "LambdaCloudEmulator/1.0"
    server: _EmulatorHTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        emulator = self.server.emulator
        raw_body = self._read_body()
        if raw_body is None:
            return
        if urlsplit(self.path).path.startswith(CONTROL_PREFIX):
            reply = emulator.handle_control(self.command, self.path, raw_body)
        else:
            reply = emulator.handle_api(self.command, self.path, self.headers, raw_body)
        self._send(reply)

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            # No client this project uses streams bodies; refuse rather than misread the stream.
            self.close_connection = True
            self._send(Reply(411, {"error": {"code": "global/invalid-parameters", "message": "Send a Content-Length."}}))
            return None
        length_header = self.headers.get("Content-Length") or "0"
        try:
            length = int(length_header)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            self._send(Reply(413 if length > MAX_BODY_BYTES else 400,
                             {"error": {"code": "global/invalid-parameters", "message": "Invalid request body length."}}))
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, reply: Reply) -> None:
        if reply.drop:
            self._drop_connection()
            return
        payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up first (a timeout during a delay fault): nothing to tell it.
            self.close_connection = True

    def _drop_connection(self) -> None:
        """Close without a status line, as a crashed proxy would."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may already be gone
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        if self.server.emulator.config.verbose:
            super().log_message(format, *args)
