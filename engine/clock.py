"""The engine's clock. Everything that compares with "now" (timers, due dates, numbering by year)
reads it, so tests and the timer benchmark can move time instead of waiting for it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import SpiffWorkflow.bpmn.specs.event_definitions.timer as _spiff_timer

_fixed: datetime | None = None


def now() -> datetime:
    return _fixed if _fixed is not None else datetime.now(timezone.utc)


def local(moment: datetime) -> datetime:
    """A moment in the organisation's time zone, for messages people read."""
    from zoneinfo import ZoneInfo

    from engine.config import timezone_name
    return moment.astimezone(ZoneInfo(timezone_name()))


def set_time(moment: datetime | None) -> None:
    """Freeze the clock at `moment` (aware), or give it back to the system with None."""
    global _fixed
    if moment is not None and moment.tzinfo is None:
        raise ValueError("the engine clock needs an aware datetime")
    _fixed = moment


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
