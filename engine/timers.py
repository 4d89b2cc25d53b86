"""Timers: due times are rows; firing one is an ordinary engine step.

After every step the engine records the timer events the case waits on (`timer` rows, kind `event`);
task deadlines are `timer` rows too (engine/deadlines.py); a live version's timer start events are
`start_schedule` rows. `fire_due()` claims what fell due under a lease (engine/store/leases.py) and
hands it to the engine, so any number of scheduler processes can tick at once and each timer fires once.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import inspect, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition, TimeDateEventDefinition, TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState

from engine import clock, history
from engine.timing import cycle_problem, duration
from engine.errors import EngineError
from engine.scripting import is_iso_8601_timer, script_engine, timer_value
from engine.store import leases
from engine.store.db import Database, lock_instance, locked_instance
from engine.store.models import Instance, StartSchedule, Timer

log = logging.getLogger(__name__)
EVENT = "event"  # Timer.kind of a BPMN timer event; deadlines have their own (engine/deadlines.py)


# ---- what a case waits on ---------------------------------------------------------------------

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


def timer_event_spec(task_spec):
    """The timer event a waiting task stands for: its own, or the timer among an event-based gateway's
    events (SpiffWorkflow moves them onto the gateway, in the order of its outputs); None if none."""
    definition = getattr(task_spec, "event_definition", None)
    if isinstance(definition, TimerEventDefinition):
        return task_spec
    for index, inner in enumerate(getattr(definition, "event_definitions", None) or ()):
        if isinstance(inner, TimerEventDefinition):
            return task_spec.outputs[index]
    return None


def sync(session: Session, instance_id: int, workflow) -> None:
    """Mirror the workflow's waiting timer events into `timer` rows."""
    waiting: dict[str, tuple[str, datetime]] = {}
    for task in workflow.get_tasks(state=TaskState.WAITING):
        spec = timer_event_spec(task.task_spec)
        if spec is not None:
            due = due_of(task)
            if due is not None:
                waiting[str(task.id)] = (spec.bpmn_id, due)
    rows = {row.task_id: row for row in session.scalars(
        select(Timer).where(Timer.instance_id == instance_id, Timer.kind == EVENT))}
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

@dataclass
class Occurrences:
    """The times a timer start event falls due: `R[n]/start/period`, a date, or a duration from `anchor`."""
    start: datetime
    period: relativedelta | None = None
    count: int | None = None  # None: repeats for ever

    @classmethod
    def going_live(cls, expression: str, now: datetime) -> str:
        """The expression a schedule row keeps for a version going live `now`. One counted from going live
        (`PT1H`, `R3/PT24H`) gets its first due time written in (`R1/<start>/PT1H`): the row is parsed again
        at every firing, and counting again from each firing would repeat a one-off and never end a count."""
        relative = cls._from_going_live(cls._text(expression))
        if relative is None:
            return expression
        repeat, period = relative
        return f"{repeat}/{(now + duration(period)).isoformat()}/{period}"

    @classmethod
    def unchanged(cls, kept: str, expression: str) -> bool:
        """Whether a row keeping `kept` (see going_live) still schedules the diagram's `expression`."""
        anchored = cls._anchored(kept)
        return kept == expression or (anchored is not None
                                      and anchored == cls._from_going_live(cls._text(expression)))

    @staticmethod
    def _text(expression: str) -> str:
        """The ISO 8601 text, times without an offset in the organisation's time zone. An expression
        computed by a script is evaluated without case data."""
        text = expression.strip()
        if is_iso_8601_timer(text):
            return str(timer_value(text))
        try:  # under the script limits, as every piece of diagram code
            return str(timer_value(script_engine().environment.evaluate(text, {})))
        except Exception as exc:
            raise EngineError(f"定时器表达式 {text} 出错：{exc}") from None

    @staticmethod
    def _from_going_live(text: str) -> tuple[str, str] | None:
        """(repetitions, period) of a schedule counted from going live: `PT1H` (once), `R3/PT24H`, `R/P1Y`."""
        parts = text.strip().split("/")
        if len(parts) == 1 and parts[0].upper().startswith("P"):
            return "R1", parts[0]
        if len(parts) == 2 and parts[0].upper().startswith("R") and parts[1].upper().startswith("P"):
            return parts[0].upper(), parts[1]
        return None

    @staticmethod
    def _anchored(text: str) -> tuple[str, str] | None:
        """(repetitions, period) of `R[n]/<start>/<period>`, the form going_live writes."""
        parts = text.strip().split("/")
        if len(parts) == 3 and parts[0].upper().startswith("R") and parts[2].upper().startswith("P"):
            return parts[0].upper(), parts[2]
        return None

    @classmethod
    def parse(cls, expression: str, anchor: datetime) -> "Occurrences":
        text = cls._text(expression)
        problem = cycle_problem(text)
        if problem:
            raise EngineError(problem)
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
        if not self.period:
            return self.start
        try:
            return self.start + self.period * k
        except (OverflowError, ValueError):  # past the year 9999: never
            return datetime.max.replace(tzinfo=self.start.tzinfo)

    def after(self, moment: datetime) -> tuple[datetime | None, int]:
        """The first occurrence strictly after `moment`, and how many fell due up to `moment`."""
        if self.start > moment:
            return self.start, 0
        if self.period is None:
            return None, 1
        low, high = 0, 1
        while self.at(high) <= moment:  # the period is at least a minute: fewer than 64 doublings to any date
            low, high = high, high * 2
            if high > 2 ** 62:
                raise EngineError(f"定时器周期无法推算到 {moment:%Y-%m-%d}")
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
        if row is not None and Occurrences.unchanged(row.expression, expression):
            continue  # the schedule goes on as it was
        kept = Occurrences.going_live(expression, now)
        next_due, _ = Occurrences.parse(kept, now).after(now - timedelta(microseconds=1))
        if row is None:
            session.add(StartSchedule(process_key=process_key, element_id=element_id, expression=kept,
                                      next_due_at=next_due))
        else:
            row.expression, row.next_due_at = kept, next_due


