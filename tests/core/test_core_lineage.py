"""Datasets as immutable versions, lineage records, and `lineage impacted`."""
from __future__ import annotations

from pathlib import Path

import pytest
from core_helpers import cli, cli_json, executed, write_pipeline

from modelway.errors import UserError
from modelway.lineage import add_dataset, record_model, resolve

PIPE = """
from modelway import dataset, load_dataset, pipeline, step, record_model, step_context

@step
def count_rows(data) -> int:
    return len(data.path.read_text().splitlines())

@step
def train(rows: int) -> str:
    record_model("credit-risk", f"1.0.{rows}")
    return f"model-{rows}"

@pipeline
def uses_data(source: str = "credit") -> str:
    return train(count_rows(dataset(source)))
"""


def test_data_add_versions_are_content_hashes(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "credit.csv"
    data.write_text("a,b\n1,2\n")
    first = cli_json("data", "add", "credit", str(data), home=home)
    again = cli_json("data", "add", "credit", str(data), home=home)
    assert first["added"] and not again["added"]
    assert first["version"] == again["version"] == first["hash"][:12]
    data.write_text("a,b\n1,2\n3,4\n")
    second = cli_json("data", "add", "credit", str(data), home=home)
    assert second["version"] != first["version"]
    # the registered copy is immutable: changing the source does not change version 1
    assert Path(first["path"]).read_text() == "a,b\n1,2\n"
    assert resolve(f"credit@{first['version'][:6]}").hash == first["hash"]
    assert resolve("credit").version == second["version"]  # latest
    with pytest.raises(UserError, match=r"dataset 'credit' has no version 'ffff'"):
        resolve("credit@ffff")
    with pytest.raises(UserError, match=r"dataset 'nope' is not registered; add it with: modelway data add nope PATH"):
        resolve("nope")


def test_lineage_impacted_lists_runs_and_models(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "credit.csv"
    data.write_text("1\n2\n3\n")
    v1 = cli_json("data", "add", "credit", str(data), home=home)["version"]
    path = write_pipeline(tmp_path, PIPE)
    run1 = cli_json("run", str(path), home=home)
    cached = cli_json("run", str(path), home=home)
    assert executed(cached) == []  # same data version: cache hit...
    data.write_text("1\n2\n3\n4\n")
    v2 = cli_json("data", "add", "credit", str(data), home=home)["version"]
    run3 = cli_json("run", str(path), home=home)
    assert executed(run3) == ["count_rows", "train"]  # ...a new version invalidates the cache
    assert run3["outputs"] == {"result": "model-4"}

    impacted = cli_json("lineage", "impacted", "--dataset", f"credit@{v1}", home=home)
    assert [r["run_id"] for r in impacted["runs"]] == [run1["run_id"], cached["run_id"]]
    assert impacted["runs"][0]["steps"] == ["count_rows"]
    assert impacted["models"] == [{"model": "credit-risk", "version": "1.0.3", "run_id": run1["run_id"]}]
    impacted2 = cli_json("lineage", "impacted", "--dataset", f"credit@{v2}", home=home)
    assert [r["run_id"] for r in impacted2["runs"]] == [run3["run_id"]]

    text = cli("lineage", "impacted", "--dataset", f"credit@{v1}", home=home).stdout
    assert f"dataset credit@{v1}: 2 run(s), 1 model(s)" in text

    origin = cli_json("lineage", "model", "credit-risk", "1.0.3", home=home)
    assert origin["run"]["run_id"] == run1["run_id"] and origin["step"] == "train"
    assert origin["run"]["pipeline_file"]["path"] == str(path)
    assert [(d["name"], d["version"]) for d in origin["datasets"]] == [("credit", v1)]
    assert "pipeline uses_data" in cli("lineage", "model", "credit-risk", "1.0.3", home=home).stdout
    missing = cli("lineage", "model", "credit-risk", "9.9.9", home=home)
    assert missing.returncode == 2 and "no lineage for model credit-risk 9.9.9" in missing.stderr


def test_run_lineage_record(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "credit.csv"
    data.write_text("1\n")
    add_dataset("credit", data)
    path = write_pipeline(tmp_path, PIPE)
    run = cli_json("run", str(path), "--param", "source=credit", home=home)
    show = cli_json("runs", "show", run["run_id"], home=home)
    lineage = show["lineage"]
    assert lineage["params"] == {"source": "credit"}
    assert lineage["pipeline_file"]["path"] == str(path)
    assert len(lineage["pipeline_file"]["sha256"]) == 64
    assert lineage["python"]["version"].startswith("3.")
    assert {"pandas", "numpy", "scikit-learn", "pydantic"} <= set(lineage["packages"])
    assert lineage["host"]["name"]
    assert "git" in lineage  # {} outside a git work tree
    assert [(d["name"], d["step"]) for d in show["datasets"]] == [("credit", "count_rows")]
    assert show["datasets"][0]["hash"] == resolve("credit").hash  # the full content hash
    assert show["models"][0]["model"] == "credit-risk"


def test_record_model_outside_a_step(home: Path) -> None:
    record_model("m", "2.0.0", run_id="r1", home=home)
    from modelway.runtime.context import stores

    run_store, _ = stores(home)
    assert run_store.models_of_runs(["r1"])[0]["version"] == "2.0.0"


def test_git_lineage_in_a_repository(home: Path, tmp_path: Path) -> None:
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    path = write_pipeline(repo, PIPE.replace("dataset(source)", "source").replace("data.path.read_text()", "data"))
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=repo, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    run = cli_json("run", str(path), "--in-process", home=home)
    assert cli_json("runs", "show", run["run_id"], home=home)["lineage"]["git"] == {
        "commit": commit, "dirty": False, "root": str(repo)}
    path.write_text(path.read_text() + "\n# edit\n")
    run = cli_json("run", str(path), "--in-process", home=home)
    assert cli_json("runs", "show", run["run_id"], home=home)["lineage"]["git"]["dirty"] is True


def test_cache_hits_keep_lineage_and_attachments_of_the_producing_execution(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "credit.csv"
    data.write_text("1\n2\n")
    version = add_dataset("credit", data)[0].version
    path = write_pipeline(tmp_path, """
        from modelway import load_dataset, pipeline, step, step_context

        @step
        def read(name: str) -> int:
            rows = len(load_dataset(name).read_text().splitlines())
            step_context().attach("profile", {"rows": rows})
            return rows

        @step
        def double(rows: int) -> int:
            return 2 * rows

        @pipeline
        def in_step(name: str = "credit") -> int:
            return double(read(name))
    """)
    first = cli_json("run", str(path), home=home)
    second = cli_json("run", str(path), home=home)
    assert executed(second) == []
    impacted = cli_json("lineage", "impacted", "--dataset", f"credit@{version}", home=home)
    assert [r["run_id"] for r in impacted["runs"]] == [first["run_id"], second["run_id"]]
    show = cli_json("runs", "show", second["run_id"], home=home)
    assert [(a["step"], a["name"]) for a in show["attachments"]] == [("read", "profile")]
    steps = {s["name"]: s for s in show["steps"]}
    assert steps["double"]["inputs"] == {"read": steps["read"]["output_hash"]}


def test_unpinned_read_inside_a_step_is_not_reused_after_a_new_version(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "credit.csv"
    data.write_text("1\n")
    add_dataset("credit", data)
    path = write_pipeline(tmp_path, """
        from modelway import load_dataset, pipeline, step

        @step
        def latest_rows() -> int:
            return len(load_dataset("credit").read_text().splitlines())

        @step
        def pinned_rows(version: str) -> int:
            return len(load_dataset("credit", version=version).read_text().splitlines())

        @pipeline
        def reads(version: str = "") -> list:
            return [latest_rows(), pinned_rows(version)]
    """)
    v1 = resolve("credit").version
    first = cli_json("run", str(path), "--param", f"version={v1}", home=home)
    assert first["outputs"] == {"result": [1, 1]}
    assert executed(cli_json("run", str(path), "--param", f"version={v1}", home=home)) == []
    data.write_text("1\n2\n")
    add_dataset("credit", data)
    doc = cli_json("run", str(path), "--param", f"version={v1}", home=home)
    assert executed(doc) == ["latest_rows"]  # the pinned read stays cached
    assert doc["outputs"] == {"result": [2, 1]}


def test_lineage_of_a_version_that_does_not_exist_says_so(home: Path) -> None:
    record_model("credit-risk", "1.0.0", run_id=None, home=home)
    record_model("credit-risk", "1.1.0", run_id=None, home=home)
    missing = cli("lineage", "model", "credit-risk", "3.0.0", home=home)
    assert missing.returncode == 2
    assert "no version 3.0.0 of model credit-risk is recorded (recorded: 1.0.0, 1.1.0)" in missing.stderr
    assert "not registered by a pipeline run" not in missing.stderr
    unknown = cli("lineage", "model", "fraud", "1.0.0", home=home)
    assert unknown.returncode == 2 and "no version of model 'fraud' is recorded" in unknown.stderr


@pytest.mark.parametrize("name", ["bad name!", "x@y", "a/b", "", ".hidden", "é"])
def test_data_add_validates_the_name(home: Path, tmp_path: Path, name: str) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a\n1\n")
    proc = cli("data", "add", name, str(data), home=home)
    assert proc.returncode == 2, proc.stdout
    assert "must start with a letter or digit and use only letters, digits, '-', '_' and '.'" in proc.stderr
    assert cli("data", "add", "credit-v2.raw_1", str(data), home=home).returncode == 0
