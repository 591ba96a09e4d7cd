"""The model server of one endpoint: a Starlette app on uvicorn, routing by the persisted deployment state.

Routes (the SageMaker / MLflow scoring conventions):

* ``POST /invocations``: JSON records / split / columns or CSV, one row or a batch
  (:mod:`modelway.serving.payload`); 400 naming field and row on a bad payload, 500 when
  the model fails. The response header ``X-Modelway-Variant`` names the version that
  answered and ``X-Request-Id`` the id to send labels for (``modelway feedback``).
* ``GET /ping`` (200 once models are loaded), ``GET /health`` (JSON: revision, weights,
  loaded versions, last load error), ``GET /metrics`` (Prometheus text format).

Routing: a request goes to a variant drawn by the state's weights; with a sticky key (the
``X-Modelway-Key`` header, or the state's ``sticky_key`` field of the first row) the draw is
a hash of the key, so a client always lands on the same variant (A/B). A shadow variant
gets a copy of the request after the response is sent; its answer is logged, never
returned.

A version registered with a feature function (:mod:`modelway.features`) gets it applied to
every validated request before scoring: clients send raw fields, the model and the capture
see the features computed by the training code. Loading a version measures what it costs
(:mod:`modelway.serving.resources`: memory held, peak and rows/s of a probe batch) into the
traffic log, for ``modelway monitor``'s comparison with the previous version.

The server polls the state's revision (every ``poll_s``) and applies a new one by loading
any new version through the registry (sha256 verified) before swapping the routing table
in one assignment; a version that fails to load leaves the old routing in place and is
reported in ``/health`` and the server's heartbeat. Traffic records and captures are
written by the same background task.

Example (see :func:`serve_in_thread` for running one):
    >>> ModelServer.__name__
    'ModelServer'
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from modelway.serving.state import DeploymentStore, EndpointState
from modelway.errors import UserError
from modelway.features import resolve
from modelway.registry import get_registry
from modelway.serving.capture import CaptureWriter
from modelway.serving.metrics import CONTENT_TYPE_LATEST, ServerMetrics
from modelway.serving.payload import PayloadError, parse_body, row_count
from modelway.serving.resources import measure_load, probe_predict
from modelway.serving.traffic import TrafficLog, TrafficRecord, traffic_path
from modelway.serving.variant import Variant, first_prediction

if TYPE_CHECKING:
    from modelway.registry.base import ModelRegistry

VARIANT_HEADER = "X-Modelway-Variant"
KEY_HEADER = "X-Modelway-Key"


@dataclass
class Routing:
    """An immutable routing table: swapped whole when the state's revision changes."""

    revision: int
    state: EndpointState
    variants: dict[str, Variant]
    order: list[str] = field(default_factory=list)
    cumulative: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.order = sorted(v for v, w in self.state.variants.items() if w > 0)  # sorted: stable sticky buckets
        total, self.cumulative = 0.0, []
        for v in self.order:
            total += self.state.variants[v]
            self.cumulative.append(total)

    def choose(self, key: str | None) -> Variant:
        u = sticky_bucket(key) if key is not None else random.random()
        for version, edge in zip(self.order, self.cumulative):
            if u < edge:
                return self.variants[version]
        return self.variants[self.order[-1]]

    @property
    def shadow(self) -> Variant | None:
        return self.variants.get(self.state.shadow) if self.state.shadow else None


