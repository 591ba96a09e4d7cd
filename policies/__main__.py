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

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

# The CLI runs the pack as `python -m pulumi.policy ENGINE <pack dir>`, i.e. runpy.run_path on this
# directory, which puts the directory itself first on sys.path. Our modules are named after concerns
# (kubernetes, storage, ...) and must not shadow real packages: take it out, and import the pack as
# a package (its modules import each other relatively).
_PACK_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _PACK_DIR]


def _pack_package() -> str:
    """The package name this directory is importable as: ``modelway.policies`` when the installed
    distribution's pack is this directory, else the directory loaded as ``policies`` (a checkout,
    or the pack copied elsewhere)."""
    if __package__:  # imported as a package member (policies.__main__, modelway.policies.__main__)
        return __package__
    try:
        import modelway.policies as installed

        if Path(installed.__file__).resolve().parent == _PACK_DIR:
            return "modelway.policies"
    except ImportError:
        pass
    spec = importlib.util.spec_from_file_location("policies", _PACK_DIR / "__init__.py",
                                                  submodule_search_locations=[str(_PACK_DIR)])
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules["policies"] = module
    spec.loader.exec_module(module)
    return "policies"


from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

_catalog = importlib.import_module(f"{_pack_package()}.catalog")
ALL_POLICIES, PACK_DESCRIPTION, PACK_NAME = _catalog.ALL_POLICIES, _catalog.PACK_DESCRIPTION, _catalog.PACK_NAME
POLICIES = ALL_POLICIES


def main() -> None:
    """Serve the pack to the Pulumi CLI (blocks until the CLI is done)."""
    PolicyPack(name=PACK_NAME, policies=list(POLICIES), enforcement_level=EnforcementLevel.ADVISORY,
               description=PACK_DESCRIPTION)


if __name__ == "__main__":
    main()
