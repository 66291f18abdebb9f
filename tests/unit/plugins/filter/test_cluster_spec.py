"""The filters that interpret provision.yml's cluster spec."""

from __future__ import annotations

import pytest

from ansible_collections.sophia.lambda_k3s.plugins.filter.cluster_spec import (
    FilterModule,
    admin_firewall_rules,
    cluster_nodes,
    cluster_spec_problems,
    cluster_summary,
    launch_report,
    names_by_region,
    ruleset_regions,
)


PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBcTq1D8cLdiBZbq0SN1XjzOxKHq4C1bqd9o5HjvwAkJ admin@example"
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n"


@pytest.fixture
def spec(tmp_path) -> dict:
    key_file = tmp_path / "id.pub"
    key_file.write_text(PUBLIC_KEY + "\n")
    return {
        "name": "demo", "regions": ["us-east-1", "us-west-1"], "ssh_key_name": "admin", "ssh_public_key": None,
        "ssh_public_key_file": str(key_file), "admin_networks": ["203.0.113.0/24"], "image": None,
        "extra_firewall_rules": [{"protocol": "icmp", "source_network": "0.0.0.0/0", "description": "ping"}],
        "node_pools": [
            {"name": "server", "role": "server", "count": 1, "instance_types": ["cpu_4x_general"]},
            {"name": "a10", "role": "agent", "count": 2, "instance_types": ["gpu_1x_a10"], "regions": ["us-south-1"],
             "image": {"family": "lambda-stack-24-04"}, "tags": {"team": "ml"}},
        ],
    }


def test_a_valid_spec_has_no_problem(spec) -> None:
    assert cluster_spec_problems(spec) == []


def test_every_problem_is_reported_at_once(spec) -> None:
    spec.update(name="Demo_1", regions=[], admin_networks=["10.0.0.5/8", "example.com"], ssh_public_key="ssh-ed25519 AAAA x",
                extra_firewall_rules=[{"protocol": "icmp", "port_range": [1, 1], "source_network": "0.0.0.0/0"}],
                image={"id": "x", "family": "y"})
    spec["node_pools"][0]["role"] = "agent"
    spec["node_pools"][1].update(name="A10", count=-1, instance_types=[])
    text = " ".join(cluster_spec_problems(spec))
    for expected in ('lambda_cluster_name "Demo_1" must be', "lambda_cluster_regions must list at least one region",
                     'lambda_cluster_admin_networks[0]: "10.0.0.5/8" has host bits set; did you mean 10.0.0.0/8?',
                     'lambda_cluster_admin_networks[1]: "example.com" is not an IPv4 address',
                     "Set exactly one of lambda_cluster_ssh_public_key", "icmp rules take no port_range",
                     "an image must give exactly one of id and family", 'node pool name "A10" must be',
                     "node pool A10: count must be 0 or more", "node pool A10: instance_types must list",
                     "needs at least one node in a pool with role server"):
        assert expected in text, expected


def test_missing_key_file_and_overlong_names_are_problems(spec, tmp_path) -> None:
    spec["ssh_public_key_file"] = str(tmp_path / "absent.pub")
    spec["node_pools"][1]["name"] = "x" * 60
    text = " ".join(cluster_spec_problems(spec))
    assert "absent.pub does not exist on the controller" in text
    assert "longer than the 63 characters a hostname allows" in text


@pytest.mark.parametrize("membership, expected", [
    ({"member_name_pattern": "demo-("}, "lambda_cluster_member_name_pattern 'demo-(' is not a valid regular expression"),
    ({"member_names": ["demo-x", " "]}, "lambda_cluster_member_names must not contain empty names"),
])
def test_membership_mistakes_are_problems(spec, membership, expected) -> None:
    spec.update(membership)
    assert any(expected in problem for problem in cluster_spec_problems(spec))


def test_a_private_key_given_as_the_public_key_is_refused_without_echoing_it(spec, tmp_path) -> None:
    private_file = tmp_path / "id_ed25519"
    private_file.write_text(PRIVATE_KEY)
    spec["ssh_public_key_file"] = str(private_file)
    [problem] = cluster_spec_problems(spec)
    assert problem.startswith("lambda_cluster_ssh_public_key_file %s holds a private key" % private_file)
    spec.update(ssh_public_key_file=None, ssh_public_key=PRIVATE_KEY)
    [problem] = cluster_spec_problems(spec)
    assert problem.startswith("lambda_cluster_ssh_public_key holds a private key")
    assert "b3BlbnNzaC1rZXktdjE" not in " ".join(cluster_spec_problems(spec))


