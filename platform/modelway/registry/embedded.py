"""The embedded model registry: one SQLite file plus content-addressed artifacts under ``$MODELWAY_HOME``.

Why our own SQLite rather than MLflow's model registry: the registry must compute
semantic versions, run an approval workflow with per-environment rules, and keep a
hash-chained audit log that is written *in the same transaction* as the change it
records — MLflow's registry has integer versions, free-form stages/aliases that anyone can
move, and no tamper-evident history. Importing MLflow also costs about a second per CLI
call. MLflow still holds the experiment (params, metrics, the logged model): every version
records its ``mlflow_run_id`` so the two link up.

Layout::

    $MODELWAY_HOME/registry/registry.db               versions, audit_log, audit_head (WAL)
    $MODELWAY_HOME/registry/artifacts/<sha256>.pkl    model artifacts (content-addressed)
    $MODELWAY_HOME/registry/cards/<name>/<version>/   model_card.json / .md / .html

Writes are atomic: artifacts and cards go to a temp file and are renamed; a version row
and its audit entries are one ``BEGIN IMMEDIATE`` transaction (which also serialises
concurrent registrations so two runs never get the same version number).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> reg = EmbeddedRegistry(Path(tempfile.mkdtemp()))
    >>> from sklearn.linear_model import Ridge
    >>> v = reg.register(ModelCandidate(name="demo", model=Ridge(), schema={"features": [["x", "numeric"]]},
    ...                  metrics={"r2": 0.5}), environment="dev", actor="me")
    >>> v.version, v.status
    ('1.0.0', 'Approved')
"""
from __future__ import annotations

import hashlib
import json
import pickle
import re
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from modelway.registry import audit
from modelway.registry.anchor import AuditAnchor, signature_ok
from modelway.registry.base import (
    ArtifactIntegrityError,
    ModelCandidate,
    ModelRegistry,
    ModelStatus,
    ModelVersion,
    RegistryError,
)
from modelway.registry.promotion import AUTO_APPROVER, PromotionRules, load_promotion_rules
from modelway.registry.semver import VersionFacts, estimator_family, next_version, parse
from modelway.files import atomic_write_bytes
from modelway.settings import get_settings

