"""HTTP limits of every server (public, admin, dummy), over raw sockets: what a client that
sends too much, too slowly or too often gets ([http] config table, http/connection.py).

Header size → 431; a head or body not received in time → 408 and the socket closed; idle
keep-alive closed; more connections than allowed from one client → 429. Whole-process
behaviour under a slowloris and a header flood (memory, other clients) is in
tests/e2e/test_http_limits.py.
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any

import pytest

from .running_teller import SKY_A, RunningTeller, StartTeller

# One GET answered 200 on each server, by base URL attribute (the admin dashboard's page:
# the one admin path that needs no token, so these raw requests carry none).
PATHS = {
    "public": "/api/config",
    "admin": "/",
    "dummy": "/dummy/sender/broadcasts",
}
WAIT = 15.0  # seconds a test waits for the server to act (the deadlines are 1 s)


def fast_limits(**changes: Any) -> dict[str, Any]:
    limits: dict[str, Any] = {
        "header_timeout": "1s",
        "body_timeout": "1s",
        # Longer than the deadlines: the test client's pooled connection would otherwise be
        # closed by the server just as a test reuses it after waiting for a deadline (reset).
        "keep_alive_timeout": "30s",
    }
    limits.update(changes)
    return {"http": limits}


def address(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def connect(base: str, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(address(base), timeout=WAIT, source_address=(source, 0))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (fails after WAIT s)."""
    sock.settimeout(WAIT)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        pytest.fail(f"the server kept the connection open; received {received[:200]!r}")
    except ConnectionResetError:
        pass
    return received


def send_until_cut_off(sock: socket.socket, data: bytes) -> None:
    """Send `data`; teller may stop reading a refused request and reset the connection (the
    answer it sent first stays readable)."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length (the connection stays open)."""
    sock.settimeout(WAIT)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return head + b"\r\n\r\n" + body


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response.split(b" ", 2)[1])


def get_request(path: str, *extra_headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *extra_headers, "", ""]
    return "\r\n".join(lines).encode()


def servers(tel: RunningTeller) -> list[tuple[str, str]]:
    return [(getattr(tel, name), path) for name, path in PATHS.items()]


# -- header size ---------------------------------------------------------------------------


def test_headers_over_the_limit_are_431_on_every_server(start_teller: StartTeller) -> None:
    tel = start_teller(overrides={"http": {"max_header_bytes": 8192}})

    for base, path in servers(tel):
        # Arriving in one piece, and as a 2 MiB header the server stops reading early.
        for size in (9000, 2 * 1024 * 1024):
            with connect(base) as sock:
                send_until_cut_off(sock, get_request(path, "X-Big: " + "a" * size))
                answer = read_until_closed(sock)
            assert status_of(answer) == 431, (base, size)
            assert answer.endswith(b"Request header fields larger than 8192 bytes\n")
        # Just under the limit: answered.
        with connect(base) as sock:
            sock.sendall(get_request(path, "X-Big: " + "a" * 7000))
            assert status_of(read_response(sock)) == 200, base


def test_many_header_lines_count_together(tel: RunningTeller) -> None:
    lines = [f"X-Line-{i}: {'b' * 100}" for i in range(200)]  # 22 KB > 16 KiB (the default)
    with connect(tel.public) as sock:
        sock.sendall(get_request("/api/config", *lines))
        assert status_of(read_until_closed(sock)) == 431
    assert tel.http.get(tel.public + "/api/config").status_code == 200


def test_a_long_keep_alive_connection_is_not_refused_for_its_total(tel: RunningTeller) -> None:
    """The limit is per request head, not per connection."""
    request = get_request("/api/config", "X-Pad: " + "c" * 4000)
    with connect(tel.public) as sock:
        for _ in range(10):  # 40 KB of heads in all
            sock.sendall(request)
            assert status_of(read_response(sock)) == 200


# -- deadlines -----------------------------------------------------------------------------


def test_a_silent_connection_is_closed_after_the_header_timeout(
    start_teller: StartTeller,
) -> None:
    tel = start_teller(overrides=fast_limits())

    for base, _ in servers(tel):
        with connect(base) as sock:
            assert read_until_closed(sock) == b"", base  # nothing asked, nothing said
        with connect(base) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and no end of head
            answer = read_until_closed(sock)
        assert status_of(answer) == 408, base
        assert answer.endswith(b"Request headers not received within 1 s\n")


