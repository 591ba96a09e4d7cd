"""``modelway serve | deploy | rollback | promote | feedback | deployments``: online serving and rollouts.

Only Typer (and the stdlib) is imported here; Starlette, uvicorn, pandas and the model load
inside the commands.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from modelway.cli.stack import OUTPUTS_HELP, STACK_HELP, use_stack
from modelway.errors import UserError
from modelway.serving.state import DeploymentStore
from modelway.settings import get_settings

deployments_app = typer.Typer(help="Endpoints: routing state, per-variant numbers, decision history.",
                              no_args_is_help=True)


def _home() -> Path:
    return get_settings().resolved_home()


def _actor(by: str | None) -> str:
    from modelway.stages.env import current_user

    return by or current_user()


def _split_ref(ref: str) -> tuple[str, str | None]:
    name, _, version = ref.partition("@")
    if not name:
        raise UserError(f"expected MODEL or MODEL@VERSION, got {ref!r}")
    return name, version or None


def _deployer(stack: str | None, outputs: Path | None, log: Any = None) -> Any:
    """The deployer of the stack (``--stack``/``--outputs``) or of the embedded default (backends/mapping.py)."""
    return use_stack(stack, outputs).deployer(_home(), log=log)


def _log(as_json: bool) -> Any:
    """Progress lines: on stdout, or on stderr when stdout carries JSON."""
    return (lambda m: print(m, file=sys.stderr, flush=True)) if as_json else print


def _print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def serve(
    model: str = typer.Argument(..., help="MODEL or MODEL@VERSION (first deployment: default the newest Approved version)."),
    endpoint: Optional[str] = typer.Option(None, "--endpoint", "-e", help="Endpoint name (default: the model name)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (loopback by default)."),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port (0: any free port)."),
    env: Optional[str] = typer.Option(None, "--env", help="Environment whose promotion rules apply (default $MODELWAY_ENV or dev)."),
    capture_rate: Optional[float] = typer.Option(None, "--capture-rate", min=0.0, max=1.0,
                                                 help="Share of requests captured for monitoring (default 0.1)."),
) -> None:
    """Serve a model over HTTP: POST /invocations, GET /ping /health /metrics."""
    from modelway.deploy.base import DeployRequest
    from modelway.deploy.embedded import EmbeddedDeployer
    from modelway.serving.app import ModelServer, bind, uvicorn_server
    from modelway.stages.env import target_environment

    home = _home()
    name, version = _split_ref(model)
    endpoint = endpoint or name
    environment = target_environment(env)
    deployer = EmbeddedDeployer(home)
    found = deployer.store.get(endpoint)
    if found is None:
        version = version or _newest_approved(deployer.registry, name, environment)
        deployer.deploy(DeployRequest(endpoint=endpoint, model=name, version=version, environment=environment,
                                      actor=_actor(None), trigger="serve"))
    elif version and version not in found[1].loaded_versions():
        raise UserError(f"endpoint {endpoint} already serves {found[1].incumbent}; roll {version} out with "
                        f"modelway deploy {name}@{version} --strategy canary")
    if capture_rate is not None:
        revision, state = deployer.store.require(endpoint)
        if state.capture_rate != capture_rate:
            state.capture_rate = capture_rate
            deployer.store.put(endpoint, state, history={"actor": _actor(None), "action": "capture-rate",
                                                         "details": {"capture_rate": capture_rate}})
    server = ModelServer(endpoint, home=home)
    sock = bind(host, port)
    uv = uvicorn_server(server, sock)
    state = server.routing.state
    shares = ", ".join(f"{v} {w:.0%}" for v, w in sorted(state.variants.items()))
    print(f"serving endpoint {endpoint} ({state.model}: {shares}) on {server.url}  revision {server.routing.revision}",
          flush=True)
    print(f"  try: curl -s {server.url}/invocations -H 'Content-Type: application/json' -d '[{{...}}]'", flush=True)
    uv.run(sockets=[sock])


def _newest_approved(registry: Any, name: str, environment: str) -> str:
    versions = [v for v in registry.list(name) if v.status == "Approved"]
    if not versions:
        registry.get(name)  # unknown model: names the known ones
        raise UserError(f"{name} has no Approved version to serve; approve one or name it: modelway serve {name}@VERSION")
    same_env = [v for v in versions if v.environment == environment]
    return (same_env or versions)[0].version


def deploy(
    ref: str = typer.Argument(..., help="MODEL@VERSION to roll out."),
    strategy: str = typer.Option("canary", "--strategy", help="blue-green | canary | ab | shadow."),
    endpoint: Optional[str] = typer.Option(None, "--endpoint", "-e", help="Endpoint (default: the model name)."),
    env: Optional[str] = typer.Option(None, "--env", help="Environment whose promotion rules apply."),
    steps: str = typer.Option("0.1,0.5,1.0", "--steps", help="Canary traffic shares, ending at 1.0."),
    window_requests: int = typer.Option(200, "--window-requests", min=1, help="Candidate requests per evaluation window."),
    window_seconds: float = typer.Option(60.0, "--window-seconds", min=0.1, help="Longest evaluation window."),
    split: float = typer.Option(0.5, "--split", help="Candidate share in an A/B test."),
    sticky_key: Optional[str] = typer.Option(None, "--sticky-key", help="Request field pinning a client to a variant (A/B)."),
    guardrail: list[str] = typer.Option([], "--guardrail", "-g", help="Guardrail KEY=VALUE, e.g. max_p95_ratio=2 (repeatable)."),
    by: Optional[str] = typer.Option(None, "--by", help="Who deploys (default $MODELWAY_USER)."),
    trigger: str = typer.Option("manual", "--trigger", help="What asked for it (manual, ci, trigger:NAME)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    stack: Optional[str] = typer.Option(None, "--stack", "-s", help=STACK_HELP),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help=OUTPUTS_HELP),
) -> None:
    """Roll a registered version out with guardrails; a breach rolls it back automatically (exit 1)."""
    from pydantic import ValidationError

    from modelway.deploy.base import STRATEGIES, DeployRequest
    from modelway.deploy.guardrails import Guardrails
    from modelway.stages.env import target_environment

    name, version = _split_ref(ref)
    if version is None:
        raise UserError(f"name the version to roll out: modelway deploy {name}@VERSION")
    if strategy not in STRATEGIES:
        raise UserError(f"--strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    try:
        shares = tuple(float(s) for s in steps.split(","))
    except ValueError:
        raise UserError(f"--steps {steps!r}: expected comma-separated shares such as 0.1,0.5,1.0") from None
    limits: dict[str, str] = {}
    for item in guardrail:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--guardrail {item!r}: expected KEY=VALUE (keys: {', '.join(Guardrails.model_fields)})")
        limits[key.strip()] = value.strip()
    try:
        limits_model = Guardrails(**limits)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UserError(f"--guardrail {'.'.join(str(p) for p in first['loc'])}: {first['msg']} "
                        f"(keys: {', '.join(Guardrails.model_fields)})") from None
    try:
        request = DeployRequest(endpoint=endpoint or name, model=name, version=version, strategy=strategy,
                                environment=target_environment(env), actor=_actor(by), trigger=trigger, steps=shares,
                                window_requests=window_requests, window_seconds=window_seconds, ab_split=split,
                                sticky_key=sticky_key, guardrails=limits_model)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserError(f"deploy {ref}: {where}: {first['msg']}") from None
    log = (lambda m: print(m, file=sys.stderr, flush=True)) if as_json else (lambda m: print(m, flush=True))
    log(f"deploying {name} {version} to endpoint {request.endpoint} with {strategy}")
    result = _deployer(stack, outputs, log).deploy(request)
    if as_json:
        _print_json(result.to_dict())
    else:
        print(f"{result.outcome}: {result.reason}")
    if result.outcome == "rolled_back":
        raise typer.Exit(1)


def rollback(
    endpoint: str = typer.Argument(..., help="Endpoint to roll back."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why (recorded in the history and audit log)."),
    by: Optional[str] = typer.Option(None, "--by", help="Who rolls back (default $MODELWAY_USER)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    stack: Optional[str] = typer.Option(None, "--stack", "-s", help=STACK_HELP),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help=OUTPUTS_HELP),
) -> None:
    """Send all traffic back to the previous version (instant: it is still loaded)."""
    result = _deployer(stack, outputs, _log(as_json)).rollback(endpoint, actor=_actor(by), reason=reason)
    if as_json:
        return _print_json(result.to_dict())
    print(f"rolled back: {result.incumbent} serves all traffic; {result.version} removed")


def promote(
    endpoint: str = typer.Argument(..., help="Endpoint whose A/B or shadow candidate gets all traffic."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why (recorded in the history and audit log)."),
    by: Optional[str] = typer.Option(None, "--by", help="Who promotes (default $MODELWAY_USER)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    stack: Optional[str] = typer.Option(None, "--stack", "-s", help=STACK_HELP),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help=OUTPUTS_HELP),
) -> None:
    """End an A/B test or shadow run by giving the candidate all traffic."""
    result = _deployer(stack, outputs, _log(as_json)).promote(endpoint, actor=_actor(by), reason=reason)
    if as_json:
        return _print_json(result.to_dict())
    print(f"promoted: {result.version} serves all traffic ({result.incumbent} on standby)")


def feedback(
    endpoint: str = typer.Argument(..., help="Endpoint the predictions came from."),
    file: Optional[Path] = typer.Option(None, "--file", help="CSV with columns request_id,label."),
    request_id: Optional[str] = typer.Option(None, "--request-id", help="One request id (with --label)."),
    label: Optional[float] = typer.Option(None, "--label", help="The true label of --request-id."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    stack: Optional[str] = typer.Option(None, "--stack", "-s", help=STACK_HELP),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help=OUTPUTS_HELP),
) -> None:
    """Record ground-truth labels for served requests (online accuracy for guardrails, A/B tests, monitor)."""
    import csv

    labels: list[tuple[str, float]] = []
    if file is not None:
        try:
            with open(file, newline="") as handle:
                reader = csv.DictReader(handle)
                if not reader.fieldnames or not {"request_id", "label"} <= set(reader.fieldnames):
                    raise UserError(f"{file}: needs a header with request_id and label (got {reader.fieldnames})")
                for line, row in enumerate(reader, start=2):
                    try:
                        labels.append((row["request_id"], float(row["label"])))
                    except (TypeError, ValueError):
                        raise UserError(f"{file}:{line}: label {row.get('label')!r} is not a number") from None
        except FileNotFoundError:
            raise UserError(f"feedback file {file} not found") from None
    if request_id is not None:
        if label is None:
            raise UserError("--request-id needs --label")
        labels.append((request_id, label))
    if not labels:
        raise UserError("no labels given: pass --file labels.csv or --request-id ID --label VALUE")
    out = _deployer(stack, outputs).feedback(endpoint, labels)
    if as_json:
        return _print_json({"endpoint": endpoint, **out})
    print(f"recorded {out['stored']} label(s) for {endpoint}; {out['matched']} match a logged request"
          + (f"; {out['ambiguous']} name more than one request (a reused X-Request-Id) and are left out of accuracy"
             if out.get("ambiguous") else ""))


@deployments_app.command("list")
def deployments_list(
    as_json: bool = typer.Option(False, "--json", help="Print the endpoints as JSON."),
) -> None:
    """Endpoints and what each serves."""
    store = DeploymentStore(_home())
    names = store.endpoints()
    if as_json:
        entries = []
        for name in names:
            revision, state = store.get(name)
            entries.append({"endpoint": name, "model": state.model, "variants": state.variants, "phase": state.phase,
                            "revision": revision, "live_servers": len(store.live_servers(name))})
        return _print_json(entries)
    if not names:
        print(f"no endpoints in {_home()}; start one with: modelway serve MODEL")
    for name in names:
        revision, state = store.get(name)
        shares = ", ".join(f"{v} {w:.0%}" for v, w in sorted(state.variants.items()))
        print(f"{name:<20} {state.model} [{shares}] phase {state.phase}, revision {revision}, "
              f"{len(store.live_servers(name))} live server(s)")


@deployments_app.command("show")
def deployments_show(
    endpoint: str = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json", help="Print the full record as JSON."),
    stack: Optional[str] = typer.Option(None, "--stack", "-s", help=STACK_HELP),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help=OUTPUTS_HELP),
) -> None:
    """Routing, per-variant numbers of the current revision, A/B verdict and the decision history."""
    doc = _deployer(stack, outputs).describe(endpoint)
    if doc["state"] is None:
        raise UserError(f"endpoint {endpoint!r} has no deployment; start one with: modelway serve MODEL")
    if as_json:
        _print_json(doc)
        return
    st = doc["state"]
    print(f"endpoint   {endpoint} (model {st['model']}, {st['environment']}), revision {doc['revision']}, phase {st['phase']}")
    print(f"weights    {', '.join(f'{v} {w:.0%}' for v, w in sorted(st['variants'].items()))}"
          + (f"; shadow {st['shadow']}" if st["shadow"] else "") + (f"; standby {st['standby']}" if st["standby"] else ""))
    for version, s in doc["stats"].items():
        print(f"  {version:<18} {s['requests']} req, error rate {s['error_rate']}, p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, "
              f"accuracy {s['accuracy']} on {s['labelled']} labelled" + (f", agreement {s['agreement']}" if s["agreement"] is not None else ""))
    if "ab" in doc:
        print(f"A/B        {doc['ab']['decision']}")
    print("history")
    for h in doc["history"]:
        why = h["details"].get("reason") or ""
        print(f"  {h['ts']}  {h['action']:<13} {h['version'] or '':<8} by {h['actor']}  {why}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("deploy")(deploy)
    app.command("rollback")(rollback)
    app.command("promote")(promote)
    app.command("feedback")(feedback)
    app.add_typer(deployments_app, name="deployments")
