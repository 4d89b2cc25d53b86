"""Firing what fell due: a case's timer event is an ordinary engine step, a deadline's stage an
escalation (engine/flows/deadlines.py), a timer start a new case.

`fire_due()` claims due rows under a lease (engine/store/leases.py) and hands them to the engine, so any
number of scheduler processes can tick at once and each timer fires once.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

from sqlalchemy import inspect, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from engine import clock, history
from engine.definitions.schedules import Occurrences
from engine.errors import EngineError
from engine.flows import deadlines
from engine.runtime import instances
from engine.store import leases
from engine.store.db import Database, lock_instance, locked_instance
from engine.store.models import Instance, InstanceStatus, StartSchedule, Timer, TimerKind

log = logging.getLogger(__name__)

# Due rows are claimed in batches with a lease (engine/store/leases.py) and fired a few to a
# Due rows are claimed in batches with a lease (engine/store/leases.py) and fired a few to a
# transaction, each in a savepoint that locks its case first, as every user action does, so the two
# never deadlock. Firing is idempotent besides: a case whose timer fired has nothing due any more.

LEASE = timedelta(seconds=float(os.environ.get("BPM_TIMER_LEASE_SECONDS", "60")))
RETRY_AFTER = timedelta(minutes=1)  # a row that could not fire is not tried again before this
BATCH = 50  # rows claimed at once
PER_TRANSACTION = int(
    os.environ.get("BPM_TIMERS_PER_TRANSACTION", "25")
)  # rows per commit: fewer commits; a case waits ~0.1 s at most


def fire_due(
    db: Database, *, limit: int = 10_000, worker: str | None = None, batch: int = BATCH, process_key: str | None = None
) -> int:
    """Fire everything due by the engine clock (or only one procedure's schedules and cases' timers);
    answers how many timers and schedules fired. `limit` bounds one call's attempts."""
    worker = worker or leases.worker_id()
    fired = attempts = 0
    for model, due_column, fire_one, columns in (
        (StartSchedule, StartSchedule.next_due_at, _fire_schedule, ()),
        (Timer, Timer.due_at, _fire_timer, (Timer.instance_id, Timer.element_id)),
    ):
        while attempts < limit:
            now = clock.now()
            with db.session(write=True) as session:
                claimed = leases.claim(
                    session,
                    model,
                    due_column,
                    now=now,
                    worker=worker,
                    lease=LEASE,
                    batch=min(batch, limit - attempts),
                    where=_scope(model, now, process_key),
                    columns=columns,
                )
            if not claimed:
                break
            attempts += len(claimed)
            for start in range(0, len(claimed), PER_TRANSACTION):
                fired += _fire_together(db, fire_one, claimed[start : start + PER_TRANSACTION], worker)
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
    session.execute(
        update(Timer)
        .where(Timer.id == row_id)
        .values(locked_by=None, locked_until=clock.now() + RETRY_AFTER)
        .execution_options(synchronize_session=False)
    )
    return 0


def _fire_timer_row(session: Session, row_id: int, instance_id: int, worker: str) -> int:
    instance = locked_instance(session, instance_id)  # the case first, as every user action locks it
    row = leases.held(session, Timer, row_id, worker)
    if instance is None or row is None:  # gone with its step, or our lease ran out and another took it
        return 0
    done = instances.fire_timers_of(session, instance) if row.kind == TimerKind.EVENT else deadlines.fire(session, row)
    state = inspect(row)
    if not (state.deleted or state.was_deleted):  # still waiting (the next time of a cycle): free it
        row.locked_by = None
        row.locked_until = None if done else clock.now() + RETRY_AFTER
    return int(done)


def _fire_schedule(session: Session, claimed, worker: str, *, alone: bool = False) -> int:
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
            history.record(
                session,
                instance.id,
                history.EventType.TIMER_FIRED,
                element_id=row.element_id,
                comment=note,
                data={"due_at": missed_from.isoformat(), "missed": due_count - 1},
            )
    except EngineError as exc:  # e.g. nobody holds the first step's role: say so, try next time
        log.error("timer start %s/%s failed: %s", row.process_key, row.element_id, exc)
        return 0
    return 1


def _index_of(occurrences: Occurrences, moment: datetime) -> int:
    _, passed = occurrences.after(moment - timedelta(microseconds=1))
    return passed


def _record_failure(session: Session, instance_id: int, element_id: str, exc: EngineError) -> None:
    lock_instance(session, instance_id)
    instance = session.get_one(Instance, instance_id, populate_existing=True)
    message = f"定时器 {element_id} 触发失败：{exc}"
    instance.status, instance.error = InstanceStatus.ERROR, message
    instance.lock_version += 1
    history.record(session, instance_id, history.EventType.ERROR, element_id=element_id, comment=message)
    log.error("instance %s: %s", instance_id, message)
