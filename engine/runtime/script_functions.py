"""The functions the library's scripts may call, beyond plain Python: the engine's table, given to the
script sandbox (engine/scripting.py) by engine/runtime/state.py.

Most need the database (numbering, the annual report's figures, a draft going live): the engine step
makes its session available to them for its duration (`scripting.scripts_use`), so what they do is part
of the step's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import numbering, scripting
from engine.config import timezone_name
from engine.definitions import drafts
from engine.store.models import Instance, InstanceStatus, ProcessDefinition, ProcessVersion


def _current_session(name: str) -> Session:
    session, _ = scripting.running_case()
    if session is None:
        raise RuntimeError(f"{name} 只能在流程运行时调用")
    return session


def next_number(name: str) -> int:
    session = _current_session("next_number")
    _, instance_id = scripting.running_case()
    instance = session.get(Instance, instance_id) if instance_id is not None else None
    return numbering.next_number(session, name, process_key=instance.process_key if instance else None)


def process_statistics(year: int) -> dict:
    """Per procedure, the year's figures from the engine's own rows: cases started, completed and
    still running, versions deployed (the annual report of 第十六条 draws on this)."""
    session = _current_session("process_statistics")
    tz = ZoneInfo(timezone_name())
    begin, end = datetime(int(year), 1, 1, tzinfo=tz), datetime(int(year) + 1, 1, 1, tzinfo=tz)

    def counts(query) -> dict[str, int]:
        return dict(session.execute(query).all())

    in_year = Instance.created_at.between(begin, end)
    started = counts(select(Instance.process_key, func.count()).where(in_year).group_by(Instance.process_key))
    completed = counts(
        select(Instance.process_key, func.count())
        .where(Instance.completed_at.between(begin, end))
        .group_by(Instance.process_key)
    )
    running = counts(
        select(Instance.process_key, func.count())
        .where(Instance.status == InstanceStatus.RUNNING)
        .group_by(Instance.process_key)
    )
    versions = counts(
        select(ProcessVersion.process_key, func.count())
        .where(ProcessVersion.deployed_at.between(begin, end))
        .group_by(ProcessVersion.process_key)
    )
    rows: list[dict[str, Any]] = []
    for definition in session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key)):
        rows.append(
            {
                "key": definition.key,
                "name": definition.name,
                "version": definition.latest_version,
                "started": started.get(definition.key, 0),
                "completed": completed.get(definition.key, 0),
                "running": running.get(definition.key, 0),
                "versions_deployed": versions.get(definition.key, 0),
            }
        )
    totals = {k: sum(r[k] for r in rows) for k in ("started", "completed", "running", "versions_deployed")}
    return {"year": int(year), "processes": rows, "totals": totals}


def activate_process_draft(draft_id) -> dict:
    """The approved draft of a 流程新增/变更 case goes live as the next version of its procedure."""
    session = _current_session("activate_process_draft")
    return drafts.activate(session, int(draft_id), change_instance_id=scripting.running_case()[1])


SCRIPT_FUNCTIONS: Mapping[str, Callable] = {
    **scripting.CLOCK_FUNCTIONS,
    "next_number": next_number,
    "process_statistics": process_statistics,
    "activate_process_draft": activate_process_draft,
}
