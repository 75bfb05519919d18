"""Recording deposits: once per txid:n, only for bound addresses, and several at once in one
transaction (a group commit) that answers each report with its own outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection

from teller.deposits import intake as intake_module
from teller.deposits import states
from teller.deposits.intake import DepositIntake
from teller.errors import DepositRejected, StoreError
from teller.store.db import Database
from teller.store.deposits import deposits_by_status
from teller.store.models import Deposit, IncomingDeposit
from tests.pipeline import Pipeline

Result = tuple[Deposit, bool] | BaseException


def _report_together(intake: DepositIntake, reports: list[IncomingDeposit]) -> list[Result]:
    """Report each deposit from its own thread while the committer's turn is held, so that
    all of them are queued, then let one thread record the group. Results in report order."""
    results: list[Result | None] = [None] * len(reports)

    def report(i: int) -> None:
        try:
            results[i] = intake.receive(reports[i])
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=report, args=(i,)) for i in range(len(reports))]
    with intake._group._turn:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(intake._group._queue) < len(reports):
            assert time.monotonic() < deadline, "the reports were not all queued"
            time.sleep(0.001)
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


@contextmanager
def _counting_writes(db: Database) -> Iterator[list[int]]:
    """Count the write transactions `db` opens meanwhile."""
    count = [0]
    real = db.write

    @contextmanager
    def write(**options: bool) -> Iterator[Connection]:
        count[0] += 1
        with real(**options) as conn:
            yield conn

    db.write = write  # type: ignore[method-assign]
    try:
        yield count
    finally:
        db.write = real  # type: ignore[method-assign]


def _stored(pipeline: Pipeline) -> dict[str, Deposit]:
    with pipeline.db.read() as conn:
        return {d.deposit_id: d for d in deposits_by_status(conn)}


def test_refused_reports_record_nothing(both: Pipeline) -> None:
    address = both.bind("BTC")
    with pytest.raises(DepositRejected, match="not bound"):
        both.intake.receive(IncomingDeposit("BTC", "not-bound", 5, 1, "aa", 0))
    with pytest.raises(DepositRejected, match="greater than 0"):
        both.intake.receive(IncomingDeposit("BTC", address, 0, 1, "aa", 0))
    assert _stored(both) == {}


def test_a_deposit_reported_from_many_threads_at_once_is_recorded_once(both: Pipeline) -> None:
    addresses = [both.bind("BTC") for _ in range(5)]
    reports = [IncomingDeposit("BTC", a, 1000 + i, 1, f"t{i}", 0) for i, a in enumerate(addresses)]
    results: list[Result] = []
    lock = threading.Lock()

    def report_all(offset: int) -> None:
        for j in range(len(reports)):
            try:
                result: Result = both.intake.receive(reports[(j + offset) % len(reports)])
            except BaseException as exc:
                result = exc
            with lock:
                results.append(result)

    threads = [threading.Thread(target=report_all, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 8 * len(reports)
    assert not [r for r in results if isinstance(r, BaseException)]
    recorded = [r for r in results if not isinstance(r, BaseException)]
    assert sorted(d.deposit_id for d, new in recorded if new) == [f"t{i}:0" for i in range(5)]
    stored = _stored(both)
    assert len(stored) == 5
    assert all(stored[d.deposit_id] == d for d, _ in recorded)  # the stored row, every time


def test_reports_queued_together_are_recorded_in_one_transaction(pipeline: Pipeline) -> None:
    first, second = pipeline.bind("BTC"), pipeline.bind("BTC")
    reports = [
        IncomingDeposit("BTC", first, 100, 1, "aa", 0),
        IncomingDeposit("BTC", "not-bound", 100, 1, "bb", 0),
        IncomingDeposit("BTC", first, 100, 1, "aa", 0),  # the same deposit, reported twice
        IncomingDeposit("BTC", second, 200, 1, "cc", 1),
    ]
    with _counting_writes(pipeline.db) as writes:
        results = _report_together(pipeline.intake, reports)
    assert writes == [1]
    a1, rejected, a2, c = results
    assert isinstance(rejected, DepositRejected)
    assert not isinstance(a1, BaseException) and not isinstance(a2, BaseException)
    assert not isinstance(c, BaseException)
    assert sorted([a1[1], a2[1]]) == [False, True]  # recorded once, found once
    assert a1[0] == a2[0] and c[1] and c[0].value == 200
    stored = _stored(pipeline)
    assert sorted(stored) == ["aa:0", "cc:1"]
    assert stored["aa:0"] == a1[0] and stored["cc:1"] == c[0]
    assert stored["aa:0"].status == states.WAITING_DECIDE


def test_one_deposit_failing_does_not_fail_the_others_of_its_group(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    real: Callable[..., Any] = intake_module.insert_deposit_if_new

    def failing_for_bad(conn: Connection, incoming: IncomingDeposit, *args: Any) -> Any:
        if incoming.tx == "bad":
            raise RuntimeError("this one cannot be stored")
        return real(conn, incoming, *args)

    monkeypatch.setattr(intake_module, "insert_deposit_if_new", failing_for_bad)
    addresses = [pipeline.bind("BTC") for _ in range(3)]
    reports = [
        IncomingDeposit("BTC", addresses[0], 100, 1, "good0", 0),
        IncomingDeposit("BTC", addresses[1], 100, 1, "bad", 0),
        IncomingDeposit("BTC", addresses[2], 100, 1, "good2", 0),
    ]
    with _counting_writes(pipeline.db) as writes:
        results = _report_together(pipeline.intake, reports)
    assert writes == [1 + 3]  # the shared transaction rolled back whole; then each alone
    good0, bad, good2 = results
    assert isinstance(bad, RuntimeError) and "cannot be stored" in str(bad)
    assert good0 == (pipeline.get("good0:0"), True)
    assert good2 == (pipeline.get("good2:0"), True)
    assert sorted(_stored(pipeline)) == ["good0:0", "good2:0"]


def test_a_committer_dying_leaves_no_report_waiting_forever(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Dying(BaseException):
        pass

    def die(*_args: Any) -> Any:
        raise Dying

    monkeypatch.setattr(pipeline.intake._group, "_write", die)
    address = pipeline.bind("BTC")
    reports = [IncomingDeposit("BTC", address, 100, 1, f"t{i}", 0) for i in range(3)]
    results = _report_together(pipeline.intake, reports)
    assert sum(isinstance(r, Dying) for r in results) == 1  # the committer itself
    assert sum(isinstance(r, StoreError) for r in results) == 2  # told, not left hanging
    assert pipeline.intake._group._queue == []