# Writes a model card's documents into a directory; returns their paths by kind ("md", "html", "json").
CardWriter = Callable[[dict[str, Any], Path], dict[str, Path]]
from modelway.sqlite_wal import connect_wal
from modelway.store.faults import writable

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS model_versions (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    major INTEGER NOT NULL, minor INTEGER NOT NULL, patch INTEGER NOT NULL,
    status TEXT NOT NULL,
    environment TEXT NOT NULL,
    created_at TEXT NOT NULL,
    version_reason TEXT NOT NULL,
    family TEXT NOT NULL,
    artifact_sha256 TEXT NOT NULL,
    artifact_uri TEXT NOT NULL,
    artifact_bytes INTEGER NOT NULL,
    schema_json TEXT NOT NULL,
    metrics_json TEXT NOT NULL,
    fairness_json TEXT,
    card_json TEXT,
    card_path TEXT,
    hyperparameters_json TEXT NOT NULL,
    code_commit TEXT,
    data_versions_json TEXT NOT NULL,
    run_id TEXT,
    mlflow_run_id TEXT,
    lineage_json TEXT NOT NULL,
    gates_passed INTEGER NOT NULL,
    decided_by TEXT, decided_at TEXT, decision_reason TEXT,
    identity TEXT,
    PRIMARY KEY (name, version)
);
CREATE INDEX IF NOT EXISTS model_versions_order ON model_versions (name, major, minor, patch);
"""
# One version per (model, environment, artifact sha256, metadata): the database refuses a
# second one, so concurrent registrations of the same candidate cannot both insert.
IDENTITY_INDEX = ("CREATE UNIQUE INDEX IF NOT EXISTS model_versions_identity ON model_versions (identity)"
                  " WHERE identity IS NOT NULL")


class EmbeddedRegistry(ModelRegistry):
    """SQLite-backed :class:`~modelway.registry.base.ModelRegistry` (the embedded default)."""

    def __init__(self, home: Path | None = None, *, rules: PromotionRules | None = None,
                 card_writer: CardWriter | None = None):
        self.home = Path(home) if home is not None else get_settings().resolved_home()
        # Given by the caller (the stages know how to render a card; the registry sits below them).
        # Without one the card is kept in the database only.
        self.card_writer = card_writer
        self.root = self.home / "registry"
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "registry.db"
        self.rules = rules or load_promotion_rules()
        self.anchor = AuditAnchor.for_home(self.home)
        self.read_only = False
        if self.db_path.is_file() and not writable(self.root):
            self.read_only = True  # a read-only home: listing, showing and verifying still work
            return
        try:
            with self._connect() as db:
                db.executescript(SCHEMA)
                if "identity" not in {row[1] for row in db.execute("PRAGMA table_info(model_versions)")}:
                    db.execute("ALTER TABLE model_versions ADD COLUMN identity TEXT")  # a registry from before
                db.execute(IDENTITY_INDEX)
                audit.ensure_schema(db)
        except sqlite3.DatabaseError as exc:
            raise RegistryError(f"the registry database {self.db_path} is unreadable ({exc}); restore it from a backup "
                                "or move it aside (`modelway audit verify` then reports what lineage says is missing)") from None

    # --- plumbing ------------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self.read_only:
            with connect_wal(self.db_path) as db:
                yield db
            return
        # SQLite cannot create the WAL index in a read-only home; nothing can write through it either
        db = sqlite3.connect(f"{self.db_path.absolute().as_uri()}?immutable=1", uri=True, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            witness = self.anchor.witness()  # read under the write lock: appends update it
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                self.anchor.restore_witness(witness)
                raise

    # --- queries -------------------------------------------------------------------------

    def list(self, name: str | None = None) -> list[ModelVersion]:
        sql = "SELECT * FROM model_versions"
        args: tuple = ()
        if name:
            sql += " WHERE name = ?"
            args = (name,)
        sql += " ORDER BY name, major DESC, minor DESC, patch DESC"
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            return [_row_to_version(r) for r in db.execute(sql, args).fetchall()]

    def get(self, name: str, version: str | None = None) -> ModelVersion:
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            row = _fetch(db, name, version)
        if row is None:
            known = sorted({v.name for v in self.list()})
            if version is None or name not in known:
                raise RegistryError(f"model {name!r} is not registered; known models: {known or 'none'}")
            raise RegistryError(f"model {name!r} has no version {version}; see `modelway models list --name {name}`")
        return _row_to_version(row)

    def champion(self, name: str, environments: tuple[str, ...] = ("prod",)) -> ModelVersion | None:
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            for env in environments:
                row = db.execute(
                    "SELECT * FROM model_versions WHERE name = ? AND environment = ? AND status = ? "
                    "ORDER BY major DESC, minor DESC, patch DESC LIMIT 1",
                    (name, env, ModelStatus.APPROVED.value),
                ).fetchone()
                if row is not None:
                    return _row_to_version(row)
        return None

    def audit_entries(self, name: str | None = None, version: str | None = None) -> list[audit.AuditEntry]:
        with self._connect() as db:
            return audit.entries(db, model=name, version=version)

    # --- register / approve / reject ---------------------------------------------------

    def register(self, candidate: ModelCandidate, *, environment: str, actor: str) -> ModelVersion:
        if not NAME_RE.match(candidate.name):
            raise RegistryError(f"invalid model name {candidate.name!r}: use lowercase letters, digits, '.', '_' or '-'")
        rule = self.rules.for_env(environment)
        blob = candidate.model_bytes if candidate.model_bytes is not None else pickle.dumps(candidate.model, protocol=5)
        sha = hashlib.sha256(blob).hexdigest()
        artifact = self.root / "artifacts" / f"{sha}.pkl"
        if not _file_matches(artifact, sha):  # content-addressed: identical models share one file
            atomic_write_bytes(artifact, blob, create_parents=True)  # (a corrupted copy is replaced)
        family = candidate.family or estimator_family(candidate.model)
        digest = _metadata_digest(candidate.schema, candidate.metrics, candidate.fairness, candidate.model_card,
                                  candidate.hyperparameters, candidate.code_commit, candidate.data_versions,
                                  candidate.gates_passed, family)
        identity = hashlib.sha256(_dumps([candidate.name, environment, sha, digest]).encode()).hexdigest()
        for _ in range(3):
            try:
                return self._register_once(candidate, environment, actor, rule, blob, sha, artifact, family, digest,
                                           identity)
            except sqlite3.IntegrityError as exc:
                if "identity" not in str(exc):
                    raise
                # another process registered the same candidate between our read and our insert
        raise RegistryError(f"registering {candidate.name} kept conflicting with concurrent registrations; retry")

    def _register_once(self, candidate: ModelCandidate, environment: str, actor: str, rule: Any, blob: bytes,
                       sha: str, artifact: Path, family: str, digest: str, identity: str) -> ModelVersion:
        now = _now()
        with self._transaction() as db:
            db.row_factory = sqlite3.Row
            for row in db.execute("SELECT * FROM model_versions WHERE name = ? AND environment = ? AND artifact_sha256 = ? "
                                  "ORDER BY major DESC, minor DESC, patch DESC", (candidate.name, environment, sha)):
                if row["identity"] == identity or _row_digest(row) == digest:  # idempotent, nothing written
                    existing = _row_to_version(row)
                    existing.already_registered = True
                    return existing
            latest = _fetch(db, candidate.name, None)
            previous = None
            if latest is not None:
                previous = VersionFacts(latest["version"], json.loads(latest["schema_json"]), latest["family"], latest["artifact_sha256"], json.loads(latest["data_versions_json"]))
            version, reason = next_version(previous, VersionFacts(None, candidate.schema, family, sha, dict(candidate.data_versions)))
            card = dict(candidate.model_card) if candidate.model_card else None
            card_path = None
            if card is not None:
                card.update(version=version, environment=environment, artifact_sha256=sha)  # known only now
                if self.card_writer is not None:
                    card_path = str(self.card_writer(card, self.root / "cards" / candidate.name / version)["md"])
            major, minor, patch = parse(version)
            db.execute(
                "INSERT INTO model_versions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    candidate.name, version, major, minor, patch, ModelStatus.PENDING.value, environment, now, reason, family,
                    sha, artifact.as_uri(), len(blob), _dumps(candidate.schema), _dumps(candidate.metrics),
                    _dumps(candidate.fairness) if candidate.fairness is not None else None,
                    _dumps(card) if card is not None else None, card_path, _dumps(candidate.hyperparameters),
                    candidate.code_commit, _dumps(candidate.data_versions), candidate.run_id, candidate.mlflow_run_id,
                    _dumps(candidate.lineage), int(bool(candidate.gates_passed)), None, None, None, identity,
                ),
            )
            audit.append(
                db, anchor=self.anchor, actor=actor, event="registered", model=candidate.name, version=version,
                payload={"environment": environment, "artifact_sha256": sha, "run_id": candidate.run_id,
                         "version_reason": reason, "gates_passed": bool(candidate.gates_passed), "status": ModelStatus.PENDING.value,
                         # recorded so `audit verify` can tell an edited metrics_json from the registered one
                         "metrics": json.loads(_dumps(candidate.metrics))},
            )
            if rule.require_gates_passed and not candidate.gates_passed:
                self._decide(db, candidate.name, version, ModelStatus.REJECTED, AUTO_APPROVER, f"gates failed; {environment} requires every gate to pass")
            elif rule.auto_approve:
                self._decide(db, candidate.name, version, ModelStatus.APPROVED, AUTO_APPROVER, f"all gates passed; {environment} approves automatically")
        return self.get(candidate.name, version)

    def approve(self, name: str, version: str, *, actor: str, reason: str | None) -> ModelVersion:
        return self._human_decision(name, version, ModelStatus.APPROVED, actor, reason)

    def reject(self, name: str, version: str, *, actor: str, reason: str | None) -> ModelVersion:
        return self._human_decision(name, version, ModelStatus.REJECTED, actor, reason)

    def revoke(self, name: str, version: str, *, actor: str, reason: str) -> ModelVersion:
        parse(version)
        self.get(name, version)
        reason = (reason or "").strip()
        actor = _identity(actor, f"revoke {name} {version}", "person")
        if not reason:
            raise RegistryError(f"revoking {name} {version} requires a reason; pass --reason '...'")
        with self._transaction() as db:
            row = db.execute("SELECT status FROM model_versions WHERE name = ? AND version = ?", (name, version)).fetchone()
            if row[0] != ModelStatus.APPROVED.value:
                raise RegistryError(f"{name} {version} is {row[0]}; only Approved versions can be revoked")
            self._decide(db, name, version, ModelStatus.REVOKED, actor, reason)
        return self.get(name, version)

    def _human_decision(self, name: str, version: str, status: ModelStatus, actor: str, reason: str | None) -> ModelVersion:
        parse(version)
        current = self.get(name, version)
        rule = self.rules.for_env(current.environment)
        reason = (reason or "").strip() or None
        verb = "approve" if status is ModelStatus.APPROVED else "reject"
        actor = _identity(actor, f"{verb} {name} {version}", "approver" if verb == "approve" else "person")
        if rule.require_reason and reason is None:
            raise RegistryError(f"{current.environment} requires a reason to {verb} {name} {version}; pass --reason '...'")
        if status is ModelStatus.APPROVED and rule.require_gates_passed and not current.gates_passed:
            raise RegistryError(f"{name} {version} failed its gates; {current.environment} does not allow approving it")
        if status is ModelStatus.APPROVED and not rule.allow_self_approval:
            registrant = next((e.actor for e in self.audit_entries(name, version) if e.event == "registered"), None)
            if registrant is not None and registrant.strip().casefold() == actor.casefold():
                raise RegistryError(f"{registrant} registered {name} {version} and cannot also approve it for "
                                    f"{current.environment} (separation of duties); another person must approve it, "
                                    f"or set allow_self_approval: true for {current.environment} in the promotion rules")
        with self._transaction() as db:
            row = db.execute("SELECT status FROM model_versions WHERE name = ? AND version = ?", (name, version)).fetchone()
            if row[0] != ModelStatus.PENDING.value:
                raise RegistryError(f"{name} {version} is {row[0]}; only Pending versions can be approved or rejected")
            self._decide(db, name, version, status, actor, reason)
        return self.get(name, version)

    def _decide(self, db: sqlite3.Connection, name: str, version: str, status: ModelStatus, actor: str, reason: str | None) -> None:
        now = _now()
        db.execute(
            "UPDATE model_versions SET status = ?, decided_by = ?, decided_at = ?, decision_reason = ? WHERE name = ? AND version = ?",
            (status.value, actor, now, reason, name, version),
        )
        audit.append(db, anchor=self.anchor, actor=actor, event=status.value.lower(), model=name, version=version,
                     payload={"status": status.value, "reason": reason, "decided_at": now})
        self._rewrite_card(db, name, version, {"status": status.value, "decided_by": actor, "decided_at": now, "reason": reason})

    def _rewrite_card(self, db: sqlite3.Connection, name: str, version: str, approval: dict[str, Any]) -> None:
        """Re-render the card's files with the decision (the card stored in the database, its identity, is unchanged)."""
        if self.card_writer is None:
            return
        row = db.execute("SELECT card_json, card_path FROM model_versions WHERE name = ? AND version = ?", (name, version)).fetchone()
        if row is None or not row[0] or not row[1]:
            return
        self.card_writer({**json.loads(row[0]), "approval": approval}, Path(row[1]).parent)

    def record_event(self, name: str, version: str, *, actor: str, event: str, payload: dict[str, Any]) -> audit.AuditEntry:
        """Append a lifecycle event about an existing version (e.g. a deployment decision) to the audit chain.

        The payload must not carry a ``status`` key: that key marks approval decisions, which
        only :meth:`approve` / :meth:`reject` / :meth:`revoke` write.
        """
        if "status" in payload:
            raise ValueError("record_event payloads must not carry 'status' (reserved for approval decisions)")
        self.get(name, version)
        with self._transaction() as db:
            return audit.append(db, anchor=self.anchor, actor=actor, event=event, model=name, version=version,
                                payload=payload)

    # --- integrity -----------------------------------------------------------------------

    def load_model(self, name: str, version: str | None = None) -> Any:
        """The model object, after checking its file against the sha256 in the *signed* registration
        event (the version row is mutable; the audit entry is hash-chained and signed)."""
        mv = self.get(name, version)
        expected = self._registered_sha256(name, mv.version)
        if mv.artifact_sha256 != expected:
            raise ArtifactIntegrityError(
                f"{name} {mv.version}: the registry row says artifact sha256 {mv.artifact_sha256[:12]}… but it was "
                f"registered with {expected[:12]}… (the row was edited); refusing to load it")
        path = _uri_to_path(mv.artifact_uri)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise ArtifactIntegrityError(f"artifact of {name} {mv.version} is missing at {path}; the registry cannot load it") from None
        actual = hashlib.sha256(blob).hexdigest()
        if actual != expected:
            raise ArtifactIntegrityError(
                f"artifact of {name} {mv.version} at {path} has sha256 {actual[:12]}… but it was registered with "
                f"{expected[:12]}…; refusing to load a tampered or corrupted model"
            )
        return pickle.loads(blob)  # noqa: S301 - these exact bytes match the signed registration record

    def _registered_sha256(self, name: str, version: str) -> str:
        """The artifact sha256 recorded by the version's registration audit event, once that event
        is shown to be authentic: its own hash, and its signature (or, for an event from before
        signing, an intact and anchored chain)."""
        with self._connect() as db:
            registered = [e for e in audit.entries(db, model=name, version=version) if e.event == "registered"]
            if not registered:
                raise ArtifactIntegrityError(f"{name} {version} has no registration audit event; refusing to load it")
            entry = registered[0]
            body = json.dumps(entry.payload, sort_keys=True, default=str)
            if audit.entry_hash(entry.seq, entry.ts, entry.actor, entry.event, entry.model, entry.version, body,
                                entry.prev_hash) != entry.hash:
                raise ArtifactIntegrityError(f"the registration audit event of {name} {version} was modified; "
                                             "refusing to load it (see `modelway audit verify`)")
            key = self.anchor.key()
            if entry.mac is not None:
                authentic = key is not None and signature_ok(key, entry.seq, entry.hash, entry.mac)
            else:
                authentic = audit.verify_chain(db, self.anchor).ok
        if not authentic:
            raise ArtifactIntegrityError(f"the registration audit event of {name} {version} is not signed by this "
                                         f"registry's audit key ({self.anchor.key_file}); refusing to load it "
                                         "(see `modelway audit verify`)")
        sha = entry.payload.get("artifact_sha256")
        if not isinstance(sha, str):
            raise ArtifactIntegrityError(f"the registration audit event of {name} {version} records no artifact sha256")
        return sha

    def verify_audit(self) -> audit.VerifyResult:
        """Verify the chain; check every version row against its audit events (status, decision,
        artifact sha256, environment, metrics), every artifact file against its sha256, and the
        run store's lineage (versions that runs registered) against the registry's rows."""
        with self._connect() as db:
            result = audit.verify_chain(db, self.anchor)
            events: dict[tuple[str, str], list[audit.AuditEntry]] = {}
            for entry in audit.entries(db):
                events.setdefault((entry.model, entry.version), []).append(entry)
            db.row_factory = sqlite3.Row
            rows = {(r["name"], r["version"]): r for r in db.execute("SELECT * FROM model_versions")}
        problems = result.problems
        for (name, version), logged in events.items():
            if (name, version) not in rows:
                problems.append(f"model {name} {version}: {len(logged)} audit event(s) but no model_versions row (the row was deleted)")
        for (name, version), row in rows.items():
            problems.extend(_row_problems(name, version, row, events.get((name, version), [])))
        for name, version, run_id in self._lineage_models():
            if (name, version) not in rows and (name, version) not in events:
                problems.append(f"model {name} {version}: run {run_id} registered it (run store lineage) but the registry has "
                                "no record of it (registry.db deleted or replaced)")
        result.ok = not problems
        return result

    def _lineage_models(self) -> list[tuple[str, str, str | None]]:
        """(model, version, run id) of every version the run store recorded as registered (read-only)."""
        runs_db = self.home / "modelway.db"
        if not runs_db.exists():
            return []
        try:
            db = sqlite3.connect(f"{runs_db.as_uri()}?mode=ro", uri=True, timeout=30)
            try:
                return [tuple(r) for r in db.execute("SELECT model, version, run_id FROM model_versions ORDER BY created_at")]
            finally:
                db.close()
        except sqlite3.DatabaseError:  # no lineage table yet (a home without runs)
            return []


