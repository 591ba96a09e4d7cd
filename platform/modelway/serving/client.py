"""A tiny keep-alive HTTP client for model servers (stdlib ``http.client``; one connection per instance).

Used by the contract tests, ``modelway traffic`` (demo load), the benchmarks and the tests:
the same client against our server and MLflow's, so measurements compare servers, not clients.

Example:
    >>> c = Client("http://127.0.0.1:9")
    >>> c.host, c.port
    ('127.0.0.1', 9)
"""
from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def variant(self) -> str | None:
        return self.headers.get("x-modelway-variant")


class Client:
    """POST/GET over one persistent connection (reconnects once if the server closed it)."""

    def __init__(self, url: str, timeout: float = 30.0):
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Reply:
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._conn.request(method, path, body=body, headers=headers or {})
                resp = self._conn.getresponse()
                data = resp.read()
                return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()  # the server closed a kept-alive connection: reconnect once
                if attempt:
                    raise
            except (OSError, http.client.HTTPException):
                self.close()  # a timeout leaves the connection mid-request: never reuse it
                raise
        raise AssertionError("unreachable")

    def invoke(self, payload: Any, *, content_type: str = "application/json", headers: dict[str, str] | None = None,
               path: str = "/invocations") -> Reply:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.request("POST", path, body, {"Content-Type": content_type, **(headers or {})})

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
