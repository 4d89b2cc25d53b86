"""Starting, reading and retrying cases."""

from __future__ import annotations

import copy
import re

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import history, scripting
from engine.definitions import views as definition_views
from engine.definitions.cache import SPECS, CompiledVersion
from engine.definitions.deploy import get_version, start_forms
from engine.definitions.specs import start_event_specs, timer_event_spec
from engine.definitions.vocabulary import Property
from engine.errors import Conflict, Forbidden, InvalidData, NotFound
from engine.forms.schema import DECISION, build_schema, fill_options, validate_submission
from engine.org import assignment
from engine.org.service import system_user
from engine.runtime import access, messages, state, timers
from engine.runtime.script_functions import SCRIPT_FUNCTIONS
from engine.runtime.step import advance, finish
from engine.store.db import lock_instance
from engine.store.models import (
    LIVE_TASK_STATES,
    Event,
    Instance,
    InstanceStatus,
    ProcessDefinition,
    ProcessVersion,
    Role,
    Task,
    Timer,
    User,
)

_DATA_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Case data the engine itself writes (a 会签 step's votes): nobody presets or corrects it.
ENGINE_KEYS = frozenset({"votes"})


def reserved_names() -> frozenset[str]:
    """Names case data may not take: what the script sandbox provides (today, next_number, date, len …)
    — a case variable of that name would shadow it in every script of the case — and the engine's own."""
    provided = {*scripting.RESTRICTED_GLOBALS, *SCRIPT_FUNCTIONS}
    provided.update(scripting.RESTRICTED_GLOBALS.get("__builtins__") or {})
    return frozenset(provided) | ENGINE_KEYS


def start(
    session: Session, *, process_key: str, user: User, data: dict | None = None, engine_data: dict | None = None
) -> Instance:
    """A case started by hand: at the none start event, or at the timer start event of a recurring
    procedure (企管部 may start this quarter's self-check early). Only `starterRoles` may, if set.
    `data` (from the person starting it) must fit the start form; `engine_data` is what the engine or
    other trusted code attaches (a change proposal's draft, a benchmark's due times), never a request's."""
    data = data or {}
    _check_keys(data)
    version = get_version(session, process_key)
    compiled = SPECS.get(version)
    if compiled.starter_roles and not (compiled.starter_roles & user.role_codes):
        raise Forbidden(f"只有以下角色可以发起“{version.name}”：{'、'.join(sorted(compiled.starter_roles))}")
    starts = start_event_specs(compiled.spec)
    chosen = next((s for s in starts if isinstance(s.event_definition, NoneEventDefinition)), None) or next(
        (s for s in starts if isinstance(s.event_definition, TimerEventDefinition)), None
    )
    if chosen is None:
        raise Conflict(f"“{version.name}”只能由其他流程发起（消息启动事件），不能手工发起")
    data = _start_data(session, compiled, chosen, data)
    return _start(session, version, compiled, chosen.bpmn_id, user, {**data, **(engine_data or {})})


def _start_data(session: Session, compiled: CompiledVersion, start_event, data: dict) -> dict:
    """Start data, checked against the start form: the start event's own form (formKey) if it has one,
    else the forms of the first steps the case opens, whose fields it fills in beforehand (nothing is
    required yet then). Anything else is refused, naming it."""
    own = start_forms(compiled.spec).get(start_event.bpmn_id)
    if own is not None:  # the start's own form is submitted as the case starts: its required fields too
        form, partial = compiled.forms.get(own) or {"components": []}, False
    elif not data:
        return data
    else:
        form, partial = (
            {
                "components": [
                    c
                    for key in _first_step_forms(start_event)
                    for c in (compiled.forms.get(key) or {}).get("components", [])
                ]
            },
            True,
        )
    known = set(build_schema(form).fields)
    if partial:
        known.discard(DECISION)  # a first step's decision is its approver's, never preset by who asks
    unknown = sorted(k for k in data if k not in known)
    if unknown:
        names = "、".join(unknown)
        raise InvalidData({k: ["发起表单中没有该字段"] for k in unknown}, f"发起数据中有发起表单之外的字段：{names}")
    if partial:
        form = _nothing_required(form)
    return validate_submission(fill_options(form, session), data)


def _first_step_forms(start_event) -> list[str]:
    """The forms of the user tasks a case reaches first from this start event (through gateways, scripts
    and events), in the order met."""
    found: list[str] = []
    seen: set[int] = set()
    queue = list(start_event.outputs)
    while queue and len(seen) < 500:
        spec = queue.pop(0)
        if id(spec) in seen:
            continue
        seen.add(id(spec))
        form_key = ((getattr(spec, "extensions", None) or {}).get("properties") or {}).get(Property.FORM_KEY)
        if getattr(spec, "manual", False) or form_key:
            if form_key and form_key not in found:
                found.append(form_key)
            continue
        queue.extend(spec.outputs)
    return found


def _nothing_required(form: dict) -> dict:
    form = copy.deepcopy(form)

    def walk(components):
        for comp in components or []:
            (comp.get("validate") or {}).pop("required", None)
            walk(comp.get("components"))

    walk(form.get("components"))
    return form


def start_by_timer(session: Session, *, process_key: str, element_id: str) -> Instance:
    version = get_version(session, process_key)
    return _start(session, version, SPECS.get(version), element_id, system_user(session), {})


def start_by_message(session: Session, *, message: str, payload: dict, user: User, parent: Instance) -> Instance:
    """A case another case started (`start:<process_key>` thrown with a payload)."""
    process_key = message.split(":", 1)[1]
    try:
        version = get_version(session, process_key)
    except NotFound:
        raise Conflict(f"要发起的流程不存在：{process_key}（消息 {message}）") from None
    compiled = SPECS.get(version)
    chosen = next(
        (
            s
            for s in start_event_specs(compiled.spec)
            if isinstance(s.event_definition, MessageEventDefinition) and s.event_definition.name == message
        ),
        None,
    )
    if chosen is None:
        raise Conflict(f"流程 {process_key} 没有接收消息“{message}”的启动事件")
    data = {k: v for k, v in payload.items() if k != "initiator"}
    _check_keys(data)
    starter = user
    if payload.get("initiator"):
        named = session.scalar(select(User).where(User.username == str(payload["initiator"]), User.active))
        if named is None:
            raise Conflict(f"发起人不存在或已停用：{payload['initiator']}")
        starter = named
    return _start(session, version, compiled, chosen.bpmn_id, starter, data, parent=parent)


def _start(
    session: Session,
    version: ProcessVersion,
    compiled: CompiledVersion,
    start_event: str,
    user: User,
    data: dict,
    parent: Instance | None = None,
) -> Instance:
    _check_department_roles(session, compiled, user)
    instance = Instance(
        process_key=version.process_key,
        version_id=version.id,
        status=InstanceStatus.RUNNING,
        initiator_id=user.id,
        initiator_department_id=user.department_id,
        title=f"{version.name} - {user.display_name}",
        data=data,
        lock_version=0,
        parent_instance_id=parent.id if parent else None,
    )
    session.add(instance)
    session.flush()
    started: dict[str, object] = {"start_event": start_event}
    if parent is not None:
        started.update(parent_instance_id=parent.id, parent_process_key=parent.process_key)
    history.record(
        session,
        instance.id,
        history.EventType.STARTED,
        actor_id=user.id,
        element_id=start_event,
        data={**data, **started} if data else started,
    )
    workflow = state.new_workflow(compiled, start_event, data)
    # Whoever starts a case by hand is looking at its first step; a case another case started is news.
    advance_and_start(session, instance, workflow, compiled, actor_id=user.id if parent is None else None)
    return instance


def advance_and_start(
    session: Session,
    instance: Instance,
    workflow,
    compiled: CompiledVersion,
    failure: WorkflowException | None = None,
    *,
    actor_id: int | None = None,
) -> None:
    """One engine step of the case (engine/runtime/step.py): what it threw handed on in order — the
    cases its `start:<key>` messages ask for started, `notify` told — and then the case saved."""
    for message in advance(session, instance, workflow, compiled, failure, actor_id=actor_id):
        if message.starts_case:
            _start_asked(session, instance, message)
        else:
            messages.notify(session, instance, message.payload)
    finish(session, instance, workflow)


def _start_asked(session: Session, parent: Instance, message: messages.Thrown) -> None:
    user = session.get_one(User, message.actor_id or parent.initiator_id)
    child = start_by_message(session, message=message.name, payload=message.payload, user=user, parent=parent)
    history.record(
        session,
        parent.id,
        history.EventType.CASE_STARTED,
        actor_id=message.actor_id,
        comment=f"发起 {child.title}",
        data={"instance_id": child.id, "process_key": child.process_key},
    )


def _check_department_roles(session: Session, compiled: CompiledVersion, user: User) -> None:
    """A step for the initiator's own department head fails at start, not as a stuck task later."""
    lanes = {spec.lane for spec in compiled.spec.task_specs.values() if getattr(spec, "lane", None)}
    for specs in compiled.subprocess_specs.values():
        lanes.update(spec.lane for spec in specs.task_specs.values() if getattr(spec, "lane", None))
    for lane in sorted(lanes):
        expr = assignment.RoleExpr.parse(lane)
        if expr is None or expr.field or expr.role in assignment.PSEUDO_ROLES:
            continue
        role = session.get(Role, expr.role)
        if role is None or role.scope != "department" or any(field for _, field in expr.exclusions):
            continue  # global roles are checked when their step comes; fields are not filled in yet
        assignment.resolve(session, lane, initiator_id=user.id, initiator_department_id=user.department_id, data={})


def fire_timers_of(session: Session, instance: Instance) -> bool:
    """Let the case's timer events that fell due fire (the caller holds its lock); False if none did
    (its rows wait for a later tick)."""
    if instance.status != InstanceStatus.RUNNING:
        return False
    compiled = SPECS.of(session, instance.version_id)
    workflow = state.load(instance.state, compiled)
    fired = []
    while True:  # a cycle fires once per refresh: a case down over several of its times records each
        waiting = {
            t.id: (timer_event_spec(t.task_spec), timers.due_of(t))
            for t in workflow.get_tasks(state=TaskState.WAITING)
            if timer_event_spec(t.task_spec)
        }
        ready_before = {t.id for t in workflow.get_tasks(state=TaskState.READY)}
        workflow.refresh_timers()
        new = [t for t in workflow.get_tasks(state=TaskState.READY) if t.id not in ready_before]
        if not new:
            break
        # What became ready is the timer itself, or the step after it (a non-interrupting cycle's next step).
        for task in new:
            spec, due = waiting.get(task.id) or waiting.get(task.parent.id if task.parent else None) or (None, None)
            fired.append((task, spec or task.task_spec, due))
    if not fired:
        return False
    for task, spec, due in fired:
        history.record(
            session,
            instance.id,
            history.EventType.TIMER_FIRED,
            task_id=str(task.id),
            element_id=spec.bpmn_id,
            comment=spec.bpmn_name,
            data={"due_at": due.isoformat()} if due else None,
        )
    advance_and_start(session, instance, workflow, compiled)
    return True


def _check_keys(data) -> None:
    if not isinstance(data, dict):
        raise InvalidData({"data": ["必须是 JSON 对象"]})
    bad = [k for k in data if not _DATA_KEY.match(str(k))]
    if bad:
        raise InvalidData({k: ["字段名只能由字母、数字和下划线组成，且以字母开头"] for k in bad})
    reserved = sorted(k for k in data if k in reserved_names())
    if reserved:
        raise InvalidData(
            {k: ["是系统保留的名称（脚本中的函数或引擎字段），不能设置"] for k in reserved},
            f"不能设置系统保留的名称：{'、'.join(reserved)}",
        )


def get(session: Session, instance_id: int, *, user: User) -> Instance:
    instance = session.get(Instance, instance_id)
    if instance is None:
        raise NotFound(f"案件不存在：{instance_id}")
    if not access.can_view(session, user, instance):
        raise Forbidden("无权查看该案件")
    return instance


CORRECTOR_ROLE = "admin"


def retry(
    session: Session, instance_id: int, *, user: User, data: dict | None = None, reason: str | None = None
) -> Instance:
    """Run the failed step again (after the cause was fixed): the initiator, 企管部 or an admin.
    With `data` it is a data correction: an admin's, with a reason, that never changes what an approval
    step decided; each corrected field is recorded with its old and new value."""
    if not lock_instance(session, instance_id):
        raise NotFound(f"案件不存在：{instance_id}")
    instance = session.get_one(Instance, instance_id, populate_existing=True)
    if not (access.sees_all(user) or instance.initiator_id == user.id):
        raise Forbidden("只有发起人、企管部或管理员可以重试")
    if instance.status != InstanceStatus.ERROR:
        raise Conflict("案件不在错误状态，无需重试")
    data = data or {}
    corrections = _corrections(session, instance, user, data, reason) if data else None
    compiled = SPECS.get(session.get_one(ProcessVersion, instance.version_id))
    workflow = state.load(instance.state, compiled)
    for task in workflow.get_tasks(state=TaskState.ERROR):
        task.data.update(data)
        task._set_state(TaskState.READY)
    for task in workflow.get_tasks(state=TaskState.FUTURE):
        # A timer whose expression failed as the step before it completed never started waiting: evaluate it again.
        if (
            task.parent is not None
            and task.parent.has_state(TaskState.COMPLETED)
            and timer_event_spec(task.task_spec) is not None
        ):
            task.data.update(data)
            task.task_spec._update(task)
    history.record(
        session,
        instance.id,
        history.EventType.RETRIED,
        actor_id=user.id,
        comment=(reason or "").strip() or None,
        data={"corrections": corrections} if corrections else None,
    )
    advance_and_start(session, instance, workflow, compiled, actor_id=user.id)
    return instance


def _corrections(session: Session, instance: Instance, user: User, data: dict, reason: str | None) -> list[dict]:
    """Check a data correction and describe it for the history: [{field, old, new, submitted_by}]."""
    if CORRECTOR_ROLE not in user.role_codes:
        raise Forbidden("重试时更正案件数据只能由系统管理员进行（需填写原因）；发起人和企管部可以不带数据直接重试")
    if not (reason or "").strip():
        raise InvalidData({"reason": ["更正案件数据必须填写原因"]}, "更正案件数据必须填写原因")
    _check_keys(data)
    decided, submitted = _submitted_fields(session, instance.id)
    refused = sorted(k for k in data if k in decided)
    if refused:
        steps = "、".join(dict.fromkeys(decided[k] for k in refused))
        raise InvalidData(
            {k: [f"已由审批步骤“{decided[k]}”决定，重试不能更改；如需重新审批请由该步骤重新办理"] for k in refused},
            f"重试不能更改已完成审批步骤（{steps}）的结论：{'、'.join(refused)}",
        )
    current = instance.data or {}
    return [{"field": k, "old": current.get(k), "new": v, "submitted_by": submitted.get(k)} for k, v in data.items()]


def _submitted_fields(session: Session, instance_id: int) -> tuple[dict[str, str], dict[str, str]]:
    """({field: approval step}, {field: step}) over the case's completed steps: an approval step (one that
    gave a decision) decided its whole submission; other steps and the start only submitted theirs."""
    decided: dict[str, str] = dict.fromkeys(ENGINE_KEYS, "会签/依次审批")
    submitted: dict[str, str] = {}
    rows = session.execute(
        select(Event.type, Event.element_id, Event.decision, Event.data, Task.name)
        .outerjoin(Task, Task.id == Event.task_id)
        .where(
            Event.instance_id == instance_id, Event.type.in_((history.EventType.STARTED, history.EventType.COMPLETED))
        )
        .order_by(Event.id)
    )
    for type_, element_id, decision, values, name in rows:
        if not isinstance(values, dict):
            continue
        step = name or element_id or "发起"
        if type_ == history.EventType.STARTED:
            values = {k: v for k, v in values.items() if k not in _START_RECORD_KEYS}
        approval_step = decision is not None or any(isinstance(v, dict) and "decision" in v for v in values.values())
        for key in values:
            (decided if approval_step else submitted)[key] = step
    return decided, submitted


_START_RECORD_KEYS = {"start_event", "parent_instance_id", "parent_process_key"}


def list_visible(
    session: Session, *, user: User, status: str | None = None, mine: bool = False, limit: int = 50, offset: int = 0
) -> list[Instance]:
    query = select(Instance).order_by(Instance.id.desc()).limit(limit).offset(offset)
    if mine:
        query = query.where(Instance.initiator_id == user.id)
    elif not access.sees_all(user):
        query = query.where(access.visible_clause(user))
    if status:
        query = query.where(Instance.status == status)
    return list(session.scalars(query))


def diagram(session: Session, instance: Instance) -> dict:
    version = session.get_one(ProcessVersion, instance.version_id)
    current = set(
        session.scalars(
            select(Task.element_id).where(Task.instance_id == instance.id, Task.state.in_(LIVE_TASK_STATES))
        )
    )
    current.update(session.scalars(select(Timer.element_id).where(Timer.instance_id == instance.id)))
    return {"bpmn_xml": version.bpmn_xml, "completed": instance.path or [], "current": sorted(current)}


def startable(session: Session, user: User) -> list[tuple[ProcessDefinition, ProcessVersion]]:
    """The procedures this user may start by hand (the rule of `start`), by category then key:
    the latest version's starterRoles admit them and it has a none or timer start event."""
    allowed = []
    for definition, version in definition_views.live_versions(session):
        compiled = SPECS.get(version)
        if compiled.starter_roles and not (compiled.starter_roles & user.role_codes):
            continue
        if any(
            isinstance(s.event_definition, (NoneEventDefinition, TimerEventDefinition))
            for s in start_event_specs(compiled.spec)
        ):
            allowed.append((definition, version))
    return allowed
