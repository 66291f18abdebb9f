"""ansible-runner events as the command line receives them (shapes taken from a real run's job_events), and a
deploy-like run of site.yml's stages with a node that fails in preflight."""

from __future__ import annotations

from typing import Any


def event(kind: str, stdout: str = "", **data: Any) -> dict[str, Any]:
    return {"event": kind, "uuid": "u", "counter": 1, "stdout": stdout, "event_data": data}


def play(name: str) -> dict[str, Any]:
    return event("playbook_on_play_start", name=name, play=name, pattern="k3s_cluster")


def task(name: str, action: str = "ansible.builtin.command", path: str = "/repo/roles/x/tasks/main.yml:3") -> dict[str, Any]:
    return event("playbook_on_task_start", task=name, name=name, task_action=action, resolved_action=action, task_path=path)


def result(kind: str, host: str, task_name: str, res: dict[str, Any] | None = None, action: str = "ansible.builtin.command",
           path: str = "/repo/roles/x/tasks/main.yml:3", **data: Any) -> dict[str, Any]:
    return event("runner_on_" + kind, host=host, task=task_name, task_action=action, resolved_action=action, task_path=path,
                 res=res or {"changed": False}, **data)


def stats(**counts: dict[str, int]) -> dict[str, Any]:
    keys = ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored", "processed")
    return event("playbook_on_stats", **{key: counts.get(key, {}) for key in keys}, artifact_data=counts.get("artifact_data", {}))


ARCH_MESSAGE = "demo-gh200-1 (127.0.0.23) is x86_64, but its instance type says arm64: the inventory may point at the wrong machine."


def deploy_events() -> list[dict[str, Any]]:
    """preflight on three nodes (the GH200 one fails), gpu and k3s on the two others, with a warning and a debug message."""
    nodes = ("demo-server-1", "demo-a10-1", "demo-gh200-1")
    events = [event("warning", stdout="[WARNING]: Collection community.general does not support Ansible version 2.19"),
              play("Check the cluster's nodes"), task("Gathering Facts", "ansible.builtin.gather_facts")]
    for node in nodes:
        events += [result("start", node, "Gathering Facts"), result("ok", node, "Gathering Facts")]
    events.append(task("Fail when the architecture differs from the instance type's", "ansible.builtin.assert"))
    events += [result("skipped", "demo-server-1", "Fail when the architecture differs from the instance type's"),
               result("failed", "demo-gh200-1", "Fail when the architecture differs from the instance type's",
                      {"msg": ARCH_MESSAGE, "assertion": "x", "evaluated_to": False}, action="ansible.builtin.assert")]
    events += [play("Prepare the GPU nodes' driver and container runtime"), task("Read the node's NVIDIA facts")]
    events += [result("ok", node, "Read the node's NVIDIA facts") for node in nodes[:2]]
    events += [play("Install K3s on the agents"), task("Show the node", "ansible.builtin.debug"),
               result("ok", "demo-a10-1", "Show the node", {"msg": "demo-a10-1 joined", "changed": False}, action="ansible.builtin.debug"),
               task("Write the node's K3s configuration"),
               result("ok", "demo-a10-1", "Write the node's K3s configuration", {"changed": True})]
    events.append(stats(ok={"demo-server-1": 2, "demo-a10-1": 4, "demo-gh200-1": 1}, changed={"demo-a10-1": 1},
                        failures={"demo-gh200-1": 1}, processed={node: 1 for node in nodes}))
    return events
