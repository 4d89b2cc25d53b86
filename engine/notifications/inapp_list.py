"""The 通知 list: a person's in-app notifications, the unread count of the nav's badge, marking read."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from engine import clock
from engine.errors import InvalidData, NotFound
from engine.store.models import Notification


def unread_count(session: Session, user_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def list_for(
    session: Session, user_id: int, *, unread: bool = False, limit: int = 50, offset: int = 0
) -> list[Notification]:
    """A person's notifications, newest first."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit).offset(offset)))


def mark_read(session: Session, user_id: int, *, ids=None, all: bool = False) -> int:
    """Mark some (or all) of a person's unread notifications read; how many changed. Others' ids are ignored."""
    query = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if not all:
        try:
            wanted = sorted({int(i) for i in ids or ()})
        except (TypeError, ValueError):
            raise InvalidData({"ids": ["应为通知编号（整数）的列表"]}) from None
        if not wanted:
            raise InvalidData({"ids": ["请指定要标为已读的通知，或用 all 全部标为已读"]})
        query = query.where(Notification.id.in_(wanted))
    # An UPDATE's result is a CursorResult, which has the row count; Session.execute is typed as any Result.
    result = cast(
        CursorResult[Any],
        session.execute(query.values(read_at=clock.now()).execution_options(synchronize_session=False)),
    )
    return result.rowcount


def open_notification(session: Session, user_id: int, notification_id: int) -> Notification:
    """Following a notification marks it read; the caller goes on to its link."""
    # The write first: on SQLite a transaction that read before writing may find the lock taken.
    session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    row = session.get(Notification, notification_id, populate_existing=True)
    if row is None or row.user_id != user_id:
        raise NotFound(f"通知不存在：{notification_id}")
    return row
