"""Serving figures: single-row credit-risk predictions through our endpoint (canary split active) vs MLflow.

Both servers are separate processes on 127.0.0.1 with one worker each, serving the same
fitted model (the credit-risk pipeline's estimator, trained here on 20,000 generated rows):

* ours: ``modelway serve credit-risk --port 0`` with a canary in progress (90% / 10%
  between two registered versions), so routing, validation against the schema, traffic
  logging and capture (10%) are all on the request path;
* MLflow: ``mlflow models serve -m MODEL --env-manager local`` on the same model saved
  with ``mlflow.sklearn.save_model(..., pyfunc_predict_fn="predict_proba")``, so both
  compute class probabilities.

The same load generator hits both: ``--concurrency`` threads, each with one keep-alive
connection, sending one applicant per request as ``{"dataframe_records": [row]}`` (a
format both accept) for ``--seconds`` after a warm-up; rounds alternate ours / MLflow
(``--rounds``) and the medians are printed. Targets: throughput >= 1.5x MLflow's, p99 no
worse than MLflow's.

    .venv/bin/python benchmarks/serving.py [--concurrency 8] [--seconds 10] [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the benchmark reuses the test helpers' model wrapper-free training code

from modelway.serving.client import Client  # noqa: E402


def train(seed: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    from modelway.datasets import credit
    from modelway.stages.model_schema import GuardedModel, ModelSchema

    df = credit.generate_credit_data(20_000, seed=seed)
    features, cat = list(credit.FEATURES), list(credit.CATEGORICAL_FEATURES)
    est = Pipeline([
        ("encode", ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), cat)],
                                     remainder="passthrough")),
        ("clf", HistGradientBoostingClassifier(max_iter=60, max_bins=63, categorical_features=list(range(len(cat))),
                                               class_weight="balanced", random_state=seed)),
    ])
    est.fit(df[features], df["default"])
    return GuardedModel(est, ModelSchema.infer(df[features], task="classification", classes=[0, 1])), df, features


def start(cmd: list[str], env: dict[str, str], ready_url_from_stdout: bool, port: int | None = None) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}" if port else None
    deadline = time.monotonic() + 180
    while url is None:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise SystemExit(f"{cmd[:4]} exited early")
        if " on http://" in line:
            url = line.split(" on ", 1)[1].split()[0]
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{cmd[:4]} exited with code {proc.returncode}: {proc.stdout.read()[-2000:]}")
        try:
            if Client(url, timeout=2).get("/ping").status == 200:
                threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain its output
                return proc, url
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{cmd[:4]} did not answer /ping")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def load(url: str, rows: list[dict], concurrency: int, seconds: float, warmup: float = 2.0) -> dict[str, float]:
    """Closed-loop load: each thread sends its next single-row request when the previous answered."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    t_start = time.perf_counter() + warmup
    t_end = t_start + seconds
    bodies = [json.dumps({"dataframe_records": [r]}).encode() for r in rows]

    def worker(k: int) -> None:
        client = Client(url)
        i = k
        while True:
            now = time.perf_counter()
            if now >= t_end:
                break
            reply = client.invoke(bodies[i % len(bodies)])
            done = time.perf_counter()
            if now >= t_start:
                if reply.status == 200:
                    latencies[k].append(done - now)
                else:
                    errors[k] += 1
            i += concurrency
        client.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat = np.concatenate([np.asarray(x) for x in latencies]) * 1000
    return {"rps": lat.size / seconds, "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "errors": float(sum(errors))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from modelway.deploy.base import DeployRequest
    from modelway.deploy.embedded import EmbeddedDeployer
    from modelway.serving.state import DeploymentStore
    from modelway.monitoring.profile import profile_model, save_baseline
    from modelway.registry import ModelCandidate, get_registry

    tmp = Path(tempfile.mkdtemp(prefix="modelway-bench-serving-"))
    home = tmp / "home"
    registry = get_registry(home)
    versions = []
    for seed in (1, 2):  # incumbent and canary candidate
        model, df, features = train(seed)
        mv = registry.register(ModelCandidate(name="credit-risk", model=model, schema=model.schema.signature(),
                                              metrics={"seed": seed}), environment="dev", actor="bench")
        save_baseline(home, "credit-risk", mv.version, profile_model(model, df))
        versions.append(mv.version)
    EmbeddedDeployer(home).deploy(DeployRequest(endpoint="credit-risk", model="credit-risk", version=versions[0]))
    store = DeploymentStore(home)
    _, state = store.require("credit-risk")
    state.variants, state.candidate, state.phase = {versions[0]: 0.9, versions[1]: 0.1}, versions[1], "canary"
    store.put("credit-risk", state)

    import mlflow.sklearn

    mlflow_model = tmp / "mlflow-model"
    mlflow.sklearn.save_model(model, str(mlflow_model), pyfunc_predict_fn="predict_proba",
                              serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
    rows = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in df[features].head(2000).to_dict("records")]

    # mlflow models serve execs `uvicorn` from PATH: the venv's bin directory must be on it
    env = {**os.environ, "MODELWAY_HOME": str(home), "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    ours_cmd = [sys.executable, "-m", "modelway.cli.main", "serve", "credit-risk", "--port", "0"]
    mlflow_bin = str(Path(sys.executable).with_name("mlflow"))
    results: dict[str, list[dict[str, float]]] = {"modelway": [], "mlflow": []}
    for rnd in range(args.rounds):
        for name in ("modelway", "mlflow"):
            if name == "modelway":
                proc, url = start(ours_cmd, env, True)
            else:
                port = _free_port()
                proc, url = start([mlflow_bin, "models", "serve", "-m", str(mlflow_model), "--env-manager", "local",
                                   "-h", "127.0.0.1", "-p", str(port)], env, False, port)
            try:
                # the same answer from both: one probability per row
                reply = Client(url).invoke({"dataframe_records": rows[:1]})
                assert reply.status == 200, reply.body
                out = load(url, rows, args.concurrency, args.seconds)
            finally:
                stop(proc)
            results[name].append(out)
            print(f"round {rnd + 1} {name:<9} {out['rps']:8.1f} req/s  p50 {out['p50_ms']:6.1f} ms  p99 {out['p99_ms']:6.1f} ms"
                  f"  errors {out['errors']:.0f}", flush=True)
    med = {n: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for n, rs in results.items()}
    ratio = med["modelway"]["rps"] / med["mlflow"]["rps"]
    print(f"median over {args.rounds} rounds, concurrency {args.concurrency}, single-row requests, loopback:")
    for n, m in med.items():
        print(f"  {n:<9} {m['rps']:8.1f} req/s  p50 {m['p50_ms']:6.1f} ms  p99 {m['p99_ms']:6.1f} ms")
    print(f"throughput ratio modelway/mlflow: {ratio:.2f}x (target >= 1.5x: {'met' if ratio >= 1.5 else 'MISSED'}); "
          f"p99 {med['modelway']['p99_ms']:.1f} vs {med['mlflow']['p99_ms']:.1f} ms "
          f"({'met' if med['modelway']['p99_ms'] <= med['mlflow']['p99_ms'] else 'MISSED'})")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
