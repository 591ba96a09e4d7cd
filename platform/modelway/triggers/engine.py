"""Evaluate retraining triggers and launch pipelines through the normal runner, without storms.

One evaluation, per pipeline of the triggers file:

1. reap finished launches: read the run id from the run's JSON output and record the
   trigger (pipeline, trigger name, reason, time) in that run's lineage;
2. evaluate each trigger's condition (:func:`condition`);
3. fire only if a condition holds *and* the pipeline is not already retraining *and* its
   cooldown has passed since the last launch *and* fewer than ``max_concurrent`` retrains
   are running. A condition that stays true therefore fires once per cooldown, not on
   every evaluation. ``dry_run`` decides and explains, launches and records nothing.

Launches are ``modelway run FILE --json --param ...`` subprocesses (the normal runner, the
same gates, registry and approvals); their state lives in
``$MODELWAY_HOME/triggers/triggers.db``.

Example:
    >>> import tempfile
    >>> TriggerState(Path(tempfile.mkdtemp())).running()
    []
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from modelway.monitoring.sinks import SqliteMetricsSink
from modelway.runtime.context import stores
from modelway.sqlite_wal import connect_wal
from modelway.triggers import incremental
from modelway.triggers.config import PipelineTriggers, TriggersConfig, TriggerSpec

SCHEMA = """
CREATE TABLE IF NOT EXISTS trigger_state (
    pipeline TEXT NOT NULL, trigger TEXT NOT NULL, armed_at REAL NOT NULL, last_fired REAL, marker TEXT,
    PRIMARY KEY (pipeline, trigger)
);
CREATE TABLE IF NOT EXISTS launches (
    id INTEGER PRIMARY KEY AUTOINCREMENT, pipeline TEXT NOT NULL, triggers TEXT NOT NULL, reason TEXT NOT NULL,
    pid INTEGER, started REAL NOT NULL, finished REAL, run_id TEXT, status TEXT NOT NULL, log_path TEXT
);
"""


@dataclass
class Decision:
    """What one evaluation decided for one pipeline, and why."""

    pipeline: str
    fire: bool
    reason: str
    triggers: list[str]
    launch_id: int | None = None
    run_id: str | None = None
    status: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TriggerState:
    """Per-trigger memory (armed, last fired, marker) and the launches, in SQLite."""

    def __init__(self, home: Path):
        self.root = Path(home) / "triggers"
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "triggers.db"
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with connect_wal(self.path, row_factory=sqlite3.Row) as db:
            yield db

    def get(self, pipeline: str, trigger: str, now: float) -> sqlite3.Row:
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO trigger_state (pipeline, trigger, armed_at) VALUES (?,?,?)", (pipeline, trigger, now))
            return db.execute("SELECT * FROM trigger_state WHERE pipeline = ? AND trigger = ?", (pipeline, trigger)).fetchone()

    def set_marker(self, pipeline: str, trigger: str, marker: str | None) -> None:
        with self._connect() as db:
            db.execute("UPDATE trigger_state SET marker = ? WHERE pipeline = ? AND trigger = ?", (marker, pipeline, trigger))

    def fired(self, pipeline: str, trigger: str, now: float, marker: str | None) -> None:
        with self._connect() as db:
            db.execute("UPDATE trigger_state SET last_fired = ?, marker = COALESCE(?, marker) WHERE pipeline = ? AND trigger = ?",
                       (now, marker, pipeline, trigger))

    def add_launch(self, pipeline: str, triggers: list[str], reason: str, pid: int | None, log_path: str | None,
                   now: float) -> int:
        with self._connect() as db:
            cur = db.execute("INSERT INTO launches (pipeline, triggers, reason, pid, started, status, log_path) "
                             "VALUES (?,?,?,?,?,?,?)", (pipeline, json.dumps(triggers), reason, pid, now, "running", log_path))
            return int(cur.lastrowid)

    def finish(self, launch_id: int, status: str, run_id: str | None) -> None:
        with self._connect() as db:
            db.execute("UPDATE launches SET status = ?, run_id = ?, finished = ? WHERE id = ?",
                       (status, run_id, time.time(), launch_id))

    def running(self, pipeline: str | None = None) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM launches WHERE status = 'running' AND (? IS NULL OR pipeline = ?)",
                              (pipeline, pipeline)).fetchall()
        return [dict(r) for r in rows]

    def last_launch(self, pipeline: str) -> float | None:
        with self._connect() as db:
            row = db.execute("SELECT MAX(started) FROM launches WHERE pipeline = ?", (pipeline,)).fetchone()
        return row[0]

    def launches(self) -> list[dict[str, Any]]:
        with self._connect() as db:
            return [dict(r) for r in db.execute("SELECT * FROM launches ORDER BY id")]


# --- conditions --------------------------------------------------------------------------------

def condition(spec: TriggerSpec, state: sqlite3.Row, home: Path, now: float) -> tuple[bool, str, str | None]:
    """(holds, why, new marker) for one trigger; markers remember what was already acted on."""
    since = state["last_fired"] or state["armed_at"]
    if spec.kind == "schedule":
        from croniter import croniter

        due = croniter(spec.cron, datetime.fromtimestamp(since, timezone.utc)).get_next(float)
        return due <= now, f"schedule '{spec.cron}' was due at {_iso(due)}" if due <= now else f"next run {_iso(due)}", None
    if spec.kind in ("drift", "performance"):
        name = "drift.features_drifted" if spec.kind == "drift" else spec.metric
        seen = [m for m in SqliteMetricsSink(home).query(name, {"model": spec.model}) if m.ts > (state["last_fired"] or 0)]
        if not seen:
            return False, f"no {name} of {spec.model} from a monitor pass since the last launch", None
        latest = seen[-1]
        if spec.kind == "drift":
            holds = latest.value > spec.max_drifted_features
            return holds, f"monitor at {_iso(latest.ts)} found {latest.value:.0f} drifted feature(s) of {spec.model} " \
                          f"(limit {spec.max_drifted_features})", None
        holds = latest.value < spec.below
        return holds, f"{name} of {spec.model} is {latest.value:.3f} at {_iso(latest.ts)} (threshold {spec.below})", None
    if spec.kind == "data":
        run_store, _ = stores(home)
        versions = run_store.datasets(spec.dataset)
        if not versions:
            return False, f"dataset {spec.dataset} has no version yet", None
        current = versions[0]["version"]
        if state["marker"] is None:  # first look: remember what exists; only what comes later is new
            return False, f"armed on {spec.dataset}@{current}", current
        return current != state["marker"], f"new dataset version {spec.dataset}@{current} (was {state['marker']})", current
    # labels
    from modelway.serving.traffic import traffic_path

    path = traffic_path(home, spec.endpoint)
    count = 0
    if path.exists():
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            count = db.execute("SELECT COUNT(*) FROM feedback WHERE ts > ?", (since,)).fetchone()[0]
        finally:
            db.close()
    return count >= spec.new_rows, f"{count} new labelled rows on {spec.endpoint} (need {spec.new_rows})", None


# --- evaluation --------------------------------------------------------------------------------

def evaluate(config: TriggersConfig, home: Path, *, base_dir: Path, dry_run: bool = False, wait: bool = False,
             now: float | None = None, log: Callable[[str], None] | None = None) -> list[Decision]:
    """Decide (and unless ``dry_run`` launch) the pipelines whose triggers fire; see the module docstring."""
    log = log or (lambda message: None)
    now = now or time.time()
    store = TriggerState(home)
    reap(store, home)
    decisions: list[Decision] = []
    for name, pipe in config.pipelines.items():
        holding: list[tuple[str, str, str | None]] = []
        for spec in pipe.triggers:
            row = store.get(name, spec.name, now)
            holds, why, marker = condition(spec, row, home, now)
            if holds:
                holding.append((spec.name, why, marker))
            elif marker is not None and row["marker"] is None and not dry_run:
                store.set_marker(name, spec.name, marker)
        if not holding:
            decisions.append(Decision(name, False, "no trigger condition holds", []))
            continue
        names = [h[0] for h in holding]
        reason = "; ".join(f"{h[0]}: {h[1]}" for h in holding)
        last = store.last_launch(name)
        if store.running(name):
            decisions.append(Decision(name, False, f"already retraining (launch {store.running(name)[0]['id']}); {reason}", names))
        elif last is not None and now - last < pipe.cooldown_s:
            decisions.append(Decision(name, False, f"cooling down until {_iso(last + pipe.cooldown_s)} "
                                                   f"(cooldown {pipe.cooldown}); {reason}", names))
        elif len(store.running()) >= config.max_concurrent:
            decisions.append(Decision(name, False, f"concurrency cap: {len(store.running())} retrain(s) running "
                                                   f"(max_concurrent {config.max_concurrent}); {reason}", names))
        elif dry_run:
            decisions.append(Decision(name, True, reason, names))
        elif (inc := _incremental(store, home, name, pipe, holding, reason, now)) is not None:
            decisions.append(inc)
        else:
            launch_id = launch(store, home, name, pipe, names, reason, base_dir=base_dir, now=now)
            for trigger, _, marker in holding:
                store.fired(name, trigger, now, marker)
            log(f"launched {name} (launch {launch_id}): {reason}")
            decisions.append(Decision(name, True, reason, names, launch_id=launch_id, status="running"))
    if wait and not dry_run:
        for d in decisions:
            if d.launch_id is not None:
                _wait(store, d.launch_id)
        reap(store, home)
        finished = {r["id"]: r for r in store.launches()}
        for d in decisions:
            if d.launch_id is not None:
                d.run_id, d.status = finished[d.launch_id]["run_id"], finished[d.launch_id]["status"]
    return decisions


def _incremental(store: TriggerState, home: Path, name: str, pipe: PipelineTriggers, holding: list[tuple[str, str, str | None]],
                 reason: str, now: float) -> Decision | None:
    """Run a partial_fit update for a firing incremental trigger; None means: launch the pipeline instead."""
    specs = {s.name: s for s in pipe.triggers}
    for trigger, _, marker in holding:
        spec = specs[trigger]
        if not spec.incremental:
            continue
        row = store.get(name, trigger, now)
        out = incremental.update(home, spec.endpoint, since=row["last_fired"] or row["armed_at"], reason=reason,
                                 trigger={"pipeline": name, "triggers": [trigger], "evaluated_at": _iso(now)})
        if not out["incremental"]:
            return None  # no partial_fit or too few rows: the full pipeline runs (reason unchanged)
        launch_id = store.add_launch(name, [trigger], reason, None, None, now)
        status = f"incremental {out['version']} {out['status']}"
        store.finish(launch_id, status, None)
        store.fired(name, trigger, now, marker)
        return Decision(name, True, f"{reason}; partial_fit of {out['base_version']} on {out['rows']} rows -> "
                        f"{out['version']} {out['status']} (holdout accuracy {out['holdout_accuracy']:.3f} vs "
                        f"{out['base_accuracy']:.3f})", [trigger], launch_id=launch_id, status=status)
    return None


def launch(store: TriggerState, home: Path, name: str, pipe: PipelineTriggers, triggers: list[str], reason: str, *,
           base_dir: Path, now: float) -> int:
    """Start ``modelway run FILE --json`` for the pipeline (detached); returns the launch id."""
    file = (base_dir / pipe.file).resolve()
    logs = store.root / "logs"
    logs.mkdir(exist_ok=True)
    out = logs / f"{name}-{int(now * 1000)}.json"
    params = [arg for k, v in pipe.params.items() for arg in ("--param", f"{k}={_param(v)}")]
    env = {**os.environ, "MODELWAY_HOME": str(home)}
    with open(out, "wb") as stdout, open(out.with_suffix(".log"), "wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "modelway.cli.main", "run", str(file), "--json", "--plain", *params],
                                stdout=stdout, stderr=stderr, env=env, cwd=base_dir, start_new_session=True)
    launch_id = store.add_launch(name, triggers, reason, proc.pid, str(out), now)
    _CHILDREN[_child_key(store, launch_id)] = proc
    return launch_id


# Launches of this process, reaped with wait(), not just pid checks. Keyed by the state database
# too: launch ids restart at 1 in every home, and one process may evaluate several homes.
_CHILDREN: dict[tuple[str, int], subprocess.Popen] = {}


def _child_key(store: TriggerState, launch_id: int) -> tuple[str, int]:
    return str(store.path.resolve()), launch_id


def _alive(store: TriggerState, launch: dict[str, Any]) -> bool:
    proc = _CHILDREN.get(_child_key(store, launch["id"]))
    if proc is not None:
        return proc.poll() is None
    if launch["pid"] is None:  # no process of its own (an incremental update); psutil.Process(None) is this one
        return False
    import psutil

    try:
        return psutil.Process(launch["pid"]).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait(store: TriggerState, launch_id: int, timeout_s: float = 3600) -> None:
    proc = _CHILDREN.get(_child_key(store, launch_id))
    if proc is not None:
        proc.wait(timeout=timeout_s)


def reap(store: TriggerState, home: Path) -> None:
    """Finish launches whose process ended: record status, run id, and the trigger in the run's lineage."""
    for row in store.running():
        if _alive(store, row):
            continue
        run_id, status = None, "unknown"
        try:
            doc = json.loads(Path(row["log_path"]).read_text() or "{}")
            run_id, status = doc.get("run_id"), doc.get("status", "unknown")
        except (OSError, ValueError):
            status = "failed"
        if run_id:
            record_trigger_lineage(home, run_id, {"pipeline": row["pipeline"], "triggers": json.loads(row["triggers"]),
                                                  "reason": row["reason"], "launched_at": _iso(row["started"]),
                                                  "launch_id": row["id"]})
        store.finish(row["id"], status, run_id)
        _CHILDREN.pop(_child_key(store, row["id"]), None)


def record_trigger_lineage(home: Path, run_id: str, trigger: dict[str, Any]) -> None:
    """Add ``trigger`` to the lineage record of ``run_id`` (``modelway runs show`` prints it)."""
    run_store, _ = stores(home)
    run = run_store.get_run(run_id) or {}
    lineage = dict(run.get("lineage") or {})
    lineage["trigger"] = trigger
    run_store.set_lineage(run_id, lineage)


def _param(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")
