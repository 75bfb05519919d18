"""The worker role's row: which process runs the stages, under which epoch, until when.

Place in the flow (DESIGN.md §6): worker_role.py (the candidate loop) takes the role with
`try_acquire` (compare-and-set: only when the lease ran out or was released; the epoch goes up
by one) and keeps it with `renew`; every write of the stages runs `check_epoch` first in its
own transaction (store/db.py `Database.fenced`), so a process that lost the role (paused past
its lease, cut off from the database) cannot commit anything after another took over. All
times are the database's clock in milliseconds: the clocks of the machines do not matter.

On PostgreSQL (READ COMMITTED) the epoch check takes a shared lock on the row, which the new
holder's epoch bump (an UPDATE) waits for: a write either commits before the take-over or sees
the new epoch and rolls back. The check also bounds how long a transaction may sit idle
(`idle_in_transaction_session_timeout`): a worker stopped in the middle of one (SIGSTOP) would
otherwise keep that lock, and the take-over waiting for it, for as long as it stays stopped.
On SQLite every write transaction holds the database's one write lock (BEGIN IMMEDIATE), which
serializes the check, the writes and the take-over by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from teller.errors import StoreError

ROLE_ID = 1


class Fenced(StoreError):
    """This process no longer holds the worker role's epoch: its write is rolled back whole."""


@dataclass(frozen=True, slots=True)
class RoleState:
    """The row, with the database's clock at the time it was read."""

    epoch: int
    holder: str  # "" when nobody holds the role
    since_ms: int | None
    lease_until_ms: int
    now_ms: int

    @property
    def held(self) -> bool:
        """Someone holds the role and its lease has not run out."""
        return bool(self.holder) and self.lease_until_ms > self.now_ms


def now_ms_sql(conn: Connection) -> str:
    """The database's clock in milliseconds since 1970, as an SQL expression."""
    if conn.dialect.name == "postgresql":
        return "CAST(floor(extract(epoch from clock_timestamp()) * 1000) AS BIGINT)"
    return "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"


def read_role(conn: Connection) -> RoleState:
    now = now_ms_sql(conn)
    row = conn.execute(
        text(f"SELECT epoch, holder, since, lease_until, {now} FROM worker_role WHERE id = :id"),
        {"id": ROLE_ID},
    ).one()
    return RoleState(int(row[0]), str(row[1]), row[2], int(row[3]), int(row[4]))


def try_acquire(
    conn: Connection, holder: str, lease_ms: int, *, dead_holder: str = ""
) -> int | None:
    """Take the role for `holder` if its lease ran out (or it was released), or from
    `dead_holder` when that is exactly who holds it (a process known to be gone): the new
    epoch, or None when another process holds it. One statement, so two candidates cannot both
    win: on PostgreSQL the second waits for the first's row lock and then finds the lease live
    (or the holder changed)."""
    now = now_ms_sql(conn)
    taken_from_dead = " OR holder = :dead" if dead_holder else ""
    row = conn.execute(
        text(
            f"UPDATE worker_role SET epoch = epoch + 1, holder = :holder, since = {now},"
            f" lease_until = {now} + :lease WHERE id = :id AND (lease_until <= {now}"
            f"{taken_from_dead}) RETURNING epoch"
        ),
        {"holder": holder, "lease": lease_ms, "id": ROLE_ID, "dead": dead_holder},
    ).first()
    return None if row is None else int(row[0])


def renew(conn: Connection, epoch: int, lease_ms: int) -> bool:
    """Extend the lease of `epoch` to now + lease; False if another process took the role.
    A lease that ran out with nobody taking over is still the holder's (its epoch is current,
    so nobody else can have written)."""
    now = now_ms_sql(conn)
    row = conn.execute(
        text(
            f"UPDATE worker_role SET lease_until = {now} + :lease"
            " WHERE id = :id AND epoch = :epoch RETURNING epoch"
        ),
        {"lease": lease_ms, "id": ROLE_ID, "epoch": epoch},
    ).first()
    return row is not None


def release(conn: Connection, epoch: int) -> bool:
    """Give the role up at once (a clean stop): the next candidate takes it at its next try."""
    now = now_ms_sql(conn)
    row = conn.execute(
        text(
            f"UPDATE worker_role SET holder = '', lease_until = {now}"
            " WHERE id = :id AND epoch = :epoch RETURNING epoch"
        ),
        {"id": ROLE_ID, "epoch": epoch},
    ).first()
    return row is not None


def check_epoch(conn: Connection, epoch: int | None, idle_timeout_ms: int) -> None:
    """Fenced unless `epoch` is the current one: the first statement of every write of the
    stages. On PostgreSQL the row stays share-locked until the transaction ends (an epoch bump
    waits for it), and the transaction may not sit idle longer than `idle_timeout_ms`."""
    if epoch is None:
        raise Fenced("this process does not hold the worker role")
    params: dict[str, object] = {"id": ROLE_ID, "epoch": epoch}
    if conn.dialect.name == "postgresql":
        params["idle"] = f"{idle_timeout_ms}ms"
        query = (
            "SELECT set_config('idle_in_transaction_session_timeout', :idle, true), epoch"
            " FROM worker_role WHERE id = :id AND epoch = :epoch FOR SHARE"
        )
    else:
        query = "SELECT epoch FROM worker_role WHERE id = :id AND epoch = :epoch"
    row = conn.execute(text(query), params).first()
    if row is None:
        raise Fenced(f"the worker role's epoch {epoch} is over: another process took the role")
