"""Drift and data quality of live data against a :class:`~modelway.profiling.profile.BaselineProfile`.

Per numeric feature: the Population Stability Index over the baseline's decile bins and the
two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``) against the baseline sample.
Per categorical feature: PSI over the baseline categories and Pearson's chi-square
goodness-of-fit test (``scipy.stats.chisquare``) against the baseline frequencies; a
category the baseline never saw is a *novelty*, flagged on its own. The prediction is
compared like a numeric feature (prediction drift). Missing values (None, NaN, inf) are
measured against the baseline's missing rate.

When is a feature "drifted"? A p-value alone is the wrong test on live traffic: with a
million rows a shift nobody cares about is "significant", and with 20 features x 2 tests a
fixed alpha fires somewhere by chance. So a feature is flagged when its PSI reaches
``psi_threshold`` (the industry's 0.2 "significant shift"), or when the test's p-value is
below ``p_value`` *and* the PSI shows a real effect (``psi_min_effect``). Thresholds come
from config (:class:`DriftThresholds`).

KS on a million rows: the p-value's effective sample size is n*m/(n+m) with m the baseline
sample (5,000), so testing a seeded subsample of at most ``ks_max_rows`` live rows gives the
same answer in a fraction of the time; PSI always uses every row.

Example:
    >>> import numpy as np, pandas as pd
    >>> from modelway.profiling.profile import build_profile
    >>> rng = np.random.default_rng(0)
    >>> base = build_profile(pd.DataFrame({"x": rng.normal(size=5000)}), {"x": "numeric"})
    >>> compare(base, pd.DataFrame({"x": rng.normal(2, 1, size=2000)})).features["x"].drifted
    True
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from modelway.profiling.profile import BaselineProfile, FeatureProfile

_EPS = 1e-4  # floor for empty bins in PSI (ln(0) is undefined); the usual choice


class DriftThresholds(BaseModel):
    """When a drift or data-quality finding becomes a breach (the ``drift`` section of the monitor config)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    psi_threshold: float = Field(0.2, gt=0, description="PSI at or above this is drift, whatever the p-value")
    psi_min_effect: float = Field(0.1, ge=0, description="PSI needed for a small p-value to count as drift")
    p_value: float = Field(0.01, gt=0, lt=1, description="significance level of KS / chi-square")
    max_missing_rate_increase: float = Field(0.05, ge=0, description="missing rate above baseline + this is a quality breach")
    max_novel_share: float = Field(0.0, ge=0, description="share of rows with unseen categories tolerated")
    ks_max_rows: int = Field(50_000, gt=100, description="live rows sampled for the KS test (PSI uses all)")


@dataclass
class FeatureDrift:
    """One feature's comparison with its baseline."""

    name: str
    kind: str
    rows: int
    psi: float
    test: str
    statistic: float | None
    p_value: float | None
    missing_rate: float
    baseline_missing_rate: float
    novel_categories: dict[str, int] = field(default_factory=dict)
    novel_share: float = 0.0
    drifted: bool = False
    quality_breach: bool = False
    reasons: list[str] = field(default_factory=list)


