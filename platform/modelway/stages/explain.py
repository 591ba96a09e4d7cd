"""Single-example debugging (ML Test Score I5): one row through a fitted model, stage by stage,
and what each feature contributed to its prediction.

:func:`explain_row` replays the row through every preprocessing stage of the fitted
scikit-learn pipeline (the row as each stage hands it on, columns named by
``get_feature_names_out``), checks that the replay reproduces the model's own output, and
splits that output into per-feature contributions:

* **linear** (the last stage has ``coef_`` and ``intercept_`` and its raw output is
  ``intercept + coef · x``, verified on the row): ``coef × value`` of each column the
  model sees, exact; after a ``StandardScaler`` that value is the standardised one. The
  output is the model's raw score: the prediction of a regressor, the log-odds of a
  logistic regression.
* **shapley** (any other model: trees, boosting): Shapley values of the raw input features
  for the game ``v(S) = mean over reference rows r of f(x_S, r_rest)``, where ``f`` is the
  positive-class probability (classifiers) or the prediction (regressors) and the reference
  rows are drawn from the version's training profile: the "interventional" / "baseline"
  Shapley values of Janzing et al. (2020) and Sundararajan & Najmi (2020), the quantity SHAP
  estimates with an independent masker. Exact (every one of the 2^M coalitions) up to
  :data:`MAX_EXACT_FEATURES` features; beyond that estimated from seeded antithetic
  permutations (Štrumbelj & Kononenko, 2014), with the largest standard error reported.
  Either way the contributions add up to ``f(x) - v(∅)``, the prediction minus the mean
  prediction over the reference rows.

Why not SHAP's ``TreeExplainer``: it mis-attributes HistGradientBoosting's native
categorical splits (shap/shap#3436), which the credit example uses, and it needs numba; the
enumeration here is model-agnostic and costs 2^M · K predictions (0.2-2 s at 14 features).

Example:
    >>> import pandas as pd
    >>> from sklearn.linear_model import LinearRegression
    >>> from modelway.stages.model_schema import GuardedModel, ModelSchema
    >>> X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    >>> m = GuardedModel(LinearRegression().fit(X, 2 * X["a"] - X["b"]), ModelSchema.infer(X, task="regression"))
    >>> e = explain_row(m, pd.DataFrame({"a": [3.0], "b": [1.0]}))
    >>> e.method, [(c.feature, round(c.contribution, 6)) for c in e.contributions]
    ('linear', [('a', 6.0), ('b', -1.0)])
"""
from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from modelway.errors import UserError
from modelway.features import client_fields, resolve
from modelway.profiling.profile import BaselineProfile

MAX_EXACT_FEATURES = 14
"""Up to this many raw features every coalition is evaluated (2^14 = 16 384 of them, times the reference rows)."""
DEFAULT_REFERENCE_ROWS = 10
PERMUTATIONS = 128
"""Permutations (64 antithetic pairs) for the sampled Shapley estimate of wider models."""
_CHUNK_ROWS = 65_536  # rows scored per model call: bounds memory, keeps the calls vectorised


class RowError(UserError):
    """A row that cannot be explained: unreadable, a column missing or of the wrong type."""


@dataclass(frozen=True)
class Stage:
    """The row as one pipeline stage hands it on."""

    name: str
    transformer: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Contribution:
    """What one feature (or, for a linear model, one model column) added to the output."""

    feature: str
    value: Any
    contribution: float


@dataclass(frozen=True)
class Explanation:
    """One row explained: its stages, the prediction and the per-feature contributions.

    ``base_value + sum(contributions) == output_value`` (up to float rounding); ``output`` says
    what the numbers are (e.g. ``P(class 1)``, ``log-odds of class 1``, ``prediction``).
    """

    method: Literal["linear", "shapley"]
    output: str
    output_value: float
    base_value: float
    contributions: tuple[Contribution, ...]
    stages: tuple[Stage, ...]
    prediction: Any
    probabilities: dict[str, float] | None
    replay_matches: bool
    note: str
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def additivity_error(self) -> float:
        """|base + sum of contributions - output|: 0 up to rounding for a correct explanation."""
        return abs(self.base_value + sum(c.contribution for c in self.contributions) - self.output_value)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["additivity_error"] = self.additivity_error
        return _jsonable(out)