def test_a_key_file_that_is_not_a_public_key_is_refused(spec, tmp_path) -> None:
    garbage = tmp_path / "garbage.pub"
    garbage.write_bytes(b"\xff\xfe binary")
    spec["ssh_public_key_file"] = str(garbage)
    assert "is not a text file" in " ".join(cluster_spec_problems(spec))
    garbage.write_text("ssh-ed25519 AAAA admin\n")
    assert "does not belong to a ssh-ed25519 key" in " ".join(cluster_spec_problems(spec))


def test_pool_names_must_be_unique(spec) -> None:
    spec["node_pools"][1]["name"] = "server"
    assert "node pool names must be unique (got server, server)." in cluster_spec_problems(spec)


def test_nodes_are_named_deterministically_with_pool_defaults(spec) -> None:
    nodes = cluster_nodes(spec)
    assert [node["name"] for node in nodes] == ["demo-server-1", "demo-a10-1", "demo-a10-2"]
    server, agent = nodes[0], nodes[1]
    assert server["regions"] == ["us-east-1", "us-west-1"] and server["image"] is None and server["role"] == "server"
    assert server["tags"] == {"k3s-pool": "server"}
    assert agent["regions"] == ["us-south-1"] and agent["image"] == {"family": "lambda-stack-24-04"}
    assert agent["tags"] == {"team": "ml", "k3s-pool": "a10"}


def test_a_pool_of_zero_has_no_node(spec) -> None:
    spec["node_pools"][1]["count"] = 0
    assert [node["name"] for node in cluster_nodes(spec)] == ["demo-server-1"]


def test_admin_rules_open_ssh_and_the_k3s_api_only() -> None:
    rules = admin_firewall_rules(["203.0.113.0/24"])
    assert [(rule["protocol"], rule["port_range"], rule["source_network"]) for rule in rules] == [
        ("tcp", [22, 22], "203.0.113.0/24"), ("tcp", [6443, 6443], "203.0.113.0/24")]


PLAN = [
    {"item": {"name": "demo-server-1", "regions": ["us-west-1", "us-east-1"]},
     "instance": {"name": "demo-server-1", "region": {"name": "us-east-1"}}},
    {"item": {"name": "demo-a10-1", "regions": ["us-south-1", "us-east-1", "us-west-2"]}, "instance": {},
     "launch": {"region": "us-south-1", "instance_type": "gpu_1x_a10"}},
]


def test_rulesets_go_where_nodes_are_and_everywhere_a_new_node_may_land() -> None:
    assert ruleset_regions(PLAN) == ["us-east-1", "us-south-1", "us-west-2"]


def test_file_systems_are_grouped_by_region() -> None:
    assert names_by_region([{"name": "data", "region": "us-east-1"}, {"name": "ckpt", "region": "us-east-1"},
                            {"name": "eu", "region": "europe-central-1"}]) == {"us-east-1": ["data", "ckpt"], "europe-central-1": ["eu"]}
    assert names_by_region(None) == {}


def test_summary_prices_members_and_planned_nodes() -> None:
    members = [
        {"name": "demo-server-1", "ip": "198.51.100.2", "region": {"name": "us-east-1"},
         "instance_type": {"name": "cpu_4x_general", "price_cents_per_hour": 20}},
        {"name": "demo-old-1", "region": {"name": "us-east-1"}, "instance_type": {"name": "gpu_1x_a10", "price_cents_per_hour": 75}},
    ]
    lines = cluster_summary(PLAN, members, {"gpu_1x_a10": 75}, "demo", would=True)
    assert lines[0].split() == ["NAME", "TYPE", "REGION", "IP", "PRICE/H"]
    assert lines[1].split() == ["demo-server-1", "cpu_4x_general", "us-east-1", "198.51.100.2", "$0.20"]
    assert lines[2].split() == ["demo-a10-1", "gpu_1x_a10", "us-south-1", "(new)", "$0.75"]
    assert lines[3] == "Would cost: $0.95 per hour for 2 nodes of cluster demo."
    assert lines[4] == "Also in the cluster but not in the spec (left as they are): demo-old-1."


def test_summary_names_untagged_look_alikes() -> None:
    look_alikes = [{"id": "f" * 32, "name": "demo-db"}]
    lines = cluster_summary(PLAN[:1], [], {}, "demo", look_alikes=look_alikes)
    assert lines[-1] == ("Not members, although named like the cluster (untagged; name them in lambda_cluster_member_names to "
                         "include them): demo-db (%s)." % ("f" * 32))


NODES = [{"name": "demo-server-1"}, {"name": "demo-a10-1"}, {"name": "demo-a10-2"}]


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


def test_every_filter_is_registered() -> None:
    assert set(FilterModule().filters()) == {"cluster_spec_problems", "cluster_nodes", "admin_firewall_rules", "ruleset_regions",
                                             "names_by_region", "cluster_summary", "look_alikes_line", "launch_report"}
