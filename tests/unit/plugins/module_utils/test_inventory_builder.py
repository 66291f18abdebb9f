"""The inventory builder: filters, hostnames, groups and host variables, without Ansible's inventory manager."""

from __future__ import annotations

import itertools
import json

import pytest
import yaml
from ansible.inventory.group import to_safe_group_name
from lambda_emulator import default_instance_types, region

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.inventory_builder import (
    OPTION_NAMES,
    InventoryConfigError,
    assign_hostnames,
    build_inventory,
    host_variables,
    instance_matches,
    without_secrets,
)
from ansible_collections.sophia.lambda_k3s.plugins.inventory.lambda_cloud import DOCUMENTATION

TYPES = default_instance_types()
ID_A = "aaaaaaaa000000000000000000000001"
ID_B = "bbbbbbbb000000000000000000000002"
ID_C = "cccccccc000000000000000000000003"


def safe(name):
    return to_safe_group_name(name, force=True, silent=True)


def make_instance(instance_id=ID_A, name="demo-server-1", status="active", type_name="gpu_8x_h100_sxm5", region_name="us-east-1",
                  tags=None, ip="198.51.100.2", private_ip="10.0.0.2", hostname="198-51-100-2", **extra):
    """An Instance as the API returns it; None leaves a field out, as the API does."""
    data = {"id": instance_id, "name": name, "status": status, "ip": ip, "private_ip": private_ip, "hostname": hostname,
            "region": region(region_name), "instance_type": TYPES[type_name], "ssh_key_names": ["deploy"], "file_system_names": [],
            "tags": [{"key": key, "value": value} for key, value in (tags or {}).items()],
            "jupyter_token": "03b7d30d9d3e4d8fa41657bc0d478c1b",
            "jupyter_url": "https://jupyter-249e.lambdaspaces.com/?token=03b7d30d9d3e4d8fa41657bc0d478c1b"}
    data.update(extra)
    return {key: value for key, value in data.items() if value is not None}


def documented_options(**overrides) -> dict:
    """The builder's options as the plugin hands them over: its documented defaults, and ``overrides``."""
    documented = yaml.safe_load(DOCUMENTATION)["options"]
    return dict({name: documented[name].get("default") for name in OPTION_NAMES}, **overrides)


def build(instances, **options):
    return build_inventory(instances, documented_options(**options), safe_group_name=safe)


def hosts_by_name(plan):
    return {host.name: host for host in plan.hosts}


