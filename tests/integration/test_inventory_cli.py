"""The dynamic inventory through Ansible's own commands: ansible-inventory, ansible-playbook and the
inventories/lambda.py script, each a subprocess talking to an emulator subprocess over loopback.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest
import yaml
from integration.helpers import REPO_ROOT, run_ansible

pytestmark = pytest.mark.integration

PLUGIN = "sophia.lambda_k3s.lambda_cloud"
SCRIPT = REPO_ROOT / "inventories" / "lambda.py"
EXAMPLE_CONFIG = REPO_ROOT / "inventories" / "lambda_cloud.yml"
JUPYTER_TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
WRONG_KEY = "secret_definitely_wrong_key.zyxwvutsrqponmlk"


DEMO = {"k3s-cluster": "demo"}


def seed_cluster(emulator) -> list[str]:
    """A small cluster named demo, plus an outsider, a namesake pair, a nameless and a booting member."""
    return emulator.seed([
        {"name": "demo-server-1", "instance_type": "gpu_1x_gh200", "region": "us-east-3", "jupyter_token": JUPYTER_TOKEN, "tags": DEMO},
        {"name": "demo-gpu", "instance_type": "gpu_8x_h100_sxm5", "region": "us-west-3", "tags": DEMO},
        {"name": "demo-gpu", "instance_type": "gpu_1x_a10", "region": "us-east-1", "tags": dict(DEMO, env="dev")},
        {"instance_type": "gpu_1x_a6000", "region": "us-west-1", "omit": ["name"], "tags": {"k3s-cluster": "demo", "k3s-role": "agent"}},
        {"name": "demo-booting", "status": "booting", "hold_status": True, "tags": DEMO},
        {"name": "someone-else", "instance_type": "gpu_1x_a100"},
    ])


def write_config(directory: Path, name: str = "test.lambda_cloud.yml", **options) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(yaml.safe_dump(dict({"plugin": PLUGIN}, **options)))
    return path


def inventory_json(env: dict, source: Path, tmp_path: Path, *extra: str) -> dict:
    """ansible-inventory --list, read from --output so that -v lines on stdout do not get in the way."""
    output = tmp_path / ("inventory-%d.json" % len(list(tmp_path.glob("inventory-*.json"))))
    result = run_ansible(["ansible-inventory", "-i", str(source), "--list", "--output", str(output), *extra], env)
    assert result.returncode == 0, result.stderr
    assert "Failed to parse" not in result.stderr, result.stderr
    return json.loads(output.read_text())


def plain(value):
    """A JSON document with ansible-inventory's {"__ansible_unsafe": x} markers replaced by x."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def run_playbook(env: dict, tmp_path: Path, plays: list, *arguments: str):
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    return run_ansible(["ansible-playbook", str(playbook), *arguments], env)


# -- plugin and script agree -----------------------------------------------------------------


def test_script_and_plugin_give_the_same_inventory(emulator_process, make_ansible_env, tmp_path):
    seed_cluster(emulator_process)
    env = make_ansible_env(LAMBDA_K3S_CLUSTER="demo", **emulator_process.environment())

    from_plugin = inventory_json(env, EXAMPLE_CONFIG, tmp_path)
    from_script = inventory_json(env, SCRIPT, tmp_path)
    assert from_script == from_plugin
    assert emulator_process.count("GET", "/instances") == 2, "one request per load"

    hostvars = plain(from_plugin["_meta"]["hostvars"])
    assert sorted(hostvars) == sorted(["demo-server-1", *(name for name in hostvars if name.startswith("demo-gpu-")),
                                       *(name for name in hostvars if len(name) == 32)])
    assert len(hostvars) == 4, "cluster members only, active only"
    assert from_plugin["k3s_cluster"]["children"] == ["k3s_server", "k3s_agent"]
    assert from_plugin["k3s_server"]["hosts"] == ["demo-server-1"]
    assert hostvars["demo-server-1"]["ansible_user"] == "ubuntu"
    assert hostvars["demo-server-1"]["lambda_arch"] == "arm64"
    assert "gpu_gh200" in from_plugin and "region_us_east_3" in from_plugin and "status_active" in from_plugin


