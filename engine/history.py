"""The append-only case history: every start, claim, completion and error."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.models import Event, User

STARTED, CLAIMED, COMPLETED, CANCELLED, ERROR, RETRIED, FINISHED = (
    "instance_started",
    "task_claimed",
    "task_completed",
    "task_cancelled",
    "error",
    "retried",
    "instance_completed",
)
# Timers that fired, cases this case started, reminders it sent, overdue tasks escalated (engine/runtime/deadlines.py).
TIMER_FIRED, CASE_STARTED, NOTIFIED, ESCALATED = "timer_fired", "case_started", "notified", "escalated"
# Approval actions (engine/runtime/actions.py) and attachments.
(UNCLAIMED, TRANSFERRED, DELEGATED, DELEGATE_RESOLVED, SIGNER_ADDED, RETURNED, WITHDRAWN, COPIED, URGED, ATTACHED) = (
    "task_unclaimed",
    "task_transferred",
    "task_delegated",
    "delegate_resolved",
    "signer_added",
    "returned",
    "withdrawn",
    "copied",
    "urged",
    "attachment_added",
)
# An admin moved the case to a newer version of its procedure (engine/runtime/migration.py).
MIGRATED = "migrated"


def record(
    session: Session,
    instance_id: int,
    type_: str,
    *,
    actor_id: int | None = None,
    task_id: str | None = None,
    element_id: str | None = None,
    decision: str | None = None,
    comment: str | None = None,
    data: dict | None = None,
) -> Event:
    event = Event(
        instance_id=instance_id,
        type=type_,
        actor_id=actor_id,
        task_id=task_id,
        element_id=element_id,
        decision=decision,
        comment=comment,
        data=data,
    )
    session.add(event)
    return event


def for_instance(session: Session, instance_id: int) -> list[dict]:
    rows = session.execute(
        select(Event, User.username, User.display_name)
        .outerjoin(User, User.id == Event.actor_id)
        .where(Event.instance_id == instance_id)
        .order_by(Event.id)
    )
    return [
        {
            "id": e.id,
            "type": e.type,
            "at": e.at,
            "task_id": e.task_id,
            "element_id": e.element_id,
            "actor": username,
            "actor_name": display_name,
            "decision": e.decision,
            "comment": e.comment,
            "data": e.data,
        }
        for e, username, display_name in rows
    ]
