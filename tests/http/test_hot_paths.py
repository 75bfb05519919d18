"""The public server's hot paths (http/hot.py) answer exactly as the full app does.

A request with an Origin header always goes through the full app (the edge leaves CORS to it),
and with no web.cors_allowed the full app adds nothing for it: so the same request with and
without that header shows the full app's answer beside the edge's, on one running teller.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from teller.store.db import create_store_engine
from teller.store.tables import bindings

from .running_teller import SKY_A, SKY_B, RunningTeller, StartTeller

FULL_APP = {"Origin": "http://elsewhere.example"}
# Differ between any two answers: when, and the client's port (each its own connection).
VARYING = {b"date", b"x-rate-limit-request-remote-addr", b"retry-after"}


def answer(response: httpx.Response) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    headers = [(name.lower(), value) for name, value in response.headers.raw]
    return (
        response.status_code,
        [h if h[0] not in VARYING else (h[0], b"") for h in headers],
        response.content,
    )


def both(tel: RunningTeller, method: str, path: str, **kwargs: Any) -> tuple[Any, Any]:
    """The answer of the edge and of the full app to one request, each on its own client."""
    answers = []
    for extra in ({}, FULL_APP):
        with httpx.Client(timeout=10.0) as client:
            headers = {**kwargs.pop("headers", {}), **extra} if extra else kwargs.get("headers")
            request_kwargs = {**kwargs, "headers": headers} if headers else kwargs
            answers.append(answer(client.request(method, tel.public + path, **request_kwargs)))
    return answers[0], answers[1]


@pytest.mark.parametrize(
    "query",
    [f"skyaddr={SKY_A}", f"skyaddr={SKY_B}", "skyaddr=", "skyaddr=xx", "", "skyaddr=%ff%fe"],
)
def test_status_answers_are_the_full_apps(tel: RunningTeller, query: str) -> None:
    tel.bind_ok(SKY_A)
    edge, full = both(tel, "GET", f"/api/status?{query}")
    assert edge == full
    assert edge[0] in (200, 400)


def test_config_answer_is_the_full_apps(tel: RunningTeller) -> None:
    edge, full = both(tel, "GET", "/api/config")
    assert edge == full and edge[0] == 200


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", b"x", 415),
        ("application/json", b"", 400),
        ("application/json", b"{", 400),
        ("application/json", b"[1]", 400),
        ("application/json", b'{"skyaddr": 5, "coin_type": "BTC"}', 400),
        ("application/json", b'{"skyaddr": "' + SKY_A.encode() + b'", "coin_type": "LTC"}', 400),
        ("application/json", b'{"skyaddr": "nope", "coin_type": "BTC"}', 400),
        ("application/json", b'{"coin_type": "BTC"}', 400),
    ],
)
def test_bind_refusals_are_the_full_apps(
    tel: RunningTeller, content_type: str, body: bytes, status: int
) -> None:
    before = tel.snapshot()
    edge, full = both(
        tel, "POST", "/api/bind", content=body, headers={"Content-Type": content_type}
    )
    assert edge == full
    assert edge[0] == status
    assert tel.snapshot() == before  # refused: nothing bound by either


def test_a_bind_is_answered_as_the_full_app_answers_it(tel: RunningTeller) -> None:
    body = b'{"skyaddr": "' + SKY_B.encode() + b'", "coin_type": "BTC"}'
    edge, full = both(
        tel, "POST", "/api/bind", content=body, headers={"Content-Type": "application/json"}
    )
    assert edge[0] == full[0] == 200
    assert [name for name, _ in edge[1]] == [name for name, _ in full[1]]
    edge_bind, full_bind = (httpx.Response(200, content=a[2]).json() for a in (edge, full))
    assert edge_bind["deposit_address"] != full_bind["deposit_address"]  # one each
    assert (edge_bind["bound_addrs_left"], full_bind["bound_addrs_left"]) == (4, 3)
    assert edge[2] == full[2].replace(
        full_bind["deposit_address"].encode(), edge_bind["deposit_address"].encode()
    ).replace(b'"bound_addrs_left": 3', b'"bound_addrs_left": 4')  # the same JSON, same form
    assert [s["coin_type"] for s in tel.statuses(SKY_B)] == ["BTC", "BTC"]


def test_a_throttled_request_is_refused_as_the_full_app_refuses_it(
    start_teller: StartTeller,
) -> None:
    tel = start_teller(throttle_max=1, throttle_duration="60s")
    for path in ("/api/status?skyaddr=" + SKY_A, "/api/bind"):
        method = "GET" if path.startswith("/api/status") else "POST"
        kwargs: dict[str, Any] = {}
        if method == "POST":
            kwargs = {"json": {"skyaddr": SKY_A, "coin_type": "BTC"}}
        # The edge and the full app share one budget: the first request takes it.
        first = tel.http.request(method, tel.public + path, **kwargs)
        assert first.status_code == 200
        edge, full = both(tel, method, path, **kwargs)
        assert edge == full and edge[0] == 429


def test_a_kept_status_answer_gives_way_to_any_commit_of_another_connection(
    tel: RunningTeller,
) -> None:
    """The edge keeps a status answer until the store's change counter moves: a write by
    another connection (here another engine, as another process would be) shows at once."""
    tel.bind_ok(SKY_A)
    kept = tel.status(SKY_A).content
    assert tel.status(SKY_A).content == kept  # nothing changed: the same answer
    url = tel.teller.services.db.engine.url.render_as_string(hide_password=False)
    engine = create_store_engine(url)  # a connection of its own, as another process has
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(bindings).values(
                    coin_type="BTC",
                    deposit_address="1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
                    sky_address=SKY_A,
                    buy_method="direct",
                    bound_at=1,
                )
            )
    finally:
        engine.dispose()
    assert [s["updated_at"] for s in tel.statuses(SKY_A)][-1] == 1


@pytest.mark.parametrize("path", ["/api/status?skyaddr=" + SKY_A, "/api/config"])
def test_a_get_announcing_a_body_is_answered_as_the_full_app_answers_it(
    tel: RunningTeller, path: str
) -> None:
    """The full app's body limit applies to every request: a GET with a body over
    web.max_body_bytes is 413 there, so the edge leaves such a GET to it."""
    edge, full = both(tel, "GET", path, content=b"x" * (tel.config.web.max_body_bytes + 1))
    assert edge == full and edge[0] == 413
    edge, full = both(tel, "GET", path, content=b"x")  # within the limit: answered
    assert edge == full and edge[0] == 200
