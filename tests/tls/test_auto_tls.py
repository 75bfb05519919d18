"""web.auto_tls_host against Pebble: a real ACME order with a real HTTP-01 validation of
teller's web.http_addr, the certificate served on web.https_addr and checked against Pebble's
root, renewal of a short-lived certificate without a restart, a restart without a new order,
and what teller does while the CA cannot be reached."""

from __future__ import annotations

import socket
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509

from tests.http.running_teller import RunningTeller, TellerLauncher
from tests.peers import closed_port
from tests.tls.pebble import Pebble, run_pebble

HOST = "teller.test"  # resolved to 127.0.0.1 by the tests' DNS answers (tests/tls/pebble.py)


def start_auto_tls(
    launcher: TellerLauncher, http_port: int, directory: str, ca_file: str, **web: Any
) -> RunningTeller:
    return launcher.start(
        overrides={
            "web": {
                "http_addr": f"127.0.0.1:{http_port}",
                "https_addr": "127.0.0.1:0",
                "auto_tls_host": HOST,
                "acme_directory": directory,
                "acme_ca_file": ca_file,
                "acme_email": "ops@teller.test",
                **web,
            }
        }
    )


def https_address(tel: RunningTeller) -> tuple[str, int]:
    host, port = tel.teller.addresses()["web.https_addr"].rsplit(":", 1)
    return host, int(port)


def trusting(pebble: Pebble) -> ssl.SSLContext:
    """A client context that trusts only Pebble's issuing root, checking the name HOST."""
    return ssl.create_default_context(cadata=pebble.root_pem)


