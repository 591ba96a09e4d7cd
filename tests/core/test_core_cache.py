"""Step cache: identical re-runs execute nothing; a code change re-runs that step and its descendants."""
from __future__ import annotations

from pathlib import Path

from core_helpers import cli_json, executed, write_pipeline

DIAMOND = """
from modelway import pipeline, step

def scale(v):
    return v * {factor}

@step
def load(n: int) -> list[int]:
    return list(range(n))

@step
def clean(rows: list[int]) -> list[int]:
    return [r for r in rows if r % 2 == 0]

@step
def features(rows: list[int]) -> list[int]:
    return [scale(r) for r in rows]

@step
def train(rows: list[int]) -> int:
    return sum(rows){train_edit}

@step
def profile(rows: list[int]) -> int:
    return len(rows)

@step
def report(model: int, size: int) -> dict:
    return {{"model": model, "size": size}}

@pipeline
def diamond(n: int = 10) -> dict:
    rows = load(n)
    model = train(features(clean(rows)))
    return report(model, profile(rows))
"""

ALL = ["load", "clean", "features", "train", "profile", "report"]


def _write(tmp_path: Path, factor: int = 2, train_edit: str = "") -> Path:
    return write_pipeline(tmp_path, DIAMOND.format(factor=factor, train_edit=train_edit))


def test_second_identical_run_executes_zero_steps(home: Path, tmp_path: Path) -> None:
    path = _write(tmp_path)
    first = cli_json("run", str(path), home=home, real=True)  # separate processes, as a user runs them
    assert executed(first) == ALL
    second = cli_json("run", str(path), home=home, real=True)
    assert executed(second) == []
    assert all(s["cached"] and s["status"] == "cached" for s in second["steps"])
    assert second["outputs"] == first["outputs"] == {"result": {"model": 40, "size": 10}}


def test_editing_a_step_reruns_it_and_its_descendants_only(home: Path, tmp_path: Path) -> None:
    path = _write(tmp_path)
    cli_json("run", str(path), home=home, real=True)
    _write(tmp_path, train_edit=" + 1")
    doc = cli_json("run", str(path), home=home, real=True)
    assert executed(doc) == ["train", "report"]
    assert doc["outputs"] == {"result": {"model": 41, "size": 10}}


def test_editing_a_called_project_function_reruns_its_callers(home: Path, tmp_path: Path) -> None:
    path = _write(tmp_path)
    cli_json("run", str(path), home=home)
    _write(tmp_path, factor=3)
    doc = cli_json("run", str(path), home=home)
    assert executed(doc) == ["features", "train", "report"]


def test_parameter_change_and_no_cache(home: Path, tmp_path: Path) -> None:
    path = _write(tmp_path)
    cli_json("run", str(path), home=home)
    doc = cli_json("run", str(path), "--param", "n=12", home=home)
    assert executed(doc) == ALL
    doc = cli_json("run", str(path), "--param", "n=12", "--no-cache", home=home)
    assert executed(doc) == ALL


def test_step_with_cache_false_always_runs(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, """
        import time
        from modelway import pipeline, step

        @step
        def stable() -> int:
            return 1

        @step(cache=False)
        def clock(x: int) -> float:
            return time.time() + x

        @pipeline
        def p() -> float:
            return clock(stable())
    """)
    cli_json("run", str(path), "--in-process", home=home)
    doc = cli_json("run", str(path), "--in-process", home=home)
    assert executed(doc) == ["clock"]


def test_same_output_downstream_stays_cached(home: Path, tmp_path: Path) -> None:
    """A re-executed step whose output is unchanged does not invalidate its consumers (keys use content hashes)."""
    path = _write(tmp_path)
    cli_json("run", str(path), home=home)
    # a behaviour-neutral edit of `profile`
    path.write_text(path.read_text().replace("return len(rows)", "return len(list(rows))"))
    doc = cli_json("run", str(path), home=home)
    assert executed(doc) == ["profile"]


def test_editing_a_project_module_imported_inside_a_step_reruns_it(home: Path, tmp_path: Path) -> None:
    pkg = tmp_path / "mylib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "maths.py").write_text("from mylib.consts import OFFSET\n\ndef shift(x):\n    return x + OFFSET\n")
    (pkg / "consts.py").write_text("OFFSET = 1\n")
    path = write_pipeline(tmp_path, """
        from modelway import pipeline, step

        @step
        def base() -> int:
            return 10

        @step
        def shifted(x: int) -> int:
            from mylib.maths import shift  # lazy import, as steps with heavy dependencies do
            return shift(x)

        @pipeline
        def lazy() -> int:
            return shifted(base())
    """)
    assert cli_json("run", str(path), home=home)["outputs"] == {"result": 11}
    assert executed(cli_json("run", str(path), home=home)) == []
    (pkg / "consts.py").write_text("OFFSET = 2\n")  # a module imported by the imported module
    doc = cli_json("run", str(path), home=home)
    assert executed(doc) == ["shifted"]
    assert doc["outputs"] == {"result": 12}


def test_a_step_reading_context_params_depends_on_all_parameters(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, """
        from modelway import pipeline, step, step_context

        @step
        def uses_ctx() -> str:
            return step_context().params["env"]

        @step
        def plain(x: int) -> int:
            return x

        @pipeline
        def p(env: str = "dev", x: int = 1) -> list:
            return [uses_ctx(), plain(x)]
    """)
    cli_json("run", str(path), "--in-process", home=home)
    doc = cli_json("run", str(path), "--in-process", "--param", "env=prod", home=home)
    assert executed(doc) == ["uses_ctx"]
    assert doc["outputs"] == {"result": ["prod", 1]}
