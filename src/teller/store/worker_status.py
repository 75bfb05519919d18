"""What the worker last saw go wrong, kept in the store so every process shows the same.

Place in the flow: worker_role.py's publisher writes the worker's StatusBoard
(deposits/health.py: processor and sender errors, each scanner's heights and error) here when
a value changes, in a fenced write (a worker that lost the role cannot overwrite its
successor's); services/health.py reads it in every process for /api/health and the page.
Keys are short names ("processor_error", "scanner.BTC"); values are JSON text.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, text

from teller.store.db import dialect_insert
from teller.store.tables import worker_status as ws
from teller.store.worker_role import now_ms_sql


def write_status(conn: Connection, values: dict[str, str]) -> None:
    """Store each key's new value (an upsert), stamped with the database's clock."""
    if not values:
        return
    now = int(conn.execute(text(f"SELECT {now_ms_sql(conn)}")).scalar_one())
    insert = dialect_insert(conn, ws)
    for key, value in values.items():
        conn.execute(
            insert.values(key=key, value=value, updated_at=now).on_conflict_do_update(
                index_elements=[ws.c.key], set_={"value": value, "updated_at": now}
            )
        )


def read_status(conn: Connection) -> dict[str, str]:
    """Every stored key and its value (a handful of rows)."""
    return {str(r.key): str(r.value) for r in conn.execute(select(ws.c.key, ws.c.value))}
