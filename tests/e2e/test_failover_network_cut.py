"""Fail-over of the worker role when the holder's network to PostgreSQL is cut (DESIGN.md §6).

Two `teller` processes on one database: the first reaches PostgreSQL through a TCP relay this
test controls, the second directly. While deposits arrive, the relay stops carrying bytes both
ways without closing anything (packets dropped, as a cut cable or a firewall does): the
holder's renewals hang, it stops its stages when its lease runs out by its own clock, and the
other process takes the role within worker.lease + worker.renew. Then the relay carries bytes
again: the old holder comes back as a candidate and writes nothing (fenced), and every deposit
is paid exactly once on the dummy network's ledger.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from teller.coins.sky import address_from_pubkey, deterministic_keypairs

from .crash import SKY_PER_BTC, bind_btc
from .test_failover import BOUND, LEASE, PAYOUT_STORED, RENEW, Cluster, Poster, _at, dummy_ledger

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

LOST = "lost the worker role: its lease ran out while the database could not be reached"


class Relay:
    """A TCP relay to `target` whose links can be cut (bytes held, nothing closed) and mended."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="relay", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.open.wait()  # a cut network answers no new connection either
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                self.open.wait()  # cut: the bytes wait here, nothing is closed
                sink.sendall(chunk)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.open.set()
        self.listener.close()
        for s in self.sockets:
            s.close()


def test_a_holder_cut_off_from_the_database_is_replaced_and_fenced(
    tmp_path: Path, pg_url: str
) -> None:
    url = make_url(pg_url)
    relay = Relay((url.host or "127.0.0.1", url.port or 5432))
    env = {"TELLER_DATABASE_URL": pg_url, "TELLER_DUMMY__AUTO_CONFIRM": "true"}
    cluster = Cluster(tmp_path, env, count=2)
    cut_off, direct = cluster.tellers
    cut_off.env["TELLER_DATABASE_URL"] = url.set(port=relay.port).render_as_string(
        hide_password=False
    )
    poster: Poster | None = None
    try:
        cut_off.start()
        holder, role = cluster.holder()
        assert holder is cut_off
        direct.start()
        buyers = [address_from_pubkey(p) for _, p in deterministic_keypairs(b"network cut", 4)]
        addresses = [bind_btc(direct, b) for b in buyers]
        planned = [(addresses[i % 4], (i + 1) * 10_000, f"{0xC0 + i:064x}") for i in range(24)]
        expected = dict.fromkeys(buyers, (0, 0))
        for address, satoshis, _ in planned:
            buyer = buyers[addresses.index(address)]
            count, droplets = expected[buyer]
            expected[buyer] = (count + 1, droplets + satoshis * SKY_PER_BTC // 100)
        poster = Poster(cluster, planned, interval=0.15)
        poster.start()
        time.sleep(1.0)  # some deposits on the way through the first holder

        cut_at = time.time()
        relay.open.clear()
        new, new_role = cluster.holder(role["epoch"], ask=[direct])
        took = _at(new_role["since"]) - cut_at
        assert new is direct
        assert took <= BOUND, took
        deadline = time.monotonic() + 10
        while LOST not in cut_off.log_path.read_text(errors="replace"):
            assert time.monotonic() < deadline, "the cut-off holder never said it lost the role"
            time.sleep(0.05)

        mended_from = cut_off.log_path.stat().st_size
        relay.open.set()  # the old holder reaches the database again: a candidate, nothing more
        ledger = dummy_ledger(tmp_path / "data")
        deadline = time.monotonic() + 60
        while poster.is_alive() or ledger(buyers) != expected:
            assert time.monotonic() < deadline, (poster.posted, ledger(buyers), expected)
            time.sleep(0.25)
        time.sleep(2 * (LEASE + RENEW))  # nothing more arrives, and the role stays put
        assert ledger(buyers) == expected
        assert cluster.holder(ask=[direct])[1]["epoch"] == new_role["epoch"]
        assert PAYOUT_STORED not in cut_off.log_path.read_text(errors="replace")[mended_from:]
        print(f"network cut: fail-over in {took:.2f} s (bound {LEASE + RENEW:.1f} s + margin)")
    finally:
        if poster is not None:
            poster.stop.set()
        relay.open.set()
        cluster.stop_all()
        relay.close()
