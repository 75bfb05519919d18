"""Pebble, Let's Encrypt's ACME test server (Debian's `pebble`), as a real peer of teller.

`run_pebble(folder, http_port, validity_seconds)` starts it on two port-0 listeners (ACME and
management, told apart by asking each for /dir) with its own HTTPS certificate (a trustme CA,
written for teller's web.acme_ca_file), and:
- HTTP-01 validation for real: Pebble fetches http://<name>:<http_port>/.well-known/... from
  teller's web.http_addr (the caller holds that port: tests/peers.py held_port);
- name resolution by `-dnsserver`: a small DNS server in this process (UDP, port 0) answers
  every A question with 127.0.0.1 and every other question with no record, so any name the
  test chooses (teller.test) reaches teller on loopback. Chosen over a network namespace with
  its own /etc/hosts: that needs root, ip netns, and teller and the test's HTTPS client inside
  the namespace; over pebble-challtestsrv: its DNS listens on UDP and TCP ports of their own,
  which a port-0 start cannot tell the test;
- `certificateValidityPeriod` makes its certificates short-lived, to see renewal for real;
- PEBBLE_VA_NOSLEEP (no random 0-15 s wait before validating), PEBBLE_WFE_NONCEREJECT=0 (no
  made-up bad nonces: the client retries one, but two in a row would fail an order) and
  PEBBLE_AUTHZREUSE=0 (every order validates its challenge again).
Orders are counted from its log ("Added order ... to the db"), one line per new order.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import trustme

from tests.peers import PEBBLE_HINT, listening_ports, require_peer

START_TIMEOUT = 15.0


@dataclass
class Pebble:
    directory: str  # the ACME directory URL, for web.acme_directory
    management: str  # https://127.0.0.1:port of its management interface
    ca_file: Path  # the CA of Pebble's own HTTPS certificate, for web.acme_ca_file
    log_path: Path

    @functools.cached_property
    def root_pem(self) -> str:
        """The root CA of the certificates Pebble issues (new at each start)."""
        response = httpx.get(self.management + "/roots/0", verify=_trusting(self.ca_file))
        response.raise_for_status()
        return response.text

    def orders(self) -> int:
        """How many orders Pebble was sent since it started."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return sum(1 for line in text.splitlines() if "Added order" in line)


class _DnsAnswers(threading.Thread):
    """A DNS server on 127.0.0.1 (UDP): A questions get 127.0.0.1, others no record."""

    def __init__(self) -> None:
        super().__init__(name="pebble-dns", daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def run(self) -> None:
        while True:
            try:
                query, client = self.sock.recvfrom(512)
            except OSError:  # closed: the test is over
                return
            reply = _dns_reply(query)
            if reply:
                self.sock.sendto(reply, client)

    def close(self) -> None:
        self.sock.close()


def _dns_reply(query: bytes) -> bytes:
    if len(query) < 17:
        return b""
    ident, flags = struct.unpack(">HH", query[:4])
    end = 12
    while end < len(query) and query[end]:  # the question's name, label by label
        end += query[end] + 1
    question = query[12 : end + 5]
    qtype = struct.unpack(">H", query[end + 1 : end + 3])[0]
    answer = b""
    if qtype == 1:  # A: a pointer to the question's name, IN, TTL 60, 127.0.0.1
        answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
    # QR + authoritative + the query's RD + RA; one question, 0 or 1 answer
    header = struct.pack(">HHHHHH", ident, 0x8480 | (flags & 0x0100), 1, 1 if answer else 0, 0, 0)
    return header + question + answer


def _trusting(ca_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


def _which_is_acme(ports: set[int], ca_file: Path) -> tuple[int, int]:
    acme = [p for p in ports if _answers_directory(p, ca_file)]
    if len(acme) != 1:
        raise RuntimeError(f"pebble: cannot tell its ACME port among {sorted(ports)}")
    (management,) = ports - set(acme)
    return acme[0], management


def _answers_directory(port: int, ca_file: Path) -> bool:
    try:
        response = httpx.get(f"https://127.0.0.1:{port}/dir", verify=_trusting(ca_file), timeout=5)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and "newOrder" in response.text


@contextmanager
def run_pebble(folder: Path, http_port: int, validity_seconds: int = 0) -> Iterator[Pebble]:
    """Pebble validating HTTP-01 on `http_port`, until the block ends."""
    binary = shutil.which("pebble")
    if binary is None:
        require_peer("pebble", PEBBLE_HINT, why="the ACME test server of the auto TLS tests")
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    own = ca.issue_cert("127.0.0.1", "localhost")
    own.cert_chain_pems[0].write_to_path(str(folder / "pebble_cert.pem"))
    own.private_key_pem.write_to_path(str(folder / "pebble_key.pem"))
    ca_file = folder / "pebble_ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    settings: dict[str, object] = {
        "listenAddress": "127.0.0.1:0",
        "managementListenAddress": "127.0.0.1:0",
        "certificate": str(folder / "pebble_cert.pem"),
        "privateKey": str(folder / "pebble_key.pem"),
        "httpPort": http_port,
        "tlsPort": http_port,  # TLS-ALPN-01 is not used; teller answers HTTP-01 only
        "ocspResponderURL": "",
        "externalAccountBindingRequired": False,
    }
    if validity_seconds:
        settings["certificateValidityPeriod"] = validity_seconds
    (folder / "pebble.json").write_text(json.dumps({"pebble": settings}), encoding="utf-8")
    env = dict(
        os.environ,
        PEBBLE_VA_NOSLEEP="1",
        PEBBLE_WFE_NONCEREJECT="0",
        PEBBLE_AUTHZREUSE="0",
    )
    dns = _DnsAnswers()
    dns.start()
    log_path = folder / "pebble.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [binary, "-config", str(folder / "pebble.json"), "-dnsserver", dns.address],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        ports: set[int] = set()
        while len(ports) < 2:
            if process.poll() is not None:
                raise RuntimeError(f"pebble exited: {log_path.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"pebble did not listen within {START_TIMEOUT:.0f} s")
            time.sleep(0.05)
            ports = listening_ports(process.pid)
        acme, management = _which_is_acme(ports, ca_file)
        yield Pebble(
            directory=f"https://127.0.0.1:{acme}/dir",
            management=f"https://127.0.0.1:{management}",
            ca_file=ca_file,
            log_path=log_path,
        )
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        dns.close()
