"""Prebuilt statements run on the driver's own cursor, for the hottest paths of the store.

Place in the flow: the /api/status read (store/deposits.py `status_tuples`) and the writes of
a bind (store/pool.py, store/bindings.py) run hundreds of times a second. Through SQLAlchemy's
execution machinery each statement costs several times what SQLite takes to run it, and a
bind's statements run while it holds the database's one writer lock, so that cost caps every
process's binds together. A `DriverStatement` is a Core statement compiled once per dialect,
then run on the DB-API cursor (sqlite3 or psycopg) of the SQLAlchemy connection, inside its
transaction. Only for statements whose columns need no type conversion (integers, strings).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql.expression import Executable


class DriverStatement:
    """`statement` with its named parameters; `rows` and `run` take their values."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        # Per dialect: the SQL, the order of its parameters for a positional paramstyle
        # (SQLite's "?"; None for psycopg's %(name)s) and the values bound in the statement
        # itself (a LIMIT, for example).
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def _sql(self, conn: Connection) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        dialect = conn.dialect
        key = f"{dialect.name}+{dialect.driver}"
        found = self._compiled.get(key)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
            positions = tuple(compiled.positiontup) if compiled.positiontup is not None else None
            found = self._compiled[key] = (str(compiled), positions, dict(compiled.params))
        return found

    def _execute(self, conn: Connection, values: dict[str, Any]) -> Any:
        sql, positions, bound = self._sql(conn)
        parameters = {**bound, **values}
        driver = conn.connection.driver_connection  # sqlite3 or psycopg: DB-API connections
        assert driver is not None
        cursor = driver.cursor()
        try:
            cursor.execute(
                sql, parameters if positions is None else tuple(parameters[k] for k in positions)
            )
        except BaseException:
            cursor.close()
            raise
        return cursor

    def rows(self, conn: Connection, **values: Any) -> list[tuple[Any, ...]]:
        """Every row of the statement, as the driver gives them (plain tuples)."""
        cursor = self._execute(conn, values)
        try:
            rows: list[tuple[Any, ...]] = cursor.fetchall()
        finally:
            cursor.close()
        return rows

    def run(self, conn: Connection, **values: Any) -> int:
        """Run a statement that returns no rows; the rows it changed."""
        cursor = self._execute(conn, values)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()
