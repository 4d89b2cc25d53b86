"""The append-only case history: every start, claim, completion and error."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.models import Event, User


class EventType(StrEnum):
    """What an `event` row records (`event.type`)."""

    STARTED = "instance_started"
    CLAIMED = "task_claimed"
    COMPLETED = "task_completed"
    CANCELLED = "task_cancelled"
    ERROR = "error"
    RETRIED = "retried"
    FINISHED = "instance_completed"
    # Timers that fired, cases this case started, reminders it sent, overdue tasks escalated
    # (engine/flows/timers.py, engine/runtime/instances.py, engine/flows/deadlines.py).
    TIMER_FIRED = "timer_fired"
    CASE_STARTED = "case_started"
    NOTIFIED = "notified"
    ESCALATED = "escalated"
    # Approval actions (engine/runtime/actions.py) and attachments.
    UNCLAIMED = "task_unclaimed"
    TRANSFERRED = "task_transferred"
    DELEGATED = "task_delegated"
    DELEGATE_RESOLVED = "delegate_resolved"
    SIGNER_ADDED = "signer_added"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    COPIED = "copied"
    URGED = "urged"
    ATTACHED = "attachment_added"
    MIGRATED = "migrated"  # an admin moved the case to a newer version (engine/runtime/migration.py)


def record(
    session: Session,
    instance_id: int,
    type_: EventType,
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
