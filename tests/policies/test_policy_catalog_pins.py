"""Pins on the pack's catalogue (policies/catalog.py): the pack's name, the split by kind, lookup by name."""
from __future__ import annotations

import pytest

from policies import catalog


def test_the_catalog_splits_by_kind_and_finds_by_name():
    assert catalog.PACK_NAME == "modelway"
    # what `pulumi policy ls` shows of the pack
    assert catalog.PACK_DESCRIPTION == ("Modelway governance: storage, identity, compute, registries, Kubernetes, "
                                        "tagging, ML governance.")
    assert catalog.RESOURCE_POLICIES + catalog.STACK_POLICIES != []
    assert {p.name for p in catalog.RESOURCE_POLICIES} | {p.name for p in catalog.STACK_POLICIES} == {
        p.name for p in catalog.ALL_POLICIES}
    assert all(p.kind == "resource" for p in catalog.RESOURCE_POLICIES)
    assert all(p.kind == "stack" for p in catalog.STACK_POLICIES)
    assert catalog.by_name("budget-exists").kind == "stack"
    with pytest.raises(KeyError):
        catalog.by_name("no-such-policy")
