"""Every role's meta/argument_specs.yml documents exactly its defaults/main.yml: same keys, same defaults.

Written for every folder under roles/, so a new role is checked the day it lands.
"""

from __future__ import annotations

import os

import pytest
import yaml

ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")
ROLES = sorted(
    name for name in os.listdir(ROLES_DIR) if os.path.isfile(os.path.join(ROLES_DIR, name, "defaults", "main.yml"))
)


def load(role: str, *path: str) -> dict:
    with open(os.path.join(ROLES_DIR, role, *path), encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def test_there_are_roles_to_check():
    assert ROLES


@pytest.mark.parametrize("role", ROLES)
def test_public_variables_are_prefixed(role):
    for name in load(role, "defaults", "main.yml"):
        assert name.startswith(f"{role}_") and not name.startswith(f"{role}__"), name
    for name in (
        load(role, "vars", "main.yml") if os.path.exists(os.path.join(ROLES_DIR, role, "vars", "main.yml")) else {}
    ):
        assert name.startswith(f"{role}__"), f"internal variable {name} needs the {role}__ prefix"


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_match_defaults(role):
    defaults = load(role, "defaults", "main.yml")
    options = load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(options) == sorted(defaults), "keys differ between defaults/main.yml and argument_specs"
    for name, spec in options.items():
        assert spec.get("default") == defaults[name], f"{name}: default differs"
        assert spec.get("description"), f"{name}: no description"
        assert spec.get("type"), f"{name}: no type"
