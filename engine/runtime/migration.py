"""Moving running cases to a newer version of their procedure (admin), as in Camunda or Flowable.

A case may move only where that is safe: what it has done stays valid in the new version, and the
steps it waits on mean the same there. `plan` is the dry run (per case: may it move, and if not, why);
`migrate` re-checks each case under its row lock and moves the ones that may, one savepoint each.

What the saved state depends on (state.py): tasks refer to their task spec by *name* (a BPMN id, or an
internal name such as `work.BoundaryEventSplit` or `check [child]`), subprocesses to their spec by name.
SpiffWorkflow resolves a missing name to None without complaint, so the names are checked first.
The part of the tree not yet reached (FUTURE and predicted tasks) was predicted from the old diagram:
it is dropped and predicted again from the new one, so the case follows the new flow from its
current steps on. The steps it waits on keep their ids, data and timers, so their task rows,
candidates and timer rows stay valid.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState

from engine import history
from engine.definitions.cache import SPECS, CompiledVersion
from engine.definitions.deploy import get_version
from engine.errors import EngineError
from engine.runtime import approval, state
from engine.runtime.step import save
from engine.store.db import lock_instance
from engine.store.models import Instance, ProcessVersion, Task, User

# Tasks the case has reached but not finished: what it waits on. FUTURE is "definite" to SpiffWorkflow
# but only predicted from the diagram, so it is re-predicted with the rest.
_REACHED = TaskState.WAITING | TaskState.READY | TaskState.STARTED | TaskState.ERROR
_PREDICTED = TaskState.FUTURE | TaskState.PREDICTED_MASK

_STATUS = {"completed": "已完成", "withdrawn": "已撤回", "terminated": "已终止"}
_KINDS = {
    "UserTask": "用户任务", "ManualTask": "人工任务", "NoneTask": "任务", "ScriptTask": "脚本任务",
    "ServiceTask": "服务任务", "BusinessRuleTask": "业务规则任务", "SendTask": "发送任务", "ReceiveTask": "接收任务",
    "ExclusiveGateway": "排他网关", "ParallelGateway": "并行网关", "InclusiveGateway": "包容网关",
    "EventBasedGateway": "事件网关", "StartEvent": "开始事件", "EndEvent": "结束事件",
    "IntermediateCatchEvent": "中间捕获事件", "IntermediateThrowEvent": "中间抛出事件", "BoundaryEvent": "边界事件",
    "SubWorkflowTask": "子流程", "CallActivity": "调用活动", "TransactionSubprocess": "事务子流程",
    "StandardLoopTask": "循环任务", "ParallelMultiInstanceTask": "并行多实例任务",
    "SequentialMultiInstanceTask": "串行多实例任务",
    "TimerEventDefinition": "定时", "DurationTimerEventDefinition": "定时", "TimeDateEventDefinition": "定时",
    "CycleTimerEventDefinition": "周期定时", "MessageEventDefinition": "消息", "SignalEventDefinition": "信号",
    "ErrorEventDefinition": "错误", "EscalationEventDefinition": "升级", "TerminateEventDefinition": "终止",
    "ConditionalEventDefinition": "条件", "CancelEventDefinition": "取消", "MultipleEventDefinition": "多重",
}


@dataclass
class MigrationCheck:
    instance_id: int
    title: str
    from_version: int | None
    to_version: int
    ok: bool = False
    reasons: list[str] = field(default_factory=list)  # why not (Chinese), each naming the element
    current_steps: list[str] = field(default_factory=list)  # element ids the case waits on


def plan(session: Session, *, process_key: str, to_version: int | None = None,
         instance_ids: list[int] | None = None) -> list[MigrationCheck]:
    """The dry run: changes nothing. No ids: every unfinished case of the procedure on an older version
    (cases in error included, so the admin sees they need a retry first)."""
    target = get_version(session, process_key, to_version)
    if instance_ids is None:
        instance_ids = list(session.scalars(
            select(Instance.id).join(ProcessVersion, ProcessVersion.id == Instance.version_id)
            .where(Instance.process_key == process_key, Instance.status.in_(("running", "error")),
                   ProcessVersion.version < target.version)
            .order_by(Instance.id)))
    pairs = _Pairs(session, target)
    return [_check(session, session.get(Instance, instance_id), instance_id, pairs)[0]
            for instance_id in dict.fromkeys(instance_ids)]


def migrate(session: Session, *, process_key: str, to_version: int | None = None, instance_ids: list[int],
            actor: User) -> list[MigrationCheck]:
    """Move the given cases that may move; leave the others untouched. Each case is re-checked under its
    row lock and moved in a savepoint of its own: all of it moves, or none of it."""
    target = get_version(session, process_key, to_version)
    pairs = _Pairs(session, target)
    results = {}
    for instance_id in sorted(set(instance_ids)):  # one lock order, so two admins never deadlock
        if not lock_instance(session, instance_id):
            results[instance_id] = _missing(instance_id, target)
            continue
        instance = session.get(Instance, instance_id, populate_existing=True)
        check, workflow = _check(session, instance, instance_id, pairs)
        if check.ok:
            try:
                with session.begin_nested():
                    _move(session, instance, workflow, pairs, actor, check)
            except EngineError as exc:  # e.g. a concurrent writer: the savepoint undid this case only
                session.expire(instance)
                check.ok, check.reasons = False, [f"迁移失败：{exc.message}"]
        results[instance_id] = check
    return [results[instance_id] for instance_id in dict.fromkeys(instance_ids)]


def _move(session: Session, instance: Instance, workflow, pairs: "_Pairs", actor: User,
          check: MigrationCheck) -> None:
    new = pairs.new
    instance.version_id = pairs.target.id
    session.flush()
    save(session, instance, workflow)  # compare-and-set on lock_version, as every engine step saves
    session.expire(instance, ["state"])  # `save` wrote the column, not the attribute
    index = pairs.index(new)
    for row in session.scalars(select(Task).where(Task.instance_id == instance.id, Task.state.in_(approval.LIVE))):
        spec = index.get(row.element_id)
        if spec is None:
            continue
        name = spec.bpmn_name or spec.bpmn_id
        if row.kind == "signer":
            row.name = f"{name}（加签）"
        else:
            row.name, row.form_key = name, approval.properties(spec).get("formKey")
    history.record(session, instance.id, history.MIGRATED, actor_id=actor.id,
                   comment=f"从版本 {check.from_version} 迁移到版本 {check.to_version}",
                   data={"from_version": check.from_version, "to_version": check.to_version})
    session.flush()


def _missing(instance_id: int, target: ProcessVersion) -> MigrationCheck:
    return MigrationCheck(instance_id, "", None, target.version, False, ["实例不存在"])


class _Pairs:
    """The target version, the compiled specs and element indexes, once per call."""

    def __init__(self, session: Session, target: ProcessVersion):
        self.session = session
        self.target = target
        self.new = SPECS.get(target)
        self._indexes: dict[int, dict] = {}

    def compiled(self, version_id: int) -> tuple[ProcessVersion, CompiledVersion]:
        version = self.session.get(ProcessVersion, version_id)
        return version, SPECS.get(version)

    def index(self, compiled: CompiledVersion) -> dict:
        """bpmn id -> the element's task spec, across the process and its subprocesses. A multi-instance
        task's inner copy shares the id: the element is the spec named after it."""
        if compiled.version_id not in self._indexes:
            found: dict = {}
            for spec in (compiled.spec, *compiled.subprocess_specs.values()):
                for task_spec in spec.task_specs.values():
                    if task_spec.bpmn_id and (task_spec.bpmn_id not in found or task_spec.name == task_spec.bpmn_id):
                        found[task_spec.bpmn_id] = task_spec
            self._indexes[compiled.version_id] = found
        return self._indexes[compiled.version_id]


