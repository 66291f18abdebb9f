"""The sophia.lambda_k3s.lambda_cloud inventory plugin, in process, against the Lambda Cloud API emulator.

Each load uses a fresh plugin instance, DataLoader and InventoryData, as a new ansible run would;
the emulator's request log counts the API calls.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
from pathlib import Path

import pytest
import yaml
from ansible import context
from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.module_utils.common.collections import ImmutableDict
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, inventory_loader
from ansible.utils.vars import load_extra_vars
from lambda_emulator import Fault

PLUGIN = "sophia.lambda_k3s.lambda_cloud"
REPO_ROOT = Path(__file__).resolve().parents[4]
OTHER_KEY = "secret_second_account.abcdefghijklmnopqrstuvwxyz012345"
INACTIVE_KEY = "secret_inactive_account.abcdefghijklmnopqrstuvwxyz0123"
FAST_RETRIES = {"max_retries": 2, "retry_max_delay": 0.01, "timeout": 5}


@pytest.fixture(scope="module", autouse=True)
def collection_loader():
    """Ansible's collection loader, which inventory_loader needs to find the plugin by its FQCN.

    Other test files import the collection as a plain namespace package (pyproject.toml puts
    collections/ on sys.path). Packages imported that way lack the metadata the loader adds, so
    they are set aside while these tests import them again through the loader, and put back after.
    """
    set_aside = {}
    package = sys.modules.get("ansible_collections.sophia.lambda_k3s")
    if package is not None and not hasattr(package, "_collection_meta"):
        set_aside = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "ansible_collections"}
        for name in set_aside:
            del sys.modules[name]
    init_plugin_loader([str(REPO_ROOT / "collections")])
    yield
    if set_aside:
        for name in [name for name in sys.modules if name.split(".")[0] == "ansible_collections"]:
            del sys.modules[name]
        sys.modules.update(set_aside)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in [name for name in os.environ if name.startswith("LAMBDA_")]:
        monkeypatch.delenv(name, raising=False)
    for name in [name for name in os.environ if name.startswith("ANSIBLE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(context, "CLIARGS", ImmutableDict())
    # load_extra_vars() remembers the first extra vars it parsed in an attribute of itself.
    monkeypatch.setattr(load_extra_vars, "extra_vars", {}, raising=False)


class RecordingDisplay:
    """Stands in for the plugin's Display: keeps every message, forwards nothing."""

    def __init__(self):
        self.messages: list[tuple[str, str]] = []

    def _record(self, level):
        return lambda message, *args, **kwargs: self.messages.append((level, str(message)))

    def __getattr__(self, level):
        return self._record(level)

    def text(self, *levels) -> str:
        return "\n".join(message for level, message in self.messages if not levels or level in levels)


class Loaded:
    def __init__(self, inventory: InventoryData, display: RecordingDisplay, plugin):
        self.inventory = inventory
        self.display = display
        self.plugin = plugin

    @property
    def hosts(self) -> dict:
        return {name: host.get_vars() for name, host in self.inventory.hosts.items()}

    def group_hosts(self, group: str) -> list[str]:
        return sorted(host.name for host in self.inventory.groups[group].get_hosts())


@pytest.fixture
def load(tmp_path):
    """load(config, cache=True) -> Loaded: one inventory load from a config file written to tmp_path."""

    def _load(config: dict, cache: bool = True, file_name: str = "test.lambda_cloud.yml") -> Loaded:
        path = tmp_path / file_name
        path.write_text(yaml.safe_dump(dict({"plugin": PLUGIN}, **config)))
        plugin = inventory_loader.get(PLUGIN)
        display = RecordingDisplay()
        plugin.display = display
        inventory = InventoryData()
        plugin.parse(inventory, DataLoader(), str(path), cache=cache)
        if getattr(plugin, "_cache", None) is not None:
            plugin.update_cache_if_changed()  # what the inventory manager does after parse()
        inventory.reconcile_inventory()
        return Loaded(inventory, display, plugin)

    return _load


def api(emulator, **extra) -> dict:
    return dict({"api_url": emulator.url, "api_key": emulator.api_key}, **FAST_RETRIES, **extra)


