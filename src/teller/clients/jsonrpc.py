"""JSON-RPC over HTTP(S), as Bitcoin Core, btcd and Ethereum nodes speak it.

Answers are parsed with JSON numbers that have a fraction or exponent as `Decimal`, never
float: a BTC amount such as 0.1 must become exactly 10,000,000 satoshis. Every failure is a
`NodeError` (scanners/base.py): `NodeUnreachable` when no answer came, `NodeBadAnswer` when
the answer cannot be used.

A call runs in a worker thread on the standard library's http.client, with one kept-alive
connection per node: a block of thousands of transactions is megabytes of JSON, and both
reading it (httpx took six times as long) and decoding it stay off the event loop, which
keeps answering the HTTP APIs meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import http.client
import json
import ssl
import sys
import threading
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from teller.errors import NodeBadAnswer, NodeUnreachable

DEFAULT_TIMEOUT = 30.0  # seconds: a block of thousands of transactions takes a while

# How deep an answer may nest. Python's decoder stops at its recursion limit (1000), but a
# callTracer block trace (clients/ethereum.py) nests two levels per call frame and the EVM
# allows 1024 nested frames: anyone could otherwise stop the ETH scanner for good with one
# deeply recursive transaction.
DEEP_JSON_LIMIT = 2 * 1024 + 500
_deep_decode = threading.Lock()


def pinned_tls_context(cert_path: str) -> ssl.SSLContext:
    """A client context trusting only `cert_path` (btcd's self-signed rpc.cert, which is its
    own CA and names "localhost" and the host's addresses)."""
    return ssl.create_default_context(cafile=cert_path)


def decode_json(body: bytes) -> Any:
    """`body` parsed, fractional numbers as Decimal.

    The garbage collector is held off meanwhile: a block of thousands of transactions makes
    hundreds of thousands of dicts and lists, each allocation counting towards a collection
    that would walk every live object of the process again and again (it doubled the decode
    time in the bench). Parsed JSON holds no reference cycles, so nothing is left for the
    collector to find; it runs again as soon as the decode is done.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        try:
            return json.loads(body, parse_float=Decimal)
        except RecursionError:
            return _decode_deep(body)
    finally:
        if was_enabled:
            gc.enable()


def _decode_deep(body: bytes) -> Any:
    """`body` decoded again with room for DEEP_JSON_LIMIT levels (RecursionError past them).

    The recursion limit is the interpreter's, so it is raised only meanwhile, one such decode
    at a time; the C stack of a worker thread (8 MiB) holds a few thousand levels easily."""
    with _deep_decode:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, DEEP_JSON_LIMIT + 100))
        try:
            return json.loads(body, parse_float=Decimal)
        finally:
            sys.setrecursionlimit(limit)


class JsonRpcClient:
    """One node endpoint. `version` "1.0" (Bitcoin) or "2.0" (Ethereum)."""

    def __init__(
        self,
        url: str,
        *,
        user: str = "",
        password: str = "",
        tls: ssl.SSLContext | None = None,
        version: str = "2.0",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.url = url
        self.version = version
        self.timeout = timeout
        self.tls = tls
        self.headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        if user or password:
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {token}"
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()  # one request at a time on the kept connection
        self._next_id = 0

    async def call(self, method: str, *params: Any) -> Any:
        """The `result` of `method(params)`; NodeError on any failure."""
        self._next_id += 1
        request = {"jsonrpc": self.version, "id": self._next_id, "method": method}
        request["params"] = list(params)
        body = json.dumps(request).encode()
        return await asyncio.to_thread(self._call, method, body)

    def _call(self, method: str, body: bytes) -> Any:
        with self._lock:
            status, content = self._post(method, body)
        if status in (401, 403):
            raise NodeBadAnswer(f"{method}: HTTP {status}: check the RPC user/pass")
        try:
            document = decode_json(content)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, nesting
            raise NodeBadAnswer(
                f"{method}: HTTP {status}, not a JSON-RPC answer: {content[:120]!r}"
            ) from exc
        if not isinstance(document, dict):
            raise NodeBadAnswer(f"{method}: not a JSON-RPC answer: {type(document).__name__}")
        error = document.get("error")
        if error:
            message = error.get("message", error) if isinstance(error, dict) else error
            code = error.get("code") if isinstance(error, dict) else None
            raise RpcError(method, str(message), code)
        if status != 200:
            raise NodeBadAnswer(f"{method}: HTTP {status}")
        if "result" not in document:
            raise NodeBadAnswer(f"{method}: answer without a result")
        return document["result"]

    def _post(self, method: str, body: bytes) -> tuple[int, bytes]:
        """(status, body) of one POST. Every call is a read, so a kept connection the node
        closed meanwhile is simply opened again and the request sent once more."""
        for attempt in (1, 2):
            fresh = self._connection is None
            connection = self._connection or self._connect()
            try:
                connection.request("POST", self._path, body, self.headers)
                response = connection.getresponse()
                content = response.read()
            except TimeoutError as exc:
                self._drop()
                raise NodeUnreachable(f"{method}: no answer from {self.url} in time") from exc
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self._drop()
                if fresh or attempt == 2:
                    raise NodeUnreachable(f"{method}: {self.url} hung up: {exc}") from exc
                continue  # the kept connection had been closed: once more, on a new one
            except OSError as exc:  # refused, unreachable, TLS failures
                self._drop()
                raise NodeUnreachable(f"{method}: cannot reach {self.url}: {exc}") from exc
            except http.client.HTTPException as exc:  # not HTTP at all
                self._drop()
                raise NodeBadAnswer(
                    f"{method}: not an HTTP answer from {self.url}: {exc!r}"
                ) from exc
            if response.will_close:
                self._drop()
            return response.status, content
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def _path(self) -> str:
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def _connect(self) -> http.client.HTTPConnection:
        parts = urlsplit(self.url)
        host = parts.hostname or "127.0.0.1"
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            context = self.tls or ssl.create_default_context()
            connection = http.client.HTTPSConnection(
                host, parts.port or 443, timeout=self.timeout, context=context
            )
        else:
            connection = http.client.HTTPConnection(host, parts.port or 80, timeout=self.timeout)
        self._connection = connection
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def aclose(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            self._drop()


class RpcError(NodeBadAnswer):
    """The node answered the call with a JSON-RPC error."""

    def __init__(self, method: str, message: str, code: Any) -> None:
        super().__init__(f"{method} failed: {message}" + (f" (code {code})" if code else ""))
        self.method = method
        self.node_message = message  # the node's own words (str() is the whole sentence)
        self.code = code
