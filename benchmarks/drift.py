"""Drift figures: all tests on 1,000,000 rows x 20 features against a baseline, vs Evidently.

Data: 15 numeric features (normal, lognormal, Poisson counts) and 5 categorical ones, a
baseline of 100,000 rows (profiled once, not timed) and a current window of 1,000,000 rows
with three features shifted. Timed: :func:`modelway.profiling.drift.compare`, i.e. PSI on
every row plus KS / chi-square per feature and the verdicts (median of ``--repeat`` runs).
Target: <= 2 s on this machine.

Baseline in the same run: Evidently's ``DataDriftPreset`` on the same reference (the 100,000
baseline rows) and the same 1,000,000 current rows (once; it is slow). Evidently is only in
the ``bench`` extra (``pip install -e '.[bench]'``); without it the comparison is skipped
and said so (Evidently 0.7 needs a one-line shim on pandas 3, see the code). Target: >= 5x faster.

    .venv/bin/python benchmarks/drift.py [--rows 1000000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from modelway.profiling.drift import compare
from modelway.profiling.profile import build_profile

TARGET_S = 2.0
TARGET_RATIO = 5.0
CATS = [f"cat{i}" for i in range(8)]


def make_frame(n: int, seed: int, shifted: bool) -> tuple[pd.DataFrame, dict[str, str]]:
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for i in range(15):
        shift = 0.5 if shifted and i < 3 else 0.0
        if i % 3 == 0:
            data[f"num{i}"] = rng.normal(shift, 1.0, n)
        elif i % 3 == 1:
            data[f"num{i}"] = rng.lognormal(shift, 0.5, n)
        else:
            data[f"num{i}"] = rng.poisson(4 + shift * 4, n).astype("float64")
    probs = np.linspace(1, 2, len(CATS))
    probs /= probs.sum()
    for j in range(5):
        data[f"cat{j}"] = pd.Categorical(rng.choice(CATS, n, p=probs), categories=CATS)
    kinds = {k: ("numeric" if k.startswith("num") else "categorical") for k in data}
    return pd.DataFrame(data), kinds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    reference, kinds = make_frame(args.reference_rows, 1, shifted=False)
    current, _ = make_frame(args.rows, 2, shifted=True)
    profile = build_profile(reference, kinds)
    times, report = [], None
    for _ in range(args.repeat):
        start = time.perf_counter()
        report = compare(profile, current)
        times.append(time.perf_counter() - start)
    ours = statistics.median(times)
    print(f"modelway drift: {args.rows:,} rows x {len(kinds)} features, all tests: median {ours:.2f} s "
          f"over {args.repeat} runs (target <= {TARGET_S:.0f} s: {'met' if ours <= TARGET_S else 'MISSED'})")
    print(f"  drifted features found: {report.drifted_features} (3 were shifted: num0, num1, num2)")

    # Evidently 0.7.x imports pandas' private ``infer_dtype_from_object`` (removed in pandas 3) in a
    # legacy data-integrity module that DataDriftPreset never calls; provide the name so the import
    # works on the pandas this project installs. Calling it would raise.
    import pandas.core.dtypes.common as pandas_common

    if not hasattr(pandas_common, "infer_dtype_from_object"):
        def _removed_in_pandas_3(_: object) -> None:
            raise NotImplementedError("infer_dtype_from_object was removed in pandas 3")

        pandas_common.infer_dtype_from_object = _removed_in_pandas_3
    try:
        from evidently import Report
        from evidently.presets import DataDriftPreset
    except ImportError:
        print("evidently: not installed (it is only in the bench extra: pip install -e '.[bench]'); comparison skipped")
        return
    ref_plain = reference.astype({f"cat{j}": "object" for j in range(5)})
    cur_plain = current.astype({f"cat{j}": "object" for j in range(5)})
    start = time.perf_counter()
    Report([DataDriftPreset()]).run(cur_plain, ref_plain)
    theirs = time.perf_counter() - start
    ratio = theirs / ours
    print(f"evidently DataDriftPreset on the same data: {theirs:.2f} s (once)")
    print(f"ratio: modelway is {ratio:.1f}x faster (target >= {TARGET_RATIO:.0f}x: {'met' if ratio >= TARGET_RATIO else 'MISSED'})")


if __name__ == "__main__":
    main()
