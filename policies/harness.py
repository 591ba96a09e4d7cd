"""Build CrossGuard's argument objects from plain props (the offline checker and the tests use this).

``pulumi_policy`` builds ``ResourceValidationArgs``/``StackValidationArgs`` from gRPC requests;
these helpers build the same objects from a type token and a props dict, so a rule is
evaluated exactly as the Pulumi CLI would evaluate it.

Example:
    >>> from policies.catalog import by_name
    >>> args = resource_args("aws:kms/key:Key", {"enableKeyRotation": False})
    >>> [v.message for v in by_name("kms-key-rotation").evaluate(args).violations]
    ['enableKeyRotation is not true']
"""
from __future__ import annotations

from typing import Any, Mapping

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)


def make_urn(resource_type: str, name: str, *, stack: str = "test", project: str = "modelway") -> str:
    """A URN in Pulumi's format: ``urn:pulumi:<stack>::<project>::<type>::<name>``."""
    return f"urn:pulumi:{stack}::{project}::{resource_type}::{name}"


def options(parent: str | None = None, protect: bool = False) -> PolicyResourceOptions:
    """Resource options as CrossGuard passes them (no timeouts, no aliases)."""
    return PolicyResourceOptions(protect=protect, ignore_changes=[], delete_before_replace=None, aliases=[],
                                 custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[],
                                 parent=parent)


def provider(props: Mapping[str, Any] | None, *, resource_type: str = "pulumi:providers:aws",
             name: str = "default", urn: str | None = None) -> PolicyProviderResource | None:
    """A provider resource carrying ``props`` (e.g. ``defaultTags``), or None without props."""
    if props is None:
        return None
    return PolicyProviderResource(resource_type, dict(props), urn or make_urn(resource_type, name), name)


def resource_args(resource_type: str, props: Mapping[str, Any], *, name: str = "subject", urn: str | None = None,
                  config: Mapping[str, Any] | None = None, provider_props: Mapping[str, Any] | None = None,
                  parent: str | None = None, stack_tags: Mapping[str, str] | None = None) -> ResourceValidationArgs:
    """``ResourceValidationArgs`` for one resource with the given (camelCase) props and policy config."""
    return ResourceValidationArgs(resource_type, dict(props), urn or make_urn(resource_type, name), name,
                                  options(parent), provider(provider_props),
                                  dict(config) if config is not None else None, stack_tags)


def policy_resource(resource_type: str, props: Mapping[str, Any], *, name: str, urn: str | None = None,
                    provider_props: Mapping[str, Any] | None = None, parent: str | None = None) -> PolicyResource:
    """A ``PolicyResource`` (one element of a stack validation)."""
    return PolicyResource(resource_type, dict(props), urn or make_urn(resource_type, name), name, options(parent),
                          provider(provider_props), None, [], {})


def stack_args(resources: list[PolicyResource], *, config: Mapping[str, Any] | None = None,
               stack_tags: Mapping[str, str] | None = None) -> StackValidationArgs:
    """``StackValidationArgs`` over ``resources`` with the policy's config."""
    return StackValidationArgs(resources, dict(config) if config is not None else None, stack_tags)
