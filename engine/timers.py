"""Timers: due times are rows; firing one is an ordinary engine step.

After every step the engine records the timer events the case waits on (`timer` rows); a deployed
version's timer start events are `start_schedule` rows. `fire_due()` hands whatever fell due to the
engine, one case per transaction. Rows are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
any number of scheduler processes can tick at once and each timer fires once.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition, TimeDateEventDefinition, TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState

from engine import clock, history
from engine.errors import EngineError
from engine.scripting import is_iso_8601_timer, script_engine
from engine.store.db import Database
from engine.store.models import StartSchedule, Timer

log = logging.getLogger(__name__)


# ---- what a case waits on ---------------------------------------------------------------------

def _due_of(task) -> datetime | None:
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
        if isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition):
            due = _due_of(task)
            if due is not None:
                waiting[str(task.id)] = (task.task_spec.bpmn_id, due)
    rows = {row.task_id: row for row in session.scalars(select(Timer).where(Timer.instance_id == instance_id))}
    for task_id, row in rows.items():
        if task_id not in waiting:
            session.delete(row)
    for task_id, (element_id, due) in waiting.items():
        row = rows.get(task_id)
        if row is None:
            session.add(Timer(instance_id=instance_id, task_id=task_id, element_id=element_id, due_at=due))
        elif row.due_at != due:
            row.due_at = due


# ---- when a procedure starts by itself ---------------------------------------------------------

def duration(text: str) -> relativedelta:
    """An ISO 8601 duration (P3M, PT72H) as a calendar-aware delta."""
    parts = TimerEventDefinition.parse_iso_duration(text)
    return relativedelta(**{k: v for k, v in parts.items() if k != "t"})


@dataclass
class Occurrences:
    """The times a timer start event falls due: `R[n]/start/period`, a date, or a duration from `anchor`."""
    start: datetime
    period: relativedelta | None = None
    count: int | None = None  # None: repeats for ever

    @classmethod
    def parse(cls, expression: str, anchor: datetime) -> "Occurrences":
        text = expression.strip()
        if not is_iso_8601_timer(text):  # an expression computed by a script, evaluated once at deploy
            text = str(script_engine().environment.evaluate(text, {}))
        if text.upper().startswith("R"):
            repeat, first, second = (text.split("/") + [None])[:3]
            count = int(repeat[1:]) if repeat[1:] else None
            if second is None:  # R/P1D: every period from now
                period = duration(first)
                return cls(anchor + period, period, count)
            if first.upper().startswith("P"):  # R/P1M/2027-01-01T00:00: period ending at a date
                period = duration(first)
                end = TimerEventDefinition.get_datetime(second)
                return cls(end - period * (count or 1), period, count)
            return cls(TimerEventDefinition.get_datetime(first), duration(second), count)
        if text.upper().startswith("P"):
            return cls(anchor + duration(text), None, 1)
        return cls(TimerEventDefinition.parse_time_or_duration(text), None, 1)

    def at(self, k: int) -> datetime:
        return self.start + self.period * k if self.period else self.start

    def after(self, moment: datetime) -> tuple[datetime | None, int]:
        """The first occurrence strictly after `moment`, and how many fell due up to `moment`."""
        if self.start > moment:
            return self.start, 0
        if self.period is None:
            return None, 1
        low, high = 0, 1
        while self.at(high) <= moment:
            low, high = high, high * 2
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if self.at(mid) <= moment else (low, mid)
        passed = high
        if self.count is not None and high >= self.count:
            return None, min(passed, self.count)
        return self.at(high), passed


def sync_schedules(session: Session, process_key: str, start_events: list) -> None:
    """Called when a version goes live: one row per timer start event, next due time from now."""
    rows = {row.element_id: row for row in session.scalars(
        select(StartSchedule).where(StartSchedule.process_key == process_key))}
    wanted = {spec.bpmn_id: spec.event_definition.expression for spec in start_events
              if isinstance(spec.event_definition, TimerEventDefinition)}
    for element_id, row in rows.items():
        if element_id not in wanted:
            session.delete(row)
    now = clock.now()
    for element_id, expression in wanted.items():
        row = rows.get(element_id)
        if row is not None and row.expression == expression:
            continue
        next_due, _ = Occurrences.parse(expression, now).after(now - timedelta(microseconds=1))
        if row is None:
            session.add(StartSchedule(process_key=process_key, element_id=element_id, expression=expression,
                                      next_due_at=next_due))
        else:
            row.expression, row.next_due_at = expression, next_due


# ---- firing ---------------------------------------------------------------------------------------

def _claim(session: Session, query):
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query.limit(1)).first()


def fire_due(db: Database, *, limit: int = 1000) -> int:
    """Fire everything due by the engine clock; returns how many timers and schedules fired.
    Each case fires in its own transaction; `limit` bounds one tick's work."""
    from engine.runtime import instances  # the runtime depends on timers, not the other way round

    fired = 0
    skipped_timers: set[int] = set()
    while fired < limit:
        with db.session(write=True) as session:
            now = clock.now()
            row = _claim(session, select(StartSchedule).where(StartSchedule.next_due_at <= now)
                         .order_by(StartSchedule.next_due_at))
            if row is None:
                break
            _fire_schedule(session, row, now)
            fired += 1
    while len(skipped_timers) + fired < limit:
        claimed = None
        try:
            with db.session(write=True) as session:
                now = clock.now()
                query = select(Timer).where(Timer.due_at <= now).order_by(Timer.due_at, Timer.id)
                if skipped_timers:
                    query = query.where(Timer.id.not_in(skipped_timers))
                row = _claim(session, query)
                if row is None:
                    break
                claimed = (row.id, row.instance_id, row.element_id)
                if instances.fire_timers(session, row.instance_id):
                    fired += 1
                else:
                    skipped_timers.add(row.id)
        except EngineError as exc:  # e.g. an escalation to a role nobody holds: the case shows it
            skipped_timers.add(claimed[0])
            with db.session(write=True) as session:
                _record_failure(session, claimed[1], claimed[2], exc)
    return fired


