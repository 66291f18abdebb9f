"""Platform release decisions: values merging, chart source and guard, Secrets, rollback revision."""

from __future__ import annotations

import base64
import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.lambda_k3s.plugins.filter.helm_release import (
    helm_chart_digest,
    helm_chart_guard,
    helm_chart_record,
    helm_chart_source,
    helm_chart_stale_files,
    helm_rollback_plan,
    helm_values_merge,
    platform_secret_manifests,
    platform_stale_secrets,
)

CHART = {"name": "sophia-platform", "version": "0.1.0"}


def test_values_merge_like_helm_merges_values_files() -> None:
    base = {"backend": {"gpuType": "A10", "image": {"tag": "1.0"}, "args": ["--a"]}, "frontend": {"replicas": 1}}
    env = {"backend": {"gpuType": "H100", "args": ["--b"]}, "frontend": None}
    inline = {"backend": {"image": {"tag": "1.1"}}}
    assert helm_values_merge([base, env, inline]) == {
        "backend": {"gpuType": "H100", "image": {"tag": "1.1"}, "args": ["--b"]},
        # A null is kept: Helm then removes the key from the chart's own defaults too.
        "frontend": None,
    }


def test_values_merge_leaves_its_inputs_alone_and_skips_empty_files() -> None:
    base = {"a": {"b": 1}}
    assert helm_values_merge([base, None, "", {"a": {"c": 2}}]) == {"a": {"b": 1, "c": 2}}
    assert base == {"a": {"b": 1}}


def test_a_values_file_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match="Values layer 2 is a list"):
        helm_values_merge([{}, ["a"]])


@pytest.mark.parametrize(("ref", "repo", "version", "local", "kind", "problem"), [
    ("/charts/p", "", "", CHART, "local", None),
    ("/charts/p", "", "0.2.0", CHART, "local", "differs|is version 0.1.0"),
    ("oci://registry.example/charts/p", "", "1.2.3", None, "oci", None),
    ("oci://registry.example/charts/p", "", "", None, "oci", "must be pinned"),
    ("p", "https://charts.example", "1.2.3", None, "repository", None),
    ("p", "https://charts.example", "", None, "repository", "from a repository must be pinned"),
    ("p", "", "", None, "missing", "not a chart directory on the controller"),
])
def test_the_chart_source_is_classified_and_unpinned_charts_refused(ref, repo, version, local, kind, problem) -> None:
    source = helm_chart_source(ref, repo, version, local)
    assert source["kind"] == kind
    if problem:
        assert any(re.search(problem, text) for text in source["problems"]), source["problems"]
    else:
        assert source["problems"] == []


def test_the_chart_digest_follows_paths_and_contents_not_order() -> None:
    files = [{"path": "/c/Chart.yaml", "checksum": "a"}, {"path": "/c/templates/x.yaml", "checksum": "b"}]
    digest = helm_chart_digest(files, "/c")
    assert digest.startswith("sha256:") and digest == helm_chart_digest(list(reversed(files)), "/c/")
    assert digest != helm_chart_digest([files[0], dict(files[1], checksum="c")], "/c")
    assert digest == helm_chart_digest([{"path": "/elsewhere/Chart.yaml", "checksum": "a"},
                                        {"path": "/elsewhere/templates/x.yaml", "checksum": "b"}], "/elsewhere")


def test_a_changed_chart_under_the_same_version_and_values_is_refused() -> None:
    release = {"chart": "sophia-platform-0.1.0", "values": {"a": 1}}
    recorded = helm_chart_record(CHART, "sha256:old")
    problem = helm_chart_guard(release, CHART, recorded, "sha256:new", "/charts/p", {"a": 1})
    assert "changed since sophia-platform-0.1.0 was deployed" in problem and "/charts/p/Chart.yaml" in problem


@pytest.mark.parametrize(("release", "recorded", "digest", "values"), [
    (None, "sophia-platform-0.1.0 sha256:old", "sha256:new", {}),                                     # not installed
    ({"chart": "sophia-platform-0.1.0", "values": {}}, "", "sha256:new", {}),                            # nothing recorded yet
    ({"chart": "sophia-platform-0.1.0", "values": {}}, "sophia-platform-0.1.0 sha256:same", "sha256:same", {}),  # unchanged
    ({"chart": "sophia-platform-0.0.9", "values": {}}, "sophia-platform-0.0.9 sha256:old", "sha256:new", {}),    # version bumped
    ({"chart": "sophia-platform-0.1.0", "values": {"a": 1}}, "sophia-platform-0.1.0 sha256:old", "sha256:new", {"a": 2}),  # values change
])
def test_the_chart_guard_lets_everything_else_through(release, recorded, digest, values) -> None:
    assert helm_chart_guard(release, CHART, recorded, digest, "/charts/p", values) == ""