# ---- firing ---------------------------------------------------------------------------------------
#
# Due rows are claimed in batches with a lease (engine/store/leases.py) and fired a few to a
# transaction, each in a savepoint that locks its case first, as every user action does, so the two
# never deadlock. Firing is idempotent besides: a case whose timer fired has nothing due any more.

LEASE = timedelta(seconds=float(os.environ.get("BPM_TIMER_LEASE_SECONDS", "60")))
RETRY_AFTER = timedelta(minutes=1)  # a row that could not fire is not tried again before this
BATCH = 50  # rows claimed at once
PER_TRANSACTION = int(os.environ.get("BPM_TIMERS_PER_TRANSACTION", "25"))  # rows per commit: fewer commits; a case waits ~0.1 s at most


def fire_due(db: Database, *, limit: int = 10_000, worker: str | None = None, batch: int = BATCH,
             process_key: str | None = None) -> int:
    """Fire everything due by the engine clock (or only one procedure's schedules and cases' timers);
    answers how many timers and schedules fired. `limit` bounds one call's attempts."""
    worker = worker or leases.worker_id()
    fired = attempts = 0
    for model, due_column, fire_one, columns in (
            (StartSchedule, StartSchedule.next_due_at, _fire_schedule, ()),
            (Timer, Timer.due_at, _fire_timer, (Timer.instance_id, Timer.element_id))):
        while attempts < limit:
            now = clock.now()
            with db.session(write=True) as session:
                claimed = leases.claim(session, model, due_column, now=now, worker=worker, lease=LEASE,
                                       batch=min(batch, limit - attempts), where=_scope(model, now, process_key),
                                       columns=columns)
            if not claimed:
                break
            attempts += len(claimed)
            for start in range(0, len(claimed), PER_TRANSACTION):
                fired += _fire_together(db, fire_one, claimed[start:start + PER_TRANSACTION], worker)
    return fired


def _fire_together(db: Database, fire_one, rows: list, worker: str) -> int:
    """Fire a few rows in one transaction; if one of them fails, that work is undone and each row fires
    in a transaction of its own, so one broken case never holds back the others."""
    try:
        with db.session(write=True) as session:
            return sum(fire_one(session, row, worker) for row in rows)
    except Exception:
        fired = 0
        for row in rows:
            with db.session(write=True) as session:
                fired += fire_one(session, row, worker, alone=True)
        return fired


def _scope(model, now: datetime, process_key: str | None) -> tuple:
    """A claim's further conditions: one procedure only, if given; a timer once its moment has passed,
    not at it, as SpiffWorkflow fires it."""
    if model is StartSchedule:
        return (StartSchedule.process_key == process_key,) if process_key else ()
    cases = (Timer.instance_id.in_(select(Instance.id).where(Instance.process_key == process_key)),)
    return (Timer.due_at < now, *(cases if process_key else ()))