def served_certificate(
    tel: RunningTeller, pebble: Pebble, host: str = HOST
) -> x509.Certificate | None:
    """The certificate a new TLS connection to web.https_addr gets for `host`, verified
    against Pebble's root; None while teller has none for it (the handshake fails)."""
    try:
        with (
            socket.create_connection(https_address(tel), timeout=5) as raw,
            trusting(pebble).wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLError:
        return None
    assert der is not None
    return x509.load_der_x509_certificate(der)


def https_get(tel: RunningTeller, pebble: Pebble, path: str) -> httpx.Response:
    host, port = https_address(tel)
    with httpx.Client(verify=trusting(pebble), timeout=10) as client:
        return client.get(f"https://{host}:{port}{path}", extensions={"sni_hostname": HOST})


def wait_for_certificate(
    tel: RunningTeller, pebble: Pebble, other_than: int | None = None, timeout: float = 20.0
) -> x509.Certificate:
    def served() -> x509.Certificate | None:
        cert = served_certificate(tel, pebble)
        return cert if cert is not None and cert.serial_number != other_than else None

    found: x509.Certificate = tel.wait_for(served, timeout, "a certificate from Pebble")
    return found


def test_certificate_is_obtained_by_http01_and_served(
    launcher: TellerLauncher, http_port: int, tmp_path: Path
) -> None:
    with run_pebble(tmp_path / "pebble", http_port) as pebble:
        tel = start_auto_tls(launcher, http_port, pebble.directory, str(pebble.ca_file))

        cert = wait_for_certificate(tel, pebble)

        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == [HOST]
        response = https_get(tel, pebble, "/api/config")
        assert response.status_code == 200
        assert response.headers["strict-transport-security"] == "max-age=31536000"
        assert pebble.orders() == 1
        log = pebble.log_path.read_text()
        assert f"Attempting to validate w/ HTTP: http://{HOST}:{http_port}/" in log
        assert "PEBBLE_VA_ALWAYS_VALID" not in log

    # Plain HTTP sends buyers to the certificate's name on HTTPS's port, whatever Host said.
    _, https_port = https_address(tel)
    plain = tel.http.get(tel.public + "/api/status?skyaddr=x", headers={"Host": "evil.example"})
    assert plain.status_code == 301
    assert plain.headers["location"] == f"https://{HOST}:{https_port}/api/status?skyaddr=x"
    assert tel.http.get(tel.public + "/.well-known/acme-challenge/gone").status_code == 404
    # The account key, the certificate and its key are secrets of the data directory.
    folder = tel.dir / "data" / "acme"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    stored = sorted(p.name for p in folder.iterdir())
    assert stored == ["account_key.pem", "certificate.pem", "certificate_key.pem"]
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert x509.load_pem_x509_certificate((folder / "certificate.pem").read_bytes()) == cert


def test_restart_serves_the_stored_certificate_without_a_new_order(
    launcher: TellerLauncher, http_port: int, tmp_path: Path
) -> None:
    with run_pebble(tmp_path / "pebble", http_port) as pebble:
        tel = start_auto_tls(launcher, http_port, pebble.directory, str(pebble.ca_file))
        first = wait_for_certificate(tel, pebble)
        account_key = (tel.dir / "data" / "acme" / "account_key.pem").read_bytes()

        again = launcher.restart(tel)

        # Served from the first handshake after the restart: no wait, no order.
        assert served_certificate(again, pebble) == first
        assert https_get(again, pebble, "/api/health").status_code == 200
        assert pebble.orders() == 1
        assert (again.dir / "data" / "acme" / "account_key.pem").read_bytes() == account_key

        # The stored certificate is for its host only: another auto_tls_host orders anew.
        config = again.dir / "config.toml"
        config.write_text(config.read_text().replace(f'"{HOST}"', '"shop.test"'))
        renamed = launcher.restart(again)
        assert renamed.config.web.auto_tls_host == "shop.test"
        shop = renamed.wait_for(
            lambda: served_certificate(renamed, pebble, "shop.test"), 20, "shop.test's certificate"
        )
        assert shop.serial_number != first.serial_number
        assert pebble.orders() == 2


def test_certificate_is_renewed_before_expiry_without_a_restart(
    launcher: TellerLauncher, http_port: int, tmp_path: Path
) -> None:
    # 30 s certificates renewed with 80 % of their life left: after about 6 s.
    with run_pebble(tmp_path / "pebble", http_port, validity_seconds=30) as pebble:
        tel = start_auto_tls(
            launcher, http_port, pebble.directory, str(pebble.ca_file), acme_renew_left="0.8"
        )
        first = wait_for_certificate(tel, pebble)
        # An HTTP/1.1 connection opened now lives on across the renewal.
        host, port = https_address(tel)
        with httpx.Client(verify=trusting(pebble), timeout=10) as kept:
            url = f"https://{host}:{port}/api/health"
            assert kept.get(url, extensions={"sni_hostname": HOST}).status_code == 200

            renewed = wait_for_certificate(tel, pebble, other_than=first.serial_number)

            assert renewed.not_valid_after_utc > first.not_valid_after_utc
            assert pebble.orders() >= 2
            assert kept.get(url, extensions={"sni_hostname": HOST}).status_code == 200
        stored = (tel.dir / "data" / "acme" / "certificate.pem").read_bytes()
        assert x509.load_pem_x509_certificate(stored).serial_number != first.serial_number


def test_unreachable_ca_is_reported_and_plain_http_still_redirects(
    launcher: TellerLauncher, http_port: int, tmp_path: Path
) -> None:
    with closed_port() as nothing:
        tel = start_auto_tls(launcher, http_port, f"https://127.0.0.1:{nothing}/dir", "")
        errors = tel.wait_for(tel.expect_errors, 10, "the ACME error")

    assert len(errors) == 1
    assert "could not obtain a certificate" in errors[0]
    assert "handshakes fail until one is obtained" in errors[0]
    # HTTPS refuses handshakes at once (no hang), HTTP redirects (the API is not served in
    # plain text), and teller goes on serving otherwise.
    with (
        socket.create_connection(https_address(tel), timeout=5) as raw,
        pytest.raises(ssl.SSLError),
    ):
        ssl.create_default_context().wrap_socket(raw, server_hostname=HOST)
    assert tel.http.get(tel.public + "/api/health").status_code == 301
    assert tel.http.get(tel.admin + "/api/health").status_code == 200


def test_unreadable_account_key_is_reported_and_teller_keeps_running(
    launcher: TellerLauncher, http_port: int
) -> None:
    with closed_port() as nothing:
        tel = start_auto_tls(launcher, http_port, f"https://127.0.0.1:{nothing}/dir", "")
        tel.wait_for(tel.expect_errors, 10, "the first ACME error")
        (tel.dir / "data" / "acme" / "account_key.pem").write_text("garbage\n")
        error_log = tel.error_log
        assert error_log is not None

        again = launcher.restart(tel)

        records = again.wait_for(lambda: list(error_log.records), 10, "the key's error")
        fields = getattr(records[0], "fields", {})
        assert "the stored ACME account key is unreadable" in fields["error"]
        assert again.expect_errors()[0].startswith("could not obtain a certificate")
        assert again.http.get(again.admin + "/api/health").status_code == 200


@pytest.fixture
def silent_ca() -> Iterator[socket.socket]:
    """A listening socket for an ACME server that never answers; it stays open until the
    tellers of the test have stopped (fixtures end in reverse order)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        silent.settimeout(10)
        yield silent


def test_teller_stops_while_an_order_waits_on_a_silent_ca(
    silent_ca: socket.socket, launcher: TellerLauncher, http_port: int
) -> None:
    directory = f"https://127.0.0.1:{silent_ca.getsockname()[1]}/dir"
    tel = start_auto_tls(launcher, http_port, directory, "")
    with silent_ca.accept()[0]:  # the order's first request, which waits 30 s for an answer
        # Stopping teller abandons the order instead of waiting for it: the restart's stop
        # fails the test unless teller stops within running_teller.STOP_TIMEOUT (15 s).
        again = launcher.restart(tel)

        assert again.http.get(again.public + "/").status_code == 301
