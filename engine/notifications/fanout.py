"""Sending a notice: each distinct active person, on each channel they allow for the kind and it reaches.
Runs inside the engine step's transaction: the rows exist exactly when the step committed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.notifications import channels
from engine.notifications.channels import Notice, Recipient, clip
from engine.notifications.kinds import KINDS
from engine.store.models import NotificationOptOut, User


def send(
    session: Session,
    *,
    user_ids,
    kind: str,
    title: str,
    body: str = "",
    instance_id: int | None = None,
    task_id: str | None = None,
    link: str | None = None,
) -> int:
    """Notify each distinct active user on the channels they allow for `kind`; rows made."""
    if kind not in KINDS:
        raise ValueError(f"未知的通知类型：{kind}")
    ids = {int(uid) for uid in user_ids or () if uid is not None}
    if not ids:
        return 0
    # One query of columns, not User rows (those load department and roles): this runs on every new task.
    people: dict[int, Recipient] = {}  # each active person, with their address
    off: set[tuple[int, str]] = set()  # the channels they turned off for this kind
    for uid, email, turned_off in session.execute(
        select(User.id, User.email, NotificationOptOut.channel)
        .outerjoin(NotificationOptOut, (NotificationOptOut.user_id == User.id) & (NotificationOptOut.kind == kind))
        .where(User.id.in_(ids), User.active)
        .order_by(User.id)
    ):
        people[uid] = Recipient(user_id=uid, email=email)
        if turned_off:
            off.add((uid, turned_off))
    if not people:
        return 0
    notice = Notice(
        kind=kind,
        title=clip(title, 255),
        body=body or "",
        instance_id=instance_id,
        task_id=task_id,
        link=link,
        at=clock.now(),
    )
    rows: list[object] = []
    for channel in channels.ALL:
        told = [
            person
            for person in people.values()
            if (person.user_id, channel.name) not in off and channel.reaches(person)
        ]
        if told:
            rows += channel.records(session, notice, told)
    session.add_all(rows)
    return len(rows)