# --- reading a row -----------------------------------------------------------------------------


def read_row(source: str) -> tuple[dict[str, Any], str]:
    """The row named by ``--row``: inline JSON (an object, or a list holding one), or a ``.json`` /
    ``.csv`` file with one row. Returns ``(values, where)``; ``where`` names it in errors.

    Example:
        >>> read_row('{"age": 42, "region": "north"}')
        ({'age': 42, 'region': 'north'}, '--row JSON')
        >>> try:
        ...     read_row('{"age": 42,')
        ... except RowError as exc:
        ...     print(exc)
        --row JSON is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 12
    """
    text = source.strip()
    if text.startswith(("{", "[")):
        return _one_object(_parse_json(text, "--row JSON"), "--row JSON"), "--row JSON"
    path = Path(source)
    where = f"row file {path}"
    if not path.is_file():
        raise RowError(f"{where} does not exist (pass a .json or .csv file, or the row itself as a JSON object)")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if len(rows) != 1:
            raise RowError(f"{where} has {len(rows)} data rows; explain takes exactly one (a header line and one row)")
        # empty cells are missing values; numbers are parsed against the model's schema later
        return {k: (None if v == "" else v) for k, v in rows[0].items() if k is not None}, where
    if suffix == ".json":
        return _one_object(_parse_json(path.read_text(), where), where), where
    raise RowError(f"{where}: expected a .json or .csv file (got {suffix or 'no suffix'})")


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RowError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def _one_object(doc: Any, where: str) -> dict[str, Any]:
    if isinstance(doc, list) and len(doc) == 1:
        doc = doc[0]
    if isinstance(doc, list):
        raise RowError(f"{where} holds {len(doc)} rows; explain takes exactly one (a JSON object: column -> value)")
    if not isinstance(doc, dict):
        raise RowError(f"{where} must be a JSON object (column -> value), got {type(doc).__name__}")
    return doc


def with_derived_features(values: dict[str, Any], registered_schema: dict[str, Any], where: str) -> dict[str, Any]:
    """``values`` plus the features the version's registered feature function derives, when the row
    leaves them out: a row is what a client sends the server, and the server derives them the same way
    (the training code, imported by name). A derived value the row does give is kept as given.
    """
    spec = registered_schema.get("feature_function") or {}
    derived = [name for name in spec.get("outputs") or () if name not in values]
    if not derived:
        return values
    fields = client_fields(registered_schema)
    missing = [name for name, _ in fields if name not in values]
    if missing:
        raise RowError(f"{where}: missing column(s) {missing}; the model needs {[n for n, _ in fields]} "
                       f"(its feature function derives {derived})")
    raw = pd.DataFrame({name: [_number(values[name], name, where) if kind == "numeric" else values[name]]
                        for name, kind in fields})
    frame = resolve(spec["ref"])(raw)
    return {**values, **{name: _plain(frame[name].iloc[0]) for name in derived}}


