"""The storage modules' documentation parses, and every option of the argument spec is documented."""

from __future__ import annotations

import ast
import os

import pytest
import yaml

from ansible_collections.mutuapix.infra.plugins.module_utils.storage_options import STORAGE_ARGUMENT_SPEC

MODULES_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "modules")


def module_strings(name: str) -> dict:
    with open(os.path.join(MODULES_DIR, name + ".py"), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    return {
        node.targets[0].id: yaml.safe_load(node.value.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id.isupper()
    }


def argument_spec_names(name: str) -> set:
    with open(os.path.join(MODULES_DIR, name + ".py"), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    main = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "main")
    spec = next(
        node.value
        for node in ast.walk(main)
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "argument_spec"
    )
    return {key.value for key in spec.keys if key is not None}


@pytest.mark.parametrize("name", ["b2_backup", "b2_backup_info"])
def test_every_option_is_documented_and_examples_use_fqcns(name):
    strings = module_strings(name)
    documented = set(strings["DOCUMENTATION"]["options"]) | set(STORAGE_ARGUMENT_SPEC)

    assert argument_spec_names(name) == set(strings["DOCUMENTATION"]["options"])
    assert documented >= argument_spec_names(name)
    assert "mutuapix.infra.storage" in strings["DOCUMENTATION"]["extends_documentation_fragment"]
    for task in strings["EXAMPLES"]:
        module = next(key for key in task if key != "name" and key != "register")
        assert module.count(".") == 2, module
    for key, doc in strings["RETURN"].items():
        assert "sample" in doc or "contains" in doc, key