def seed_demo(emulator) -> list[str]:
    return emulator.seed_instances([
        {"name": "demo-server-1", "instance_type": "gpu_1x_gh200", "region": "us-east-3", "tags": {"k3s-cluster": "demo"}},
        {"name": "demo-gpu-1", "instance_type": "gpu_8x_h100_sxm5", "region": "us-west-3", "tags": {"env": "dev"}},
        {"name": "demo-gpu-2", "instance_type": "gpu_1x_a6000", "region": "us-west-1", "tags": {"k3s-role": "server"}},
        {"name": "other-node", "instance_type": "gpu_1x_a10", "region": "us-east-1"},
    ])


def cache_options(directory: Path, **extra) -> dict:
    return dict({"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(directory)}, **extra)


# -- file detection ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "accepted"), [("lambda_cloud.yml", True), ("prod.lambda_cloud.yaml", True), ("lambda.yml", False),
                                                ("lambda_cloud.json", False), ("inventory.yml", False)])
def test_verify_file(tmp_path, name, accepted):
    path = tmp_path / name
    path.write_text("plugin: %s\n" % PLUGIN)
    assert inventory_loader.get(PLUGIN).verify_file(str(path)) is accepted


# -- a normal load ---------------------------------------------------------------------------


def test_groups_hosts_and_variables(lambda_emulator, load):
    ids = seed_demo(lambda_emulator)
    loaded = load(api(lambda_emulator, whole_account=True))
    inventory = loaded.inventory

    assert loaded.group_hosts("lambda") == ["demo-gpu-1", "demo-gpu-2", "demo-server-1", "other-node"]
    assert loaded.group_hosts("k3s_server") == ["demo-gpu-2", "demo-server-1"]
    assert loaded.group_hosts("k3s_agent") == ["demo-gpu-1", "other-node"]
    assert sorted(group.name for group in inventory.groups["k3s_cluster"].child_groups) == ["k3s_agent", "k3s_server"]
    assert loaded.group_hosts("region_us_east_3") == ["demo-server-1"]
    assert loaded.group_hosts("type_gpu_8x_h100_sxm5") == ["demo-gpu-1"]
    assert loaded.group_hosts("gpu_gh200") == ["demo-server-1"]
    assert loaded.group_hosts("gpu_a6000") == ["demo-gpu-2"]
    assert loaded.group_hosts("gpu_h100") == ["demo-gpu-1"]
    assert inventory.groups["lambda"].get_vars() == {"ansible_user": "ubuntu"}

    server = loaded.hosts["demo-server-1"]
    assert server["lambda_id"] == ids[0]
    assert server["ansible_host"] == server["lambda_ip"]
    assert server["lambda_arch"] == "arm64"
    assert server["lambda_tags"] == {"k3s-cluster": "demo"}
    assert server["lambda_k3s_role"] == "server"
    assert "ansible_user" not in server, "ansible_user is a group variable, so the user's group_vars win"
    assert loaded.hosts["demo-gpu-1"]["lambda_gpu_count"] == 8


def test_hostvars_are_json_serialisable_and_free_of_secrets(lambda_emulator, load):
    seed_demo(lambda_emulator)
    hosts = load(api(lambda_emulator)).hosts
    text = json.dumps(hosts)
    assert "jupyter" not in text and "lambdaspaces" not in text
    assert lambda_emulator.api_key not in text


def test_exactly_one_request_per_uncached_load(lambda_emulator, load):
    seed_demo(lambda_emulator)
    for expected in (1, 2, 3):
        load(api(lambda_emulator))
        assert lambda_emulator.count("GET", "/instances") == expected
    assert lambda_emulator.count() == 3, "no other endpoint is called"


def test_api_data_is_never_trusted_as_a_template(lambda_emulator, load):
    lambda_emulator.seed_instances([{"name": "{{ 6 * 7 }}", "tags": {"note": "{{ lookup('pipe', 'id') }}"}}])
    loaded = load(api(lambda_emulator))
    variables = loaded.inventory.get_host("{{ 6 * 7 }}").vars
    try:
        from ansible.template import is_trusted_as_template
    except ImportError:  # ansible-core < 2.19 marks untrusted values with a type instead
        from ansible.utils.unsafe_proxy import AnsibleUnsafe

        assert isinstance(variables["lambda_name"], AnsibleUnsafe)
    else:
        assert not is_trusted_as_template(variables["lambda_name"])
        assert not is_trusted_as_template(variables["lambda_tags"]["note"])