def row_frame(values: dict[str, Any], schema: Any, where: str) -> pd.DataFrame:
    """A one-row frame of the model's columns, typed by its schema; a missing column or a value of
    the wrong type is a :class:`RowError` naming the column and ``where``.

    Example:
        >>> from modelway.stages.model_schema import ModelSchema
        >>> s = ModelSchema.infer(pd.DataFrame({"age": [30], "region": ["north"]}), task="regression")
        >>> f = row_frame({"age": "41", "region": "south"}, s, "row.csv")
        >>> f["age"].dtype.name, float(f["age"].iloc[0]), f["region"].iloc[0]
        ('float64', 41.0, 'south')
        >>> try:
        ...     row_frame({"age": "forty", "region": "south"}, s, "row.csv")
        ... except RowError as exc:
        ...     print(exc)
        row.csv: column 'age' must be a number, got 'forty'
    """
    missing = [f.name for f in schema.features if f.name not in values]
    if missing:
        raise RowError(f"{where}: missing column(s) {missing}; the model needs {schema.feature_names}")
    typed: dict[str, list[Any]] = {}
    for spec in schema.features:
        value = values[spec.name]
        if spec.kind == "numeric":
            typed[spec.name] = [_number(value, spec.name, where)]
        else:
            if value is not None and not isinstance(value, str):
                raise RowError(f"{where}: column {spec.name!r} is categorical and must be text, got {value!r}")
            typed[spec.name] = [value]
    frame = pd.DataFrame(typed)
    for spec in schema.features:
        frame[spec.name] = frame[spec.name].astype("float64" if spec.kind == "numeric" else "object")
    return frame


