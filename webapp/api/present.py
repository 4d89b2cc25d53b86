"""Shaping engine rows into API bodies, with batched look-ups (no query per row)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock, history
from engine.runtime import actions, tasks as task_service
from engine.runtime.approval import LIVE as LIVE_STATES
from engine.store.models import Instance, ProcessVersion, Task, TaskCandidate, User


def _usernames(session: Session, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def tasks(session: Session, rows: list[Task]) -> list[dict]:
    if not rows:
        return []
    candidates: dict[str, list[str]] = {}
    for task_id, username in session.execute(
            select(TaskCandidate.task_id, User.username).join(User, User.id == TaskCandidate.user_id)
            .where(TaskCandidate.task_id.in_([t.id for t in rows])).order_by(User.id)):
        candidates.setdefault(task_id, []).append(username)
    names = _usernames(session, [t.assignee_id for t in rows] + [t.owner_id for t in rows])
    now = clock.now()
    return [{
        "id": t.id, "kind": t.kind, "instance_id": t.instance_id, "name": t.name, "element_id": t.element_id,
        "role": t.role, "assignee": names.get(t.assignee_id), "candidate_users": candidates.get(t.id, []),
        "state": t.state, "form_key": t.form_key, "decision": t.decision, "delegated_by": names.get(t.owner_id),
        "urged_at": t.urged_at, "created_at": t.created_at, "completed_at": t.completed_at, "due_at": t.due_at,
        "overdue": t.due_at is not None and t.state in LIVE_STATES and t.due_at < now,
    } for t in rows]


def task_detail(session: Session, task: Task, user: User) -> dict:
    """A task with its form, what the form opens with, and what this user may do with it."""
    instance = session.get(Instance, task.instance_id)
    body = tasks(session, [task])[0]
    approval = origin = None
    if task.kind == "vote":
        rows = list(session.scalars(select(Task).where(Task.spiff_task_id == task.spiff_task_id,
                                                       Task.kind == "vote").order_by(Task.seq)))
        people = {u.id: u for u in session.scalars(select(User).where(User.id.in_({r.assignee_id for r in rows})))}
        approval = {"mode": task.mode, "votes": [
            {"user": people[r.assignee_id].username if r.assignee_id in people else None,
             "display_name": people[r.assignee_id].display_name if r.assignee_id in people else None,
             "decision": r.decision, "state": r.state} for r in rows]}
    if task.kind == "signer":
        source = session.get(Task, task.origin_task_id)
        by = session.get(User, source.assignee_id) if source and source.assignee_id else None
        origin = {"task_id": task.origin_task_id, "position": task.position,
                  "user": by.username if by else None, "display_name": by.display_name if by else None}
    form = task_service.form_for(session, task)
    prefill = _prefill(form, instance.data or {}, task.pending_data if task.kind != "signer" else None)
    return {**body, "form": form, "data": instance.data or {}, "prefill": prefill,
            "process_key": instance.process_key, "instance_title": instance.title,
            "actions": actions.task_actions(session, task, user), "approval": approval, "origin": origin}


def instances(session: Session, rows: list[Instance], *, open_tasks_only: bool = True) -> list[dict]:
    if not rows:
        return []
    ids = [i.id for i in rows]
    query = select(Task).where(Task.instance_id.in_(ids)).order_by(Task.created_at, Task.id)
    if open_tasks_only:
        query = query.where(Task.state == "open")
    by_instance: dict[int, list[dict]] = {}
    for t in tasks(session, list(session.scalars(query))):
        by_instance.setdefault(t["instance_id"], []).append(t)
    versions = dict(session.execute(select(ProcessVersion.id, ProcessVersion.version)
                                    .where(ProcessVersion.id.in_({i.version_id for i in rows}))).all())
    names = _usernames(session, [i.initiator_id for i in rows])
    return [{
        "id": i.id, "process_key": i.process_key, "version": versions.get(i.version_id), "title": i.title,
        "status": i.status, "initiator": names.get(i.initiator_id), "data": i.data or {}, "error": i.error,
        "parent_instance_id": i.parent_instance_id, "created_at": i.created_at, "updated_at": i.updated_at,
        "completed_at": i.completed_at, "tasks": by_instance.get(i.id, []),
    } for i in rows]


# Someone else's opinion is never offered as mine: an approver starts from an empty decision and comment.
OWN_OPINION = ("decision", "comment")


def _prefill(form: dict | None, data: dict, pending: dict | None) -> dict:
    """What the form opens with: the case's values of its fields (a step redone after 退回 shows what was
    filled in before), and a delegate's submission when the task came back from them."""
    keys = {c.get("key") or c.get("path") for c in _components(form)} - {None, *OWN_OPINION}
    prefill = {k: v for k, v in data.items() if k in keys}
    prefill.update(pending or {})
    return prefill


def _components(form: dict | None):
    stack = list((form or {}).get("components", []))
    while stack:
        component = stack.pop()
        yield component
        stack.extend(component.get("components", []))


def instance_detail(session: Session, instance: Instance, user: User | None = None) -> dict:
    body = instances(session, [instance], open_tasks_only=False)[0]
    body["actions"] = actions.instance_actions(session, instance, user) if user is not None else []
    body["history"] = history.for_instance(session, instance.id)
    body["children"] = [{"id": c.id, "process_key": c.process_key, "title": c.title, "status": c.status}
                        for c in session.scalars(select(Instance).where(Instance.parent_instance_id == instance.id)
                                                 .order_by(Instance.id))]
    return body
