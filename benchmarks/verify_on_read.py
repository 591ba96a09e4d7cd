"""Cost of verifying every artifact on read, on the credit-risk pipeline (target: <= 5%).

Two cases, each with verification on (as shipped) and off (baseline: the same reads without
hashing, i.e. the behaviour before verify-on-read), interleaved, median of ``--repeat`` (uncached)
and ``--cached-repeat`` (cached: short runs, so more of them to see past the noise):

* **cached re-run**: every step but ``register`` is a cache hit, so the run is mostly
  verification (each hit is hashed, and the packaged model and dataset are read verified);
* **uncached run** (``use_cache=False``): every step runs and reads its inputs verified.

It also sums the time spent inside verification itself (hashing included, across the forked
step processes) and prints it as a share of the run: that figure does not depend on the noise
of a shared machine the way a difference of two wall times does.

Run: .venv/bin/python benchmarks/verify_on_read.py [--repeat 3] [--cached-repeat 15] [--rows 20000]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "platform"))

from modelway.artifacts import store as artifact_store  # noqa: E402

_VERIFIED = artifact_store.ArtifactStore._verified


def _unverified(self, digest):  # noqa: ANN001, ANN202 - the baseline: read without hashing
    folder = self.path_of(digest)
    meta = json.loads((folder / "meta.json").read_bytes())
    data = folder / artifact_store._data_name(meta)
    return meta, (data if meta["kind"] in ("file", "dir") else data.read_bytes())


def _timed_verified(self, digest):  # noqa: ANN001, ANN202 - as shipped, with its time recorded
    start = time.perf_counter()
    try:
        return _VERIFIED(self, digest)
    finally:
        with open(os.environ["MODELWAY_BENCH_VERIFY_LOG"], "a") as log:  # forked step processes append too
            log.write(f"{time.perf_counter() - start}\n")


def _run(pipe, params, home: Path, use_cache: bool, verify: bool, log: Path) -> tuple[float, float]:
    from modelway.runtime.runner import run_pipeline

    artifact_store.ArtifactStore._verified = _timed_verified if verify else _unverified
    for attempt in range(3):
        log.write_text("")
        start = time.perf_counter()
        result = run_pipeline(pipe, params, home=home, use_cache=use_cache, display="none",
                              pipeline_file=REPO / "pipelines" / "credit_risk.py")
        wall = time.perf_counter() - start
        if result.status == "succeeded":
            break
        # the robustness gate's latency limit can trip on a loaded machine: measure that run again
        print(f"  (a run failed, measured again: {result.error})", file=sys.stderr)
    else:
        raise SystemExit(f"run failed: {result.error}")
    verifying = sum(float(line) for line in log.read_text().split())
    return wall, verifying


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cached-repeat", type=int, default=15)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    from modelway.dsl.loader import load_pipeline

    with tempfile.TemporaryDirectory(prefix="mw-bench-verify-") as tmp:
        work = Path(tmp)
        os.environ["MODELWAY_CACHE_DIR"] = str(work / "cache")  # one migrated MLflow store for every home
        os.environ["MODELWAY_BENCH_VERIFY_LOG"] = str(work / "verify.log")
        os.environ.setdefault("MODELWAY_USER", "bench")
        log = work / "verify.log"
        pipe = load_pipeline(REPO / "pipelines" / "credit_risk.py")
        params = {"n_rows": args.rows}
        home = work / "home"
        _run(pipe, params, home, use_cache=True, verify=True, log=log)  # fills the cache
        figures: dict[tuple[str, bool], list[tuple[float, float]]] = {}
        repeats = {"cached re-run": args.cached_repeat, "uncached run": args.repeat}
        for case, use_cache in (("cached re-run", True), ("uncached run", False)):
            for _ in range(repeats[case]):
                for verify in (True, False):  # interleaved: drift on a shared machine hits both alike
                    figures.setdefault((case, verify), []).append(_run(pipe, params, home, use_cache, verify, log))
        artifact_store.ArtifactStore._verified = _VERIFIED
        artifacts = sum(1 for _ in (home / "artifacts").glob("*/*"))
        size = sum(p.stat().st_size for p in (home / "artifacts").rglob("*") if p.is_file())
    print(f"credit-risk pipeline, n_rows={args.rows}, medians of {args.cached_repeat} cached / {args.repeat} uncached "
          f"runs per mode (store: {artifacts} artifacts, {size / 2**20:.1f} MiB)")
    for case in ("cached re-run", "uncached run"):
        on = statistics.median(w for w, _ in figures[(case, True)])
        off = statistics.median(w for w, _ in figures[(case, False)])
        inside = statistics.median(v for _, v in figures[(case, True)])
        print(f"  {case:<14} verify on {on:7.3f} s   off (baseline) {off:7.3f} s   difference {100 * (on - off) / off:+6.1f}%"
              f"   time inside verification {inside:.3f} s = {100 * inside / on:.1f}% of the run")


if __name__ == "__main__":
    main()
