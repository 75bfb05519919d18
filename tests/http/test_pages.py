"""The pages teller ships (http/pages.py): the buyer's page on the public server, the admin
dashboard on the admin server, their Content-Security-Policy, and web.static_dir.

The pages themselves are driven in a browser by tests/web/.
"""

from __future__ import annotations

import re
from pathlib import Path

from .running_teller import SKY_A, SKY_B, RunningTeller, StartTeller

ASSET = re.compile(r'(?:src|href)="([^"]+)"')


def assets_of(html: str) -> list[str]:
    """The files a page names (its links to the API left out)."""
    return [a for a in ASSET.findall(html) if not a.startswith(("http:", "https:", "/"))]


def test_the_buyer_page_and_every_asset_it_names_are_served(tel: RunningTeller) -> None:
    page = tel.http.get(tel.public + "/")

    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["cache-control"] == "no-cache"
    assert "<script>" not in page.text and "style=" not in page.text  # nothing inline
    assets = assets_of(page.text)
    assert "js/main.js" in assets and "teller.css" in assets
    for asset in [*assets, "js/api.js", "js/amounts.js", "i18n/en.json"]:
        response = tel.http.get(f"{tel.public}/{asset}")
        assert response.status_code == 200, asset
        assert not any(host in response.text for host in ("cdn.", "googleapis", "unpkg")), asset


def test_a_static_dir_replaces_the_page_without_the_policy(
    start_teller: StartTeller, tmp_path: Path
) -> None:
    own = tmp_path / "own-page"
    own.mkdir()
    (own / "index.html").write_text("<p>the operator's page</p>", encoding="utf-8")
    tel = start_teller(overrides={"web": {"static_dir": str(own)}})

    page = tel.http.get(tel.public + "/")

    assert page.status_code == 200
    assert page.text == "<p>the operator's page</p>"
    assert "content-security-policy" not in page.headers
    assert tel.http.get(tel.public + "/js/main.js").status_code == 404
    assert tel.http.get(tel.public + "/api/config").status_code == 200
    assert tel.http.get(tel.public + "/api/qr", params={"data": "x"}).status_code == 200


def test_the_admin_dashboard_is_served_at_the_admin_root(tel: RunningTeller) -> None:
    page = tel.http.get(tel.admin + "/")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for asset in assets_of(page.text):
        assert tel.http.get(f"{tel.admin}/{asset}").status_code == 200, asset
    # The admin API keeps its own answers next to the dashboard.
    assert tel.http.get(tel.admin + "/api/nope").status_code == 404
    assert tel.http.delete(tel.admin + "/api/accounting").status_code == 405
    # The dashboard is not on the public server.
    assert tel.http.get(tel.public + "/admin.js").status_code == 404


def test_admin_search_by_sky_address_and_deposit_id(start_teller: StartTeller) -> None:
    tel = start_teller(auto_confirm=True)
    first = tel.bind_ok(SKY_A, "BTC")
    second = tel.bind_ok(SKY_B, "BTC")
    tel.deposit_ok(addr=first, value=10**6, tx="aa" * 32)
    tel.deposit_ok(addr=first, value=2 * 10**6, tx="ab" * 32, n=1)
    tel.deposit_ok(addr=second, value=3 * 10**6, tx="ac" * 32)
    tel.wait_status(SKY_A, "done")
    tel.wait_status(SKY_B, "done")

    of_a = tel.admin_get("/api/deposits", sky_address=SKY_A)["deposits"]
    assert [d["deposit_id"] for d in of_a] == [f"{'aa' * 32}:0", f"{'ab' * 32}:1"]
    by_id = tel.admin_get("/api/deposits", deposit_id=f"{'ac' * 32}:0")["deposits"]
    assert [d["sky_address"] for d in by_id] == [SKY_B]
    latest = tel.admin_get("/api/deposits", limit="2")["deposits"]
    assert [d["deposit_id"][:2] for d in latest] == ["ab", "ac"]  # the two most recent, in order
    assert tel.admin_get("/api/deposits", sky_address=SKY_A, status="waiting_send") == {
        "deposits": []
    }
    assert tel.admin_get("/api/deposits", sky_address="nobody") == {"deposits": []}
    # Without the new parameters, the original's answer: every deposit.
    assert len(tel.admin_get("/api/deposits")["deposits"]) == 3

    counts = tel.admin_get("/api/deposits/counts")
    assert counts["done"] == 3
    assert sum(counts.values()) == 3
    assert "waiting_deposit" not in counts
    assert tel.admin_get("/api/health")["exchange"]["deposit_error_count"] == 0


def test_admin_search_refuses_bad_parameters(tel: RunningTeller) -> None:
    for params in ({"limit": "0"}, {"limit": "100000"}, {"sky_address": SKY_A, "status": "x"}):
        response = tel.http.get(tel.admin + "/api/deposits", params=params)
        assert response.status_code == 400, params
        assert response.headers["content-type"].startswith("text/plain")
    assert tel.http.get(tel.admin + "/api/deposits", params={"limit": "x"}).status_code == 400
