"""Turn the protobuf property structs the engine receives into plain JSON-able values."""
from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

# Signatures the Pulumi wire format uses to tag special values inside maps.
_SIG = "4dabf18193072939515e22adb298388d"
_SECRET = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE = "5cf8f73096256a8f31e491e813e4eb8e"
_ASSET = "c44067f5952c0a294b673a41bacd8c17"
_ARCHIVE = "0def7320c3a5731c473e5ecbe6d01bc7"
_OUTPUT = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""How the engine writes a value that is not known yet (kept as is; the pack reads it as unknown)."""


def plain(value: Any) -> Any:
    """Unwrap secrets, replace resource references by their URN, keep integers integral.

    A value unknown during a preview stays the wire format's unknown string (:data:`UNKNOWN`),
    which the pack's ``unwrap`` reads as unknown: never ``None``, which a rule would read as
    "not set" (a violation that is not there, or a pass that is not earned).

    Example:
        >>> plain({"n": 30.0, "s": {_SIG: _SECRET, "value": "x"}})
        {'n': 30, 's': 'x'}
    """
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _SECRET:
            return plain(value.get("value"))
        if sig == _RESOURCE:
            return value.get("urn", "")
        if sig == _OUTPUT:
            return plain(value["value"]) if "value" in value else UNKNOWN
        if sig == _ASSET:
            return {k: value[k] for k in ("path", "text", "uri") if k in value}
        if sig == _ARCHIVE:
            return {k: plain(value[k]) for k in ("assets", "path", "uri") if k in value}
        return {k: plain(v) for k, v in sorted(value.items())}  # stable output, run to run
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        # The wire format only has doubles; 30.0 days is 30 days.
        return int(value)
    return value


def struct_to_plain(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A protobuf ``Struct`` of resource properties as a plain dict."""
    return plain(json_format.MessageToDict(struct))
