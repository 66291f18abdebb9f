"""The emulator with a backend behind its instances (the lab's containers): addresses come from the backend, an instance
stays booting until its machine is up (unhealthy if it cannot start), terminated only once it is removed, and a
restart restarts it. Every response is still checked against the spec by the lambda_emulator fixture."""

from __future__ import annotations

from typing import Any

import pytest
from lambda_emulator import LambdaEmulator


# As the lab runs it: booting and terminating last as long as the machines take.
pytestmark = pytest.mark.lambda_emulator(boot_seconds=0, terminate_seconds=0)


class FakeBackend:
    """Machines that come up, fail or go away when the test says."""

    def __init__(self) -> None:
        self.launched: list[tuple[str, str | None]] = []
        self.machines: dict[str, bool | None] = {}
        self.removing: set[str] = set()
        self.removed: set[str] = set()
        self.restarted: list[str] = []

    def launch(self, record: Any, public_key: str | None) -> tuple[str, str]:
        self.launched.append((record.id, public_key))
        self.machines[record.id] = False
        slot = len(self.launched)
        return "127.0.99.%d" % (9 + slot), "10.213.99.%d" % (9 + slot)

    def ready(self, record: Any) -> bool | None:
        return self.machines.get(record.id)

    def restart(self, record: Any) -> None:
        self.restarted.append(record.id)

    def terminate(self, record: Any) -> None:
        self.removing.add(record.id)

    def gone(self, record: Any) -> bool:
        return record.id in self.removed


@pytest.fixture
def backend(lambda_emulator: LambdaEmulator) -> FakeBackend:
    fake = FakeBackend()
    lambda_emulator.cloud.backend = fake
    return fake


def launch(api: Any) -> str:
    return api.launch(name="lab-server-1").data["instance_ids"][0]


def test_addresses_and_the_key_come_from_the_backend(api, backend: FakeBackend, public_key: str) -> None:
    instance_id = launch(api)
    assert backend.launched == [(instance_id, public_key)], "the machine gets the launch's SSH key"
    backend.machines[instance_id] = True
    instance = api.get("/instances/%s" % instance_id).data
    assert (instance["status"], instance["ip"], instance["private_ip"]) == ("active", "127.0.99.10", "10.213.99.10")
    assert instance["hostname"] == "127-0-99-10"


def test_an_instance_boots_until_its_machine_is_up(api, backend: FakeBackend) -> None:
    instance_id = launch(api)
    booting = api.get("/instances/%s" % instance_id).data
    assert booting["status"] == "booting" and "ip" not in booting, "no address while booting, as the spec allows"
    backend.machines[instance_id] = True
    assert api.get("/instances/%s" % instance_id).data["status"] == "active"


def test_a_machine_that_cannot_start_leaves_its_instance_unhealthy(api, backend: FakeBackend) -> None:
    instance_id = launch(api)
    backend.machines[instance_id] = None
    assert api.get("/instances/%s" % instance_id).data["status"] == "unhealthy"


def test_terminate_waits_for_the_machine_to_go_and_restart_restarts_it(api, backend: FakeBackend) -> None:
    instance_id = launch(api)
    backend.machines[instance_id] = True
    api.post("/instance-operations/restart", {"instance_ids": [instance_id]}).data
    assert backend.restarted == [instance_id]
    api.post("/instance-operations/terminate", {"instance_ids": [instance_id]}).data
    assert backend.removing == {instance_id}
    assert api.get("/instances/%s" % instance_id).data["status"] == "terminating", "the machine is still there"
    backend.removed.add(instance_id)
    assert api.get("/instances/%s" % instance_id).data["status"] == "terminated"
