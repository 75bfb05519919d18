"""Column types for money: integers of base units that may not fit 64 bits (wei).

SQLite has no integer wider than 64 bits, so amounts are stored there as decimal text;
PostgreSQL stores them as NUMERIC(78,0) (enough for any uint256). Both read back as int.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from teller.errors import InvalidType


class Amount(TypeDecorator[int]):
    """A non-negative integer amount of base units (satoshi, wei, droplet), exact."""

    impl = Numeric(78, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(80))
        return dialect.type_descriptor(Numeric(78, 0))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidType(f"amounts are stored as int base units, got {type(value).__name__}")
        return str(value) if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int(value)
