"""Messages a case throws that no task inside it catches, handed on by the engine:

`start:<process_key>`  asks for a case of that procedure, started at its message start event with
                       the payload (a dict) as its data; `initiator` in it names who starts it, by
                       default the person whose action threw it (or the calling case's initiator).
                       The step answers it to its caller, which starts it; both histories record the link.
`notify`               a reminder or escalation: payload `{"to": <lane expression>, "text": ...}`;
                       without `to`, the people the case's open tasks wait on.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Thrown:
    """A message a step threw, answered by the step to its caller, which hands it on in order
    (engine/runtime/instances.py `advance_and_start`): a case to start, or people to notify."""

    name: str
    payload: dict
    actor_id: int | None  # whose action threw it; None: the engine's

    @property
    def starts_case(self) -> bool:
        return self.name.startswith(START_PREFIX)


def thrown(events, *, actor_id: int | None) -> list[Thrown]:
    """The messages among a step's events, in the order thrown; a name nobody receives is refused."""
    found = []
    for event in events:
        if not isinstance(event.event_definition, MessageEventDefinition):
            continue  # e.g. a terminate end event: SpiffWorkflow has already ended the case
        name = event.event_definition.name or ""
        if not (name.startswith(START_PREFIX) or name == NOTIFY):
            raise Conflict(f"没有流程接收消息“{name}”：消息名应为 start:<流程标识> 或 notify")
        found.append(Thrown(name, event.payload if isinstance(event.payload, dict) else {}, actor_id))
    return found


def notify(session: Session, instance: Instance, payload: dict) -> None:
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
