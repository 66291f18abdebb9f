"""Validation of request and response bodies against Lambda's OpenAPI spec, in its compact form.

The emulator validates against lambda_emulator/openapi_compact.json: every operation's
parameters and bodies and the schemas they use, generated from Lambda's published OpenAPI
3.1 document by compact_schema.py and kept in the repository, so a plain clone runs every test.
Its schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect), so the whole document is registered
as one schema resource and each operation's schema is reached by a JSON pointer into it; its
"#/schemas/..." refs then resolve inside the same document. Formats (date-time, ipv4network,
password) are annotations only, as in 2020-12 by default.

The full document is only needed to check the compact one for drift (SPEC_ENV_VAR, or
full_spec_path()), which tests/emulator/test_emulator_spec.py does when it is available.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from .compact_schema import COMPACT_SCHEMA_PATH

SPEC_ENV_VAR = "LAMBDA_OPENAPI_SPEC"
SPEC_FILE_NAME = "lambda-cloud-openapi-1.8.3.json"
_SCHEMA_URI = "urn:lambda-cloud-openapi-compact"
_MAX_REPORTED_ERRORS = 5

# Statuses the spec does not list (429, 5xx, 405...) carry Lambda's documented
# error envelope; this is its shape, stricter than the spec's per-code schemas.
GENERIC_ERROR_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "additionalProperties": False,
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "minLength": 1},
                "message": {"type": "string"},
                "suggestion": {"type": "string"},
            },
        },
    },
}


class SpecNotFoundError(FileNotFoundError):
    """The compact schema file is missing."""


class SpecViolation(AssertionError):
    """A body does not match the spec."""


def repository_root() -> Path:
    """<repo> is two levels above this package (tools/lambda_emulator/)."""
    return Path(__file__).resolve().parents[2]


def full_spec_path() -> Path:
    """Where Lambda's full OpenAPI document is, for the drift check: $LAMBDA_OPENAPI_SPEC, else the
    shared reference copy next to the repository (which a plain clone does not have)."""
    from_env = os.environ.get(SPEC_ENV_VAR)
    return Path(from_env) if from_env else repository_root().parent / "shared" / "reference" / SPEC_FILE_NAME


@functools.lru_cache(maxsize=4)
def _load_schema(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def _json_pointer(*parts: str) -> str:
    return "/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def _describe(error: Any) -> str:
    location = "/".join(str(part) for part in error.absolute_path) or "<root>"
    return f"{location}: {error.message}"


class SpecValidator:
    """Checks bodies against the operations of the compact Lambda Cloud API schema."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else COMPACT_SCHEMA_PATH
        if not self.path.is_file():
            raise SpecNotFoundError(f"The compact Lambda Cloud API schema is not at {self.path}; regenerate it with "
                                    f"python -m lambda_emulator.compact_schema --spec <Lambda's OpenAPI file>.")
        self.spec = _load_schema(self.path.resolve())
        self._registry = Registry().with_resource(_SCHEMA_URI, DRAFT202012.create_resource(self.spec))
        self._validators: dict[str, Draft202012Validator] = {}
        self._validators_lock = threading.Lock()

    # -- lookups ---------------------------------------------------------

    @property
    def version(self) -> str:
        return str(self.spec["source"]["version"])

    def operations(self) -> list[tuple[str, str]]:
        """(METHOD, path template) for every operation in the spec."""
        return [(method.upper(), template) for template, item in self.spec["operations"].items() for method in item]

    def operation(self, method: str, template: str | None) -> dict[str, Any] | None:
        if template is None:
            return None
        return self.spec["operations"].get(template, {}).get(method.lower())

    def documented_statuses(self, method: str, template: str) -> list[int]:
        operation = self.operation(method, template) or {}
        return sorted(int(status) for status in operation.get("responses", {}))

    # -- validation ------------------------------------------------------

    def response_errors(self, method: str, template: str | None, status: int, body: Any) -> list[str]:
        """Problems with a response body; empty when it matches the spec."""
        operation = self.operation(method, template)
        if operation is not None and str(status) in operation.get("responses", {}):
            if operation["responses"][str(status)] is None:
                return [] if body is None else [f"{method.upper()} {template} -> {status} has no body in the spec"]
            return self._errors(_json_pointer("operations", template, method.lower(), "responses", str(status)), body)
        if status >= 400:
            return self._errors(None, body)
        if operation is None:
            return [f"{method.upper()} {template}: no such operation in the spec"]
        return [f"{method.upper()} {template}: status {status} is not documented"]

    def request_errors(self, method: str, template: str, body: Any) -> list[str]:
        """Problems with a request body; empty when it matches the spec."""
        operation = self.operation(method, template)
        if operation is None:
            return [f"{method.upper()} {template}: no such operation in the spec"]
        request_body = operation.get("request")
        if request_body is None:
            return []
        if body is None:
            return ["a JSON request body is required"] if request_body.get("required") else []
        return self._errors(_json_pointer("operations", template, method.lower(), "request", "schema"), body)

    def validate_response(self, method: str, template: str | None, status: int, body: Any) -> None:
        errors = self.response_errors(method, template, status, body)
        if errors:
            raise SpecViolation(f"{method.upper()} {template} -> {status}: " + "; ".join(errors))

    def validate_request(self, method: str, template: str, body: Any) -> None:
        errors = self.request_errors(method, template, body)
        if errors:
            raise SpecViolation(f"{method.upper()} {template} request: " + "; ".join(errors))

    # -- internals -------------------------------------------------------

    def _errors(self, pointer: str | None, body: Any) -> list[str]:
        validator = self._validator(pointer)
        errors = sorted(validator.iter_errors(body), key=lambda error: list(error.absolute_path))
        messages = [_describe(error) for error in errors[:_MAX_REPORTED_ERRORS]]
        if len(errors) > _MAX_REPORTED_ERRORS:
            messages.append(f"... and {len(errors) - _MAX_REPORTED_ERRORS} more")
        return messages

    def _validator(self, pointer: str | None) -> Draft202012Validator:
        """One compiled validator per schema location; None means the generic error envelope."""
        key = pointer or ""
        with self._validators_lock:
            validator = self._validators.get(key)
            if validator is None:
                schema = {"$ref": f"{_SCHEMA_URI}#{pointer}"} if pointer else GENERIC_ERROR_ENVELOPE
                validator = Draft202012Validator(schema, registry=self._registry)
                self._validators[key] = validator
            return validator