def _check(session: Session, instance: Instance | None, instance_id: int, pairs: _Pairs):
    """(the check, and the case's workflow re-based on the new version if it may move)."""
    target = pairs.target
    if instance is None:
        return _missing(instance_id, target), None
    source, old = pairs.compiled(instance.version_id)
    check = MigrationCheck(instance.id, instance.title, source.version, target.version)
    reasons = check.reasons
    if instance.process_key != target.process_key:
        reasons.append(f"实例属于流程 {instance.process_key}，不是 {target.process_key}")
    elif instance.status == "error":
        reasons.append("实例处于错误状态，请先重试")
    elif instance.status != "running":
        reasons.append(f"实例已结束（{_STATUS.get(instance.status, instance.status)}），不能迁移")
    elif source.version >= target.version:
        reasons.append(f"实例已在版本 {source.version}，不低于目标版本 {target.version}")
    if reasons:
        return check, None
    try:
        before = state.load(instance.state, old)
    except Exception as exc:  # noqa: BLE001 - any failure is a reason to refuse, not a crash
        reasons.append(f"无法读取实例的引擎状态：{exc}")
        return check, None
    reached = [t for wf in (before, *before.subprocesses.values()) for t in wf.tasks.values()
               if t.has_state(_REACHED)]
    check.current_steps = sorted({t.task_spec.bpmn_id for t in reached if t.task_spec.bpmn_id})
    old_index, new_index = pairs.index(old), pairs.index(pairs.new)
    reasons.extend(_completed_steps(instance.path or [], old_index, new_index))
    reasons.extend(_current_steps(before, reached, old_index, new_index, pairs))
    workflow = None
    if not reasons:  # the specs agree; now make sure the engine agrees too
        workflow = _rebased(instance.state, pairs.new, old_index, reasons)
    check.reasons = list(dict.fromkeys(reasons))
    check.ok = not check.reasons
    return check, workflow if check.ok else None


