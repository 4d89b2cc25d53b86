"""Starting, reading and retrying cases."""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session
from SpiffWorkflow.util.task import TaskState

from engine import history
from engine.definitions.cache import SPECS
from engine.definitions.deploy import get_version
from engine.errors import Conflict, Forbidden, InvalidData, NotFound
from engine.runtime import access, state
from engine.runtime.step import advance
from engine.store.db import lock_instance
from engine.store.models import Instance, ProcessVersion, User

_DATA_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def start(session: Session, *, process_key: str, user: User, data: dict | None = None,
          parent_instance_id: int | None = None) -> Instance:
    data = data or {}
    _check_keys(data)
    version = get_version(session, process_key)
    compiled = SPECS.get(version)
    instance = Instance(process_key=process_key, version_id=version.id, status="running",
                        initiator_id=user.id, initiator_department_id=user.department_id,
                        title=f"{version.name} - {user.display_name}", data=data, lock_version=0,
                        parent_instance_id=parent_instance_id)
    session.add(instance)
    session.flush()
    history.record(session, instance.id, history.STARTED, actor_id=user.id, data=data or None)
    workflow = state.new_workflow(compiled)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    advance(session, instance, workflow, compiled)
    return instance


def _check_keys(data) -> None:
    if not isinstance(data, dict):
        raise InvalidData({"data": ["必须是 JSON 对象"]})
    bad = [k for k in data if not _DATA_KEY.match(str(k))]
    if bad:
        raise InvalidData({k: ["字段名只能由字母、数字和下划线组成，且以字母开头"] for k in bad})


def get(session: Session, instance_id: int, *, user: User) -> Instance:
    instance = session.get(Instance, instance_id)
    if instance is None:
        raise NotFound(f"案件不存在：{instance_id}")
    if not access.can_view(session, user, instance):
        raise Forbidden("无权查看该案件")
    return instance


def retry(session: Session, instance_id: int, *, user: User, data: dict | None = None) -> Instance:
    """Run the failed step again, optionally with corrected data (after the cause was fixed)."""
    if not lock_instance(session, instance_id):
        raise NotFound(f"案件不存在：{instance_id}")
    instance = session.get(Instance, instance_id, populate_existing=True)
    if not (access.sees_all(user) or instance.initiator_id == user.id):
        raise Forbidden("只有发起人、企管部或管理员可以重试")
    if instance.status != "error":
        raise Conflict("案件不在错误状态，无需重试")
    version = session.get(ProcessVersion, instance.version_id)
    compiled = SPECS.get(version)
    workflow = state.load(instance.state, compiled)
    _check_keys(data or {})
    for task in workflow.get_tasks(state=TaskState.ERROR):
        task.data.update(data or {})
        task._set_state(TaskState.READY)
    history.record(session, instance.id, history.RETRIED, actor_id=user.id, data=data or None)
    advance(session, instance, workflow, compiled)
    return instance


def list_visible(session: Session, *, user: User, status: str | None = None, mine: bool = False,
                 limit: int = 50, offset: int = 0) -> list[Instance]:
    query = select(Instance).order_by(Instance.id.desc()).limit(limit).offset(offset)
    if mine:
        query = query.where(Instance.initiator_id == user.id)
    elif not access.sees_all(user):
        query = query.where(access.visible_clause(user))
    if status:
        query = query.where(Instance.status == status)
    return list(session.scalars(query))

