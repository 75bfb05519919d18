"""What browsers and the network see of the public server: CORS, security headers, HTTPS,
the OpenAPI schema and the web page (teller-go.md §8.1; §14.12 for CORS).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from teller.app import StartupError

from .running_teller import SKY_A, RunningTeller, StartTeller

SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "x-xss-protection": "1; mode=block",
    "referrer-policy": "no-referrer",
}
WALLET = "https://wallet.example"
DESKTOP = "127.0.0.1:6420"  # a desktop wallet's local interface, as the README suggests
EVIL = "https://evil.example"
API_PATHS = ("/api/bind", "/api/status", "/api/config", "/api/health")


def preflight(tel: RunningTeller, origin: str, path: str = "/api/bind") -> httpx.Response:
    return tel.http.options(
        tel.public + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


def bind_from(tel: RunningTeller, origin: str, body: dict[str, Any]) -> httpx.Response:
    return tel.http.post(tel.public + "/api/bind", json=body, headers={"Origin": origin})


# -- CORS --------------------------------------------------------------------------------------


def test_no_cors_headers_when_no_origin_is_allowed(tel: RunningTeller) -> None:
    # The original allowed every origin when cors_allowed was empty (§14.12).
    for origin in (WALLET, EVIL, "null"):
        response = tel.http.get(tel.public + "/api/config", headers={"Origin": origin})
        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers
        bound = bind_from(tel, origin, {"skyaddr": SKY_A, "coin_type": "nope"})
        assert "access-control-allow-origin" not in bound.headers
        response = preflight(tel, origin)
        assert "access-control-allow-origin" not in response.headers
        assert response.status_code == 405


def test_an_allowed_origin_gets_cors_headers(start_teller: StartTeller) -> None:
    tel = start_teller(cors_allowed=[WALLET, DESKTOP])

    for origin in (WALLET, f"http://{DESKTOP}"):
        response = tel.http.get(tel.public + "/api/config", headers={"Origin": origin})
        assert response.headers["access-control-allow-origin"] == origin
        assert "Origin" in response.headers["vary"]

        response = preflight(tel, origin)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "content-type" in response.headers["access-control-allow-headers"].lower()

    bound = bind_from(tel, WALLET, {"skyaddr": SKY_A, "coin_type": "BTC"})
    assert bound.status_code == 200
    assert bound.headers["access-control-allow-origin"] == WALLET


def test_errors_are_readable_by_an_allowed_origin(start_teller: StartTeller) -> None:
    tel = start_teller(cors_allowed=[WALLET])
    response = bind_from(tel, WALLET, {"skyaddr": "abc", "coin_type": "BTC"})

    assert response.status_code == 400
    assert response.headers["access-control-allow-origin"] == WALLET


def test_other_origins_get_no_cors_headers(start_teller: StartTeller) -> None:
    tel = start_teller(cors_allowed=[WALLET, DESKTOP])
    before = tel.snapshot()

    for origin in (EVIL, "https://wallet.example.evil.example", "http://wallet.example", "null"):
        response = tel.http.get(tel.public + "/api/config", headers={"Origin": origin})
        assert "access-control-allow-origin" not in response.headers
        response = preflight(tel, origin)
        assert response.status_code == 400
        assert "access-control-allow-origin" not in response.headers
    assert tel.snapshot() == before


def test_wildcard_origins(start_teller: StartTeller) -> None:
    tel = start_teller(cors_allowed=["https://*.wallet.example", "HTTP://Shop.Example/"])

    for origin, allowed in [
        ("https://app.wallet.example", True),
        ("https://a.b.wallet.example", True),
        ("https://wallet.example", False),
        ("http://app.wallet.example", False),
        ("https://evil.example/.wallet.example", False),
        ("http://shop.example", True),
    ]:
        response = tel.http.get(tel.public + "/api/config", headers={"Origin": origin})
        assert ("access-control-allow-origin" in response.headers) is allowed, origin


def test_a_star_allows_every_origin(start_teller: StartTeller) -> None:
    # The original's behaviour with an empty list, now only when asked for.
    tel = start_teller(cors_allowed=["*"])

    response = tel.http.get(tel.public + "/api/config", headers={"Origin": EVIL})

    assert response.headers["access-control-allow-origin"] == "*"
    assert preflight(tel, EVIL).status_code == 200


def test_preflights_do_not_use_up_the_rate_limit(start_teller: StartTeller) -> None:
    tel = start_teller(cors_allowed=[WALLET], throttle_max=2, throttle_duration="60s")
    for _ in range(5):
        assert preflight(tel, WALLET).status_code == 200

    body = {"skyaddr": SKY_A, "coin_type": "BTC"}
    assert [bind_from(tel, WALLET, body).status_code for _ in range(2)] == [200, 200]
    limited = bind_from(tel, WALLET, body)
    assert limited.status_code == 429
    # The browser may read the 429: it carries the CORS header too.
    assert limited.headers["access-control-allow-origin"] == WALLET


# -- security headers and HTTPS ----------------------------------------------------------------


def test_security_headers_on_every_public_response(start_teller: StartTeller) -> None:
    tel = start_teller(throttle_max=3, throttle_duration="60s")
    http = tel.http
    for _ in range(2):
        http.get(tel.public + "/api/status", params={"skyaddr": SKY_A})
    responses = {
        "config": http.get(tel.public + "/api/config"),
        "health": http.get(tel.public + "/api/health"),
        "status 200": http.get(tel.public + "/api/status", params={"skyaddr": SKY_A}),
        "status 429": http.get(tel.public + "/api/status", params={"skyaddr": SKY_A}),
        "bind 400": tel.bind("abc", "BTC"),
        "bind 405": http.get(tel.public + "/api/bind"),
        "bind 413": http.post(
            tel.public + "/api/bind",
            content=b"x" * 10_000,
            headers={"Content-Type": "application/json"},
        ),
        "404": http.get(tel.public + "/api/nope"),
        "page": http.get(tel.public + "/"),
        "openapi": http.get(tel.public + "/openapi.json"),
    }
    assert responses["status 429"].status_code == 429
    assert responses["bind 405"].status_code == 405
    assert responses["bind 413"].status_code == 413
    for name, response in responses.items():
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (name, header)
        assert "strict-transport-security" not in response.headers, name
        assert "server" not in response.headers, name


def test_https_serves_the_api_with_hsts_and_http_redirects_to_it(
    start_teller: StartTeller,
) -> None:
    tel = start_teller(https=True)
    assert tel.https is not None

    over_tls = tel.http.get(tel.https + "/api/config")
    assert over_tls.status_code == 200
    assert over_tls.json()["enabled"] is True
    assert over_tls.headers["strict-transport-security"] == "max-age=31536000"
    for header, value in SECURITY_HEADERS.items():
        assert over_tls.headers[header] == value

    # The API is never served in plain text beside HTTPS (the original redirected too): the
    # same host (from Host, without its port), HTTPS's port, the same path and query.
    https_port = tel.https.rsplit(":", 1)[1]
    for method in ("GET", "POST", "HEAD"):
        plain = tel.http.request(method, tel.public + "/api/status?skyaddr=" + SKY_A)
        assert plain.status_code == 301, method
        assert plain.headers["location"] == (
            f"https://127.0.0.1:{https_port}/api/status?skyaddr={SKY_A}"
        )
        assert "strict-transport-security" not in plain.headers
        for header, value in SECURITY_HEADERS.items():
            assert plain.headers[header] == value
    named = tel.http.get(tel.public + "/", headers={"Host": "otc.example.com:7071"})
    assert named.headers["location"] == f"https://otc.example.com:{https_port}/"
    assert tel.http.get(tel.public + "/", headers={"Host": "a b"}).status_code == 400
    # Without auto_tls_host there is no ACME challenge to answer: that path redirects too.
    challenge = tel.http.get(tel.public + "/.well-known/acme-challenge/abc")
    assert challenge.status_code == 301

    bound = tel.http.post(tel.https + "/api/bind", json={"skyaddr": SKY_A, "coin_type": "BTC"})
    assert bound.status_code == 200
    assert bound.headers["strict-transport-security"] == "max-age=31536000"
    refused = tel.http.post(tel.https + "/api/bind", json={"skyaddr": "x", "coin_type": "BTC"})
    assert refused.status_code == 400
    assert refused.headers["strict-transport-security"] == "max-age=31536000"
    status = tel.http.get(tel.https + "/api/status", params={"skyaddr": SKY_A})
    assert len(status.json()["statuses"]) == 1


def test_https_certificate_that_cannot_be_loaded_is_a_startup_error(
    start_teller: StartTeller, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(StartupError, match=r"web\.tls_cert .*garbage\.pem .* cannot be loaded"):
        start_teller(https=True, overrides={"web": {"tls_cert": str(garbage)}})


def test_https_only_teller(start_teller: StartTeller) -> None:
    tel = start_teller(https=True, http=False)
    assert tel.https is not None
    assert "web.http_addr" not in tel.teller.addresses()

    response = tel.http.get(tel.https + "/api/health")

    assert response.status_code == 200
    assert response.json()["status"] == "OK"


def test_https_certificate_is_checked_by_clients(start_teller: StartTeller) -> None:
    tel = start_teller(https=True)
    assert tel.https is not None
    with httpx.Client(verify=True) as untrusting, pytest.raises(httpx.ConnectError):
        untrusting.get(tel.https + "/api/config")


# -- OpenAPI, the page, unknown paths ----------------------------------------------------------


def test_openapi_schema_lists_the_public_api(tel: RunningTeller) -> None:
    response = tel.http.get(tel.public + "/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert set(API_PATHS) <= set(schema["paths"])
    assert set(schema["paths"]["/api/bind"]) == {"post"}
    for path in API_PATHS[1:]:
        assert set(schema["paths"][path]) == {"get"}
    bind = schema["paths"]["/api/bind"]["post"]
    body = bind["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["skyaddr", "coin_type"]
    assert {"200", "400", "403", "415", "429", "500"} <= set(bind["responses"])
    assert [p["name"] for p in schema["paths"]["/api/status"]["get"]["parameters"]] == ["skyaddr"]
    # Neither the admin nor the dummy API is published on the public server.
    assert not any(p.startswith(("/dummy", "/api/deposit", "/api/backup")) for p in schema["paths"])


def test_the_web_page_is_served_at_the_root(tel: RunningTeller) -> None:
    response = tel.http.get(tel.public + "/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/api/nope", "/api/bind/x", "/nope.js"])
def test_unknown_paths_are_404(tel: RunningTeller, path: str) -> None:
    response = tel.http.get(tel.public + path)

    assert response.status_code == 404
    assert response.text == "404 page not found\n"


def test_wrong_methods_on_api_routes_are_405_even_with_the_web_page(tel: RunningTeller) -> None:
    # The page is served at "/", which must not swallow the API routes' 405s.
    for method, path, allow in [
        ("GET", "/api/bind", "POST"),
        ("HEAD", "/api/bind", "POST"),
        ("POST", "/api/status", "GET"),
        ("DELETE", "/api/config", "GET"),
        ("PUT", "/api/health", "GET"),
    ]:
        response = tel.http.request(method, tel.public + path)
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == allow
        if method != "HEAD":
            assert response.text == "Invalid request method\n"


def test_json_success_bodies_are_indented_and_end_without_newline(tel: RunningTeller) -> None:
    for path in API_PATHS[2:]:
        text = tel.http.get(tel.public + path).text
        assert text == json.dumps(json.loads(text), indent=4)
        assert not text.endswith("\n")


def test_an_internal_error_is_a_plain_500_with_security_and_cors_headers(
    start_teller: StartTeller,
) -> None:
    tel = start_teller(cors_allowed=[WALLET])
    # Break the store under the running teller: /api/status then fails inside.
    with sqlite3.connect(tel.dir / "data" / "teller.db") as broken:
        broken.execute("ALTER TABLE bindings RENAME TO bindings_gone")

    response = tel.http.get(
        tel.public + "/api/status", params={"skyaddr": SKY_A}, headers={"Origin": WALLET}
    )

    assert response.status_code == 500
    assert response.text == "Internal Server Error\n"  # no details for the caller
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    for header, value in SECURITY_HEADERS.items():
        assert response.headers[header] == value
    assert response.headers["access-control-allow-origin"] == WALLET  # readable by the page
    assert any("/api/status" in line for line in tel.expect_errors())  # for the operator
    assert tel.http.get(tel.public + "/api/health").status_code == 200