# -- configuration -------------------------------------------------------------------------


def test_key_and_url_from_the_environment(lambda_emulator, load, monkeypatch):
    seed_demo(lambda_emulator)
    monkeypatch.setenv("LAMBDA_API_KEY", lambda_emulator.api_key)
    monkeypatch.setenv("LAMBDA_API_URL", lambda_emulator.url)
    assert len(load(FAST_RETRIES).hosts) == 4
    assert lambda_emulator.requests("GET", "/instances")[0].auth_valid


def test_key_templated_from_extra_vars(lambda_emulator, load, monkeypatch):
    seed_demo(lambda_emulator)
    monkeypatch.setattr(context, "CLIARGS", ImmutableDict(extra_vars=("lambda_api_key=%s" % lambda_emulator.api_key,)))
    loaded = load(dict(FAST_RETRIES, api_url=lambda_emulator.url, api_key="{{ lambda_api_key }}"))
    assert len(loaded.hosts) == 4
    assert lambda_emulator.requests("GET", "/instances")[0].key_fingerprint == lambda_emulator.fingerprint(lambda_emulator.api_key)


def test_key_from_the_lambda_api_key_extra_var(lambda_emulator, load, monkeypatch):
    seed_demo(lambda_emulator)
    monkeypatch.setenv("LAMBDA_API_KEY", "secret_stale_env_key.0000")
    monkeypatch.setattr(context, "CLIARGS", ImmutableDict(extra_vars=("lambda_api_key=%s" % lambda_emulator.api_key,)))
    assert len(load(dict(FAST_RETRIES, api_url=lambda_emulator.url)).hosts) == 4, "the extra var wins over the environment"


def test_a_wrong_key_from_the_extra_var_is_named_as_such(lambda_emulator, load, monkeypatch):
    monkeypatch.setattr(context, "CLIARGS", ImmutableDict(extra_vars=("lambda_api_key=secret_wrong_extra_var.0000",)))
    with pytest.raises(AnsibleParserError, match="the lambda_api_key variable") as raised:
        load(dict(FAST_RETRIES, api_url=lambda_emulator.url))
    assert "secret_wrong_extra_var" not in str(raised.value)


def test_key_templated_from_a_lookup(lambda_emulator, load, monkeypatch):
    seed_demo(lambda_emulator)
    monkeypatch.setenv("MY_LAMBDA_KEY", lambda_emulator.api_key)
    loaded = load(dict(FAST_RETRIES, api_url=lambda_emulator.url, api_key="{{ lookup('ansible.builtin.env', 'MY_LAMBDA_KEY') }}"))
    assert len(loaded.hosts) == 4


def test_an_undefined_template_variable_is_explained(lambda_emulator, load):
    with pytest.raises(AnsibleParserError, match="Could not template the api_key option") as raised:
        load(dict(FAST_RETRIES, api_url=lambda_emulator.url, api_key="{{ lambda_api_key }}"))
    assert "lambda_api_key" in str(raised.value)
    assert lambda_emulator.count() == 0


def test_without_a_cluster_the_account_is_listed_but_no_host_is_a_node(lambda_emulator, load):
    seed_demo(lambda_emulator)
    loaded = load(api(lambda_emulator))
    assert loaded.group_hosts("lambda") == ["demo-gpu-1", "demo-gpu-2", "demo-server-1", "other-node"]
    assert loaded.group_hosts("k3s_server") == loaded.group_hosts("k3s_agent") == []
    assert not [group for group in loaded.inventory.groups if group.startswith(("gpu_", "region_", "type_"))]


def test_cluster_from_the_environment_takes_tagged_members_and_reports_look_alikes(lambda_emulator, load, monkeypatch):
    seed_demo(lambda_emulator)
    monkeypatch.setenv("LAMBDA_K3S_CLUSTER", "demo")
    loaded = load(api(lambda_emulator))
    assert sorted(loaded.hosts) == ["demo-server-1"], "untagged demo-* instances are not members"
    warning = loaded.display.text("warning")
    assert "demo-gpu-1" in warning and "demo-gpu-2" in warning and "member_names" in warning


def test_cluster_option_wins_over_the_environment(lambda_emulator, load, monkeypatch):
    seed_demo(lambda_emulator)
    monkeypatch.setenv("LAMBDA_K3S_CLUSTER", "other")
    assert sorted(load(api(lambda_emulator, cluster="demo")).hosts) == ["demo-server-1"]


