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

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import history
from engine.definitions.cache import SPECS, CompiledVersion
from engine.definitions.deploy import get_version
from engine.definitions.specs import PARALLEL, parallel_depth, properties
from engine.definitions.vocabulary import Property
from engine.errors import EngineError
from engine.runtime import state
from engine.runtime.step import save
from engine.store.db import lock_instance
from engine.store.models import LIVE_TASK_STATES, Instance, InstanceStatus, ProcessVersion, Task, TaskKind, User

# Tasks the case has reached but not finished: what it waits on (a case in error is not moved, so no
# ERROR). FUTURE is "definite" to SpiffWorkflow but only predicted from the diagram: it is predicted again.
_REACHED = TaskState.WAITING | TaskState.READY | TaskState.STARTED
_PREDICTED = TaskState.FUTURE | TaskState.PREDICTED_MASK

_STATUS: dict[str, str] = {
    InstanceStatus.COMPLETED: "已完成",
    InstanceStatus.WITHDRAWN: "已撤回",
    InstanceStatus.TERMINATED: "已终止",
}
_KINDS = {
    "UserTask": "用户任务",
    "ManualTask": "人工任务",
    "NoneTask": "任务",
    "ScriptTask": "脚本任务",
    "ServiceTask": "服务任务",
    "BusinessRuleTask": "业务规则任务",
    "SendTask": "发送任务",
    "ReceiveTask": "接收任务",
    "ExclusiveGateway": "排他网关",
    "ParallelGateway": "并行网关",
    "InclusiveGateway": "包容网关",
    "EventBasedGateway": "事件网关",
    "StartEvent": "开始事件",
    "EndEvent": "结束事件",
    "IntermediateCatchEvent": "中间捕获事件",
    "IntermediateThrowEvent": "中间抛出事件",
    "BoundaryEvent": "边界事件",
    "SubWorkflowTask": "子流程",
    "CallActivity": "调用活动",
    "TransactionSubprocess": "事务子流程",
    "StandardLoopTask": "循环任务",
    "ParallelMultiInstanceTask": "并行多实例任务",
    "SequentialMultiInstanceTask": "串行多实例任务",
    "TimerEventDefinition": "定时",
    "DurationTimerEventDefinition": "时长定时",
    "TimeDateEventDefinition": "日期定时",
    "CycleTimerEventDefinition": "周期定时",
    "MessageEventDefinition": "消息",
    "SignalEventDefinition": "信号",
    "ErrorEventDefinition": "错误",
    "EscalationEventDefinition": "升级",
    "TerminateEventDefinition": "终止",
    "ConditionalEventDefinition": "条件",
    "CancelEventDefinition": "取消",
    "MultipleEventDefinition": "多重",
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


def plan(
    session: Session, *, process_key: str, to_version: int | None = None, instance_ids: list[int] | None = None
) -> list[MigrationCheck]:
    """The dry run: changes nothing. No ids: every unfinished case of the procedure on an older version
    (cases in error included, so the admin sees they need a retry first)."""
    target = get_version(session, process_key, to_version)
    if instance_ids is None:
        instance_ids = _unfinished_on_older(session, target)
    dest = _Target(target)
    return [
        _check(session, session.get(Instance, instance_id), instance_id, dest)[0]
        for instance_id in dict.fromkeys(instance_ids)
    ]


def migrate(
    session: Session, *, process_key: str, to_version: int | None = None, instance_ids: list[int] | None, actor: User
) -> list[MigrationCheck]:
    """Move the given cases that may move (None: those `plan` would list); leave the others untouched.
    Each case is re-checked under its row lock and moved in a savepoint of its own: all of it moves,
    or none of it."""
    target = get_version(session, process_key, to_version)
    if instance_ids is None:
        instance_ids = _unfinished_on_older(session, target)
    dest = _Target(target)
    results = {}
    for instance_id in sorted(set(instance_ids)):  # one lock order, so two admins never deadlock
        if not lock_instance(session, instance_id):
            results[instance_id] = _missing(instance_id, target)
            continue
        instance = session.get_one(Instance, instance_id, populate_existing=True)
        check, workflow = _check(session, instance, instance_id, dest)
        if check.ok:
            try:
                with session.begin_nested():
                    _move(session, instance, workflow, dest, actor, check)
            except EngineError as exc:  # e.g. a concurrent writer: the savepoint undid this case only
                session.expire(instance)
                check.ok, check.reasons = False, [f"迁移失败：{exc.message}"]
        results[instance_id] = check
    return [results[instance_id] for instance_id in dict.fromkeys(instance_ids)]


def _unfinished_on_older(session: Session, target: ProcessVersion) -> list[int]:
    return list(
        session.scalars(
            select(Instance.id)
            .join(ProcessVersion, ProcessVersion.id == Instance.version_id)
            .where(
                Instance.process_key == target.process_key,
                Instance.status.in_((InstanceStatus.RUNNING, InstanceStatus.ERROR)),
                ProcessVersion.version < target.version,
            )
            .order_by(Instance.id)
        )
    )


def _move(session: Session, instance: Instance, workflow, dest: _Target, actor: User, check: MigrationCheck) -> None:
    old_index = dest.index(SPECS.get(session.get_one(ProcessVersion, instance.version_id)))
    new_index = dest.index(dest.compiled)
    instance.version_id = dest.version.id
    session.flush()
    save(session, instance, workflow)  # compare-and-set on lock_version, as every engine step saves
    session.expire(instance, ["state"])  # `save` wrote the column, not the attribute
    # The open rows show the step as the new version names it and are worked with its form.
    for row in session.scalars(select(Task).where(Task.instance_id == instance.id, Task.state.in_(LIVE_TASK_STATES))):
        before, after = _worked(old_index.get(row.element_id)), _worked(new_index.get(row.element_id))
        if before is None or after is None:
            continue
        old_name, new_name = before.bpmn_name or before.bpmn_id, after.bpmn_name or after.bpmn_id
        if row.kind == TaskKind.SIGNER:  # `<step>（加签）`, its form the built-in one
            if row.name.startswith(old_name):
                row.name = new_name + row.name[len(old_name) :]
        else:
            row.name, row.form_key = new_name, properties(after).get(Property.FORM_KEY)
    history.record(
        session,
        instance.id,
        history.EventType.MIGRATED,
        actor_id=actor.id,
        comment=f"从版本 {check.from_version} 迁移到版本 {check.to_version}",
        data={"from_version": check.from_version, "to_version": check.to_version},
    )
    session.flush()


def _missing(instance_id: int, target: ProcessVersion) -> MigrationCheck:
    return MigrationCheck(instance_id, "", None, target.version, False, ["实例不存在"])


class _Target:
    """The version cases move to, compiled, and element indexes of the versions involved: once per call."""

    def __init__(self, version: ProcessVersion):
        self.version = version
        self.compiled = SPECS.get(version)
        self._indexes: dict[int, dict] = {}

    def index(self, compiled: CompiledVersion) -> dict[str, list]:
        """bpmn id -> its task specs, across the process and its subprocesses: one, or for a multi-instance
        task the loop and the inner task (see `_element` and `_worked`)."""
        if compiled.version_id not in self._indexes:
            found: dict[str, list] = {}
            for spec in (compiled.spec, *compiled.subprocess_specs.values()):
                for task_spec in spec.task_specs.values():
                    if task_spec.bpmn_id:
                        found.setdefault(task_spec.bpmn_id, []).append(task_spec)
            self._indexes[compiled.version_id] = found
        return self._indexes[compiled.version_id]


def _check(session: Session, instance: Instance | None, instance_id: int, dest: _Target):
    """(the check, and the case's workflow re-based on the new version if it may move)."""
    target = dest.version
    if instance is None:
        return _missing(instance_id, target), None
    source = session.get_one(ProcessVersion, instance.version_id)
    check = MigrationCheck(instance.id, instance.title, source.version, target.version)
    reasons = check.reasons
    if instance.process_key != target.process_key:
        reasons.append(f"实例属于流程 {instance.process_key}，不是 {target.process_key}")
    elif instance.status == InstanceStatus.ERROR:
        reasons.append("实例处于错误状态，请先重试")
    elif instance.status != InstanceStatus.RUNNING:
        reasons.append(f"实例已结束（{_STATUS.get(instance.status, instance.status)}），不能迁移")
    elif source.version >= target.version:
        reasons.append(f"实例已在版本 {source.version}，不低于目标版本 {target.version}")
    if reasons:
        return check, None
    old = SPECS.get(source)
    try:
        before = state.load(instance.state, old)
    except Exception as exc:
        reasons.append(f"无法读取实例的引擎状态：{exc}")
        return check, None
    reached = [t for wf in (before, *before.subprocesses.values()) for t in wf.tasks.values() if t.has_state(_REACHED)]
    check.current_steps = sorted({t.task_spec.bpmn_id for t in reached if t.task_spec.bpmn_id})
    old_index, new_index = dest.index(old), dest.index(dest.compiled)
    reasons.extend(_completed_steps(instance.path or [], old_index, new_index))
    reasons.extend(_current_steps(before, reached, old_index, new_index, dest))
    workflow = None
    if not reasons:  # the specs agree; now make sure the engine agrees too
        workflow = _rebased(instance.state, dest.compiled, old_index, reasons)
    check.reasons = list(dict.fromkeys(reasons))
    check.ok = not check.reasons
    return check, workflow if check.ok else None


# --- rule 1: what the case has done --------------------------------------------------------------


def _completed_steps(path: list[str], old_index: dict, new_index: dict) -> list[str]:
    reasons = []
    for element_id in path:
        before, after = _element(old_index.get(element_id)), _element(new_index.get(element_id))
        label = _label(element_id, old_index.get(element_id))
        if after is None:
            reasons.append(f"已完成的步骤 {label}在新版本中被删除")
        elif before is not None and _kind(before) != _kind(after):
            reasons.append(f"已完成的步骤 {label}在新版本中类型改变（{_kind_label(before)} → {_kind_label(after)}）")
    return reasons


# --- rule 2: what the case waits on --------------------------------------------------------------


def _current_steps(workflow, reached: list, old_index: dict, new_index: dict, dest: _Target) -> list[str]:
    new = dest.compiled
    forms = dest.version.forms or {}
    reasons = []
    for task in reached:
        spec = task.task_spec
        element_id = _element_id(spec)
        label = _label(element_id, old_index.get(element_id))
        owner = new.spec if task.workflow is workflow else new.subprocess_specs.get(task.workflow.spec.name)
        if owner is None:
            sub = _element_id_of_name(task.workflow.spec.name)
            reasons.append(f"当前所在的子流程 {_label(sub, old_index.get(sub))}在新版本中被删除")
            continue
        after = owner.task_specs.get(spec.name)
        if after is None or after.bpmn_id != spec.bpmn_id:
            reasons.append(f"当前步骤 {label}在新版本中被删除")
            continue
        if _kind(spec) != _kind(after):
            reasons.append(f"当前步骤 {label}在新版本中类型改变（{_kind_label(spec)} → {_kind_label(after)}）")
            continue
        if spec.manual:
            reasons.extend(
                _user_task(label, _worked(old_index.get(element_id)), _worked(new_index.get(element_id)), forms)
            )
        # Boundary events hang on a split the step is entered through: one the case never passed would
        # make the step's join fail when it completes.
        splits = {s.name for s in after.inputs if type(s).__name__ == "BoundaryEventSplit"}
        if splits and (task.parent is None or task.parent.task_spec.name not in splits):
            reasons.append(f"当前步骤 {label}在新版本中新增了边界事件，已在进行中的步骤无法补上，不能迁移")
    by_workflow: dict = {}
    for task in reached:
        by_workflow.setdefault(task.workflow, []).append(task)
    for wf, its_tasks in by_workflow.items():
        owner = new.spec if wf is workflow else new.subprocess_specs.get(wf.spec.name)
        if owner is not None:
            reasons.extend(_parallel_branches(wf.spec, owner, its_tasks, old_index))
    return reasons


def _parallel_branches(old_spec, new_spec, reached: list, old_index: dict) -> list[str]:
    """Inside a parallel (or inclusive) section the split has already made its branches and the join
    waits for exactly those: a branch added or removed there would leave the join waiting for ever.
    Outside one, a changed section is entered afresh and is no concern."""
    old_depth, new_depth = parallel_depth(old_spec), parallel_depth(new_spec)
    if not any(old_depth.get(t.task_spec.name, 0) or new_depth.get(t.task_spec.name, 0) for t in reached):
        return []
    reasons = []
    for name in sorted(set(old_spec.task_specs) | set(new_spec.task_specs)):
        before, after = old_spec.task_specs.get(name), new_spec.task_specs.get(name)
        gateways = [s for s in (before, after) if s is not None and type(s).__name__ in PARALLEL]
        if not gateways:
            continue
        changed = before is None or after is None or type(before) is not type(after)
        if not changed:
            inputs = [sorted(s.name for s in g.inputs) for g in (before, after)]
            outputs = [sorted(s.name for s in g.outputs) for g in (before, after)]
            changed = (len(before.inputs) > 1 and inputs[0] != inputs[1]) or (
                len(before.outputs) > 1 and outputs[0] != outputs[1]
            )
        if changed:
            gateway = gateways[0]
            label = _label(gateway.bpmn_id or name, old_index.get(gateway.bpmn_id) or [gateway])
            reasons.append(f"当前步骤位于并行分支中，新版本改变了网关 {label}的分支（汇合时会一直等待），不能迁移")
    return reasons


def _user_task(label: str, before, after, forms: dict) -> list[str]:
    """The open rows' candidates were resolved from the old lane, and they are worked with the new form."""
    if before is None or after is None:
        return [f"当前步骤 {label}在新版本中被删除"]
    reasons = []
    if (before.lane or "") != (after.lane or ""):
        reasons.append(
            f"当前步骤 {label}在新版本中改由“{after.lane or '未指定'}”办理（原为“{before.lane or '未指定'}”），"
            "已分派的待办人会不对"
        )
    old_props, new_props = properties(before), properties(after)
    if old_props.get(Property.APPROVAL_MODE) != new_props.get(Property.APPROVAL_MODE):
        reasons.append(f"当前步骤 {label}在新版本中的审批方式改变，进行中的审批无法按新方式继续")
    form_key = new_props.get(Property.FORM_KEY)
    if form_key and form_key not in forms:
        reasons.append(f"新版本中没有当前步骤 {label}的表单 {form_key}")
    return reasons


# --- rule 3: the saved state loads and runs on the new specs -------------------------------------


def _rebased(saved: str | None, new: CompiledVersion, old_index: dict, reasons: list[str]):
    """The case's workflow on the new specs with its unreached part predicted again, or None (and why)."""
    if saved is None:
        reasons.append("实例没有保存的引擎状态")
        return None
    dct = json.loads(saved)
    missing = [t["task_spec"] for t in dct.get("tasks", {}).values() if t["task_spec"] not in new.spec.task_specs]
    for sub in dct.get("subprocesses", {}).values():
        sub_spec = new.subprocess_specs.get(sub.get("spec"))
        if sub_spec is None:
            missing.append(sub.get("spec"))
            continue
        missing.extend(
            t["task_spec"] for t in sub.get("tasks", {}).values() if t["task_spec"] not in sub_spec.task_specs
        )
    if missing:
        for name in dict.fromkeys(missing):
            element_id = _element_id_of_name(name)
            reasons.append(
                f"实例的引擎状态引用的 {name}（属于步骤 {_label(element_id, old_index.get(element_id))}）"
                "在新版本中不存在"
            )
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
    except Exception as exc:
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


def _element(specs: list | None):
    """The element's own spec: for a multi-instance task, the loop (named after the element)."""
    if not specs:
        return None
    return next((s for s in specs if s.name == s.bpmn_id), specs[0])


def _worked(specs: list | None):
    """The spec its task rows are made from (definitions/specs.py element_spec): the one with the lane, which for a
    multi-instance task is the inner task, carrying the name and the form."""
    if not specs:
        return None
    return (
        next((s for s in specs if s.manual and s.lane), None)
        or next((s for s in specs if s.manual), None)
        or _element(specs)
    )


def _label(element_id: str, specs: list | None) -> str:
    """`apply（填写申请）`; an element without a name is named by its kind: `start（开始事件）`."""
    name = next((s.bpmn_name for s in specs or [] if s.bpmn_name), None)
    if name is None and specs:
        name = _kind_label(_element(specs))
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
