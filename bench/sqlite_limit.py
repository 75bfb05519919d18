"""The durable-write ceiling: single-row INSERT + COMMIT in a loop on a SQLite file.

Same durability as teller's store (teller.store.db): WAL journal, synchronous=FULL, so each
COMMIT waits for an fsync of the WAL. Nothing that commits once per request can go faster
on this disk; a bind needs one commit, a deposit one commit at intake plus its share of the
batched processor/sender commits.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CommitRate:
    commits: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.commits / self.seconds


def durable_commit_rate(
    folder: Path, seconds: float = 2.0, max_commits: int = 50_000
) -> CommitRate:
    """Commits/s of BEGIN IMMEDIATE; INSERT one row; COMMIT, for `seconds` (or `max_commits`)."""
    path = folder / "commit-limit.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, address TEXT, at INTEGER)"
        )
        row = ("2JJ8pgq8EDAnrzf9xxBJapE2qkYLefW4uF8", 0)
        commits = 0
        start = time.perf_counter()
        deadline = start + seconds
        while commits < max_commits:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO rows (address, at) VALUES (?, ?)", row)
            conn.execute("COMMIT")
            commits += 1
            if commits % 64 == 0 and time.perf_counter() >= deadline:
                break
        return CommitRate(commits, time.perf_counter() - start)
    finally:
        conn.close()