class TestHostVariables:
    def test_every_documented_variable_with_the_prefix(self):
        variables = host_variables(make_instance(tags={"env": "dev"}), documented_options())
        assert variables == {
            "lambda_id": ID_A,
            "lambda_name": "demo-server-1",
            "lambda_status": "active",
            "lambda_ip": "198.51.100.2",
            "lambda_private_ip": "10.0.0.2",
            "lambda_hostname": "198-51-100-2",
            "lambda_region": "us-east-1",
            "lambda_instance_type": "gpu_8x_h100_sxm5",
            "lambda_gpu_model": "h100",
            "lambda_gpu_count": 8,
            "lambda_gpu_memory_gib": 80,
            "lambda_arch": "x86_64",
            "lambda_price_cents_per_hour": 2392,
            "lambda_tags": {"env": "dev"},
            "lambda_k3s_role": "server",
        }

    def test_gh200_is_arm64(self):
        variables = host_variables(make_instance(type_name="gpu_1x_gh200"), documented_options())
        assert (variables["lambda_arch"], variables["lambda_gpu_model"]) == ("arm64", "gh200")

    def test_custom_prefix_never_touches_reserved_names(self):
        variables = host_variables(make_instance(), documented_options(**{"hostvars_prefix": "lc_"}))
        assert "lc_name" in variables and "lc_tags" in variables
        assert not {"name", "tags", "lambda_name"} & set(variables)

    def test_missing_optional_fields_are_null_not_absent(self):
        bare = {"id": ID_A, "status": "booting"}
        variables = host_variables(bare, documented_options())
        assert set(variables) == set(host_variables(make_instance(), documented_options()))
        assert variables["lambda_ip"] is None and variables["lambda_name"] is None and variables["lambda_region"] is None
        assert variables["lambda_tags"] == {} and variables["lambda_gpu_count"] == 0

    def test_odd_shapes_do_not_crash(self):
        odd = {"id": ID_A, "name": "", "status": None, "region": "us-west-1", "instance_type": "gpu_1x_a10", "tags": None,
               "ip": "", "price_cents_per_hour": "free"}
        variables = host_variables(odd, documented_options())
        assert variables["lambda_region"] == "us-west-1"
        assert variables["lambda_instance_type"] == "gpu_1x_a10"
        assert variables["lambda_gpu_model"] == "a10"
        assert variables["lambda_name"] is None and variables["lambda_ip"] is None
        assert variables["lambda_price_cents_per_hour"] is None

    def test_secrets_only_when_asked(self):
        assert not any("jupyter" in key for key in host_variables(make_instance(), documented_options()))
        with_secrets = host_variables(make_instance(), documented_options(**{"include_secrets": True}))
        assert with_secrets["lambda_jupyter_token"] == "03b7d30d9d3e4d8fa41657bc0d478c1b"
        assert with_secrets["lambda_jupyter_url"].startswith("https://jupyter-")

    def test_json_serialisable(self):
        for type_name in TYPES:
            json.dumps(host_variables(make_instance(type_name=type_name, tags={"a": "b"}), documented_options(**{"include_secrets": True})))


class TestWithoutSecrets:
    def test_drops_jupyter_fields_and_keeps_the_rest(self):
        original = make_instance()
        stripped = without_secrets([original, "junk", None])
        assert len(stripped) == 1
        assert "jupyter_token" not in stripped[0] and "jupyter_url" not in stripped[0]
        assert stripped[0]["ip"] == original["ip"]
        assert "jupyter_token" in original, "the caller's data is not modified"
        assert "03b7d30d" not in json.dumps(stripped)


class TestFilters:
    @pytest.mark.parametrize(("options", "expected"), [
        ({}, True),
        ({"statuses": ["active"]}, True),
        ({"statuses": ["booting"]}, False),
        ({"statuses": []}, True),
        ({"regions": ["us-east-1", "us-west-1"]}, True),
        ({"regions": ["us-west-1"]}, False),
        ({"instance_types": ["gpu_8x_h100_sxm5"]}, True),
        ({"instance_types": ["gpu_1x_a10"]}, False),
        ({"tags": {"env": "dev"}}, True),
        ({"tags": {"env": "dev", "team": "ml"}}, True),
        ({"tags": {"env": "prod"}}, False),
        ({"tags": {"missing": "x"}}, False),
    ])
    def test_instance_matches(self, options, expected):
        instance = make_instance(tags={"env": "dev", "team": "ml"})
        assert instance_matches(instance, documented_options(**options)) is expected

    def test_unknown_status_is_kept_only_when_all_statuses_are_wanted(self):
        odd = make_instance(status="contactable")
        assert not instance_matches(odd, documented_options())
        assert instance_matches(odd, documented_options(**{"statuses": []}))
        assert [host.name for host in build([odd], statuses=[]).hosts] == ["demo-server-1"]