def sticky_bucket(key: str) -> float:
    """A key's fixed position in [0, 1): the same key always gets the same variant for given weights.

    Example:
        >>> sticky_bucket("applicant-17") == sticky_bucket("applicant-17")
        True
    """
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class ModelServer:
    """Loads an endpoint's versions, routes requests, logs traffic, follows the deployment state.

    ``state`` given: serve exactly that (not persisted, not followed; the pre-rollout contract
    tests use it). Otherwise the endpoint's persisted state is loaded and followed.
    """

    def __init__(self, endpoint: str, *, home: Path, registry: ModelRegistry | None = None, state: EndpointState | None = None,
                 poll_s: float = 0.2, capture_seed: int | None = None):
        self.endpoint = endpoint
        self.home = Path(home)
        self.registry = registry or get_registry(self.home)
        self.follow = state is None
        self.store = DeploymentStore(self.home)
        self.poll_s = poll_s
        self.url: str | None = None
        self.load_error: str | None = None
        self.metrics = ServerMetrics(endpoint)
        self.traffic = TrafficLog(traffic_path(self.home, endpoint)) if self.follow else None
        if state is None:
            revision, state = self.store.require(endpoint)
        else:
            revision = 0
        self.capture = CaptureWriter(self.home, endpoint, state.capture_rate if self.follow else 0.0, seed=capture_seed)
        self.routing = Routing(revision, state, self._load(state, {}))
        self.app = Starlette(routes=[
            Route("/invocations", self.invocations, methods=["POST"]),
            Route("/ping", self.ping, methods=["GET"]),
            Route("/health", self.health, methods=["GET"]),
            Route("/metrics", self.prometheus, methods=["GET"]),
        ], lifespan=self._lifespan)

    # --- loading -----------------------------------------------------------------------------

    def _load(self, state: EndpointState, loaded: dict[str, Variant]) -> dict[str, Variant]:
        """Variants for ``state``: the ones already loaded, plus new ones loaded (sha256 verified)."""
        from modelway.profiling.profile import load_baseline

        out: dict[str, Variant] = {}
        for version in state.loaded_versions():
            if version in loaded:
                out[version] = loaded[version]
                continue
            mv = self.registry.get(state.model, version)
            # ArtifactIntegrityError on a tampered artifact; the memory the model holds is measured on the way
            model, model_mb = measure_load(lambda v=version: self.registry.load_model(state.model, v))
            features = [(str(n), str(k)) for n, k in mv.schema.get("features", [])]
            if not features:
                raise UserError(f"{state.model} {version} has no feature schema in the registry; it cannot be served")
            ff = mv.schema.get("feature_function")
            feature_fn = resolve(ff["ref"]) if ff else None  # the training code, imported by name (UserError if gone)
            profile = load_baseline(self.home, state.model, version, required=False)
            categories = {n: profile.categories(n) for n, k in features if k == "categorical"} if profile else {}
            out[version] = Variant(version, model, features, task=mv.schema.get("task"),
                                   categories={k: v for k, v in categories.items() if v}, feature_fn=feature_fn)
            if self.traffic is not None:
                self._measure(out[version], state.model, model_mb)
        return out

    def _measure(self, variant: Variant, model: str, model_mb: float, rows: int = 200) -> None:
        """Record what ``variant`` costs (memory held, peak and speed of a probe batch) for ``modelway monitor``."""
        from modelway.profiling.profile import sample_rows

        try:
            sample = sample_rows(variant.inputs, self.home, model, variant.version, rows)
            columns = variant.featurize(variant.validator.validate({n: [r[n] for r in sample] for n, _ in variant.inputs}))
            profile = probe_predict(variant.version, variant.predict_columns, columns, rows, model_mb)
        except Exception:  # noqa: BLE001 - a model that fails the probe fails on traffic too; loading goes on
            return
        self.traffic.record_resources(profile, time.time())

    def apply(self, revision: int) -> None:
        """Apply the persisted state at ``revision`` (load new versions first, then swap the routing)."""
        found = self.store.get(self.endpoint)
        if found is None:
            return
        revision, state = found
        current = self.routing
        try:
            variants = self._load(state, current.variants)
        except Exception as exc:  # noqa: BLE001 - keep serving the old routing; report why
            self.load_error = f"revision {revision}: {exc}"
            return
        self.routing = Routing(revision, state, variants)
        self.capture.rate = state.capture_rate
        self.load_error = None
        for version, variant in current.variants.items():
            if version not in variants:
                variant.close()

    # --- background: follow the state, flush logs, heartbeat ------------------------------------

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> Iterator[None]:
        task = asyncio.get_running_loop().create_task(self._background())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.get_running_loop().run_in_executor(None, self._flush)
            if self.follow and self.url:
                self.store.server_gone(self.endpoint, self.url)

    async def _background(self) -> None:
        loop = asyncio.get_running_loop()
        last_beat = 0.0
        while True:
            if self.follow:
                revision = await loop.run_in_executor(None, self.store.revision, self.endpoint)
                if revision is not None and revision != self.routing.revision:
                    await loop.run_in_executor(None, self.apply, revision)
                await loop.run_in_executor(None, self._flush)
                if self.url and time.monotonic() - last_beat > 0.5:
                    await loop.run_in_executor(None, self.store.heartbeat, self.endpoint, self.url,
                                               self.routing.revision, self.load_error)
                    last_beat = time.monotonic()
            await asyncio.sleep(self.poll_s)

    def _flush(self) -> None:
        if self.traffic is not None:
            self.traffic.flush()
        self.capture.flush()

    # --- routes --------------------------------------------------------------------------------

    async def invocations(self, request: Request) -> Response:
        start = time.perf_counter()
        ts = time.time()
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        routing = self.routing
        body = await request.body()
        try:
            columns = parse_body(body, request.headers.get("content-type"))
        except PayloadError as exc:
            return self._rejected(routing, None, request_id, ts, start, str(exc), None)
        key = request.headers.get(KEY_HEADER)
        if key is None and routing.state.sticky_key and routing.state.sticky_key in columns:
            key = str(columns[routing.state.sticky_key][0])
        variant = routing.choose(key)
        try:
            valid = variant.validator.validate(columns)
        except PayloadError as exc:
            return self._rejected(routing, variant, request_id, ts, start, str(exc), columns)
        headers = {VARIANT_HEADER: variant.version, "X-Request-Id": request_id, "X-Modelway-Model": routing.state.model}
        try:
            served = variant.featurize(valid)  # the registered feature function: the same code as in training
            rows = await variant.submit(served)
        except Exception as exc:  # noqa: BLE001 - a model failure is this request's 500, counted against the variant
            elapsed = time.perf_counter() - start
            self._log(routing, variant, request_id, ts, 500, elapsed, None, error=f"{type(exc).__name__}: {exc}")
            return JSONResponse({"error": f"model {variant.version} failed: {type(exc).__name__}: {exc}"},
                                status_code=500, headers=headers)
        elapsed = time.perf_counter() - start
        self._log(routing, variant, request_id, ts, 200, elapsed, rows, inputs=served)
        task = None
        shadow = routing.shadow
        if shadow is not None and shadow is not variant:
            task = BackgroundTask(self._shadow, routing, shadow, valid, request_id, rows)
        return Response(json.dumps({"predictions": rows}), media_type="application/json", headers=headers, background=task)

    def _rejected(self, routing: Routing, variant: Variant | None, request_id: str, ts: float, start: float, message: str,
                  columns: Any) -> Response:
        field_name = message.split("field ", 1)[1].split(":")[0].strip("' ") if "field " in message else "body"
        self.metrics.invalid.labels(self.endpoint, field_name[:60]).inc()
        version = variant.version if variant is not None else "-"
        self.metrics.observe(version, 400, time.perf_counter() - start)
        self.capture.maybe({"request_id": request_id, "ts": ts, "version": version, "status": 400, "error": message,
                            "inputs": columns if isinstance(columns, dict) else None})
        if self.traffic is not None:
            self.traffic.record(TrafficRecord(request_id, ts, version, routing.revision, 400,
                                              (time.perf_counter() - start) * 1000, error=message[:500]))
        headers = {"X-Request-Id": request_id}
        if variant is not None:
            headers[VARIANT_HEADER] = variant.version
        return JSONResponse({"error": message}, status_code=400, headers=headers)

    def _log(self, routing: Routing, variant: Variant, request_id: str, ts: float, status: int, elapsed: float,
             rows: list[dict[str, Any]] | None, *, inputs: Any = None, error: str | None = None) -> None:
        self.metrics.observe(variant.version, status, elapsed)
        prediction, score = first_prediction(rows or [])
        if self.traffic is not None:
            self.traffic.record(TrafficRecord(request_id, ts, variant.version, routing.revision, status, elapsed * 1000,
                                              prediction, score, error=error))
        self.capture.maybe({"request_id": request_id, "ts": ts, "version": variant.version, "status": status,
                            "inputs": inputs, "outputs": rows, "error": error})

    async def _shadow(self, routing: Routing, shadow: Variant, valid: Any, request_id: str, served: list[dict[str, Any]]) -> None:
        ts, start = time.time(), time.perf_counter()
        try:
            rows = await shadow.submit(shadow.featurize(valid))  # its own feature function, if it has one
            status, error = 200, None
        except Exception as exc:  # noqa: BLE001 - a failing shadow is logged, never seen by the client
            rows, status, error = None, 500, f"{type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - start
        agree = None
        if rows is not None:
            agree = int(all(a.get("prediction") == b.get("prediction") for a, b in zip(rows, served)))
            self.metrics.shadow.labels(self.endpoint, shadow.version, str(bool(agree)).lower()).inc()
        prediction, score = first_prediction(rows or [])
        if self.traffic is not None:
            self.traffic.record(TrafficRecord(request_id, ts, shadow.version, routing.revision, status, elapsed * 1000,
                                              prediction, score, shadow=1, agree=agree, error=error))

    async def ping(self, request: Request) -> Response:
        return PlainTextResponse("", status_code=200 if self.routing.variants else 503)

    async def health(self, request: Request) -> Response:
        r = self.routing
        return JSONResponse({
            "endpoint": self.endpoint, "model": r.state.model, "revision": r.revision, "weights": r.state.variants,
            "phase": r.state.phase, "shadow": r.state.shadow, "standby": r.state.standby, "loaded": sorted(r.variants),
            "categories_checked": {v: x.categories_checked for v, x in r.variants.items()}, "load_error": self.load_error,
        })

    async def prometheus(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE_LATEST)


