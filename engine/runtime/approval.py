"""Who works a user task, and when its step is decided.

A step waiting in the engine has one or more task rows (see `Task`):
- one `task` row: the lane's candidates share it (claim to take it); whoever completes it decides;
- with `approvalMode` set in the diagram and several candidates, one `vote` row per person:
    all         会签: everyone must approve; the first rejection decides
    any         或签: the first to act decides; the others' rows are withdrawn
    sequential  依次审批: one after another in the lane's order; a rejection stops it
- `signer` rows added by 加签: before me (my row waits for their opinion, then I decide) or after me
  (my approval goes on to them; their rejection rejects the step).
The engine task completes only when its step is decided (`settle` says with what data).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock, history, notifications
from engine.definitions.specs import due_at, element_spec, properties
from engine.definitions.vocabulary import APPROVAL_MODE_NAMES, ApprovalMode, Property
from engine.org import assignment
from engine.runtime import deadlines
from engine.store.models import LIVE_TASK_STATES, Instance, Task, TaskCandidate, TaskKind, TaskRowState, User, utcnow

# The form of an added signer: an opinion on the step, whatever the step's own form asks.
SIGNER_FORM = {
    "id": "builtin_signer",
    "type": "default",
    "schemaVersion": 16,
    "components": [
        {
            "id": "decision",
            "key": "decision",
            "type": "radio",
            "label": "审批意见",
            "values": [{"label": "同意", "value": "approve"}, {"label": "不同意", "value": "reject"}],
            "validate": {"required": True},
        },
        {"id": "comment", "key": "comment", "type": "textarea", "label": "意见说明", "validate": {"maxLength": 2000}},
    ],
}


def create_rows(session: Session, instance: Instance, spiff_task, *, actor_id: int | None = None) -> list[Task]:
    """The rows for an engine task that just became ready; `actor_id` made it so (not told of their own)."""
    spec = element_spec(spiff_task)
    props = properties(spec)
    candidates = assignment.resolve(
        session,
        spec.lane,
        initiator_id=instance.initiator_id,
        initiator_department_id=instance.initiator_department_id,
        data=spiff_task.data,
    )
    mode, now = props.get(Property.APPROVAL_MODE), clock.now()
    common = {
        "spiff_task_id": str(spiff_task.id),
        "instance_id": instance.id,
        "element_id": spec.bpmn_id,
        "name": spec.bpmn_name or spec.bpmn_id,
        "role": spec.lane,
        "form_key": props.get(Property.FORM_KEY),
        "created_at": now,
        "due_at": due_at(props, now),
    }
    if mode not in APPROVAL_MODE_NAMES or len(candidates) == 1:
        rows = [
            Task(
                id=str(spiff_task.id),
                kind=TaskKind.TASK,
                state=TaskRowState.OPEN,
                assignee_id=candidates[0] if len(candidates) == 1 else None,
                **common,
            )
        ]
        pairs = [(rows[0].id, uid) for uid in candidates]
    else:
        rows = [
            Task(
                id=str(uuid.uuid4()),
                kind=TaskKind.VOTE,
                mode=mode,
                seq=i,
                assignee_id=uid,
                state=TaskRowState.PENDING if mode == ApprovalMode.SEQUENTIAL and i > 0 else TaskRowState.OPEN,
                **common,
            )
            for i, uid in enumerate(candidates)
        ]
        pairs = [(row.id, uid) for row, uid in zip(rows, candidates)]
    session.add_all(rows)
    session.flush()
    session.add_all(TaskCandidate(task_id=task_id, user_id=uid) for task_id, uid in pairs)
    deadlines.schedule(session, rows, props)
    notifications.tasks_created(session, instance, rows, actor_id=actor_id)
    return rows


def add_signer_row(session: Session, origin: Task, signer: User, position: str) -> Task:
    row = Task(
        id=str(uuid.uuid4()),
        spiff_task_id=origin.spiff_task_id,
        kind=TaskKind.SIGNER,
        instance_id=origin.instance_id,
        element_id=origin.element_id,
        name=f"{origin.name}（加签）",
        role=None,
        form_key=None,
        assignee_id=signer.id,
        origin_task_id=origin.id,
        position=position,
        state=TaskRowState.OPEN if position == "before" else TaskRowState.PENDING,
        due_at=origin.due_at,
    )
    session.add(row)
    session.flush()
    session.add(TaskCandidate(task_id=row.id, user_id=signer.id))
    if position == "before":
        origin.state = TaskRowState.WAITING
    return row


def pending_signer(session: Session, row: Task) -> Task | None:
    return session.scalar(select(Task).where(Task.origin_task_id == row.id, Task.state.in_(LIVE_TASK_STATES)))


def settle(session: Session, row: Task, submission: dict) -> tuple[str, dict] | None:
    """`row` was just completed with `submission`: (engine task id, data) if its step is decided now,
    None while it waits on others."""
    rejected = submission.get("decision") == "reject"
    after = pending_signer(session, row)
    if after is not None:
        if not rejected:  # my approval goes on to the signer added after me, with my submission
            after.state, after.created_at = TaskRowState.OPEN, utcnow()
            after.pending_data = dict(row.pending_data or {}) if row.kind == TaskKind.SIGNER else dict(submission)
            notifications.task_opened(session, after, actor_id=row.completed_by)
            return None
        cancel(session, after)
    if row.kind == TaskKind.SIGNER:
        origin = session.get_one(Task, row.origin_task_id)
        if row.position == "before":  # an opinion for the one who asked for it, who then decides
            origin.state = TaskRowState.OPEN
            notifications.task_opened(session, origin, actor_id=row.completed_by)
            return None
        data = dict(row.pending_data or {})
        if rejected:
            data.update(decision="reject", comment=submission.get("comment"))
        while origin.kind == TaskKind.SIGNER:
            origin = session.get_one(Task, origin.origin_task_id)
        return _decide(session, origin, data)
    return _decide(session, row, submission)


def _decide(session: Session, row: Task, data: dict) -> tuple[str, dict] | None:
    if row.kind == TaskKind.TASK:
        return row.spiff_task_id, data
    rows = list(session.scalars(select(Task).where(Task.spiff_task_id == row.spiff_task_id).order_by(Task.seq)))
    live = [r for r in rows if r.state in LIVE_TASK_STATES]
    if data.get("decision") != "reject" and row.mode != ApprovalMode.ANY:
        if row.mode == ApprovalMode.SEQUENTIAL:
            waiting = [r for r in live if r.kind == TaskKind.VOTE and r.state == TaskRowState.PENDING]
            if waiting:
                waiting[0].state, waiting[0].created_at = TaskRowState.OPEN, utcnow()
                notifications.task_opened(session, waiting[0], actor_id=row.completed_by)
                return None
        if live:
            return None
    for other in live:
        cancel(session, other)
    names: dict[int | None, str] = dict(
        session.execute(
            select(User.id, User.username).where(User.id.in_({r.completed_by for r in rows if r.completed_by}))
        ).all()
    )
    votes = [
        {"user": names.get(r.completed_by), "decision": r.decision}
        for r in rows
        if r.kind == TaskKind.VOTE and r.state == TaskRowState.COMPLETED
    ]
    return row.spiff_task_id, {**data, "votes": votes}


def cancel(session: Session, row: Task, reason: str | None = None) -> None:
    row.state, row.completed_at = TaskRowState.CANCELLED, utcnow()
    history.record(
        session, row.instance_id, history.EventType.CANCELLED, task_id=row.id, element_id=row.element_id, comment=reason
    )