@pytest.mark.parametrize(("variable", "value", "members"), [
    ("LAMBDA_K3S_MEMBER_NAMES", "demo-gpu-1,other-node", ["demo-gpu-1", "other-node"]),
    ("LAMBDA_K3S_MEMBER_PATTERN", "demo-gpu-.*", ["demo-gpu-1", "demo-gpu-2"]),
    ("LAMBDA_K3S_WHOLE_ACCOUNT", "true", ["demo-gpu-1", "demo-gpu-2", "demo-server-1", "other-node"]),
])
def test_membership_from_the_environment(lambda_emulator, load, monkeypatch, variable, value, members):
    seed_demo(lambda_emulator)
    monkeypatch.setenv(variable, value)
    loaded = load(api(lambda_emulator))
    assert sorted(loaded.hosts) == members
    assert sorted(loaded.group_hosts("k3s_server") + loaded.group_hosts("k3s_agent")) == members


@pytest.mark.parametrize("options", [{"member_name_pattern": "demo-("}, {"whole_account": True, "cluster": "demo"}])
def test_bad_membership_options_fail_before_any_request(lambda_emulator, load, options):
    with pytest.raises(AnsibleParserError, match="member_name_pattern|whole_account"):
        load(api(lambda_emulator, **options))
    assert lambda_emulator.count() == 0


def test_filters(lambda_emulator, load):
    seed_demo(lambda_emulator)
    assert sorted(load(api(lambda_emulator, regions=["us-west-1", "us-west-3"])).hosts) == ["demo-gpu-1", "demo-gpu-2"]
    assert sorted(load(api(lambda_emulator, instance_types=["gpu_1x_a10"])).hosts) == ["other-node"]
    assert sorted(load(api(lambda_emulator, tags={"env": "dev"})).hosts) == ["demo-gpu-1"]


def test_invalid_choice_is_rejected_before_any_request(lambda_emulator, load):
    with pytest.raises(AnsibleError, match="connect_with"):
        load(api(lambda_emulator, connect_with="ipv6"))
    assert lambda_emulator.count() == 0


def test_invalid_server_pattern_is_explained(lambda_emulator, load):
    with pytest.raises(AnsibleParserError, match="server_name_pattern"):
        load(api(lambda_emulator, server_name_pattern="("))


# -- hostnames and addresses ---------------------------------------------------------------


def test_duplicate_and_missing_names(lambda_emulator, load):
    ids = lambda_emulator.seed_instances([{"name": "worker"}, {"name": "worker"}, {"omit": ["name"]}])
    hosts = load(api(lambda_emulator)).hosts
    assert sorted(hosts) == sorted(["worker-" + ids[0][:8], "worker-" + ids[1][:8], ids[2]])
    assert "worker" not in hosts
    for name, variables in hosts.items():
        assert name == variables["lambda_id"] or name.endswith("-" + variables["lambda_id"][:8])


def test_hostname_template(lambda_emulator, load):
    seed_demo(lambda_emulator)
    hosts = load(api(lambda_emulator, hostnames=["{{ lambda_name }}.{{ lambda_region }}"])).hosts
    assert "demo-server-1.us-east-3" in hosts


def test_missing_address_gives_no_ansible_host_and_a_verbose_note(lambda_emulator, load):
    lambda_emulator.seed_instances([{"name": "demo-booting", "status": "booting", "hold_status": True}, {"name": "demo-up"}])
    loaded = load(api(lambda_emulator, statuses=["active", "booting"]))
    assert "ansible_host" not in loaded.hosts["demo-booting"]
    assert loaded.hosts["demo-booting"]["lambda_ip"] is None
    assert loaded.hosts["demo-up"]["ansible_host"]
    notes = loaded.display.text("v")
    assert "demo-booting" in notes and "ansible_host is not set" in notes
    assert "demo-booting" not in loaded.display.text("warning"), "a missing address is only shown at -v"


def test_booting_instances_are_left_out_by_default(lambda_emulator, load):
    lambda_emulator.seed_instances([{"name": "demo-booting", "status": "booting", "hold_status": True}, {"name": "demo-up"}])
    assert sorted(load(api(lambda_emulator)).hosts) == ["demo-up"]


