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

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql.expression import Executable

from teller.errors import InternalError


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None
    bound: dict[str, Any]
    required: frozenset[str]


class DriverStatement:
    """`statement` with its named parameters; `rows` and `run` take their values."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        # Per dialect: the SQL, the order of its parameters for a positional paramstyle
        # (SQLite's "?"; None for psycopg's %(name)s), the values bound in the statement
        # itself (a LIMIT, for example) and the names the caller must give.
        self._compiled: dict[str, _Compiled] = {}

    def _sql(self, conn: Connection) -> _Compiled:
        dialect = conn.dialect
        key = f"{dialect.name}+{dialect.driver}"
        found = self._compiled.get(key)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
            binds = compiled.binds.values()
            if any(b.expanding for b in binds):
                raise InternalError("a DriverStatement cannot expand an IN list")
            positions = tuple(compiled.positiontup) if compiled.positiontup is not None else None
            required = frozenset(b.key for b in binds if b.value is None and b.callable is None)
            bound = {k: v for k, v in compiled.params.items() if k not in required}
            found = self._compiled[key] = _Compiled(str(compiled), positions, bound, required)
        return found

    def _execute(self, conn: Connection, values: dict[str, Any]) -> Any:
        compiled = self._sql(conn)
        sql, positions = compiled.sql, compiled.positions
        if compiled.required - values.keys():  # never a silent NULL for a misspelt name
            missing = sorted(compiled.required - values.keys())
            raise InternalError(f"DriverStatement: no value for {', '.join(missing)}")
        parameters = {**compiled.bound, **values}
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
