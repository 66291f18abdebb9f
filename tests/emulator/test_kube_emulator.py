"""The Kubernetes API emulator's own behaviour: what the cluster plays' tests rely on it to do like Kubernetes."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from kube_emulator.server import KubeEmulator, _decode_protobuf, _strategic_merge


def call(emulator: KubeEmulator, method: str, path: str, body: Any = None, content_type: str = "application/json") -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(emulator.url + path, data=data, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def namespace(emulator: KubeEmulator, name: str = "ns") -> None:
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def plugin_daemonset(sharing: dict | None = None, runtime_class: str = "nvidia") -> dict:
    config = {"version": "v1", **({"sharing": sharing} if sharing else {})}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "plugin", "namespace": "ns"},
            "spec": {"selector": {"matchLabels": {"app": "plugin"}}, "template": {
                "metadata": {"labels": {"app": "plugin"}},
                "spec": {"runtimeClassName": runtime_class,
                         "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                             {"matchExpressions": [{"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]}]}]}}},
                         "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                         "containers": [{"name": "c", "image": "nvcr.io/nvidia/k8s-device-plugin:v0.18.2", "command": ["nvidia-device-plugin"],
                                         "env": [{"name": "CONFIG_FILE", "value": "/config/config.json"}],
                                         "volumeMounts": [{"name": "config", "mountPath": "/config"}]}],
                         "volumes": [{"name": "config", "configMap": {"name": "plugin-config"}}]}}}}, config


def test_discovery_lists_the_kinds_the_plays_use(kube_emulator: KubeEmulator) -> None:
    assert call(kube_emulator, "GET", "/version")[1]["gitVersion"] == "v1.35.6+k3s1"
    groups = {group["name"] for group in call(kube_emulator, "GET", "/apis")[1]["groups"]}
    assert groups == {"apps", "node.k8s.io", "apiextensions.k8s.io", "argoproj.io", "monitoring.coreos.com"}
    kinds = {resource["kind"] for resource in call(kube_emulator, "GET", "/apis/apps/v1")[1]["resources"]}
    assert kinds == {"DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"}
    index = call(kube_emulator, "GET", "/openapi/v3")[1]["paths"]
    assert "apis/apps/v1" in index and "api/v1" in index


def test_selectors_dry_run_no_op_writes_and_preconditions(kube_emulator: KubeEmulator) -> None:
    kube_emulator.seed_node("a", labels={"gpu-type": "A10", "tier": "gpu"})
    kube_emulator.seed_node("b", labels={"tier": "cpu"})

    def names(query: str) -> list:
        return [item["metadata"]["name"] for item in call(kube_emulator, "GET", "/api/v1/nodes?" + query)[1]["items"]]

    assert names("labelSelector=gpu-type") == ["a"]
    assert names("labelSelector=tier%20in%20(cpu,x),!gpu-type") == ["b"]
    assert names("labelSelector=tier!%3Dgpu") == ["b"]
    assert names("fieldSelector=metadata.name%3Da") == ["a"]
    version = kube_emulator.get("nodes", "a")["metadata"]["resourceVersion"]
    status, body = call(kube_emulator, "PATCH", "/api/v1/nodes/a?dryRun=All", {"metadata": {"labels": {"x": "1"}}}, "application/merge-patch+json")
    assert status == 200 and body["metadata"]["labels"]["x"] == "1"
    assert "x" not in kube_emulator.get("nodes", "a")["metadata"]["labels"]
    call(kube_emulator, "PATCH", "/api/v1/nodes/a", {"metadata": {"labels": {"tier": "gpu"}}}, "application/merge-patch+json")
    assert kube_emulator.get("nodes", "a")["metadata"]["resourceVersion"] == version
    status, body = call(kube_emulator, "PATCH", "/api/v1/nodes/a", {"metadata": {"resourceVersion": "1", "labels": {"tier": None}}},
                        "application/merge-patch+json")
    assert (status, body["reason"]) == (409, "Conflict")
    status, body = call(kube_emulator, "PATCH", "/api/v1/nodes/a", [{"op": "remove", "path": "/metadata/labels/gpu-type"}],
                        "application/json-patch+json")
    assert status == 200 and "gpu-type" not in body["metadata"]["labels"]
    assert "gpu-type" not in kube_emulator.get("nodes", "a")["metadata"]["labels"]


def test_errors_are_kubernetes_status_objects(kube_emulator: KubeEmulator) -> None:
    status, body = call(kube_emulator, "GET", "/api/v1/namespaces/none/secrets/x")
    assert (status, body["kind"], body["reason"]) == (404, "Status", "NotFound")
    status, body = call(kube_emulator, "POST", "/api/v1/namespaces/none/secrets", {"metadata": {"name": "x"}})
    assert (status, body["message"]) == (404, 'namespaces "none" not found')
    status, body = call(kube_emulator, "PATCH", "/api/v1/nodes/x", {"a": 1}, "application/apply-patch+yaml")
    assert (status, body["reason"]) == (404, "NotFound")


def test_strategic_merge_merges_lists_on_their_keys_and_honours_directives() -> None:
    current = {"spec": {"containers": [{"name": "a", "image": "1", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
                                       {"name": "b", "image": "1"}], "tolerations": [{"key": "t"}]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                      "containers": [{"name": "a", "image": "2", "env": [{"name": "Y", "$patch": "delete"}]}, {"name": "b", "$patch": "delete"}],
                      "tolerations": [{"key": "u"}]}}
    assert _strategic_merge(current, patch) == {"spec": {"containers": [{"name": "a", "image": "2", "env": [{"name": "X", "value": "1"}]}],
                                                         "tolerations": [{"key": "u"}]}}


def test_protobuf_secrets_from_client_go_are_decoded() -> None:
    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2, len(payload)]) + payload

    entry = field(1, b"release") + field(2, b"\x00binary")
    meta = field(1, b"sh.helm.release.v1.p.v1") + field(3, b"") + field(11, field(1, b"owner") + field(2, b"helm"))
    secret = field(1, meta) + field(2, entry) + field(3, b"helm.sh/release.v1")
    body = b"k8s\x00" + field(1, field(1, b"v1") + field(2, b"Secret")) + field(2, secret)
    assert _decode_protobuf(body) == {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
                                      "metadata": {"name": "sh.helm.release.v1.p.v1", "labels": {"owner": "helm"}},
                                      "data": {"release": base64.b64encode(b"\x00binary").decode()}}


def test_the_device_plugin_serves_the_nodes_its_daemonset_schedules_to(kube_emulator: KubeEmulator) -> None:
    namespace(kube_emulator)
    kube_emulator.seed_node("gpu", labels={"nvidia.com/gpu.present": "true"}, gpus=2, taints=[{"key": "nvidia.com/gpu", "effect": "NoSchedule"}])
    kube_emulator.seed_node("broken", labels={"nvidia.com/gpu.present": "true"}, gpus=8, reports=6)
    kube_emulator.seed_node("cpu")
    daemonset, config = plugin_daemonset({"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}})
    kube_emulator.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plugin-config", "namespace": "ns"},
                          "data": {"config.json": json.dumps(config)}})
    kube_emulator.create(daemonset)
    # No pod while the RuntimeClass is missing, as pod admission refuses them.
    assert kube_emulator.list("pods", "ns") == []
    assert kube_emulator.get("daemonsets", "plugin", "ns", "apps")["status"]["desiredNumberScheduled"] == 2
    kube_emulator.create({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"}, "handler": "nvidia"})
    assert sorted(pod["spec"]["nodeName"] for pod in kube_emulator.list("pods", "ns")) == ["broken", "gpu"]
    allocatable = {name: kube_emulator.get("nodes", name)["status"]["allocatable"].get("nvidia.com/gpu") for name in ("gpu", "broken", "cpu")}
    assert allocatable == {"gpu": "8", "broken": "24", "cpu": None}
    kube_emulator.set_hardware("gpu", ready=False)
    assert "nvidia.com/gpu" not in kube_emulator.get("nodes", "gpu")["status"]["allocatable"]
    assert kube_emulator.get("daemonsets", "plugin", "ns", "apps")["status"]["numberReady"] == 1


@pytest.mark.parametrize(("gpus", "ready"), [(1, 1), (0, 0)])
def test_a_deployment_is_ready_only_where_its_gpu_request_fits(kube_emulator: KubeEmulator, gpus: int, ready: int) -> None:
    namespace(kube_emulator)
    kube_emulator.seed_node("gpu", labels={"gpu-type": "A10", "nvidia.com/gpu.present": "true"}, gpus=gpus)
    kube_emulator.create({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"}, "handler": "nvidia"})
    daemonset, _config = plugin_daemonset()
    kube_emulator.create(daemonset)
    template = {"metadata": {"labels": {"app": "b"}}, "spec": {"nodeSelector": {"gpu-type": "A10"}, "containers": [
        {"name": "b", "image": "b", "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}
    kube_emulator.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "b", "namespace": "ns"},
                          "spec": {"selector": {"matchLabels": {"app": "b"}}, "template": template}})
    (replica_set,) = kube_emulator.list("replicasets", "ns", "apps")
    assert replica_set["metadata"]["ownerReferences"][0]["uid"] == kube_emulator.get("deployments", "b", "ns", "apps")["metadata"]["uid"]
    assert replica_set["status"]["readyReplicas"] == ready
    call(kube_emulator, "DELETE", "/apis/apps/v1/namespaces/ns/deployments/b")
    assert kube_emulator.list("replicasets", "ns", "apps") == []


def _statefulset(name: str, image: str, args: list) -> dict:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": "argocd"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": image, "args": args}]}}}}


def test_crds_statefulsets_and_argo_cd_report_what_the_addon_roles_wait_for(kube_emulator: KubeEmulator) -> None:
    kube_emulator.seed_node("server")
    crd = kube_emulator.create({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                                "metadata": {"name": "applications.argoproj.io"},
                                "spec": {"group": "argoproj.io", "names": {"kind": "Application", "plural": "applications"}}})
    assert {item["type"]: item["status"] for item in crd["status"]["conditions"]} == {"NamesAccepted": "True", "Established": "True"}
    namespace(kube_emulator, "argocd")
    application = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                   "metadata": {"name": "platform", "namespace": "argocd", "annotations": {"argocd.argoproj.io/refresh": "normal"}},
                   "spec": {"source": {"repoURL": "https://git.example/p.git", "path": "chart", "targetRevision": "v1"},
                            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}}}}
    kube_emulator.create(application)
    # No Argo CD yet: nobody reports a state.
    assert "status" not in kube_emulator.get("applications", "platform", "argocd", group="argoproj.io")

    kube_emulator.create(_statefulset("other", "quay.io/prometheus/prometheus:v3", []))
    controller = kube_emulator.create(_statefulset("argocd-application-controller", "quay.io/argoproj/argocd:v3.4.4",
                                                   ["/usr/local/bin/argocd-application-controller"]))
    status = controller["status"]
    assert (status["readyReplicas"], status["updatedReplicas"], status["observedGeneration"]) == (1, 1, 1)
    assert status["currentRevision"] == status["updateRevision"]

    synced = kube_emulator.get("applications", "platform", "argocd", group="argoproj.io")
    assert synced["status"]["sync"]["status"] == "Synced" and synced["status"]["health"]["status"] == "Healthy"
    assert synced["status"]["sync"]["comparedTo"]["source"] == application["spec"]["source"]
    assert "argocd.argoproj.io/refresh" not in synced["metadata"]["annotations"]
    assert [entry["revision"] for entry in synced["status"]["history"]] == ["v1"]

    # A new revision is a new history entry; without automated sync only an operation syncs it.
    status, body = call(kube_emulator, "PATCH", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/platform",
                        {"spec": {"source": {"targetRevision": "v2"}, "syncPolicy": {"automated": None}}}, "application/merge-patch+json")
    assert status == 200 and body["status"]["sync"]["status"] == "OutOfSync"
    status, body = call(kube_emulator, "PATCH", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/platform",
                        {"operation": {"sync": {"revision": "v2"}}}, "application/merge-patch+json")
    assert body["status"]["sync"]["status"] == "Synced" and "operation" not in body
    assert [entry["revision"] for entry in body["status"]["history"]] == ["v1", "v2"]