class TestMembership:
    """Which hosts are K3s nodes is decided by cluster.Membership; the builder only applies it."""

    def test_without_a_cluster_chosen_every_instance_is_listed_but_none_is_a_node(self):
        plan = build([make_instance(ID_A, "colleagues-jupyter"), make_instance(ID_B, "demo-server-1", tags={"k3s-cluster": "demo"})])
        assert sorted(host.name for host in plan.hosts) == ["colleagues-jupyter", "demo-server-1"]
        assert {tuple(host.groups) for host in plan.hosts} == {("lambda",)}, "no k3s_*, gpu_, region_ or type_ group"

    def test_only_tagged_members_of_the_cluster_and_look_alikes_are_reported(self):
        instances = [make_instance(ID_A, "prod-db"),
                     make_instance(ID_B, "gpu-node", tags={"k3s-cluster": "prod"}),
                     make_instance(ID_C, "prod-but-elsewhere", tags={"k3s-cluster": "staging"})]
        plan = build(instances, cluster="prod")
        assert [host.name for host in plan.hosts] == ["gpu-node"]
        assert plan.hosts[0].groups[:2] == ["lambda", "k3s_agent"]
        [warning] = plan.warnings
        assert "prod-db" in warning and "member_names" in warning and "gpu-node" not in warning

    def test_hand_launched_instances_by_name_or_pattern(self):
        instances = [make_instance(ID_A, "sophia-control"), make_instance(ID_B, "sophia-ai-core"), make_instance(ID_C, "sophia-db")]
        listed = build(instances, member_names=["sophia-control", "sophia-ai-core"])
        assert {host.name: host.groups[1] for host in listed.hosts} == {"sophia-control": "k3s_server", "sophia-ai-core": "k3s_agent"}
        matched = build(instances, member_name_pattern="sophia-(control|ai-.*)")
        assert sorted(host.name for host in matched.hosts) == ["sophia-ai-core", "sophia-control"]

    def test_the_whole_account_when_asked(self):
        plan = build([make_instance(ID_A, "colleagues-jupyter"), make_instance(ID_B, "x", tags={"k3s-cluster": "other"})], whole_account=True)
        assert all(host.groups[1] in ("k3s_server", "k3s_agent") for host in plan.hosts) and len(plan.hosts) == 2

    @pytest.mark.parametrize("options", [{"whole_account": True, "cluster": "demo"}, {"member_name_pattern": "("}])
    def test_bad_membership_options_are_explained(self, options):
        with pytest.raises(InventoryConfigError, match="whole_account|member_name_pattern"):
            build([make_instance()], **options)