# --- rule 1: what the case has done --------------------------------------------------------------

def _completed_steps(path: list[str], old_index: dict, new_index: dict) -> list[str]:
    reasons = []
    for element_id in path:
        before, after = old_index.get(element_id), new_index.get(element_id)
        label = _label(element_id, before)
        if after is None:
            reasons.append(f"已完成的步骤 {label} 在新版本中被删除")
        elif before is not None and _kind(before) != _kind(after):
            reasons.append(f"已完成的步骤 {label} 在新版本中类型改变（{_kind_label(before)} → {_kind_label(after)}）")
    return reasons


# --- rule 2: what the case waits on --------------------------------------------------------------

def _current_steps(workflow, reached: list, old_index: dict, new_index: dict, pairs: _Pairs) -> list[str]:
    new = pairs.new
    forms = pairs.target.forms or {}
    reasons = []
    for task in reached:
        spec = task.task_spec
        element_id = _element_id(spec)
        label = _label(element_id, old_index.get(element_id))
        owner = new.spec if task.workflow is workflow else new.subprocess_specs.get(task.workflow.spec.name)
        if owner is None:
            sub = _element_id_of_name(task.workflow.spec.name)
            reasons.append(f"当前所在的子流程 {_label(sub, old_index.get(sub))} 在新版本中被删除")
            continue
        after = owner.task_specs.get(spec.name)
        if after is None or after.bpmn_id != spec.bpmn_id:
            reasons.append(f"当前步骤 {label} 在新版本中被删除")
            continue
        if _kind(spec) != _kind(after):
            reasons.append(f"当前步骤 {label} 在新版本中类型改变（{_kind_label(spec)} → {_kind_label(after)}）")
            continue
        if spec.manual:
            reasons.extend(_user_task(label, old_index.get(element_id), new_index.get(element_id), forms))
        parent = task.parent
        if parent is not None and parent.task_spec is not None:
            was = {s.name for s in spec.inputs}
            if parent.task_spec.name in was and parent.task_spec.name not in {s.name for s in after.inputs}:
                reasons.append(f"当前步骤 {label} 在新版本中的前序连接改变（如增删了边界事件），不能迁移")
        if isinstance(spec, Join) and type(spec).__name__ != "_EndJoin" \
                and sorted(s.name for s in spec.inputs) != sorted(s.name for s in after.inputs):
            reasons.append(f"正在等待汇合的 {label} 在新版本中的汇入分支改变，不能迁移")
    return reasons