def _row_problems(name: str, version: str, row: sqlite3.Row, logged: list[audit.AuditEntry]) -> list[str]:
    """What in one version row disagrees with its audit events or its artifact file."""
    where = f"model {name} {version}"
    if not logged:
        return [f"{where} has no audit entries (registered outside the registry)"]
    problems: list[str] = []
    registered = next((e.payload for e in logged if e.event == "registered"), None)
    if registered is not None:
        for column, key in (("artifact_sha256", "artifact_sha256"), ("environment", "environment")):
            if key in registered and row[column] != registered[key]:
                problems.append(f"{where}: field {column} is {row[column]!r} but it was registered with {registered[key]!r}")
        if "metrics" in registered and _dumps(json.loads(row["metrics_json"])) != _dumps(registered["metrics"]):
            problems.append(f"{where}: field metrics_json differs from the metrics it was registered with")
    decisions = [e for e in logged if e.event != "registered" and e.payload.get("status")]
    last_status = (decisions[-1].payload["status"] if decisions else (registered or {}).get("status"))
    if last_status is not None and last_status != row["status"]:
        problems.append(f"model {name} {version} is {row['status']} in the registry but the audit log says {last_status}")
    if decisions:
        last = decisions[-1]
        if row["decided_by"] != last.actor:
            problems.append(f"{where}: field decided_by is {row['decided_by']!r} but the audit log says {last.actor!r}")
        if row["decision_reason"] != last.payload.get("reason"):
            problems.append(f"{where}: field decision_reason is {row['decision_reason']!r} but the audit log says "
                            f"{last.payload.get('reason')!r}")
    path = _uri_to_path(row["artifact_uri"])
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        problems.append(f"{where}: artifact file {path} is missing")
    else:
        if digest != row["artifact_sha256"]:
            problems.append(f"{where}: artifact file {path} has sha256 {digest[:12]}… but artifact_sha256 is "
                            f"{row['artifact_sha256'][:12]}… (corrupted or replaced)")
    return problems


