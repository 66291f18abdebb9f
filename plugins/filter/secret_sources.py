# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes Secrets whose keys are read from a secret source: a Pulumi ESC environment, or any lookup's values.

A mapping ``{secret name: {key: path}}`` names, for each key of each Secret, a Pulumi path (``app.apiToken``,
``hosts[0]``, ``a["key.with.dots"]``) into the source's values (the pulumi_esc lookup's result, a Vault
lookup's dictionary, a vaulted file). These filters resolve the paths and merge the result with the
Secrets given value by value. Messages name Secrets, keys and paths, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.pulumi_esc import EscError, value_at


def secret_values(secrets: Mapping | None, paths: Mapping | None, source=None, variable: str = "the secret paths",
                  source_name: str = "the secret source") -> dict:
    """{secret name: {key: value}}: ``secrets`` as given, plus every key of ``paths`` read from ``source``.

    Fails (one sentence per problem, values never shown) on a path the source lacks, a path to a mapping or a list, or a
    key given both as a value and as a path.
    """
    resolved, problems = _resolve(secrets, paths, source, variable, source_name)
    if problems:
        raise AnsibleFilterError(" ".join(problems))
    return resolved


def secret_paths_problems(paths: Mapping | None, source=None, variable: str = "the secret paths", source_name: str = "the secret source",
                          secrets: Mapping | None = None) -> list:
    """What is wrong with the mapping, one sentence each, for an assert that runs before the tasks that hide their output."""
    return _resolve(secrets, paths, source, variable, source_name)[1]


def _resolve(secrets: Mapping | None, paths: Mapping | None, source, variable: str, source_name: str) -> tuple:
    resolved = {str(name): dict(data) if isinstance(data, Mapping) else data for name, data in (secrets or {}).items()}
    problems = []
    if paths and not isinstance(paths, Mapping):
        return resolved, ["%s must be a dictionary of Secret names to dictionaries of keys and paths." % variable]
    for name, keys in (paths or {}).items():
        name = str(name)
        if not isinstance(keys, Mapping) or not keys:
            problems.append("%s.%s must be a non-empty dictionary of Secret keys to paths in %s." % (variable, name, source_name))
            continue
        target = resolved.setdefault(name, {})
        if not isinstance(target, Mapping):
            continue
        for key, path in keys.items():
            key = str(key)
            if key in target:
                problems.append("%s.%s.%s is also given as a value: keep one of them." % (variable, name, key))
                continue
            try:
                value = value_at(source if source is not None else {}, str(path), source_name[0].upper() + source_name[1:])
            except EscError as error:
                problems.append("%s.%s.%s: %s" % (variable, name, key, error))
                continue
            if isinstance(value, (Mapping, list)) or value is None:
                problems.append("%s.%s.%s: %s at %s is %s, not a value: point the path at a single value." % (
                    variable, name, key, source_name, path, "empty" if value is None else "a list" if isinstance(value, list) else "a mapping"))
                continue
            target[key] = value if isinstance(value, (str, bytes)) else _text(value)
    return resolved, problems


def _text(value) -> str:
    # A Secret holds text: true and 3 become "true" and "3", as they would in a YAML values file read by a chart.
    return str(value).lower() if isinstance(value, bool) else str(value)


class FilterModule:
    """Secrets from a secret source."""

    def filters(self) -> dict:
        return {"secret_values": secret_values, "secret_paths_problems": secret_paths_problems}