@dataclass
class DriftReport:
    """Per-feature drift, prediction drift and missing-value quality for one window of data."""

    rows: int
    features: dict[str, FeatureDrift]
    prediction: FeatureDrift | None = None
    nonfinite_predictions: int = 0

    @property
    def drifted_features(self) -> list[str]:
        return [n for n, f in self.features.items() if f.drifted]

    @property
    def quality_breaches(self) -> list[str]:
        return [n for n, f in self.features.items() if f.quality_breach]

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "drifted_features": self.drifted_features, "quality_breaches": self.quality_breaches,
                "nonfinite_predictions": self.nonfinite_predictions,
                "features": {k: asdict(v) for k, v in self.features.items()},
                "prediction": asdict(self.prediction) if self.prediction else None}


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population Stability Index of two frequency vectors over the same bins.

    Example:
        >>> round(psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])), 6)
        0.0
    """
    e = np.clip(np.asarray(expected, dtype="float64"), _EPS, None)
    a = np.clip(np.asarray(actual, dtype="float64"), _EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def compare_numeric(name: str, base: FeatureProfile, values: Any, t: DriftThresholds, *, seed: int = 0) -> FeatureDrift:
    """PSI + two-sample KS of one numeric column against its baseline."""
    from scipy import stats

    x = np.asarray(values, dtype="float64")
    finite = x[np.isfinite(x)]
    missing = 1.0 - finite.size / x.size if x.size else 0.0
    result = FeatureDrift(name, "numeric", int(x.size), 0.0, "ks", None, None, float(missing), base.missing_rate)
    if finite.size and base.bin_frequencies:
        counts = np.bincount(np.searchsorted(np.asarray(base.bin_edges), finite, side="left"),
                             minlength=len(base.bin_frequencies))
        result.psi = psi(np.asarray(base.bin_frequencies), counts / finite.size)
    if finite.size >= 2 and len(base.sample) >= 2:
        live = finite
        if live.size > t.ks_max_rows:
            live = np.random.default_rng(seed).choice(live, t.ks_max_rows, replace=False)
        ks = stats.ks_2samp(live, np.asarray(base.sample), method="asymp")
        result.statistic, result.p_value = float(ks.statistic), float(ks.pvalue)
    _judge(result, t)
    return result


def compare_categorical(name: str, base: FeatureProfile, values: Any, t: DriftThresholds) -> FeatureDrift:
    """PSI + chi-square goodness of fit of one categorical column; unseen categories are novelties."""
    import pandas as pd
    from scipy import stats

    s = values if isinstance(values, pd.Series) else pd.Series(values, dtype="object")
    counts = s.value_counts(dropna=True)
    n = int(s.size)
    present = int(counts.sum())
    missing = 1.0 - present / n if n else 0.0
    known = list(base.frequencies)
    observed = np.array([int(counts.get(c, 0)) for c in known], dtype="float64")
    novel = {str(k): int(v) for k, v in counts.items() if str(k) not in base.frequencies}
    novel_rows = sum(novel.values())
    result = FeatureDrift(name, "categorical", n, 0.0, "chi2", None, None, float(missing), base.missing_rate,
                          novel_categories=dict(sorted(novel.items(), key=lambda kv: -kv[1])[:10]),
                          novel_share=novel_rows / present if present else 0.0)
    if present:
        expected = np.array([base.frequencies[c] for c in known] + [0.0])
        result.psi = psi(expected, np.append(observed, novel_rows) / present)
    if observed.sum() > 0 and len(known) >= 2:
        f_exp = np.array([base.frequencies[c] for c in known])
        f_exp = f_exp / f_exp.sum() * observed.sum()
        chi = stats.chisquare(observed, f_exp)
        result.statistic, result.p_value = float(chi.statistic), float(chi.pvalue)
    _judge(result, t)
    if result.novel_share > t.max_novel_share:
        result.drifted = True
        shown = ", ".join(f"{k!r} ({v})" for k, v in result.novel_categories.items())
        result.reasons.append(f"unseen categories: {shown} = {result.novel_share:.1%} of rows")
    return result


def _judge(r: FeatureDrift, t: DriftThresholds) -> None:
    if r.psi >= t.psi_threshold:
        r.drifted = True
        r.reasons.append(f"PSI {r.psi:.3f} >= {t.psi_threshold}")
    elif r.p_value is not None and r.p_value < t.p_value and r.psi >= t.psi_min_effect:
        r.drifted = True
        r.reasons.append(f"{r.test} p={r.p_value:.2g} < {t.p_value} with PSI {r.psi:.3f} >= {t.psi_min_effect}")
    if r.missing_rate > r.baseline_missing_rate + t.max_missing_rate_increase:
        r.quality_breach = True
        r.reasons.append(f"missing rate {r.missing_rate:.1%} vs {r.baseline_missing_rate:.1%} at training")


def compare(profile: BaselineProfile, frame: Any, predictions: Any = None,
            thresholds: DriftThresholds | None = None) -> DriftReport:
    """Compare every profiled feature present in ``frame`` (and the predictions) with the baseline."""
    t = thresholds or DriftThresholds()
    feats: dict[str, FeatureDrift] = {}
    for name, base in profile.features.items():
        if name not in frame.columns:
            continue
        col = frame[name]
        feats[name] = (compare_numeric(name, base, col, t) if base.kind == "numeric"
                       else compare_categorical(name, base, col, t))
    report = DriftReport(int(len(frame)), feats)
    if predictions is not None and profile.prediction is not None:
        p = np.asarray(predictions, dtype="float64")
        report.nonfinite_predictions = int((~np.isfinite(p)).sum())
        report.prediction = compare_numeric("prediction", profile.prediction, p, t)
    return report
