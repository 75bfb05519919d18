"""How the simulators (teller_sims/skynode.py, teller_sims/c2cx.py) are served: a bound
loopback socket, a uvicorn server that leaves signals alone, and a context manager that runs
one in the current event loop for a test or a tool."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from teller.http.servers import EmbeddedServer


def bind(host: str, port: int) -> socket.socket:
    """A listening, non-blocking socket on host:port (0: any free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it a small answer written in two pieces
    # waits for the client's delayed ACK (40 ms a request on Linux).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def quiet_server(
    app: ASGIApp, *, ssl_certfile: Path | None = None, ssl_keyfile: Path | None = None
) -> uvicorn.Server:
    """A uvicorn server for `app`: no logging setup, no access log, signals left alone; HTTPS
    when given a certificate and its key."""
    config = uvicorn.Config(
        app,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        proxy_headers=False,
    )
    return EmbeddedServer(config)


async def wait_listening(host: str, port: int) -> None:
    for _ in range(500):
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.01)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
    raise RuntimeError(f"the simulator did not start listening on {host}:{port}")


@contextlib.asynccontextmanager
async def serving_in_background(
    serve: Callable[[socket.socket], Coroutine[Any, Any, None]],
    stop: Callable[[], None],
    sock: socket.socket,
    name: str,
) -> AsyncIterator[None]:
    """Run `serve(sock)` as a task while the block runs; then `stop()` it (cancelled if it
    has not stopped in 10 s) and close the socket."""
    host, port = sock.getsockname()[:2]
    task = asyncio.create_task(serve(sock), name=name)
    try:
        await wait_listening(host, port)
        yield
    finally:
        stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=10)
        except TimeoutError:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


def run_command(
    main: Coroutine[Any, Any, None], name: str, errors: tuple[type[Exception], ...]
) -> int:
    """A simulator's command line: log to stderr, serve until Ctrl-C; exit status 1 with one
    line naming the problem when it cannot start (one of `errors`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(main)
    except KeyboardInterrupt:
        pass
    except errors as exc:
        print(f"{name} cannot start: {exc}", file=sys.stderr)
        return 1
    return 0
