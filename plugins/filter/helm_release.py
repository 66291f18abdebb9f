# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform's Helm release: values, chart source, chart-change guard, Secrets and rollback choice.

kubernetes.core.helm decides whether a release needs an upgrade by comparing the chart's name and
version, its appVersion and the values with what is deployed (without the helm-diff plugin). These
filters shape what the platform_release role gives it so that comparison is right: values files are
merged here, on the controller, into one dictionary (the module ignores inline values for the
comparison when values files are given), and a local chart whose files changed without a version
bump is refused instead of being silently left undeployed.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_PENDING = ("pending-install", "pending-upgrade", "pending-rollback", "uninstalling")
_WAS_DEPLOYED = ("deployed", "superseded")
MANAGED_BY = "sophia.lambda_k3s"


def helm_values_merge(layers: list) -> dict:
    """Merge values layers the way Helm merges several -f files: later wins, maps merge key by key.

    Lists and scalars are replaced, not merged; a null is kept, so Helm removes that key from the
    chart's own defaults as it does for a null in a values file.
    """
    merged: dict = {}
    for index, layer in enumerate(layers or []):
        if layer in (None, ""):
            continue
        if not isinstance(layer, Mapping):
            raise AnsibleFilterError("Values layer %d is a %s, not a dictionary: a values file must hold a YAML mapping at its top."
                                     % (index + 1, type(layer).__name__))
        merged = _merge(merged, layer)
    return merged


def _merge(base: Mapping, override: Mapping) -> dict:
    result = dict(base.items())
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = _merge(result[key], value)
        else:
            result[key] = _plain(value)
    return result


def _plain(value):
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def helm_chart_source(ref: str, repo_url: str = "", version: str = "", local: Mapping | None = None) -> dict:
    """Where the chart comes from: {kind: local|repository|oci, problems}.

    ``local``: the Chart.yaml of ``ref`` when ``ref`` is a directory on the controller, else empty.
    Charts from a repository or an OCI registry must be pinned to a version.
    """
    ref = str(ref or "").strip()
    problems = []
    if local:
        kind = "local"
        chart_version = str(local.get("version") or "")
        if version and str(version) != chart_version:
            problems.append("platform_release_chart_version is %s but the chart in %s is version %s: Helm installs the version a local chart "
                            "says; change one of them." % (version, ref, chart_version or "(none)"))
    elif ref.startswith("oci://"):
        kind = "oci"
    elif repo_url:
        kind = "repository"
    else:
        kind = "missing"
        problems.append('platform_release_chart_ref "%s" is not a chart directory on the controller, and not an oci:// reference or a chart '
                        "name with platform_release_chart_repo_url: point it at the chart." % ref)
    if kind in ("oci", "repository") and not str(version or "").strip():
        problems.append("platform_release_chart_version is empty: a chart from %s must be pinned to a version, so every run deploys the "
                        "same chart." % ("an OCI registry" if kind == "oci" else "a repository"))
    return {"kind": kind, "problems": problems}


def helm_chart_digest(files: list, root: str) -> str:
    """A digest of a chart directory from ansible.builtin.find's ``files`` (with checksums): paths and contents."""
    root = str(root).rstrip("/") + "/"
    entries = []
    for item in files or []:
        path = str(item["path"])
        relative = path[len(root):] if path.startswith(root) else path
        entries.append("%s\0%s\n" % (relative, item.get("checksum", "")))
    return "sha256:" + hashlib.sha256("".join(sorted(entries)).encode()).hexdigest()


def helm_chart_stale_files(target_files: list, target_root: str, source_files: list, source_root: str) -> list:
    """Files of the chart's copy on the operations host that the chart on the controller no longer has."""
    def relative(files: list, root: str) -> set:
        root = str(root).rstrip("/") + "/"
        return {str(item["path"])[len(root):] for item in files or [] if str(item["path"]).startswith(root)}

    stale = relative(target_files, target_root) - relative(source_files, source_root)
    return sorted(str(target_root).rstrip("/") + "/" + path for path in stale)


def helm_chart_record(chart: Mapping, digest: str) -> str:
    """What the namespace annotation records about the deployed local chart."""
    return "%s-%s %s" % (chart.get("name"), chart.get("version"), digest)


def helm_chart_guard(release: Mapping | None, chart: Mapping, recorded: str, digest: str, path: str, values: Mapping | None = None) -> str:
    """A sentence when a local chart's files changed since its version was deployed and nothing else changed, else "".

    kubernetes.core.helm would see the same chart version and values and upgrade nothing. When the
    values changed too, the upgrade they cause deploys the changed files, so nothing is refused.
    """
    if not release or not recorded or not digest:
        return ""
    if values is not None and release.get("values") != values:
        return ""
    name_version = "%s-%s" % (chart.get("name"), chart.get("version"))
    recorded_version, _space, recorded_digest = str(recorded).partition(" ")
    if release.get("chart") != name_version or recorded_version != name_version or recorded_digest == digest:
        return ""
    return ("The chart in %s changed since %s was deployed, but its version did not: kubernetes.core.helm upgrades a release only when "
            "the chart's version, appVersion or values change, so the change would not be deployed. Raise version in %s/Chart.yaml."
            % (path, name_version, path))


