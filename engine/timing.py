"""Pure timing: ISO 8601 durations and the shortest period a repeating timer may have."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition


def duration(text: str) -> relativedelta:
    """An ISO 8601 duration (P3M, PT72H) as a calendar-aware delta."""
    parts = TimerEventDefinition.parse_iso_duration(text)
    return relativedelta(**{k: v for k, v in parts.items() if k != "t"})


def min_cycle_period() -> timedelta:
    """The shortest period a repeating timer may have (BPM_TIMER_MIN_PERIOD, an ISO 8601 duration):
    a cycle of `PT0S` would fire for ever in one tick, one of a microsecond start a case every tick."""
    text = (os.environ.get("BPM_TIMER_MIN_PERIOD") or "PT1M").strip()
    try:
        return _at_least(duration(text))
    except Exception:
        raise ValueError(f"BPM_TIMER_MIN_PERIOD（循环定时器的最小周期）应为 ISO 8601 时长，例如 PT1M：{text}") from None


_REFERENCE = datetime(2001, 2, 1)  # February: a month is counted as its shortest


def _at_least(period: relativedelta) -> timedelta:
    return (_REFERENCE + period) - _REFERENCE


def cycle_problem(text: str) -> str | None:
    """Why an ISO 8601 repeating interval (`R/PT1H`, `R3/2027-01-01T09:00/P1M`) may not be used, or None:
    its period is shorter than the minimum. Text that is not a cycle is not judged here."""
    parts = text.strip().split("/")
    if len(parts) < 2 or not parts[0].upper().startswith("R"):
        return None
    periods = [part for part in parts[1:] if part.upper().startswith("P")]
    minimum = min_cycle_period()
    for period in periods:
        try:
            length = _at_least(duration(period))
        except Exception:
            return None  # not a duration: SpiffWorkflow names the element
        if length < minimum:
            return (
                f"循环定时器 {text.strip()} 的周期 {period} 短于允许的最小周期 "
                f"{_human(minimum)}（BPM_TIMER_MIN_PERIOD）"
            )
    return None


def _human(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} 小时"
    return f"{seconds // 60} 分钟" if seconds % 60 == 0 else f"{seconds} 秒"