def fire_due_in_threads(db: Database, threads: int) -> int:
    """`fire_due` in several threads of one process (PostgreSQL: firing waits on the database as much
    as on Python); each thread holds leases of its own."""
    if threads <= 1:
        return fire_due(db)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads, thread_name_prefix="timers") as pool:
        return sum(pool.map(lambda _: fire_due(db), range(threads)))


def _fire_timer(session: Session, claimed, worker: str, *, alone: bool = False) -> int:
    """Fire one claimed timer row. `alone`: in a transaction of its own, where a failure is recorded
    on its case instead of undoing the transaction."""
    row_id, instance_id, element_id = claimed
    if not alone:
        return _fire_timer_row(session, row_id, instance_id, worker)
    try:
        with session.begin_nested():
            return _fire_timer_row(session, row_id, instance_id, worker)
    except EngineError as exc:  # e.g. an escalation to a role nobody holds: the case shows it
        _record_failure(session, instance_id, element_id, exc)
    except SQLAlchemyError:  # the transaction is lost: the tick ends, the leases run out, all retried
        raise
    except Exception:  # a fault of ours: the other cases fire; this row is tried again later
        log.exception("timer %s of instance %s failed", element_id, instance_id)
    session.execute(update(Timer).where(Timer.id == row_id)
                    .values(locked_by=None, locked_until=clock.now() + RETRY_AFTER)
                    .execution_options(synchronize_session=False))
    return 0


def _fire_timer_row(session: Session, row_id: int, instance_id: int, worker: str) -> int:
    from engine import deadlines
    from engine.runtime import instances  # the runtime depends on timers, not the other way round

    instance = locked_instance(session, instance_id)  # the case first, as every user action locks it
    row = leases.held(session, Timer, row_id, worker)
    if instance is None or row is None:  # gone with its step, or our lease ran out and another took it
        return 0
    done = instances.fire_timers_of(session, instance) if row.kind == EVENT else deadlines.fire(session, row)
    state = inspect(row)
    if not (state.deleted or state.was_deleted):  # still waiting (the next time of a cycle): free it
        row.locked_by = None
        row.locked_until = None if done else clock.now() + RETRY_AFTER
    return int(done)


def _fire_schedule(session: Session, claimed, worker: str, *, alone: bool = False) -> int:
    from engine.runtime import instances  # the runtime depends on timers, not the other way round

    row = leases.held(session, StartSchedule, claimed.id, worker)
    now = clock.now()
    if row is None or row.next_due_at is None or row.next_due_at > now:
        return 0
    try:
        occurrences = Occurrences.parse(row.expression, row.next_due_at)
        next_due, passed = occurrences.after(now)
    except EngineError as exc:  # e.g. a cycle under the minimum period, deployed before the rule: stop it
        log.error("timer start %s/%s stopped: %s", row.process_key, row.element_id, exc)
        row.next_due_at = row.locked_by = row.locked_until = None
        return 0
    missed_from = row.next_due_at
    due_count = max(1, passed - _index_of(occurrences, missed_from))
    row.last_fired_at, row.next_due_at = now, next_due
    row.locked_by = row.locked_until = None
    try:
        with session.begin_nested():
            instance = instances.start_by_timer(session, process_key=row.process_key, element_id=row.element_id)
            note = f"定时发起（应发起时间 {clock.local(missed_from):%Y-%m-%d %H:%M}）"
            if due_count > 1:
                note += f"；停机期间错过 {due_count} 次，只发起本次一个案件"
            history.record(session, instance.id, history.TIMER_FIRED, element_id=row.element_id, comment=note,
                           data={"due_at": missed_from.isoformat(), "missed": due_count - 1})
    except EngineError as exc:  # e.g. nobody holds the first step's role: say so, try next time
        log.error("timer start %s/%s failed: %s", row.process_key, row.element_id, exc)
        return 0
    return 1


def _index_of(occurrences: Occurrences, moment: datetime) -> int:
    _, passed = occurrences.after(moment - timedelta(microseconds=1))
    return passed


def _record_failure(session: Session, instance_id: int, element_id: str, exc: EngineError) -> None:
    lock_instance(session, instance_id)
    instance = session.get(Instance, instance_id, populate_existing=True)
    message = f"定时器 {element_id} 触发失败：{exc}"
    instance.status, instance.error = "error", message
    instance.lock_version += 1
    history.record(session, instance_id, history.ERROR, element_id=element_id, comment=message)
    log.error("instance %s: %s", instance_id, message)
