"""Entry point the Pulumi CLI runs for ``pulumi preview --policy-pack policies``.

This is the only module that constructs the ``PolicyPack``: its constructor starts the
analyzer gRPC server and blocks, so it runs only when executed as a program, never on import
(tests import this module and read :data:`POLICIES`).

Example:
    >>> import importlib; pack = importlib.import_module("policies.__main__")
    >>> "s3-encryption-cmk" in [p.name for p in pack.POLICIES]
    True
"""
from __future__ import annotations

import sys
from pathlib import Path

# The CLI runs the pack as `python -m pulumi.policy ENGINE policies/`, i.e. runpy.run_path on this
# directory, which puts policies/ itself first on sys.path. Our modules are named after concerns
# (kubernetes, storage, ...) and must not shadow real packages: import them as `policies.*` from
# the repository root instead.
_PACK_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _PACK_DIR]
if str(_PACK_DIR.parent) not in sys.path:
    sys.path.insert(0, str(_PACK_DIR.parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies.catalog import ALL_POLICIES, PACK_DESCRIPTION, PACK_NAME  # noqa: E402

POLICIES = ALL_POLICIES


def main() -> None:
    """Serve the pack to the Pulumi CLI (blocks until the CLI is done)."""
    PolicyPack(name=PACK_NAME, policies=list(POLICIES), enforcement_level=EnforcementLevel.ADVISORY,
               description=PACK_DESCRIPTION)


if __name__ == "__main__":
    main()