class TestHostnames:
    def test_missing_name_falls_back_to_the_id(self):
        plan = build([make_instance(ID_A, name=None), make_instance(ID_B, name="")])
        assert sorted(host.name for host in plan.hosts) == [ID_A, ID_B]

    def test_preferences_in_order(self):
        instance = make_instance(name=None)
        assert build([instance], hostnames=["name", "hostname", "id"]).hosts[0].name == "198-51-100-2"
        assert build([instance], hostnames=["private_ip"]).hosts[0].name == "10.0.0.2"

    def test_the_id_is_the_last_resort_whatever_the_preferences(self):
        assert build([make_instance(name=None, ip=None)], hostnames=["name", "ip"]).hosts[0].name == ID_A

    def test_template_preferences_use_the_renderer(self):
        calls = []

        def render(template, variables):
            calls.append(template)
            return "%s.%s" % (variables["lambda_name"], variables["lambda_region"])

        plan = build_inventory([make_instance()], documented_options(hostnames=["{{ lambda_name }}.{{ lambda_region }}"]), render=render)
        assert plan.hosts[0].name == "demo-server-1.us-east-1"
        assert calls == ["{{ lambda_name }}.{{ lambda_region }}"]

    def test_a_template_that_renders_empty_falls_through(self):
        plan = build_inventory([make_instance()], documented_options(hostnames=["{{ nothing }}", "id"]), render=lambda template, variables: "")
        assert plan.hosts[0].name == ID_A

    def test_duplicates_get_id_suffixes_and_no_bare_name(self):
        plan = build([make_instance(ID_B, "worker"), make_instance(ID_A, "worker"), make_instance(ID_C, "unique")])
        assert [host.name for host in plan.hosts] == ["unique", "worker-aaaaaaaa", "worker-bbbbbbbb"]
        assert hosts_by_name(plan)["worker-aaaaaaaa"].variables["lambda_id"] == ID_A

    def test_duplicate_names_are_stable_whatever_the_api_order(self):
        instances = [make_instance(ID_A, "worker", ip="198.51.100.1"), make_instance(ID_B, "worker", ip="198.51.100.2"),
                     make_instance(ID_C, "worker", ip="198.51.100.3")]
        results = set()
        for order in itertools.permutations(instances):
            plan = build(list(order))
            results.add(tuple((host.name, host.variables["ansible_host"]) for host in plan.hosts))
        assert len(results) == 1

    def test_ids_sharing_a_prefix_get_the_full_id(self):
        first, second = "abcdef01" + "0" * 24, "abcdef01" + "1" * 24
        plan = build([make_instance(first, "worker"), make_instance(second, "worker")])
        assert sorted(host.name for host in plan.hosts) == ["worker-" + first, "worker-" + second]

    def test_a_suffixed_name_never_takes_an_existing_one(self):
        plan = build([make_instance(ID_A, "worker"), make_instance(ID_B, "worker"), make_instance(ID_C, "worker-aaaaaaaa")])
        assert {host.name for host in plan.hosts} == {"worker-" + ID_A, "worker-aaaaaaaa", "worker-bbbbbbbb"}
        assert hosts_by_name(plan)["worker-aaaaaaaa"].instance_id == ID_C

    def test_duplicate_policy_skip(self):
        plan = build([make_instance(ID_A, "worker"), make_instance(ID_B, "worker"), make_instance(ID_C, "solo")], duplicate_hostnames="skip")
        assert [host.name for host in plan.hosts] == ["solo"]
        assert len(plan.warnings) == 1 and ID_A in plan.warnings[0] and ID_B in plan.warnings[0]

    def test_duplicate_policy_error(self):
        with pytest.raises(InventoryConfigError, match="worker"):
            build([make_instance(ID_A, "worker"), make_instance(ID_B, "worker")], duplicate_hostnames="error")

    def test_the_same_instance_listed_twice_is_one_host(self):
        assert [host.name for host in build([make_instance(), make_instance()]).hosts] == ["demo-server-1"]

    def test_an_instance_without_id_is_skipped_with_a_warning(self):
        plan = build([{"name": "ghost", "status": "active"}, make_instance()])
        assert [host.name for host in plan.hosts] == ["demo-server-1"]
        assert "ghost" in plan.warnings[0]

    def test_assign_hostnames_sorts_by_name(self):
        entries = [(make_instance(ID_A, "b"), {}), (make_instance(ID_B, "a"), {})]
        assert [named[0] for named in assign_hostnames(entries, documented_options())] == ["a", "b"]


class TestAddresses:
    @pytest.mark.parametrize(("connect_with", "address"), [("public_ip", "198.51.100.2"), ("private_ip", "10.0.0.2"),
                                                           ("hostname", "198-51-100-2")])
    def test_connect_with(self, connect_with, address):
        assert build([make_instance()], connect_with=connect_with).hosts[0].variables["ansible_host"] == address

    def test_missing_address_gives_no_ansible_host_and_a_note(self):
        plan = build([make_instance(status="booting", ip=None, private_ip=None, hostname=None)], statuses=["booting"])
        host = plan.hosts[0]
        assert "ansible_host" not in host.variables
        assert len(plan.notes) == 1 and "demo-server-1" in plan.notes[0] and "no public IP address" in plan.notes[0]

    def test_private_ip_missing_only(self):
        plan = build([make_instance(private_ip=None)], connect_with="private_ip")
        assert "ansible_host" not in plan.hosts[0].variables
        assert build([make_instance(private_ip=None)]).hosts[0].variables["ansible_host"] == "198.51.100.2"


