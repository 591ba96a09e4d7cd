"""Every policy of the pack, in catalogue order, and the pack's identity.

Example:
    >>> by_name("kms-key-rotation").mirrors[0]
    'CKV_AWS_7'
"""
from __future__ import annotations

from . import compute, identity, kubernetes, ml_governance, observability, operability, registries, storage, tagging
from .core import ResourceRule, StackRule

PACK_NAME = "modelway"
PACK_DESCRIPTION = "Modelway governance: storage, identity, compute, registries, Kubernetes, tagging, ML governance."

ALL_POLICIES: list[ResourceRule | StackRule] = [
    *storage.POLICIES,
    *identity.POLICIES,
    *compute.POLICIES,
    *registries.POLICIES,
    *observability.POLICIES,
    *kubernetes.POLICIES,
    *tagging.POLICIES,
    *ml_governance.POLICIES,
    *operability.POLICIES,
    *ml_governance.DEPLOYED_PIPELINE_POLICIES,
]

RESOURCE_POLICIES = [p for p in ALL_POLICIES if isinstance(p, ResourceRule)]
STACK_POLICIES = [p for p in ALL_POLICIES if isinstance(p, StackRule)]


def by_name(name: str) -> ResourceRule | StackRule:
    """The policy called ``name`` (KeyError if there is none)."""
    for policy in ALL_POLICIES:
        if policy.name == name:
            return policy
    raise KeyError(name)
