# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: playbook variables checked against what they may be, one sentence per mistake.

Ansible's validate_argument_spec answers a mistake with the whole specification (a hundred lines a
newcomer reads as the error) and ignores a variable it does not know. This checker names each
mistake where it is, says what is allowed, and suggests the closest known name for a misspelt
variable or key. Values of secret variables never appear in a message.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping

from ansible.module_utils.common.validation import check_type_bool

_WHAT = {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false", "list": "a list", "dict": "a mapping"}
_SHOWN_LENGTH = 60


class Value:
    """What one variable, mapping key or list element may be.

    ``kind`` is str, int, float, bool, list or dict. A list's items follow ``elements``; a dict with
    ``keys`` takes those keys only (each a Value), one without takes any. ``required`` values must be
    set; ``choices`` limits the values; ``secret`` keeps the value out of every message.
    """

    def __init__(self, kind: str, required: bool = False, elements: Value | None = None, keys: dict | None = None,
                 choices: tuple = (), secret: bool = False):
        self.kind = kind
        self.required = required
        self.elements = elements
        self.keys = keys
        self.choices = tuple(choices)
        self.secret = secret

    def describe(self) -> str:
        if self.kind == "list" and self.elements is not None:
            return "a list of %s" % _plural(self.elements.describe())
        if self.kind == "dict" and self.keys:
            return "a mapping with the keys %s" % _names(list(self.keys))
        return _WHAT[self.kind]


class Checker:
    """Checks values against Values; ``problems`` collects one sentence per mistake found."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def unknown_names(self, given, prefix: str, known, owner: str, reference: str) -> None:
        """One sentence per name of ``given`` starting with ``prefix`` whose rest is not in ``known``, with the closest
        known name, else ``reference``. Only the rest is compared: every name shares the prefix."""
        for name in sorted(str(name) for name in given if str(name).startswith(prefix)):
            rest = name[len(prefix):]
            if rest in known:
                continue
            close = difflib.get_close_matches(rest, list(known), n=1, cutoff=0.6)
            hint = "did you mean %s%s?" % (prefix, close[0]) if close else reference
            self.problems.append("%s is not a variable %s knows; %s" % (name, owner, hint))

    def check(self, value, spec: Value, where: str):
        """The value converted to its kind, or None (with a problem) when it cannot be."""
        if value is None:
            if spec.required:
                self.problems.append("%s is not set; it must be %s." % (where, spec.describe()))
            return None
        converted = _converted(value, spec)
        if converted is None:
            self.problems.append("%s must be %s; got %s." % (where, spec.describe(), _shown(value, spec.secret)))
            return None
        if spec.choices and converted not in spec.choices:
            close = difflib.get_close_matches(str(converted), [str(choice) for choice in spec.choices], n=1, cutoff=0.6)
            guess = " (did you mean %s?)" % close[0] if close else ""
            self.problems.append("%s must be one of %s; got %s%s." % (where, _names(spec.choices), _shown(converted, spec.secret), guess))
            return None
        if spec.kind == "list" and spec.elements is not None:
            return [self._element(item, spec.elements, "%s[%d]" % (where, index)) for index, item in enumerate(converted)]
        if spec.kind == "dict" and spec.keys is not None:
            return self._mapping(converted, spec, where)
        return converted

    def _element(self, item, spec: Value, where: str):
        """A list item: it may not be empty (YAML's bare '-' or null)."""
        if item is None:
            self.problems.append("%s is empty; it must be %s." % (where, spec.describe()))
            return None
        return self.check(item, spec, where)

    def _mapping(self, value: Mapping, spec: Value, where: str) -> dict:
        label = where
        if isinstance(value.get("name"), str) and value.get("name"):
            label = '%s ("%s")' % (where, value["name"])
        for key in value:
            if key not in spec.keys:
                close = difflib.get_close_matches(str(key), list(spec.keys), n=1, cutoff=0.6)
                self.problems.append("%s has the key %s, which it does not take%s; it takes %s."
                                     % (label, key, " (did you mean %s?)" % close[0] if close else "", _names(list(spec.keys))))
        checked = {key: self.check(value.get(key), key_spec, "%s.%s" % (where, key)) for key, key_spec in spec.keys.items()}
        return {key: item for key, item in checked.items() if item is not None}


def _converted(value, spec: Value):
    converter = _CONVERTERS[spec.kind]
    try:
        return converter(value)
    except (TypeError, ValueError):
        return None


def _as_str(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise TypeError("not a string")


def _as_int(value) -> int:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not whole")
        return int(value)
    if isinstance(value, int):
        return value
    return int(_as_str(value).strip())


def _as_float(value) -> float:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    number = float(value if isinstance(value, (int, float)) else _as_str(value).strip())
    if math.isnan(number) or math.isinf(number):
        raise ValueError("not a finite number")
    return number


def _as_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (str, int)):
        return check_type_bool(value)
    raise TypeError("not a boolean")


def _as_list(value) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        # As on Ansible's command line: -e lambda_cluster_regions=us-east-1,us-west-1
        return [item.strip() for item in value.split(",") if item.strip()]
    raise TypeError("not a list")


def _as_dict(value) -> dict:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError("not a mapping")


_CONVERTERS = {"str": _as_str, "int": _as_int, "float": _as_float, "bool": _as_bool, "list": _as_list, "dict": _as_dict}


def _shown(value, secret: bool) -> str:
    """The value as a message shows it: the type alone for a secret, else short JSON."""
    if secret:
        kind = next((kind for kind, check in _KIND_TESTS if check(value)), "a value")
        return "%s (not shown: it may hold a secret)" % kind
    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _SHOWN_LENGTH else text[:_SHOWN_LENGTH - 3] + "..."


_KIND_TESTS = (("a string", lambda value: isinstance(value, str)), ("a list", lambda value: isinstance(value, list)),
               ("a mapping", lambda value: isinstance(value, Mapping)), ("a number", lambda value: isinstance(value, (int, float))))


def _names(names) -> str:
    names = [str(name) for name in names]
    return names[0] if len(names) == 1 else "%s and %s" % (", ".join(names[:-1]), names[-1])


def _plural(text: str) -> str:
    """'a string' -> 'strings', 'a mapping with the keys ...' -> 'mappings with the keys ...'."""
    head, _space, rest = text.partition(" ")
    if head not in ("a", "an"):
        return text
    word, _space, tail = rest.partition(" ")
    return ("%ss %s" % (word, tail)).strip()
