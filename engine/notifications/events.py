"""What the engine notifies about, one call from each place it happens: who is told what, and where
the notice leads."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.notifications.fanout import send
from engine.notifications.kinds import KINDS, NoticeKind
from engine.store.models import Instance, Task, TaskCandidate, TaskRowState, User


def task_link(task_id: str) -> str:
    return f"/tasks/{task_id}"


def case_link(instance_id: int) -> str:
    return f"/cases/{instance_id}"


def tasks_created(session: Session, instance: Instance, rows, *, actor_id: int | None = None) -> int:
    """新待办 for rows that just became someone's work: each candidate of each open row, once per row
    (a row waiting its turn is not announced). Not to the person whose action made the row: they are
    looking at it."""
    made = 0
    for row in rows:
        if row.state != TaskRowState.OPEN:
            continue
        people = holders(session, row)
        made += send(
            session,
            user_ids=[p for p in people if p != actor_id],
            kind=NoticeKind.TASK,
            title=f"{row.name}：{instance.title}",
            instance_id=instance.id,
            task_id=row.id,
            link=task_link(row.id),
        )
    return made


def holders(session: Session, row: Task) -> list[int]:
    """Who has a task row: its assignee, or else each candidate of the group task."""
    if row.assignee_id is not None:
        return [row.assignee_id]
    return list(
        session.scalars(
            select(TaskCandidate.user_id).where(TaskCandidate.task_id == row.id).order_by(TaskCandidate.user_id)
        )
    )


def task_opened(session: Session, row: Task, *, actor_id: int | None = None) -> int:
    """新待办 for a row that was waiting and is now someone's turn (依次审批, a signer after me)."""
    return tasks_created(session, session.get_one(Instance, row.instance_id), [row], actor_id=actor_id)


def task_handed(session: Session, task: Task, *, to: User, by: User, how: str, comment: str | None = None) -> int:
    """转办 / 委派: the task is now `to`'s to work. `how` is said in the title (转办, 委派)."""
    instance = session.get_one(Instance, task.instance_id)
    return send(
        session,
        user_ids=[to.id],
        kind=NoticeKind.TASK,
        title=f"{by.display_name} {how}给你：{task.name}",
        body=comment or f"案件：{instance.title}",
        instance_id=instance.id,
        task_id=task.id,
        link=task_link(task.id),
    )


def urged(session: Session, instance: Instance, rows, user_ids, *, by: User, comment: str | None = None) -> int:
    """催办: each person urged gets a link to their task on the case, or to the case if they have several."""
    theirs: dict[int, list[Task]] = {}
    unclaimed = {row.id: row for row in rows if row.assignee_id is None}
    for row in rows:
        if row.assignee_id is not None:
            theirs.setdefault(row.assignee_id, []).append(row)
    if unclaimed:
        for task_id, uid in session.execute(
            select(TaskCandidate.task_id, TaskCandidate.user_id).where(TaskCandidate.task_id.in_(list(unclaimed)))
        ):
            theirs.setdefault(uid, []).append(unclaimed[task_id])
    made = 0
    for uid in user_ids:
        mine = theirs.get(uid, [])
        one = mine[0] if len(mine) == 1 else None
        made += send(
            session,
            user_ids=[uid],
            kind=NoticeKind.URGED,
            title=f"{by.display_name} 催办：{one.name if one else instance.title}",
            body=comment or "",
            instance_id=instance.id,
            task_id=one.id if one else None,
            link=task_link(one.id) if one else case_link(instance.id),
        )
    return made


def copied(session: Session, instance: Instance, people, *, by: User, comment: str | None = None) -> int:
    return send(
        session,
        user_ids=[p.id for p in people],
        kind=NoticeKind.COPIED,
        title=f"{by.display_name} 抄送给你：{instance.title}",
        body=comment or "",
        instance_id=instance.id,
        link=case_link(instance.id),
    )


# What a diagram's `notify` payload may call its kind, and what we file it under.
MESSAGE_KINDS = {
    "reminder": NoticeKind.REMINDER,
    "overdue": NoticeKind.OVERDUE,
    "escalation": NoticeKind.ESCALATED,
    "escalated": NoticeKind.ESCALATED,
    "notify": NoticeKind.NOTIFY,
}


def message_kind(value) -> str:
    return MESSAGE_KINDS.get(str(value or NoticeKind.REMINDER).strip().lower(), NoticeKind.NOTIFY)


def case_message(session: Session, instance: Instance, user_ids, payload: dict) -> int:
    """A diagram's `notify` message: a reminder, an escalation or a plain notice about the case."""
    kind = message_kind(payload.get("kind"))
    text = str(payload.get("text") or "").strip()
    return send(
        session,
        user_ids=user_ids,
        kind=kind,
        title=text or f"{KINDS[kind]}：{instance.title}",
        body=f"案件：{instance.title}" if text else "",
        instance_id=instance.id,
        link=case_link(instance.id),
    )


def case_completed(session: Session, instance: Instance) -> int:
    return send(
        session,
        user_ids=[instance.initiator_id],
        kind=NoticeKind.COMPLETED,
        title=f"已办结：{instance.title}",
        instance_id=instance.id,
        link=case_link(instance.id),
    )
