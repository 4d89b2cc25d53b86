"""Acting on tasks: read with its form, claim, complete. Every write locks the instance first."""

from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from sqlalchemy.orm import Session

from engine import history, notifications, scripting
from engine.definitions.cache import SPECS, CompiledVersion
from engine.errors import Conflict, EngineError, Forbidden, NotFound
from engine.forms.schema import fill_options, validate_submission
from engine.runtime import access, approval, inbox, instances, state
from engine.runtime.step import spiff_task
from engine.store.db import lock_instance
from engine.store.models import (
    Instance,
    InstanceStatus,
    ProcessVersion,
    Task,
    TaskCandidate,
    TaskKind,
    TaskRowState,
    User,
    utcnow,
)


def _is_candidate(session: Session, task_id: str, user_id: int) -> bool:
    return session.get(TaskCandidate, (task_id, user_id)) is not None


def case_of(session: Session, task: Task) -> Instance:
    instance = session.get(Instance, task.instance_id)
    assert instance is not None  # a task row always belongs to a case (foreign key)
    return instance


def get(session: Session, task_id: str, *, user: User) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"任务不存在：{task_id}")
    if not (
        task.assignee_id == user.id
        or task.owner_id == user.id
        or _is_candidate(session, task_id, user.id)
        or access.can_view(session, user, case_of(session, task))
    ):
        raise Forbidden("无权查看该任务")
    return task


def frozen_form(session: Session, task: Task) -> dict | None:
    """The task's form-js schema as frozen with the instance's version (a signer's: the built-in one)."""
    if task.kind == TaskKind.SIGNER:
        return approval.SIGNER_FORM
    if not task.form_key:
        return None
    version = session.get_one(ProcessVersion, case_of(session, task).version_id)
    return (version.forms or {}).get(task.form_key)


def form_for(session: Session, task: Task) -> dict | None:
    """The task's form with its people and department options filled in, for rendering."""
    form = frozen_form(session, task)
    return fill_options(form, session) if form and task.kind != TaskKind.SIGNER else form


def _name(session: Session, user_id: int | None) -> str:
    user = session.get(User, user_id) if user_id else None
    return user.display_name if user else "他人"


def holder_refusal(session: Session, task: Task, user: User) -> EngineError | None:
    """Why this user cannot act on the task now (it is not open, or not theirs to work), or None:
    what every action on a task checks first, and what decides whether any is offered."""
    mine = task.assignee_id == user.id
    is_candidate = mine or _is_candidate(session, task.id, user.id)
    involved = is_candidate or task.completed_by == user.id or task.owner_id == user.id
    if task.state in (TaskRowState.COMPLETED, TaskRowState.CANCELLED):
        return Conflict("任务已办理或已取消") if involved else Forbidden("这不是你的任务")
    if task.owner_id == user.id and not mine:
        return Conflict(f"任务已委派给{_name(session, task.assignee_id)}，待其办理后会回到你这里")
    if task.state == TaskRowState.WAITING and involved:
        signer = approval.pending_signer(session, task)
        return Conflict(f"正在等待加签人{_name(session, signer.assignee_id if signer else None)}审批")
    if task.state == TaskRowState.PENDING and involved:
        return Conflict("还没有轮到你审批")
    if task.state != TaskRowState.OPEN or not is_candidate:
        return Forbidden("这不是你的任务")
    if task.assignee_id is not None and not mine:
        return Conflict(f"任务已被{_name(session, task.assignee_id)}认领")
    return None


def actionable(session: Session, task_id: str, user: User) -> Task:
    """Lock the task's instance and read the task afresh, then refuse it unless this user may act on
    it now (`holder_refusal`): the task every action on a task starts from."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"任务不存在：{task_id}")
    lock_instance(session, task.instance_id)
    session.refresh(task)
    refusal = holder_refusal(session, task, user)
    if refusal is not None:
        raise refusal
    return task


def claim_refusal(session: Session, task: Task, user: User) -> EngineError | None:
    """Claiming is for a group task nobody holds; past `holder_refusal`, any other is this user's."""
    return Conflict("任务已由你认领") if task.assignee_id is not None else None


