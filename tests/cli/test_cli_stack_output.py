"""``modelway stack show`` without a stack: the embedded default and the backend of each concern."""
from __future__ import annotations

import json

from tests.cli.cli_inprocess import invoke

CONCERNS = ["artifacts", "step cache", "registry", "tracking", "metrics", "alerts", "deployer", "executors"]


def test_stack_show_of_the_embedded_default(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    monkeypatch.delenv("MODELWAY_STACK", raising=False)
    monkeypatch.delenv("MODELWAY_OUTPUTS", raising=False)
    doc = json.loads(invoke(capsys, "stack", "show", "--json").out)
    assert (doc["stack"], doc["source"], doc["outputs_sha256"], doc["outputs"]) == (
        "embedded default", "this machine ($MODELWAY_HOME)", None, None)
    assert list(doc["backends"]) == CONCERNS
    lines = invoke(capsys, "stack", "show").out.splitlines()
    assert lines[:3] == ["stack      embedded default", "source     this machine ($MODELWAY_HOME)", "backends"]
    assert lines[3:] == [f"  {concern:<11} {doc['backends'][concern]}" for concern in CONCERNS]
    assert lines[4] == "  step cache  SQLite under $MODELWAY_HOME/modelway.db"


def test_export_needs_a_stack(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    monkeypatch.delenv("MODELWAY_STACK", raising=False)
    monkeypatch.delenv("MODELWAY_OUTPUTS", raising=False)
    done = invoke(capsys, "export", "sagemaker", "p.py", "-o", str(tmp_path / "d.json"))
    assert (done.code, done.err) == (2, "error: export sagemaker: name the stack to export for with --stack NAME or "
                                        "--outputs FILE\n")
    assert not (tmp_path / "d.json").exists()