# --- running a server -------------------------------------------------------------------------

def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket (``port=0``: a free port the OS picks)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port") from None
    sock.listen(2048)  # accept (queue) connections from now on, before the event loop is up
    return sock


def uvicorn_server(server: ModelServer, sock: socket.socket, *, log_level: str = "warning") -> Any:
    import uvicorn

    host, port = sock.getsockname()[:2]
    server.url = f"http://{host}:{port}"
    config = uvicorn.Config(server.app, log_level=log_level, access_log=False, lifespan="on", timeout_keep_alive=30)
    return uvicorn.Server(config)


@contextlib.contextmanager
def serve_in_thread(server: ModelServer, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run ``server`` on a background thread; yields its base URL and stops it on exit.

    Example:
        >>> with serve_in_thread(my_server) as url:  # doctest: +SKIP
        ...     requests.get(url + "/ping")
    """
    sock = bind(host, port)
    uv = uvicorn_server(server, sock)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True, name=f"serve-{server.endpoint}")
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server for {server.endpoint} did not start")
        time.sleep(0.01)
    while server.follow and not any(s["url"] == server.url for s in server.store.live_servers(server.endpoint)):
        if time.monotonic() > deadline:  # rollouts wait for heartbeats: be visible before returning
            raise RuntimeError(f"server for {server.endpoint} sent no heartbeat")
        time.sleep(0.02)
    try:
        yield server.url
    finally:
        uv.should_exit = True
        thread.join(timeout=15)
        sock.close()
        for variant in server.routing.variants.values():
            variant.close()
