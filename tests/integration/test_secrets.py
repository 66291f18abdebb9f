"""No secret is ever printed or stored in the clear.

One test feeds every secret-bearing input of the Lambda layer through provision.yml, teardown.yml and the
inventory (plugin with a cache, and the script), once with ansible-playbook at -vvv and once through
ansible-runner at its default verbosity (whose job events hold every result in full), then searches all
output and every file the runs left (runner artifacts, the inventory cache, Ansible's and the collection's
state directories) for each secret. When an option starts carrying a secret, add it to the inputs here.

Secrets: the API key (as a variable, and as the content of the file LAMBDA_API_KEY_FILE names), cloud-init
user data (where K3s join tokens go; also given with a wrong type, which the spec check refuses without
showing it), a private key given by mistake where the public key belongs (as a file and inline), and the
Jupyter token and URL Lambda returns for every instance (which lambda_cluster_plan's snapshot, passed to
every launch and ruleset, must not carry).

A second test does the same for the Pulumi access token and the values secrets.yml reads from a Pulumi ESC
environment (its emulator) into Kubernetes Secrets (the Kubernetes API emulator).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import stat
from pathlib import Path

import ansible_runner
import pytest
import yaml

from integration.helpers import ADMIN_PUBLIC_KEY, REPO_ROOT, STATIC_INVENTORY, EmulatorProcess, ansible_env, run_ansible

pytestmark = pytest.mark.integration

SMALL_SPEC = Path(__file__).resolve().parent / "vars" / "provision_small_cluster.yml"
ONE_NODE = {"lambda_cluster_node_pools": [{"name": "server", "role": "server", "count": 1, "instance_types": ["cpu_4x_general"]}],
            "lambda_cluster_regions": ["us-east-1"], "lambda_cluster_launch_interval": 0, "lambda_cluster_poll_interval": 0.05,
            "lambda_cluster_wait_timeout": 60}


def private_key_text(body: str) -> str:
    """What ~/.ssh/id_ed25519 looks like; ``body`` makes it unique so the search cannot match anything else."""
    return "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU%s\n-----END OPENSSH PRIVATE KEY-----\n" % body


class Inputs:
    """The secrets of one test run, and the files that hold them (which are the only files allowed to)."""

    def __init__(self, directory: Path, api_key: str) -> None:
        self.directory = directory
        directory.mkdir(mode=0o700)
        self.api_key = api_key
        self.join_token = "K10" + secrets.token_hex(24)
        self.private_key_body = secrets.token_urlsafe(48).replace("-", "A").replace("_", "B")
        self.key_file = self._write("lambda_api_key", api_key + "\n")
        self.variables = self._write("secrets.yml", yaml.safe_dump({"lambda_api_key": api_key}))
        self.public_key = self._write("id_ed25519.pub", ADMIN_PUBLIC_KEY + "\n")
        self.private_key = self._write("id_ed25519", private_key_text(self.private_key_body))
        user_data = "#cloud-config\nwrite_files:\n  - path: /etc/rancher/k3s/token\n    content: %s\n" % self.join_token
        spec = dict(ONE_NODE, lambda_cluster_user_data=user_data, lambda_cluster_ssh_public_key_file=str(self.public_key))
        self.spec = self._write("spec.yml", yaml.safe_dump(spec))
        self.mistaken_file = self._write("mistake_file.yml", yaml.safe_dump({"lambda_cluster_ssh_public_key_file": str(self.private_key)}))
        self.mistaken_inline = self._write("mistake_inline.yml", yaml.safe_dump({
            "lambda_cluster_ssh_public_key_file": None, "lambda_cluster_ssh_public_key": private_key_text(self.private_key_body)}))
        # User data as a mapping instead of text: the spec check names the mistake and never the value.
        self.mistaken_user_data = self._write("mistake_user_data.yml", yaml.safe_dump({
            "lambda_cluster_user_data": {"write_files": [{"path": "/etc/rancher/k3s/token", "content": self.join_token}]}}))

    def _write(self, name: str, text: str) -> Path:
        path = self.directory / name
        path.write_text(text)
        path.chmod(0o600)
        return path

    def secrets(self, emulator: EmulatorProcess) -> dict[str, str]:
        """Every secret, the Jupyter credentials Lambda gave the instances included."""
        found = {"API key": self.api_key, "user data (join token)": self.join_token, "private key": self.private_key_body}
        for instance in emulator.control("GET", "state")["instances"]:
            found["Jupyter token of %s" % instance["name"]] = instance["jupyter_token"]
            found["Jupyter URL of %s" % instance["name"]] = instance["jupyter_url"]
        return found


class Runs:
    """provision, teardown and the inventory, run one way; every output is kept for the search."""

    def __init__(self, how: str, emulator: EmulatorProcess, tmp_path: Path, inputs: Inputs) -> None:
        self.how = how
        self.emulator = emulator
        self.tmp_path = tmp_path
        self.inputs = inputs
        self.outputs: list[str] = []
        settings = emulator.environment()
        del settings["LAMBDA_API_KEY"]
        # The key reaches the runs as a variable at -vvv, and as a file through ansible-runner (which records the environment).
        self.key_arguments = ["-e", "@%s" % inputs.variables] if how == "vvv" else []
        self.env = ansible_env(tmp_path, HOME=str(tmp_path / "home"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
                               LAMBDA_K3S_CLUSTER="mini", **settings,
                               **({} if how == "vvv" else {"LAMBDA_API_KEY_FILE": str(inputs.key_file)}))
        self.private_data_dir = tmp_path / "runner"
        self.private_data_dir.mkdir(mode=0o700)

    def playbook(self, playbook: str, *arguments: str) -> bool:
        """Run a playbook; True when it succeeded."""
        arguments = (*self.key_arguments, *arguments)
        if self.how == "vvv":
            result = run_ansible(["ansible-playbook", str(REPO_ROOT / playbook), *arguments, "-vvv"], self.env, timeout=180)
            self.outputs.append(result.stdout + result.stderr)
            return result.returncode == 0
        run = ansible_runner.run(private_data_dir=str(self.private_data_dir), project_dir=str(REPO_ROOT), playbook=playbook,
                                 cmdline=" ".join(arguments), envvars=self.env, quiet=True)
        self.outputs.append(run.stdout.read())
        return run.status == "successful"

    def inventory(self) -> dict:
        """The plugin with a cache (at -vvv, or through ansible-runner), and the script; returns the plugin's hosts."""
        config = self.tmp_path / "cached.lambda_cloud.yml"
        config.write_text(yaml.safe_dump({"plugin": "sophia.lambda_k3s.lambda_cloud", "cache": True, "cache_plugin": "ansible.builtin.jsonfile",
                                          "cache_connection": str(self.tmp_path / "inventory-cache")}))
        # Not -e lambda_api_key: ansible-inventory --list prints every extra variable as a variable of each host
        # (Ansible's behaviour, which docs/inventory.md warns about), so the key goes in as a file.
        arguments = ["-i", str(config), "--list"]
        env = dict(self.env, LAMBDA_API_KEY_FILE=str(self.inputs.key_file))
        if self.how == "vvv":
            result = run_ansible(["ansible-inventory", *arguments, "-vvv"], env)
            listed = result.stdout[result.stdout.index("{"):]
        else:
            listed, errors = ansible_runner.run_command(executable_cmd="ansible-inventory", cmdline_args=arguments, envvars=env,
                                                        private_data_dir=str(self.private_data_dir), quiet=True)[:2]
            result = None
            self.outputs.append(errors)
        self.outputs.append(listed if result is None else result.stdout + result.stderr)
        script = run_ansible([str(REPO_ROOT / "inventories" / "lambda.py"), "--list"], env)
        self.outputs.append(script.stdout + script.stderr)
        return json.loads(listed)["_meta"]["hostvars"]


