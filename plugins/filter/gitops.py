# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GitOps with Argo CD: the chart's values, the platform's Application, its state, and how deploys and rollbacks hand over.

Once Argo CD's Application delivers the platform, Ansible owns only the Application: a deploy moves its
``spec.source.targetRevision`` (and its values), a rollback moves it back to a revision of its history, and
both wait until Argo CD reports the Application Synced and Healthy at that source. Helm is never run against
a release Argo CD manages, and ``argocd app rollback`` is never used (Argo CD refuses it under auto-sync).
Field names follow Argo CD's Application reference (docs/operator-manual/application.yaml).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.filter.helm_release import helm_values_merge

MANAGED_BY = "sophia.lambda_k3s"
IN_CLUSTER = "https://kubernetes.default.svc"
_FAILED_PHASES = ("Failed", "Error")
_ERROR_CONDITIONS = ("ComparisonError", "InvalidSpecError", "SyncError")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def gitops_application(settings: Mapping) -> dict:
    """The platform's Application. ``settings``: name, namespace, project, repo_url, path, revision, release_name,
    destination_namespace, value_files, values, automated, prune, self_heal, sync_options, retry_limit, finalizer, label_prefix."""
    problems = gitops_settings_problems(settings)
    if problems:
        raise AnsibleFilterError(" ".join(problems))
    helm: dict = {"releaseName": str(settings["release_name"])}
    if settings.get("value_files"):
        helm["valueFiles"] = [str(item) for item in settings["value_files"]]
    if settings.get("values"):
        helm["valuesObject"] = dict(settings["values"])
    sync_policy: dict = {}
    if settings.get("automated", True):
        sync_policy["automated"] = {"prune": bool(settings.get("prune", True)), "selfHeal": bool(settings.get("self_heal", True))}
    if settings.get("sync_options"):
        sync_policy["syncOptions"] = [str(item) for item in settings["sync_options"]]
    limit = int(settings.get("retry_limit", 5))
    if limit:
        sync_policy["retry"] = {"limit": limit, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}}
    metadata: dict = {"name": str(settings["name"]), "namespace": str(settings["namespace"]),
                      "labels": {"app.kubernetes.io/managed-by": MANAGED_BY}}
    if settings.get("finalizer"):
        # Deleting the Application then deletes the platform's resources too (Argo CD's cascading deletion).
        metadata["finalizers"] = ["resources-finalizer.argocd.argoproj.io"]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": metadata,
        "spec": {
            "project": str(settings.get("project") or "default"),
            "source": {"repoURL": str(settings["repo_url"]), "path": str(settings["path"]), "targetRevision": str(settings["revision"]),
                       "helm": helm},
            "destination": {"server": IN_CLUSTER, "namespace": str(settings["destination_namespace"])},
            "syncPolicy": sync_policy,
            "revisionHistoryLimit": int(settings.get("history_limit", 10)),
        },
    }


def gitops_settings_problems(settings: Mapping) -> list:
    """What keeps the Application from being written, one sentence each."""
    problems = []
    if not str(settings.get("repo_url") or "").strip():
        problems.append("gitops_repo_url is empty: set the Git repository Argo CD deploys the platform from.")
    if not str(settings.get("path") or "").strip():
        problems.append("gitops_repo_path is empty: set the path of the platform's chart in that repository (charts/sophia-platform).")
    elif str(settings["path"]).startswith("/") or ".." in str(settings["path"]).split("/"):
        problems.append('gitops_repo_path "%s" must be relative to the repository\'s root, without "..".' % settings["path"])
    if not str(settings.get("revision") or "").strip():
        problems.append("gitops_revision is empty: give a branch, a tag or a commit (HEAD follows the default branch).")
    name = str(settings.get("name") or "")
    if not _DNS_LABEL.match(name) or len(name) > 63:
        problems.append('gitops_application_name "%s" is not a valid name (lower-case letters, digits and "-").' % name)
    return problems


def gitops_argocd_values(settings: Mapping) -> dict:
    """Values of Argo CD's chart (argo/argo-cd). ``settings``: release, ingress_host, ingress_class, dex, notifications, values.

    The names are pinned with fullnameOverride, so the role finds argocd-server, argocd-repo-server and the
    argocd-application-controller StatefulSet whatever the release is called. On K3s, Traefik terminates TLS:
    the server runs without it (server.insecure in argocd-cmd-params-cm, where the chart's checksum rolls the pod).
    """
    release = str(settings.get("release") or "argocd")
    values: dict = {
        "fullnameOverride": release,
        "configs": {"params": {"server.insecure": True}},
        "dex": {"enabled": bool(settings.get("dex", False))},
        "notifications": {"enabled": bool(settings.get("notifications", False))},
    }
    host = str(settings.get("ingress_host") or "")
    if host:
        values["global"] = {"domain": host}
        values["server"] = {"ingress": {"enabled": True, "ingressClassName": str(settings.get("ingress_class") or "traefik"),
                                        "hostname": host}}
    return helm_values_merge([values, settings.get("values") or {}])


