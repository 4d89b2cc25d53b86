"""Document and record numbers (`XX-ITSMS-CX-001-A`, `ITSR-…`, `SN2026001`).

A diagram's script asks for the next value of a named counter and formats it itself, so the
formats stay in the library (data), and the counter guarantees what formats cannot: unique under
concurrency, never reused. The increment is part of the engine step's transaction, so a step that
fails takes its number back with it, and a number that was handed out is never handed out again.
"""
from __future__ import annotations

import re

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.store.models import NumberSequence

_NAME = re.compile(r"^[A-Za-z0-9_\-:.]{1,128}$")


def next_number(session: Session, name: str) -> int:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"编号序列名称不合法：{name!r}（字母、数字、_-:.，最长 128）")
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)
    session.execute(insert(NumberSequence).values(name=name, value=0).on_conflict_do_nothing())
    # The UPDATE takes the row lock: concurrent steps queue here, each gets its own value.
    return session.execute(update(NumberSequence).where(NumberSequence.name == name)
                           .values(value=NumberSequence.value + 1).returning(NumberSequence.value)).scalar_one()
