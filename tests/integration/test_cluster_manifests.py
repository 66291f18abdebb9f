"""Every object the cluster plays apply, and the example platform chart rendered by the real helm with the plays'
values, validated against Kubernetes' own schemas for the K3s version the collection pins.

The roles render their objects in dedicated task files (nvidia_device_plugin's manifests.yml, cluster_status's
pods.yml, platform_release's values and vars); tests/integration/playbooks/render_cluster_objects.yml runs exactly
those, without a cluster. kubernetes-validate checks each object in strict mode (an unknown field fails) against the
OpenAPI schemas of Kubernetes 1.35; an object whose kind has no schema fails too (the library only warns).
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from helm_tool import binary as helm_binary

from ansible_collections.sophia.lambda_k3s.plugins.filter.cluster_nodes import cluster_node_plan, cluster_nodes_wanted
from ansible_collections.sophia.lambda_k3s.plugins.filter.helm_release import helm_values_merge
from integration.helpers import REPO_ROOT, ansible_env, run_ansible

pytestmark = pytest.mark.integration

# The Kubernetes minor of the pinned K3s release (roles/k3s/defaults/main.yml).
KUBERNETES_VERSION = "1.35"
CHART = REPO_ROOT / "tests" / "charts" / "sophia-platform"
PLAYBOOK = REPO_ROOT / "tests" / "integration" / "playbooks" / "render_cluster_objects.yml"
INVENTORY = {"all": {"children": {"k3s_cluster": {"children": {
    "k3s_server": {"hosts": {"srv": {"lambda_instance_type": "cpu_4x_general", "lambda_region": "us-east-1"}}},
    "k3s_agent": {"hosts": {"gpu-a10": {"lambda_instance_type": "gpu_1x_a10", "lambda_region": "us-east-1"},
                            "gpu-h100": {"lambda_instance_type": "gpu_8x_h100_sxm5", "lambda_region": "us-west-1"}}}}}}}}
SECRET = "s3cr3t-token-for-the-render-test"
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "time-slicing, mirror": {
        "nvidia_device_plugin_sharing": {"strategy": "time-slicing", "replicas": 4, "rename_by_default": True},
        "nvidia_device_plugin_image": "registry.example.internal/nvidia/k8s-device-plugin",
        "nvidia_device_plugin_image_pull_secrets": ["mirror-credentials"],
        "nvidia_device_plugin_resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
        "nvidia_device_plugin_tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
    },
    "mps, cdi": {"nvidia_device_plugin_sharing": {"strategy": "mps", "replicas": 2}, "nvidia_device_plugin_runtime_class": "nvidia-cdi",
                 "nvidia_device_plugin_device_list_strategy": "cdi-cri"},
    "NVIDIA's chart": {"nvidia_device_plugin_method": "helm"},
}


def validate(obj: dict) -> None:
    """Strict validation against Kubernetes' schemas; a kind without a schema is a failure, not a warning."""
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError as error:
        pytest.fail("no Kubernetes %s schema for %s %s: %s" % (KUBERNETES_VERSION, obj.get("apiVersion"), obj.get("kind"), error))
    except kubernetes_validate.ValidationError as error:
        pytest.fail("%s %s is invalid: %s" % (obj.get("kind"), obj.get("metadata", {}).get("name"), str(error).splitlines()[0]))


