"""GET /api/qr on the public server: the web page's QR codes (http/qr.py)."""

from __future__ import annotations

import pytest

from teller.http.qr import MAX_QR_DATA, qr_svg

from .running_teller import RunningTeller, example_addresses


def test_a_payment_uri_is_drawn_as_svg(tel: RunningTeller) -> None:
    address = example_addresses("BTC")[0]
    response = tel.http.get(tel.public + "/api/qr", params={"data": f"bitcoin:{address}"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["content-security-policy"] == "default-src 'none'"
    assert "max-age" in response.headers["cache-control"]
    assert response.content.startswith(b"<svg ")
    assert b"viewBox" in response.content
    assert b"<script" not in response.content
    assert response.content == qr_svg(f"bitcoin:{address}")


def test_different_data_give_different_codes(tel: RunningTeller) -> None:
    first, second = example_addresses("ETH")[:2]
    one = tel.http.get(tel.public + "/api/qr", params={"data": first}).content
    other = tel.http.get(tel.public + "/api/qr", params={"data": second}).content
    assert one != other


def test_the_longest_data_allowed_is_drawn(tel: RunningTeller) -> None:
    response = tel.http.get(tel.public + "/api/qr", params={"data": "A" * MAX_QR_DATA})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "data required\n"),
        ("A" * (MAX_QR_DATA + 1), f"data longer than {MAX_QR_DATA} characters\n"),
        ("<script>alert(1)</script>", None),
        ("bitcoin:abc def", None),
        ("bitcoin:ädress", None),
        ("line\nbreak", None),
    ],
)
def test_bad_data_is_a_clear_400(tel: RunningTeller, data: str, message: str | None) -> None:
    response = tel.http.get(tel.public + "/api/qr", params={"data": data})

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    expected = message or "data may contain only letters, digits and : ? = & . , _ / + % -\n"
    assert response.text == expected


def test_qr_takes_only_get(tel: RunningTeller) -> None:
    response = tel.http.post(tel.public + "/api/qr", params={"data": "x"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
