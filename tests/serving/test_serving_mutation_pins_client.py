"""Mutation pins of the keep-alive client: address defaults, one reconnect after a server closed the connection,
and no reuse of a connection a timeout left mid-request.

The servers here are raw sockets on loopback that answer exactly as a test needs (close after one
answer, or never answer), so each behaviour is provoked deterministically.
"""
from __future__ import annotations

import http.client
import socket
import threading

import pytest

from modelway.serving.client import Client, Reply

ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Modelway-Variant: 1.2.0\r\n"
          b"Content-Length: 11\r\n\r\n{\"ok\": 1.5}")


class OneShotServer:
    """Accepts connections; answers one request on each, then closes it (``answers`` connections in all)."""

    def __init__(self, answers: int, reply: bytes = ANSWER, *, drop: int = 0):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.reply, self.answers, self.drop = reply, answers, drop
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for _ in range(self.drop):  # read the request, then hang up without an answer
            conn, _ = self.sock.accept()
            with conn:
                conn.recv(65536)
        for _ in range(self.answers):
            conn, _ = self.sock.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length")), b"0"))
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + body)
                conn.sendall(self.reply)
        self.sock.close()


def test_address_defaults():
    c = Client("http://127.0.0.1:9")
    assert (c.host, c.port, c.timeout) == ("127.0.0.1", 9, 30.0)
    assert (Client("http://example.org").host, Client("http://example.org").port) == ("example.org", 80)
    assert Client("http://:8080").host == "127.0.0.1" and Client("http://h", timeout=2.5).timeout == 2.5
    reply = Reply(200, {"x-modelway-variant": "1.0.0"}, b"[1]")
    assert reply.json() == [1] and reply.variant == "1.0.0" and Reply(200, {}, b"").variant is None


def test_post_get_and_one_reconnect_after_the_server_closed_the_connection():
    server = OneShotServer(answers=3)
    client = Client(f"http://127.0.0.1:{server.port}", timeout=5)
    first = client.invoke({"a": 1}, headers={"X-Request-Id": "r-1"})
    assert (first.status, first.json(), first.variant) == (200, {"ok": 1.5}, "1.2.0")
    assert first.headers["content-type"] == "application/json"  # header names lower-cased
    head, body = server.requests[0].split(b"\r\n\r\n")
    assert head.startswith(b"POST /invocations HTTP/1.1") and body == b'{"a": 1}'
    assert b"Content-Type: application/json" in head and b"X-Request-Id: r-1" in head
    # the server closed the kept-alive connection: the client reconnects once, transparently
    second = client.invoke(b"a,b\n1,2\n", content_type="text/csv", path="/other")
    assert second.status == 200
    head, body = server.requests[1].split(b"\r\n\r\n")
    assert head.startswith(b"POST /other HTTP/1.1") and b"Content-Type: text/csv" in head and body == b"a,b\n1,2\n"
    assert client.get("/ping").status == 200 and server.requests[2].startswith(b"GET /ping HTTP/1.1")
    client.close()
    client.close()  # closing twice is harmless
    assert client._conn is None


def test_a_second_failure_in_a_row_is_raised():
    server = OneShotServer(answers=1)
    client = Client(f"http://127.0.0.1:{server.port}", timeout=5)
    assert client.get("/a").status == 200
    server.thread.join(5)  # now nothing listens: the reconnect fails too
    with pytest.raises(OSError):
        client.get("/b")
    assert client._conn is None


def test_a_server_that_hangs_up_twice_in_a_row_is_an_error():
    server = OneShotServer(answers=1, drop=2)
    client = Client(f"http://127.0.0.1:{server.port}", timeout=5)
    with pytest.raises(http.client.RemoteDisconnected):
        client.get("/a")
    assert client._conn is None
    assert client.get("/b").status == 200  # the third connection is answered


def test_one_hang_up_is_retried_on_a_new_connection():
    server = OneShotServer(answers=1, drop=1)
    client = Client(f"http://127.0.0.1:{server.port}", timeout=5)
    assert client.get("/a").status == 200 and server.requests[0].startswith(b"GET /a HTTP/1.1")


def test_a_timeout_is_raised_and_the_connection_dropped():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        client = Client(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.2)
        with pytest.raises(TimeoutError):
            client.get("/ping")
        assert client._conn is None
    finally:
        silent.close()
