"""Shared helpers of the serving tests: train and register credit models, wrappers that misbehave, load."""
from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelway.features import feature_function

FEATURE_COLUMNS = None  # set by train_credit


@dataclass
class Credit:
    model: Any
    train: Any
    test: Any
    features: list[str]


def train_credit(n_rows: int = 4000, seed: int = 5, *, derived: bool = False) -> Credit:
    """The credit model; ``derived``: with the pipeline's feature function (loan_to_income), as the pipeline trains it."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    from modelway.datasets import credit
    from modelway.stages.model_schema import GuardedModel, ModelSchema

    from modelway.datasets.credit_features import add_derived_features

    df = credit.generate_credit_data(n_rows, seed=seed)
    features = list(credit.FEATURES)
    if derived:
        df = add_derived_features(df)
        features.append("loan_to_income")
    cat = list(credit.CATEGORICAL_FEATURES)
    train, test = df.iloc[: n_rows * 3 // 4], df.iloc[n_rows * 3 // 4:]
    est = Pipeline([
        ("encode", ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), cat)],
                                     remainder="passthrough")),
        ("clf", HistGradientBoostingClassifier(max_iter=30, categorical_features=list(range(len(cat))), random_state=0)),
    ])
    schema = ModelSchema.infer(train[features], task="classification", classes=[0, 1],
                               feature_function=add_derived_features if derived else None)
    est.fit(train[features], train["default"])
    return Credit(GuardedModel(est, schema), train, test, features)


@feature_function("loan_to_income")
def skewed_derived_features(frame: Any) -> Any:
    """A serving-side re-implementation gone wrong: the loan over MONTHLY income (12x the training feature)."""
    return frame.assign(loan_to_income=(frame["loan_amount"] / (frame["annual_income"] / 12)).round(6))


class Slow:
    """Answers like ``inner`` after ``delay_s``."""

    def __init__(self, inner: Any, delay_s: float):
        self.inner, self.delay_s = inner, delay_s
        self.classes_ = inner.classes_

    def predict_proba(self, X: Any) -> Any:
        time.sleep(self.delay_s)
        return self.inner.predict_proba(X)


class Bloated:
    """Answers like ``inner``, but holds ``mb`` MB more, allocates ``mb`` MB per call and takes ``delay_s`` longer."""

    def __init__(self, inner: Any, mb: float, delay_s: float):
        self.inner, self.mb, self.delay_s = inner, mb, delay_s
        self.classes_ = inner.classes_
        self.ballast = np.ones(int(mb * 2**20 / 8))

    def predict_proba(self, X: Any) -> Any:
        scratch = np.ones(int(self.mb * 2**20 / 8))
        time.sleep(self.delay_s)
        return self.inner.predict_proba(X) + 0.0 * scratch[0]


class Failing:
    """Raises on every call (a candidate that errors)."""

    def __init__(self, inner: Any):
        self.classes_ = inner.classes_

    def predict_proba(self, X: Any) -> Any:
        raise RuntimeError("model exploded")


class FailsAfter:
    """Answers like ``inner`` for ``calls`` calls, then raises (passes the contract tests, fails under traffic).

    The count is kept in a file shared by every unpickled copy: the contract-test server and
    the live server each load their own copy, and the live server scores requests that arrive
    together in one call, so a per-copy count of calls would depend on how requests batch.
    """

    def __init__(self, inner: Any, calls: int):
        import tempfile

        self.inner, self.calls = inner, calls
        self.classes_ = inner.classes_
        self.counter = Path(tempfile.mkdtemp(prefix="fails-after-")) / "calls"

    def predict_proba(self, X: Any) -> Any:
        done = int(self.counter.read_text()) if self.counter.exists() else 0
        self.counter.write_text(str(done + 1))
        if done >= self.calls:
            raise RuntimeError("connection pool exhausted")
        return self.inner.predict_proba(X)


class Inverted:
    """Swaps the classes' probabilities (a confidently wrong candidate)."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.classes_ = inner.classes_

    def predict_proba(self, X: Any) -> Any:
        return self.inner.predict_proba(X)[:, ::-1]


def register(home: Path, credit: Credit, model: Any = None, *, name: str = "credit-risk", environment: str = "dev",
             tag: str = "", baseline: bool = True) -> str:
    """Register ``model`` (default: the trained one) and store its baseline profile; returns the version."""
    from modelway.profiling.profile import profile_model, save_baseline
    from modelway.registry import ModelCandidate, get_registry

    reg = get_registry(home)
    model = model if model is not None else credit.model
    schema = (model if hasattr(model, "schema") else credit.model).schema.signature()  # wrappers: the trained one's
    mv = reg.register(ModelCandidate(name=name, model=model, schema=schema,
                                     metrics={"tag": tag or type(model).__name__}, family="HistGradientBoostingClassifier"),
                      environment=environment, actor="pytest")
    if baseline:
        save_baseline(home, name, mv.version, profile_model(credit.model, credit.train))
    return mv.version


def records(frame: Any, features: list[str]) -> list[dict[str, Any]]:
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame[features + ["applicant_id"]].to_dict("records")]


class Traffic:
    """Background load: single-row requests cycling over ``rows``; labels sent back as feedback."""

    def __init__(self, url: str, rows: list[dict[str, Any]], labels: list[int] | None = None, *, deployer: Any = None,
                 endpoint: str = "credit-risk", threads: int = 2, key_header: bool = False):
        self.url, self.rows, self.labels = url, rows, labels
        self.deployer, self.endpoint = deployer, endpoint
        self.threads, self.key_header = threads, key_header
        self.stop = threading.Event()
        self.replies: list[tuple[float, int, str | None]] = []
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def _run(self, offset: int) -> None:
        from modelway.serving.client import Client

        client = Client(self.url)
        i = offset
        pending: list[tuple[str, float]] = []
        while not self.stop.is_set():
            row = self.rows[i % len(self.rows)]
            headers = {"X-Modelway-Key": str(row["applicant_id"])} if self.key_header else None
            try:
                reply = client.invoke(row, headers=headers)
            except (OSError, http.client.HTTPException):  # a busy host or a restarting server: try again
                client.close()
                time.sleep(0.05)
                continue
            with self._lock:
                self.replies.append((time.time(), reply.status, reply.variant))
            if self.labels is not None and reply.status == 200:
                pending.append((reply.headers["x-request-id"], float(self.labels[i % len(self.rows)])))
                if len(pending) >= 10:
                    self.deployer.feedback(self.endpoint, pending)
                    pending = []
            i += self.threads
        client.close()

    def __enter__(self) -> Traffic:
        for t in range(self.threads):
            worker = threading.Thread(target=self._run, args=(t,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        for w in self._workers:
            w.join(timeout=10)

    def since(self, t: float) -> list[tuple[float, int, str | None]]:
        with self._lock:
            return [r for r in self.replies if r[0] >= t]


def variant_shares(replies: list[tuple[float, int, str | None]]) -> dict[str, float]:
    versions = [v for _, _, v in replies if v]
    return {v: versions.count(v) / len(versions) for v in sorted(set(versions))}


def np_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)