def render(tmp_path: Path, variables: dict[str, Any]) -> dict[str, Any]:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump(INVENTORY))
    extra = tmp_path / "variables.yml"
    output = tmp_path / "rendered.json"
    extra.write_text(yaml.safe_dump({"render_output": str(output), "platform_release_chart_ref": str(CHART), **variables}))
    # A static YAML inventory, which the repository's ansible.cfg does not read by default.
    env = ansible_env(tmp_path, ANSIBLE_INVENTORY_ENABLED="ansible.builtin.yaml")
    result = run_ansible(["ansible-playbook", str(PLAYBOOK), "-i", str(inventory), "-e", "@%s" % extra], env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(output.read_text())


@pytest.fixture(scope="module", params=list(VARIANTS))
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    return request.param, render(tmp_path_factory.mktemp("render"), VARIANTS[request.param])


def test_every_device_plugin_object_is_valid_kubernetes(rendered) -> None:
    _name, objects = rendered
    for obj in objects["device_plugin"] + [objects["runtime_class"]] + objects["gpu_pods"]:
        validate(obj)


def test_the_device_plugin_runs_with_the_nvidia_runtime_on_gpu_nodes_only(rendered) -> None:
    name, objects = rendered
    by_kind = {}
    for obj in objects["device_plugin"]:
        by_kind.setdefault(obj["kind"], []).append(obj)
    assert by_kind["Namespace"][0]["metadata"]["name"] == "nvidia-device-plugin"
    runtime_class = VARIANTS[name].get("nvidia_device_plugin_runtime_class", "nvidia")
    assert objects["runtime_class"]["handler"] == runtime_class == objects["runtime_class"]["metadata"]["name"]
    if name == "NVIDIA's chart":
        assert set(by_kind) == {"Namespace"}
        assert objects["chart_values"]["runtimeClassName"] == "nvidia"
        return
    for daemonset in by_kind["DaemonSet"]:
        spec = daemonset["spec"]["template"]["spec"]
        assert daemonset["metadata"]["namespace"] == "nvidia-device-plugin"
        assert spec["runtimeClassName"] == runtime_class
        terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert terms == [{"matchExpressions": [{"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]}]}]
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
        assert daemonset["spec"]["selector"]["matchLabels"].items() <= daemonset["spec"]["template"]["metadata"]["labels"].items()
    plugin = next(ds for ds in by_kind["DaemonSet"] if ds["metadata"]["name"] == "nvidia-device-plugin-daemonset")
    container = plugin["spec"]["template"]["spec"]["containers"][0]
    image = VARIANTS[name].get("nvidia_device_plugin_image", "nvcr.io/nvidia/k8s-device-plugin")
    assert container["image"] == image + ":v0.18.2"
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    config = json.loads(by_kind["ConfigMap"][0]["data"]["config.json"])
    assert config["version"] == "v1"
    assert {"name": "CONFIG_FILE", "value": "/config/config.json"} in container["env"]
    annotation = plugin["spec"]["template"]["metadata"]["annotations"]["lambda-k3s.sophia.ai/config-sha256"]
    assert len(annotation) == 64
    assert (len(by_kind["DaemonSet"]) == 2) == (name == "mps, cdi")
    if name == "time-slicing, mirror":
        assert config["sharing"]["timeSlicing"]["resources"] == [{"name": "nvidia.com/gpu", "replicas": 4}]
        assert plugin["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "mirror-credentials"}]
        assert container["resources"] == {"requests": {"cpu": "50m", "memory": "64Mi"}}
    if name == "mps, cdi":
        assert config["flags"]["plugin"]["deviceListStrategy"] == ["cdi-cri"]
        mps = next(ds for ds in by_kind["DaemonSet"] if ds["metadata"]["name"] != "nvidia-device-plugin-daemonset")
        assert mps["spec"]["template"]["spec"]["nodeSelector"] == {"nvidia.com/mps.capable": "true"}


def test_the_verification_pods_ask_the_device_plugin_for_each_node_s_gpus(rendered) -> None:
    name, objects = rendered
    pods = {pod["spec"]["nodeSelector"]["kubernetes.io/hostname"]: pod for pod in objects["gpu_pods"]}
    assert sorted(pods) == ["gpu-a10", "gpu-h100"]
    limits = pods["gpu-h100"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == ({"nvidia.com/gpu.shared": 1} if name == "time-slicing, mirror" else
                      {"nvidia.com/gpu": 1} if name == "mps, cdi" else {"nvidia.com/gpu": 8})
    assert pods["gpu-h100"]["spec"]["runtimeClassName"] == VARIANTS[name].get("nvidia_device_plugin_runtime_class", "nvidia")


def test_node_patches_are_valid_nodes() -> None:
    hostvars = {host: variables for group in INVENTORY["all"]["children"]["k3s_cluster"]["children"].values()
                for host, variables in group["hosts"].items()}
    hostvars["gpu-h100"] = dict(hostvars["gpu-h100"], cluster_nodes_taints=["nvidia.com/gpu=true:NoSchedule"])
    wanted = cluster_nodes_wanted(hostvars, list(hostvars), ["srv"], "lambda-k3s.sophia.ai")
    nodes = [{"metadata": {"name": host, "labels": {"lambda-k3s.sophia.ai/stale": "x"}, "resourceVersion": "1"}} for host in hostvars]
    plan = cluster_node_plan(nodes, wanted, "lambda-k3s.sophia.ai")
    assert len(plan["changes"]) == 3
    for change in plan["changes"]:
        validate(change["patch"])


@pytest.fixture(scope="module", params=["dev", "prod"])
def platform(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any], list[dict]]:
    """The example chart rendered by the real helm with the values the platform role computes for an environment."""
    directory = tmp_path_factory.mktemp("platform")
    overrides = directory / "overrides.yaml"
    overrides.write_text(yaml.safe_dump({"frontend": {"replicas": 2}}))
    objects = render(directory, {"platform_release_environment": request.param, "platform_release_values_files": [str(overrides)],
                                 "platform_release_values": {"backend": {"image": {"tag": "1.2.3"}}},
                                 "platform_release_secrets": {"sophia-platform-secrets": {"API_TOKEN": SECRET}}})
    values = directory / "values.json"
    values.write_text(json.dumps(objects["platform_values"]))
    helm = [str(helm_binary()), "template", "sophia-platform", str(CHART), "--namespace", "sophia-ai", "-f", str(values),
            "--kube-version", KUBERNETES_VERSION + ".0"]
    result = subprocess.run(helm, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return request.param, objects, [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_the_plays_values_are_the_environment_file_then_the_files_then_the_inline_values(platform) -> None:
    environment, objects, _documents = platform
    chart_values = yaml.safe_load((CHART / ("values-%s.yaml" % environment)).read_text())
    expected = helm_values_merge([chart_values, {"frontend": {"replicas": 2}}, {"backend": {"image": {"tag": "1.2.3"}}}])
    assert objects["platform_values"] == expected


def test_the_chart_renders_valid_kubernetes_objects(platform) -> None:
    _environment, objects, documents = platform
    assert sorted((doc["kind"], doc["metadata"]["name"]) for doc in documents) == [
        ("ConfigMap", "sophia-platform-config"), ("Deployment", "sophia-platform-backend"), ("Deployment", "sophia-platform-frontend"),
        ("Service", "sophia-platform-backend"), ("Service", "sophia-platform-frontend")]
    for doc in documents + objects["platform_objects"]:
        validate(doc)
    assert all(doc["metadata"].get("namespace", "sophia-ai") != "default" for doc in documents)


def test_the_gpu_backend_is_scheduled_by_gpu_type_through_the_device_plugin(platform) -> None:
    environment, _objects, documents = platform
    backend = next(doc for doc in documents if doc["kind"] == "Deployment" and doc["metadata"]["name"].endswith("backend"))
    spec = backend["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"gpu-type": "A10" if environment == "dev" else "H100"}
    assert spec["runtimeClassName"] == "nvidia"
    assert spec["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": 1 if environment == "dev" else 8}
    assert spec["containers"][0]["image"].endswith(":1.2.3")
    frontend = next(doc for doc in documents if doc["kind"] == "Deployment" and doc["metadata"]["name"].endswith("frontend"))
    assert frontend["spec"]["replicas"] == 2 and "nodeSelector" not in frontend["spec"]["template"]["spec"]


def test_the_secret_is_rendered_but_not_into_the_values(platform) -> None:
    _environment, objects, _documents = platform
    (secret,) = [obj for obj in objects["platform_objects"] if obj["kind"] == "Secret"]
    assert base64.b64decode(secret["data"]["API_TOKEN"]).decode() == SECRET
    assert SECRET not in json.dumps(objects["platform_values"])


def test_helm_lint_passes_for_every_environment() -> None:
    for environment in ("dev", "prod"):
        result = subprocess.run([str(helm_binary()), "lint", "--strict", str(CHART), "-f", str(CHART / ("values-%s.yaml" % environment))],
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
