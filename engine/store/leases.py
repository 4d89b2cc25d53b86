"""Rows that several processes work off (timers, start schedules, the mail outbox), each once.

A worker claims due rows in a short transaction: `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL
(SQLite has one writer at a time) and a lease (`locked_by`, `locked_until`) on each, committed at
once. It then works each row in a transaction of its own, after checking the lease is still its
own (`held`). A process that dies mid-work rolls back and leaves a lease that runs out, so another
process takes the row after it. A lease with no holder is a "not before" for a row to retry later.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import datetime, timedelta

from sqlalchemy import Row, or_, select, update
from sqlalchemy.orm import Session


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def claim(
    session: Session,
    model,
    due_column,
    *,
    now: datetime,
    worker: str,
    batch: int,
    lease: timedelta,
    where=(),
    columns=(),
) -> list[Row]:
    """Lease up to `batch` rows of `model` due by `now` that nobody holds; answers (id, *columns) of each."""
    query = (
        select(model.id, *columns)
        .where(due_column <= now, *where, or_(model.locked_until.is_(None), model.locked_until <= now))
        .order_by(due_column)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.execute(query).all())  # .all() is typed as a Sequence; callers take a list
    if rows:
        session.execute(
            update(model)
            .where(model.id.in_([row[0] for row in rows]))
            .values(locked_by=worker, locked_until=now + lease)
            .execution_options(synchronize_session=False)
        )
    return rows


def held(session: Session, model, row_id, worker: str):
    """The row, locked for the rest of the transaction, if `worker`'s lease on it still holds."""
    query = select(model).where(model.id == row_id, model.locked_by == worker)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).first()