def _user_task(label: str, before, after, forms: dict) -> list[str]:
    """The open rows' candidates were resolved from the old lane, and they are worked with the new form."""
    if before is None or after is None:
        return [f"当前步骤 {label} 在新版本中被删除"]
    reasons = []
    if (before.lane or "") != (after.lane or ""):
        reasons.append(f"当前步骤 {label} 在新版本中改由“{after.lane or '未指定'}”办理（原为“{before.lane or '未指定'}”），"
                       "已分派的待办人会不对")
    old_props, new_props = approval.properties(before), approval.properties(after)
    if old_props.get("approvalMode") != new_props.get("approvalMode"):
        reasons.append(f"当前步骤 {label} 在新版本中的审批方式改变，进行中的审批无法按新方式继续")
    form_key = new_props.get("formKey")
    if form_key and form_key not in forms:
        reasons.append(f"新版本中没有当前步骤 {label} 的表单 {form_key}")
    return reasons


# --- rule 3: the saved state loads and runs on the new specs -------------------------------------

def _rebased(saved: str, new: CompiledVersion, old_index: dict, reasons: list[str]):
    """The case's workflow on the new specs with its unreached part predicted again, or None (and why)."""
    dct = json.loads(saved)
    missing = [t["task_spec"] for t in dct.get("tasks", {}).values() if t["task_spec"] not in new.spec.task_specs]
    for sub in dct.get("subprocesses", {}).values():
        sub_spec = new.subprocess_specs.get(sub.get("spec"))
        if sub_spec is None:
            missing.append(sub.get("spec"))
            continue
        missing.extend(t["task_spec"] for t in sub.get("tasks", {}).values() if t["task_spec"] not in sub_spec.task_specs)
    if missing:
        for name in dict.fromkeys(missing):
            element_id = _element_id_of_name(name)
            reasons.append(f"实例的引擎状态引用的 {name}（步骤 {_label(element_id, old_index.get(element_id))}）"
                           "在新版本中不存在")
        return None
    try:
        workflow = state.load(saved, new)
        for sub_id, sub in workflow.subprocesses.items():
            expected = dct["subprocesses"][str(sub_id)]["spec"]
            if sub.spec is None or sub.spec.name != expected:
                raise ValueError(f"子流程 {expected} 在新版本中对应到了别的子流程")
        _repredict(workflow)
        for wf in (workflow, *workflow.subprocesses.values()):
            for task in wf.tasks.values():
                if task.task_spec is None:
                    raise ValueError(f"任务 {task.id} 的定义在新版本中不存在")
        state.dump(workflow)  # what the move will save must serialize
    except Exception as exc:  # noqa: BLE001 - refuse the case with the engine's message
        reasons.append(f"按新版本加载实例的引擎状态失败：{exc}")
        return None
    return workflow


def _repredict(workflow) -> None:
    """Drop what was predicted from the old diagram below each reached task and predict it from the new
    one. Triggered children (multi-instance items, cycle-timer branches) were reached: they stay."""
    for wf in (workflow, *workflow.subprocesses.values()):
        for task in [t for t in wf.tasks.values() if t.has_state(_REACHED)]:
            if task.id not in wf.tasks:
                continue
            for child in list(task.children):
                if child.has_state(_PREDICTED) and not child.triggered:
                    wf._remove_task(child.id)
            task.task_spec._predict_hook(task)
            for child in task.children:
                if child.has_state(_PREDICTED):
                    child.task_spec._predict(child, mask=_PREDICTED)


# --- naming things for people --------------------------------------------------------------------

def _element_id(spec) -> str:
    return spec.bpmn_id or _element_id_of_name(spec.name)


def _element_id_of_name(name: str) -> str:
    """`work.BoundaryEventSplit` and `check [child]` belong to `work` and `check`."""
    for separator in (" [", "."):
        if separator in name:
            return name.split(separator)[0]
    return name


def _label(element_id: str, spec) -> str:
    name = getattr(spec, "bpmn_name", None)
    return f"{element_id}（{name}）" if name else element_id


def _kind(spec) -> tuple[str, str | None]:
    definition = getattr(spec, "event_definition", None)
    return type(spec).__name__, type(definition).__name__ if definition is not None else None


def _kind_label(spec) -> str:
    kind, definition = _kind(spec)
    label = _KINDS.get(kind, kind)
    if definition and definition != "NoneEventDefinition":
        label = f"{_KINDS.get(definition, definition)}{label}"
    return label
