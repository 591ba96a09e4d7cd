"""What ``modelway explain`` prints for an explanation (text view: stages, contributions, bars,
cut-offs) and what ``modelway run`` prints around a run (the dry-run DAG, the next steps after a
failure, the exit codes), line for line, for fixed documents."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

import modelway.cli.explain as explain
import modelway.cli.running as running

from tests.cli.cli_inprocess import invoke


def _doc(**overrides):
    doc = {
        "model": "credit-risk", "version": "1.2.0", "status": "Approved", "environment": "prod",
        "artifact_sha256": "0123456789abcdef" * 4, "prediction": 1,
        "probabilities": {"0": 0.25, "1": 0.75}, "warnings": ["age is outside the training range"],
        "ignored_columns": ["id", "zz"], "replay_matches": True,
        "stages": [{"name": "impute", "transformer": "SimpleImputer",
                    "values": {"age": 41.0, "income": None, "city": "Oslo"}},
                   {"name": "model", "transformer": "LogisticRegression", "values": {"score": 1.23456789}}],
        "output": "log-odds of class 1", "note": "exact coefficients (linear model)",
        "base_value": -0.5, "output_value": 1.0986,
        "contributions": [{"feature": "age", "value": 41.0, "contribution": 1.2},
                          {"feature": "income", "value": None, "contribution": -0.3},
                          {"feature": "a-long-feature", "value": "x", "contribution": 0.6},
                          {"feature": "z", "value": 2, "contribution": 0.0}],
        "additivity_error": 1.5e-12,
    }
    doc.update(overrides)
    return doc


def _text(capsys, doc) -> list[str]:
    capsys.readouterr()
    explain._print_text(doc)
    return capsys.readouterr().out.splitlines()


def test_explain_text_view(capsys) -> None:
    assert _text(capsys, _doc()) == [
        "credit-risk 1.2.0  Approved (prod)  artifact sha256 0123456789ab… verified against its signed registration",
        "prediction  class 1  (P(class 0) = 0.2500, P(class 1) = 0.7500)",
        "warning: age is outside the training range",
        "ignored columns (not model inputs): id, zz",
        "",
        "the row through the pipeline",
        "  stage 1/2  impute: SimpleImputer (3 values)",
        "    age     41",
        "    income  missing",
        "    city    Oslo",
        "  stage 2/2  model: LogisticRegression (1 value)",
        "    score  1.23457",
        "",
        "contributions to log-odds of class 1: exact coefficients (linear model)",
        "  base                            -0.5000",
        "  age                         41  +1.2000  ++++++++++++++++++++++++",
        "  income                 missing  -0.3000  ------",
        "  a-long-feature               x  +0.6000  ++++++++++++",
        "  z                            2  +0.0000  ",
        "  = output                        +1.0986   (base + contributions; off by 1.5e-12)",
    ]


def test_explain_text_view_of_a_regression_without_extras(capsys) -> None:
    doc = _doc(probabilities=None, prediction=12.5, warnings=None, ignored_columns=[], replay_matches=False,
               stages=[{"name": "scale", "transformer": "StandardScaler", "values": {}}],
               contributions=[{"feature": "x", "value": 0.1, "contribution": 0.0}])
    assert _text(capsys, doc)[1:] == [
        "prediction  12.5",
        "warning: replaying the stages one by one does NOT reproduce the model's own output (a stateful or random stage?)",
        "",
        "the row through the pipeline",
        "  stage 1/1  scale: StandardScaler (0 values)",
        "",
        "contributions to log-odds of class 1: exact coefficients (linear model)",
        "  base                      -0.5000",
        "  x                    0.1  +0.0000  ",
        "  = output                  +1.0986   (base + contributions; off by 1.5e-12)",
    ]


def test_explain_shows_forty_columns_per_stage(capsys) -> None:
    assert explain.STAGE_COLUMNS_SHOWN == 40
    forty = {f"c{i:02d}": i for i in range(40)}
    lines = _text(capsys, _doc(stages=[{"name": "s", "transformer": "T", "values": forty}]))
    assert lines[7:47] == [f"    c{i:02d}  {i}" for i in range(40)] and lines[47] == ""
    lines = _text(capsys, _doc(stages=[{"name": "s", "transformer": "T", "values": {**forty, "c40": 40, "c41": 41}}]))
    assert lines[6] == "  stage 1/1  s: T (42 values)"
    assert lines[46:48] == ["    c39  39", "    ... 2 more (--json shows all)"]


def test_explain_refuses_a_reference_without_a_model_name(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    done = invoke(capsys, "explain", "@1.0.0", "--row", "{}")
    assert (done.code, done.err) == (2, "error: expected MODEL@VERSION, got '@1.0.0'\n")


def test_dry_run_dag(capsys) -> None:
    spec = {"pipeline": "training", "params": {"n": 3, "when": "x"}, "steps": [
        {"name": "load", "upstream": [], "settings": {"retries": 0, "timeout": None, "cache": True, "resources": {}}},
        {"name": "fit", "upstream": ["load", "prep"], "settings": {
            "retries": 2, "timeout": 60, "cache": False, "resources": {"cpu": 2, "gpu": 0, "memory": None, "spot": False,
                                                                        "image": "x:1", "nodes": 1, "fsx": True}}},
    ]}
    running.print_dag(spec, as_json=False)
    assert capsys.readouterr().out.splitlines() == [
        'pipeline training  params {"n": 3, "when": "x"}',
        "  load",
        "  fit  <- load, prep   [retries=2, timeout=60, cache=off, cpu=2, image=x:1, nodes=1, fsx=True]",
        "valid: 2 steps",
    ]
    running.print_dag(spec, as_json=True)
    assert capsys.readouterr().out.startswith('{\n  "pipeline": "training",')


def test_next_steps_after_a_failed_run(capsys) -> None:
    running.print_next_steps(SimpleNamespace(run_id="r-1", resumable=True))
    running.print_next_steps(SimpleNamespace(run_id="r-2", resumable=False))
    assert capsys.readouterr() == ("", "see the details with: modelway runs show r-1; continue with: modelway resume r-1\n"
                                       "see the details with: modelway runs show r-2\n")


@pytest.mark.parametrize("status, code", [("failed", 1), ("cancelled", 130), ("interrupted", 1)])
def test_exit_codes(status: str, code: int) -> None:
    assert running.exit_for("succeeded") is None
    with pytest.raises(SystemExit) as exited:
        running.exit_for(status)
    assert exited.value.code == code


@pytest.fixture()
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path) -> dict:
    """load_pipeline and run_pipeline record what `modelway run` asked of them."""
    import modelway.dsl.loader as loader
    import modelway.runtime.runner as runtime_runner

    box: dict = {"status": "succeeded", "calls": []}
    spec = {"pipeline": "p", "params": {"n": 2}, "steps": []}

    class Pipe:
        def parse_cli_params(self, params: list[str]) -> dict:
            box["calls"].append(("params", params))
            return {"n": 2}

        def build(self, params: dict) -> SimpleNamespace:
            return SimpleNamespace(to_spec=lambda: spec)

    def load_pipeline(file, name):
        box["calls"].append(("load", file, name))
        return Pipe()

    def run_pipeline(pipe, params, **kwargs):
        box["calls"].append(("run", params, kwargs))
        return SimpleNamespace(status=box["status"], run_id="r-7", resumable=False,
                               to_json=lambda: {"run_id": "r-7", "status": box["status"]})

    monkeypatch.setattr(loader, "load_pipeline", load_pipeline)
    monkeypatch.setattr(runtime_runner, "run_pipeline", run_pipeline)
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return box


def test_run_passes_its_options_to_the_runner(capsys, runner: dict, tmp_path) -> None:
    done = invoke(capsys, "run", "p.py", "-p", "train", "-P", "n=2", "--no-cache", "--in-process", "-w", "2", "--plain")
    assert (done.code, done.out, done.err) == (0, "", "")
    assert runner["calls"] == [
        ("load", __import__("pathlib").Path("p.py"), "train"), ("params", ["n=2"]),
        ("run", {"n": 2}, {"executor": "inprocess", "workers": 2, "use_cache": False, "display": "plain",
                           "pipeline_file": tmp_path / "p.py"})]
    invoke(capsys, "run", "p.py")
    assert runner["calls"][-1][2] == {"executor": None, "workers": None, "use_cache": True, "display": "auto",
                                      "pipeline_file": tmp_path / "p.py"}
    runner["status"] = "failed"
    done = invoke(capsys, "run", "p.py", "--json")
    assert (done.code, done.out, done.err) == (1, '{\n  "run_id": "r-7",\n  "status": "failed"\n}\n', "")
    assert runner["calls"][-1][2]["display"] == "none"
    done = invoke(capsys, "run", "p.py")
    assert (done.code, done.err) == (1, "see the details with: modelway runs show r-7\n")


def test_run_dry_run_prints_the_dag_and_runs_nothing(capsys, runner: dict) -> None:
    done = invoke(capsys, "run", "p.py", "--dry-run")
    assert (done.code, done.out) == (0, 'pipeline p  params {"n": 2}\nvalid: 0 steps\n')
    assert invoke(capsys, "run", "p.py", "--dry-run", "--json").out == (
        '{\n  "pipeline": "p",\n  "params": {\n    "n": 2\n  },\n  "steps": []\n}\n')
    assert [c[0] for c in runner["calls"]] == ["load", "params", "load", "params"]


def test_run_without_the_ml_extra(capsys, runner: dict, monkeypatch) -> None:
    import modelway.extras as extras

    monkeypatch.setattr(extras, "missing", lambda extra: ["pandas"] if extra == "ml" else [])
    done = invoke(capsys, "run", "p.py")
    assert (done.code, done.err) == (2, "error: modelway run needs the ml extra (pandas not installed): "
                                        "pip install 'modelway[ml]'\n")
    assert runner["calls"] == []


@pytest.fixture()
def explainer(monkeypatch: pytest.MonkeyPatch, tmp_path) -> dict:
    """`modelway explain` over a stand-in registry and explainer that record what they were given."""
    import modelway.profiling.profile as profile
    import modelway.stages.explain as stages_explain

    box: dict = {"calls": [], "profile": SimpleNamespace(categories={"city": ["Oslo"]}), "schema": True}

    class Registry:
        def get(self, name, version):
            box["calls"].append(("get", name, version))
            return SimpleNamespace(version="1.2.0", status="Approved", environment="prod", artifact_sha256="ab" * 32,
                                   schema={"features": [["age", "numeric"]]})

        def load_model(self, name, version):
            box["calls"].append(("load", name, version))
            schema = SimpleNamespace(feature_names=["age", "city"]) if box["schema"] else None
            return SimpleNamespace(schema=schema)

    def explain_row(model, frame, *, reference, known_categories):
        box["calls"].append(("explain", frame, known_categories))
        if "raise" in box:
            raise stages_explain.RowError(box["raise"])
        box["reference"] = reference
        return SimpleNamespace(to_dict=lambda: box.get("explanation", {"prediction": 1, "note": "n"}))

    monkeypatch.setattr(explain, "get_registry", lambda home: box["calls"].append(("registry", home)) or Registry())
    monkeypatch.setattr(stages_explain, "with_derived_features",
                        lambda values, schema, where: {**values, "derived": 1.0})
    monkeypatch.setattr(stages_explain, "row_frame", lambda values, schema, where: ("frame", sorted(values), where))
    monkeypatch.setattr(stages_explain, "explain_row", explain_row)
    monkeypatch.setattr(stages_explain, "reference_rows", lambda prof, columns, k: ("reference", columns, k))
    real_load_baseline = profile.load_baseline

    def load_baseline(home, name, version, *, required):
        box["calls"].append(("baseline", name, version, required))
        return box["profile"] if not required else real_load_baseline(home, name, version, required=True)

    monkeypatch.setattr(profile, "load_baseline", load_baseline)
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    return box


def test_explain_assembles_the_document(capsys, explainer: dict, tmp_path) -> None:
    done = invoke(capsys, "explain", "credit-risk@1.2.0", "--row", '{"age": 41, "zip": "0150", "id": 7}', "--json",
                  "--reference-rows", "5")
    assert done.code == 0, done.err
    assert done.out.startswith('{\n  "model": "credit-risk",\n')
    assert json.loads(done.out) == {
        "model": "credit-risk", "version": "1.2.0", "status": "Approved", "environment": "prod",
        "artifact_sha256": "ab" * 32, "row_source": "--row JSON", "ignored_columns": ["derived", "id", "zip"],
        "prediction": 1, "note": "n"}
    assert explainer["calls"][:3] == [("registry", tmp_path), ("get", "credit-risk", "1.2.0"),
                                      ("load", "credit-risk", "1.2.0")]
    assert explainer["calls"][3] == ("baseline", "credit-risk", "1.2.0", False)
    assert explainer["calls"][4] == ("explain", ("frame", ["age", "derived", "id", "zip"], "--row JSON"),
                                     {"city": ["Oslo"]})
    assert explainer["reference"]() == ("reference", ["age", "city"], 5)
    invoke(capsys, "explain", "credit-risk", "--row", '{"age": 1}', "--json")
    assert ("get", "credit-risk", None) in explainer["calls"]
    assert explainer["reference"]()[2] == 10  # the default number of reference rows


def test_explain_without_a_baseline_or_a_schema(capsys, explainer: dict, tmp_path) -> None:
    explainer["profile"] = None
    done = invoke(capsys, "explain", "m@1.2.0", "--row", '{"age": 41}', "--json")
    assert done.code == 0 and explainer["calls"][-1][2] is None  # no known categories without a profile
    with pytest.raises(explain.UserError) as missing:
        explainer["reference"]()
    assert str(missing.value).startswith("no baseline profile for m 1.2.0 at ")
    explainer["raise"] = "column age: not a number"
    done = invoke(capsys, "explain", "m@1.2.0", "--row", '{"age": "x"}')
    assert (done.code, done.err) == (2, "error: --row JSON: column age: not a number\n")
    explainer["schema"] = False
    done = invoke(capsys, "explain", "m@1.2.0", "--row", '{"age": 41}')
    assert (done.code, done.err) == (2, "error: m 1.2.0 was not registered with an input schema (not a Modelway "
                                        "GuardedModel); explain needs the model's columns\n")


def test_explain_prints_the_text_view_by_default(capsys, explainer: dict) -> None:
    explainer["explanation"] = {k: v for k, v in _doc().items() if k not in (
        "model", "version", "status", "environment", "artifact_sha256", "ignored_columns")}
    done = invoke(capsys, "explain", "credit-risk@1.2.0", "--row", '{"age": 41, "id": 7}')
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert lines[0] == f"credit-risk 1.2.0  Approved (prod)  artifact sha256 {'ab' * 6}… verified against its signed registration"
    assert lines[3] == "ignored columns (not model inputs): derived, id"