def test_a_trickled_head_is_cut_at_the_header_timeout(start_teller: StartTeller) -> None:
    """Slowloris: a byte every 0.2 s keeps no idle timer from firing, the deadline does."""
    tel = start_teller(overrides=fast_limits())
    with connect(tel.public) as sock:
        sock.sendall(b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        deadline = time.monotonic() + WAIT
        closed = False
        while time.monotonic() < deadline and not closed:
            try:
                sock.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sock.settimeout(0.2)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            assert status_of(chunk) == 408
            closed = True
        assert closed, "the server kept reading a trickled head"
    assert tel.http.get(tel.public + "/api/config").status_code == 200


def test_a_body_not_sent_in_time_is_408_and_binds_nothing(start_teller: StartTeller) -> None:
    tel = start_teller(overrides=fast_limits())
    before = tel.snapshot()
    body = b'{"skyaddr": "' + SKY_A.encode() + b'", "coin_type": "BTC"}'
    head = (
        "POST /api/bind HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()

    with connect(tel.public) as sock:
        sock.sendall(head + body[:10])  # and never the rest
        answer = read_until_closed(sock)

    assert status_of(answer) == 408
    assert answer.endswith(b"Request body not received within 1 s\n")
    assert tel.snapshot() == before
    assert tel.statuses(SKY_A) == []


def test_an_idle_keep_alive_connection_is_closed(start_teller: StartTeller) -> None:
    tel = start_teller(overrides=fast_limits(header_timeout="30s", keep_alive_timeout="1s"))

    for base, path in servers(tel):
        with connect(base) as sock:
            sock.sendall(get_request(path))
            assert status_of(read_response(sock)) == 200
            assert read_until_closed(sock) == b"", base  # closed, with nothing more said


def test_a_slow_but_steady_client_is_served_on_one_connection(start_teller: StartTeller) -> None:
    """The deadline is per request: a keep-alive connection used for longer is fine."""
    tel = start_teller(overrides=fast_limits(keep_alive_timeout="5s"))
    with connect(tel.public) as sock:
        for _ in range(4):
            sock.sendall(get_request("/api/config"))
            assert status_of(read_response(sock)) == 200
            time.sleep(0.5)  # 2 s in all: longer than the 1 s header deadline


# -- connections per client ----------------------------------------------------------------


def test_connections_over_the_cap_of_one_client_are_refused(start_teller: StartTeller) -> None:
    tel = start_teller(overrides={"http": {"max_connections_per_client": 3}})

    for base, path in servers(tel):
        held = [connect(base, "127.0.0.2") for _ in range(3)]
        try:
            for sock in held:  # each is a working connection
                sock.sendall(get_request(path))
                assert status_of(read_response(sock)) == 200
            with connect(base, "127.0.0.2") as extra:
                answer = read_until_closed(extra)
            assert status_of(answer) == 429, base
            assert answer.endswith(b"Too many connections from your address\n")
            # Another client is served meanwhile.
            with connect(base, "127.0.0.3") as other:
                other.sendall(get_request(path))
                assert status_of(read_response(other)) == 200
        finally:
            held.pop().close()
        # Once one is closed, the client may open another (when the server has seen it).

        def served_again(base: str = base, path: str = path) -> bool:
            with connect(base, "127.0.0.2") as sock:
                sock.sendall(get_request(path, "Connection: close"))
                return status_of(read_until_closed(sock)) == 200

        tel.wait_for(served_again, what="a connection slot again")
        for sock in held:
            sock.close()


def test_behind_a_proxy_the_public_server_does_not_cap_the_proxy(
    start_teller: StartTeller,
) -> None:
    tel = start_teller(behind_proxy=True, overrides={"http": {"max_connections_per_client": 2}})

    held = [connect(tel.public) for _ in range(5)]
    try:
        for sock in held:
            sock.sendall(get_request("/api/config"))
            assert status_of(read_response(sock)) == 200
    finally:
        for sock in held:
            sock.close()
    # The admin server is not behind the proxy: capped.
    admin = [connect(tel.admin, "127.0.0.4") for _ in range(3)]
    try:
        assert status_of(read_until_closed(admin[2])) == 429
    finally:
        for sock in admin:
            sock.close()


# -- body size -------------------------------------------------------------------------------


def test_the_admin_and_dummy_servers_refuse_bodies_over_the_limit(tel: RunningTeller) -> None:
    """web.max_body_bytes holds on every server: their handlers read whole bodies."""
    before = tel.snapshot()
    big = "x" * 5000  # over the 4096 of the test config
    answers = [
        tel.http.post(
            tel.dummy + "/dummy/scanner/deposit",
            content=f"coin=BTC&tx={big}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        tel.http.post(tel.admin + "/api/deposits/" + "ab" * 32 + ":0/stop", json={"reason": big}),
    ]
    for answer in answers:
        assert answer.status_code == 413, answer.text
        assert answer.text == "Request body larger than 4096 bytes\n"
    assert tel.snapshot() == before
