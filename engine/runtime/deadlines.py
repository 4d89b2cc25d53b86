"""Task deadlines, as the diagram sets them on a user task (validated in engine/definitions/validation.py):

  dueIn         办理时限: the task is due this long after it opens (an ISO 8601 duration, P3D)
  remindBefore  到期提醒: remind whoever holds it this long before it is due (PT4H)
  escalation    超时处理 when it falls due: `notify:<lane expression>` tells them, and lets them read
                the case; `move:<lane expression>` gives the task to them. A department-scoped role
                (dept_head) means the department of the person holding the task.

Each task row with a due time has one `timer` row (engine/flows/deadlines.py fires it): kind `remind` until
the reminder went, then `due`; it goes once the due stage fired or the task closed. A row not open
when its time comes (its turn in 依次审批 has not come, or it waits on a signer) skips that stage.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.definitions.vocabulary import Property
from engine.store.models import Task, TaskRowState, Timer, TimerKind
from engine.timing import duration

CLOSED = (TaskRowState.COMPLETED, TaskRowState.CANCELLED)


def schedule(session: Session, rows: list[Task], props: dict) -> None:
    """New task rows of a step whose diagram gives it a deadline: when to remind, when it is due."""
    before = (props.get(Property.REMIND_BEFORE) or "").strip()
    action = (props.get(Property.ESCALATION) or "").strip() or None
    for row in rows:
        if row.due_at is None:
            continue
        remind_at = row.due_at - duration(before) if before else None
        kind, at = (
            (TimerKind.REMIND, remind_at) if remind_at and remind_at > row.created_at else (TimerKind.DUE, row.due_at)
        )
        session.add(
            Timer(
                instance_id=row.instance_id,
                task_id=row.id,
                element_id=row.element_id,
                kind=kind,
                due_at=at,
                action=action,
            )
        )