def _identity(actor: str | None, action: str, role: str) -> str:
    """The acting person's name, stripped; refuses an empty one and the automatic approver's."""
    name = (actor or "").strip()
    if not name or name == AUTO_APPROVER or any(not c.isprintable() for c in name):
        raise RegistryError(f"a human {role} is required to {action}: pass --by NAME with a non-empty name "
                            f"(got {actor!r})")
    return name


def _fetch(db: sqlite3.Connection, name: str, version: str | None) -> sqlite3.Row | None:
    if version is None:
        return db.execute(
            "SELECT * FROM model_versions WHERE name = ? ORDER BY major DESC, minor DESC, patch DESC LIMIT 1", (name,)
        ).fetchone()
    return db.execute("SELECT * FROM model_versions WHERE name = ? AND version = ?", (name, version)).fetchone()


def _row_to_version(row: sqlite3.Row) -> ModelVersion:
    loads = lambda v: json.loads(v) if v else None  # noqa: E731
    return ModelVersion(
        name=row["name"], version=row["version"], status=row["status"], environment=row["environment"],
        created_at=row["created_at"], version_reason=row["version_reason"], family=row["family"],
        artifact_sha256=row["artifact_sha256"], artifact_uri=row["artifact_uri"], artifact_bytes=row["artifact_bytes"],
        schema=loads(row["schema_json"]) or {}, metrics=loads(row["metrics_json"]) or {}, fairness=loads(row["fairness_json"]),
        model_card=loads(row["card_json"]), model_card_path=row["card_path"], hyperparameters=loads(row["hyperparameters_json"]) or {},
        code_commit=row["code_commit"], data_versions=loads(row["data_versions_json"]) or {}, run_id=row["run_id"],
        mlflow_run_id=row["mlflow_run_id"], lineage=loads(row["lineage_json"]) or {}, gates_passed=bool(row["gates_passed"]),
        decided_by=row["decided_by"], decided_at=row["decided_at"], decision_reason=row["decision_reason"],
    )