def test_stale_chart_files_on_the_operations_host_are_listed() -> None:
    target = [{"path": "/opt/charts/p/Chart.yaml"}, {"path": "/opt/charts/p/templates/old.yaml"}]
    source = [{"path": "/src/p/Chart.yaml"}, {"path": "/src/p/templates/new.yaml"}]
    assert helm_chart_stale_files(target, "/opt/charts/p", source, "/src/p") == ["/opt/charts/p/templates/old.yaml"]


def test_secrets_become_opaque_secrets_labelled_for_the_release() -> None:
    (secret,) = platform_secret_manifests({"api": {"TOKEN": "s3cr3t", "PORT": 8080}}, "sophia-ai", "sophia-platform", "p.example")
    assert secret["metadata"] == {"name": "api", "namespace": "sophia-ai",
                                  "labels": {"app.kubernetes.io/managed-by": "sophia.lambda_k3s", "p.example/release": "sophia-platform"}}
    assert secret["type"] == "Opaque"
    assert {key: base64.b64decode(value).decode() for key, value in secret["data"].items()} == {"PORT": "8080", "TOKEN": "s3cr3t"}


@pytest.mark.parametrize(("secrets", "message"), [
    ({"Bad_Name": {"k": "v"}}, "not a valid Secret name"),
    ({"api": {}}, "non-empty dictionary"),
    ({"api": {"bad key": "hunter2"}}, 'api: "bad key" is not a valid Secret key'),
    ({"api": {"k": None}}, "api.k has no value"),
])
def test_bad_secrets_are_refused_without_showing_a_value(secrets, message) -> None:
    with pytest.raises(AnsibleFilterError, match=message) as raised:
        platform_secret_manifests(secrets, "ns", "rel", "p")
    assert "hunter2" not in str(raised.value)


def test_secrets_no_longer_given_are_listed_for_removal() -> None:
    existing = [{"metadata": {"name": "api"}}, {"metadata": {"name": "old"}}]
    assert platform_stale_secrets(existing, ["api"]) == ["old"]


HISTORY = [
    {"revision": 1, "status": "superseded", "chart": "p-0.1.0"},
    {"revision": 2, "status": "superseded", "chart": "p-0.2.0"},
    {"revision": 3, "status": "failed", "chart": "p-0.3.0"},
    {"revision": 4, "status": "deployed", "chart": "p-0.2.0"},
]


def test_rollback_goes_to_the_last_revision_deployed_before_the_current_one() -> None:
    plan = helm_rollback_plan(HISTORY, "", "p", "ns")
    assert (plan["from_revision"], plan["to_revision"], plan["noop"], plan["problems"]) == (4, 2, False, [])
    assert plan["message"] == "p: roll back from revision 4 (p-0.2.0, deployed) to revision 2 (p-0.2.0)."


def test_after_a_failed_upgrade_rollback_returns_to_the_deployed_revision_before_it() -> None:
    history = [{"revision": 1, "status": "superseded", "chart": "p-0.1.0"}, {"revision": 2, "status": "failed", "chart": "p-0.2.0"}]
    plan = helm_rollback_plan(history, None, "p", "ns")
    assert (plan["from_revision"], plan["to_revision"]) == (2, 1)


def test_a_named_revision_is_used_and_the_current_one_is_a_no_op() -> None:
    assert helm_rollback_plan(HISTORY, "1", "p", "ns")["to_revision"] == 1
    plan = helm_rollback_plan(HISTORY, 4, "p", "ns")
    assert plan["noop"] and plan["message"] == "p already runs revision 4 (p-0.2.0): nothing to do."


@pytest.mark.parametrize(("history", "requested", "message"), [
    ([], "", "has no history in the namespace ns"),
    (HISTORY, "9", r"has no revision 9 \(history: 1 superseded, 2 superseded, 3 failed, 4 deployed\)"),
    (HISTORY, "3", "Revision 3 of p was never deployed \\(failed\\): choose one of 1, 2, 4"),
    (HISTORY, "latest", "give a revision number"),
    (HISTORY[:1] + [{"revision": 2, "status": "pending-upgrade", "chart": "p"}], "", "pending-upgrade: another Helm operation"),
    ([{"revision": 1, "status": "deployed", "chart": "p"}], "", "no earlier revision that was deployed"),
])
def test_impossible_rollbacks_are_refused_with_the_reason(history, requested, message) -> None:
    plan = helm_rollback_plan(history, requested, "p", "ns")
    assert plan["to_revision"] is None
    assert any(re.search(message, problem) for problem in plan["problems"]), plan["problems"]
