"""Document and record numbers (`XX-ITSMS-CX-001-A`, `ITSR-…`, `SN2026001`).

A diagram's script asks for the next value of a named counter and formats it itself, so the
formats stay in the library (data), and the counter guarantees what formats cannot: unique under
concurrency, never reused. A counter belongs to the procedure whose case first numbered with it: a
script of another procedure cannot advance it (and so make gaps in its register). The increment is part of the engine step's transaction, so a step that
fails takes its number back with it, and a number that was handed out is never handed out again.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.store.models import NumberSequence

_NAME = re.compile(r"^[A-Za-z0-9_\-:.]{1,128}$")


def next_number(session: Session, name: str, *, process_key: str | None = None) -> int:
    """The counter's next value; `process_key`: on behalf of a case of that procedure, which must own
    the counter (a counter used first by a case, or one from before owners were kept, becomes its own)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"编号序列名称不合法：{name!r}（字母、数字、_-:.，最长 128）")
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(NumberSequence).values(name=name, value=0, process_key=process_key).on_conflict_do_nothing())
    # The UPDATE takes the row lock: concurrent steps queue here, each gets its own value.
    owned = NumberSequence.name == name
    if process_key is not None:  # another procedure's counter is not advanced at all
        owned = owned & (NumberSequence.process_key.is_(None) | (NumberSequence.process_key == process_key))
    value = session.execute(
        update(NumberSequence)
        .where(owned)
        .values(value=NumberSequence.value + 1, process_key=func.coalesce(NumberSequence.process_key, process_key))
        .returning(NumberSequence.value)
    ).scalar()
    if value is None:
        owner = session.scalar(select(NumberSequence.process_key).where(NumberSequence.name == name))
        raise ValueError(f"编号序列 {name} 属于流程 {owner}，本流程（{process_key}）不能使用它")
    return value