@pytest.mark.parametrize(("connect_with", "field"), [("private_ip", "lambda_private_ip"), ("hostname", "lambda_hostname")])
def test_connect_with(lambda_emulator, load, connect_with, field):
    seed_demo(lambda_emulator)
    for variables in load(api(lambda_emulator, connect_with=connect_with)).hosts.values():
        assert variables["ansible_host"] == variables[field]


def test_unknown_status_and_odd_fields_do_not_crash(lambda_emulator_factory, load):
    # The API may grow statuses and fields; these responses are deliberately off-spec.
    emulator = lambda_emulator_factory(validate_responses=False)
    emulator.seed_instances([{"name": "demo-new", "extra": {"status": "contactable", "brand_new_field": {"x": 1}}},
                             {"name": "demo-ok"}])
    assert sorted(load(api(emulator)).hosts) == ["demo-ok"]
    hosts = load(api(emulator, statuses=[])).hosts
    assert hosts["demo-new"]["lambda_status"] == "contactable"
    json.dumps(hosts)


# -- constructed -----------------------------------------------------------------------------


def test_compose_groups_and_keyed_groups(lambda_emulator, load):
    seed_demo(lambda_emulator)
    loaded = load(api(lambda_emulator,
                      compose={"ansible_host": "lambda_private_ip", "gpu_total": "lambda_gpu_count * 2"},
                      groups={"big_gpu": "lambda_gpu_count >= 8", "arm": "lambda_arch == 'arm64'"},
                      keyed_groups=[{"key": "lambda_status", "prefix": "status"}, {"key": "lambda_tags", "prefix": "tag"}]))
    gpu = loaded.hosts["demo-gpu-1"]
    assert gpu["ansible_host"] == gpu["lambda_private_ip"]
    assert gpu["gpu_total"] == 16
    assert loaded.group_hosts("big_gpu") == ["demo-gpu-1"]
    assert loaded.group_hosts("arm") == ["demo-server-1"]
    assert loaded.group_hosts("status_active") == ["demo-gpu-1", "demo-gpu-2", "demo-server-1", "other-node"]
    assert loaded.group_hosts("tag_env_dev") == ["demo-gpu-1"]
    assert loaded.group_hosts("tag_k3s_cluster_demo") == ["demo-server-1"]


def test_strict_turns_template_errors_into_failures(lambda_emulator, load):
    seed_demo(lambda_emulator)
    broken = {"compose": {"x": "no_such_variable + 1"}}
    assert "x" not in load(api(lambda_emulator, **broken)).hosts["demo-gpu-1"]
    with pytest.raises(AnsibleError, match="no_such_variable"):
        load(api(lambda_emulator, strict=True, **broken))


# -- errors --------------------------------------------------------------------------------


def test_invalid_key_from_the_config(lambda_emulator, load):
    with pytest.raises(AnsibleParserError) as raised:
        load(api(lambda_emulator, api_key="secret_not_a_real_key.0000"))
    message = str(raised.value)
    assert "rejected the API key" in message and "the api_key option" in message
    assert "secret_not_a_real_key" not in message
    assert lambda_emulator.count("GET", "/instances") == 1, "a 401 is not retried"


def test_invalid_key_from_the_environment(lambda_emulator, load, monkeypatch):
    monkeypatch.setenv("LAMBDA_API_KEY", "secret_env_key_that_is_wrong.1234")
    with pytest.raises(AnsibleParserError) as raised:
        load(dict(FAST_RETRIES, api_url=lambda_emulator.url))
    assert "LAMBDA_API_KEY environment variable" in str(raised.value)
    assert "secret_env_key_that_is_wrong" not in str(raised.value)


def test_no_key_at_all(lambda_emulator, load):
    with pytest.raises(AnsibleParserError, match="No Lambda Cloud API key"):
        load(dict(FAST_RETRIES, api_url=lambda_emulator.url))
    assert lambda_emulator.count() == 0


def test_inactive_account(lambda_emulator_factory, load):
    emulator = lambda_emulator_factory(inactive_api_keys=[INACTIVE_KEY])
    with pytest.raises(AnsibleParserError, match="inactive") as raised:
        load(dict(FAST_RETRIES, api_url=emulator.url, api_key=INACTIVE_KEY))
    assert INACTIVE_KEY not in str(raised.value)


