"""Lambda's published OpenAPI document, reduced to what the emulator's validation needs.

The full document (../shared/reference/lambda-cloud-openapi-1.8.3.json) is reference material that a
plain clone of the repository does not have. This script keeps, for every operation, its path,
method, parameters, request body and response bodies, and for every schema the fields, types,
enums, constants, patterns, bounds and required lists; it drops the prose (descriptions, titles,
examples, defaults). The result, lambda_emulator/openapi_compact.json, ships in the repository
and is what SpecValidator reads; tests/emulator/test_emulator_spec.py regenerates it from the full
document whenever that is available and fails on any difference.

    python -m lambda_emulator.compact_schema --spec ../shared/reference/lambda-cloud-openapi-1.8.3.json   # rewrite
    python -m lambda_emulator.compact_schema --spec ... --check                                            # compare only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

COMPACT_SCHEMA_PATH = Path(__file__).with_name("openapi_compact.json")
GENERATOR = "tools/lambda_emulator/compact_schema.py"

# JSON Schema keywords that constrain a value: kept.
VALIDATION_KEYWORDS = frozenset((
    "$ref", "type", "enum", "const", "format", "pattern", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "multipleOf", "items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains", "properties",
    "patternProperties", "additionalProperties", "propertyNames", "required", "minProperties", "maxProperties", "anyOf", "oneOf",
    "allOf", "not",
))
# Keywords that only document: dropped. Any other keyword stops the generator, so that a new
# constraint in a future spec is never dropped silently.
ANNOTATION_KEYWORDS = frozenset(("description", "title", "examples", "example", "default", "readOnly", "writeOnly", "deprecated",
                                 "externalDocs", "$comment"))
_ONE_SCHEMA = ("items", "not", "contains", "propertyNames")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_MAPS = ("properties", "patternProperties")
_COMPONENT_PREFIX = "#/components/schemas/"
_COMPACT_PREFIX = "#/schemas/"


class UnknownKeywordError(ValueError):
    """The spec uses a keyword this script does not know; decide whether it constrains or documents."""


def compact_schema(schema: Any, where: str) -> Any:
    """A JSON Schema without its prose, its $refs pointing into the compact document."""
    if isinstance(schema, bool):
        return schema
    compact: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword in ANNOTATION_KEYWORDS or keyword.startswith("x-"):
            continue
        if keyword not in VALIDATION_KEYWORDS:
            raise UnknownKeywordError("%s: unknown JSON Schema keyword %r; add it to VALIDATION_KEYWORDS or ANNOTATION_KEYWORDS in %s"
                                      % (where, keyword, GENERATOR))
        compact[keyword] = _compact_value(keyword, value, "%s/%s" % (where, keyword))
    return compact


def _compact_value(keyword: str, value: Any, where: str) -> Any:
    if keyword == "$ref":
        if not value.startswith(_COMPONENT_PREFIX):
            raise UnknownKeywordError("%s: only references to %s are supported, got %r" % (where, _COMPONENT_PREFIX, value))
        return _COMPACT_PREFIX + value[len(_COMPONENT_PREFIX):]
    if keyword in _ONE_SCHEMA or (keyword == "additionalProperties" and isinstance(value, dict)):
        return compact_schema(value, where)
    if keyword in _SCHEMA_LISTS:
        return [compact_schema(item, "%s/%d" % (where, index)) for index, item in enumerate(value)]
    if keyword in _SCHEMA_MAPS:
        return {name: compact_schema(item, "%s/%s" % (where, name)) for name, item in value.items()}
    return value


def _json_body(content: dict | None, where: str) -> Any:
    """The schema of an application/json body; None when the body has no content."""
    if not content:
        return None
    if "application/json" not in content:
        raise UnknownKeywordError("%s: only application/json bodies are supported, got %s" % (where, ", ".join(content)))
    return compact_schema(content["application/json"].get("schema", {}), where + "/schema")


def compact_operation(operation: dict, where: str) -> dict:
    compact: dict[str, Any] = {}
    parameters = [{"name": parameter["name"], "in": parameter["in"], "required": bool(parameter.get("required", False)),
                   "schema": compact_schema(parameter.get("schema", {}), "%s/parameters/%s" % (where, parameter["name"]))}
                  for parameter in operation.get("parameters") or []]
    if parameters:
        compact["parameters"] = parameters
    body = operation.get("requestBody")
    if body is not None:
        compact["request"] = {"required": bool(body.get("required", False)),
                              "schema": _json_body(body.get("content"), where + "/requestBody")}
    compact["responses"] = {status: _json_body(response.get("content"), "%s/responses/%s" % (where, status))
                            for status, response in operation.get("responses", {}).items()}
    return compact


def _references(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["$ref"][len(_COMPACT_PREFIX):]} if isinstance(value.get("$ref"), str) else set()
        for item in value.values():
            found |= _references(item)
        return found
    if isinstance(value, list):
        return set().union(*(_references(item) for item in value)) if value else set()
    return set()


def compact_document(spec: dict, spec_bytes: bytes) -> dict:
    """The whole compact document: operations by path and method, and the schemas they reach."""
    operations = {path: {method: compact_operation(operation, "paths/%s/%s" % (path, method))
                         for method, operation in item.items() if method != "parameters"}
                  for path, item in spec["paths"].items()}
    components = spec.get("components", {}).get("schemas", {})
    schemas: dict[str, Any] = {}
    pending = sorted(_references(operations))
    while pending:
        name = pending.pop()
        if name in schemas:
            continue
        schemas[name] = compact_schema(components[name], "components/schemas/" + name)
        pending.extend(sorted(_references(schemas[name]) - set(schemas)))
    return {
        "generated_by": GENERATOR,
        "source": {"title": spec["info"]["title"], "version": str(spec["info"]["version"]), "openapi": spec["openapi"],
                   "sha256": hashlib.sha256(spec_bytes).hexdigest()},
        "operations": operations,
        "schemas": dict(sorted(schemas.items())),
    }


def render(document: dict) -> str:
    """The file's exact text: stable key order, one space of indent, a final newline."""
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def generate(spec_path: Path) -> str:
    spec_bytes = spec_path.read_bytes()
    return render(compact_document(json.loads(spec_bytes), spec_bytes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lambda_emulator.compact_schema", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", type=Path, required=True, help="Lambda's full OpenAPI document")
    parser.add_argument("--output", type=Path, default=COMPACT_SCHEMA_PATH, help="where the compact document goes")
    parser.add_argument("--check", action="store_true", help="compare with --output instead of writing it")
    args = parser.parse_args(argv)
    text = generate(args.spec)
    if args.check:
        if not args.output.is_file() or args.output.read_text(encoding="utf-8") != text:
            print("%s differs from what %s gives; run without --check to regenerate it." % (args.output, args.spec), file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
