"""The engine's clock. Everything that compares with "now" (timers, due dates, numbering by year)
reads it, so tests and the timer benchmark can move time instead of waiting for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import SpiffWorkflow.bpmn.specs.event_definitions.timer as _spiff_timer

_fixed: datetime | None = None
_offset = timedelta(0)


def now() -> datetime:
    return _fixed if _fixed is not None else datetime.now(UTC) + _offset


def local(moment: datetime) -> datetime:
    """A moment in the organisation's time zone, for messages people read."""
    from zoneinfo import ZoneInfo

    from engine.config import timezone_name

    return moment.astimezone(ZoneInfo(timezone_name()))


def set_time(moment: datetime | None) -> None:
    """Freeze the clock at `moment` (aware), or give it back to the system with None."""
    global _fixed, _offset
    if moment is not None and moment.tzinfo is None:
        raise ValueError("the engine clock needs an aware datetime")
    _fixed = moment
    if moment is None:
        _offset = timedelta(0)


def run_from(moment: datetime) -> None:
    """Let the clock run at real speed from `moment` (aware): the timer benchmark's days to come."""
    global _fixed, _offset
    _fixed, _offset = None, moment - datetime.now(UTC)


def advance(delta: timedelta) -> datetime:
    set_time(now() + delta)
    return now()


class _EngineDatetime(datetime):
    """SpiffWorkflow's timers call `datetime.now(timezone.utc)`; this makes that our clock."""

    @classmethod
    def now(cls, tz=None):
        moment = now()
        return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)


_spiff_timer.datetime = _EngineDatetime