def test_rate_limited_then_success(lambda_emulator, load):
    seed_demo(lambda_emulator)
    lambda_emulator.add_fault(Fault.rate_limited(retry_after=0, path="/instances", times=1))
    lambda_emulator.add_fault(Fault.rate_limited(path="/instances", times=1))
    assert len(load(api(lambda_emulator)).hosts) == 4
    assert [record.status for record in lambda_emulator.requests("GET", "/instances")] == [429, 429, 200]


def test_repeated_server_errors_give_up_after_max_retries(lambda_emulator, load):
    lambda_emulator.add_fault(Fault.server_error(502, path="/instances", times=50))
    with pytest.raises(AnsibleParserError, match="internal error"):
        load(api(lambda_emulator))
    assert lambda_emulator.count("GET", "/instances") == FAST_RETRIES["max_retries"] + 1


def test_unreachable_api(load, lambda_emulator):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(AnsibleParserError, match="Could not reach the Lambda Cloud API") as raised:
        load(dict(FAST_RETRIES, api_key=lambda_emulator.api_key, api_url="http://127.0.0.1:%d/api/v1" % closed_port))
    assert lambda_emulator.api_key not in str(raised.value)


def test_the_key_is_never_displayed(lambda_emulator, load):
    seed_demo(lambda_emulator)
    lambda_emulator.add_fault(Fault.server_error(503, path="/instances", times=1))
    loaded = load(api(lambda_emulator))
    assert "GET /instances" in loaded.display.text("vvv"), "-vvv shows the exchanges"
    assert lambda_emulator.api_key not in loaded.display.text()


# -- cache ---------------------------------------------------------------------------------


def cache_files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.iterdir() if path.is_file())


def test_cache_miss_hit_and_flush(lambda_emulator, load, tmp_path):
    seed_demo(lambda_emulator)
    directory = tmp_path / "cache"
    config = api(lambda_emulator, **cache_options(directory))

    first = load(config)
    assert lambda_emulator.count("GET", "/instances") == 1
    (cache_file,) = cache_files(directory)
    written = cache_file.stat().st_mtime_ns, cache_file.read_bytes()

    lambda_emulator.seed_instances([{"name": "demo-late"}])
    second = load(config)
    assert lambda_emulator.count("GET", "/instances") == 1, "a cache hit sends no request"
    assert second.hosts == first.hosts, "the cached list gives the same inventory"
    assert (cache_file.stat().st_mtime_ns, cache_file.read_bytes()) == written, "a cache hit does not rewrite the entry"

    flushed = load(config, cache=False)  # --flush-cache and refresh_inventory
    assert lambda_emulator.count("GET", "/instances") == 2
    assert "demo-late" in flushed.hosts
    assert "demo-late" in cache_file.read_text(), "the flush refreshed the cache"
    assert "demo-late" in load(config).hosts
    assert lambda_emulator.count("GET", "/instances") == 2


def test_cache_holds_no_secret_and_is_private(lambda_emulator, load, tmp_path):
    seed_demo(lambda_emulator)
    directory = tmp_path / "new" / "cache"
    load(api(lambda_emulator, **cache_options(directory)))
    (cache_file,) = cache_files(directory)
    content = cache_file.read_text()
    assert "demo-server-1" in content
    assert "jupyter" not in content and "lambdaspaces" not in content
    assert lambda_emulator.api_key not in content and lambda_emulator.api_key not in cache_file.name
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700, "the plugin creates the cache directory private"
    assert stat.S_IMODE(cache_file.stat().st_mode) == 0o600
    assert isinstance(cached_value(content), list), "the cache holds the raw instance list"


def cached_value(content: str):
    """What the plugin stored; ansible-core >= 2.19 wraps it as {"__payload__": "<json>"}."""
    document = json.loads(content)
    return json.loads(document["__payload__"]) if isinstance(document, dict) and "__payload__" in document else document


def test_cache_is_keyed_on_the_account(lambda_emulator_factory, load, tmp_path):
    emulator = lambda_emulator_factory(api_keys=["secret_emulator_0123456789abcdef.0123456789abcdefghijklmnopqrstuv", OTHER_KEY])
    seed_demo(emulator)
    directory = tmp_path / "cache"
    load(api(emulator, **cache_options(directory)))
    load(dict(api(emulator, **cache_options(directory)), api_key=OTHER_KEY))
    assert emulator.count("GET", "/instances") == 2, "another key never reads the first key's cache entry"
    assert len(cache_files(directory)) == 2


