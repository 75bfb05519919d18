"""Rate limit of /api/bind, /api/status, /api/quote, /api/qr and /api/health (public and admin):
web.throttle_max requests per throttle_duration per client and path, in bursts (the original
allowed 1 request per second: §14.12).

The client is the socket's peer, or with web.behind_proxy the last X-Forwarded-For entry
(the one the proxy itself added; earlier entries are whatever the client sent); an IPv6
client is its whole /64.
"""

from __future__ import annotations

import time

import httpx

from .running_teller import SKY_A, SKY_B, RunningTeller, StartTeller

TOO_MANY = "You have reached maximum request limit."


def assert_limited(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429
    assert response.text == TOO_MANY  # no newline, as the original
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-rate-limit-limit"] == str(limit)
    assert response.headers["x-rate-limit-duration"]
    assert response.headers["x-rate-limit-request-remote-addr"].startswith("127.0.0.1:")
    assert int(response.headers["retry-after"]) >= 1


def status(tel: RunningTeller, **headers: str) -> httpx.Response:
    return tel.http.get(tel.public + "/api/status", params={"skyaddr": SKY_A}, headers=headers)


def test_a_burst_of_throttle_max_requests_then_429(start_teller: StartTeller) -> None:
    tel = start_teller(throttle_max=3, throttle_duration="60s")

    assert [status(tel).status_code for _ in range(3)] == [200, 200, 200]
    assert_limited(status(tel), 3)
    assert_limited(status(tel), 3)


def test_a_throttled_bind_binds_nothing(start_teller: StartTeller) -> None:
    tel = start_teller(throttle_max=2, throttle_duration="60s", max_bound_addrs=0)
    tel.bind_ok(SKY_A, "BTC")
    tel.bind_ok(SKY_A, "BTC")
    before = tel.snapshot()

    response = tel.bind(SKY_B, "BTC")

    assert_limited(response, 2)
    assert response.headers["accept"] == "application/json"
    assert tel.snapshot() == before
    assert tel.statuses(SKY_B) == []


def test_limited_routes_carry_the_rate_limit_headers(start_teller: StartTeller) -> None:
    tel = start_teller(throttle_max=7, throttle_duration="90s")

    for response in (status(tel), tel.bind(SKY_A, "nope")):
        assert response.headers["x-rate-limit-limit"] == "7"
        assert response.headers["x-rate-limit-duration"] == "90s"
        assert response.headers["x-rate-limit-request-remote-addr"].startswith("127.0.0.1:")
    forwarded = status(tel, **{"X-Forwarded-For": "203.0.113.9"})
    assert forwarded.headers["x-rate-limit-request-forwarded-for"] == "203.0.113.9"


def test_requests_are_allowed_again_as_the_window_refills(start_teller: StartTeller) -> None:
    tel = start_teller(throttle_max=2, throttle_duration="1s")  # one request per 0.5 s
    assert [status(tel).status_code for _ in range(3)] == [200, 200, 429]

    time.sleep(0.6)

    assert [status(tel).status_code for _ in range(2)] == [200, 429]


def test_bind_and_status_are_counted_separately(start_teller: StartTeller) -> None:
    tel = start_teller(throttle_max=2, throttle_duration="60s")
    assert [status(tel).status_code for _ in range(3)] == [200, 200, 429]

    assert tel.bind(SKY_A, "BTC").status_code == 200
    assert tel.bind(SKY_A, "BTC").status_code == 200
    assert tel.bind(SKY_A, "BTC").status_code == 429


def test_other_paths_are_not_limited(start_teller: StartTeller) -> None:
    tel = start_teller(throttle_max=1, throttle_duration="60s")
    for path in ("/api/config", "/openapi.json", "/"):
        responses = [tel.http.get(tel.public + path) for _ in range(5)]
        assert [r.status_code for r in responses] == [200] * 5, path
        assert "x-rate-limit-limit" not in responses[0].headers
    # The admin and dummy servers have no rate limit but on the admin /api/health.
    assert all(tel.http.get(tel.admin + "/api/deposits").status_code == 200 for _ in range(5))
    broadcasts = tel.dummy + "/dummy/sender/broadcasts"
    assert all(tel.http.get(broadcasts).status_code == 200 for _ in range(5))


def test_health_is_limited_on_the_public_and_the_admin_server(start_teller: StartTeller) -> None:
    """/api/health counts deposits and asks the node: no client may ask for it unbounded."""
    tel = start_teller(throttle_max=2, throttle_duration="60s")
    for base in (tel.public, tel.admin):
        answers = [tel.http.get(base + "/api/health") for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 429], base
        assert_limited(answers[2], 2)


def test_an_ipv6_client_is_its_whole_64(start_teller: StartTeller) -> None:
    """One IPv6 host holds a /64 (2^64 addresses): changing address gives it no new allowance."""
    tel = start_teller(throttle_max=2, throttle_duration="60s", behind_proxy=True)

    def from_(address: str) -> int:
        return status(tel, **{"X-Forwarded-For": address}).status_code

    same_64 = ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:DB8:1:2::9"]
    assert [from_(a) for a in same_64] == [200, 200, 429]
    assert from_("2001:db8:1:3::1") == 200  # the next /64: another client
    # IPv4 clients stay one address each, also written as IPv4-mapped IPv6.
    assert [from_(a) for a in ("192.0.2.1", "::ffff:192.0.2.1", "192.0.2.1")] == [200, 200, 429]
    assert from_("192.0.2.2") == 200


def test_without_behind_proxy_x_forwarded_for_is_ignored(start_teller: StartTeller) -> None:
    tel = start_teller(throttle_max=2, throttle_duration="60s", behind_proxy=False)

    codes = [status(tel, **{"X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(3)]
    assert codes == [200, 200, 429]
    codes = [status(tel, **{"X-Real-IP": f"198.51.100.{i}"}).status_code for i in range(1)]
    assert codes == [429]


def test_behind_proxy_the_last_forwarded_for_entry_is_the_client(
    start_teller: StartTeller,
) -> None:
    tel = start_teller(throttle_max=2, throttle_duration="60s", behind_proxy=True)

    # The same client behind the proxy, whatever it puts in front of the proxy's entry.
    same_client = [
        status(tel, **{"X-Forwarded-For": f"10.9.9.{i}, 203.0.113.7"}).status_code for i in range(3)
    ]
    assert same_client == [200, 200, 429]
    # Another client (another last entry) has its own allowance, and so has the proxy's
    # own address for requests without the header.
    assert status(tel, **{"X-Forwarded-For": "203.0.113.8"}).status_code == 200
    assert status(tel, **{"X-Forwarded-For": "10.0.0.1,203.0.113.8"}).status_code == 200
    assert status(tel, **{"X-Forwarded-For": "203.0.113.8"}).status_code == 429
    assert [status(tel).status_code for _ in range(3)] == [200, 200, 429]


def test_behind_proxy_a_forged_header_line_does_not_win(start_teller: StartTeller) -> None:
    # A proxy that adds its own X-Forwarded-For line after the client's forged one.
    tel = start_teller(throttle_max=1, throttle_duration="60s", behind_proxy=True)

    def with_lines(forged: str) -> int:
        headers = [("X-Forwarded-For", forged), ("X-Forwarded-For", "203.0.113.50")]
        request = tel.http.build_request(
            "GET", tel.public + "/api/status", params={"skyaddr": SKY_A}, headers=headers
        )
        return tel.http.send(request).status_code

    assert [with_lines(f"10.0.0.{i}") for i in range(3)] == [200, 429, 429]


def test_qr_codes_are_limited_too(start_teller: StartTeller) -> None:
    """Drawing a QR code costs milliseconds of CPU: a client may not ask for them unbounded."""
    tel = start_teller(throttle_max=2, throttle_duration="60s")
    answers = [
        tel.http.get(tel.public + "/api/qr", params={"data": f"bitcoin:1Address{i}"})
        for i in range(3)
    ]
    assert [r.status_code for r in answers[:2]] == [200, 200]
    assert answers[0].headers["content-type"].startswith("image/svg+xml")
    assert_limited(answers[2], 2)
