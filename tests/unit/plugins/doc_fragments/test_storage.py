"""The storage doc fragment documents exactly the shared argument spec: names, types, defaults, choices."""

from __future__ import annotations

import yaml

from ansible_collections.mutuapix.infra.plugins.doc_fragments.storage import ModuleDocFragment
from ansible_collections.mutuapix.infra.plugins.module_utils.storage_options import STORAGE_ARGUMENT_SPEC


def test_fragment_and_spec_agree():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]

    assert set(documented) == set(STORAGE_ARGUMENT_SPEC)
    for name, spec in STORAGE_ARGUMENT_SPEC.items():
        doc = documented[name]
        assert doc["type"] == spec["type"], name
        assert doc.get("default") == spec.get("default"), name
        assert doc.get("choices") == spec.get("choices"), name


def test_the_secret_is_never_logged():
    assert STORAGE_ARGUMENT_SPEC["key"]["no_log"] is True
    assert not any(spec.get("no_log") for name, spec in STORAGE_ARGUMENT_SPEC.items() if name != "key")
