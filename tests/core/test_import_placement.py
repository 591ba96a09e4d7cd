"""Own modules are imported at the top of the file that uses them. An import inside a function
is for what must stay lazy: a heavy module (one that imports pandas, scikit-learn, Pulumi, boto3...,
as measured by ``module_weights``), or a light one listed in ALLOWED with its reason. Read from
the source with ``ast``; the weights come from one fresh interpreter."""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from module_weights import HEAVY, PACKAGE, measure, module_names, weights

# importing module -> (the light modules it imports inside functions, why they stay there), or
# ("*", why) for a composition root that imports each implementation only when it builds it. Why:
# - start-up: the importer is on a fast path (`import modelway`, `modelway --help`, a plain
#   `modelway run`, loading a pipeline file, or the `--help` and sibling commands of a command
#   module, which the CLI imports when one of its commands runs) that the import would slow;
# - composition root: picks an implementation at run time and imports only the one it builds;
# - cycle: the module imports itself (or something that imports it at its top).
ALLOWED: dict[str, tuple[frozenset[str] | str, str]] = {
    "modelway": (frozenset({"modelway.runtime.runner"}),
                 "start-up: the facade installs the runner and imports it when a pipeline runs"),
    "modelway.cli.main": ("*", "composition root and start-up: the entry point loads the Typer app, the "
                               "fast `run` parser and the store's fault text (sqlite3) only on the path that needs them"),
    "modelway.cli.running": (frozenset({"modelway.dsl.loader", "modelway.runtime.runner"}),
                             "start-up: after require() names a missing extra in one line"),
    "modelway.cli.pipeline_runs": (frozenset({"modelway.runtime.runner", "modelway.runtime.run_details"}),
                                   "start-up: after require() names a missing extra; `data`, `lineage` and "
                                   "`run --help` need neither"),
    "modelway.cli.models": (frozenset({"modelway.stages.model_card", "modelway.stages.registration",
                                       "modelway.reporting.run_report", "modelway.cli.pipeline_runs"}),
                            "start-up: this module is loaded for every `runs` command (it adds `runs report`); "
                            "the card writer, MLflow mirror and report cost ~130 ms each there. pipeline_runs: "
                            "imported under `except ImportError` in register()"),
    "modelway.cli.serving": (frozenset({"modelway.stages.env"}),
                             "start-up: the promotion rules' YAML and pydantic, ~100 ms of `deployments list` "
                             "and of each command's --help"),
    "modelway.cli.monitoring": (frozenset({"modelway.monitoring.report",
                                           "modelway.triggers.config", "modelway.triggers.engine"}),
                                "start-up: each serves one of monitor / baseline / triggers (~25-110 ms each)"),
    "modelway.cli.policy": (frozenset({"modelway.policy_check.config", "modelway.policy_check.output",
                                       "modelway.policy_check.sarif"}),
                            "start-up: `policy pack-path` (inside `pulumi preview --policy-pack $(...)`) needs "
                            "no report writers, SARIF models (attrs) or config reader"),
    "modelway.cli.export": (frozenset({"modelway.backends.aws.pipelines_export", "modelway.backends.aws.sagemaker_jobs",
                                       "modelway.dsl.loader", "modelway.runtime.context"}),
                            "start-up: the DSL and the runtime, ~130 ms of `export --help`"),
    "modelway.policy_check": (frozenset({"modelway.policy_check.config", "modelway.policy_check.waivers",
                                         "modelway.rendering.api", "modelway.rendering.project"}),
                              "start-up: every policy_check module imports this package first, `policy pack-path` "
                              "too; only check_stacks needs the renderer and the waivers' YAML reader"),
    "modelway.stages.registration": (frozenset({"modelway.stages.mlflow_view", "modelway.stages.run_history",
                                                "modelway.stages.spec_review"}),
                                     "start-up: stages.steps imports this module, so every pipeline file that "
                                     "uses the library steps would load them (~15 ms of each run)"),
    "modelway.registry": (frozenset({"modelway.registry.embedded", "modelway.registry.promotion"}),
                          "composition root: get_registry builds the stack's registry or the embedded one; "
                          "importing the package for its types (registry.base) loads neither"),
    "modelway.backends.local": ("*", "composition root: one factory per concern, each imports what it builds"),
    "modelway.backends.aws.stack_backends": ("*", "composition root: one factory per concern (the EKS executor "
                                                  "only for a cluster stack, SNS only with a topic...)"),
    "modelway.backends.mapping": (frozenset({"modelway.backends.aws.stack_backends"}),
                                  "start-up: the embedded default (every plain `modelway run`) loads no AWS code"),
    "modelway.backends.stack": (frozenset({"modelway.contracts.stack_outputs"}),
                                "start-up: no stack model (pydantic) on the embedded default"),
    "modelway.demo.live": (frozenset({"modelway.demo.live"}),
                           "cycle: run as __main__, it imports its importable self so the degraded model pickles "
                           "as modelway.demo.live.DegradesUnderLoad"),
}