def test_raw_script_output_is_the_plugins_export(emulator_process, make_ansible_env, tmp_path):
    """lambda.py --list prints what ansible-inventory --export prints for the same configuration
    (checked in a directory without group_vars, which --export would merge in)."""
    seed_cluster(emulator_process)
    env = make_ansible_env(LAMBDA_K3S_CLUSTER="demo", **emulator_process.environment())
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(EXAMPLE_CONFIG, bare / "lambda_cloud.yml")

    exported = inventory_json(env, bare / "lambda_cloud.yml", tmp_path, "--export")
    script = run_ansible([str(SCRIPT), "--list"], env)
    assert script.returncode == 0, script.stderr
    assert script.stderr == ""
    assert json.loads(script.stdout) == exported
    assert exported["lambda"]["vars"] == {"ansible_user": "ubuntu"}, "ansible_user is a group variable in both"


def test_script_host_mode(emulator_process, make_ansible_env):
    seed_cluster(emulator_process)
    env = make_ansible_env(**emulator_process.environment())
    listed = json.loads(run_ansible([str(SCRIPT), "--list"], env).stdout)
    one = run_ansible([str(SCRIPT), "--host", "demo-server-1"], env)
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout) == listed["_meta"]["hostvars"]["demo-server-1"]
    unknown = run_ansible([str(SCRIPT), "--host", "nope"], env)
    assert (unknown.returncode, json.loads(unknown.stdout)) == (0, {})
    assert "no host named 'nope'" in unknown.stderr