def _number(value: Any, column: str, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise RowError(f"{where}: column {column!r} must be a number, got {json.dumps(value)}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise RowError(f"{where}: column {column!r} must be a number, got {value!r}")


# --- reference rows from the training profile -----------------------------------------------------


def reference_rows(profile: BaselineProfile, columns: list[str], k: int = DEFAULT_REFERENCE_ROWS, *, seed: int = 0) -> pd.DataFrame:
    """``k`` rows that stand for the training data: per numeric column its profile sample at the
    quantiles (i + 0.5)/k, per categorical column the categories in proportion to their
    frequencies, missing values in proportion to the missing rate; each column shuffled on its
    own (seeded), so columns are paired independently, as the Shapley game above assumes.

    Example:
        >>> from modelway.profiling.profile import build_profile
        >>> p = build_profile(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "a", "a", "b"]}),
        ...                   {"x": "numeric", "c": "categorical"})
        >>> r = reference_rows(p, ["x", "c"], 4)
        >>> sorted(r["x"].tolist()), sorted(r["c"].tolist())
        ([1.0, 2.0, 3.0, 4.0], ['a', 'a', 'a', 'b'])
    """
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for name in columns:
        spec = profile.features.get(name)
        if spec is None:
            raise UserError(f"the training profile of {profile.model} {profile.version} has no column {name!r}; "
                            f"recompute it with: modelway baseline {profile.model}@{profile.version} --data TRAINING_FILE")
        n_missing = min(k, int(round(spec.missing_rate * k)))
        present = k - n_missing
        if spec.kind == "numeric":
            sample = np.asarray(spec.sample, dtype="float64")
            values: list[Any] = (np.quantile(sample, (np.arange(present) + 0.5) / present, method="inverted_cdf").tolist()
                                 if sample.size and present else [])
            values = values + [math.nan] * (k - len(values))
        else:
            values = _apportion(spec.frequencies, present) + [None] * n_missing
        order = rng.permutation(k)
        data[name] = pd.Series([values[i] for i in order], dtype="float64" if spec.kind == "numeric" else "object")
    return pd.DataFrame(data)


def _apportion(frequencies: dict[str, float], n: int) -> list[str]:
    """``n`` categories in proportion to ``frequencies`` (largest remainder)."""
    if not frequencies or n <= 0:
        return [None] * n  # type: ignore[list-item]
    total = sum(frequencies.values()) or 1.0
    quotas = {c: n * f / total for c, f in frequencies.items()}
    counts = {c: int(q) for c, q in quotas.items()}
    for c in sorted(quotas, key=lambda c: counts[c] - quotas[c])[: n - sum(counts.values())]:
        counts[c] += 1
    return [c for c, m in counts.items() for _ in range(m)]


# --- the explanation ------------------------------------------------------------------------------


def explain_row(model: Any, row: pd.DataFrame, *, reference: pd.DataFrame | Callable[[], pd.DataFrame] | None = None,
                method: Literal["auto", "linear", "shapley"] = "auto", known_categories: Callable[[str], set[str] | None] | None = None,
                seed: int = 0) -> Explanation:
    """Explain one row (a one-row frame with the model's columns) of a fitted, schema-guarded model.

    ``reference``: the reference rows for Shapley values (or a callable returning them, called
    only when they are needed); ``method``: ``auto`` uses the exact linear breakdown when the
    model is linear, else Shapley values. ``known_categories`` (column -> categories seen in
    training) adds a warning for an unseen category.
    """
    schema = getattr(model, "schema", None)
    estimator = getattr(model, "model", model)
    columns = schema.feature_names if schema is not None else list(row.columns)
    X = schema.check(row) if schema is not None else row[columns]
    if len(X) != 1:
        raise RowError(f"explain takes one row, got {len(X)}")
    classifier = (schema.task == "classification") if schema is not None else hasattr(estimator, "predict_proba")
    try:
        prediction = _plain(np.asarray(estimator.predict(X))[0])
    except ValueError as exc:  # e.g. a missing value a linear model cannot take: the row's problem, said in one line
        raise RowError(f"the model cannot score this row: {str(exc).splitlines()[0]}") from exc
    stages, final, transformed = replay_stages(estimator, X)
    probabilities = None
    has_proba = hasattr(final, "predict_proba")  # a margin classifier (LinearSVC, RidgeClassifier) has none
    if classifier and has_proba:
        proba = np.asarray(estimator.predict_proba(X))[0]
        classes = [_plain(c) for c in getattr(estimator, "classes_", range(len(proba)))]
        probabilities = {str(c): float(p) for c, p in zip(classes, proba)}
        position = len(classes) - 1 if len(classes) == 2 else classes.index(prediction)
        replay_matches = bool(np.allclose(np.asarray(final.predict_proba(transformed))[0], proba, rtol=1e-9, atol=1e-12))
    elif classifier:  # no probabilities to compare: the replay must give the same class
        classes = [_plain(c) for c in estimator.classes_]
        position = len(classes) - 1 if len(classes) == 2 else classes.index(prediction)
        replay_matches = _plain(np.asarray(final.predict(transformed))[0]) == prediction
    else:
        position, classes = 0, []
        replay_matches = bool(np.allclose(np.asarray(final.predict(transformed))[0], prediction, rtol=1e-9, atol=1e-12))
    linear = _linear_breakdown(final, transformed, stages[-1].values, classifier, position, classes)
    final_name = estimator.steps[-1][0] if hasattr(estimator, "steps") else "model"
    stages.append(Stage(final_name, type(final).__name__,
                        {"prediction": prediction, **({f"P(class {c})": p for c, p in probabilities.items()} if probabilities else {})}))
    warnings = tuple(_unseen(X, schema, known_categories))
    if method == "linear" and linear is None:
        raise UserError(f"the model's last stage ({type(final).__name__}) is not linear in its inputs; use method 'shapley'")
    if method in ("auto", "linear") and linear is not None:
        output, output_value, base, contributions = linear
        return Explanation("linear", output, output_value, base, contributions, tuple(stages), prediction, probabilities,
                           replay_matches, "exact: coefficient × the value the model sees (after the preprocessing stages); "
                           "base = the intercept", warnings)
    if classifier and not has_proba:
        raise UserError(f"the model's last stage ({type(final).__name__}) gives no class probabilities, which Shapley values "
                        "of a classifier explain; use method 'linear'")
    ref = reference() if callable(reference) else reference
    if ref is None:
        raise UserError("Shapley contributions need reference rows (the version's training profile); none were given")

    def score(frame: pd.DataFrame) -> np.ndarray:
        if classifier:
            return np.asarray(estimator.predict_proba(frame))[:, position]
        return np.asarray(estimator.predict(frame), dtype="float64")

    phi, base, full, note = shapley_values(score, X, ref[columns], seed=seed)
    output = f"P(class {classes[position]})" if classifier else "prediction"
    contributions = _sorted(Contribution(c, _plain(X[c].iloc[0]), float(v)) for c, v in zip(columns, phi))
    return Explanation("shapley", output, float(full), float(base), contributions, tuple(stages), prediction, probabilities,
                       replay_matches, f"{note}; base = the mean {output} over {len(ref)} reference rows from the training profile",
                       warnings)


def replay_stages(estimator: Any, X: pd.DataFrame) -> tuple[list[Stage], Any, Any]:
    """The row as given and after each preprocessing stage of a :class:`~sklearn.pipeline.Pipeline`;
    returns ``(stages, final estimator, what the final estimator sees)``."""
    from sklearn.pipeline import Pipeline

    stages = [Stage("input", "the row as given", {c: _plain(X[c].iloc[0]) for c in X.columns})]
    data: Any = X
    final = estimator
    if isinstance(estimator, Pipeline):
        for name, step in estimator.steps[:-1]:
            if step is None or step == "passthrough":
                continue
            data = step.transform(data)
            stages.append(Stage(name, type(step).__name__, _named_row(step, data)))
        final = estimator.steps[-1][1]
    return stages, final, data


def _named_row(step: Any, data: Any) -> dict[str, Any]:
    if hasattr(data, "toarray"):
        data = data.toarray()
    if isinstance(data, pd.DataFrame):
        return {str(c): _plain(data[c].iloc[0]) for c in data.columns}
    row = np.asarray(data)[0]
    try:
        names = [str(n) for n in step.get_feature_names_out()]
    except Exception:  # noqa: BLE001 - a transformer without names: number the columns
        names = [f"x{i}" for i in range(row.shape[0])]
    return {n: _plain(v) for n, v in zip(names, row)}


def _linear_breakdown(final: Any, transformed: Any, named: dict[str, Any], classifier: bool, position: int,
                      classes: list[Any]) -> tuple[str, float, float, tuple[Contribution, ...]] | None:
    """``(output, value, intercept, contributions)`` when ``final`` is linear on this row, else None."""
    coef, intercept = getattr(final, "coef_", None), getattr(final, "intercept_", None)
    if coef is None or intercept is None:
        return None
    coef, intercept = np.atleast_2d(np.asarray(coef, dtype="float64")), np.atleast_1d(np.asarray(intercept, dtype="float64"))
    z = np.asarray(transformed.toarray() if hasattr(transformed, "toarray") else transformed, dtype="float64")[0]
    if coef.shape[1] != z.shape[0]:
        return None
    row = 0 if coef.shape[0] == 1 else position
    raw_rows = np.asarray(final.decision_function(transformed) if classifier else final.predict(transformed), dtype="float64")
    raw = float(raw_rows[0][row]) if raw_rows.ndim > 1 else float(raw_rows[0])
    base = float(intercept[row] if intercept.size > 1 else intercept[0])
    parts = coef[row] * z
    if not math.isclose(base + float(parts.sum()), raw, rel_tol=1e-9, abs_tol=1e-9):
        return None  # a link function (Poisson, Tweedie...) or a custom predict: not a plain linear output
    names = list(named) if len(named) == len(z) else [f"x{i}" for i in range(len(z))]
    if classifier:  # a logistic model's decision function is the log-odds; other linear classifiers' a margin
        kind = "log-odds" if hasattr(final, "predict_proba") else "decision score"
        output = f"{kind} of class {classes[position]}"
    else:
        output = "prediction"
    contributions = _sorted(Contribution(n, _plain(v), float(p)) for n, v, p in zip(names, z, parts))
    return output, raw, base, contributions


def shapley_values(score: Callable[[pd.DataFrame], np.ndarray], x: pd.DataFrame, reference: pd.DataFrame, *,
                   max_exact: int = MAX_EXACT_FEATURES, permutations: int = PERMUTATIONS,
                   seed: int = 0) -> tuple[np.ndarray, float, float, str]:
    """Shapley values of ``x``'s columns for ``v(S) = mean_r score(x_S, r_rest)`` over the rows of ``reference``.

    Returns ``(values, v(∅), v(all), note)``; the values add up to ``v(all) - v(∅)``.

    Example:
        >>> f = lambda d: (d["a"] * d["b"]).to_numpy()          # an interaction, split evenly
        >>> phi, base, full, _ = shapley_values(f, pd.DataFrame({"a": [1.0], "b": [1.0]}),
        ...                                     pd.DataFrame({"a": [0.0], "b": [0.0]}))
        >>> phi.tolist(), base, full
        ([0.5, 0.5], 0.0, 1.0)
    """
    m = x.shape[1]
    if m <= max_exact:
        masks = np.arange(2**m)
        take = ((masks[:, None] >> np.arange(m)) & 1).astype(bool)
        v = _coalition_values(score, x, reference, take)
        size = take.sum(axis=1)
        weight = np.array([math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m) for s in range(m)])
        phi = np.empty(m)
        for j in range(m):
            without = masks[~take[:, j]]
            phi[j] = float(np.sum(weight[size[without]] * (v[without | (1 << j)] - v[without])))
        return phi, float(v[0]), float(v[-1]), f"exact Shapley values ({2**m} coalitions)"
    rng = np.random.default_rng(seed)
    orders = []
    for _ in range(max(1, permutations // 2)):
        order = rng.permutation(m)
        orders += [order, order[::-1]]  # antithetic pairs halve the variance for the same cost
    take = np.zeros((len(orders) * (m + 1), m), dtype=bool)
    for p, order in enumerate(orders):
        for i in range(1, m + 1):
            take[p * (m + 1) + i, order[:i]] = True
    v = _coalition_values(score, x, reference, take).reshape(len(orders), m + 1)
    marginals = np.zeros((len(orders), m))
    for p, order in enumerate(orders):
        marginals[p, order] = np.diff(v[p])
    phi = marginals.mean(axis=0)
    pair_means = marginals.reshape(-1, 2, m).mean(axis=1)  # antithetic pairs are the independent draws
    stderr = float(pair_means.std(axis=0, ddof=1).max() / math.sqrt(len(pair_means))) if len(pair_means) > 1 else math.nan
    return (phi, float(v[0, 0]), float(v[0, -1]),
            f"Shapley values estimated from {len(orders)} seeded antithetic permutations ({m} features > {max_exact}); "
            f"largest standard error {stderr:.2g}")


def _coalition_values(score: Callable[[pd.DataFrame], np.ndarray], x: pd.DataFrame, reference: pd.DataFrame,
                      take: np.ndarray) -> np.ndarray:
    """``v`` of each coalition (a row of ``take``: True = the column comes from ``x``), averaged over the reference rows."""
    k = len(reference)
    per = max(1, _CHUNK_ROWS // k)
    out = np.empty(len(take))
    for start in range(0, len(take), per):
        block = np.repeat(take[start:start + per], k, axis=0)
        data = {}
        for j, column in enumerate(x.columns):
            ref = np.tile(reference[column].to_numpy(), len(block) // k)
            own = x[column].to_numpy()[0]
            values = np.where(block[:, j], own, ref)
            data[column] = values.astype("float64") if pd.api.types.is_float_dtype(x[column]) else values
        frame = pd.DataFrame(data, columns=list(x.columns))
        out[start:start + per] = np.asarray(score(frame), dtype="float64").reshape(-1, k).mean(axis=1)
    return out


def _unseen(X: pd.DataFrame, schema: Any, known: Callable[[str], set[str] | None] | None) -> list[str]:
    if known is None or schema is None:
        return []
    found = []
    for spec in schema.features:
        value = X[spec.name].iloc[0]
        seen = known(spec.name) if spec.kind == "categorical" else None
        if seen is not None and value is not None and str(value) not in seen:
            found.append(f"{spec.name}={value!r} was not seen in training (known: {', '.join(sorted(seen))})")
    return found


def _sorted(contributions: Any) -> tuple[Contribution, ...]:
    return tuple(sorted(contributions, key=lambda c: -abs(c.contribution)))


def _plain(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and math.isnan(value) else value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return _plain(value)