def platform_secret_manifests(secrets: Mapping | None, namespace: str, release: str, prefix: str) -> list:
    """Kubernetes Secrets for platform_release_secrets: {secret name: {key: value}}. Messages never show a value."""
    manifests = []
    for name, data in sorted((secrets or {}).items()):
        name = str(name)
        if not _DNS_SUBDOMAIN.match(name) or len(name) > 253:
            raise AnsibleFilterError('platform_release_secrets: "%s" is not a valid Secret name (lower-case letters, digits, "-" and ".").' % name)
        if not isinstance(data, Mapping) or not data:
            raise AnsibleFilterError("platform_release_secrets.%s must be a non-empty dictionary of keys to values." % name)
        encoded = {}
        for key, value in data.items():
            if not _SECRET_KEY.match(str(key)):
                raise AnsibleFilterError('platform_release_secrets.%s: "%s" is not a valid Secret key (letters, digits, "-", "_" and ".").'
                                         % (name, key))
            if value is None:
                raise AnsibleFilterError("platform_release_secrets.%s.%s has no value." % (name, key))
            text = value if isinstance(value, bytes) else str(value).encode()
            encoded[str(key)] = base64.b64encode(text).decode()
        manifests.append({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/managed-by": MANAGED_BY, "%s/release" % prefix: release}},
            "data": dict(sorted(encoded.items())),
        })
    return manifests


def platform_stale_secrets(existing: list, wanted: list) -> list:
    """Names of the Secrets an earlier run created for the release that are not among the ``wanted`` names."""
    wanted = {str(name) for name in wanted or []}
    return sorted(item["metadata"]["name"] for item in existing or [] if item["metadata"]["name"] not in wanted)


def helm_rollback_plan(history: list, requested="", release: str = "", namespace: str = "") -> dict:
    """Which revision to roll back to: the one asked for, or the last one deployed before the current one.

    ``history``: ``helm history <release> -o json``. {from_revision, to_revision, noop, problems, message}.
    """
    plan = {"release": release, "from_revision": None, "to_revision": None, "noop": False, "problems": [], "message": ""}
    revisions = sorted((_revision(entry) for entry in history or []), key=lambda entry: entry["revision"])
    if not revisions:
        plan["problems"].append("The release %s has no history in the namespace %s: nothing to roll back." % (release, namespace))
        return plan
    current = revisions[-1]
    plan["from_revision"] = current["revision"]
    if current["status"] in _PENDING:
        plan["problems"].append("Revision %d of %s is %s: another Helm operation is in progress. Wait for it to finish, or resolve it, "
                                "then roll back." % (current["revision"], release, current["status"]))
        return plan
    requested = str(requested if requested is not None else "").strip()
    if requested in ("", "0"):
        earlier = [entry for entry in revisions[:-1] if entry["status"] in _WAS_DEPLOYED]
        if not earlier:
            plan["problems"].append("%s has no earlier revision that was deployed (history: %s): nothing to roll back to."
                                    % (release, _history_text(revisions)))
            return plan
        target = earlier[-1]
    else:
        if not requested.isdigit():
            plan["problems"].append('lambda_k3s_rollback_revision is "%s": give a revision number, or leave it empty for the previous one.'
                                    % requested)
            return plan
        matches = [entry for entry in revisions if entry["revision"] == int(requested)]
        if not matches:
            plan["problems"].append("%s has no revision %s (history: %s)." % (release, requested, _history_text(revisions)))
            return plan
        target = matches[0]
        if target["status"] not in _WAS_DEPLOYED:
            plan["problems"].append("Revision %d of %s was never deployed (%s): choose one of %s."
                                    % (target["revision"], release, target["status"],
                                       ", ".join(str(entry["revision"]) for entry in revisions if entry["status"] in _WAS_DEPLOYED)))
            return plan
    plan["to_revision"] = target["revision"]
    if target["revision"] == current["revision"] and current["status"] == "deployed":
        plan["noop"] = True
        plan["message"] = "%s already runs revision %d (%s): nothing to do." % (release, current["revision"], current["chart"])
    else:
        plan["message"] = "%s: roll back from revision %d (%s, %s) to revision %d (%s)." % (
            release, current["revision"], current["chart"], current["status"], target["revision"], target["chart"])
    return plan


def _revision(entry: Mapping) -> dict:
    return {"revision": int(entry.get("revision") or 0), "status": str(entry.get("status") or ""), "chart": str(entry.get("chart") or "")}


def _history_text(revisions: list) -> str:
    return ", ".join("%d %s" % (entry["revision"], entry["status"]) for entry in revisions)


class FilterModule:
    """Platform Helm release decisions."""

    def filters(self) -> dict:
        return {
            "helm_values_merge": helm_values_merge,
            "helm_chart_source": helm_chart_source,
            "helm_chart_digest": helm_chart_digest,
            "helm_chart_record": helm_chart_record,
            "helm_chart_stale_files": helm_chart_stale_files,
            "helm_chart_guard": helm_chart_guard,
            "platform_secret_manifests": platform_secret_manifests,
            "platform_stale_secrets": platform_stale_secrets,
            "helm_rollback_plan": helm_rollback_plan,
        }