def _fire_schedule(session: Session, row: StartSchedule, now: datetime) -> None:
    from engine.runtime import instances  # the runtime depends on timers, not the other way round

    occurrences = Occurrences.parse(row.expression, row.next_due_at)
    next_due, passed = occurrences.after(now)
    missed_from = row.next_due_at
    due_count = max(1, passed - _index_of(occurrences, missed_from))
    row.last_fired_at, row.next_due_at = now, next_due
    try:
        with session.begin_nested():
            instance = instances.start_by_timer(session, process_key=row.process_key, element_id=row.element_id)
            note = f"定时发起（应发起时间 {missed_from.isoformat()}）"
            if due_count > 1:
                note += f"；停机期间错过 {due_count} 次，只发起本次一个案件"
            history.record(session, instance.id, history.TIMER_FIRED, element_id=row.element_id, comment=note,
                           data={"due_at": missed_from.isoformat(), "missed": due_count - 1})
    except EngineError as exc:  # e.g. nobody holds the first step's role: say so, try next time
        log.error("timer start %s/%s failed: %s", row.process_key, row.element_id, exc)


def _index_of(occurrences: Occurrences, moment: datetime) -> int:
    _, passed = occurrences.after(moment - timedelta(microseconds=1))
    return passed


def _record_failure(session: Session, instance_id: int, element_id: str, exc: EngineError) -> None:
    from engine.store.db import lock_instance
    from engine.store.models import Instance

    lock_instance(session, instance_id)
    instance = session.get(Instance, instance_id, populate_existing=True)
    message = f"定时器 {element_id} 触发失败：{exc}"
    instance.status, instance.error = "error", message
    instance.lock_version += 1
    history.record(session, instance_id, history.ERROR, element_id=element_id, comment=message)
    log.error("instance %s: %s", instance_id, message)
