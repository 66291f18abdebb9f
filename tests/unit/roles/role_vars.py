"""The NVIDIA roles' own variables and templates, evaluated by Ansible's templating for a given node.

Lets the unit tests check what the roles would decide and write on Ubuntu (which the test machines
cannot run) from the files the roles ship, instead of restating them.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLES = Path(__file__).resolve().parents[3] / "roles"


def trusted(value):
    """The role's files are trusted templates, as Ansible treats them when it loads a role."""
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return trust_as_template(value) if isinstance(value, str) else value


def node_facts(distribution: str = "Ubuntu", version: str = "22.04", arch: str = "x86_64", kernel: str = "6.8.0-49-generic") -> dict:
    return {"distribution": distribution, "distribution_version": version, "distribution_major_version": version.split(".")[0],
            "kernel": kernel, "nvidia": {"arch": arch}}


class RoleVars:
    """A role's defaults, vars/main.yml and vars/<distribution>.yml, with the inventory and facts given."""

    def __init__(self, role: str, facts: dict, **inventory) -> None:
        self.role = ROLES / role
        variables: dict = {}
        for name in ("defaults/main.yml", "vars/main.yml", "vars/%s.yml" % facts["distribution"]):
            path = self.role / name
            if path.exists():
                variables.update(trusted(yaml.safe_load(path.read_text())))
        variables.update(inventory_hostname="gpu-node-1", ansible_managed="Ansible managed", ansible_facts=facts)
        variables.update(inventory)
        self.variables = variables
        self.templar = Templar(loader=DataLoader(), variables=variables)

    def __getitem__(self, name: str):
        return self.templar.template(self.variables[name])

    def render(self, template: str, **extra) -> str:
        templar = self.templar.copy_with_new_env(available_variables=dict(self.variables, **extra)) if extra else self.templar
        return templar.template(trust_as_template((self.role / "templates" / template).read_text()))
