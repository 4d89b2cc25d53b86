"""Messages a case throws that no task inside it catches, handed on by the engine:

`start:<process_key>`  asks for a case of that procedure, started at its message start event with
                       the payload (a dict) as its data, by the flow engine/flows/messages.py installs.
`notify`               a reminder or escalation: payload `{"to": <lane expression>, "text": ...}`;
                       without `to`, the people the case's open tasks wait on.
"""

from __future__ import annotations

from typing import Protocol

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import history, notifications
from engine.errors import Conflict
from engine.notifications.kinds import NoticeKind
from engine.org import assignment
from engine.store.models import Instance, Task, TaskCandidate, TaskRowState, User

START_PREFIX = "start:"
NOTIFY = "notify"


def dispatch(session: Session, instance: Instance, events, *, actor_id: int | None) -> None:
    for event in events:
        if not isinstance(event.event_definition, MessageEventDefinition):
            continue  # e.g. a terminate end event: SpiffWorkflow has already ended the case
        name = event.event_definition.name or ""
        payload = event.payload if isinstance(event.payload, dict) else {}
        if name.startswith(START_PREFIX):
            _start_case(session, instance, name, payload, actor_id)
        elif name == NOTIFY:
            _notify(session, instance, payload)
        else:
            raise Conflict(f"没有流程接收消息“{name}”：消息名应为 start:<流程标识> 或 notify")


class CaseStarter(Protocol):
    def __call__(
        self, session: Session, parent: Instance, message: str, payload: dict, actor_id: int | None
    ) -> None: ...


_case_starter: CaseStarter | None = None


def start_cases_with(starter: CaseStarter) -> None:
    """Starting a case is orchestration above the runtime (engine/flows/messages.py installs it): the
    runtime only says which case a step asks for, and the flow starts it within the same transaction."""
    global _case_starter
    _case_starter = starter


def _start_case(session: Session, parent: Instance, message: str, payload: dict, actor_id: int | None) -> None:
    if _case_starter is None:
        raise Conflict(f"消息“{message}”无法发起案件：流程编排未加载（engine.flows）")
    _case_starter(session, parent, message, payload, actor_id)


def _notify(session: Session, instance: Instance, payload: dict) -> None:
    target = payload.get("to")
    if target:
        ids = assignment.resolve(
            session,
            str(target),
            initiator_id=instance.initiator_id,
            initiator_department_id=instance.initiator_department_id,
            data={**(instance.data or {}), **payload},
        )
    else:
        ids = list(
            session.scalars(
                select(TaskCandidate.user_id)
                .join(Task, Task.id == TaskCandidate.task_id)
                .where(Task.instance_id == instance.id, Task.state == TaskRowState.OPEN)
                .distinct()
            )
        )
    usernames = list(session.scalars(select(User.username).where(User.id.in_(ids)).order_by(User.id)))
    history.record(
        session,
        instance.id,
        history.EventType.NOTIFIED,
        comment=str(payload.get("text") or ""),
        data={"to": usernames, "kind": payload.get("kind", NoticeKind.REMINDER)},
    )
    notifications.case_message(session, instance, ids, payload)
