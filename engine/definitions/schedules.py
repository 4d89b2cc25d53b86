"""When a procedure starts by itself: a live version's timer start events are `start_schedule` rows,
each with its next due time (engine/flows/timers.py fires them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.errors import EngineError
from engine.scripting import is_iso_8601_timer, script_engine, timer_value
from engine.store.models import StartSchedule
from engine.timing import cycle_problem, duration


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
        return kept == expression or (anchored is not None and anchored == cls._from_going_live(cls._text(expression)))

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
    def parse(cls, expression: str, anchor: datetime) -> Occurrences:
        text = cls._text(expression)
        problem = cycle_problem(text)
        if problem:
            raise EngineError(problem)
        if text.upper().startswith("R"):
            repeat, first, *rest = text.split("/")
            second = rest[0] if rest else None
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
            if high > 2**62:
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
    rows = {
        row.element_id: row
        for row in session.scalars(select(StartSchedule).where(StartSchedule.process_key == process_key))
    }
    wanted = {
        spec.bpmn_id: spec.event_definition.expression
        for spec in start_events
        if isinstance(spec.event_definition, TimerEventDefinition)
    }
    for element_id, stale in rows.items():
        if element_id not in wanted:
            session.delete(stale)
    now = clock.now()
    for element_id, expression in wanted.items():
        row = rows.get(element_id)
        if row is not None and Occurrences.unchanged(row.expression, expression):
            continue  # the schedule goes on as it was
        kept = Occurrences.going_live(expression, now)
        next_due, _ = Occurrences.parse(kept, now).after(now - timedelta(microseconds=1))
        if row is None:
            session.add(
                StartSchedule(process_key=process_key, element_id=element_id, expression=kept, next_due_at=next_due)
            )
        else:
            row.expression, row.next_due_at = kept, next_due
