"""What ``modelway deploy | rollback | promote | feedback | deployments`` print and refuse, line
for line. The deployer is a recording stand-in (installed where ``--stack`` resolution hands
it out), so a test sees exactly which request a command made; ``deployments list`` reads a real
deployment store written in the test (its clock pinned)."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import modelway.cli.serving as serving
import modelway.serving.state as state_module
from modelway.serving.state import DeploymentStore, EndpointState

from tests.cli.cli_inprocess import invoke

TS = "2025-12-04T00:00:00.000+00:00"


class Result(SimpleNamespace):
    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class FakeDeployer:
    """Records each call; answers with what the test put in ``answers``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []
        self.answers: dict[str, Any] = {}
        self.log: Any = None

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            if name == "deploy" and self.log is not None:
                self.log("window 1: ok")
            return self.answers[name]
        return call


@pytest.fixture()
def deployer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDeployer:
    fake = FakeDeployer()
    asked: list[tuple] = []

    class Backends:
        def deployer(self, home: Path, log: Any = None) -> FakeDeployer:
            asked.append(home)
            fake.log = log
            return fake

    def use_stack(stack: Any, outputs: Any) -> Backends:
        asked.append((stack, outputs))
        return Backends()

    monkeypatch.setattr(serving, "use_stack", use_stack)
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    monkeypatch.setenv("MODELWAY_USER", "carol")
    fake.asked = asked
    return fake


def test_deploy_builds_the_request_from_the_options(capsys, deployer: FakeDeployer, tmp_path: Path) -> None:
    deployer.answers["deploy"] = Result(outcome="promoted", reason="all windows passed")
    done = invoke(capsys, "deploy", "credit-risk@1.2.0", "--strategy", "ab", "-e", "credit", "--env", "staging",
                  "--steps", "0.2,1.0", "--window-requests", "50", "--window-seconds", "5", "--split", "0.3",
                  "--sticky-key", "customer", "-g", "max_p95_ratio=2", "-g", " min_requests = 10 ", "--by", "dave",
                  "--trigger", "ci", "--stack", "dev")
    assert (done.code, done.err) == (0, "")
    assert done.out == ("deploying credit-risk 1.2.0 to endpoint credit with ab\n"
                        "window 1: ok\n"
                        "promoted: all windows passed\n")
    assert deployer.asked == [("dev", None), tmp_path]
    [(name, (request,), kwargs)] = deployer.calls
    assert name == "deploy" and kwargs == {}
    assert request.model_dump(include={"endpoint", "model", "version", "strategy", "environment", "actor", "trigger",
                                       "steps", "window_requests", "window_seconds", "ab_split", "sticky_key"}) == {
        "endpoint": "credit", "model": "credit-risk", "version": "1.2.0", "strategy": "ab", "environment": "staging",
        "actor": "dave", "trigger": "ci", "steps": (0.2, 1.0), "window_requests": 50, "window_seconds": 5.0,
        "ab_split": 0.3, "sticky_key": "customer"}
    assert (request.guardrails.max_p95_ratio, request.guardrails.min_requests) == (2.0, 10)
    assert request.guardrails.max_accuracy_drop == 0.05  # the others keep their defaults


def test_deploy_defaults_and_a_rollback_exits_1(capsys, deployer: FakeDeployer) -> None:
    deployer.answers["deploy"] = Result(outcome="rolled_back", reason="p95 breached", version="1.2.0")
    done = invoke(capsys, "deploy", "m@1.2.0", "--json")
    assert done.code == 1
    assert json.loads(done.out) == {"outcome": "rolled_back", "reason": "p95 breached", "version": "1.2.0"}
    assert done.err == "deploying m 1.2.0 to endpoint m with canary\nwindow 1: ok\n"  # progress off stdout
    request = deployer.calls[0][1][0]
    assert (request.endpoint, request.strategy, request.steps, request.actor, request.trigger, request.environment,
            request.window_requests, request.window_seconds, request.ab_split, request.sticky_key) == (
        "m", "canary", (0.1, 0.5, 1.0), "carol", "manual", "dev", 200, 60.0, 0.5, None)
    assert deployer.asked[0] == (None, None)


