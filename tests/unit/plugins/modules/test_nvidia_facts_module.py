"""The nvidia_facts module: the node's answers become the nvidia fact, read without changing anything."""

from __future__ import annotations

import os
from unittest import mock

from unit.plugins.module_utils.nvidia_nodes import lambda_hgx_h100
from unit.plugins.modules.module_harness import run_module

from ansible_collections.sophia.lambda_k3s.plugins.modules import nvidia_facts


def test_the_fact_is_returned_under_one_key():
    with mock.patch.object(nvidia_facts, "NodeProbe", return_value=lambda_hgx_h100()), \
            mock.patch.object(nvidia_facts.platform, "machine", return_value="x86_64"):
        result = run_module(nvidia_facts.main, {"_ansible_check_mode": True})
    assert result["changed"] is False
    assert list(result["ansible_facts"]) == ["nvidia"]
    assert result["ansible_facts"]["nvidia"]["driver"]["version"] == "550.127.05"


def test_the_node_probe_reads_the_node(tmp_path):
    module = mock.Mock()
    module.get_bin_path.side_effect = lambda name: None if name == "missing-tool" else "/bin/" + name
    module.run_command.return_value = (0, "out", "")
    probe = nvidia_facts.NodeProbe(module)
    assert probe.run(["missing-tool", "--version"]) is None
    assert probe.run(["echo", "hello"]) == (0, "out", "")
    assert module.run_command.call_args.args[0] == ["/bin/echo", "hello"]
    assert module.run_command.call_args.kwargs["environ_update"]["LC_ALL"] == "C"

    executable = tmp_path / "runtime"
    executable.write_text("#!/bin/sh\n")
    os.chmod(executable, 0o755)
    (tmp_path / "plain").write_text("text")
    assert probe.read(str(tmp_path / "plain")) == "text"
    assert probe.read(str(tmp_path / "absent")) is None
    assert probe.listdir(str(tmp_path)) == ["plain", "runtime"]
    assert probe.listdir(str(tmp_path / "absent")) == []
    assert probe.is_executable(str(executable)) and not probe.is_executable(str(tmp_path / "plain"))
