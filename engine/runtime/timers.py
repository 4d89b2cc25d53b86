"""The timer events a case waits on, as `timer` rows (kind `event`): after every step the engine
mirrors them here, so the scheduler (engine/flows/timers.py) finds what falls due with one indexed
query. Task deadlines are `timer` rows too (engine/runtime/deadlines.py)."""

from __future__ import annotations

from datetime import datetime

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.definitions.specs import timer_event_spec
from engine.store.models import Timer, TimerKind


def due_of(task) -> datetime | None:
    """When a waiting timer event falls due; None if it never will again."""
    definition = task.task_spec.event_definition
    value = task._get_internal_data("event_value")
    if isinstance(definition, CycleTimerEventDefinition):
        value = value["next"] if value and value.get("cycles") != 0 else None
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(definition, TimeDateEventDefinition):
        return TimerEventDefinition.parse_time_or_duration(str(value))
    return TimerEventDefinition.get_datetime(str(value))


def sync(session: Session, instance_id: int, workflow) -> None:
    """Mirror the workflow's waiting timer events into `timer` rows."""
    waiting: dict[str, tuple[str, datetime]] = {}
    for task in workflow.get_tasks(state=TaskState.WAITING):
        spec = timer_event_spec(task.task_spec)
        if spec is not None:
            due = due_of(task)
            if due is not None:
                waiting[str(task.id)] = (spec.bpmn_id, due)
    rows = {
        row.task_id: row
        for row in session.scalars(select(Timer).where(Timer.instance_id == instance_id, Timer.kind == TimerKind.EVENT))
    }
    for task_id, stale in rows.items():
        if task_id not in waiting:
            session.delete(stale)
    for task_id, (element_id, due) in waiting.items():
        row = rows.get(task_id)
        if row is None:
            session.add(Timer(instance_id=instance_id, task_id=task_id, element_id=element_id, due_at=due))
        elif row.due_at != due:
            row.due_at = due