@pytest.mark.parametrize("how", ["vvv", "runner"])
def test_no_secret_in_any_output_or_file(emulator: EmulatorProcess, tmp_path: Path, how: str) -> None:
    inputs = Inputs(tmp_path / "inputs", emulator.api_key)
    runs = Runs(how, emulator, tmp_path, inputs)
    spec = ["-e", "@%s" % SMALL_SPEC, "-e", "@%s" % inputs.spec]

    assert runs.playbook("playbooks/provision.yml", *spec), runs.outputs[-1][-5000:]
    [node] = [item for item in emulator.control("GET", "state")["instances"] if item["status"] == "active"]
    assert inputs.join_token in node["emulator"]["user_data"], "the user data reached the launch"
    assert "mini-server-1" in runs.inventory()

    # A private key where the public key belongs, as a file and inline: refused before any request, and never echoed.
    emulator.clear_requests()
    for mistake, named in ((inputs.mistaken_file, "private key"), (inputs.mistaken_inline, "private key"),
                           (inputs.mistaken_user_data, "lambda_cluster_user_data must be a string")):
        assert not runs.playbook("playbooks/provision.yml", *spec, "-e", "@%s" % mistake)
        assert named in runs.outputs[-1]
    assert emulator.requests() == []

    assert runs.playbook("playbooks/teardown.yml", *spec, "-e", "lambda_teardown_confirm=mini"), runs.outputs[-1][-5000:]

    leaks = []
    files = [path for path in tmp_path.rglob("*") if path.is_file() and not path.is_symlink() and inputs.directory not in path.parents]
    assert any(path.parent.name == "inventory-cache" for path in files), "the inventory cache was written"
    for label, secret in inputs.secrets(emulator).items():
        leaks.extend("%s in output %d" % (label, index) for index, text in enumerate(runs.outputs) if secret in text)
        leaks.extend("%s in %s" % (label, path.relative_to(tmp_path)) for path in files if secret.encode() in path.read_bytes())
    assert leaks == [], "\n".join(leaks)
    loose = [str(path.relative_to(tmp_path)) for path in files
             if path.parent.name == "inventory-cache" and stat.S_IMODE(path.stat().st_mode) & 0o077]
    assert loose == [], "the inventory cache is private"


