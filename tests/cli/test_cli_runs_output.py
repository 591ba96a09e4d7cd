"""What ``modelway runs list | show``, ``data list`` and ``lineage`` print, line for line, for a
run store built record by record (no pipeline runs: fixed ids, timestamps and durations).

One home per module: a succeeded run with every section ``runs show`` has (outputs,
attachments, datasets, logs, notes, trigger, git, packages), a failed one with a traceback, a
run whose runner is gone (interrupted), and a registered dataset read by the first run.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from modelway.lineage.datasets import add_dataset
from modelway.runtime.context import stores

from tests.cli.cli_inprocess import invoke, utc

T0 = 1764806400.0  # 2025-12-04 00:00:00 UTC
OK, BAD, GONE = "r-20251204-000000-ok", "r-20251204-000100-bad", "r-20251204-000200-gone"
REMOTE = "r-20251204-000300-remote"  # running on another host: assumed alive, so still "running"
EARLIER = "r-20251204-000130-remote"  # the same, older than GONE
LINEAGE = {
    "git": {"commit": "0123456789abcdef0123", "dirty": True},
    "pipeline_file": {"path": "pipelines/train.py", "sha256": "feedfacecafebeef0011"},
    "python": {"version": "3.11.9"}, "host": {"name": "build-7"},
    "packages": {"numpy": "2.1.0", "pandas": "2.2.3"},
    "trigger": {"triggers": ["drift", "schedule"], "launch_id": 4, "reason": "PSI 0.31 on age"},
}
STEP = {"func": "f", "upstream": [], "settings": {}}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("runs-output")
    data_file = home.parent / "credit.csv"
    data_file.write_text("a,b\n1,2\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELWAY_HOME", str(home))
        ref, _ = add_dataset("credit", data_file)
    runs, artifacts = stores(home)
    model_out = artifacts.put({"coef": [1, 2]})
    report = artifacts.put_text("accuracy 0.9\n")

    runs.create_run(OK, "training", str(Path("/src/pipelines/train.py")), {"n": 3, "when": "2025-12-01"},
                    "process", True, LINEAGE, [{"name": "load", **STEP}, {"name": "fit", **STEP}])
    runs.step_started(OK, "load", 1, "k1")
    runs.step_started(OK, "load", 2, "k1")  # a retry
    runs.step_succeeded(OK, "load", attempt=2, output=model_out, duration_s=1.234, cpu_s=0.5, peak_rss_mb=123.4,
                        cache_key="k1", cacheable=True)
    runs.step_cached(OK, "fit", "k2", {"hash": "ab" * 32, "kind": "pickle", "run_id": None, "step": None})
    runs.record_dataset_usage(OK, "load", "credit", ref.version)
    runs.add_attachment(OK, "fit", "report", report)
    runs.log(OK, "load", "read 2 rows")
    runs.log(OK, None, "gate accuracy passed", kind="note")
    runs.record_model("credit-risk", "1.2.0", OK, "fit", "cd" * 32)
    runs.finish_run(OK, "succeeded", None, {"result": {"model": "credit-risk"}})

    runs.create_run(BAD, "a-pipeline-name-longer-than-twenty", None, {}, "inprocess", True, {},
                    [{"name": "prep-step-with-a-name-over-24-chars", **STEP}, {"name": "fit", **STEP},
                     {"name": "gate", **STEP}])
    runs.step_started(BAD, "prep-step-with-a-name-over-24-chars", 1, None)
    runs.step_failed(BAD, "prep-step-with-a-name-over-24-chars", attempt=1, status="failed", error="ValueError: boom",
                     traceback="Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: boom\n",
                     duration_s=0.25)
    runs.steps_not_run(BAD, {"fit": ("skipped", "upstream prep did not finish"),
                             "gate": ("cancelled", "the run stopped first")})
    runs.finish_run(BAD, "failed", "step gate: the run stopped first", None)

    runs.create_run(GONE, "training", None, {}, "process", True, {}, [{"name": "load", **STEP}])
    runs.record_dataset_usage(OK, "fit", "credit", ref.version)
    runs.add_attachment(OK, "load", "coefs", artifacts.put({"a": 1}))  # not a file: no path to open
    remote_lineage = {"stack": {"name": "dev"}, "host": {"name": "elsewhere"}, "git": {"branch": "main"},
                      "pipeline_file": {"path": "score.py"}}
    for run_id in (REMOTE, EARLIER):
        runs.create_run(run_id, "scoring", None, {}, "process", True, remote_lineage, [{"name": "score", **STEP}])
    with runs.tx() as c:  # fixed times: OK at T0 for 65.5 s, BAD at T0+60 (no end), GONE at T0+120, REMOTE at T0+180
        c.execute("UPDATE runs SET pid=?, host=? WHERE run_id IN (?, ?)", (1, "elsewhere", REMOTE, EARLIER))
        c.execute("UPDATE runs SET resumes=2 WHERE run_id=?", (BAD,))
        c.execute("UPDATE attachments SET created_at=? WHERE name='report'", (T0 + 2,))
        c.execute("UPDATE attachments SET created_at=? WHERE name='coefs'", (T0 + 3,))
        for run_id, start, end in ((OK, T0, T0 + 65.5), (BAD, T0 + 60, None), (EARLIER, T0 + 90, None),
                                   (GONE, T0 + 120, None), (REMOTE, T0 + 180, None)):
            c.execute("UPDATE runs SET created_at=?, started_at=?, ended_at=? WHERE run_id=?", (start, start, end, run_id))
        c.execute("UPDATE events SET ts=? WHERE run_id=?", (T0 + 1, OK))
        c.execute("UPDATE steps SET duration_s=NULL WHERE run_id=? AND name='fit'", (BAD,))
        c.execute("UPDATE datasets SET created_at=?", (T0 - 3600,))
        c.execute("UPDATE dataset_usage SET ts=? + (step = 'fit')", (T0 + 2,))
    return home


@pytest.fixture(autouse=True)
def _env(home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODELWAY_HOME", str(home))
    monkeypatch.delenv("MODELWAY_STACK", raising=False)
    monkeypatch.delenv("MODELWAY_OUTPUTS", raising=False)
    with utc():
        yield


def _dataset(home: Path) -> dict:
    return stores(home)[0].datasets("credit")[0]


def _version(home: Path) -> str:
    return _dataset(home)["version"]


def test_runs_list_prints_one_aligned_row_per_run_newest_first(capsys) -> None:
    done = invoke(capsys, "runs", "list")
    assert done.code == 0, done.err
    assert done.out.splitlines() == [
        "RUN ID                   PIPELINE             STATUS       STARTED              DURATION  STEPS CACHED",
        f"{REMOTE} scoring              running      2025-12-04 00:03:00         -      1      0",
        f"{GONE}   training             interrupted  2025-12-04 00:02:00         -      1      0",
        f"{EARLIER} scoring              running      2025-12-04 00:01:30         -      1      0",
        f"{BAD}    a-pipeline-name-long failed       2025-12-04 00:01:00         -      3      0",
        f"{OK}     training             succeeded    2025-12-04 00:00:00    65.50s      2      1",
    ]


def test_runs_list_filters_and_limits(capsys) -> None:
    assert invoke(capsys, "runs", "list", "--limit", "2").out.splitlines()[1:] == [
        f"{REMOTE} scoring              running      2025-12-04 00:03:00         -      1      0",
        f"{GONE}   training             interrupted  2025-12-04 00:02:00         -      1      0"]

    def listed(*args: str) -> list[str]:
        return [r["run_id"] for r in json.loads(invoke(capsys, "runs", "list", "--json", *args).out)]

    # interrupted is a stored "running" run whose runner is gone: both kinds are read, only it is kept
    assert listed("--status", "interrupted") == [GONE]
    assert listed("--status", "running") == [REMOTE, EARLIER]
    assert listed("--status", "failed", "--limit", "1") == [BAD]  # the limit counts runs of that status
    # the limit applies after the derived status: the alive REMOTE (newer) does not hide the interrupted GONE,
    # nor GONE the alive EARLIER (older)
    assert listed("--status", "interrupted", "--limit", "1") == [GONE]
    assert listed("--status", "running", "--limit", "2") == [REMOTE, EARLIER]
    assert listed("--limit", "3") == [REMOTE, GONE, EARLIER]
    rows = json.loads(invoke(capsys, "runs", "list", "--pipeline", "training", "--json").out)
    assert invoke(capsys, "runs", "list", "-p", "training", "--limit", "1").out.splitlines()[1:] == [
        f"{GONE}   training             interrupted  2025-12-04 00:02:00         -      1      0"]
    assert [(r["run_id"], r["status"], r["duration_s"], r["steps"], r["cached"], r["params"], r["error"]) for r in rows] == [
        (GONE, "interrupted", None, 1, 0, {}, None),
        (OK, "succeeded", 65.5, 2, 1, {"n": 3, "when": "2025-12-01"}, None)]
    assert rows[1]["created_at"] == T0 and rows[1]["pipeline"] == "training"
    # runs exist, none match: said so (not "no runs yet")
    assert invoke(capsys, "runs", "list", "--pipeline", "nope").out == "no runs match --pipeline nope\n"
    assert invoke(capsys, "runs", "list", "-p", "training", "--status", "cancelled").out == (
        "no runs match --pipeline training --status cancelled\n")
    assert invoke(capsys, "runs", "list", "--status", "failed").out.splitlines()[1:] == [
        f"{BAD}    a-pipeline-name-long failed       2025-12-04 00:01:00         -      3      0"]


def test_runs_list_refuses_a_status_that_no_run_can_have(capsys) -> None:
    wrong = invoke(capsys, "runs", "list", "--status", "succeded")
    assert (wrong.code, wrong.out, wrong.err) == (2, "", "error: --status 'succeded' is no run status; use one of: "
                                                         "running, succeeded, failed, cancelled, interrupted\n")


def test_runs_show_prints_every_section_of_a_succeeded_run(capsys, home: Path) -> None:
    done = invoke(capsys, "runs", "show", OK[:17])
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    attached = {a["name"]: a["hash"] for a in stores(home)[0].attachments(OK)}
    report = [line for line in lines if line.startswith("  fit/report")]
    version = _version(home)
    assert lines == [
        f"run       {OK}",
        "pipeline  training  (/src/pipelines/train.py)",
        "status    succeeded",
        "started   2025-12-04 00:00:00   duration 65.50s   executor process",
        'params    {"n": 3, "when": "2025-12-01"}',
        "",
        "STEP                     STATUS     CACHED TRIES  DURATION      CPU  PEAK MB  OUTPUT",
        f"load                     succeeded  no         2     1.23s    0.50s      123  json:{lines[7][-12:]}",
        f"fit                      cached     yes        0     0.00s        -        -  pickle:{'ab' * 6}",
        "",
        'outputs   {"result": {"model": "credit-risk"}}',
        "",
        "attachments",
        *report,
        f"  load/coefs  json:{attached['coefs'][:12]}",
        "",
        f"datasets  credit@{version} (load), credit@{version} (fit)",
        "",
        "logs",
        "  2025-12-04 00:00:01 [load] read 2 rows",
        "",
        "notes",
        "  2025-12-04 00:00:01 gate accuracy passed",
        "",
        "lineage",
        "  trigger   drift, schedule (launch 4): PSI 0.31 on age",
        "  git       0123456789ab (dirty)",
        "  file      pipelines/train.py sha256:feedfacecafe",
        "  python    3.11.9  host build-7",
        "  packages  numpy 2.1.0, pandas 2.2.3",
    ]
    assert len(report) == 1 and report[0].startswith(f"  fit/report  text:{attached['report'][:12]}  {home}")
    assert report[0].endswith(".txt")


def test_runs_show_of_a_failed_run_names_each_unfinished_step_once(capsys) -> None:
    done = invoke(capsys, "runs", "show", BAD)
    assert done.code == 0, done.err
    assert done.out.splitlines() == [
        f"run       {BAD}",
        "pipeline  a-pipeline-name-longer-than-twenty  (from Python)",
        "status    failed: step gate: the run stopped first",
        "started   2025-12-04 00:01:00   duration -   executor inprocess   resumed 2x",
        "params    {}",
        "",
        "STEP                     STATUS     CACHED TRIES  DURATION      CPU  PEAK MB  OUTPUT",
        "prep-step-with-a-name-ov failed     no         1     0.25s        -        -  ",
        "fit                      skipped    no         0         -        -        -  ",
        "gate                     cancelled  no         0         -        -        -  ",
        "",
        "lineage",
        "  python    None  host None",
        "",
        "step prep-step-with-a-name-over-24-chars failed: ValueError: boom",
        "Traceback (most recent call last):",
        '  File "x.py", line 1',
        "ValueError: boom",
        "step fit skipped: upstream prep did not finish",
    ]


def test_runs_show_of_a_run_with_little_lineage(capsys) -> None:
    lines = invoke(capsys, "runs", "show", REMOTE).out.splitlines()
    assert lines[2:4] == ["status    running", "started   2025-12-04 00:03:00   duration -   executor process"]
    assert lines[-4:] == ["lineage", "  git       ", "  file      score.py sha256:", "  python    None  host elsewhere"]


def test_runs_show_json_and_unknown_runs(capsys) -> None:
    doc = json.loads(invoke(capsys, "runs", "show", "latest", "--json").out)
    assert (doc["run_id"], doc["status"]) == (REMOTE, "running")
    assert json.loads(invoke(capsys, "runs", "show", GONE, "--json").out)["status"] == "interrupted"
    missing = invoke(capsys, "runs", "show", "r-1999")
    assert (missing.code, missing.err) == (2, "error: no run 'r-1999'; list runs with: modelway runs list\n")


def test_data_list_and_lineage(capsys, home: Path) -> None:
    version = _version(home)
    listed = invoke(capsys, "data", "list")
    assert listed.out.splitlines() == [f"credit@{version}  1 file(s)  8 bytes  2025-12-03 23:00:00  "
                                       f"{home.parent / 'credit.csv'}"]
    assert invoke(capsys, "data", "list", "other").out == f"no datasets in {home}; register one with: modelway data add NAME PATH\n"
    impacted = invoke(capsys, "lineage", "impacted", "--dataset", f"credit@{version}")
    assert impacted.out.splitlines() == [
        f"dataset credit@{version}: 1 run(s), 1 model(s)",
        f"  run   {OK}  training  succeeded  steps: load, fit",
        f"  model credit-risk 1.2.0  (run {OK})",
    ]
    model = invoke(capsys, "lineage", "model", "credit-risk", "1.2.0")
    assert model.code == 0, model.err
    assert model.out.splitlines() == [
        f"model credit-risk 1.2.0  artifact sha256:{'cd' * 32}",
        f"  run       {OK}  pipeline training  succeeded  2025-12-04 00:00:00  step fit",
        "  git       0123456789abcdef0123 (dirty)",
        "  file      pipelines/train.py sha256:feedfacecafebeef0011",
        '  params    {"n": 3, "when": "2025-12-01"}',
        f"  data      credit@{version} sha256:{_dataset(home)['hash']} (read by load)",
        f"  data      credit@{version} sha256:{_dataset(home)['hash']} (read by fit)",
        "  python    3.11.9  host build-7",
        "  packages  numpy 2.1.0, pandas 2.2.3",
    ]


def test_read_only_commands_on_a_missing_home_create_nothing(capsys, tmp_path: Path, monkeypatch) -> None:
    nowhere = tmp_path / "nowhere"
    monkeypatch.setenv("MODELWAY_HOME", str(nowhere))
    assert invoke(capsys, "runs", "list").out == f"no runs yet in {nowhere}; start one with: modelway run PIPELINE.py\n"
    assert invoke(capsys, "runs", "list", "--json").out == "[]\n"
    shown = invoke(capsys, "runs", "show", "latest")
    assert shown.code == 2 and shown.err == (
        f"error: no run 'latest': there is no Modelway home at {nowhere}; run this in your project directory "
        "or set MODELWAY_HOME to the home your runs use\n")
    assert invoke(capsys, "lineage", "impacted", "-d", "credit").err.startswith(
        f"error: no dataset 'credit': there is no Modelway home at {nowhere};")
    assert invoke(capsys, "lineage", "model", "m", "1.0.0").err.startswith(
        f"error: no lineage for model m 1.0.0: there is no Modelway home at {nowhere};")
    assert invoke(capsys, "data", "list", "--json").out == "[]\n"
    assert not nowhere.exists()
    stores(nowhere)  # a home with an empty run store
    assert invoke(capsys, "runs", "list").out == "no runs yet; start one with: modelway run PIPELINE.py\n"


@pytest.fixture()
def resumed(monkeypatch: pytest.MonkeyPatch) -> list:
    """resume_run records its arguments and returns a result with the status in calls[0] (first item)."""
    import modelway.runtime.runner as runner

    calls: list = ["succeeded"]

    def resume_run(run_id: str, **kwargs) -> SimpleNamespace:
        calls.append((run_id, kwargs))
        return SimpleNamespace(status=calls[0], run_id=run_id, resumable=True,
                               to_json=lambda: {"run_id": run_id, "status": calls[0]})

    monkeypatch.setattr(runner, "resume_run", resume_run)
    return calls


def _on_stack(monkeypatch: pytest.MonkeyPatch, name: str | None) -> None:
    import modelway.cli.pipeline_runs as pipeline_runs

    resolved = None if name is None else SimpleNamespace(name=name)
    monkeypatch.setattr(pipeline_runs, "use_stack", lambda stack, outputs: SimpleNamespace(resolved=resolved))


def test_resume_passes_the_display_executor_and_workers(capsys, resumed: list) -> None:
    done = invoke(capsys, "resume", BAD, "--plain", "--in-process", "-w", "3")
    assert (done.code, done.out, done.err) == (0, "", "")
    assert resumed[1:] == [(BAD, {"display": "plain", "executor": "inprocess", "workers": 3})]
    invoke(capsys, "resume", BAD)
    assert resumed[-1] == (BAD, {"display": "auto", "executor": None, "workers": None})
    resumed[0] = "failed"
    done = invoke(capsys, "resume", BAD, "--json")
    assert (done.code, json.loads(done.out), done.err) == (1, {"run_id": BAD, "status": "failed"}, "")
    assert resumed[-1][1]["display"] == "none"
    done = invoke(capsys, "resume", BAD)
    assert (done.code, done.out) == (1, "")
    assert done.err == f"see the details with: modelway runs show {BAD}; continue with: modelway resume {BAD}\n"
    resumed[0] = "cancelled"
    assert invoke(capsys, "resume", BAD).code == 130


def test_a_run_resumes_only_on_the_stack_it_started_on(capsys, resumed: list, monkeypatch) -> None:
    elsewhere = invoke(capsys, "resume", REMOTE)
    assert (elsewhere.code, elsewhere.err) == (
        2, f"error: run {REMOTE} started on stack dev; resume it there (the same --stack/--outputs), its artifacts "
           "and step cache live there\n")
    _on_stack(monkeypatch, "prod")
    embedded = invoke(capsys, "resume", BAD[:17])
    assert embedded.err == (f"error: run {BAD} started on the embedded default; resume it there (the same "
                            "--stack/--outputs), its artifacts and step cache live there\n")
    assert len(resumed) == 1
    _on_stack(monkeypatch, "dev")
    assert invoke(capsys, "resume", REMOTE).code == 0 and resumed[-1][0] == REMOTE
    invoke(capsys, "resume", "r-1999")  # unknown: resume_run itself says so
    assert resumed[-1][0] == "r-1999"


def test_resume_without_the_ml_extra_or_a_home(capsys, resumed: list, monkeypatch, tmp_path: Path) -> None:
    import modelway.extras as extras

    monkeypatch.setattr(extras, "missing", lambda extra: ["sklearn"] if extra == "ml" else [])
    done = invoke(capsys, "resume", BAD)
    assert (done.code, done.err) == (2, "error: modelway resume needs the ml extra (sklearn not installed): "
                                        "pip install 'modelway[ml]'\n")
    monkeypatch.setattr(extras, "missing", lambda extra: [])
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path / "none"))
    done = invoke(capsys, "resume", "latest")
    assert done.err.startswith(f"error: no run 'latest': there is no Modelway home at {tmp_path / 'none'};")
    assert len(resumed) == 1


def test_times_and_durations_without_a_value() -> None:
    from modelway.cli.pipeline_runs import _fmt_dur, _fmt_time

    assert (_fmt_time(None), _fmt_time(0), _fmt_dur(None), _fmt_dur(0.0), _fmt_dur(0.005)) == ("-", "-", "-", "0.00s", "0.01s")


def test_data_add_says_whether_the_content_is_new(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path / "h"))
    data = tmp_path / "d.csv"
    data.write_text("x\n1\n")
    first = invoke(capsys, "data", "add", "credit", str(data), "--json")
    doc = json.loads(first.out)
    assert (doc["name"], doc["added"], doc["version"]) == ("credit", True, doc["hash"][:12])
    assert doc["path"].startswith(str(tmp_path / "h"))
    again = invoke(capsys, "data", "add", "credit", str(data))
    assert again.out == f"credit@{doc['version']}  already registered (same content)  sha256:{doc['hash']}\n"
    data.write_text("x\n2\n")
    new = invoke(capsys, "data", "add", "credit", str(data))
    assert new.out.startswith("credit@") and "  registered  sha256:" in new.out
    missing = tmp_path / "none.json"
    done = invoke(capsys, "data", "--outputs", str(missing), "list")
    assert (done.code, done.err) == (2, f"error: {missing}: cannot read stack outputs ([Errno 2] No such file or "
                                        f"directory: '{missing}')\n")


def test_run_through_typer_passes_every_option_in_place(capsys, monkeypatch) -> None:
    import modelway.cli.running as running

    seen: list = []
    monkeypatch.setattr(running, "run", lambda *args: seen.append(args))
    # `--opt=value` is left to Typer (not the fast path): the command hands each option to running.run
    done = invoke(capsys, "run", "p.py", "--pipeline=train", "--param=n=3", "-P", "m=4", "--no-cache", "--in-process",
                  "--workers=5", "--json", "--plain", "--dry-run", "--stack=dev", "--outputs=o.json")
    assert done.code == 0, done.err
    assert seen == [(Path("p.py"), "train", ["n=3", "m=4"], True, True, 5, True, True, True, "dev", Path("o.json"))]
    invoke(capsys, "run", "p.py", "--workers=1")
    assert seen[-1] == (Path("p.py"), None, [], False, False, 1, False, False, False, None, None)


def test_runs_show_says_each_unfinished_step_once(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    runs, _ = stores(tmp_path)
    names = ["ok", "said", "retry", "cut", "skip", "trace", "quiet"]
    runs.create_run("r-mixed", "p", None, {}, "inprocess", True, {}, [{"name": n, **STEP} for n in names])
    for name, status, error, trace in (("said", "failed", "boom", None), ("retry", "retrying", "flaky", None),
                                       ("cut", "cancelled", "stopped", None), ("trace", "failed", None, "Traceback: x"),
                                       ("quiet", "failed", None, None)):
        runs.step_failed("r-mixed", name, attempt=1, status=status, error=error, traceback=trace, duration_s=None)
    runs.steps_not_run("r-mixed", {"skip": ("skipped", "upstream said did not finish")})
    runs.finish_run("r-mixed", "failed", "step 'said' failed: boom", None)
    lines = invoke(capsys, "runs", "show", "r-mixed").out.splitlines()
    # "said" is in the status line already; the first step said gets a blank line, a traceback gets one each
    assert lines[lines.index("lineage"):] == [
        "lineage", "  python    None  host None", "",
        "step retry retrying: flaky",
        "step cut cancelled: stopped",
        "step skip skipped: upstream said did not finish",
        "",
        "step trace failed: None",
        "Traceback: x",
    ]


def test_lineage_of_a_version_made_outside_a_run_or_with_little_lineage(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    runs, _ = stores(tmp_path)
    runs.create_run("r-little", "p", None, {}, "inprocess", True, {"git": {"branch": "main"}}, [])
    runs.record_model("m", "1.0.0", None, None, None)
    runs.record_model("m", "2.0.0", "r-little", None, None)
    assert invoke(capsys, "lineage", "model", "m", "1.0.0").out.splitlines() == [
        "model m 1.0.0", "  produced outside a recorded run"]
    lines = invoke(capsys, "lineage", "model", "m", "2.0.0").out.splitlines()
    assert lines[0] == "model m 2.0.0" and lines[2] == "  git       None"
    assert re.fullmatch(r"  run       r-little  pipeline p  running  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", lines[1])
