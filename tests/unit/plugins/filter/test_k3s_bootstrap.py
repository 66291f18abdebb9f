"""Which server initialises the cluster, which server a node joins, and which token it holds."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.filter.k3s_bootstrap import (
    FilterModule,
    k3s_agent_join_url,
    k3s_agent_token_of,
    k3s_bootstrap_plan,
    k3s_control_host,
    k3s_same_token,
    k3s_server_count_problems,
    k3s_servers_state,
    k3s_stale_registration,
    k3s_token_file_content,
    k3s_token_file_problem,
    k3s_token_problems,
    k3s_token_secret,
)

CA_HASH = "ab" * 32


def server(name: str, running: bool = False, initialised: bool = False, **current) -> dict:
    return {"name": name, "url": "https://10.0.0.%s:6443" % name[-1], "running": running, "initialised": initialised, "current": current}


def settings(plan: dict) -> dict:
    return {name: (entry["mode"], entry["settings"]) for name, entry in plan["servers"].items()}


def test_a_new_cluster_is_initialised_by_the_first_server_only() -> None:
    plan = k3s_bootstrap_plan([server("s1"), server("s2"), server("s3")])
    assert settings(plan) == {"s1": ("init", {"cluster-init": True}),
                              "s2": ("join", {"server": "https://10.0.0.1:6443"}),
                              "s3": ("join", {"server": "https://10.0.0.1:6443"})}
    assert plan["join_url"] == "https://10.0.0.1:6443"


def test_servers_join_the_first_running_server_once_it_runs() -> None:
    plan = k3s_bootstrap_plan([server("s1", True, True, **{"cluster-init": True}), server("s2"), server("s3")])
    assert settings(plan)["s1"] == ("keep", {"cluster-init": True})
    assert settings(plan)["s2"] == ("join", {"server": "https://10.0.0.1:6443"})


def test_a_rebuilt_first_server_joins_instead_of_initialising() -> None:
    plan = k3s_bootstrap_plan([server("s1"), server("s2", True, True, server="https://10.0.0.1:6443"),
                               server("s3", True, True, server="https://10.0.0.1:6443")])
    assert settings(plan) == {"s1": ("join", {"server": "https://10.0.0.2:6443"}),
                              "s2": ("keep", {"server": "https://10.0.0.1:6443"}),
                              "s3": ("keep", {"server": "https://10.0.0.1:6443"})}
    assert plan["join_url"] == "https://10.0.0.2:6443"


def test_a_rerun_keeps_every_joined_servers_settings() -> None:
    servers = [server("s1", True, True, **{"cluster-init": True}), server("s2", True, True, server="https://10.0.0.1:6443")]
    assert settings(k3s_bootstrap_plan(servers)) == {"s1": ("keep", {"cluster-init": True}), "s2": ("keep", {"server": "https://10.0.0.1:6443"})}


def test_a_joined_server_that_lost_its_configuration_restarts_on_its_data() -> None:
    alone = k3s_bootstrap_plan([server("s1", False, True)])
    assert settings(alone)["s1"] == ("keep", {"cluster-init": True})
    with_peer = k3s_bootstrap_plan([server("s1", False, True), server("s2", True, True, server="https://10.0.0.1:6443")])
    assert settings(with_peer)["s1"] == ("keep", {"server": "https://10.0.0.2:6443"})


def test_no_second_cluster_is_started_beside_stopped_members() -> None:
    with pytest.raises(AnsibleFilterError, match="but these servers already belong to it: s1, s2. A new server \\(s3\\) would start a second cluster"):
        k3s_bootstrap_plan([server("s1", False, True), server("s2", False, True), server("s3")])


def test_a_whole_cluster_that_is_stopped_restarts_on_its_own_settings() -> None:
    plan = k3s_bootstrap_plan([server("s1", False, True, **{"cluster-init": True}), server("s2", False, True, server="https://10.0.0.1:6443")])
    assert [entry["mode"] for entry in plan["servers"].values()] == ["keep", "keep"]


def test_a_registration_address_is_what_new_nodes_join() -> None:
    plan = k3s_bootstrap_plan([server("s1", True, True, **{"cluster-init": True}), server("s2")], registration_address="https://k3s.example.com:6443")
    assert settings(plan)["s2"] == ("join", {"server": "https://k3s.example.com:6443"})
    assert plan["join_url"] == "https://k3s.example.com:6443"


def test_without_embedded_etcd_every_server_stands_alone() -> None:
    plan = k3s_bootstrap_plan([server("s1"), server("s2")], embedded_etcd=False)
    assert settings(plan) == {"s1": ("standalone", {}), "s2": ("standalone", {})}


def test_a_server_never_joins_itself() -> None:
    plan = k3s_bootstrap_plan([server("s1", True, True, **{"cluster-init": True}), server("s2")], registration_address="https://10.0.0.2:6443")
    assert settings(plan)["s2"] == ("join", {"server": "https://10.0.0.1:6443"})
    with pytest.raises(AnsibleFilterError, match="would join itself"):
        k3s_bootstrap_plan([server("s1"), server("s2")], registration_address="https://10.0.0.2:6443")


def test_agents_keep_the_server_they_joined() -> None:
    assert k3s_agent_join_url({"server": "https://10.0.0.1:6443"}, "https://10.0.0.2:6443") == "https://10.0.0.1:6443"
    assert k3s_agent_join_url({}, "https://10.0.0.2:6443") == "https://10.0.0.2:6443"
    assert k3s_agent_join_url({"server": "https://10.0.0.1:6443"}, "x", "https://lb:6443") == "https://lb:6443"
    with pytest.raises(AnsibleFilterError, match="nothing to join"):
        k3s_agent_join_url(None, "")


def node(name: str, ready: bool) -> dict:
    return {"metadata": {"name": name}, "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "Unknown"}]}}


def test_a_stale_node_object_is_removed_only_for_a_fresh_machine() -> None:
    nodes = [node("s1", False), node("s2", True)]
    assert k3s_stale_registration("s1", nodes, initialised=False) is True
    assert k3s_stale_registration("s1", nodes, initialised=True) is False
    assert k3s_stale_registration("s3", nodes, initialised=False) is False
    with pytest.raises(AnsibleFilterError, match='A Ready node named "s2"'):
        k3s_stale_registration("s2", nodes, initialised=False)


@pytest.mark.parametrize(("count", "etcd", "allow", "refused"), [
    (1, True, False, False), (2, True, False, True), (3, True, False, False), (4, True, True, False), (2, False, False, False),
    (0, True, False, True),
])
def test_server_counts(count, etcd, allow, refused) -> None:
    assert bool(k3s_server_count_problems(count, etcd, allow)) is refused


def test_the_even_count_message_says_why_and_how() -> None:
    message = k3s_server_count_problems(4, True, False)[0]
    assert "4 servers" in message and "no more failures than 3" in message and "k3s_allow_even_servers=true" in message


def test_tokens_compare_by_their_credentials() -> None:
    secure = "K10%s::server:s3cret-password" % CA_HASH
    assert k3s_same_token(secure, "s3cret-password")
    assert k3s_same_token(secure + "\n", "s3cret-password")
    assert not k3s_same_token(secure, "other")
    assert not k3s_same_token("", "")
    assert k3s_token_secret(secure) == "s3cret-password"
    assert k3s_token_secret("plain") == "plain"


def test_a_token_file_is_rewritten_only_when_its_token_differs() -> None:
    secure = "K10%s::server:pw-123456" % CA_HASH
    assert k3s_token_file_content("pw-123456\n", secure) == "pw-123456"
    assert k3s_token_file_content("", secure) == secure
    assert k3s_token_file_content("old", secure) == secure


def test_a_joined_node_with_another_token_is_refused_without_printing_either() -> None:
    problem = k3s_token_file_problem("old-token-value", "new-token-value", "demo-a10-1", joined=True)
    assert "demo-a10-1 already joined the cluster with another token" in problem
    assert "old-token-value" not in problem and "new-token-value" not in problem
    assert k3s_token_file_problem("old-token-value", "new-token-value", "demo-a10-1", joined=False) == ""


def test_a_user_token_must_be_the_running_clusters() -> None:
    cluster = "K10%s::server:the-real-one" % CA_HASH
    problems = k3s_token_problems("another-one", cluster, "s1")
    assert problems and "read from s1" in problems[0] and "another-one" not in problems[0] and "the-real-one" not in problems[0]
    assert k3s_token_problems("the-real-one", cluster, "s1") == []
    assert k3s_token_problems("anything", "", "") == []


def test_an_agent_token_linked_to_the_server_token_counts_as_none() -> None:
    server_token = "K10%s::server:pw-server" % CA_HASH
    assert k3s_agent_token_of(server_token, server_token) == ""
    assert k3s_agent_token_of("K10%s::node:pw-agent" % CA_HASH, server_token) == "K10%s::node:pw-agent" % CA_HASH
    assert k3s_agent_token_of("", server_token) == ""


class FakeHostVars(dict):
    def __getitem__(self, host):
        return dict.get(self, host, {})


def test_the_servers_state_comes_from_k3s_node_info_results() -> None:
    results = [
        {"item": "s1", "service": {"active": True}, "joined": True,
         "config_text": 'cluster-init: true\nnode-ip: "10.0.0.1"\nnode-name: "server-one"\n'},
        {"item": "s2", "service": {"active": False}, "joined": False, "config_text": ""},
        {"item": "s3", "unreachable": True},
    ]
    hostvars = FakeHostVars(s2={"lambda_private_ip": "10.0.0.2"}, s3={"_k3s_node_ip": "fd00::3"})
    state = k3s_servers_state(results, hostvars)
    assert state[0] == {"name": "s1", "url": "https://10.0.0.1:6443", "running": True, "initialised": True, "reachable": True,
                        "current": {"cluster-init": True}, "node_name": "server-one"}
    assert state[1]["url"] == "https://10.0.0.2:6443" and not state[1]["initialised"]
    # Unreachable: treated as a member that is down, so nothing initialises a second cluster beside it.
    assert state[2]["url"] == "https://[fd00::3]:6443" and state[2]["initialised"] and not state[2]["running"]
    assert k3s_control_host(state) == "s1"
    assert k3s_control_host(state, ["s1"]) == ""


def test_every_filter_is_registered() -> None:
    assert len(FilterModule().filters()) == 12


def test_the_first_server_in_name_order_initialises_whatever_the_inventory_order() -> None:
    plan = k3s_bootstrap_plan([server("s3"), server("s1"), server("s2")])
    assert settings(plan)["s1"] == ("init", {"cluster-init": True})
    assert plan["join_url"] == "https://10.0.0.1:6443"