@pytest.mark.parametrize("args, message", [
    (["m"], "name the version to roll out: modelway deploy m@VERSION"),
    (["@1.0.0"], "expected MODEL or MODEL@VERSION, got '@1.0.0'"),
    (["m@1", "--strategy", "big-bang"], "--strategy 'big-bang' is not one of blue-green, canary, ab, shadow"),
    (["m@1", "--steps", "0.1,half,1"], "--steps '0.1,half,1': expected comma-separated shares such as 0.1,0.5,1.0"),
    (["m@1", "-g", "max_p95_ratio"], "--guardrail 'max_p95_ratio': expected KEY=VALUE (keys: max_error_rate_increase, "
                                     "max_p95_ratio, p95_slack_ms, max_accuracy_drop, latency_alpha, accuracy_alpha, "
                                     "min_requests, min_labelled, interim_alpha)"),
    (["m@1", "-g", "max_p95_ratio=0.5"], "--guardrail max_p95_ratio: Input should be greater than or equal to 1 (keys: "
                                         "max_error_rate_increase, max_p95_ratio, p95_slack_ms, max_accuracy_drop, "
                                         "latency_alpha, accuracy_alpha, min_requests, min_labelled, interim_alpha)"),
    (["m@1", "--steps", "0.5,0.1,1.0"], "deploy m@1: steps: Value error, canary steps must rise to 1.0 through at "
                                        "least one partial share, e.g. 0.1,0.5,1.0 (got [0.5, 0.1, 1.0])"),
    (["m@1", "--split", "1.5"], "deploy m@1: ab_split: Input should be less than 1"),
])
def test_deploy_refuses_bad_options_in_one_line(capsys, deployer: FakeDeployer, args: list[str], message: str) -> None:
    done = invoke(capsys, "deploy", *args)
    assert (done.code, done.out, done.err) == (2, "", f"error: {message}\n")
    assert deployer.calls == []


def test_rollback_and_promote(capsys, deployer: FakeDeployer, tmp_path: Path) -> None:
    deployer.answers["rollback"] = Result(incumbent="1.0.0", version="1.1.0")
    done = invoke(capsys, "rollback", "credit", "--reason", "p95 doubled", "-s", "prod")
    assert done.out == "rolled back: 1.0.0 serves all traffic; 1.1.0 removed\n"
    assert deployer.calls == [("rollback", ("credit",), {"actor": "carol", "reason": "p95 doubled"})]
    assert deployer.asked == [("prod", None), tmp_path]
    assert deployer.log is print
    done = invoke(capsys, "rollback", "credit", "-r", "x", "--by", "dave", "--json", "--outputs", str(tmp_path / "o.json"))
    assert done.out == '{\n  "incumbent": "1.0.0",\n  "version": "1.1.0"\n}\n'  # indented by two
    assert deployer.calls[-1] == ("rollback", ("credit",), {"actor": "dave", "reason": "x"})
    assert deployer.asked[-2] == (None, tmp_path / "o.json")
    deployer.log("to stderr")
    assert capsys.readouterr() == ("", "to stderr\n")

    deployer.answers["promote"] = Result(incumbent="1.0.0", version="1.1.0")
    done = invoke(capsys, "promote", "credit", "--reason", "B wins")
    assert done.out == "promoted: 1.1.0 serves all traffic (1.0.0 on standby)\n"
    assert deployer.calls[-1] == ("promote", ("credit",), {"actor": "carol", "reason": "B wins"})
    done = invoke(capsys, "promote", "credit", "-r", "y", "--by", "erin", "--json")
    assert json.loads(done.out) == {"incumbent": "1.0.0", "version": "1.1.0"}
    assert deployer.calls[-1][2] == {"actor": "erin", "reason": "y"}


