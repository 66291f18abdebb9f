"""EMULATOR of the Kubernetes API calls the cluster plays make (tests only; Python standard library only).

What it mirrors, from the Kubernetes API reference (https://kubernetes.io/docs/reference/using-api/):
- Discovery: /version, /api, /api/v1, /apis and /apis/<group>/<version> (APIVersions, APIGroupList and
  APIResourceList shapes) for the kinds below, which is what the Python client's dynamic discovery reads.
- Kinds: Node, Namespace and RuntimeClass (cluster-scoped); Pod, Secret, ConfigMap and DaemonSet
  (namespaced). GET of one object or a list (labelSelector with =, ==, !=, in, notin, exists and !key;
  fieldSelector with = and != on dotted paths), POST, PUT, PATCH and DELETE, Status errors (404
  NotFound, 409 AlreadyExists and Conflict, 422 Invalid, 415 for an unsupported patch type), the
  dryRun=All query parameter (nothing stored), uid, creationTimestamp, generation (bumped when spec
  changes) and resourceVersion (bumped only when an object really changes, as the API server skips
  no-op updates), and the resourceVersion precondition of a PUT or a patch.
- Patches: application/json-patch+json (RFC 6902: add, remove, replace, test) and
  application/merge-patch+json (RFC 7386).
- Controllers, reduced to what the plays observe: the DaemonSet controller and scheduler put one pod
  per node the pod template's nodeSelector, required node affinity and tolerations allow (pods are
  Running and Ready on Ready nodes; none is created while the runtimeClassName names a missing
  RuntimeClass, as pod admission refuses it), and keep the DaemonSet's status counts. A DaemonSet whose
  container runs nvidia-device-plugin (image .../k8s-device-plugin) stands for NVIDIA's device plugin:
  on each node where its pod is ready it advertises the node's GPUs as allocatable nvidia.com/gpu,
  multiplied by the replicas of the configuration file its CONFIG_FILE names (sharing.timeSlicing or
  sharing.mps, renamed nvidia.com/gpu.shared with renameByDefault; with MPS only where an
  mps-control-daemon pod is ready), as the plugin documents (README, "Shared Access to GPUs").

SIMPLIFICATIONS (on purpose): plain HTTP, no authentication or authorization, no admission beyond the
RuntimeClass check, no watch, no OpenAPI documents, no server-side apply. A strategic merge patch is
applied as a JSON merge patch (maps merge; lists are replaced instead of merged by key), which is
exact for the label, annotation and whole-list taint patches the plays send. The device plugin reads
its configuration as JSON (JSON is YAML; the plays write it so). Pods never run anything.

Test-only control endpoints, under /emulator/: POST /emulator/nodes seeds nodes (name, labels,
annotations, taints, gpus, reports, ready, kubelet_version); PATCH /emulator/nodes/<name> changes a
node's hardware (gpus, reports, ready); GET /emulator/requests returns the request log; POST
/emulator/reset empties everything.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

KUBERNETES_VERSION = "v1.35.6+k3s1"
GPU = "nvidia.com/gpu"

# (group, version, plural) -> (kind, namespaced, short names)
RESOURCES: dict[tuple[str, str, str], tuple[str, bool, list[str]]] = {
    ("", "v1", "nodes"): ("Node", False, ["no"]),
    ("", "v1", "namespaces"): ("Namespace", False, ["ns"]),
    ("", "v1", "pods"): ("Pod", True, ["po"]),
    ("", "v1", "secrets"): ("Secret", True, []),
    ("", "v1", "configmaps"): ("ConfigMap", True, ["cm"]),
    ("", "v1", "services"): ("Service", True, ["svc"]),
    ("apps", "v1", "daemonsets"): ("DaemonSet", True, ["ds"]),
    ("apps", "v1", "deployments"): ("Deployment", True, ["deploy"]),
    ("apps", "v1", "replicasets"): ("ReplicaSet", True, ["rs"]),
    ("apps", "v1", "statefulsets"): ("StatefulSet", True, ["sts"]),
    ("node.k8s.io", "v1", "runtimeclasses"): ("RuntimeClass", False, []),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions"): ("CustomResourceDefinition", False, ["crd", "crds"]),
    # Kinds of the add-ons' CRDs, served whether or not their CRD was created (see SIMPLIFICATIONS).
    ("argoproj.io", "v1alpha1", "applications"): ("Application", True, ["app", "apps"]),
    ("monitoring.coreos.com", "v1", "servicemonitors"): ("ServiceMonitor", True, ["smon"]),
}
_VERBS = ["create", "delete", "get", "list", "patch", "update"]
_KINDS_WITH_SPEC_GENERATION = ("DaemonSet", "Deployment", "ReplicaSet", "StatefulSet", "Pod", "Application")
# Strategic merge: the key a list of objects is merged on, by field name (Kubernetes' patchMergeKey tags).
_MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumeMounts": "mountPath", "volumes": "name",
               "imagePullSecrets": "name", "taints": "key", "conditions": "type", "ownerReferences": "uid"}


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self) -> dict:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": self.message,
                "reason": self.reason, "code": self.code}


class KubeEmulator:
    """The emulated API server: state, handlers and controllers. ``start()`` serves it on 127.0.0.1."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.RLock()
        self.objects: dict[tuple[str, str, str, str], dict] = {}
        self.hardware: dict[str, dict] = {}
        self.requests: list[dict] = []
        self._version = 100
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return "http://%s:%d" % (host, port)

    def start(self) -> KubeEmulator:
        self._thread = threading.Thread(target=self._server.serve_forever, name="kube-emulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def kubeconfig(self) -> dict:
        return {"apiVersion": "v1", "kind": "Config", "current-context": "emulator",
                "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
                "users": [{"name": "emulator", "user": {"token": "emulator-token"}}],
                "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "emulator"}}]}

    # -- test control -------------------------------------------------------------------------------

    def seed_node(self, name: str, labels: dict | None = None, gpus: int = 0, reports: int | None = None, ready: bool = True,
                  taints: list | None = None, annotations: dict | None = None, kubelet_version: str = KUBERNETES_VERSION) -> dict:
        with self._lock:
            self.hardware[name] = {"gpus": int(gpus), "reports": None if reports is None else int(reports), "ready": bool(ready)}
            node = {"apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **(labels or {})},
                                 "annotations": dict(annotations or {})},
                    "spec": {"taints": list(taints)} if taints else {},
                    "status": {"nodeInfo": {"kubeletVersion": kubelet_version}, "capacity": {}, "allocatable": {}}}
            stored = self._store(("", "nodes", "", name), node, create=True)
            self._reconcile()
            return copy.deepcopy(stored)

    def set_hardware(self, name: str, **changes: Any) -> None:
        with self._lock:
            if name not in self.hardware:
                raise ApiError(404, "NotFound", "no emulated node %s" % name)
            self.hardware[name].update({key: value for key, value in changes.items() if key in ("gpus", "reports", "ready")})
            self._reconcile()

    def get(self, plural: str, name: str, namespace: str = "", group: str = "") -> dict | None:
        with self._lock:
            found = self.objects.get((group, plural, namespace, name))
            return copy.deepcopy(found) if found else None

    def list(self, plural: str, namespace: str | None = None, group: str = "") -> list[dict]:
        with self._lock:
            return [copy.deepcopy(obj) for key, obj in sorted(self.objects.items())
                    if key[0] == group and key[1] == plural and (namespace is None or key[2] == namespace)]

    def create(self, obj: dict) -> dict:
        group, version = _split_api_version(obj["apiVersion"])
        plural = _plural_of(group, version, obj["kind"])
        with self._lock:
            return self._create(group, version, plural, obj.get("metadata", {}).get("namespace", ""), obj, dry_run=False)

    def writes(self) -> list[dict]:
        with self._lock:
            return [entry for entry in self.requests if entry["method"] not in ("GET",)]

    def reset(self) -> None:
        with self._lock:
            self.objects.clear()
            self.hardware.clear()
            self.requests.clear()

    # -- HTTP ---------------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict, body: bytes) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        path = [unquote(piece) for piece in parts.path.strip("/").split("/") if piece]
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip()
        payload = None
        # A DELETE's body holds DeleteOptions, which the emulator ignores.
        if body and method != "DELETE":
            try:
                payload = _decode_protobuf(body) if content_type == "application/vnd.kubernetes.protobuf" else json.loads(body)
            except (ValueError, KeyError, IndexError):
                return 400, ApiError(400, "BadRequest", "the body is not JSON (or a protobuf Secret or ConfigMap)").status()
        with self._lock:
            self.requests.append({"method": method, "path": parts.path, "query": query, "content_type": content_type, "body": payload})
            try:
                if path and path[0] == "emulator":
                    return self._control(method, path[1:], payload)
                return self._api(method, path, query, content_type, payload)
            except ApiError as error:
                return error.code, error.status()

    def _control(self, method: str, path: list, payload: Any) -> tuple[int, Any]:
        if method == "POST" and path == ["nodes"]:
            return 201, [self.seed_node(**entry) for entry in payload]
        if method == "PATCH" and len(path) == 2 and path[0] == "nodes":
            self.set_hardware(path[1], **(payload or {}))
            return 200, self.hardware[path[1]]
        if method == "GET" and path == ["requests"]:
            return 200, self.requests
        if method == "POST" and path == ["reset"]:
            self.reset()
            return 200, {}
        raise ApiError(404, "NotFound", "no emulator control endpoint %s %s" % (method, "/".join(path)))

    def _api(self, method: str, path: list, query: dict, content_type: str, payload: Any) -> tuple[int, Any]:
        if path == ["version"]:
            major, minor = KUBERNETES_VERSION[1:].split(".")[:2]
            return 200, {"major": major, "minor": minor, "gitVersion": KUBERNETES_VERSION, "platform": "linux/amd64"}
        if path == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]}
        if path == ["apis"]:
            return 200, _group_list()
        if path[:2] == ["openapi", "v3"]:
            return 200, _openapi_v3(path[2:])
        if path[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", path[2:]
        elif len(path) >= 3 and path[0] == "apis":
            group, version, rest = path[1], path[2], path[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return 200, _resource_list(group, version)
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces" and (group, version, rest[2]) in RESOURCES:
            namespace, rest = rest[1], rest[2:]
        plural, name = rest[0], (rest[1] if len(rest) > 1 else "")
        if (group, version, plural) not in RESOURCES or len(rest) > 2:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        dry_run = query.get("dryRun") == "All"
        if method == "GET":
            if name:
                return 200, self._get(group, plural, namespace, name)
            return 200, self._list(group, version, plural, namespace, query)
        if method == "POST" and not name:
            return 201, self._create(group, version, plural, namespace, payload, dry_run)
        if method == "PUT" and name:
            return 200, self._replace(group, plural, namespace, name, payload, dry_run)
        if method == "PATCH" and name:
            return 200, self._patch(group, plural, namespace, name, content_type, payload, dry_run)
        if method == "DELETE" and name:
            return 200, self._delete(group, plural, namespace, name, dry_run)
        raise ApiError(405, "MethodNotAllowed", "%s is not allowed on %s" % (method, "/".join(path)))

    # -- storage ------------------------------------------------------------------------------------

    def _get(self, group: str, plural: str, namespace: str, name: str) -> dict:
        found = self.objects.get((group, plural, namespace, name))
        if found is None:
            raise ApiError(404, "NotFound", '%s "%s" not found' % (plural, name))
        return copy.deepcopy(found)

    def _list(self, group: str, version: str, plural: str, namespace: str, query: dict) -> dict:
        kind = RESOURCES[(group, version, plural)][0]
        labels = _parse_label_selector(query.get("labelSelector", ""))
        fields = _parse_field_selector(query.get("fieldSelector", ""))
        items = []
        for key, obj in sorted(self.objects.items()):
            if key[0] != group or key[1] != plural or (namespace and key[2] != namespace):
                continue
            if all(test((obj.get("metadata") or {}).get("labels") or {}) for test in labels) and all(test(obj) for test in fields):
                item = copy.deepcopy(obj)
                item.pop("apiVersion", None)
                item.pop("kind", None)
                items.append(item)
        return {"kind": kind + "List", "apiVersion": _api_version(group, version), "metadata": {"resourceVersion": str(self._version)},
                "items": items}

    def _create(self, group: str, version: str, plural: str, namespace: str, payload: Any, dry_run: bool) -> dict:
        kind, namespaced, _short = RESOURCES[(group, version, plural)]
        obj = _checked_object(payload, kind, _api_version(group, version))
        metadata = obj["metadata"]
        name = metadata.get("name")
        if not name:
            raise ApiError(422, "Invalid", "%s: metadata.name is required" % kind)
        if namespaced:
            namespace = namespace or metadata.get("namespace") or "default"
            if metadata.get("namespace") and metadata["namespace"] != namespace:
                raise ApiError(400, "BadRequest", "the namespace of the object does not match the namespace of the request")
            if ("", "namespaces", "", namespace) not in self.objects:
                raise ApiError(404, "NotFound", 'namespaces "%s" not found' % namespace)
            metadata["namespace"] = namespace
        key = (group, plural, namespace if namespaced else "", name)
        if key in self.objects:
            raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (plural, name))
        metadata.update({"uid": str(uuid.uuid4()), "creationTimestamp": _now()})
        if kind in _KINDS_WITH_SPEC_GENERATION:
            metadata["generation"] = 1
        if kind == "Namespace":
            obj.setdefault("status", {"phase": "Active"})
        if kind == "Deployment":
            obj.setdefault("spec", {}).setdefault("replicas", 1)
            obj["spec"].setdefault("strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        if kind == "CustomResourceDefinition":
            obj["status"] = {"acceptedNames": copy.deepcopy((obj.get("spec") or {}).get("names") or {}),
                             "conditions": [{"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "True"}]}
        if kind == "Service" and (obj.get("spec") or {}).get("type") != "ExternalName":
            obj.setdefault("spec", {}).setdefault("clusterIP", "10.43.%d.%d" % divmod(self._version % 65000 + 256, 256))
            obj["spec"].setdefault("type", "ClusterIP")
        if dry_run:
            return obj
        stored = self._store(key, obj, create=True)
        self._reconcile()
        return copy.deepcopy(self.objects.get(key, stored))

    def _replace(self, group: str, plural: str, namespace: str, name: str, payload: Any, dry_run: bool) -> dict:
        current = self._get(group, plural, namespace, name)
        obj = _checked_object(payload, current["kind"], current["apiVersion"])
        _check_precondition(obj, current)
        for field in ("uid", "creationTimestamp", "namespace", "generation"):
            if field in current["metadata"]:
                obj["metadata"][field] = current["metadata"][field]
        return self._update((group, plural, namespace, name), current, obj, dry_run)

    def _patch(self, group: str, plural: str, namespace: str, name: str, content_type: str, payload: Any, dry_run: bool) -> dict:
        current = self._get(group, plural, namespace, name)
        if content_type == "application/json-patch+json":
            patched = _json_patch(current, payload)
        elif content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            if not isinstance(payload, dict):
                raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
            _check_precondition(payload, current)
            patched = _merge_patch(current, payload) if content_type == "application/merge-patch+json" else _strategic_merge(current, payload)
        else:
            raise ApiError(415, "UnsupportedMediaType", "the emulator does not support patches of type %s" % content_type)
        for field in ("name", "namespace", "uid", "creationTimestamp"):
            if current["metadata"].get(field) != patched.get("metadata", {}).get(field):
                raise ApiError(422, "Invalid", "metadata.%s cannot be changed" % field)
        return self._update((group, plural, namespace, name), current, patched, dry_run)

    def _update(self, key: tuple, current: dict, new: dict, dry_run: bool) -> dict:
        new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if new == current:
            return current
        if current.get("kind") == "RuntimeClass" and new.get("handler") != current.get("handler"):
            raise ApiError(422, "Invalid", "RuntimeClass.node.k8s.io \"%s\" is invalid: handler: field is immutable" % key[3])
        if "generation" in current["metadata"] and new.get("spec") != current.get("spec"):
            new["metadata"]["generation"] = current["metadata"]["generation"] + 1
        if dry_run:
            return new
        self._store(key, new)
        self._reconcile()
        return copy.deepcopy(self.objects[key])

    def _delete(self, group: str, plural: str, namespace: str, name: str, dry_run: bool) -> dict:
        current = self._get(group, plural, namespace, name)
        if not dry_run:
            del self.objects[(group, plural, namespace, name)]
            self._collect_garbage()
            self._reconcile()
        return current

    def _collect_garbage(self) -> None:
        # Objects whose controlling owner is gone are deleted too (foreground and background deletion look alike here).
        while True:
            uids = {obj["metadata"].get("uid") for obj in self.objects.values()}
            orphans = [key for key, obj in self.objects.items() if _owner_uid(obj) and _owner_uid(obj) not in uids]
            if not orphans:
                return
            for key in orphans:
                del self.objects[key]

    def _store(self, key: tuple, obj: dict, create: bool = False) -> dict:
        existing = self.objects.get(key)
        if existing is not None and not create:
            obj["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            if obj == existing:
                return existing
        self._version += 1
        obj["metadata"]["resourceVersion"] = str(self._version)
        self.objects[key] = obj
        return obj

    # -- controllers --------------------------------------------------------------------------------

    def _reconcile(self) -> None:
        nodes = {key[3]: obj for key, obj in self.objects.items() if key[:2] == ("", "nodes")}
        for name, node in nodes.items():
            self._node_status(name, node)
        for key, daemonset in list(self.objects.items()):
            if key[:2] == ("apps", "daemonsets"):
                self._daemonset(key, daemonset, nodes)
        self._device_plugins(nodes)
        nodes = {key[3]: obj for key, obj in self.objects.items() if key[:2] == ("", "nodes")}
        for key, deployment in list(self.objects.items()):
            if key[:2] == ("apps", "deployments"):
                self._deployment(key, deployment, nodes)
            elif key[:2] == ("apps", "statefulsets"):
                self._statefulset(key, deployment, nodes)
        for key, application in list(self.objects.items()):
            if key[:2] == ("argoproj.io", "applications") and self._argocd_runs(key[2]):
                self._argocd_sync(key, application)

    def _statefulset(self, key: tuple, statefulset: dict, nodes: dict) -> None:
        # Reduced to the status helm's wait and the plays read; its pods are not created.
        spec = statefulset.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        ready = replicas if self._fits((spec.get("template") or {}).get("spec") or {}, nodes) else 0
        revision = "%s-%s" % (key[3], hashlib.sha1(json.dumps(spec.get("template") or {}, sort_keys=True).encode()).hexdigest()[:10])
        updated = copy.deepcopy(statefulset)
        updated["status"] = {"observedGeneration": statefulset["metadata"].get("generation", 1), "replicas": replicas,
                             "readyReplicas": ready, "availableReplicas": ready, "currentReplicas": replicas, "updatedReplicas": replicas,
                             "currentRevision": revision, "updateRevision": revision}
        self._store(key, updated)

    def _argocd_runs(self, namespace: str) -> bool:
        return any(key[:3] == ("apps", "statefulsets", namespace) and _is_argocd_controller(obj)
                   and int((obj.get("status") or {}).get("readyReplicas") or 0) > 0 for key, obj in self.objects.items())

    def _argocd_sync(self, key: tuple, application: dict) -> None:
        """Argo CD's application controller, reduced to the status it reports (Argo CD's Application reference,
        docs/operator-manual/application.yaml): with automated sync, or when an operation asks for it, the spec's source
        is synced (a history entry for each new revision) and reported Synced and Healthy at a commit named after it;
        otherwise OutOfSync. The refresh annotation is removed, as Argo CD does once it compared. Nothing is deployed."""
        updated = copy.deepcopy(application)
        source = (updated.get("spec") or {}).get("source") or {}
        commit = hashlib.sha1(("%s@%s" % (source.get("repoURL"), source.get("targetRevision"))).encode()).hexdigest()
        status = updated.setdefault("status", {})
        (updated["metadata"].get("annotations") or {}).pop("argocd.argoproj.io/refresh", None)
        operation = updated.pop("operation", None)
        if ((updated.get("spec") or {}).get("syncPolicy") or {}).get("automated") is not None or operation:
            history = status.setdefault("history", [])
            if not history or history[-1].get("revision") != source.get("targetRevision"):
                history.append({"id": len(history), "revision": source.get("targetRevision"), "source": copy.deepcopy(source),
                                "deployedAt": _now()})
            status["sync"] = {"status": "Synced", "revision": commit, "comparedTo": {"source": copy.deepcopy(source)}}
            status["health"] = {"status": "Healthy"}
            status["operationState"] = {"phase": "Succeeded", "message": "successfully synced (all tasks run)",
                                        "syncResult": {"revision": commit, "source": copy.deepcopy(source)}}
        elif ((status.get("sync") or {}).get("comparedTo") or {}).get("source") != source:
            status["sync"] = {"status": "OutOfSync", "revision": commit, "comparedTo": {"source": copy.deepcopy(source)}}
        self._store(key, updated)

    def _deployment(self, key: tuple, deployment: dict, nodes: dict) -> None:
        namespace, name = key[2], key[3]
        template = copy.deepcopy((deployment.get("spec") or {}).get("template") or {})
        template_hash = hashlib.sha1(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = template_hash
        replicas = int((deployment.get("spec") or {}).get("replicas", 1))
        rs_name = "%s-%s" % (name, template_hash)
        for rs_key, replica_set in list(self.objects.items()):
            if rs_key[:3] == ("apps", "replicasets", namespace) and _owner_uid(replica_set) == deployment["metadata"]["uid"] and rs_key[3] != rs_name:
                old = copy.deepcopy(replica_set)
                old["spec"]["replicas"] = 0
                old["status"] = {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0, "observedGeneration": old["metadata"]["generation"]}
                self._store(rs_key, old)
        ready = replicas if self._fits(template.get("spec") or {}, nodes) else 0
        existing = self.objects.get(("apps", "replicasets", namespace, rs_name))
        selector = copy.deepcopy((deployment.get("spec") or {}).get("selector") or {})
        selector.setdefault("matchLabels", {})["pod-template-hash"] = template_hash
        replica_set = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                       "metadata": {"name": rs_name, "namespace": namespace, "labels": dict(template["metadata"]["labels"]),
                                    "uid": existing["metadata"]["uid"] if existing else str(uuid.uuid4()),
                                    "creationTimestamp": existing["metadata"]["creationTimestamp"] if existing else _now(), "generation": 1,
                                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                                         "uid": deployment["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]},
                       "spec": {"replicas": replicas, "selector": selector, "template": template},
                       "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready, "fullyLabeledReplicas": replicas,
                                  "observedGeneration": 1}}
        self._store(("apps", "replicasets", namespace, rs_name), replica_set)
        updated = copy.deepcopy(deployment)
        updated["status"] = {"observedGeneration": deployment["metadata"].get("generation", 1), "replicas": replicas, "updatedReplicas": replicas,
                             "readyReplicas": ready, "availableReplicas": ready,
                             "conditions": [{"type": "Available", "status": "True" if ready >= replicas else "False"}]}
        if replicas - ready:
            updated["status"]["unavailableReplicas"] = replicas - ready
        self._store(key, updated)

    def _fits(self, pod_spec: dict, nodes: dict) -> bool:
        """Whether a pod of this spec could run: a Ready node it may be scheduled on has the extended resources it asks for."""
        runtime_class = pod_spec.get("runtimeClassName")
        if runtime_class and ("node.k8s.io", "runtimeclasses", "", runtime_class) not in self.objects:
            return False
        wanted: dict[str, int] = {}
        for container in pod_spec.get("containers") or []:
            resources = container.get("resources") or {}
            for name, value in {**(resources.get("requests") or {}), **(resources.get("limits") or {})}.items():
                if "/" in name:
                    wanted[name] = wanted.get(name, 0) + int(value)
        for node_name, node in nodes.items():
            allocatable = (node.get("status") or {}).get("allocatable") or {}
            if (self.hardware.get(node_name, {}).get("ready", True) and _schedulable(pod_spec, node)
                    and all(int(allocatable.get(name, 0)) >= count for name, count in wanted.items())):
                return True
        return False

    def _node_status(self, name: str, node: dict) -> None:
        hardware = self.hardware.get(name, {"ready": True})
        updated = copy.deepcopy(node)
        updated.setdefault("status", {})["conditions"] = [{"type": "Ready", "status": "True" if hardware.get("ready", True) else "False",
                                                           "reason": "KubeletReady" if hardware.get("ready", True) else "KubeletNotReady"}]
        self._store(("", "nodes", "", name), updated)

    def _daemonset(self, key: tuple, daemonset: dict, nodes: dict) -> None:
        namespace, name = key[2], key[3]
        template = (daemonset.get("spec") or {}).get("template") or {}
        pod_spec = template.get("spec") or {}
        runtime_class = pod_spec.get("runtimeClassName")
        admitted = not runtime_class or ("node.k8s.io", "runtimeclasses", "", runtime_class) in self.objects
        eligible = sorted(node_name for node_name, node in nodes.items() if _schedulable(pod_spec, node))
        wanted = {}
        if admitted:
            for node_name in eligible:
                pod_name = "%s-%s" % (name, hashlib.sha1(node_name.encode()).hexdigest()[:5])
                wanted[pod_name] = node_name
        for pod_key, pod in list(self.objects.items()):
            if pod_key[:3] == ("", "pods", namespace) and _owner_uid(pod) == daemonset["metadata"]["uid"] and pod_key[3] not in wanted:
                del self.objects[pod_key]
        ready = 0
        for pod_name, node_name in wanted.items():
            node_ready = self.hardware.get(node_name, {}).get("ready", True)
            ready += 1 if node_ready else 0
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": pod_name, "namespace": namespace, "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                                "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
                                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name,
                                                     "uid": daemonset["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]},
                   "spec": {**copy.deepcopy(pod_spec), "nodeName": node_name},
                   "status": {"phase": "Running" if node_ready else "Pending",
                              "conditions": [{"type": "Ready", "status": "True" if node_ready else "False"}]}}
            existing = self.objects.get(("", "pods", namespace, pod_name))
            if existing:
                pod["metadata"].update({field: existing["metadata"][field] for field in ("uid", "creationTimestamp")})
            else:
                pod["metadata"].update({"uid": str(uuid.uuid4()), "creationTimestamp": _now()})
            self._store(("", "pods", namespace, pod_name), pod)
        status = {"desiredNumberScheduled": len(eligible), "currentNumberScheduled": len(wanted), "numberMisscheduled": 0,
                  "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": len(wanted),
                  "observedGeneration": daemonset["metadata"].get("generation", 1)}
        if len(eligible) - ready:
            status["numberUnavailable"] = len(eligible) - ready
        updated = copy.deepcopy(daemonset)
        updated["status"] = status
        self._store(key, updated)

    def _device_plugins(self, nodes: dict) -> None:
        advertised: dict[str, dict] = {}
        mps_ready = {pod["spec"]["nodeName"] for key, pod in self.objects.items()
                     if key[:2] == ("", "pods") and _runs(pod, "mps-control-daemon") and _pod_ready(pod)}
        for key, pod in self.objects.items():
            if key[:2] != ("", "pods") or not _is_device_plugin(pod) or not _pod_ready(pod):
                continue
            node = pod["spec"]["nodeName"]
            sharing = self._plugin_sharing(key[2], pod)
            if sharing["mps"] and node not in mps_ready:
                continue
            hardware = self.hardware.get(node, {})
            gpus = hardware.get("gpus", 0) if hardware.get("reports") is None else hardware["reports"]
            if gpus:
                advertised[node] = {sharing["resource"]: str(gpus * sharing["replicas"])}
        for name, node in nodes.items():
            updated = copy.deepcopy(self.objects[("", "nodes", "", name)])
            for field in ("capacity", "allocatable"):
                values = {key: value for key, value in (updated["status"].get(field) or {}).items() if not key.startswith(GPU)}
                values.update({"cpu": "8", "memory": "32Gi", "pods": "110"})
                values.update(advertised.get(name, {}))
                updated["status"][field] = dict(sorted(values.items()))
            self._store(("", "nodes", "", name), updated)

    def _plugin_sharing(self, namespace: str, pod: dict) -> dict:
        sharing = {"resource": GPU, "replicas": 1, "mps": False}
        for container in pod["spec"].get("containers") or []:
            path = next((env.get("value") for env in container.get("env") or [] if env.get("name") == "CONFIG_FILE"), None)
            config = self._mounted_config(namespace, pod, container, path) if path else None
            if not config:
                continue
            for strategy in ("timeSlicing", "mps"):
                replicated = (config.get("sharing") or {}).get(strategy)
                if not replicated:
                    continue
                for resource in replicated.get("resources") or []:
                    if resource.get("name") == GPU:
                        sharing["replicas"] = int(resource.get("replicas") or 1)
                        sharing["resource"] = GPU + ".shared" if replicated.get("renameByDefault") else GPU
                        sharing["mps"] = strategy == "mps"
        return sharing

    def _mounted_config(self, namespace: str, pod: dict, container: dict, path: str) -> dict | None:
        for mount in container.get("volumeMounts") or []:
            directory = mount.get("mountPath", "").rstrip("/") + "/"
            if not path.startswith(directory):
                continue
            volume = next((item for item in pod["spec"].get("volumes") or [] if item.get("name") == mount.get("name")), {})
            config_map = self.objects.get(("", "configmaps", namespace, (volume.get("configMap") or {}).get("name", "")))
            text = ((config_map or {}).get("data") or {}).get(path[len(directory):])
            if text:
                try:
                    return json.loads(text)
                except ValueError:
                    return None
        return None


# -- helpers -------------------------------------------------------------------------------------------

def _handler_for(emulator: KubeEmulator) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload = emulator.handle(self.command, self.path, dict(self.headers), body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
            pass

    return Handler


def _group_list() -> dict:
    groups = {}
    for group, version, _plural in RESOURCES:
        if group:
            groups.setdefault(group, version)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": group, "versions": [{"groupVersion": "%s/%s" % (group, version), "version": version}],
         "preferredVersion": {"groupVersion": "%s/%s" % (group, version), "version": version}} for group, version in sorted(groups.items())]}


def _resource_list(group: str, version: str) -> dict:
    resources = [{"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind, "verbs": _VERBS, "shortNames": short}
                 for (res_group, res_version, plural), (kind, namespaced, short) in sorted(RESOURCES.items())
                 if (res_group, res_version) == (group, version)]
    if not resources:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": _api_version(group, version), "resources": resources}


def _api_version(group: str, version: str) -> str:
    return "%s/%s" % (group, version) if group else version


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, _slash, version = api_version.rpartition("/")
    return group, version


def _plural_of(group: str, version: str, kind: str) -> str:
    for (res_group, res_version, plural), (res_kind, _namespaced, _short) in RESOURCES.items():
        if (res_group, res_version, res_kind) == (group, version, kind):
            return plural
    raise ApiError(404, "NotFound", "no kind %s in %s" % (kind, _api_version(group, version)))


def _checked_object(payload: Any, kind: str, api_version: str) -> dict:
    if not isinstance(payload, dict):
        raise ApiError(400, "BadRequest", "the body must be a JSON object")
    obj = copy.deepcopy(payload)
    if obj.get("kind", kind) != kind or obj.get("apiVersion", api_version) != api_version:
        raise ApiError(400, "BadRequest", "the object is a %s %s, not a %s %s" % (obj.get("apiVersion"), obj.get("kind"), api_version, kind))
    obj["kind"], obj["apiVersion"] = kind, api_version
    obj.setdefault("metadata", {})
    return obj


def _check_precondition(payload: dict, current: dict) -> None:
    wanted = (payload.get("metadata") or {}).get("resourceVersion")
    if wanted and wanted != current["metadata"]["resourceVersion"]:
        raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been modified; please apply your changes '
                       "to the latest version and try again" % (current["kind"].lower() + "s", current["metadata"]["name"]))


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _strategic_merge(target: Any, patch: Any) -> Any:
    """Kubernetes' strategic merge patch, for the fields the plays and helm patch: maps merge, lists of objects merge
    on their key (_MERGE_KEYS; ports on containerPort or port), other lists are replaced; the directives $patch
    (replace, delete), $retainKeys, $setElementOrder/ and $deleteFromPrimitiveList/ are understood."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {key: copy.deepcopy(value) for key, value in patch.items() if key != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [item for item in result.get(field) or [] if item not in value]
        elif key.startswith("$"):
            continue
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, list) and _merge_key(key, value, result.get(key)):
            result[key] = _merge_list(result.get(key) or [], value, _merge_key(key, value, result.get(key)))
        elif isinstance(value, dict):
            result[key] = _strategic_merge(result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)
    if "$retainKeys" in patch:
        result = {key: item for key, item in result.items() if key in patch["$retainKeys"]}
    return result


def _merge_key(field: str, patch_items: list, current: Any) -> str | None:
    items = [item for item in patch_items + list(current or []) if isinstance(item, dict)]
    if field == "ports" and items:
        return "containerPort" if any("containerPort" in item for item in items) else "port"
    return _MERGE_KEYS.get(field) if items else None


def _merge_list(current: list, patch: list, key: str) -> list:
    merged = [copy.deepcopy(item) for item in current]
    for item in patch:
        index = next((position for position, existing in enumerate(merged) if existing.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                merged.pop(index)
        elif index is None:
            merged.append(_strategic_merge({}, item))
        else:
            merged[index] = _strategic_merge(merged[index], item)
    return merged


def _openapi_v3(path: list) -> dict:
    """Just enough OpenAPI v3 for kubectl's (and helm's) field-validation check: each PATCH accepts fieldValidation, so they
    leave validation to the server (which this emulator does not do) instead of downloading schemas."""
    groups = sorted({(group, version) for group, version, _plural in RESOURCES})
    if not path:
        return {"paths": {_api_root(group, version): {"serverRelativeURL": "/openapi/v3/%s?hash=emulator" % _api_root(group, version)}
                          for group, version in groups}}
    wanted = "/".join(path)
    for group, version in groups:
        if _api_root(group, version) != wanted:
            continue
        paths = {}
        for (res_group, res_version, plural), (kind, namespaced, _short) in RESOURCES.items():
            if (res_group, res_version) != (group, version):
                continue
            url = "/%s/%s%s/{name}" % (wanted, "namespaces/{namespace}/" if namespaced else "", plural)
            paths[url] = {"patch": {"x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
                                    "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
                                    "responses": {"200": {"description": "OK"}}}}
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes (emulated)", "version": KUBERNETES_VERSION}, "paths": paths}
    raise ApiError(404, "NotFound", "no OpenAPI document for %s" % wanted)


def _api_root(group: str, version: str) -> str:
    return "apis/%s/%s" % (group, version) if group else "api/%s" % version


# Protobuf bodies: helm's release storage writes Secrets with client-go's typed client, which sends Kubernetes' protobuf
# encoding (https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding): the magic "k8s\0", then a
# runtime.Unknown {typeMeta=1 {apiVersion=1, kind=2}, raw=2} whose raw is the object (k8s.io/api/core/v1/generated.proto).
# Only the fields of Secret and ConfigMap (and their ObjectMeta) are decoded; answers are always JSON.
_OBJECT_META = {1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"), 5: ("uid", "string"),
                6: ("resourceVersion", "string"), 11: ("labels", "map"), 12: ("annotations", "map")}
_PROTO_KINDS = {"Secret": {1: ("metadata", "meta"), 2: ("data", "bytesmap"), 3: ("type", "string"), 4: ("stringData", "map"),
                           5: ("immutable", "bool")},
                "ConfigMap": {1: ("metadata", "meta"), 2: ("data", "map"), 3: ("binaryData", "bytesmap"), 4: ("immutable", "bool")}}


def _decode_protobuf(body: bytes) -> dict:
    if not body.startswith(b"k8s\x00"):
        raise ValueError("not a Kubernetes protobuf body")
    unknown = _proto_fields(body[4:])
    type_meta = _proto_fields(unknown[1][0])
    api_version, kind = type_meta[1][0].decode(), type_meta[2][0].decode()
    obj = _proto_message(unknown[2][0], _PROTO_KINDS[kind])
    obj.update({"apiVersion": api_version, "kind": kind})
    return obj


def _proto_message(data: bytes, schema: dict) -> dict:
    obj: dict = {}
    for number, values in _proto_fields(data).items():
        if number not in schema:
            continue
        name, kind = schema[number]
        if kind == "string":
            if values[-1]:
                obj[name] = values[-1].decode()
        elif kind == "bool":
            obj[name] = bool(values[-1])
        elif kind == "meta":
            obj[name] = _proto_message(values[-1], _OBJECT_META)
        else:
            entries = [_proto_fields(entry) for entry in values]
            obj[name] = {entry[1][0].decode(): (base64.b64encode(entry.get(2, [b""])[0]).decode() if kind == "bytesmap"
                                                else entry.get(2, [b""])[0].decode()) for entry in entries}
    return obj


def _proto_fields(data: bytes) -> dict:
    fields: dict = {}
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 2:
            length, position = _varint(data, position)
            value, position = data[position:position + length], position + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, position = data[position:position + size], position + size
        else:
            raise ValueError("unsupported protobuf wire type %d" % wire)
        fields.setdefault(number, []).append(value)
    return fields


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def _json_patch(target: dict, operations: Any) -> dict:
    if not isinstance(operations, list):
        raise ApiError(400, "BadRequest", "a JSON patch must be a list of operations")
    document = copy.deepcopy(target)
    for operation in operations:
        op, pointer = operation.get("op"), [part.replace("~1", "/").replace("~0", "~") for part in operation.get("path", "").split("/")[1:]]
        parent = document
        for part in pointer[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.get(part)
            if parent is None:
                raise ApiError(422, "Invalid", "the path %s does not exist" % operation.get("path"))
        last = pointer[-1] if pointer else ""
        if op == "test":
            value = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if value != operation.get("value"):
                raise ApiError(422, "Invalid", "the test at %s failed" % operation.get("path"))
        elif op == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            elif last in parent:
                del parent[last]
            else:
                raise ApiError(422, "Invalid", "the path %s does not exist" % operation.get("path"))
        elif op in ("add", "replace"):
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if op == "add":
                    parent.insert(index, operation.get("value"))
                else:
                    parent[index] = operation.get("value")
            else:
                if op == "replace" and last not in parent:
                    raise ApiError(422, "Invalid", "the path %s does not exist" % operation.get("path"))
                parent[last] = operation.get("value")
        else:
            raise ApiError(422, "Invalid", "unsupported JSON patch operation %s" % op)
    return document


_SET_TERM = re.compile(r"^\s*(?P<key>[^\s!=]+)\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)\s*$")


def _parse_label_selector(text: str) -> list:
    tests = []
    for term in _split_terms(text):
        match = _SET_TERM.match(term)
        if match:
            values = {value.strip() for value in match.group("values").split(",") if value.strip()}
            key, negate = match.group("key"), match.group("op") == "notin"
            tests.append(lambda labels, key=key, values=values, negate=negate: (labels.get(key) in values) != negate if key in labels else negate)
        elif "!=" in term:
            key, value = (part.strip() for part in term.split("!=", 1))
            tests.append(lambda labels, key=key, value=value: labels.get(key) != value)
        elif "=" in term:
            key, value = (part.strip() for part in term.replace("==", "=").split("=", 1))
            tests.append(lambda labels, key=key, value=value: labels.get(key) == value)
        elif term.startswith("!"):
            tests.append(lambda labels, key=term[1:].strip(): key not in labels)
        else:
            tests.append(lambda labels, key=term.strip(): key in labels)
    return tests


def _parse_field_selector(text: str) -> list:
    tests = []
    for term in _split_terms(text):
        negate = "!=" in term
        path, value = (part.strip() for part in term.replace("==", "=").replace("!=", "=").split("=", 1))
        tests.append(lambda obj, path=path, value=value, negate=negate: (str(_dig(obj, path.split("."))) == value) != negate)
    return tests


def _split_terms(text: str) -> list:
    terms, depth, current = [], 0, ""
    for char in text or "":
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        terms.append(current)
    return [term for term in terms if term.strip()]


def _dig(obj: Any, path: list) -> Any:
    for part in path:
        obj = obj.get(part) if isinstance(obj, dict) else None
    return "" if obj is None else obj


def _schedulable(pod_spec: dict, node: dict) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    if any(labels.get(key) != value for key, value in (pod_spec.get("nodeSelector") or {}).items()):
        return False
    required = ((((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {})
                .get("nodeSelectorTerms"))
    if required and not any(all(_expression(expression, labels) for expression in term.get("matchExpressions") or []) for term in required):
        return False
    tolerations = pod_spec.get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not any(_tolerates(toleration, taint) for toleration in tolerations):
            return False
    return True


def _expression(expression: dict, labels: dict) -> bool:
    key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return labels.get(key) not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    if operator in ("Gt", "Lt") and key in labels:
        return int(labels[key]) > int(values[0]) if operator == "Gt" else int(labels[key]) < int(values[0])
    return False


def _tolerates(toleration: dict, taint: dict) -> bool:
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    if toleration.get("operator") == "Exists":
        return not toleration.get("key") or toleration.get("key") == taint.get("key")
    return toleration.get("key") == taint.get("key") and (toleration.get("value") or "") == (taint.get("value") or "")


def _owner_uid(obj: dict) -> str | None:
    for reference in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if reference.get("controller"):
            return reference.get("uid")
    return None


def _runs(pod: dict, command: str) -> bool:
    return any((container.get("command") or [""])[0] == command for container in pod["spec"].get("containers") or [])


def _is_device_plugin(pod: dict) -> bool:
    return any("k8s-device-plugin" in container.get("image", "") and (container.get("command") or ["nvidia-device-plugin"])[0] == "nvidia-device-plugin"
               for container in pod["spec"].get("containers") or [])


def _is_argocd_controller(statefulset: dict) -> bool:
    containers = ((((statefulset.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [])
    return any("argoproj/argocd" in container.get("image", "")
               and any(str(word).endswith("argocd-application-controller") for word in (container.get("command") or []) + (container.get("args") or []))
               for container in containers)


def _pod_ready(pod: dict) -> bool:
    return any(condition.get("type") == "Ready" and condition.get("status") == "True" for condition in (pod.get("status") or {}).get("conditions") or [])


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
