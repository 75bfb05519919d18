"""The worker role in a process (deposits/worker_role.py): a candidate takes the free role and
runs its stages; when another process takes the role, the next fenced write is refused, the
stages stop at once (WATCH), and the process is a candidate again; a clean stop hands it on."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import socket
import subprocess

import pytest
from sqlalchemy import text

from teller.deposits.health import StatusBoard
from teller.deposits.worker_role import WorkerRole
from teller.store.db import Database
from teller.store.worker_role import Fenced, read_role, try_acquire
from teller.store.worker_status import read_status, write_status
from teller.worker import Waker, run_worker

FENCED = "fenced: another process took the worker role; this one stopped its stages"


def _role(db: Database, board: StatusBoard | None = None) -> WorkerRole:
    return WorkerRole(db, board or StatusBoard(), lease_seconds=2.0, renew_seconds=0.05)


async def _until(condition: object, what: str) -> None:
    for _ in range(400):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"timed out waiting for {what}")


def _stored(db: Database) -> dict[str, str]:
    with db.read() as conn:
        return read_status(conn)


def test_a_holder_whose_role_is_taken_stops_its_stages_and_writes_nothing_more(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    role = _role(db)
    steps = itertools.count(1)
    running: list[bool] = []

    async def stages() -> None:
        running.append(True)
        try:
            while True:
                n = next(steps)

                def write(n: int = n) -> None:
                    with role.fenced_db.write() as conn:
                        write_status(conn, {"step": json.dumps(n)})

                await asyncio.to_thread(write)
                await asyncio.sleep(0.01)
        finally:
            running.append(False)

    async def scenario() -> None:
        task = asyncio.create_task(role.run(stages))
        await _until(lambda: "step" in _stored(db), "the stages writing")
        with db.write() as conn:  # another process takes the role (as after a long pause)
            conn.execute(
                text(
                    "UPDATE worker_role SET epoch = epoch + 1, holder = 'other pid 1 x',"
                    " lease_until = lease_until + 3600000"
                )
            )
        frozen = _stored(db)["step"]
        await _until(lambda: FENCED in caplog.text, "the fenced WATCH line")
        await _until(lambda: running[-1] is False, "the stages stopped")
        await asyncio.sleep(0.2)
        assert _stored(db)["step"] == frozen  # nothing written after the take-over
        assert role.epoch is None  # a candidate again
        with db.read() as conn:
            assert read_role(conn).holder == "other pid 1 x"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with caplog.at_level(logging.INFO, logger="teller.worker_role"):
        asyncio.run(scenario())
    assert running == [True, False]  # never started again: the other keeps its role


def test_the_board_is_published_and_a_clean_stop_hands_the_role_on(db: Database) -> None:
    board = StatusBoard()
    role, other = _role(db, board), _role(db)

    async def idle() -> None:
        await asyncio.Event().wait()

    async def scenario() -> None:
        first = asyncio.create_task(role.run(idle))
        await _until(lambda: role.epoch is not None, "the role taken")
        second = asyncio.create_task(other.run(idle))
        board.sender_error = "sold out"
        await _until(lambda: _stored(db).get("sender_error") == '"sold out"', "the board published")
        assert other.epoch is None  # the lease is live: the other waits
        first.cancel()  # a clean stop releases the role
        with pytest.raises(asyncio.CancelledError):
            await first
        await _until(lambda: other.epoch is not None, "the other taking over")
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second

    asyncio.run(scenario())
    with db.read() as conn:
        assert not read_role(conn).held  # both stopped cleanly: nobody holds it


async def test_a_crashed_holder_of_this_host_is_replaced_without_waiting_out_its_lease(
    db: Database,
) -> None:
    """A teller restarted after a crash (kill -9, then systemd) takes the role at once from
    its dead predecessor on this host; a live holder (this host or another) keeps its lease."""
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid of this host that no longer exists
    host = socket.gethostname()
    for holder, taken in [
        (f"{host} pid {dead.pid} 0badc0de", True),
        (f"{host} pid {os.getppid()} 0badc0de", False),  # alive: its lease stands
        (f"elsewhere.example pid {dead.pid} 0badc0de", False),  # another machine's pid
    ]:
        with db.write() as conn:
            conn.execute(text("UPDATE worker_role SET holder = '', lease_until = 0"))
            assert try_acquire(conn, holder, 3_600_000) is not None  # a live hour-long lease
        role = WorkerRole(db, StatusBoard(), lease_seconds=60, renew_seconds=1)
        assert (role._try_acquire() is not None) is taken, holder
        with db.read() as conn:
            assert (read_role(conn).holder == role.holder) is taken


def test_a_stage_whose_write_is_fenced_ends_the_stages_at_once_and_is_not_retried(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A step of run_worker (processor, sender, webhooks) whose write is fenced ends its loop:
    the stages stop with the one WATCH line, without a "step failed" traceback per retry."""
    role = _role(db)
    steps = itertools.count(1)

    async def step() -> bool:
        n = next(steps)

        def write() -> None:
            with role.fenced_db.write() as conn:
                write_status(conn, {"step": json.dumps(n)})

        await asyncio.to_thread(write)
        await asyncio.sleep(0.01)
        return False

    async def stages() -> None:
        await run_worker("sender", step, Waker(), 0.01, fatal=(Fenced,))

    async def scenario() -> None:
        task = asyncio.create_task(role.run(stages))
        await _until(lambda: "step" in _stored(db), "the stages writing")
        with db.write() as conn:  # another process takes the role
            conn.execute(
                text(
                    "UPDATE worker_role SET epoch = epoch + 1, holder = 'other pid 1 x',"
                    " lease_until = lease_until + 3600000"
                )
            )
        await _until(lambda: FENCED in caplog.text, "the fenced WATCH line")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with caplog.at_level(logging.INFO):
        asyncio.run(scenario())
    assert "step failed" not in caplog.text