def test_include_secrets(lambda_emulator, load, tmp_path):
    seed_demo(lambda_emulator)
    directory = tmp_path / "cache"
    hosts = load(api(lambda_emulator, include_secrets=True, **cache_options(directory))).hosts
    assert hosts["demo-server-1"]["lambda_jupyter_token"]
    assert hosts["demo-server-1"]["lambda_jupyter_token"] in hosts["demo-server-1"]["lambda_jupyter_url"]
    # The cache entry with secrets is a different one: turning include_secrets off never reads it.
    hosts = load(api(lambda_emulator, **cache_options(directory))).hosts
    assert "lambda_jupyter_token" not in hosts["demo-server-1"]
    assert lambda_emulator.count("GET", "/instances") == 2


def test_the_cache_file_is_private_from_its_first_byte(lambda_emulator, load, tmp_path, monkeypatch):
    """With include_secrets the cache holds Jupyter tokens: no moment may leave it readable by others, even in a
    directory of the user's that others can enter (Ansible's file caches chmod their files 0644)."""
    seed_demo(lambda_emulator)
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o755)
    loosened = []
    real_chmod = os.chmod

    def watched_chmod(path, mode, *args, **kwargs):
        if str(path).startswith(str(directory)) and mode & 0o077:
            loosened.append((str(path), oct(mode)))
        return real_chmod(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "chmod", watched_chmod)
    monkeypatch.setattr(os, "umask", lambda mask, real=os.umask: real(0o022 if mask == 0o077 else mask))  # a umask that would not save it
    load(api(lambda_emulator, include_secrets=True, **cache_options(directory)))
    (cache_file,) = cache_files(directory)
    assert loosened == [], "the cache file was made readable by others at some point"
    assert stat.S_IMODE(cache_file.stat().st_mode) == 0o600 and "jupyter" in cache_file.read_text()


def test_memory_cache_plugin_works_too(lambda_emulator, load):
    seed_demo(lambda_emulator)
    assert len(load(api(lambda_emulator, cache=True, cache_plugin="ansible.builtin.memory")).hosts) == 4


def test_parse_config_without_a_file(lambda_emulator, monkeypatch, tmp_path):
    """The entry point inventories/lambda.py uses when no lambda_cloud.yml is beside it."""
    seed_demo(lambda_emulator)
    monkeypatch.setenv("LAMBDA_API_KEY", lambda_emulator.api_key)
    monkeypatch.setenv("LAMBDA_API_URL", lambda_emulator.url)
    monkeypatch.setenv("LAMBDA_K3S_CLUSTER", "demo")
    plugin = inventory_loader.get(PLUGIN)
    inventory = InventoryData()
    plugin.parse_config(inventory, DataLoader(), str(tmp_path / "lambda.py"), {"plugin": PLUGIN})
    assert sorted(inventory.hosts) == ["demo-server-1"]


def test_the_example_configuration_sets_no_option_to_its_documented_default():
    """Defaults live once, in the plugin's documentation: the example configuration only shows what it changes."""
    from ansible_collections.sophia.lambda_k3s.plugins.inventory.lambda_cloud import DOCUMENTATION

    documented = yaml.safe_load(DOCUMENTATION)["options"]
    example = yaml.safe_load((REPO_ROOT / "inventories" / "lambda_cloud.yml").read_text())
    restated = sorted(name for name, value in example.items() if name in documented and value == documented[name].get("default"))
    assert restated == []


def test_the_documented_client_defaults_are_the_clients():
    """ansible-doc shows the plugin's defaults; the modules' are checked by validate-modules against their argument spec."""
    from ansible_collections.sophia.lambda_k3s.plugins.inventory.lambda_cloud import CLIENT_OPTIONS, DOCUMENTATION
    from ansible_collections.sophia.lambda_k3s.plugins.module_utils.module_support import lambda_argument_spec

    documented = yaml.safe_load(DOCUMENTATION)["options"]
    module_spec = lambda_argument_spec()
    assert {name: documented[name].get("default") for name in CLIENT_OPTIONS} == {name: module_spec[name].get("default") for name in CLIENT_OPTIONS}