class TestGroups:
    def test_standard_groups_exist_even_when_empty(self):
        plan = build([])
        assert plan.groups == ["lambda", "k3s_cluster", "k3s_server", "k3s_agent"]
        assert plan.children == {"k3s_cluster": ["k3s_server", "k3s_agent"]}
        assert plan.hosts == []

    def test_host_groups_are_sanitised(self):
        plan = build([make_instance(type_name="gpu_1x_gh200", region_name="us-east-3")], whole_account=True)
        assert plan.hosts[0].groups == ["lambda", "k3s_server", "region_us_east_3", "type_gpu_1x_gh200", "gpu_gh200"]
        for group in plan.groups:
            assert group == safe(group)

    @pytest.mark.parametrize(("type_name", "gpu_group"), [("gpu_8x_h100_sxm5", "gpu_h100"), ("gpu_1x_gh200", "gpu_gh200"), ("gpu_1x_a6000", "gpu_a6000"),
                                                          ("gpu_8x_a100_80gb_sxm4", "gpu_a100"), ("gpu_1x_a10", "gpu_a10"), ("cpu_4x_general", None)])
    def test_gpu_groups(self, type_name, gpu_group):
        groups = build([make_instance(type_name=type_name)], whole_account=True).hosts[0].groups
        assert [group for group in groups if group.startswith("gpu_")] == ([gpu_group] if gpu_group else [])

    def test_odd_region_names_are_sanitised(self):
        instance = make_instance()
        instance["region"] = {"name": "eu.central 1/b", "description": "?"}
        assert "region_eu_central_1_b" in build([instance], whole_account=True).hosts[0].groups

    def test_roles(self):
        plan = build([make_instance(ID_A, "demo-server-1"), make_instance(ID_B, "demo-gpu-1"),
                      make_instance(ID_C, "demo-gpu-2", tags={"k3s-role": "server"})], whole_account=True)
        roles = {host.name: host.groups[1] for host in plan.hosts}
        assert roles == {"demo-server-1": "k3s_server", "demo-gpu-1": "k3s_agent", "demo-gpu-2": "k3s_server"}

    def test_custom_server_pattern(self):
        plan = build([make_instance(ID_A, "demo-server-1"), make_instance(ID_B, "demo-cp-1")], server_name_pattern="-cp-", whole_account=True)
        assert {host.name: host.groups[1] for host in plan.hosts} == {"demo-server-1": "k3s_agent", "demo-cp-1": "k3s_server"}

    def test_default_user_is_a_group_variable(self):
        plan = build([make_instance()])
        assert plan.group_vars == {"lambda": {"ansible_user": "ubuntu"}}
        assert "ansible_user" not in plan.hosts[0].variables
        assert build([make_instance()], default_user="admin").group_vars == {"lambda": {"ansible_user": "admin"}}
        assert build([make_instance()], default_user="").group_vars == {}


class TestOptions:
    def test_every_option_is_documented_in_the_plugin_which_holds_the_defaults(self):
        documented = yaml.safe_load(DOCUMENTATION)["options"]
        assert set(OPTION_NAMES) <= set(documented)

    def test_a_missing_option_is_a_programming_error_named_as_such(self):
        options = documented_options()
        del options["statuses"]
        with pytest.raises(InventoryConfigError, match="statuses are missing"):
            build_inventory([make_instance()], options)

    @pytest.mark.parametrize(("options", "message"), [
        ({"connect_with": "ipv6"}, "connect_with"),
        ({"duplicate_hostnames": "allow"}, "duplicate_hostnames"),
        ({"hostnames": ["label"]}, "hostnames entry 'label'"),
        ({"server_name_pattern": "("}, "server_name_pattern"),
        ({"tags": ["env=dev"]}, "tags"),
    ])
    def test_invalid_options_are_explained(self, options, message):
        with pytest.raises(InventoryConfigError, match=message):
            build([make_instance()], **options)

    def test_whole_plan_is_json_serialisable(self):
        plan = build([make_instance(ID_A), make_instance(ID_B, "demo-server-1", ip=None), make_instance(ID_C, name=None)],
                     include_secrets=True)
        json.dumps({"hosts": {host.name: host.variables for host in plan.hosts}, "groups": plan.groups, "vars": plan.group_vars})