def _allowed(allowed: dict[str, tuple[frozenset[str] | str, str]], module: str, target: str) -> bool:
    targets, _ = allowed.get(module, (frozenset(), ""))
    return targets == "*" or target in targets


def _module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str, package: Path) -> bool:
    path = package.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def function_level_imports(source: str, module: str, is_package: bool = False,
                           package: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, imported own module) for each import of an own module inside a function of ``source``
    (``from modelway.x import name`` imports ``modelway.x``, or ``modelway.x.name`` if that is a module)."""
    own = package.name
    here = module if is_package else module.rpartition(".")[0]
    found: set[tuple[int, str]] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if inside and isinstance(child, ast.Import):
                found.update((child.lineno, a.name) for a in child.names if a.name.partition(".")[0] == own)
            elif inside and isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: resolve against this module's package
                    anchor = here.split(".")[: len(here.split(".")) - child.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                if base.partition(".")[0] == own:
                    for alias in child.names:
                        sub = f"{base}.{alias.name}"
                        found.add((child.lineno, sub if _is_module(sub, package) else base))
            visit(child, inside)

    visit(ast.parse(source), False)
    return sorted(found)


def misplaced(package: Path, weight: dict[str, str | None],
              allowed: dict[str, tuple[frozenset[str] | str, str]]) -> tuple[list[str], set[tuple[str, str]]]:
    """One line per function-level import of a light own module that ``allowed`` does not list,
    and the allowed pairs that were seen (so a stale entry can be reported)."""
    problems: list[str] = []
    used: set[tuple[str, str]] = set()
    for path in sorted(package.rglob("*.py")):
        module = _module_name(path, package)
        for line, target in function_level_imports(path.read_text(), module, path.name == "__init__.py", package):
            if weight.get(target, "not measured") is not None:
                continue  # heavy (or outside the package): stays lazy
            if _allowed(allowed, module, target):
                used.add((module, target))
                continue
            problems.append(f"{path.relative_to(package.parent)}:{line}: {target} is light; import it at the top "
                            f"(or list it under {module!r} in ALLOWED with the reason it must stay lazy)")
    return problems, used


def test_light_own_modules_are_imported_at_the_top() -> None:
    problems, _ = misplaced(PACKAGE, weights(), ALLOWED)
    assert problems == []


def test_every_allowed_entry_is_still_a_lazy_import_of_a_light_module() -> None:
    _, used = misplaced(PACKAGE, weights(), ALLOWED)
    listed = {(module, target) for module, (targets, _) in ALLOWED.items() if targets != "*" for target in targets}
    wildcards = {module for module, (targets, _) in ALLOWED.items() if targets == "*"}
    assert sorted(listed - used) == []
    assert sorted(wildcards - {module for module, _ in used}) == []


def test_every_own_module_imports_on_its_own() -> None:
    """An import moved to the top must not close a cycle: each module imports in a fresh interpreter."""
    assert {name: reason for name, reason in weights().items() if reason and reason.startswith("error")} == {}


def test_the_weights_are_measured_both_ways() -> None:
    """Known anchors on both sides: the settings and the CLI's command table are light, training
    (scikit-learn) and the model server (Starlette) are heavy, with the library that makes them so."""
    found = weights()
    assert set(found) == set(module_names())
    assert found["modelway.settings"] is None and found["modelway.cli.commands"] is None
    assert found["modelway.serving.app"] == "heavy: starlette (imported by modelway.serving.app)"
    assert found["modelway.stages.training"].startswith("heavy: ")


# -- the checker itself, on a planted package ------------------------------------------------------

def _plant(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root / "planted"


PLANTED = {
    "planted/__init__.py": "",
    "planted/small.py": "import json\nVALUE = 1\n",
    "planted/big.py": "import json\nimport numpy\n",
    "planted/via.py": "from planted.big import numpy\n",
    "planted/lazy.py": "def f():\n    import numpy\n    return numpy\n",
    "planted/caught.py": "try:\n    import pandas\nexcept ImportError:\n    pandas = None\n",
}


def test_the_measurement_tells_light_from_heavy(tmp_path: Path) -> None:
    package = _plant(tmp_path, PLANTED)
    found = measure(module_names(package), path=tmp_path)
    assert found == {
        "planted": None,
        "planted.small": None,
        "planted.lazy": None,
        "planted.big": "heavy: numpy (imported by planted.big)",
        "planted.via": "heavy: numpy (imported by planted.big)",
        "planted.caught": "heavy: pandas (imported by planted.caught)",  # a guarded import still counts
    }
    assert "numpy" in HEAVY and "json" not in HEAVY


@pytest.mark.parametrize(("source", "expected"), [
    ("def f():\n    from planted.small import VALUE\n", ["planted.small"]),
    ("def f():\n    from planted import small\n", ["planted.small"]),
    ("def f():\n    from . import small\n", ["planted.small"]),
    ("class C:\n    def m(self):\n        import planted.small\n", ["planted.small"]),
    ("async def f():\n    if True:\n        from .small import VALUE\n", ["planted.small"]),
    ("from planted.small import VALUE\n", []),                    # at the top: fine
    ("if True:\n    from planted import small\n", []),            # module level, not in a function
    ("def f():\n    import json\n", []),                          # not an own module
])
def test_function_level_imports_are_found(source: str, expected: list[str], tmp_path: Path) -> None:
    package = _plant(tmp_path, PLANTED)
    assert [t for _, t in function_level_imports(source, "planted.user", package=package)] == expected


def test_a_planted_lazy_import_of_a_light_module_fails(tmp_path: Path) -> None:
    package = _plant(tmp_path, {**PLANTED, "planted/user.py": """\
        from planted import small                # top: fine


        def light():
            from planted.small import VALUE      # light, not allowed: reported
            return VALUE


        def heavy():
            from planted.big import numpy        # heavy: stays lazy
            return numpy


        def listed():
            import planted.lazy                  # light, allowed below
            return planted.lazy
        """})
    weight = {"planted": None, "planted.small": None, "planted.lazy": None, "planted.big": "heavy: numpy",
              "planted.via": "heavy: numpy", "planted.caught": "heavy: pandas", "planted.user": None}
    allowed = {"planted.user": (frozenset({"planted.lazy"}), "start-up")}
    problems, used = misplaced(package, weight, allowed)
    assert problems == ["planted/user.py:5: planted.small is light; import it at the top "
                        "(or list it under 'planted.user' in ALLOWED with the reason it must stay lazy)"]
    assert used == {("planted.user", "planted.lazy")}
    assert misplaced(package, weight, {})[0][1:] == [
        "planted/user.py:15: planted.lazy is light; import it at the top "
        "(or list it under 'planted.user' in ALLOWED with the reason it must stay lazy)"]
    assert misplaced(package, weight, {"planted.user": ("*", "composition root")})[0] == []
