"""Every object and values file the add-on roles (gitops, monitoring) produce, rendered by the roles' own tasks and validated:
Kubernetes kinds against Kubernetes 1.35's schemas in strict mode (kubernetes-validate), the custom resources (Argo CD's
Application, prometheus-operator's ServiceMonitor) against their CRD's openAPIV3Schema (tests/schemas, strict: an unknown field
fails), and the GPU dashboard against the metrics the exporter is told to export.

The charts themselves (argo/argo-cd, kube-prometheus-stack) cannot be fetched here: their values are checked for the settings
the roles rely on; only a real install proves the charts take them (docs/testing.md).
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from integration.helpers import REPO_ROOT, STATIC_INVENTORY, ansible_env, run_ansible
from integration.test_cluster_manifests import validate as validate_kubernetes

pytestmark = pytest.mark.integration

PLAYBOOK = REPO_ROOT / "tests" / "integration" / "playbooks" / "render_addons.yml"
SCHEMAS = REPO_ROOT / "tests" / "schemas"
CUSTOM = {("argoproj.io/v1alpha1", "Application"): "application.json", ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.json"}
GITOPS = {"gitops_repo_url": "https://git.example.internal/sophia/platform.git", "gitops_repo_path": "charts/sophia-platform"}
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {**GITOPS},
    "ingresses, profiling, H100 only, manual sync": {
        **GITOPS, "gitops_revision": "v1.4.2", "gitops_argocd_ingress_host": "argocd.example.internal", "gitops_automated": False,
        "gitops_finalizer": True, "gitops_sync_options": ["ServerSideApply=true"], "platform_release_environment": "prod",
        "platform_release_values": {"backend": {"image": {"tag": "1.4.2"}}}, "gitops_repo_credentials": {"username": "git", "password": "s3cr3t"},
        "monitoring_grafana_ingress_host": "grafana.example.internal", "monitoring_dcgm_profiling": True, "monitoring_dcgm_gpu_types": ["H100"],
        "monitoring_grafana_admin_password": "admin-pass", "monitoring_prometheus_retention_size": "45GB",
        "monitoring_prometheus_storage_class": "local-path", "monitoring_dcgm_image_pull_secrets": ["mirror"],
        "monitoring_values": {"alertmanager": {"enabled": False}},
    },
    "no DCGM exporter, OCI chart by digest": {
        **GITOPS, "monitoring_dcgm": False, "monitoring_chart_repo_url": "oci://ghcr.io/prometheus-community/charts",
        "monitoring_chart_digest": "sha256:" + "a" * 64,
    },
}


def strict(schema: Any) -> Any:
    """The CRD schema with additionalProperties: false wherever it lists properties (an unknown field fails, as in --strict).

    The packages write a field that keeps unknown fields (x-kubernetes-preserve-unknown-fields: helm.valuesObject) as an object
    with empty properties: those stay open."""
    if isinstance(schema, dict):
        result = {key: strict(value) for key, value in schema.items()}
        if result.get("properties") and "additionalProperties" not in result and not result.get("x-kubernetes-preserve-unknown-fields"):
            result["additionalProperties"] = False
        if result.get("$ref", "").startswith("io.k8s.apimachinery"):
            return {"type": "object"}
        return result
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def validate(obj: dict) -> None:
    schema_file = CUSTOM.get((obj.get("apiVersion"), obj.get("kind")))
    if schema_file is None:
        validate_kubernetes(obj)
        return
    # The CRD schemas leave metadata to Kubernetes: it is checked as any object's metadata.
    validate_kubernetes({"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]})
    try:
        jsonschema.validate(obj, strict(json.loads((SCHEMAS / schema_file).read_text())))
    except jsonschema.ValidationError as error:
        pytest.fail("%s %s is invalid at %s: %s" % (obj["kind"], obj["metadata"]["name"], "/".join(map(str, error.absolute_path)), error.message))


@pytest.fixture(scope="module", params=list(VARIANTS))
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    directory = tmp_path_factory.mktemp("addons")
    inventory = directory / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"k3s_cluster": {"hosts": {"srv": {}}}}}}))
    extra = directory / "variables.yml"
    output = directory / "rendered.json"
    extra.write_text(yaml.safe_dump({"render_output": str(output), **VARIANTS[request.param]}))
    result = run_ansible(["ansible-playbook", str(PLAYBOOK), "-i", str(inventory), "-e", "@%s" % extra], env=ansible_env(directory, **STATIC_INVENTORY))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return request.param, json.loads(output.read_text())


def test_every_object_is_valid(rendered) -> None:
    _name, objects = rendered
    for obj in [objects["gitops"]["namespace"], objects["gitops"]["application"], objects["gitops_repo_secret"],
                objects["monitoring"]["namespace"]] + objects["monitoring"]["manifests"]:
        validate(obj)


def test_the_application_deploys_the_platform_chart_from_git(rendered) -> None:
    name, objects = rendered
    application = objects["gitops"]["application"]
    assert application["metadata"] == {"name": "sophia-platform", "namespace": "argocd", "labels": {"app.kubernetes.io/managed-by": "sophia.lambda_k3s"},
                                       **({"finalizers": ["resources-finalizer.argocd.argoproj.io"]} if name.startswith("ingresses") else {})}
    source = application["spec"]["source"]
    assert (source["repoURL"], source["path"]) == (GITOPS["gitops_repo_url"], GITOPS["gitops_repo_path"])
    assert application["spec"]["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "sophia-ai"}
    assert source["helm"]["releaseName"] == "sophia-platform"
    if name.startswith("ingresses"):
        assert source["targetRevision"] == "v1.4.2" and source["helm"]["valueFiles"] == ["values-prod.yaml"]
        assert source["helm"]["valuesObject"] == {"backend": {"image": {"tag": "1.4.2"}}}
        assert "automated" not in application["spec"]["syncPolicy"] and application["spec"]["syncPolicy"]["syncOptions"] == ["ServerSideApply=true"]
        ingress = objects["gitops"]["argocd_values"]["server"]["ingress"]
        assert ingress == {"enabled": True, "ingressClassName": "traefik", "hostname": "argocd.example.internal"}
    else:
        assert source["targetRevision"] == "HEAD" and "helm" in source and "valueFiles" not in source["helm"]
        assert application["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    values = objects["gitops"]["argocd_values"]
    assert values["fullnameOverride"] == "argocd" and values["configs"]["params"]["server.insecure"] is True
    assert objects["gitops"]["chart_ref"] == "argo-cd"


def test_the_dcgm_exporter_runs_with_the_nvidia_runtime_on_gpu_nodes_only(rendered) -> None:
    name, objects = rendered
    by_kind = {obj["kind"]: obj for obj in objects["monitoring"]["manifests"]}
    if name.startswith("no DCGM"):
        assert set(by_kind) == {"ConfigMap"} and objects["monitoring"]["chart_ref"] == (
            "oci://ghcr.io/prometheus-community/charts/kube-prometheus-stack:88.5.3@sha256:" + "a" * 64)
        return
    pod = by_kind["DaemonSet"]["spec"]["template"]["spec"]
    assert pod["runtimeClassName"] == "nvidia"
    expressions = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"]
    assert {"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]} in expressions
    assert ({"key": "gpu-type", "operator": "In", "values": ["H100"]} in expressions) == name.startswith("ingresses")
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    container = pod["containers"][0]
    assert container["image"] == "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-ubuntu22.04"
    assert container["securityContext"]["capabilities"] == ({"drop": ["ALL"], "add": ["SYS_ADMIN"]} if name.startswith("ingresses") else {"drop": ["ALL"]})
    assert {"name": "pod-resources", "mountPath": "/var/lib/kubelet/pod-resources", "readOnly": True} in container["volumeMounts"]
    monitor, service = by_kind["ServiceMonitor"], by_kind["Service"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= by_kind["DaemonSet"]["spec"]["template"]["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"] == "metrics"
    assert monitor["metadata"]["labels"]["release"] == "monitoring"
    metrics = next(obj for obj in objects["monitoring"]["manifests"] if obj["metadata"]["name"] == "dcgm-exporter-metrics")
    counters = [line.split(",")[0] for line in metrics["data"]["metrics.csv"].splitlines()]
    assert ("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE" in counters) == name.startswith("ingresses")


def test_the_dashboard_shows_use_memory_temperature_and_power_per_node_and_gpu_type(rendered) -> None:
    _name, objects = rendered
    configmap = next(obj for obj in objects["monitoring"]["manifests"] if obj["metadata"]["name"].endswith("gpu-dashboard"))
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(configmap["data"]["lambda-k3s-gpus.json"])
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exported = {line.split(",")[0] for line in (REPO_ROOT / "roles" / "monitoring" / "vars" / "main.yml").read_text().splitlines() if "DCGM_FI_DEV" in line
                for line in [line.strip(" -[")]}
    used = set(re.findall(r"DCGM_FI_[A-Z_]+", " ".join(expressions)))
    assert used and used <= exported
    assert {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE"} <= used
    assert any("by (label_gpu_type)" in expr for expr in expressions) and any("by (node, label_gpu_type)" in expr for expr in expressions)
    assert [variable["name"] for variable in dashboard["templating"]["list"]] == ["datasource", "gpu_type", "node"]
    # The join needs kube-state-metrics to publish the gpu-type label, and the node label the ServiceMonitor adds.
    assert objects["monitoring"]["values"]["kube-state-metrics"]["metricLabelsAllowlist"] == ["nodes=[gpu-type]"]


def test_the_stack_values_fit_k3s_and_the_settings(rendered) -> None:
    name, objects = rendered
    values = objects["monitoring"]["values"]
    assert all(values[component] == {"enabled": False} for component in ("kubeControllerManager", "kubeScheduler", "kubeProxy", "kubeEtcd"))
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "15d" and spec["serviceMonitorSelectorNilUsesHelmValues"] is False
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "50Gi"
    assert values["fullnameOverride"] == "monitoring" and values["grafana"]["fullnameOverride"] == "monitoring-grafana"
    if name.startswith("ingresses"):
        assert spec["retentionSize"] == "45GB" and claim["storageClassName"] == "local-path"
        assert values["grafana"]["admin"] == {"existingSecret": "monitoring-grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"}
        assert values["grafana"]["ingress"]["hosts"] == ["grafana.example.internal"] and values["alertmanager"] == {"enabled": False}
    else:
        assert "admin" not in values["grafana"] and "retentionSize" not in spec