# -- Secrets read from Pulumi ESC into the platform's namespace ------------------------------------------------------------


ESC_VALUES = ("esc-api-token-7Qm2", "esc-db-pass-9Xr", "esc-git-token-8Hw")


@pytest.fixture(scope="module")
def helm_site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from helm_tool import cluster_tools_variables

    return cluster_tools_variables(tmp_path_factory.mktemp("helm-site"), tmp_path_factory.mktemp("cluster-tools"))


@pytest.mark.parametrize("how", ["vvv", "runner"])
def test_no_esc_value_or_token_in_any_output_or_file(how: str, esc_emulator, kube_emulator, helm_site, tmp_path: Path) -> None:
    """secrets.yml maps Secret keys to paths of an ESC environment: the Secrets hold the values, a rerun changes nothing,
    and neither a value nor the token is in the output (-vvv, or ansible-runner's events and artifacts) or any file."""
    from esc_emulator.server import TOKEN
    from kube_emulator.fixtures import write_kubeconfig

    inputs = tmp_path / "inputs"
    inputs.mkdir(mode=0o700)
    token_file = inputs / "pulumi-token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    variables = {"lambda_k3s_cluster_ops_host": "localhost", "cluster_tools_kubeconfig": str(write_kubeconfig(kube_emulator, inputs / "kubeconfig")),
                 **helm_site, "lambda_k3s_esc_environment": "sophia/platform/prod",
                 "platform_release_secret_paths": {"sophia-platform-secrets": {"API_TOKEN": "backend.apiToken", "DATABASE_URL": "backend.databaseUrl"},
                                                   "git-credentials": {"username": "git.username", "password": "git.token"}},
                 "platform_release_secrets": {"sophia-platform-secrets": {"MODE": "prod"}}}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"vars": variables, "children": {"k3s_cluster": {"children": {"k3s_server": {"hosts": {"srv-1": {}}}}}}}}))
    # The token reaches the -vvv run in the environment, and ansible-runner (which records its environment) as a file.
    token = {"PULUMI_ACCESS_TOKEN": TOKEN} if how == "vvv" else {"PULUMI_ACCESS_TOKEN_FILE": str(token_file)}
    env = ansible_env(tmp_path, **STATIC_INVENTORY, PULUMI_BACKEND_URL=esc_emulator.url, **token)
    outputs: list[str] = []

    def play() -> tuple[bool, str]:
        if how == "vvv":
            result = run_ansible(["ansible-playbook", "playbooks/secrets.yml", "-i", str(inventory), "-vvv"], env, timeout=300)
            outputs.append(result.stdout + result.stderr)
            return result.returncode == 0, outputs[-1]
        private = tmp_path / "runner"
        private.mkdir(mode=0o700, exist_ok=True)
        run = ansible_runner.run(private_data_dir=str(private), project_dir=str(REPO_ROOT), playbook="playbooks/secrets.yml",
                                 inventory=str(inventory), envvars=env, quiet=True)
        outputs.append(run.stdout.read() + json.dumps(list(run.events)))
        return run.status == "successful", outputs[-1]

    esc_emulator.fail_next("read", 503)
    ok, output = play()
    assert ok, output[-4000:]
    assert "Pulumi ESC API: GET /api/esc/environments/sophia/platform/prod/open/<session>: HTTP 503; attempt 1 of 6 failed" in output
    secret = kube_emulator.get("secrets", "sophia-platform-secrets", "sophia-ai")
    assert {key: base64.b64decode(value).decode() for key, value in secret["data"].items()} == {
        "API_TOKEN": "esc-api-token-7Qm2", "DATABASE_URL": "postgres://app:esc-db-pass-9Xr@db/app", "MODE": "prod"}
    assert base64.b64decode(kube_emulator.get("secrets", "git-credentials", "sophia-ai")["data"]["username"]).decode() == "deploy-bot"

    # Unchanged values: nothing changes (one open and one read per run).
    versions = {key: obj["metadata"]["resourceVersion"] for key, obj in kube_emulator.objects.items()}
    esc_emulator.requests.clear()
    ok, output = play()
    assert ok and re.search(r"changed=0\s", output[output.rindex("PLAY RECAP"):] if "PLAY RECAP" in output else output), output[-3000:]
    assert {key: obj["metadata"]["resourceVersion"] for key, obj in kube_emulator.objects.items()} == versions
    assert [entry["method"] for entry in esc_emulator.requests] == ["POST", "GET"]

    # A path the environment lacks: refused before any Secret is written, naming what exists, never a value.
    variables["platform_release_secret_paths"]["git-credentials"]["password"] = "git.tokn"
    inventory.write_text(yaml.safe_dump({"all": {"vars": variables, "children": {"k3s_cluster": {"children": {"k3s_server": {"hosts": {"srv-1": {}}}}}}}}))
    ok, output = play()
    assert not ok
    assert ("platform_release_secret_paths.git-credentials.password: The Pulumi ESC environment sophia/platform/prod has no git.tokn: "
            "git has token, username.") in output

    leaks = [("%s in output %d" % (value, index)) for value in ESC_VALUES + (TOKEN,) for index, text in enumerate(outputs) if value in text]
    files = [path for path in tmp_path.rglob("*") if path.is_file() and not path.is_symlink() and inputs not in path.parents]
    leaks += ["%s in %s" % (value, path.relative_to(tmp_path)) for value in ESC_VALUES + (TOKEN,) for path in files if value.encode() in path.read_bytes()]
    assert leaks == [], "\n".join(leaks)