# Card fields that say which run produced a version, not what the version is: the registry writes
# the first three into the card itself; each run has its own run id, MLflow run and card time; and
# the card's check list repeats the metrics, fairness and gate verdict (compared on their own)
# next to measurements that differ between two runs of the same model (p95 latency). Two runs
# that produce the same artifact with the same metadata register one version, whichever commits first.
_RUN_SPECIFIC_CARD_FIELDS = frozenset({"version", "environment", "artifact_sha256", "mlflow_run_id", "run_id",
                                       "created_at", "checks"})


def _metadata_digest(schema: Any, metrics: Any, fairness: Any, card: Any, hyperparameters: Any, code_commit: Any,
                     data_versions: Any, gates_passed: Any, family: Any) -> str:
    """sha256 of what a version records besides its artifact (run-specific lineage excluded)."""
    card = {k: v for k, v in (json.loads(_dumps(card)) or {}).items() if k not in _RUN_SPECIFIC_CARD_FIELDS} if card else None
    doc = [json.loads(_dumps(v)) for v in (schema, metrics, fairness, hyperparameters, code_commit, data_versions,
                                            bool(gates_passed), family)]
    return hashlib.sha256(_dumps([*doc, card]).encode()).hexdigest()


def _row_digest(row: sqlite3.Row) -> str:
    loads = lambda v: json.loads(v) if v else None  # noqa: E731
    return _metadata_digest(loads(row["schema_json"]), loads(row["metrics_json"]), loads(row["fairness_json"]),
                            loads(row["card_json"]), loads(row["hyperparameters_json"]), row["code_commit"],
                            loads(row["data_versions_json"]), row["gates_passed"], row["family"])


def _file_matches(path: Path, sha256: str) -> bool:
    """Whether ``path`` exists and its content has this sha256."""
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest() == sha256
    except FileNotFoundError:
        return False


def _uri_to_path(uri: str) -> Path:
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(uri)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=lambda o: o.item() if hasattr(o, "item") else str(o))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
