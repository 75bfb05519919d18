"""What webhooks cost and how fast they go out (issue 16), on a SQLite file in a temp folder.

    .venv/bin/python -m bench.webhook_outbox

1. The deposit path with and without a webhook configured: N deposits recorded, each in its
   own durable transaction, then moved to waiting_send and to done in batched transactions (the
   processor's and sender's shape); with a webhook each transaction also writes its outbox
   rows (deposit.recorded, sky.sent, deposit.done).
2. Delivery: the delivery loop posting those events to a receiver on a loopback port that
   answers 200 at once (one webhook; up to BATCH deposit addresses in flight at a time).
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from teller.deposits import states
from teller.deposits.intake import record_deposit
from teller.store.bindings import insert_binding
from teller.store.db import Database, create_store_engine, sqlite_url
from teller.store.deposits import get_deposit
from teller.store.migrate import upgrade
from teller.store.models import IncomingDeposit, WebhookTarget
from teller.store.pool import sync_pool, take_free_address
from teller.webhooks.delivery import Endpoint, WebhookSender

DEPOSITS = 400
RUNS = 5
ADDRESSES = 40
URL_EVENTS = frozenset({"binding.created", "deposit.recorded", "sky.sent", "deposit.done"})


def deposit_path(
    folder: Path, with_webhook: bool, url: str, run: int
) -> tuple[float, float, Database]:
    """(seconds recording the deposits: one durable commit each, seconds moving them: batched
    commits, mostly CPU), and the store."""
    engine = create_store_engine(sqlite_url(folder / f"bench-{with_webhook}-{run}.db"))
    upgrade(engine)
    db = Database(engine)
    if with_webhook:
        db.webhook_targets = (WebhookTarget(url, URL_EVENTS),)
    addresses = [f"addr{i}" for i in range(ADDRESSES)]
    with db.write() as conn:
        sync_pool(conn, "BTC", addresses)
        for i in range(ADDRESSES):
            taken = take_free_address(conn, "BTC", 1)
            assert taken is not None
            insert_binding(conn, coin_type="BTC", deposit_address=taken, sky_address=f"sky{i}",
                           buy_method="direct", now=1)  # fmt: skip
    started = time.perf_counter()
    ids = []
    for i in range(DEPOSITS):
        incoming = IncomingDeposit("BTC", addresses[i % ADDRESSES], 1000 + i, 1, f"{i:064x}", 0)
        with db.write() as conn:
            deposit, _ = record_deposit(conn, incoming, 2)
            ids.append(deposit.deposit_id)
    recorded = time.perf_counter()
    for status in (states.WAITING_SEND, states.DONE):
        for chunk in range(0, DEPOSITS, 50):
            with db.write() as conn:
                moves = []
                for deposit_id in ids[chunk : chunk + 50]:
                    found = get_deposit(conn, deposit_id)
                    assert found is not None
                    values = {"sky_due": 5} if status == states.WAITING_SEND else {"sky_sent": 5}
                    moves.append((found, status, values))
                states.move_each(conn, moves, 3)
    return recorded - started, time.perf_counter() - recorded, db


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a production receiver would

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class Receiver(ThreadingHTTPServer):
    request_queue_size = 128  # http.server's 5 refuses connections under 40 parallel posts


def main() -> None:
    server = Receiver(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    with tempfile.TemporaryDirectory() as folder:
        # Alternated, RUNS times each, the best kept: the disk is shared with other work.
        times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for run in range(RUNS):
            for with_webhook in (False, True):
                record_s, move_s, db = deposit_path(Path(folder), with_webhook, url, run)
                times[with_webhook].append((record_s, move_s))
                if not (with_webhook and run == RUNS - 1):
                    db.dispose()
        print(f"{DEPOSITS} deposits (SQLite, synchronous=FULL), best of {RUNS}:")
        for with_webhook, label in ((False, "no webhook: "), (True, "one webhook:")):
            record_s = min(t[0] for t in times[with_webhook])
            move_s = min(t[1] for t in times[with_webhook])
            print(f"  {label} recorded {record_s:.2f} s (one commit each),"
                  f" decided + done {move_s * 1000:.0f} ms (16 batched commits)")  # fmt: skip

        sender = WebhookSender(db, [Endpoint(url, b"secret", timeout=5.0)])

        async def drain() -> float:
            started = time.perf_counter()
            while await sender.step():
                pass
            await sender.aclose()
            return time.perf_counter() - started

        events = DEPOSITS * 3
        seconds = asyncio.run(drain())
        print(f"delivery: {events} events to a loopback receiver in {seconds:.2f} s"
              f" ({events / seconds:.0f} events/s, {ADDRESSES} addresses in parallel)")  # fmt: skip
        db.dispose()
    server.shutdown()


if __name__ == "__main__":
    main()
