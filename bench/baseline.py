"""The bare ASGI baseline: the least a JSON endpoint can cost under teller's uvicorn settings.

`python -m bench.baseline PORT` serves a plain ASGI callable (no framework, no middleware,
no database) that answers every request with a small JSON document. It is served through
teller's own `teller.http.servers.Listener.server()`, so uvicorn's settings (HTTP and loop
implementation, keep-alive, logging) are teller's by construction.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from teller.http.servers import Listener, bind_socket

BODY = b'{"status": "OK"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def bare_json_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main(argv: list[str]) -> int:
    port = int(argv[0])
    sock = bind_socket("bench.baseline", f"127.0.0.1:{port}")
    listener = Listener("bench.baseline", bare_json_app, sock)  # type: ignore[arg-type]
    asyncio.run(listener.server().serve(sockets=[sock]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
