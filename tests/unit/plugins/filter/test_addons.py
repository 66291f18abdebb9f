"""The add-ons' decisions: secret paths, the Application and its state, hand-over and rollback, the monitoring values, where the
DCGM exporter runs, and the add-ons' status."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.filter.addons_status import addons_problems, addons_status, addons_status_lines
from ansible_collections.sophia.lambda_k3s.plugins.filter.gitops import (
    gitops_application,
    gitops_application_state,
    gitops_delivery,
    gitops_rollback_plan,
    gitops_settings_problems,
)
from ansible_collections.sophia.lambda_k3s.plugins.filter.monitoring import (
    monitoring_dcgm_affinity,
    monitoring_dcgm_report,
    monitoring_grafana_access,
    monitoring_stack_values,
    monitoring_workload_ready,
)
from ansible_collections.sophia.lambda_k3s.plugins.filter.secret_sources import secret_paths_problems, secret_values

SOURCE = {"backend": {"apiToken": "tok-123", "replicas": 2, "debug": True}, "hosts": ["a", "b"], "key.with.dots": "d"}
SETTINGS = {"name": "sophia-platform", "namespace": "argocd", "repo_url": "https://git.example/p.git", "path": "charts/sophia-platform",
            "revision": "v2", "release_name": "sophia-platform", "destination_namespace": "sophia-ai"}


# -- secret paths --------------------------------------------------------------------------------------------------------


def test_secret_paths_resolve_and_merge_with_the_given_values() -> None:
    secrets = secret_values({"app": {"MODE": "prod"}}, {"app": {"TOKEN": "backend.apiToken", "REPLICAS": "backend.replicas",
                                                                "DEBUG": "backend.debug"}, "other": {"HOST": "hosts[1]", "D": '["key.with.dots"]'}}, SOURCE)
    assert secrets == {"app": {"MODE": "prod", "TOKEN": "tok-123", "REPLICAS": "2", "DEBUG": "true"}, "other": {"HOST": "b", "D": "d"}}


def test_secret_path_problems_name_the_secret_key_and_path_never_a_value() -> None:
    problems = secret_paths_problems({"app": {"TOKEN": "backend.apiTokn", "ALL": "backend", "MODE": "backend.replicas"}, "empty": {}}, SOURCE,
                                     "platform_release_secret_paths", "the Pulumi ESC environment o/p/e", {"app": {"MODE": "x"}})
    assert problems == [
        "platform_release_secret_paths.app.TOKEN: The Pulumi ESC environment o/p/e has no backend.apiTokn: backend has apiToken, debug, replicas.",
        "platform_release_secret_paths.app.ALL: the Pulumi ESC environment o/p/e at backend is a mapping, not a value: point the path at a single value.",
        "platform_release_secret_paths.app.MODE is also given as a value: keep one of them.",
        "platform_release_secret_paths.empty must be a non-empty dictionary of Secret keys to paths in the Pulumi ESC environment o/p/e.",
    ]
    assert not any("tok-123" in problem for problem in problems)
    with pytest.raises(AnsibleFilterError, match="has no backend.apiTokn"):
        secret_values({}, {"app": {"TOKEN": "backend.apiTokn"}}, SOURCE)


# -- GitOps ---------------------------------------------------------------------------------------------------------------


def test_the_application_follows_the_settings() -> None:
    application = gitops_application({**SETTINGS, "values": {"a": 1}, "value_files": ["values-prod.yaml"], "automated": False, "retry_limit": 0})
    spec = application["spec"]
    assert spec["source"] == {"repoURL": "https://git.example/p.git", "path": "charts/sophia-platform", "targetRevision": "v2",
                              "helm": {"releaseName": "sophia-platform", "valueFiles": ["values-prod.yaml"], "valuesObject": {"a": 1}}}
    assert spec["syncPolicy"] == {} and spec["project"] == "default" and "finalizers" not in application["metadata"]
    assert gitops_application(SETTINGS)["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert gitops_application({**SETTINGS, "prune": False})["spec"]["syncPolicy"]["automated"] == {"prune": False, "selfHeal": True}


def test_missing_application_settings_are_named() -> None:
    assert gitops_settings_problems({**SETTINGS, "repo_url": "", "path": "../charts", "revision": " ", "name": "Bad_Name"}) == [
        "gitops_repo_url is empty: set the Git repository Argo CD deploys the platform from.",
        'gitops_repo_path "../charts" must be relative to the repository\'s root, without "..".',
        "gitops_revision is empty: give a branch, a tag or a commit (HEAD follows the default branch).",
        'gitops_application_name "Bad_Name" is not a valid name (lower-case letters, digits and "-").']
    with pytest.raises(AnsibleFilterError, match="gitops_repo_url is empty"):
        gitops_application({**SETTINGS, "repo_url": ""})


def _app(revision: str = "v2", compared: str = "v2", sync: str = "Synced", health: str = "Healthy", **status) -> dict:
    source = {"repoURL": SETTINGS["repo_url"], "path": SETTINGS["path"], "targetRevision": revision}
    sync_status = {"status": sync, "revision": "a" * 40, "comparedTo": {"source": {**source, "targetRevision": compared}}}
    return {"spec": {"source": source}, "status": {"sync": sync_status, "health": {"status": health}, **status}}


def test_the_application_state_waits_for_argo_cd_to_compare_the_new_source() -> None:
    assert gitops_application_state(_app())["done"] and gitops_application_state(_app())["message"] == "Synced and Healthy at v2 (aaaaaaaaaaaa)"
    stale = gitops_application_state(_app(compared="v1"))
    assert not stale["done"] and not stale["failed"] and stale["message"] == "Argo CD has not compared v2 yet"
    assert gitops_application_state(_app(health="Progressing"))["message"] == "Synced and Progressing"
    failed = gitops_application_state(_app(operationState={"phase": "Failed", "message": "one or more objects failed to apply"}))
    assert failed["failed"] and failed["message"] == "the sync failed: one or more objects failed to apply"
    error = gitops_application_state(_app(sync="Unknown", conditions=[{"type": "ComparisonError", "message": "unable to resolve 'v9' to a commit SHA"}]))
    assert error["failed"] and error["message"] == "unable to resolve 'v9' to a commit SHA"
    assert gitops_application_state(None) == {"exists": False, "sync": None, "health": None, "revision": None, "phase": None, "current": False,
                                              "done": False, "failed": False, "message": "the Application does not exist"}


def test_delivery_hands_over_only_once_the_application_exists() -> None:
    found = {"resources": [_app()]}
    assert gitops_delivery(found, True) == {"by": "argocd", "problems": []}
    assert gitops_delivery({"resources": [], "msg": "Failed to find exact match for argoproj.io/v1alpha1.Application"}, "true")["by"] == "helm"
    refused = gitops_delivery(found, False, "sophia-platform", "argocd")
    assert refused["problems"][0].startswith("Argo CD's Application sophia-platform in argocd delivers the platform, but GitOps is off")


def test_rollback_goes_to_the_previous_revision_of_the_history_or_the_one_asked_for() -> None:
    application = _app(history=[{"id": 1, "revision": "1" * 40}, {"id": 2, "revision": "2" * 40}, {"id": 3, "revision": "3" * 40}])
    plan = gitops_rollback_plan(application)
    assert (plan["from_revision"], plan["to_revision"], plan["noop"], plan["problems"]) == ("v2", "2" * 40, False, [])
    assert gitops_rollback_plan(application, "#1")["to_revision"] == "1" * 40
    assert gitops_rollback_plan(application, "v1")["to_revision"] == "v1"
    assert gitops_rollback_plan(application, "v2")["noop"]
    assert gitops_rollback_plan(application, "#7")["problems"] == ["The Application's history has no id 7 (ids: 1, 2, 3)."]
    assert gitops_rollback_plan(_app(history=[{"id": 1, "revision": "1" * 40}]))["problems"][0].startswith("The Application has no earlier")
    assert gitops_rollback_plan(None)["problems"]


# -- monitoring -------------------------------------------------------------------------------------------------------------


def test_the_stack_values_merge_the_users_last() -> None:
    values = monitoring_stack_values({"release": "mon", "values": {"prometheus": {"prometheusSpec": {"retention": "90d"}}, "kubeEtcd": None}})
    assert values["prometheus"]["prometheusSpec"]["retention"] == "90d" and values["kubeEtcd"] is None
    assert values["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"] == {"requests": {"storage": "50Gi"}}
    assert values["grafana"]["fullnameOverride"] == "mon-grafana"


def test_the_dcgm_exporter_affinity_comes_from_the_collections_labels() -> None:
    terms = monitoring_dcgm_affinity("nvidia.com/gpu.present", ["H100", "A10", "H100"])["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]},
                                           {"key": "gpu-type", "operator": "In", "values": ["A10", "H100"]}]}]
    with pytest.raises(AnsibleFilterError, match="monitoring_dcgm_gpu_types must be a list"):
        monitoring_dcgm_affinity("nvidia.com/gpu.present", [""])


def _node(name: str, gpu_type: str | None) -> dict:
    labels = {"nvidia.com/gpu.present": "true", "gpu-type": gpu_type} if gpu_type else {}
    return {"metadata": {"name": name, "labels": labels}}


def _pod(node: str, ready: bool = True) -> dict:
    return {"spec": {"nodeName": node}, "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_the_dcgm_report_counts_gpu_nodes_not_the_daemonset() -> None:
    nodes = [_node("cpu", None), _node("a10", "A10"), _node("h100", "H100")]
    daemonset = {"status": {"desiredNumberScheduled": 2, "numberReady": 1}}
    report = monitoring_dcgm_report(daemonset, [_pod("a10"), _pod("h100", ready=False)], nodes)
    assert (report["ok"], report["missing"], report["message"]) == (False, ["h100"], "no ready DCGM exporter on h100")
    assert monitoring_dcgm_report(daemonset, [_pod("h100")], nodes, gpu_types=["H100"])["ok"]
    assert monitoring_dcgm_report(None, [], nodes)["message"] == "the DCGM exporter is not installed"


def test_workloads_and_grafana_access() -> None:
    assert monitoring_workload_ready([{"spec": {"replicas": 2}, "status": {"readyReplicas": 2}}])
    assert not monitoring_workload_ready([{"spec": {}, "status": {}}]) and not monitoring_workload_ready([])
    assert monitoring_grafana_access({"release": "mon", "namespace": "obs"}) == (
        "kubectl -n obs port-forward svc/mon-grafana 3000:80, then http://localhost:3000/")
    assert monitoring_grafana_access({"ingress_host": "grafana.example"}) == "http://grafana.example/"


def test_the_addons_status_and_its_lines() -> None:
    ready = {"resources": [{"spec": {"replicas": 1}, "status": {"readyReplicas": 1}}]}
    reads = {"application": {"resources": [_app()]}, "prometheus": ready, "grafana": ready,
             "dcgm_daemonset": {"resources": [{"status": {}}]}, "dcgm_pods": {"resources": [_pod("a10")]}, "nodes": {"resources": [_node("a10", "A10")]}}
    settings = {"gitops": True, "monitoring": True, "monitoring_release": "monitoring", "monitoring_namespace": "monitoring"}
    addons = addons_status(reads, settings)
    assert addons["gitops"] == {"enabled": True, "installed": True, "sync": "Synced", "health": "Healthy", "revision": "a" * 40,
                                "message": "Synced and Healthy at v2 (aaaaaaaaaaaa)"}
    assert addons["monitoring"]["up"] and addons["monitoring"]["grafana"].startswith("kubectl -n monitoring port-forward svc/monitoring-grafana")
    assert addons_problems(addons) == []
    assert addons_status_lines(addons)[0] == "GitOps: Application Synced, Healthy, revision " + "a" * 40
    down = addons_status({"application": {"msg": "Failed to find exact match"}, "grafana": ready}, settings)
    assert down["gitops"]["message"] == "Argo CD is not installed" and not down["monitoring"]["up"]
    assert down["monitoring"]["message"] == "Prometheus is not ready; the DCGM exporter is not installed"
    assert addons_problems(down) == ["GitOps: the platform's Application is not Synced and Healthy (Argo CD is not installed).",
                                     "Monitoring is not up: Prometheus is not ready; the DCGM exporter is not installed."]
    assert addons_status({}, {}) == {"gitops": {"enabled": False, "installed": False, "sync": None, "health": None, "revision": None, "message": "off"},
                                     "monitoring": {"enabled": False, "up": False, "grafana": None, "message": "off"}}
    assert addons_status_lines(addons_status({}, {})) == ["GitOps: off", "Monitoring: off"]


@pytest.mark.parametrize("module", ["gitops", "monitoring", "addons_status", "secret_sources"])
def test_every_filter_of_the_addons_has_its_ansible_doc_page(module: str) -> None:
    import importlib
    from pathlib import Path

    plugin = importlib.import_module("ansible_collections.sophia.lambda_k3s.plugins.filter." + module)
    directory = Path(plugin.__file__).parent
    missing = [name for name in plugin.FilterModule().filters() if not (directory / ("%s.yml" % name)).is_file()]
    assert missing == []
