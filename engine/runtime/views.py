"""Read models of tasks and cases: what the API and the pages show, built here from batched look-ups (no
query per row) so that both present the same thing. Plain dicts and rows; the web layer only adds labels.

API bodies: `task_bodies`, `task_detail` (the form, what it opens with, what I may do), `instance_bodies`,
`instance_detail`. Pages: `case_view` (what the case page and the task page show of a case), `task_view`
(whether the task is mine to work now), `open_step_names` (我发起的), and the name look-ups.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock, history
from engine.definitions import drafts
from engine.runtime import actions, attachments
from engine.runtime import tasks as task_service
from engine.store.models import (
    LIVE_TASK_STATES,
    Department,
    Instance,
    ProcessDefinition,
    ProcessDraft,
    ProcessVersion,
    Task,
    TaskCandidate,
    TaskKind,
    TaskRowState,
    User,
)

# ---- batched look-ups ----


def usernames(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all())


def users_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))}


def display_names_by_username(session: Session, names: Iterable[object]) -> dict[str, str]:
    wanted = {u for u in names if isinstance(u, str)}
    if not wanted:
        return {}
    return dict(session.execute(select(User.username, User.display_name).where(User.username.in_(wanted))).all())


def process_names(session: Session, keys: Iterable[str]) -> dict[str, str]:
    wanted = set(keys)
    if not wanted:
        return {}
    return dict(
        session.execute(
            select(ProcessDefinition.key, ProcessDefinition.name).where(ProcessDefinition.key.in_(wanted))
        ).all()
    )


def instances_by_id(session: Session, ids: Iterable[int]) -> dict[int, Instance]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {i.id: i for i in session.scalars(select(Instance).where(Instance.id.in_(wanted)))}


def department_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Department.code, Department.name)).all())


# ---- API bodies ----


def task_bodies(session: Session, rows: list[Task]) -> list[dict]:
    if not rows:
        return []
    candidates: dict[str, list[str]] = {}
    for task_id, username in session.execute(
        select(TaskCandidate.task_id, User.username)
        .join(User, User.id == TaskCandidate.user_id)
        .where(TaskCandidate.task_id.in_([t.id for t in rows]))
        .order_by(User.id)
    ):
        candidates.setdefault(task_id, []).append(username)
    names = usernames(session, [t.assignee_id for t in rows] + [t.owner_id for t in rows])
    now = clock.now()
    return [
        {
            "id": t.id,
            "kind": t.kind,
            "instance_id": t.instance_id,
            "name": t.name,
            "element_id": t.element_id,
            "role": t.role,
            "assignee": names.get(t.assignee_id) if t.assignee_id is not None else None,
            "candidate_users": candidates.get(t.id, []),
            "state": t.state,
            "form_key": t.form_key,
            "decision": t.decision,
            "delegated_by": names.get(t.owner_id) if t.owner_id is not None else None,
            "urged_at": t.urged_at,
            "created_at": t.created_at,
            "completed_at": t.completed_at,
            "due_at": t.due_at,
            "overdue": t.is_overdue(now),
        }
        for t in rows
    ]


def task_detail(session: Session, task: Task, user: User) -> dict:
    """A task with its form, what the form opens with, and what this user may do with it."""
    instance = task_service.case_of(session, task)
    body = task_bodies(session, [task])[0]
    approval = origin = None
    if task.kind == TaskKind.VOTE:
        rows = list(
            session.scalars(
                select(Task)
                .where(Task.spiff_task_id == task.spiff_task_id, Task.kind == TaskKind.VOTE)
                .order_by(Task.seq)
            )
        )
        people = users_by_id(session, [r.assignee_id for r in rows])
        approval = {
            "mode": task.mode,
            "votes": [
                {
                    "user": people[r.assignee_id].username if r.assignee_id in people else None,
                    "display_name": people[r.assignee_id].display_name if r.assignee_id in people else None,
                    "decision": r.decision,
                    "state": r.state,
                }
                for r in rows
            ],
        }
    if task.kind == TaskKind.SIGNER:
        source = session.get(Task, task.origin_task_id) if task.origin_task_id else None
        by = session.get(User, source.assignee_id) if source and source.assignee_id else None
        origin = {
            "task_id": task.origin_task_id,
            "position": task.position,
            "user": by.username if by else None,
            "display_name": by.display_name if by else None,
        }
    form = task_service.form_for(session, task)
    prefill = _prefill(form, instance.data or {}, task.pending_data if task.kind != TaskKind.SIGNER else None)
    return {
        **body,
        "form": form,
        "data": instance.data or {},
        "prefill": prefill,
        "process_key": instance.process_key,
        "instance_title": instance.title,
        "actions": actions.task_actions(session, task, user),
        "approval": approval,
        "origin": origin,
    }


def instance_bodies(session: Session, rows: list[Instance], *, open_tasks_only: bool = True) -> list[dict]:
    if not rows:
        return []
    ids = [i.id for i in rows]
    query = select(Task).where(Task.instance_id.in_(ids)).order_by(Task.created_at, Task.id)
    if open_tasks_only:
        query = query.where(Task.state == TaskRowState.OPEN)
    by_instance: dict[int, list[dict]] = {}
    for t in task_bodies(session, list(session.scalars(query))):
        by_instance.setdefault(t["instance_id"], []).append(t)
    versions = dict(
        session.execute(
            select(ProcessVersion.id, ProcessVersion.version).where(ProcessVersion.id.in_({i.version_id for i in rows}))
        ).all()
    )
    names = usernames(session, [i.initiator_id for i in rows])
    return [
        {
            "id": i.id,
            "process_key": i.process_key,
            "version": versions.get(i.version_id),
            "title": i.title,
            "status": i.status,
            "initiator": names.get(i.initiator_id),
            "data": i.data or {},
            "error": i.error,
            "parent_instance_id": i.parent_instance_id,
            "created_at": i.created_at,
            "updated_at": i.updated_at,
            "completed_at": i.completed_at,
            "tasks": by_instance.get(i.id, []),
        }
        for i in rows
    ]


def instance_detail(session: Session, instance: Instance, user: User | None = None) -> dict:
    body = instance_bodies(session, [instance], open_tasks_only=False)[0]
    body["actions"] = actions.instance_actions(session, instance, user) if user is not None else []
    body["history"] = history.for_instance(session, instance.id)
    body["children"] = [
        {"id": c.id, "process_key": c.process_key, "title": c.title, "status": c.status}
        for c in session.scalars(
            select(Instance).where(Instance.parent_instance_id == instance.id).order_by(Instance.id)
        )
    ]
    return body


def first_open_task_of(session: Session, instance_id: int, user: User) -> str | None:
    """The id of an open task of the case assigned to this user (the applicant's first step), if any."""
    return session.scalar(
        select(Task.id)
        .where(Task.instance_id == instance_id, Task.state == TaskRowState.OPEN, Task.assignee_id == user.id)
        .limit(1)
    )


# Someone else's opinion is never offered as mine: an approver starts from an empty decision and comment.
OWN_OPINION = ("decision", "comment")


def _prefill(form: dict | None, data: dict, pending: dict | None) -> dict:
    """What the form opens with: the case's values of its fields (a step redone after 退回 shows what was
    filled in before), and a delegate's submission when the task came back from them."""
    keys = {c.get("key") or c.get("path") for c in _components(form)} - {None, *OWN_OPINION}
    prefill = {k: v for k, v in data.items() if k in keys}
    prefill.update(pending or {})
    return prefill


def _components(form: dict | None) -> Iterator[dict]:
    stack = list((form or {}).get("components", []))
    while stack:
        component = stack.pop()
        yield component
        stack.extend(component.get("components", []))


# ---- pages ----


def case_view(session: Session, instance: Instance) -> dict:
    """What the case page and the task page both show of a case: its version and procedure name, the
    initiator, the live steps with who holds them (or may claim them), its attachments, the names of its
    steps, its events and, for a 流程新增/变更 case, the change it proposes."""
    version = session.get(ProcessVersion, instance.version_id)
    definition = session.get(ProcessDefinition, instance.process_key)
    steps = list(
        session.scalars(
            select(Task)
            .where(Task.instance_id == instance.id, Task.state.in_(LIVE_TASK_STATES))
            .order_by(Task.created_at, Task.seq, Task.id)
        )
    )
    candidates: dict[str, list[str]] = {}
    unassigned = [t.id for t in steps if t.assignee_id is None]
    if unassigned:
        for task_id, name in session.execute(
            select(TaskCandidate.task_id, User.display_name)
            .join(User, User.id == TaskCandidate.user_id)
            .where(TaskCandidate.task_id.in_(unassigned))
            .order_by(User.id)
        ):
            candidates.setdefault(task_id, []).append(name)
    people = users_by_id(session, [t.assignee_id for t in steps] + [instance.initiator_id])
    step_names = dict(session.execute(select(Task.element_id, Task.name).where(Task.instance_id == instance.id)).all())
    return {
        "case": instance,
        "version": version,
        "process": definition.name if definition else instance.process_key,
        "initiator": people.get(instance.initiator_id),
        "steps": [
            {
                "task": t,
                "assignee": people.get(t.assignee_id) if t.assignee_id is not None else None,
                "candidates": candidates.get(t.id, []),
            }
            for t in steps
        ],
        "attachments": attachments.for_instance(session, instance.id),
        "step_names": step_names,
        "events": history.for_instance(session, instance.id),
        "change": proposed_change(session, instance),
    }


def proposed_change(session: Session, instance: Instance) -> dict | None:
    """A 流程新增/变更 case started from the modeler carries its draft: reviewers see what it changes."""
    draft_id = (instance.data or {}).get("process_draft_id")
    if instance.process_key != drafts.CHANGE_PROCESS or not isinstance(draft_id, int):
        return None
    draft = session.get(ProcessDraft, draft_id)
    if draft is None or draft.change_instance_id != instance.id:
        return None
    return {"draft": draft, "diff": drafts.diff(session, draft)}


def task_view(session: Session, task: Task, user: User, events: list[dict]) -> dict:
    """The task page's own facts: whether it is mine to work now (open, and assigned to me or unclaimed
    with me among its candidates), whether it is overdue, the people it names and, for a done task, what
    was submitted on it (its completion among the case's `events`)."""
    candidate = session.get(TaskCandidate, (task.id, user.id)) is not None
    mine = task.state == TaskRowState.OPEN and (task.assignee_id == user.id or (task.assignee_id is None and candidate))
    people = users_by_id(session, [task.assignee_id, task.completed_by, task.owner_id])
    overdue = task.is_overdue(clock.now())
    submitted = next(
        (e["data"] for e in reversed(events) if e["type"] == history.EventType.COMPLETED and e["task_id"] == task.id),
        None,
    )
    return {
        "mine": mine,
        "overdue": overdue,
        "submitted": submitted,
        "assignee": people.get(task.assignee_id) if task.assignee_id is not None else None,
        "completed_by": people.get(task.completed_by) if task.completed_by is not None else None,
        "owner": people.get(task.owner_id) if task.owner_id is not None else None,
    }


def open_step_names(session: Session, instance_ids: list[int]) -> dict[int, list[str]]:
    """The names of each case's open steps, oldest first; the votes of one step name it once."""
    steps: dict[int, list[str]] = {}
    if instance_ids:
        for instance_id, name in session.execute(
            select(Task.instance_id, Task.name)
            .where(Task.instance_id.in_(instance_ids), Task.state == TaskRowState.OPEN)
            .order_by(Task.created_at)
        ):
            if name not in steps.setdefault(instance_id, []):
                steps[instance_id].append(name)
    return steps
