"""The result of rendering a Pulumi program under mocks: plain, JSON-able data (no pulumi import)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RenderedResource:
    """One resource as the Pulumi engine would see it when the program registers it.

    ``inputs`` are the wire-format (camelCase) properties; ``parent`` and ``provider`` are
    URNs ("" when absent). Provider resources (type ``pulumi:providers:<pkg>``) carry their
    config as the engine receives it: object-valued settings such as ``defaultTags`` are
    JSON strings there.

    Example:
        >>> r = RenderedResource("aws:kms/key:Key", "k", "urn:...", "", {"enableKeyRotation": True})
        >>> r.inputs["enableKeyRotation"]
        True
    """

    type: str
    name: str
    urn: str
    parent: str
    inputs: dict[str, Any]
    provider: str = ""
    custom: bool = True
    protect: bool = False
    retain_on_delete: bool = False
    id: str = ""
    """The id the engine (here: the mocks) gave it; "" when unknown."""
    file: str = ""
    """The file that declared it, relative to the project directory (the first frame in the program)."""
    line: int = 0
    """Its line in ``file`` (0 when unknown)."""

    @property
    def location(self) -> str:
        """``infra/storage.py:42`` ("" when unknown)."""
        return f"{self.file}:{self.line}" if self.file else ""
    delete_before_replace: bool = False
    dependencies: tuple[str, ...] = ()
    """URNs this resource explicitly depends on (``depends_on`` and Output inputs), as the engine orders them."""

    def to_json(self) -> dict[str, Any]:
        """The ``modelway render --format json`` shape of this resource."""
        return {
            "type": self.type,
            "name": self.name,
            "urn": self.urn,
            "parent": self.parent,
            "inputs": self.inputs,
            "provider": self.provider,
            "custom": self.custom,
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "id": self.id,
            "file": self.file,
            "line": self.line,
            "deleteBeforeReplace": self.delete_before_replace,
            "dependencies": list(self.dependencies),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RenderedResource":
        return cls(
            type=data["type"],
            name=data["name"],
            urn=data["urn"],
            parent=data.get("parent", ""),
            inputs=data.get("inputs", {}),
            provider=data.get("provider", ""),
            custom=data.get("custom", True),
            protect=data.get("protect", False),
            retain_on_delete=data.get("retainOnDelete", False),
            id=data.get("id", ""),
            file=data.get("file", ""),
            line=data.get("line", 0),
            delete_before_replace=data.get("deleteBeforeReplace", False),
            dependencies=tuple(data.get("dependencies", ())),
        )


PROVIDER_PREFIX = "pulumi:providers:"


def count_label(resources: int, providers: int) -> str:
    """``count_label(134, 2)`` -> ``"134 resources + 2 providers"`` (no provider part when there are none)."""
    label = f"{resources} resource{'' if resources == 1 else 's'}"
    return label + (f" + {providers} provider{'' if providers == 1 else 's'}" if providers else "")


@dataclass(frozen=True)
class RenderResult:
    """Everything a rendered program declared: resources (in registration order), stack outputs, warnings.

    Example:
        >>> result = RenderResult("prod", [], {"region": "eu-west-1"}, [])
        >>> result.of_type("aws:kms/key:Key")
        []
    """

    stack: str
    resources: list[RenderedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    config: dict[str, str] = field(default_factory=dict)
    """The stack config the program ran with (fully qualified keys, engine string values)."""

    def of_type(self, type_token: str) -> list[RenderedResource]:
        """All resources whose type token equals ``type_token``."""
        return [r for r in self.resources if r.type == type_token]

    def by_urn(self) -> dict[str, RenderedResource]:
        """Resources keyed by URN (to follow ``parent`` and ``provider`` references)."""
        return {r.urn: r for r in self.resources}

    def count_label(self) -> str:
        """``"134 resources + 2 providers"``: how ``render`` and ``policy check`` both count a stack.

        Explicit providers (``pulumi:providers:*``) are resources to Pulumi but configure the
        others; the checker evaluates no policy on them, so both commands count them apart.
        The stack pseudo-resource is not counted.
        """
        providers = sum(r.type.startswith(PROVIDER_PREFIX) for r in self.resources)
        return count_label(len(self.resources) - providers, providers)

    def to_json(self) -> dict[str, Any]:
        """``{"stack", "resources": [...], "outputs": {...}, "warnings": [...]}``."""
        return {
            "stack": self.stack,
            "resources": [r.to_json() for r in self.resources],
            "outputs": self.outputs,
            "warnings": list(self.warnings),
            "config": dict(self.config),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RenderResult":
        return cls(
            stack=data["stack"],
            resources=[RenderedResource.from_json(r) for r in data.get("resources", [])],
            outputs=data.get("outputs", {}),
            warnings=list(data.get("warnings", [])),
            config=dict(data.get("config", {})),
        )


__all__ = ["RenderResult", "RenderedResource"]