def test_feedback_reads_labels_from_a_file_and_the_options(capsys, deployer: FakeDeployer, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id,label,note\nr1,1,a\nr2,0.5,b\n")
    deployer.answers["feedback"] = {"stored": 3, "matched": 2}
    done = invoke(capsys, "feedback", "credit", "--file", str(labels), "--request-id", "r3", "--label", "0")
    assert done.out == "recorded 3 label(s) for credit; 2 match a logged request\n"
    assert deployer.calls == [("feedback", ("credit", [("r1", 1.0), ("r2", 0.5), ("r3", 0.0)]), {})]
    deployer.answers["feedback"] = {"stored": 1, "matched": 1, "ambiguous": 1}
    done = invoke(capsys, "feedback", "credit", "--request-id", "r9", "--label", "1")
    assert done.out == ("recorded 1 label(s) for credit; 1 match a logged request; 1 name more than one request "
                        "(a reused X-Request-Id) and are left out of accuracy\n")
    done = invoke(capsys, "feedback", "credit", "--request-id", "r9", "--label", "1", "--json")
    assert json.loads(done.out) == {"endpoint": "credit", "stored": 1, "matched": 1, "ambiguous": 1}


def test_feedback_refuses_what_it_cannot_read(capsys, deployer: FakeDeployer, tmp_path: Path) -> None:
    no_header = tmp_path / "a.csv"
    no_header.write_text("id,y\nr1,1\n")
    bad = tmp_path / "b.csv"
    bad.write_text("request_id,label\nr1,1\nr2,yes\n")
    empty = tmp_path / "c.csv"
    empty.write_text("")
    short = tmp_path / "d.csv"
    short.write_text("request_id,label\nr1\n")
    for args, message in [
        (["--file", str(no_header)], f"{no_header}: needs a header with request_id and label (got ['id', 'y'])"),
        (["--file", str(empty)], f"{empty}: needs a header with request_id and label (got None)"),
        (["--file", str(bad)], f"{bad}:3: label 'yes' is not a number"),
        (["--file", str(short)], f"{short}:2: label None is not a number"),
        (["--file", str(tmp_path / "none.csv")], f"feedback file {tmp_path / 'none.csv'} not found"),
        (["--request-id", "r1"], "--request-id needs --label"),
        ([], "no labels given: pass --file labels.csv or --request-id ID --label VALUE"),
    ]:
        done = invoke(capsys, "feedback", "credit", *args)
        assert (done.code, done.err) == (2, f"error: {message}\n"), args
    assert deployer.calls == []


def test_deployments_show_prints_routing_numbers_and_history(capsys, deployer: FakeDeployer) -> None:
    stats = {"requests": 120, "error_rate": 0.01, "p50_ms": 3.2, "p95_ms": 9.9, "accuracy": 0.91, "labelled": 40,
             "agreement": None}
    deployer.answers["describe"] = {
        "endpoint": "credit", "revision": 7,
        "state": {"model": "credit-risk", "environment": "prod", "phase": "ab", "variants": {"1.1.0": 0.3, "1.0.0": 0.7},
                  "shadow": "1.2.0", "standby": "0.9.0"},
        "stats": {"1.0.0": stats, "1.2.0 (shadow)": {**stats, "requests": 5, "agreement": 0.8}},
        "ab": {"decision": "candidate better (p=0.01)"},
        "history": [{"ts": TS, "action": "deployed", "version": "1.0.0", "actor": "carol", "details": {"reason": "first"}},
                    {"ts": TS, "action": "capture-rate", "version": None, "actor": "ci", "details": {}}],
    }
    done = invoke(capsys, "deployments", "show", "credit", "--stack", "prod")
    assert done.code == 0, done.err
    assert done.out.splitlines() == [
        "endpoint   credit (model credit-risk, prod), revision 7, phase ab",
        "weights    1.0.0 70%, 1.1.0 30%; shadow 1.2.0; standby 0.9.0",
        "  1.0.0              120 req, error rate 0.01, p50 3.2 ms, p95 9.9 ms, accuracy 0.91 on 40 labelled",
        "  1.2.0 (shadow)     5 req, error rate 0.01, p50 3.2 ms, p95 9.9 ms, accuracy 0.91 on 40 labelled, agreement 0.8",
        "A/B        candidate better (p=0.01)",
        "history",
        f"  {TS}  deployed      1.0.0    by carol  first",
        f"  {TS}  capture-rate           by ci  ",
    ]
    assert deployer.calls == [("describe", ("credit",), {})] and deployer.asked[0] == ("prod", None)
    assert json.loads(invoke(capsys, "deployments", "show", "credit", "--json").out) == deployer.answers["describe"]
    deployer.answers["describe"] = {"endpoint": "x", "state": None, "history": []}
    missing = invoke(capsys, "deployments", "show", "x", "--json")
    assert (missing.code, missing.out, missing.err) == (
        2, "", "error: endpoint 'x' has no deployment; start one with: modelway serve MODEL\n")


def test_deployments_show_without_shadow_standby_or_ab(capsys, deployer: FakeDeployer) -> None:
    deployer.answers["describe"] = {
        "endpoint": "z", "revision": 1, "history": [],
        "state": {"model": "z", "environment": "dev", "phase": "stable", "variants": {"2.0.0": 1.0}, "shadow": None,
                  "standby": None},
        "stats": {}}
    assert invoke(capsys, "deployments", "show", "z").out.splitlines() == [
        "endpoint   z (model z, dev), revision 1, phase stable", "weights    2.0.0 100%", "history"]


def test_deployments_list_reads_the_store(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    assert invoke(capsys, "deployments", "list").out == (
        f"no endpoints in {tmp_path}; start one with: modelway serve MODEL\n")
    assert invoke(capsys, "deployments", "list", "--json").out == "[]\n"
    monkeypatch.setattr(state_module, "_now", lambda: TS)
    store = DeploymentStore(tmp_path)
    store.put("credit", EndpointState(model="credit-risk", environment="prod", variants={"1.1.0": 0.1, "1.0.0": 0.9},
                                      incumbent="1.0.0", phase="canary"))
    store.put("credit", EndpointState(model="credit-risk", environment="prod", variants={"1.1.0": 0.5, "1.0.0": 0.5},
                                      incumbent="1.0.0", phase="canary"))
    store.put("zeta", EndpointState(model="z", environment="dev", variants={"2.0.0": 1.0}, incumbent="2.0.0"))
    store.heartbeat("zeta", "http://127.0.0.1:9", 1)
    assert invoke(capsys, "deployments", "list").out.splitlines() == [
        "credit               credit-risk [1.0.0 50%, 1.1.0 50%] phase canary, revision 2, 0 live server(s)",
        "zeta                 z [2.0.0 100%] phase stable, revision 1, 1 live server(s)",
    ]
    assert json.loads(invoke(capsys, "deployments", "list", "--json").out) == [
        {"endpoint": "credit", "model": "credit-risk", "variants": {"1.1.0": 0.5, "1.0.0": 0.5}, "phase": "canary",
         "revision": 2, "live_servers": 0},
        {"endpoint": "zeta", "model": "z", "variants": {"2.0.0": 1.0}, "phase": "stable", "revision": 1, "live_servers": 1},
    ]


def test_newest_approved_prefers_the_target_environment() -> None:
    def version(v: str, status: str, env: str) -> SimpleNamespace:
        return SimpleNamespace(version=v, status=status, environment=env)

    class Registry:
        def __init__(self, versions: list) -> None:
            self.versions = versions

        def list(self, name: str) -> list:
            return self.versions

        def get(self, name: str) -> None:  # the latest version, or the error naming the known models
            if not self.versions:
                raise serving.UserError(f"model {name!r} is not registered")

    both = Registry([version("3.0.0", "Pending", "prod"), version("2.0.0", "Approved", "dev"),
                     version("1.0.0", "Approved", "prod"), version("0.9.0", "Approved", "prod")])
    assert serving._newest_approved(both, "m", "prod") == "1.0.0"
    assert serving._newest_approved(both, "m", "dev") == "2.0.0"
    assert serving._newest_approved(both, "m", "staging") == "2.0.0"  # none there: the newest Approved anywhere
    with pytest.raises(serving.UserError) as none:
        serving._newest_approved(Registry([version("1.0.0", "Rejected", "prod")]), "m", "prod")
    assert str(none.value) == "m has no Approved version to serve; approve one or name it: modelway serve m@VERSION"
    with pytest.raises(serving.UserError, match="'m' is not registered"):
        serving._newest_approved(Registry([]), "m", "prod")


def test_split_ref_and_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    assert serving._split_ref("m@1.0.0") == ("m", "1.0.0")
    assert serving._split_ref("m") == ("m", None)
    assert serving._split_ref("m@") == ("m", None)
    monkeypatch.setenv("MODELWAY_USER", "carol")
    assert (serving._actor(None), serving._actor("dave")) == ("carol", "dave")


@pytest.fixture()
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``modelway serve`` with stand-ins for the deployer and the HTTP server (no model, no socket)."""
    import sys
    import types

    box: dict[str, Any] = {"found": None, "versions": [], "calls": []}

    class Store:
        def get(self, endpoint: str) -> Any:
            box["calls"].append(("get", endpoint))
            return box["found"]

        def require(self, endpoint: str) -> Any:
            return box["found"] or (1, box["deployed_state"])

        def put(self, endpoint: str, state: Any, history: Any = None) -> int:
            box["calls"].append(("put", endpoint, state.capture_rate, history))
            return 2

    class Deployer:
        def __init__(self, home: Path) -> None:
            box["calls"].append(("deployer", home))
            self.store = Store()
            self.registry = SimpleNamespace(list=lambda name: box["versions"], get=lambda name: None)

        def deploy(self, request: Any) -> None:
            box["calls"].append(("deploy", request))
            box["deployed_state"] = EndpointState(model=request.model, environment=request.environment,
                                                  variants={request.version: 1.0}, incumbent=request.version)

    class ModelServer:
        def __init__(self, endpoint: str, home: Path) -> None:
            box["calls"].append(("server", endpoint, home))
            state = (box["found"] or (1, box.get("deployed_state")))[1]
            self.routing = SimpleNamespace(state=state, revision=4)
            self.url = "http://127.0.0.1:8123"

    def bind(host: str, port: int) -> str:
        box["calls"].append(("bind", host, port))
        return "socket"

    def uvicorn_server(server: Any, sock: str) -> Any:
        return SimpleNamespace(run=lambda sockets: box["calls"].append(("run", sockets)))

    monkeypatch.setitem(sys.modules, "modelway.deploy.embedded", types.SimpleNamespace(EmbeddedDeployer=Deployer))
    monkeypatch.setitem(sys.modules, "modelway.serving.app",
                        types.SimpleNamespace(ModelServer=ModelServer, bind=bind, uvicorn_server=uvicorn_server))
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    monkeypatch.setenv("MODELWAY_USER", "carol")
    monkeypatch.delenv("MODELWAY_ENV", raising=False)
    return box


def test_serve_deploys_the_newest_approved_version_first(capsys, server: dict, tmp_path: Path) -> None:
    server["versions"] = [SimpleNamespace(version="2.0.0", status="Approved", environment="dev"),
                          SimpleNamespace(version="1.0.0", status="Approved", environment="prod")]
    done = invoke(capsys, "serve", "credit-risk", "--env", "prod", "--port", "0", "--host", "0.0.0.0")
    assert (done.code, done.err) == (0, "")
    assert done.out.splitlines() == [
        "serving endpoint credit-risk (credit-risk: 1.0.0 100%) on http://127.0.0.1:8123  revision 4",
        "  try: curl -s http://127.0.0.1:8123/invocations -H 'Content-Type: application/json' -d '[{...}]'",
    ]
    calls = server["calls"]
    assert calls[:2] == [("deployer", tmp_path), ("get", "credit-risk")]
    request = calls[2][1]
    assert (request.endpoint, request.model, request.version, request.environment, request.actor, request.trigger) == (
        "credit-risk", "credit-risk", "1.0.0", "prod", "carol", "serve")
    assert calls[3:] == [("server", "credit-risk", tmp_path), ("bind", "0.0.0.0", 0), ("run", ["socket"])]


def test_serve_an_existing_endpoint(capsys, server: dict) -> None:
    state = EndpointState(model="credit-risk", environment="dev", variants={"1.1.0": 0.25, "1.0.0": 0.75},
                          incumbent="1.0.0", standby="0.9.0")
    server["found"] = (3, state)
    done = invoke(capsys, "serve", "credit-risk@0.9.0", "-e", "credit", "--capture-rate", "0.5")
    assert done.out.splitlines()[0] == (
        "serving endpoint credit (credit-risk: 1.0.0 75%, 1.1.0 25%) on http://127.0.0.1:8123  revision 4")
    assert [c for c in server["calls"] if c[0] in ("deploy", "put", "bind")] == [
        ("put", "credit", 0.5, {"actor": "carol", "action": "capture-rate", "details": {"capture_rate": 0.5}}),
        ("bind", "127.0.0.1", 8080)]
    server["calls"].clear()
    invoke(capsys, "serve", "credit-risk", "-e", "credit", "--capture-rate", "0.5")  # unchanged: nothing written
    assert [c[0] for c in server["calls"]] == ["deployer", "get", "server", "bind", "run"]
    refused = invoke(capsys, "serve", "credit-risk@2.0.0", "-e", "credit")
    assert (refused.code, refused.err) == (2, "error: endpoint credit already serves 1.0.0; roll 2.0.0 out with "
                                              "modelway deploy credit-risk@2.0.0 --strategy canary\n")


def test_serve_without_an_approved_version(capsys, server: dict) -> None:
    server["versions"] = [SimpleNamespace(version="1.0.0", status="Pending", environment="dev")]
    done = invoke(capsys, "serve", "m")
    assert (done.code, done.err) == (2, "error: m has no Approved version to serve; approve one or name it: "
                                        "modelway serve m@VERSION\n")
    named = invoke(capsys, "serve", "m@1.0.0")  # a named version is deployed as asked (the registry's rules apply)
    assert named.code == 0 and [c[1].version for c in server["calls"] if c[0] == "deploy"] == ["1.0.0"]


class Flushed:
    """A stream that records what had been written at each flush()."""

    def __init__(self) -> None:
        self.text = ""
        self.flushed: list[str] = []

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        self.flushed.append(self.text)


def _run(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Flushed, Flushed]:
    from modelway.cli.main import main

    out, err = Flushed(), Flushed()
    monkeypatch.setattr(serving.sys, "stdout", out)
    monkeypatch.setattr(serving.sys, "stderr", err)
    try:
        main(list(args))
    except SystemExit:
        pass
    return out, err


def test_progress_lines_are_flushed_as_they_come(deployer: FakeDeployer, monkeypatch: pytest.MonkeyPatch) -> None:
    # a rollout takes minutes: each line must reach a pipe (CI log, `| tee`) when it is said
    deployer.answers["deploy"] = Result(outcome="promoted", reason="ok")
    out, _ = _run(monkeypatch, "deploy", "m@1")
    assert out.flushed[:2] == ["deploying m 1 to endpoint m with canary\n",
                               "deploying m 1 to endpoint m with canary\nwindow 1: ok\n"]
    _, err = _run(monkeypatch, "deploy", "m@1", "--json")
    assert err.flushed[:2] == ["deploying m 1 to endpoint m with canary\n",
                               "deploying m 1 to endpoint m with canary\nwindow 1: ok\n"]
    deployer.answers["rollback"] = Result(incumbent="1", version="2")
    _run(monkeypatch, "rollback", "m", "-r", "x", "--json")
    _, err = Flushed(), Flushed()
    monkeypatch.setattr(serving.sys, "stderr", err)
    deployer.log("window 2: breach")
    assert err.flushed == ["window 2: breach\n"]


def test_serve_flushes_its_address_before_serving(server: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    server["versions"] = [SimpleNamespace(version="1.0.0", status="Approved", environment="dev")]
    out, _ = _run(monkeypatch, "serve", "m")
    assert len(out.flushed) == 2 and out.flushed[1].endswith("-d '[{...}]'\n")
    assert out.flushed[0] == "serving endpoint m (m: 1.0.0 100%) on http://127.0.0.1:8123  revision 4\n"
