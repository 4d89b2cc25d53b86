"""`start:<process_key>` messages: a case a step asks for starts here, in the same transaction, and both
cases' histories record the link (engine/runtime/messages.py hands the message on)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine import history
from engine.runtime import instances, messages
from engine.store.models import Instance, User


def start_case(session: Session, parent: Instance, message: str, payload: dict, actor_id: int | None) -> None:
    """The payload becomes the new case's data; `initiator` in it names who starts it, by default the
    person whose action threw it (or the calling case's initiator)."""
    user = session.get_one(User, actor_id or parent.initiator_id)
    child = instances.start_by_message(session, message=message, payload=payload, user=user, parent=parent)
    history.record(
        session,
        parent.id,
        history.EventType.CASE_STARTED,
        actor_id=actor_id,
        comment=f"发起 {child.title}",
        data={"instance_id": child.id, "process_key": child.process_key},
    )


messages.start_cases_with(start_case)
