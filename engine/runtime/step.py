"""One engine step: run the workflow as far as it goes, then mirror its state into indexed rows."""

from __future__ import annotations

import json
import time
from uuid import UUID

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import history, limits, notifications, quarantine, scripting
from engine.definitions.cache import CompiledVersion
from engine.errors import Conflict
from engine.runtime import approval, messages, state, timers
from engine.store.models import LIVE_TASK_STATES, Instance, InstanceStatus, Task, utcnow


def advance(
    session: Session,
    instance: Instance,
    workflow,
    compiled: CompiledVersion,
    failure: WorkflowException | None = None,
    *,
    actor_id: int | None = None,
) -> list[messages.Thrown]:
    """Run engine steps, sync task and timer rows; answers the messages the step threw, which its caller
    hands on before it `finish`es the step. Script errors put the instance in `error`; what the user
    submitted before the failing step is kept."""
    budget = StepBudget()
    try:
        if failure is not None:
            raise failure
        with scripting.scripts_use(session, instance.id):
            workflow.do_engine_steps(did_complete_task=budget)
        _written(instance, error=None)
    except WorkflowException as exc:
        if isinstance(exc, StepBudgetExceeded):
            _count_budget_hit(session, instance, budget, exc)
        message = _error_message(exc)
        _written(instance, error=message)
        history.record(session, instance.id, history.EventType.ERROR, element_id=_element_of(exc), comment=message)
    _sync_tasks(session, instance, workflow, actor_id)
    if compiled.has_timers:  # most steps of most procedures: no timer rows to read or write
        timers.sync(session, instance.id, workflow)
    _written(instance, data=_current_data(workflow), path=_path(instance, workflow))
    return messages.thrown(workflow.get_events(), actor_id=actor_id)


def finish(session: Session, instance: Instance, workflow) -> None:
    """The case's status after the step (and its messages), saved in one UPDATE."""
    if instance.error:
        _written(instance, status=InstanceStatus.ERROR)
    elif workflow.completed:
        _written(instance, status=InstanceStatus.COMPLETED, completed_at=utcnow())
        history.record(session, instance.id, history.EventType.FINISHED)
        notifications.case_completed(session, instance)
    else:
        _written(instance, status=InstanceStatus.RUNNING)
    save(session, instance, workflow)


class StepBudgetExceeded(WorkflowTaskException):
    """One engine step ran too many automatic steps or for too long: a diagram looping back without a
    person's step. The script it was running counts as having hit its limits (engine/quarantine.py)."""


class StepBudget:
    """What one engine step may do before the case is stopped in `error`: a diagram that loops back to
    a script or gateway without a person's step in between would otherwise never end, each piece of
    code staying under its own limit (engine/script_runner.py)."""

    def __init__(self):
        self.max_tasks = limits.STEP_MAX_TASKS.value()
        self.seconds = limits.STEP_SECONDS.value()
        self.ran = 0
        self.deadline = time.monotonic() + self.seconds
        self.last_script = None  # the spec of the last script task run, which the loop keeps running

    def __call__(self, task) -> None:
        self.ran += 1
        if getattr(task.task_spec, "script", None):
            self.last_script = task.task_spec
        if self.ran > self.max_tasks:
            raise StepBudgetExceeded(
                f"一次推进执行了超过 {self.max_tasks} 个自动步骤，流程可能陷入循环，已中止", task=task
            )
        if time.monotonic() > self.deadline:
            raise StepBudgetExceeded(f"一次推进的自动步骤运行超过 {self.seconds:g} 秒，已中止", task=task)


def _count_budget_hit(session: Session, instance: Instance, budget: StepBudget, exc: StepBudgetExceeded) -> None:
    spec = budget.last_script
    if spec is not None:  # the loop's script: paused like code that ran into its own limits
        quarantine.record_hit(
            session, spec.script, process_key=instance.process_key, element_id=spec.bpmn_id, error=str(exc)
        )


def _written(instance: Instance, **values) -> None:
    """Set what `save` writes in its one UPDATE, without the ORM also flushing each change on its own."""
    for name, value in values.items():
        set_committed_value(instance, name, value)


def save(session: Session, instance: Instance, workflow) -> None:
    """Compare-and-set on lock_version: a writer that lost a race never overwrites the winner."""
    expected = instance.lock_version
    now = utcnow()
    result = session.execute(
        update(Instance)
        .where(Instance.id == instance.id, Instance.lock_version == expected)
        .values(
            state=state.dump(workflow),
            lock_version=expected + 1,
            status=instance.status,
            data=instance.data,
            path=instance.path,
            error=instance.error,
            completed_at=instance.completed_at,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
        raise Conflict("该案件刚被其他人更新，请刷新后重试")
    _written(instance, lock_version=expected + 1, updated_at=now)


def _sync_tasks(session: Session, instance: Instance, workflow, actor_id: int | None) -> None:
    ready = {str(t.id): t for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
    live: dict[str, list[Task]] = {}
    for row in session.scalars(select(Task).where(Task.instance_id == instance.id, Task.state.in_(LIVE_TASK_STATES))):
        live.setdefault(row.spiff_task_id, []).append(row)
    for spiff_task_id, rows in live.items():
        if spiff_task_id not in ready:  # interrupted (boundary event, cancel, return): no longer actionable
            for row in rows:
                approval.cancel(session, row)
    for spiff_task_id, spiff_task in ready.items():
        if spiff_task_id not in live:
            approval.create_rows(session, instance, spiff_task, actor_id=actor_id)


def _path(instance: Instance, workflow) -> list[str]:
    """The elements passed so far, for the diagram viewer. Read before `save` prunes the tree."""
    visited = set(instance.path or [])
    for wf in (workflow, *workflow.subprocesses.values()):
        for task in wf.tasks.values():
            bpmn_id = getattr(task.task_spec, "bpmn_id", None)
            if bpmn_id and task.has_state(TaskState.COMPLETED):
                visited.add(bpmn_id)
    return sorted(visited)


def _current_data(workflow) -> dict:
    if workflow.completed:
        data = dict(workflow.data)
        if workflow.last_task is not None:
            DeepMerge.merge(data, workflow.last_task.data)
        return _jsonable(data)
    data = {}
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.ERROR):
        DeepMerge.merge(data, task.data)
    return _jsonable(data)


def _jsonable(data: dict) -> dict:
    return json.loads(json.dumps(data, default=str, ensure_ascii=False))


def _error_message(exc: WorkflowException) -> str:
    task = getattr(exc, "task", None)
    where = f"{task.task_spec.bpmn_name or task.task_spec.bpmn_id}: " if task is not None else ""
    return f"{where}{exc}"


def _element_of(exc: WorkflowException) -> str | None:
    task = getattr(exc, "task", None)
    return task.task_spec.bpmn_id if task is not None else None


def spiff_task(workflow, task_id: str):
    task = workflow.get_task_from_id(UUID(task_id))
    if task is None:
        raise Conflict("任务已不在流程中")
    return task
