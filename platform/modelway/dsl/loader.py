"""Loading a pipeline file and picking the pipeline to run."""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

from modelway.dsl.pipeline import Pipeline
from modelway.errors import DefinitionError, UserError
from modelway.exits import ExitAttempt, exits_forbidden


def module_name_for(path: Path) -> str:
    """A stable module name per file, so pickled classes from it load again in later runs."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"_mw_{stem}_{digest}"


def load_module(path: Path):  # noqa: ANN201 - returns a module
    """Import a pipeline file; again only when its content changed (notebooks, long-lived processes)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a directory, not a pipeline file; name the .py file in it that defines the @pipeline")
    if not path.is_file():
        raise UserError(f"pipeline file {path} does not exist")
    name = module_name_for(path)
    source_hash = hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__modelway_source_hash__", None) == source_hash:
        return loaded  # unchanged since it was imported (an edited file is imported again)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    module.__modelway_source_hash__ = source_hash  # type: ignore[attr-defined]
    sys.modules[name] = module
    # Let the file import its sibling modules, as `python FILE` would.
    parent = str(path.resolve().parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    try:
        with exits_forbidden():
            spec.loader.exec_module(module)
    except ExitAttempt as exc:
        del sys.modules[name]
        raise DefinitionError(f"{path}: importing the pipeline file called {exc.how}; a pipeline file must "
                              "define pipelines, not exit (run it with `modelway run`)") from None
    except (UserError, DefinitionError):
        del sys.modules[name]
        raise
    except SyntaxError as exc:
        del sys.modules[name]
        raise DefinitionError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:
        del sys.modules[name]
        raise DefinitionError(f"{path}: importing the pipeline file raised {type(exc).__name__}: {exc}") from exc
    return module


def load_pipeline(path: Path, name: str | None = None) -> Pipeline:
    """The pipeline named ``name`` in ``path``, or its only pipeline.

    Example:
        >>> load_pipeline(Path("pipelines/credit_risk.py")).name  # doctest: +SKIP
        'credit_risk'
    """
    module = load_module(path)
    found: dict[str, Pipeline] = {}
    for attr, value in vars(module).items():
        if isinstance(value, Pipeline):
            found.setdefault(value.name, value)
            found.setdefault(attr, value)
    unique = list({id(p): p for p in found.values()}.values())
    if name is not None:
        if name not in found:
            known = ", ".join(sorted({p.name for p in unique})) or "none"
            raise UserError(f"{path}: no pipeline named {name!r} (pipelines: {known})")
        return found[name]
    if not unique:
        raise UserError(f"{path} defines no @pipeline function")
    if len(unique) > 1:
        names = ", ".join(sorted(p.name for p in unique))
        raise UserError(f"{path} defines several pipelines ({names}); choose one with --pipeline NAME")
    return unique[0]
