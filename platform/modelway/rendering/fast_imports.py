"""Load only the provider SDK modules a program uses (a render-worker speed-up; same classes, same behaviour).

``pulumi_aws`` and ``pulumi_kubernetes`` sub-packages import every module they contain
in their ``__init__`` (``import pulumi_aws.ec2`` defines ~180 modules' classes, ~0.6 s).
A program uses a handful. Before the SDK is imported, each sub-package is registered as
a module whose attributes are loaded on first access from the one module that defines
them (``LaunchTemplate`` -> ``launch_template.py``, ``Namespace`` -> ``Namespace.py``).
Anything the lookup cannot place runs the package's real ``__init__`` in that module,
so every name the package exports stays available.

Set ``MODELWAY_RENDER_EAGER_IMPORTS=1`` to turn it off.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import re
import sys
import types
from pathlib import Path
from typing import Any

PACKAGES: tuple[str, ...] = ("pulumi_aws", "pulumi_kubernetes")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _candidates(attr: str) -> list[str]:
    names = [attr]
    stem = attr
    for prefix in ("Awaitable",):
        stem = stem.removeprefix(prefix)
    for suffix in ("ArgsDict", "Args", "Result", "_output"):
        if stem.endswith(suffix) and stem != suffix:
            stem = stem[: -len(suffix)]
            break
    names += [stem, _CAMEL.sub("_", stem).lower()]
    # Argument/result types of nested blocks live in the shared type modules.
    names += ["_inputs", "outputs", "_enums"]
    return list(dict.fromkeys(n for n in names if n))


class _LazyPackage(types.ModuleType):
    """A provider sub-package whose exported names are imported one module at a time."""

    def __getattr__(self, attr: str) -> Any:
        if attr == "__all__" and not self.__dict__.get("_modelway_loading_all"):
            # `from package import *` must see every export: load the package for real.
            self._modelway_load_all()
            if "__all__" in self.__dict__:
                return self.__dict__["__all__"]
            raise AttributeError(attr)
        if attr.startswith("__") or self.__dict__.get("_modelway_loading_all"):
            raise AttributeError(attr)
        for candidate in _candidates(attr):
            fullname = f"{self.__name__}.{candidate}"
            if not (Path(self.__path__[0]) / f"{candidate}.py").is_file() and fullname not in sys.modules:
                continue
            module = importlib.import_module(fullname)
            if attr in module.__dict__:  # a class defined in its own module (k8s: Namespace.py)
                value = module.__dict__[attr]
                setattr(self, attr, value)
                return value
            if candidate == attr:  # a submodule asked for by name (e.g. `outputs`)
                return module
        self._modelway_load_all()
        try:
            return self.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}") from None

    def __dir__(self) -> list[str]:
        self._modelway_load_all()
        return list(self.__dict__)

    def _modelway_load_all(self) -> None:
        if self.__dict__.get("_modelway_loaded_all"):
            return
        self.__dict__["_modelway_loading_all"] = True
        try:
            self.__spec__.loader.exec_module(self)  # the package's real __init__, in this module
        finally:
            self.__dict__["_modelway_loading_all"] = False
            self.__dict__["_modelway_loaded_all"] = True


def _register(name: str, directory: Path) -> None:
    init = directory / "__init__.py"
    loader = importlib.machinery.SourceFileLoader(name, str(init))
    spec = importlib.util.spec_from_file_location(name, init, loader=loader,
                                                  submodule_search_locations=[str(directory)])
    module = _LazyPackage(name)
    module.__spec__, module.__loader__ = spec, loader
    module.__file__, module.__path__, module.__package__ = str(init), [str(directory)], name
    sys.modules[name] = module


def install() -> bool:
    """Register lazy sub-packages of the provider SDKs; False if disabled or already imported."""
    if os.environ.get("MODELWAY_RENDER_EAGER_IMPORTS") == "1":
        return False
    installed = False
    for package in PACKAGES:
        if package in sys.modules:
            continue
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(list(spec.submodule_search_locations)[0])
        for directory in _subpackages(root):
            _register(".".join((package, *directory.relative_to(root).parts)), directory)
            installed = True
    return installed


def _subpackages(root: Path) -> list[Path]:
    found = []
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.is_dir() and not entry.name.startswith(("_", ".")) and os.path.isfile(
                    os.path.join(entry.path, "__init__.py")):
                found.append(Path(entry.path))
                found.extend(_subpackages(Path(entry.path)))
    return found
