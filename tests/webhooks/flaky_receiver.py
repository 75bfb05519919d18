"""The README's webhook receiver (docs/webhook_receiver.py), misbehaving as the e2e tests ask.

    python3 flaky_receiver.py --events E.jsonl --requests R.jsonl [--fail N] [--slow N --delay S]

Runs the example's own handler (its signature check, replay window and duplicate drop), but
answers 500 to the first --fail requests, and holds the next --slow ones for --delay seconds
(past teller's timeout) before handling them. Every request is appended to --requests (its
event id, the SHA-256 of its body, the answer given) so a test can see each duplicate.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import io
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "webhook_receiver.py"


def load_example() -> Any:
    spec = importlib.util.spec_from_file_location("webhook_receiver", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--fail", type=int, default=0)
    parser.add_argument("--slow", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    example = load_example()
    lock = threading.Lock()
    counter = {"n": 0}

    class Flaky(example.WebhookHandler):  # type: ignore[misc,name-defined]
        answered = 0

        def do_POST(self) -> None:
            with lock:
                counter["n"] += 1
                number = counter["n"]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if number <= args.fail:
                self.answer(500, "receiver broken " + "x" * 500)
            else:
                if number <= args.fail + args.slow:
                    time.sleep(args.delay)  # teller has given up on this one meanwhile
                self.rfile = io.BytesIO(body)  # the example's handler reads it again
                super().do_POST()
            line = {
                "n": number,
                "event_id": self.headers.get("Teller-Event-Id", ""),
                "sha256": hashlib.sha256(body).hexdigest(),
                "status": self.answered,
            }
            with lock, args.requests.open("a") as file:
                file.write(json.dumps(line) + "\n")

        def answer(self, status: int, text: str) -> None:
            self.answered = status
            with contextlib.suppress(OSError):  # teller hung up on a slow answer
                super().answer(status, text)

    Flaky.secret = os.environ["TELLER_WEBHOOK_SECRET"].encode()
    Flaky.events = example.EventLog(args.events)
    server = example.ThreadingHTTPServer(("127.0.0.1", args.port), Flaky)
    print(f"listening on 127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
