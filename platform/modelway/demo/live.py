"""``make demo-live``: the online half of the lifecycle, end to end on the embedded default.

1. the demo model (``modelway run pipelines/credit_risk.py``) is served on 127.0.0.1 (``modelway serve``);
2. synthetic applicants flow in, and their true outcomes come back as labels (``modelway feedback``);
3. a retrained candidate (another data seed, through the same pipeline, gates and approval)
   is rolled out with ``modelway deploy --strategy canary`` and promoted step by step;
4. a degraded candidate, one that passes every offline gate and the contract tests but then
   fails under live traffic (as a model whose feature lookup starts timing out would), is
   rolled out too, and the guardrails roll it back on their own;
5. the traffic drifts (older, poorer applicants asking for larger loans), ``modelway monitor``
   flags the drifted features and alerts;
6. ``modelway triggers evaluate`` sees the drift and launches a retrain through the runner,
   with the reason in the run's lineage.

Every step is a real CLI command, printed before it runs, so the README story can be pasted.
"""
from __future__ import annotations

import http.client
import os
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from modelway.registry import ModelCandidate, get_registry
from modelway.serving.client import Client
from modelway.settings import get_settings

REPO = Path.cwd()
MODELWAY = [sys.executable, "-m", "modelway.cli.main"]


class DegradesUnderLoad:
    """The promoted model, but every call after the first ``healthy_calls`` fails (a simulated production fault)."""

    def __init__(self, inner: Any, healthy_calls: int = 45):
        self.inner, self.healthy_calls = inner, healthy_calls
        self.classes_ = inner.classes_

    def predict_proba(self, X: Any) -> Any:
        self.healthy_calls -= 1
        if self.healthy_calls < 0:
            raise TimeoutError("feature store lookup timed out")
        return self.inner.predict_proba(X)


