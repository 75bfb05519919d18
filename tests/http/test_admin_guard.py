"""The admin server's guards against a real teller (issue 14, finding 2; README "Security").

A credential on every admin request (Authorization: Bearer, the data directory's admin_token by
default, or a hash in the config), a Host allow-list on the admin and dummy servers (no DNS
rebinding), `:PORT` listening on loopback only, /metrics only with the credential or from
loopback, and nosniff on every admin and dummy answer.
"""

from __future__ import annotations

import logging
import stat
from typing import Any

import httpx
import pytest

from teller.config.admin_auth import pbkdf2_hash, sha256_hash
from teller.http.admin import create_admin_app

from .running_teller import SKY_A, RunningTeller, StartTeller

PROTECTED = [
    ("GET", "/api/deposits"),
    ("GET", "/api/deposit-addresses"),
    ("GET", "/api/accounting"),
    ("GET", "/api/backup"),
    ("POST", "/api/backup"),
    ("POST", "/api/deposits/aa:0/release"),
    ("GET", "/openapi.json"),
    ("GET", "/api/nope"),
]


def bare(url: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
    """A request from a client that holds no credential (a fresh one, no default headers)."""
    with httpx.Client(timeout=10.0) as client:
        return client.request(method, url, **kwargs)


def test_no_credential_is_401_with_www_authenticate(tel: RunningTeller) -> None:
    for method, path in PROTECTED:
        response = bare(tel.admin + path, method)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == 'Bearer realm="teller admin"'
        assert "Authorization: Bearer" in response.text
        assert response.headers["x-content-type-options"] == "nosniff"


def test_a_wrong_token_is_401_and_the_right_one_200(tel: RunningTeller) -> None:
    assert len(tel.admin_token) >= 40
    for wrong in ("Bearer " + tel.admin_token[:-1] + "x", "Bearer x", "Basic " + tel.admin_token):
        response = bare(tel.admin + "/api/backup", headers={"Authorization": wrong})
        assert response.status_code == 401, wrong
        assert "www-authenticate" in response.headers
        assert tel.admin_token not in response.text
    right = bare(tel.admin + "/api/backup", headers=tel.admin_headers)
    assert right.status_code == 200
    assert right.content[:16] == b"SQLite format 3\x00"
    assert bare(tel.admin + "/api/deposits", headers=tel.admin_headers).json() == {"deposits": []}


def test_the_dashboard_files_load_without_the_token(tel: RunningTeller) -> None:
    """The page holds no data; it asks for the token and sends it with every API call."""
    for path in ("/", "/admin.js", "/strings.js", "/admin.css", "/favicon.svg"):
        response = bare(tel.admin + path)
        assert response.status_code == 200, path
        assert response.headers["x-content-type-options"] == "nosniff"


def test_an_action_with_the_token_acts_and_without_it_changes_nothing(
    tel: RunningTeller,
) -> None:
    address = tel.bind_ok(SKY_A)
    tel.deposit_ok(addr=address, value=1, tx="ab" * 32)  # too small: stopped with an error
    deposit_id = f"{'ab' * 32}:0"
    tel.wait_for(lambda: tel.admin_get("/api/deposits/errored")["deposits"], what="errored")
    refused = bare(
        f"{tel.admin}/api/deposits/{deposit_id}/stop", "POST", json={"reason": "by hand"}
    )
    assert refused.status_code == 401
    assert tel.admin_get("/api/actions")["actions"] == []  # not even an audit row
    acted = bare(
        f"{tel.admin}/api/deposits/{deposit_id}/stop",
        "POST",
        json={"reason": "by hand"},
        headers=tel.admin_headers,
    )
    assert acted.status_code != 401
    assert len(tel.admin_get("/api/actions")["actions"]) == 1


@pytest.mark.parametrize("server", ["admin", "dummy"])
def test_a_foreign_host_header_is_refused(tel: RunningTeller, server: str) -> None:
    """DNS rebinding: a page on evil.example whose name points at 127.0.0.1 makes the
    browser send Host: evil.example:PORT. Refused before any route, even with the token."""
    base = getattr(tel, server)
    port = base.rsplit(":", 1)[1]
    path = "/api/backup" if server == "admin" else "/dummy/sender/broadcasts"
    for host in (f"evil.example:{port}", "evil.example", "127.0.0.1.evil.example", "10.0.0.1"):
        response = bare(base + path, headers={"Host": host, **tel.admin_headers})
        assert response.status_code == 421, host
        assert "is not a name of this server" in response.text
        assert ("admin_panel" if server == "admin" else "dummy") + ".allowed_hosts" in (
            response.text
        )
        assert response.headers["x-content-type-options"] == "nosniff"
        assert b"SQLite" not in response.content
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST."):
        response = bare(base + path, headers={"Host": host, **tel.admin_headers})
        assert response.status_code == 200, host


def test_names_listed_in_allowed_hosts_are_served(start_teller: StartTeller) -> None:
    tel = start_teller(
        overrides={
            "admin_panel": {"allowed_hosts": ["teller.lan"]},
            "dummy": {"allowed_hosts": ["dummy.lan"]},
        }
    )
    host = {"Host": "teller.lan:7711", **tel.admin_headers}
    assert bare(tel.admin + "/api/accounting", headers=host).status_code == 200
    assert bare(tel.admin + "/api/accounting", headers={"Host": "dummy.lan"}).status_code == 421
    assert bare(tel.dummy + "/dummy/sender/broadcasts", headers={"Host": "dummy.lan"}).is_success


def test_port_only_listens_on_loopback(
    start_teller: StartTeller, caplog: pytest.LogCaptureFixture
) -> None:
    """A listen address ":PORT" is 127.0.0.1, not every interface (it was every interface
    before); a public listener written so says it, for the operator who meant the internet."""
    with caplog.at_level(logging.WARNING, logger="teller"):
        tel = start_teller(
            overrides={
                "web": {"http_addr": ":0"},
                "admin_panel": {"host": ":0"},
                "dummy": {"http_addr": ":0"},
            }
        )
    bound = {lst.name: lst.sock.getsockname()[0] for lst in tel.teller.listeners}
    names = ("web.http_addr", "admin_panel.host", "dummy.http_addr")
    assert bound == dict.fromkeys(names, "127.0.0.1")
    assert tel.admin_get("/api/accounting")["sent"] == "0.000000"
    watch = [r for r in caplog.records if getattr(r, "notice", None) == "WATCH"]
    assert [(r.getMessage(), getattr(r, "fields", {}).get("listener")) for r in watch] == [
        (
            'listener written ":PORT" listens on loopback only: write 0.0.0.0:PORT to serve'
            " every interface",
            "web.http_addr",
        )
    ]


def test_metrics_are_admin_only(tel: RunningTeller) -> None:
    assert bare(tel.public + "/metrics").status_code == 404
    assert bare(tel.public + "/metrics", headers=tel.admin_headers).status_code == 404
    # From loopback (a local Prometheus), no token needed; with it, too.
    local = bare(tel.admin + "/metrics")
    assert local.status_code == 200
    assert "teller_deposits_errored" in local.text
    assert bare(tel.admin + "/metrics", headers=tel.admin_headers).status_code == 200
    assert bare(tel.admin + "/metrics", headers={"Authorization": "Bearer x"}).status_code == 200


async def test_metrics_from_another_machine_need_the_token(tel: RunningTeller) -> None:
    """A scrape from a non-loopback address (the admin app itself, its client address set as
    a remote one: a test machine may have no second interface) needs the credential."""
    credential_app = create_admin_app(tel.teller.services, _credential(tel))
    transport = httpx.ASGITransport(app=credential_app, client=("192.0.2.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as remote:
        refused = await remote.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        allowed = await remote.get("/metrics", headers=tel.admin_headers)
        assert allowed.status_code == 200


def _credential(tel: RunningTeller) -> Any:
    from teller.app import admin_credential

    return admin_credential(tel.config, tel.dir / "data")


def test_the_token_file_is_made_private_and_never_logged(
    start_teller: StartTeller, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="teller"):
        tel = start_teller()
    token_file = tel.dir / "data" / "admin_token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    made = [r for r in caplog.records if r.getMessage() == "admin API token made"]
    assert made and made[0].fields["token_file"] == str(token_file)  # type: ignore[attr-defined]
    bare(tel.admin + "/api/deposits", headers={"Authorization": "Bearer wrong-" + "x" * 40})
    bare(tel.admin + "/api/deposits", headers=tel.admin_headers)
    assert tel.admin_token not in caplog.text


@pytest.mark.parametrize("form", ["sha256", "pbkdf2"])
def test_a_hash_in_the_config_accepts_its_token(start_teller: StartTeller, form: str) -> None:
    token = "correct horse battery staple"
    stored = sha256_hash(token) if form == "sha256" else pbkdf2_hash(token, iterations=1000)
    tel = start_teller(overrides={"admin_panel": {"auth_token_hash": stored}})
    assert not (tel.dir / "data" / "admin_token").exists()  # no file made beside a hash
    headers = {"Authorization": f"Bearer {token}"}
    assert bare(tel.admin + "/api/accounting", headers=headers).status_code == 200
    assert bare(tel.admin + "/api/accounting", headers=headers).status_code == 200  # remembered
    wrong = {"Authorization": "Bearer correct horse battery stapler"}
    assert bare(tel.admin + "/api/accounting", headers=wrong).status_code == 401


def test_a_token_file_named_in_the_config(start_teller: StartTeller, tmp_path: Any) -> None:
    token_file = tmp_path / "admin.token"
    token_file.write_text("s3cret-token-of-the-operator\n")
    tel = start_teller(overrides={"admin_panel": {"auth_token_file": str(token_file)}})
    headers = {"Authorization": "Bearer s3cret-token-of-the-operator"}
    assert bare(tel.admin + "/api/accounting", headers=headers).status_code == 200
    assert bare(tel.admin + "/api/accounting").status_code == 401


def test_auth_off_on_loopback_when_the_operator_says_so(start_teller: StartTeller) -> None:
    tel = start_teller(overrides={"admin_panel": {"disable_auth_on_loopback": True}})
    assert bare(tel.admin + "/api/accounting").status_code == 200
    # The Host allow-list stays.
    assert bare(tel.admin + "/api/backup", headers={"Host": "evil.example"}).status_code == 421


def test_nosniff_on_every_admin_and_dummy_answer(tel: RunningTeller) -> None:
    answers = [
        tel.http.get(tel.admin + "/api/deposits"),
        tel.http.get(tel.admin + "/api/nope"),
        tel.http.get(tel.admin + "/metrics"),
        tel.http.get(tel.admin + "/api/deposits", params={"status": "nope"}),
        tel.http.get(tel.dummy + "/dummy/sender/broadcasts"),
        tel.http.post(tel.dummy + "/dummy/scanner/deposit"),
        tel.http.get(tel.dummy + "/nope"),
        tel.http.get(tel.public + "/api/config"),
    ]
    assert [r.headers.get("x-content-type-options") for r in answers] == ["nosniff"] * 8


def test_the_served_documents_declare_the_guards(tel: RunningTeller) -> None:
    """What the guards answer is in the documents: the admin token (a bearer scheme, 401) and
    421 for a Host not allowed on every admin and dummy operation."""
    admin = tel.http.get(tel.admin + "/openapi.json").json()
    assert admin["components"]["securitySchemes"]["adminToken"]["scheme"] == "bearer"
    dummy = tel.http.get(tel.dummy + "/openapi.json").json()
    for document, needs_token in ((admin, True), (dummy, False)):
        operations = [op for item in document["paths"].values() for op in item.values()]
        assert operations
        for operation in operations:
            assert "421" in operation["responses"], operation["operationId"]
            assert ("401" in operation["responses"]) is needs_token
            assert (operation.get("security", [])[:1] == [{"adminToken": []}]) is needs_token
    # /metrics: the token, or none from loopback
    assert admin["paths"]["/metrics"]["get"]["security"] == [{"adminToken": []}, {}]