def gitops_application_state(application: Mapping | None, source: Mapping | None = None) -> dict:
    """Where Argo CD is with the Application: {exists, sync, health, revision, phase, current, done, failed, message}.

    ``current``: Argo CD compared the source asked for (repoURL, path, targetRevision of ``source``, or of the spec);
    ``done``: current, Synced, Healthy and no operation running; ``failed``: a failed operation or an error condition,
    which waiting will not fix.
    """
    if not application:
        return {"exists": False, "sync": None, "health": None, "revision": None, "phase": None, "current": False, "done": False,
                "failed": False, "message": "the Application does not exist"}
    spec_source = ((application.get("spec") or {}).get("source") or {})
    wanted = source or spec_source
    status = application.get("status") or {}
    sync = status.get("sync") or {}
    compared = ((sync.get("comparedTo") or {}).get("source") or {})
    current = all(str(compared.get(key) or "") == str(wanted.get(key) or "") for key in ("repoURL", "path", "targetRevision"))
    operation = status.get("operationState") or {}
    phase = operation.get("phase")
    errors = [str(item.get("message") or item.get("type")) for item in status.get("conditions") or []
              if isinstance(item, Mapping) and item.get("type") in _ERROR_CONDITIONS]
    health = (status.get("health") or {}).get("status")
    result = {"exists": True, "sync": sync.get("status"), "health": health, "revision": sync.get("revision"), "phase": phase,
              "current": current}
    result["failed"] = bool(errors) or (phase in _FAILED_PHASES and current)
    result["done"] = (current and sync.get("status") == "Synced" and health == "Healthy" and phase not in ("Running", "Terminating")
                      and not result["failed"])
    if result["failed"]:
        result["message"] = "; ".join(errors) or "the sync %s: %s" % (phase.lower(), operation.get("message") or "no message")
    elif result["done"]:
        result["message"] = "Synced and Healthy at %s (%s)" % (wanted.get("targetRevision"), _short(sync.get("revision")))
    elif not current:
        result["message"] = "Argo CD has not compared %s yet" % wanted.get("targetRevision")
    else:
        result["message"] = "%s and %s%s" % (sync.get("status") or "Unknown", health or "Unknown",
                                             (", sync %s" % phase.lower()) if phase else "")
    return result


def gitops_delivery(application_read: Mapping | None, enabled, name: str = "", namespace: str = "") -> dict:
    """Who deploys the platform: {by: helm|argocd, problems}. ``application_read``: k8s_info's result for the Application
    (failed_when: false: a cluster without Argo CD's CRD answers with an error, which means no Application).

    With GitOps on, an existing Application takes over; before Argo CD exists, Helm makes the first deploy. With GitOps
    off, an Application that delivers the platform is refused: Helm would fight Argo CD's self-heal.
    """
    resources = (application_read or {}).get("resources") or []
    exists = bool(resources)
    enabled = _truthy(enabled)
    if exists and not enabled:
        return {"by": "argocd", "problems": [
            "Argo CD's Application %s in %s delivers the platform, but GitOps is off (lambda_k3s_gitops): set lambda_k3s_gitops=true so "
            "this play hands the deploy over to Argo CD, or delete the Application to go back to Helm." % (name, namespace)]}
    return {"by": "argocd" if exists else "helm", "problems": []}


def gitops_rollback_plan(application: Mapping | None, requested="") -> dict:
    """The revision a rollback moves the Application to: {from_revision, to_revision, noop, problems, message}.

    Without a request, the revision deployed before the current one in ``status.history``; a request may be any Git
    revision (a tag, a commit, or a history id as ``#<id>``).
    """
    plan = {"from_revision": None, "to_revision": None, "noop": False, "problems": [], "message": ""}
    if not application:
        plan["problems"].append("There is no Application to roll back: GitOps has not delivered the platform yet.")
        return plan
    source = (application.get("spec") or {}).get("source") or {}
    history = sorted(((application.get("status") or {}).get("history") or []), key=lambda entry: int(entry.get("id") or 0))
    current = source.get("targetRevision")
    plan["from_revision"] = current
    requested = str(requested if requested is not None else "").strip()
    if requested.startswith("#"):
        matches = [entry for entry in history if str(entry.get("id")) == requested[1:]]
        if not matches:
            known = ", ".join(str(entry.get("id")) for entry in history) or "none"
            plan["problems"].append("The Application's history has no id %s (ids: %s)." % (requested[1:], known))
            return plan
        target = str(matches[0].get("revision"))
    elif requested:
        target = requested
    else:
        deployed = [str(entry.get("revision")) for entry in history if entry.get("revision")]
        latest = deployed[-1] if deployed else None
        earlier = [revision for revision in deployed[:-1] if revision != latest]
        if not earlier:
            plan["problems"].append("The Application has no earlier deployed revision in its history: give lambda_k3s_rollback_revision "
                                    "(a tag or a commit).")
            return plan
        target = earlier[-1]
    plan["to_revision"] = target
    plan["noop"] = target == current
    plan["message"] = ("The Application already follows %s: nothing to do." % target if plan["noop"]
                       else "Roll the Application back from %s to %s." % (current, target))
    return plan


def _short(revision) -> str:
    text = str(revision or "unknown")
    return text[:12] if re.match(r"^[0-9a-f]{40}$", text) else text


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


class FilterModule:
    """GitOps with Argo CD."""

    def filters(self) -> dict:
        return {"gitops_application": gitops_application, "gitops_argocd_values": gitops_argocd_values,
                "gitops_application_state": gitops_application_state, "gitops_delivery": gitops_delivery,
                "gitops_rollback_plan": gitops_rollback_plan, "gitops_settings_problems": gitops_settings_problems}