def sh(*args: str, expect: str | None = None) -> subprocess.CompletedProcess:
    """Run and print one CLI command; ``expect``: text its output must contain (else the demo stops)."""
    print(f"\n$ modelway {' '.join(shlex.quote(a) for a in args)}", flush=True)
    done = subprocess.run([*MODELWAY, *args], text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    print(done.stdout.rstrip(), flush=True)
    if "Traceback (most recent call last)" in done.stdout or done.returncode not in (0, 1) or \
            (expect is not None and expect not in done.stdout):
        raise SystemExit(f"demo step failed (exit {done.returncode})" + (f": expected {expect!r}" if expect else ""))
    return done


class Applicants:
    """Background traffic of generated applicants; sends each true outcome back as a label."""

    def __init__(self, url: str, *, seed: int):
        from modelway.datasets import credit

        self.url = url
        self.frames = {"normal": credit.generate_credit_data(4000, seed=seed)}
        drifted = credit.generate_credit_data(4000, seed=seed + 1).copy()
        drifted["age"] = (drifted["age"] + 18).clip(upper=95)
        drifted["annual_income"] = drifted["annual_income"] * 0.55
        drifted["loan_amount"] = drifted["loan_amount"] * 1.8
        self.frames["drifted"] = drifted
        self.mode = "normal"
        self.stop = threading.Event()
        self.sent = 0
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(3)]

    def _run(self, k: int) -> None:
        from modelway.datasets import credit
        from modelway.deploy.embedded import EmbeddedDeployer

        client = Client(self.url)
        deployer = EmbeddedDeployer(get_settings().resolved_home())
        features = list(credit.FEATURES)
        i, labels = k, []
        while not self.stop.is_set():
            if self.mode == "paused":  # the demo's own load off while a pipeline measures latency
                time.sleep(0.1)
                continue
            frame = self.frames[self.mode]
            row = frame.iloc[i % len(frame)]
            record = {f: (row[f].item() if hasattr(row[f], "item") else row[f]) for f in features}
            try:
                reply = client.invoke(record)
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
                continue
            self.sent += 1
            if reply.status == 200:
                labels.append((reply.headers["x-request-id"], float(row["default"])))
            if len(labels) >= 20:
                deployer.feedback("credit-risk", labels)
                labels = []
            i += len(self.threads)
            time.sleep(0.01)

    def start(self) -> None:
        for t in self.threads:
            t.start()


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    home = get_settings().resolved_home()
    print(f"== 1. the demo model (home {home})")
    if sh("run", "pipelines/credit_risk.py", "--plain").returncode != 0:
        raise SystemExit("the demo model did not pass its gates (see above); nothing to serve")
    registry = get_registry(home)
    v1 = registry.list("credit-risk")[0].version

    print("\n== 2. serve it on 127.0.0.1, capture every request for the monitor")
    print(f"$ modelway serve credit-risk@{v1} --port 0 --capture-rate 1.0 &", flush=True)
    server = subprocess.Popen([*MODELWAY, "serve", f"credit-risk@{v1}", "--port", "0", "--capture-rate", "1.0"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = server.stdout.readline()
        print(line.rstrip(), flush=True)
        url = line.split(" on ", 1)[1].split()[0]
        threading.Thread(target=server.stdout.read, daemon=True).start()
        traffic = Applicants(url, seed=101)
        traffic.start()
        time.sleep(3)
        print(f"   ... applicants are being scored ({traffic.sent} so far), outcomes come back as labels")

        print("\n== 3. a retrained candidate (new data seed), rolled out with a canary")
        traffic.mode = "paused"  # the model tests measure single-row latency: keep the demo's own load off
        if sh("run", "pipelines/credit_risk.py", "--plain", "--param", "seed=7", "--param", "n_rows=30000",
              "--param", "n_trials=2", "--param", "cv_folds=2").returncode != 0:
            raise SystemExit("the retrained candidate did not pass its gates (see above)")
        v2 = registry.list("credit-risk")[0].version
        traffic.mode = "normal"
        sh("deploy", f"credit-risk@{v2}", "--strategy", "canary", "--steps", "0.2,0.5,1.0", "--window-requests", "60",
           "--window-seconds", "120", expect="promoted:")

        print("\n== 4. a degraded candidate: passes the gates and contract tests, fails under traffic")
        good = registry.get("credit-risk", v2)
        from modelway.demo import live  # pickled by its importable name, not as __main__.DegradesUnderLoad

        bad = registry.register(ModelCandidate(
            name="credit-risk", model=live.DegradesUnderLoad(registry.load_model("credit-risk", v2)), schema=good.schema,
            metrics=good.metrics, family=good.family, gates_passed=good.gates_passed, run_id=good.run_id,
            data_versions=good.data_versions, lineage={"note": "demo: v2 wrapped to fail after warm-up"}),
            environment="dev", actor="demo-live")
        from modelway.profiling.profile import load_baseline, save_baseline

        save_baseline(home, "credit-risk", bad.version, load_baseline(home, "credit-risk", v2))
        sh("deploy", f"credit-risk@{bad.version}", "--strategy", "canary", "--steps", "0.2,1.0", "--window-requests", "60",
           "--window-seconds", "120", expect="rolled_back: guardrail breached")
        sh("deployments", "show", "credit-risk")
        # rolled back is not retired: an operator revokes it, so it never becomes the champion that
        # the next training run is compared against
        sh("models", "revoke", "credit-risk", bad.version, "--by", "demo-operator", "--reason",
           "rolled back by the guardrails: failed under live traffic")

        print("\n== 5. the applicants change: older, poorer, larger loans; the monitor flags it")
        time.sleep(2)
        since = time.time()
        traffic.mode = "drifted"
        while traffic.sent < 200 or time.time() - since < 8:
            time.sleep(0.5)
        sh("monitor", "credit-risk", "--window", "10s", "--html", str(home / "reports" / "monitoring.html"))

        print("\n== 6. the drift trigger launches a retrain through the runner")
        traffic.mode = "paused"
        sh("triggers", "evaluate", "--config", "pipelines/triggers.yaml", "--dry-run")
        sh("triggers", "evaluate", "--config", "pipelines/triggers.yaml", "--wait")
        sh("triggers", "evaluate", "--config", "pipelines/triggers.yaml")
        sh("triggers", "status")
        traffic.stop.set()
    finally:
        server.terminate()
        server.wait(timeout=20)
    print("\ndone: see `modelway deployments show credit-risk`, `modelway audit log --name credit-risk`, "
          f"and {home / 'reports' / 'monitoring.html'}")


if __name__ == "__main__":
    main()
