"""The command's verbs and its answers to bad input: one sentence, exit code 2, nothing run."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from lambda_k3s_cli.app import build_parser, main
from lambda_k3s_cli.outcome import ExitCode

KEY = "secret_unit_0123456789abcdef.0123456789abcdefghijklmnopqrstuv"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith(("LAMBDA_", "ANSIBLE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LAMBDA_K3S_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    return tmp_path / "state"


def bad_input(capsys: pytest.CaptureFixture, *argv: str) -> str:
    assert main(list(argv)) == ExitCode.BAD_INPUT
    error = capsys.readouterr().err.strip()
    assert error.startswith("lambda-k3s %s: " % argv[0])
    return " ".join(error.split())


def test_every_verb_is_there() -> None:
    help_text = build_parser().format_help()
    for verb in ("provision", "deploy", "status", "rollback", "logs", "teardown", "run"):
        assert verb in help_text
    assert "exit codes: 0 success, 1 error, 2 bad input" in help_text


def test_a_missing_key_stops_before_anything_runs(capsys, clean_environment: Path, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yml"
    spec.write_text("lambda_cluster_name: demo\n")
    error = bad_input(capsys, "provision", str(spec))
    assert error.endswith("No Lambda Cloud API key: put it in a file only you can read (chmod 600) and set LAMBDA_API_KEY_FILE to it, "
                          "or pass --api-key-file; without an account, start the local lab: lambda-k3s lab up.")
    assert not (clean_environment / "runs").exists(), "no run was started"


def test_a_deploy_must_name_its_cluster(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_API_KEY", KEY)
    assert "No cluster chosen: pass --cluster NAME" in bad_input(capsys, "deploy")


def test_unknown_stages_are_named_with_the_real_ones(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_API_KEY", KEY)
    error = bad_input(capsys, "deploy", "--cluster", "demo", "--stage", "k8s")
    assert "Unknown stage k8s: the stages of site.yml are preflight, gpu, k3s, cluster, platform, secrets, monitoring, gitops." in error


@pytest.mark.parametrize(("content", "message"), [
    (None, "Cannot read the cluster spec"),
    ("lambda_cluster_name: demo\n  bad: indentation\n", "is not valid YAML at line 2"),
    ("lambda_cluster_regions: [us-east-1]\n", "does not set lambda_cluster_name"),
])
def test_a_spec_that_cannot_be_read_is_refused(capsys, tmp_path: Path, content: str | None, message: str) -> None:
    spec = tmp_path / "spec.yml"
    if content is not None:
        spec.write_text(content)
    assert message in bad_input(capsys, "provision", str(spec))


def test_teardown_wants_the_cluster_name_as_confirmation(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_API_KEY", KEY)
    assert "Refusing to tear down demo without confirmation: pass --confirm demo." in bad_input(capsys, "teardown", "--cluster", "demo")
    assert "Refusing to tear down demo" in bad_input(capsys, "teardown", "--cluster", "demo", "--confirm", "dem")
    assert "Name the cluster to tear down" in bad_input(capsys, "teardown")


def test_the_key_is_refused_on_the_command_line(capsys) -> None:
    assert "Do not pass lambda_api_key with -e" in bad_input(capsys, "deploy", "--cluster", "demo", "-e", "lambda_api_key=%s" % KEY)


def test_a_loose_ssh_key_is_refused(capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAMBDA_API_KEY", KEY)
    key = tmp_path / "id_ed25519"
    key.write_text("x")
    key.chmod(0o644)
    assert "The SSH private key %s can be read by other users: run chmod 600" % key in \
        bad_input(capsys, "deploy", "--cluster", "demo", "--ssh-key", str(key))


@pytest.mark.parametrize("argv", [["logs", "--since", "5x"], ["logs", "--service", "etcd"], ["rollback", "--revision", "0"],
                                  ["deploy", "--progress", "fancy"], []])
def test_malformed_options_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == ExitCode.BAD_INPUT


def test_the_spec_and_the_cluster_option_must_agree(capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAMBDA_API_KEY", KEY)
    spec = tmp_path / "spec.yml"
    spec.write_text("lambda_cluster_name: demo\n")
    assert "The cluster spec names cluster demo, but --cluster or LAMBDA_K3S_CLUSTER says prod: make them agree." in \
        bad_input(capsys, "provision", str(spec), "--cluster", "prod")
    monkeypatch.setenv("LAMBDA_K3S_CLUSTER", "prod")
    assert "make them agree" in bad_input(capsys, "teardown", str(spec), "--confirm", "demo")


def test_the_deploy_help_names_every_stage(capsys) -> None:
    from ansible_collections.sophia.lambda_k3s.plugins.plugin_utils.run_summary import SITE_STAGES

    with pytest.raises(SystemExit):
        build_parser().parse_args(["deploy", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert [stage for stage in SITE_STAGES if stage not in help_text] == []
