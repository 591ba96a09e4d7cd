"""Imports only go down the layers of /work/shared/ARCHITECTURE.md (README "Layout"): a lower
layer never imports a higher one, at module level or inside a function, so no import loop can
hide behind a lazy import. Read from the source with ``ast``: nothing is imported."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "platform" / "modelway"

# Top to bottom. A module may import its own package and packages of LOWER layers only;
# packages that share a layer do not import each other. ``modelway/__init__.py`` (the public
# facade) and the CLI are the composition root: they may import anything.
LAYERS: list[set[str]] = [
    {"cli"},
    {"demo"},                          # `make demo-live`: drives the CLI-level story (serve, roll out, drift, retrain)
    {"backends"},                      # local / aws / kubernetes implementations of the interfaces below
    {"reporting", "policy_check", "triggers"},  # run report; offline policy checker (cli -> policy_check ->
                                                # rendering); retraining triggers (they launch runs, read monitoring)
    {"monitoring"},                    # the monitor job over captured traffic: drift, quality, alerts
    {"deploy"},                        # rollouts (blue-green, canary, A/B, shadow) with guardrails and rollback
    {"serving"},                       # the model server and the routing state it reads
    {"stages", "rendering", "policies"},  # validate, train, evaluate, register...; Pulumi program under mocks;
                                          # the pack (top-level policies/, shipped as modelway.policies)
    {"runtime"},                       # runs a built DAG (imports the DSL, which never imports it)
    {"dsl"},
    {"lineage", "registry"},
    {"store"},
    {"artifacts"},
    {"settings", "contracts", "datasets", "extras", "profiling", "evidence_blocks"},
    {"features"},                      # feature functions: imported by datasets, training (stages) and the server
    {"config_files"},                  # the one strict JSON/YAML reader the contracts and configs use
    {"errors", "files", "html_blocks", "exits", "active_backends", "sqlite_wal", "light_models"},
]
RANK = {name: len(LAYERS) - i for i, layer in enumerate(LAYERS) for name in layer}
ROOT = "<root>"


def _module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _component(module: str) -> str:
    """``modelway.stages.env`` -> ``stages``; ``modelway.settings`` -> ``settings``; ``modelway`` -> root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def _is_module(dotted: str, package: Path) -> bool:
    path = package.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, imported modelway module) for every import statement in the file, wherever it sits."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "modelway"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "modelway":
                continue
            for alias in node.names:
                # ``from modelway import lineage`` imports a submodule; ``from modelway import step`` the facade
                child = f"{base}.{alias.name}"
                found.append((node.lineno, child if _is_module(child, root) else base))
    return found


def _imports_only_version(path: Path, line: int) -> bool:
    """True for ``from modelway import __version__`` at ``line`` of ``path``."""
    return any(isinstance(node, ast.ImportFrom) and node.lineno == line and [a.name for a in node.names] == ["__version__"]
               for node in ast.walk(ast.parse(path.read_text(), str(path))))


def _violations(root: Path = PACKAGE) -> list[str]:
    """One line per import that goes up (or sideways) the layers, for the package at ``root``."""
    problems: list[str] = []
    for path in sorted(root.rglob("*.py")):
        where = path.relative_to(root.parent)
        module = _module_name(path, root)
        source = _component(module)
        if source in (ROOT, "cli"):
            continue
        if source not in RANK:
            problems.append(f"{module}: package {source!r} has no layer; add it to LAYERS in {Path(__file__).name} "
                            "where ARCHITECTURE.md puts it")
            continue
        for line, target in _imports(path, root):
            dest = _component(target)
            if dest == source:
                continue
            if dest == ROOT and target == "modelway" and _imports_only_version(path, line):
                continue  # the distribution's version is package metadata, not the facade's lazy API
            if dest == ROOT:
                problems.append(f"{where}:{line}: imports the facade 'modelway' "
                                "(import the defining module instead)")
            elif dest not in RANK:
                problems.append(f"{where}:{line}: imports {target}, whose package has no layer")
            elif RANK[dest] >= RANK[source]:
                problems.append(f"{where}:{line}: {source} imports {target} "
                                f"({dest} is {'beside' if RANK[dest] == RANK[source] else 'above'} {source})")
    return problems


def test_imports_only_go_down_the_layers() -> None:
    assert _violations() == []


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert sorted((packages | modules) - set(RANK) - {"cli"}) == []


@pytest.mark.parametrize(("source", "line", "expected"), [
    ("dsl/pipeline.py", "    from modelway.runtime.runner import run_pipeline\n", "dsl imports modelway.runtime.runner"),
    ("lineage/datasets.py", "from modelway.runtime import context\n", "lineage imports modelway.runtime.context"),
    ("registry/embedded.py", "from modelway.stages.model_card import write_model_card\n", "registry imports modelway.stages"),
    ("store/runs.py", "from modelway import step\n", "imports the facade 'modelway'"),
    ("lineage/__init__.py", "from modelway import registry\n", "lineage imports modelway.registry (registry is beside"),
])
def test_the_rule_catches_an_upward_import(tmp_path, source, line, expected) -> None:
    """The checker itself: an upward import inside a function is reported (the rule can fail)."""
    copy = tmp_path / "modelway"
    for path in PACKAGE.rglob("*.py"):
        target = copy / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    edited = copy / source
    edited.write_text(edited.read_text() + f"\n\ndef _added_by_the_test():\n    {line.strip()}\n")
    found = _violations(copy)
    assert any(expected in problem for problem in found), found