def test_script_finds_an_installed_collection(emulator_process, make_ansible_env, tmp_path):
    """Outside a checkout the script uses Ansible's collections_path, as for an installed collection."""
    seed_cluster(emulator_process)
    installed = tmp_path / "installed" / "ansible_collections" / "sophia"
    installed.mkdir(parents=True)
    (installed / "lambda_k3s").symlink_to(REPO_ROOT, target_is_directory=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(SCRIPT, elsewhere / "lambda.py")
    (tmp_path / "empty.cfg").write_text("[defaults]\n")
    env = make_ansible_env(ANSIBLE_CONFIG=str(tmp_path / "empty.cfg"), **emulator_process.environment())

    result = run_ansible([str(elsewhere / "lambda.py"), "--list"], dict(env, ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "installed")),
                         cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert "demo-server-1" in json.loads(result.stdout)["_meta"]["hostvars"]

    missing = run_ansible([str(elsewhere / "lambda.py"), "--list"], dict(env, ANSIBLE_COLLECTIONS_PATH=str(elsewhere)), cwd=elsewhere)
    assert missing.returncode == 1
    assert "install the sophia.lambda_k3s collection" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_script_reads_a_named_configuration_and_caches(emulator_process, make_ansible_env, tmp_path):
    seed_cluster(emulator_process)
    config = write_config(tmp_path / "cfg", cluster="demo", cache=True, cache_plugin="ansible.builtin.jsonfile",
                          cache_connection=str(tmp_path / "cache"))
    env = make_ansible_env(LAMBDA_INVENTORY_CONFIG=str(config), **emulator_process.environment())

    first = run_ansible([str(SCRIPT), "--list"], env)
    second = run_ansible([str(SCRIPT), "--list"], env)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout
    assert emulator_process.count("GET", "/instances") == 1, "the second run is a cache hit"
    refreshed = run_ansible([str(SCRIPT), "--list", "--refresh-cache"], env)
    assert refreshed.returncode == 0, refreshed.stderr
    assert emulator_process.count("GET", "/instances") == 2
    assert "someone-else" not in first.stdout, "the file's cluster option applies"


# -- errors --------------------------------------------------------------------------------


def test_script_errors_are_one_line_without_the_key(emulator_process, make_ansible_env):
    env = make_ansible_env(LAMBDA_API_URL=emulator_process.url, LAMBDA_API_KEY=WRONG_KEY)
    result = run_ansible([str(SCRIPT), "--list"], env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("lambda.py: The Lambda Cloud API rejected the API key")
    assert "LAMBDA_API_KEY environment variable" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert WRONG_KEY not in result.stderr and "Traceback" not in result.stderr

    through_ansible = run_ansible(["ansible-inventory", "-i", str(SCRIPT), "--list", "-vvv"], env)
    assert "rejected the API key" in through_ansible.stderr
    assert WRONG_KEY not in through_ansible.stderr + through_ansible.stdout


@pytest.mark.parametrize("verbosity", [[], ["-vvv"]])
def test_plugin_errors_are_clear_and_hide_the_key(emulator_process, make_ansible_env, tmp_path, verbosity):
    env = make_ansible_env(LAMBDA_API_URL=emulator_process.url, LAMBDA_API_KEY=WRONG_KEY, ANSIBLE_INVENTORY_UNPARSED_FAILED="1")
    result = run_ansible(["ansible-inventory", "-i", str(EXAMPLE_CONFIG), "--list", *verbosity], env)
    assert result.returncode != 0
    assert "The Lambda Cloud API rejected the API key as invalid, expired or deleted" in result.stderr
    assert WRONG_KEY not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_unreachable_api_is_explained(emulator_process, make_ansible_env, tmp_path):
    unreachable = make_ansible_env(LAMBDA_API_URL="http://127.0.0.1:9/api/v1", LAMBDA_API_KEY=emulator_process.api_key)
    config = write_config(tmp_path, max_retries=1, retry_max_delay=0.01)
    result = run_ansible(["ansible-inventory", "-i", str(config), "--list"], unreachable)
    assert "Could not reach the Lambda Cloud API at http://127.0.0.1:9/api/v1" in result.stderr
    assert emulator_process.api_key not in result.stderr


# -- configuration through the command line -------------------------------------------------


def test_key_templated_from_extra_vars(emulator_process, make_ansible_env, tmp_path):
    seed_cluster(emulator_process)
    config = write_config(tmp_path, api_key="{{ lambda_api_key }}", api_url=emulator_process.url, cluster="demo")
    env = make_ansible_env()
    inventory = inventory_json(env, config, tmp_path, "-e", "lambda_api_key=%s" % emulator_process.api_key)
    assert "demo-server-1" in inventory["_meta"]["hostvars"]
    assert emulator_process.requests("GET", "/instances")[0]["auth_valid"]


def test_missing_address_is_reported_at_v_only(emulator_process, make_ansible_env, tmp_path):
    seed_cluster(emulator_process)
    config = write_config(tmp_path, statuses=["active", "booting"], cluster="demo")
    env = make_ansible_env(**emulator_process.environment())
    quiet = run_ansible(["ansible-inventory", "-i", str(config), "--list"], env)
    verbose = run_ansible(["ansible-inventory", "-i", str(config), "--list", "-v"], env)
    note = "demo-booting"
    assert "ansible_host is not set" not in quiet.stdout + quiet.stderr
    assert "ansible_host is not set" in verbose.stdout + verbose.stderr and note in verbose.stdout
    hostvars = inventory_json(env, config, tmp_path)["_meta"]["hostvars"]
    assert "ansible_host" not in hostvars["demo-booting"]


# -- variables and precedence --------------------------------------------------------------


def test_user_group_vars_and_host_vars_win_over_the_default_user(emulator_process, make_ansible_env, tmp_path):
    emulator_process.seed([{"name": "demo-server-1"}, {"name": "demo-server-2"}, {"name": "demo-gpu-1"}])
    directory = tmp_path / "inventory"
    config = write_config(directory, member_name_pattern="demo-.*")
    (directory / "group_vars").mkdir()
    (directory / "host_vars").mkdir()
    (directory / "group_vars" / "all.yml").write_text("ansible_user: from-all\n")
    (directory / "group_vars" / "k3s_agent.yml").write_text("ansible_user: gpuuser\n")
    (directory / "host_vars" / "demo-server-1.yml").write_text("ansible_user: ops\n")
    env = make_ansible_env(**emulator_process.environment())

    # Every group_vars file, even all.yml, beats group variables set by an inventory source.
    expected = {"demo-server-1": "ops", "demo-gpu-1": "gpuuser", "demo-server-2": "from-all"}
    hostvars = inventory_json(env, config, tmp_path)["_meta"]["hostvars"]
    assert {name: variables["ansible_user"] for name, variables in hostvars.items()} == expected

    plays = [{"name": "Check the login user of every host", "hosts": "lambda", "gather_facts": False,
              "tasks": [{"name": "Compare", "ansible.builtin.assert": {"that": ["ansible_user == expected[inventory_hostname]"]}}]}]
    result = run_playbook(env, tmp_path, plays, "-i", str(config), "-e", json.dumps({"expected": expected}))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok=1" in result.stdout and "failed=0" in result.stdout


def test_repository_group_vars_keep_the_default_user(emulator_process, make_ansible_env, tmp_path):
    seed_cluster(emulator_process)
    env = make_ansible_env(LAMBDA_K3S_CLUSTER="demo", **emulator_process.environment())
    hostvars = inventory_json(env, EXAMPLE_CONFIG, tmp_path)["_meta"]["hostvars"]
    assert {variables["ansible_user"] for variables in hostvars.values()} == {"ubuntu"}


@pytest.mark.parametrize("source", ["plugin", "script"])
def test_api_data_is_never_evaluated_as_a_template(emulator_process, make_ansible_env, tmp_path, source):
    marker = tmp_path / "evaluated"
    # The rendered form must be text no path or log line can contain by chance
    # (an earlier "6 * 7" check failed on a temporary directory named pytest-142).
    payload = "{{ lookup('ansible.builtin.pipe', 'touch %s') }}{{ 'rendered-' ~ 'by-jinja' }}" % marker
    emulator_process.seed([{"name": "demo-gpu-1", "tags": {"note": payload}}])
    env = make_ansible_env(**emulator_process.environment())
    inventory = write_config(tmp_path) if source == "plugin" else SCRIPT
    plays = [{"name": "Use the tag", "hosts": "lambda", "gather_facts": False,
              "tasks": [{"name": "Print it", "ansible.builtin.debug": {"msg": "note={{ lambda_tags.note }}"}},
                        {"name": "It is the literal text", "ansible.builtin.assert": {"that": ["\"'rendered-' ~ 'by-jinja'\" in lambda_tags.note"]}}]}]
    result = run_playbook(env, tmp_path, plays, "-i", str(inventory))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not marker.exists(), "a lookup hidden in API data was executed"
    assert "rendered-by-jinja" not in result.stdout


# -- cache, flush and refresh --------------------------------------------------------------


def cached_config(tmp_path: Path, emulator) -> Path:
    return write_config(tmp_path / "cfg", api_url=emulator.url, cache=True, cache_plugin="ansible.builtin.jsonfile",
                        cache_connection=str(tmp_path / "cache"), cache_timeout=3600)


def test_cache_hit_miss_and_flush_cache(emulator_process, make_ansible_env, tmp_path):
    emulator_process.seed([{"name": "demo-server-1"}])
    config = cached_config(tmp_path, emulator_process)
    env = make_ansible_env(LAMBDA_API_KEY=emulator_process.api_key)

    assert list(inventory_json(env, config, tmp_path)["_meta"]["hostvars"]) == ["demo-server-1"]
    assert emulator_process.count("GET", "/instances") == 1

    emulator_process.seed([{"name": "demo-gpu-1"}])
    assert list(inventory_json(env, config, tmp_path)["_meta"]["hostvars"]) == ["demo-server-1"], "served from the cache"
    assert emulator_process.count("GET", "/instances") == 1, "zero requests on a cache hit"

    flushed = inventory_json(env, config, tmp_path, "--flush-cache")
    assert sorted(flushed["_meta"]["hostvars"]) == ["demo-gpu-1", "demo-server-1"]
    assert emulator_process.count("GET", "/instances") == 2

    played = run_playbook(env, tmp_path, [{"name": "Nothing", "hosts": "localhost", "gather_facts": False, "tasks": []}],
                          "-i", str(config), "--flush-cache")
    assert played.returncode == 0, played.stderr
    assert emulator_process.count("GET", "/instances") == 3, "ansible-playbook --flush-cache fetches too"


def test_refresh_inventory_fetches_again(emulator_process, make_ansible_env, tmp_path):
    emulator_process.seed([{"name": "demo-server-1"}, {"name": "demo-gpu-1"}])
    config = cached_config(tmp_path, emulator_process)
    env = make_ansible_env(LAMBDA_API_KEY=emulator_process.api_key)
    plays = [{
        "name": "Launch behind the inventory's back, then refresh",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "tasks": [
            {"name": "Start with the seeded hosts",
             "ansible.builtin.assert": {"that": ["groups['lambda'] | sort == ['demo-gpu-1', 'demo-server-1']"]}},
            {"name": "Add an instance through the emulator's control API",
             "ansible.builtin.uri": {"url": emulator_process.control_url + "/instances", "method": "POST", "body_format": "json",
                                     "body": [{"name": "demo-gpu-2"}]}},
            {"name": "Refresh the inventory", "ansible.builtin.meta": "refresh_inventory"},
            {"name": "See the new host",
             "ansible.builtin.assert": {"that": ["groups['lambda'] | sort == ['demo-gpu-1', 'demo-gpu-2', 'demo-server-1']",
                                                 "hostvars['demo-gpu-2']['lambda_k3s_role'] == 'agent'"]}},
        ],
    }]
    result = run_playbook(env, tmp_path, plays, "-i", str(config), "-vvv")
    assert result.returncode == 0, result.stdout + result.stderr
    assert emulator_process.count("GET", "/instances") == 2, "one load at start, one refresh"
    assert emulator_process.api_key not in result.stdout + result.stderr

    # The refresh also rewrote the cache: the next run sees the new host without a request.
    assert "demo-gpu-2" in inventory_json(env, config, tmp_path)["_meta"]["hostvars"]
    assert emulator_process.count("GET", "/instances") == 2


def test_no_secret_in_output_or_cache_at_vvv(emulator_process, make_ansible_env, tmp_path):
    seed_cluster(emulator_process)
    config = cached_config(tmp_path, emulator_process)
    env = make_ansible_env(LAMBDA_API_KEY=emulator_process.api_key)
    result = run_ansible(["ansible-inventory", "-i", str(config), "--list", "-vvv"], env)
    assert result.returncode == 0, result.stderr
    script = run_ansible([str(SCRIPT), "--list"], dict(env, LAMBDA_API_URL=emulator_process.url))
    cache_dir = tmp_path / "cache"
    (cache_file,) = list(cache_dir.iterdir())
    texts = {"stdout": result.stdout, "stderr": result.stderr, "script": script.stdout + script.stderr, "cache": cache_file.read_text()}
    for where, text in texts.items():
        assert emulator_process.api_key not in text, where
        assert JUPYTER_TOKEN not in text and "jupyter" not in text.lower(), where
    assert "GET /instances -> HTTP 200" in result.stdout, "-vvv shows the request"
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(cache_file.stat().st_mode) == 0o600
