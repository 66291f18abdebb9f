"""The filters that interpret the cluster spec of provision.yml and teardown.yml, and report their runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.sophia.lambda_k3s.plugins.filter.cluster_spec import (
    FilterModule,
    admin_firewall_rules,
    cluster_report,
    cluster_spec,
    launch_report,
    teardown_report,
)

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBcTq1D8cLdiBZbq0SN1XjzOxKHq4C1bqd9o5HjvwAkJ admin@example"
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n"


@pytest.fixture
def spec(tmp_path) -> dict:
    """The variables of a valid spec, as provision.yml hands them to cluster_spec."""
    key_file = tmp_path / "id.pub"
    key_file.write_text(PUBLIC_KEY + "\n")
    return {
        "lambda_cluster_name": "demo", "lambda_cluster_regions": ["us-east-1", "us-west-1"], "lambda_cluster_ssh_key_name": "admin",
        "lambda_cluster_ssh_public_key_file": str(key_file), "lambda_cluster_admin_networks": ["203.0.113.0/24"],
        "lambda_cluster_extra_firewall_rules": [{"protocol": "icmp", "source_network": "0.0.0.0/0", "description": "ping"}],
        "lambda_cluster_node_pools": [
            {"name": "server", "role": "server", "count": 1, "instance_types": ["cpu_4x_general"]},
            {"name": "a10", "role": "agent", "count": 2, "instance_types": ["gpu_1x_a10"], "regions": ["us-south-1"],
             "image": {"family": "lambda-stack-24-04"}, "tags": {"team": "ml"}},
        ],
    }


def problems(variables: dict, playbook: str = "provision") -> list[str]:
    return cluster_spec(variables, playbook)["problems"]


def only_problem(variables: dict, playbook: str = "provision") -> str:
    [problem] = problems(variables, playbook)
    return problem


# -- a valid spec ------------------------------------------------------------------------------------

def test_a_valid_spec_has_no_problem_and_its_defaults(spec) -> None:
    result = cluster_spec(spec)
    assert result["problems"] == []
    assert result["ssh_public_key"] == PUBLIC_KEY and result["ssh_key_replace"] is False
    assert (result["global_firewall"], result["launch_interval"], result["poll_interval"], result["wait_timeout"]) == ("warn", 12.0, 10.0, 1200)
    assert result["wait_retries"] == 120 and result["member_names"] == [] and result["file_systems_by_region"] == {}
    assert [rule.get("port_range") for rule in result["allowed_rules"]] == [[22, 22], [6443, 6443], None]


def test_values_from_the_command_line_are_converted(spec) -> None:
    spec.update(lambda_cluster_poll_interval="0.05", lambda_cluster_wait_timeout="60", lambda_cluster_ssh_key_replace="true",
                lambda_cluster_regions="us-east-1, us-west-1")
    result = cluster_spec(spec)
    assert (result["poll_interval"], result["wait_timeout"], result["wait_retries"], result["ssh_key_replace"]) == (0.05, 60, 1200, True)
    assert result["regions"] == ["us-east-1", "us-west-1"]


def test_nodes_are_named_deterministically_with_pool_defaults(spec) -> None:
    nodes = cluster_spec(spec)["nodes"]
    assert [node["name"] for node in nodes] == ["demo-server-1", "demo-a10-1", "demo-a10-2"]
    server, agent = nodes[0], nodes[1]
    assert server["regions"] == ["us-east-1", "us-west-1"] and server["image"] is None and server["role"] == "server"
    assert server["tags"] == {"k3s-pool": "server"}
    assert agent["regions"] == ["us-south-1"] and agent["image"] == {"family": "lambda-stack-24-04"}
    assert agent["tags"] == {"team": "ml", "k3s-pool": "a10"}


def test_a_pool_of_zero_has_no_node(spec) -> None:
    spec["lambda_cluster_node_pools"][1]["count"] = 0
    assert [node["name"] for node in cluster_spec(spec)["nodes"]] == ["demo-server-1"]


def test_file_systems_are_grouped_by_region(spec) -> None:
    spec["lambda_cluster_file_systems"] = [{"name": "data", "region": "us-east-1"}, {"name": "ckpt", "region": "us-east-1"},
                                           {"name": "eu", "region": "europe-central-1"}]
    assert cluster_spec(spec)["file_systems_by_region"] == {"us-east-1": ["data", "ckpt"], "europe-central-1": ["eu"]}


def test_admin_rules_open_ssh_and_the_k3s_api_only() -> None:
    rules = admin_firewall_rules(["203.0.113.0/24"])
    assert [(rule["protocol"], rule["port_range"], rule["source_network"]) for rule in rules] == [
        ("tcp", [22, 22], "203.0.113.0/24"), ("tcp", [6443, 6443], "203.0.113.0/24")]


# -- mistakes named, one sentence each -----------------------------------------------------------------

def test_an_unknown_variable_is_named_with_the_closest_known_one(spec) -> None:
    rules = spec.pop("lambda_cluster_extra_firewall_rules")
    spec["lambda_cluster_extra_firewall_rule"] = rules
    assert only_problem(spec) == ("lambda_cluster_extra_firewall_rule is not a variable provision.yml knows; "
                                  "did you mean lambda_cluster_extra_firewall_rules?")


def test_an_unknown_variable_without_a_close_one_points_at_the_reference(spec) -> None:
    spec["lambda_cluster_colour"] = "blue"
    assert only_problem(spec) == ("lambda_cluster_colour is not a variable provision.yml knows; "
                                  "the variables are described in playbooks/vars/cluster_example.yml")


def test_a_wrong_type_is_one_sentence_saying_what_where_and_what_is_allowed(spec) -> None:
    spec["lambda_cluster_node_pools"][1]["count"] = "two"
    assert only_problem(spec) == 'lambda_cluster_node_pools[1].count must be a whole number; got "two".'


def test_a_misspelt_pool_key_is_one_sentence_with_the_keys_a_pool_takes(spec) -> None:
    pool = spec["lambda_cluster_node_pools"][1]
    pool["instance_type"] = pool.pop("instance_types")
    assert problems(spec) == [
        'lambda_cluster_node_pools[1] ("a10") has the key instance_type, which it does not take (did you mean instance_types?); '
        "it takes name, role, count, instance_types, regions, image and tags.",
        "lambda_cluster_node_pools[1].instance_types is not set; it must be a list of strings."]


@pytest.mark.parametrize("variable, value, expected", [
    ("lambda_cluster_global_firewall", "wran", 'lambda_cluster_global_firewall must be one of warn and match; got "wran" (did you mean warn?).'),
    ("lambda_cluster_regions", {"us-east-1": 1}, 'lambda_cluster_regions must be a list of strings; got {"us-east-1": 1}.'),
    ("lambda_cluster_launch_interval", "soon", 'lambda_cluster_launch_interval must be a number; got "soon".'),
    ("lambda_cluster_ssh_key_replace", "perhaps", 'lambda_cluster_ssh_key_replace must be true or false; got "perhaps".'),
    ("lambda_cluster_image", {"family": "x", "flavour": "y"},
     "lambda_cluster_image has the key flavour, which it does not take; it takes id and family."),
    ("lambda_cluster_admin_networks", ["203.0.113.0/24", None], "lambda_cluster_admin_networks[1] is empty; it must be a string."),
])
def test_type_mistakes(spec, variable, value, expected) -> None:
    spec[variable] = value
    assert only_problem(spec) == expected


def test_a_missing_required_variable_is_named(spec) -> None:
    del spec["lambda_cluster_regions"]
    assert only_problem(spec) == "lambda_cluster_regions is not set; it must be a list of strings."


def test_secret_values_are_never_shown(spec) -> None:
    token = "K10secretjointoken"
    spec.update(lambda_cluster_user_data={"token": token}, lambda_cluster_ssh_public_key=[PRIVATE_KEY],
                lambda_cluster_ssh_public_key_file=None)
    text = " ".join(problems(spec))
    assert "lambda_cluster_user_data must be a string; got a mapping (not shown: it may hold a secret)." in text
    assert "lambda_cluster_ssh_public_key must be a string; got a list (not shown" in text
    assert token not in text and "b3BlbnNzaC1rZXktdjE" not in text


def test_every_problem_beyond_types_is_reported_at_once(spec) -> None:
    spec.update(lambda_cluster_name="Demo_1", lambda_cluster_regions=[], lambda_cluster_admin_networks=["10.0.0.5/8", "example.com"],
                lambda_cluster_ssh_public_key="ssh-ed25519 AAAA x",
                lambda_cluster_extra_firewall_rules=[{"protocol": "icmp", "port_range": [1, 1], "source_network": "0.0.0.0/0"}],
                lambda_cluster_image={"id": "x", "family": "y"}, lambda_cluster_poll_interval=-1)
    spec["lambda_cluster_node_pools"][0]["role"] = "agent"
    spec["lambda_cluster_node_pools"][1].update(name="A10", count=-1, instance_types=[], tags={"Team": "x"})
    text = " ".join(problems(spec))
    for expected in ('lambda_cluster_name "Demo_1" must be', "lambda_cluster_regions must list at least one region",
                     'lambda_cluster_admin_networks[0]: "10.0.0.5/8" has host bits set; did you mean 10.0.0.0/8?',
                     'lambda_cluster_admin_networks[1]: "example.com" is not an IPv4 address',
                     "Set exactly one of lambda_cluster_ssh_public_key", "icmp rules take no port_range",
                     "lambda_cluster_image must give exactly one of id and family", 'node pool name "A10" must be',
                     "node pool A10: count must be 0 or more", "node pool A10: instance_types must list",
                     "node pool A10: tag key 'Team' must match", "needs at least one node in a pool with role server",
                     "lambda_cluster_poll_interval must be zero or more"):
        assert expected in text, expected


def test_large_user_data_is_refused_before_the_launch(spec) -> None:
    spec["lambda_cluster_user_data"] = "x" * (1024 * 1024 + 1)
    assert only_problem(spec) == "lambda_cluster_user_data is larger than the API's limit of 1 MB."


def test_missing_key_file_and_overlong_names_are_problems(spec, tmp_path) -> None:
    spec["lambda_cluster_ssh_public_key_file"] = str(tmp_path / "absent.pub")
    spec["lambda_cluster_node_pools"][1]["name"] = "x" * 60
    text = " ".join(problems(spec))
    assert "absent.pub does not exist on the controller" in text
    assert "longer than the 63 characters a hostname allows" in text


@pytest.mark.parametrize("membership, expected", [
    ({"lambda_cluster_member_name_pattern": "demo-("}, "lambda_cluster_member_name_pattern 'demo-(' is not a valid regular expression"),
    ({"lambda_cluster_member_names": ["demo-x", " "]}, "lambda_cluster_member_names must not contain empty names"),
])
def test_membership_mistakes_are_problems(spec, membership, expected) -> None:
    spec.update(membership)
    assert any(expected in problem for problem in problems(spec))


def test_a_private_key_given_as_the_public_key_is_refused_without_echoing_it(spec, tmp_path) -> None:
    private_file = tmp_path / "id_ed25519"
    private_file.write_text(PRIVATE_KEY)
    spec["lambda_cluster_ssh_public_key_file"] = str(private_file)
    assert only_problem(spec).startswith("lambda_cluster_ssh_public_key_file %s holds a private key" % private_file)
    spec.update(lambda_cluster_ssh_public_key_file=None, lambda_cluster_ssh_public_key=PRIVATE_KEY)
    result = cluster_spec(spec)
    [problem] = result["problems"]
    assert problem.startswith("lambda_cluster_ssh_public_key holds a private key") and "b3BlbnNzaC1rZXktdjE" not in problem
    assert "ssh_public_key" not in result, "an invalid spec hands nothing on"


def test_a_key_file_that_is_not_a_public_key_is_refused(spec, tmp_path) -> None:
    garbage = tmp_path / "garbage.pub"
    garbage.write_bytes(b"\xff\xfe binary")
    spec["lambda_cluster_ssh_public_key_file"] = str(garbage)
    assert "is not a text file" in only_problem(spec)
    garbage.write_text("ssh-ed25519 AAAA admin\n")
    assert "does not belong to a ssh-ed25519 key" in only_problem(spec)


def test_pool_names_must_be_unique(spec) -> None:
    spec["lambda_cluster_node_pools"][1]["name"] = "server"
    assert "node pool names must be unique (got server, server)." in problems(spec)


# -- teardown ----------------------------------------------------------------------------------------

def test_teardown_needs_only_the_name_and_reads_the_regions_of_the_spec(spec) -> None:
    assert cluster_spec({"lambda_cluster_name": "demo"}, "teardown")["problems"] == []
    result = cluster_spec(dict(spec, lambda_teardown_confirm="demo", lambda_teardown_ssh_key="yes"), "teardown")
    assert result["ruleset_regions"] == ["us-east-1", "us-west-1", "us-south-1"]
    assert (result["remove_rulesets"], result["remove_ssh_key"], result["ssh_key_name"]) == (True, True, "admin")


def test_teardown_names_a_misspelt_variable_that_would_leave_a_member_running() -> None:
    assert only_problem({"lambda_cluster_name": "demo", "lambda_cluster_member_name": ["sophia-x"]}, "teardown") == (
        "lambda_cluster_member_name is not a variable teardown.yml knows; did you mean lambda_cluster_member_names?")
    assert only_problem({"lambda_cluster_name": "demo", "lambda_teardown_ssh_keys": True}, "teardown").endswith(
        "did you mean lambda_teardown_ssh_key?")


def test_teardown_of_the_ssh_key_needs_its_name() -> None:
    assert only_problem({"lambda_cluster_name": "demo", "lambda_teardown_ssh_key": True}, "teardown") == (
        "lambda_teardown_ssh_key is true, so set lambda_cluster_ssh_key_name to the key to delete.")


# -- reports -----------------------------------------------------------------------------------------

def member(name, type_name, cents, ip=None, status="active", region="us-east-1"):
    return {"name": name, "id": name + "-id", "status": status, "ip": ip, "region": {"name": region},
            "instance_type": {"name": type_name, "price_cents_per_hour": cents}}


PLAN = [
    {"name": "demo-server-1", "instance": {"name": "demo-server-1"}, "launch": {}},
    {"name": "demo-a10-1", "instance": {}, "launch": {"region": "us-south-1", "instance_type": "gpu_1x_a10", "price_cents_per_hour": 75}},
]


def test_report_prices_members_and_planned_nodes() -> None:
    lines = cluster_report(PLAN, [member("demo-server-1", "cpu_4x_general", 20, ip="198.51.100.2")], "demo", would=True)
    assert lines[0].split() == ["NAME", "TYPE", "REGION", "IP", "PRICE/H"]
    assert lines[1].split() == ["demo-server-1", "cpu_4x_general", "us-east-1", "198.51.100.2", "$0.20"]
    assert lines[2].split() == ["demo-a10-1", "gpu_1x_a10", "us-south-1", "(new)", "$0.75"]
    assert lines[3:] == ["Would cost: $0.95 per hour for 2 nodes of cluster demo."]


def test_report_counts_every_running_member_including_those_no_longer_in_the_spec() -> None:
    members = [member("demo-server-1", "cpu_4x_general", 20, ip="198.51.100.2"), member("demo-a10-1", "gpu_1x_a10", 75),
               member("demo-old-1", "gpu_1x_a100", 129, status="booting"), member("demo-gone-1", "gpu_1x_a10", 75, status="terminated")]
    lines = cluster_report(PLAN, members, "demo")
    assert lines[3].split() == ["demo-old-1", "gpu_1x_a100", "us-east-1", "(booting)", "$1.29"]
    assert lines[4:] == ["Total: $2.24 per hour for 3 nodes of cluster demo.",
                         "Also in the cluster but not in the spec (left as they are): demo-old-1."]


def test_report_names_untagged_look_alikes() -> None:
    lines = cluster_report(PLAN[:1], [], "demo", look_alikes=[{"id": "f" * 32, "name": "demo-db"}])
    assert lines[-1] == ("Not members, although named like the cluster (untagged; name them in lambda_cluster_member_names to "
                         "include them): demo-db (%s)." % ("f" * 32))


def test_teardown_report() -> None:
    unnamed = {"id": "x" * 32, "instance_type": {"name": "cpu_4x_general", "price_cents_per_hour": 20}}
    doomed = [member("demo-a10-1", "gpu_1x_a10", 75, region="us-west-1"), unnamed]
    lines = teardown_report(doomed, "demo", would=True)
    assert lines[0] == "Would terminate 2 instances of cluster demo, which cost $0.95 per hour together."
    assert lines[1].split() == ["demo-a10-1", "gpu_1x_a10", "us-west-1", "(booting)", "$0.75"]
    assert lines[2].split()[0] == "(unnamed)"
    assert lines[-1] == "The SSH key was left in place (lambda_teardown_ssh_key=true removes it)."
    assert teardown_report([], "demo", ssh_key_kept=False) == ["Terminated 0 instances of cluster demo, which cost $0.00 per hour together."]


NODES = [{"name": "demo-server-1", "launch": {"region": "us-east-1"}}, {"name": "demo-a10-1", "launch": {"region": "us-east-1"}},
         {"name": "demo-a10-2", "launch": {"region": "us-east-1"}}, {"name": "demo-old-1", "launch": {}}]


def test_launch_report_after_an_account_wide_error() -> None:
    results = [{"item": NODES[0], "changed": False, "instance": {"id": "x"}},
               {"item": NODES[1], "failed": True, "account_wide": True,
                "msg": "Launching demo-a10-1 (gpu_1x_a10 in us-east-1) failed. The Lambda Cloud account quota is exhausted."}]
    assert launch_report(results, NODES) == (
        "Launching demo-a10-1 (gpu_1x_a10 in us-east-1) failed. The Lambda Cloud account quota is exhausted. That error concerns the "
        "whole Lambda Cloud account, so no further node was launched. Launched in this run: none. Not launched: demo-a10-1, "
        "demo-a10-2. Fix the cause, then run provision.yml again: it launches only the missing nodes.")


def test_launch_report_after_other_errors_names_the_node() -> None:
    results = [{"item": NODES[0], "changed": True, "launch": {"region": "us-east-1"}},
               {"item": NODES[1], "failed": True, "msg": "No capacity for instance types gpu_1x_a10."},
               {"item": NODES[2], "changed": True, "launch": {"region": "us-east-1"}}]
    report = launch_report(results, NODES)
    assert report.startswith("demo-a10-1: No capacity for instance types gpu_1x_a10.")
    assert "whole Lambda Cloud account" not in report
    assert "Launched in this run: demo-server-1, demo-a10-2. Not launched: demo-a10-1." in report


def test_every_filter_is_registered_and_documented() -> None:
    filters = set(FilterModule().filters())
    assert filters == {"cluster_spec", "cluster_report", "teardown_report", "launch_report"}
    directory = Path(__file__).resolve().parents[4] / "plugins" / "filter"
    assert all((directory / f"{name}.yml").is_file() for name in filters), "each filter has its ansible-doc page"
