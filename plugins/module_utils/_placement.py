# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: where an instance can launch, from the instance-type catalogue.

The catalogue (GET /instance-types) says which types exist and where each has capacity now; the
user's preferences order the (type, region) pairs, type first. The catalogue and the spec's list of
regions also say which region names Lambda knows, so a misspelt region fails before any launch.
"""

from __future__ import annotations

import difflib
from collections import namedtuple

INSUFFICIENT_CAPACITY = "instance-operations/launch/insufficient-capacity"

# The spec's PublicRegionCode enum, which the launch request's region_name must be one of. The list
# grows, so a region the catalogue lists is known too, even when it is not in this list yet.
SPEC_REGIONS = frozenset((
    "europe-central-1", "asia-south-1", "australia-east-1", "me-west-1", "asia-northeast-1", "asia-northeast-2",
    "us-east-1", "us-east-2", "us-east-3", "us-west-1", "us-west-2", "us-west-3", "us-south-1", "us-south-2",
    "us-south-3", "us-midwest-1", "us-midwest-2",
))

Placement = namedtuple("Placement", ["instance_type", "region"])


def capacity_by_type(catalogue: dict) -> dict:
    """{instance type name: [regions with capacity now]} from the GET /instance-types payload."""
    capacity = {}
    for key, item in (catalogue or {}).items():
        item = item or {}
        type_name = (item.get("instance_type") or {}).get("name") or key
        regions = [region.get("name") for region in item.get("regions_with_capacity_available") or [] if region.get("name")]
        capacity[type_name] = regions
    return capacity


def prices_by_type(catalogue: dict) -> dict:
    """{instance type name: price in cents per hour} from the GET /instance-types payload."""
    prices = {}
    for key, item in (catalogue or {}).items():
        instance_type = (item or {}).get("instance_type") or {}
        prices[instance_type.get("name") or key] = instance_type.get("price_cents_per_hour")
    return prices


def unknown_instance_types(instance_types: list, capacity: dict) -> list:
    """The requested types the catalogue does not list (typos, retired types)."""
    return [name for name in _unique(instance_types) if name not in capacity]


def known_regions(capacity: dict) -> list:
    """Every region name Lambda Cloud knows: the spec's list, and any region the catalogue names."""
    return sorted(SPEC_REGIONS.union(region for regions in capacity.values() for region in regions))


def unknown_regions(regions: list, capacity: dict) -> list:
    """The requested regions Lambda Cloud does not know (typos such as us-east1), in the order given."""
    known = set(known_regions(capacity))
    return [region for region in _unique(regions) if region not in known]


def describe_unknown(instance_types: list, regions: list, capacity: dict, asked_by: str) -> list:
    """One sentence per kind of unknown name (instance types, regions) ``asked_by`` uses, naming what Lambda Cloud knows."""
    problems = []
    types = unknown_instance_types(instance_types, capacity)
    if types:
        problems.append("Lambda Cloud does not offer instance type%s %s (%s%s); it offers %s."
                        % ("" if len(types) == 1 else "s", ", ".join(types), asked_by, _guesses(types, capacity), ", ".join(sorted(capacity))))
    places = unknown_regions(regions, capacity)
    if places:
        known = known_regions(capacity)
        problems.append("Lambda Cloud has no region%s %s (%s%s); its regions are %s."
                        % ("" if len(places) == 1 else "s", ", ".join(places), asked_by, _guesses(places, known), ", ".join(known)))
    return problems


def _guesses(unknown: list, known) -> str:
    """'; did you mean us-west-1?' for the unknown names that look like a known one."""
    guesses = [close[0] for name in unknown for close in [difflib.get_close_matches(name, list(known), n=1, cutoff=0.8)] if close]
    return "; did you mean %s?" % " or ".join(guesses) if guesses else ""


def placement_candidates(instance_types: list, regions: list, capacity: dict) -> list:
    """Every (type, region) pair with capacity now, in preference order.

    The order is type-major: the first instance type in every region in order, then the second
    type, and so on. The type decides what the node can run, so it outranks where it runs.
    """
    candidates = []
    for type_name in _unique(instance_types):
        available = set(capacity.get(type_name) or ())
        for region in _unique(regions):
            if region in available:
                candidates.append(Placement(type_name, region))
    return candidates


def regions_for_file_systems(file_systems: list, names: list | None, ids: list | None):
    """(regions that hold every requested file system, problems).

    A file system lives in one region and an instance can only mount file systems of its own
    region, so the requested ones narrow where the instance may launch. ``regions`` is None
    when no file system is requested.
    """
    names = list(names or [])
    ids = list(ids or [])
    if not names and not ids:
        return None, []
    by_name = {item.get("name"): item for item in file_systems}
    by_id = {item.get("id"): item for item in file_systems}
    problems = []
    regions = set()
    for label, wanted, index in (("name", names, by_name), ("id", ids, by_id)):
        for value in wanted:
            found = index.get(value)
            if found is None:
                problems.append("no file system with %s %r exists in the account" % (label, value))
            else:
                regions.add((found.get("region") or {}).get("name"))
    if len(regions) > 1:
        problems.append("the requested file systems are in different regions (%s); an instance can only mount file systems "
                        "of its own region" % ", ".join(sorted(str(region) for region in regions)))
    return regions, problems


def describe_no_capacity(instance_types: list, regions: list, capacity: dict, refused: list) -> str:
    """The failure message when no (type, region) pair could be launched.

    Names every pair tried, says which ones the catalogue listed without capacity and which
    ones the launch itself refused, and where the requested types do have capacity.
    """
    refused = list(refused)
    types = _unique(instance_types)
    regions = _unique(regions)
    listed_empty = [Placement(type_name, region) for type_name in types for region in regions
                    if Placement(type_name, region) not in refused]
    parts = ["No capacity for instance types %s in regions %s (tried in this order, type first)."
             % (", ".join(types), ", ".join(regions))]
    if listed_empty:
        parts.append("Lambda Cloud lists no capacity now for: %s." % _pairs_text(listed_empty))
    if refused:
        parts.append("The launch answered insufficient capacity for: %s." % _pairs_text(refused))
    elsewhere = ["%s in %s" % (type_name, ", ".join(sorted(set(capacity.get(type_name) or ()) - set(regions))))
                 for type_name in types if set(capacity.get(type_name) or ()) - set(regions)]
    if elsewhere:
        parts.append("Capacity exists elsewhere: %s; add those regions to try them." % "; ".join(elsewhere))
    else:
        parts.append("None of these types has capacity in any region right now; try again later or add instance types.")
    return " ".join(parts)


def _unique(items) -> list:
    seen = set()
    result = []
    for item in items or []:
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result


def _pairs_text(pairs: list) -> str:
    return ", ".join("%s in %s" % (pair.instance_type, pair.region) for pair in pairs)
