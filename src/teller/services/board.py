"""The status board a process shows: the worker's, whichever process is asked.

Place in the flow: the worker's stages write their StatusBoard (deposits/health.py) and
deposits/worker_role.py publishes it to the store (store/worker_status.py). /api/health,
/metrics and /api/deposit-addresses show it through `shown_board`: the holder of the worker
role its own board (the freshest), every other process the stored one, so all answer alike.
"""

from __future__ import annotations

from sqlalchemy import Connection

from teller.deposits.health import StatusBoard, with_values
from teller.services.parts import Services
from teller.store.worker_role import RoleState, read_role
from teller.store.worker_status import read_status


def holds_role(parts: Services, role: RoleState) -> bool:
    """Whether this process holds the live role `role` describes."""
    mine = parts.role.epoch if parts.role is not None else None
    return mine is not None and mine == role.epoch and role.held


def shown_board(parts: Services, conn: Connection) -> tuple[StatusBoard, RoleState, bool]:
    """The board to show, the role's row, and whether this process holds the role."""
    role = read_role(conn)
    if holds_role(parts, role):
        return parts.board, role, True
    return with_values(parts.board, read_status(conn)), role, False