def claim(session: Session, task_id: str, *, user: User) -> Task:
    task = actionable(session, task_id, user)
    if claim_refusal(session, task, user) is not None:
        return task  # already theirs: claiming twice (a double click) is harmless
    task.assignee_id = user.id
    history.record(
        session,
        task.instance_id,
        history.EventType.CLAIMED,
        actor_id=user.id,
        task_id=task.id,
        element_id=task.element_id,
    )
    session.flush()
    return task


def _ended(instance: Instance) -> Conflict:
    return Conflict(f"案件状态为 {instance.status}，不能办理任务")


def running_instance(session: Session, instance_id: int) -> Instance:
    instance = session.get_one(Instance, instance_id, populate_existing=True)
    if instance.status != InstanceStatus.RUNNING:
        raise _ended(instance)
    return instance


def workflow_of(instance: Instance, compiled: CompiledVersion) -> BpmnWorkflow:
    """The case's engine state; a case that has ended has none left to act on."""
    if instance.state is None:
        raise _ended(instance)
    return state.load(instance.state, compiled)


def compiled_for(session: Session, instance: Instance) -> CompiledVersion:
    return SPECS.of(session, instance.version_id)


def validated(session: Session, task: Task, data: dict | None) -> dict:
    form = frozen_form(session, task)
    return validate_submission(fill_options(form, session), data or {}) if form else (data or {})


def complete(session: Session, task_id: str, *, user: User, data: dict | None) -> Instance:
    task = actionable(session, task_id, user)
    instance = running_instance(session, task.instance_id)
    compiled = compiled_for(session, instance)
    cleaned = validated(session, task, data)
    if task.owner_id is not None:  # a delegate has done their part: back to the delegator, who decides
        task.pending_data, task.assignee_id, task.owner_id = cleaned, task.owner_id, None
        history.record(
            session,
            instance.id,
            history.EventType.DELEGATE_RESOLVED,
            actor_id=user.id,
            task_id=task.id,
            element_id=task.element_id,
            decision=cleaned.get("decision"),
            comment=cleaned.get("comment"),
            data=cleaned,
        )
        notifications.task_opened(session, task, actor_id=user.id)
        session.flush()
        return instance
    task.state, task.assignee_id, task.completed_by, task.completed_at = (
        TaskRowState.COMPLETED,
        user.id,
        user.id,
        utcnow(),
    )
    task.decision = cleaned.get("decision")
    history.record(
        session,
        instance.id,
        history.EventType.COMPLETED,
        actor_id=user.id,
        task_id=task.id,
        element_id=task.element_id,
        decision=cleaned.get("decision"),
        comment=cleaned.get("comment"),
        data=cleaned,
    )
    session.flush()
    decided = approval.settle(session, task, cleaned)
    if decided is not None:
        run_engine_task(session, instance, compiled, *decided, actor_id=user.id)
    return instance


def run_engine_task(
    session: Session, instance: Instance, compiled: CompiledVersion, spiff_task_id: str, data: dict, *, actor_id: int
) -> None:
    """Complete the engine's task with the step's data and let the case run on."""
    workflow = workflow_of(instance, compiled)
    current = spiff_task(workflow, spiff_task_id)
    current.data.update(data)
    failure = None
    try:
        with scripting.scripts_use(session, instance.id):
            current.run()
    except WorkflowException as exc:  # a post-script: keep the submission, put the case in error
        failure = exc
    session.flush()
    instances.advance_and_start(session, instance, workflow, compiled, failure, actor_id=actor_id)


def list_for(
    session: Session,
    *,
    user: User,
    scope: str = "mine",
    state_: str = TaskRowState.OPEN,
    limit: int = 50,
    offset: int = 0,
) -> list[Task]:
    """The API's task list: open tasks by scope (see inbox.todo), or the ones I completed."""
    if state_ == TaskRowState.COMPLETED:
        return inbox.done(session, user=user, limit=limit, offset=offset)
    return inbox.todo(session, user=user, scope="every" if scope == "all" else scope, limit=limit, offset=offset)
