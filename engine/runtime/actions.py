"""Approval actions beyond completing a task: 转办, 委派, 加签, 退回, 撤回, 抄送, 催办, 批量同意.

Each is refused with a message that says why when it does not apply, and each is recorded in the
case history with who and why. Task actions start from `tasks.actionable` (the instance locked,
the task open and this user's), case actions from `_locked_case`. Whether an action applies to the
task or case as it stands is its rule (`_…_refusal`, the error or None): the action raises it, and
`task_actions` / `instance_actions` offer the actions whose rules have no objection.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from engine import clock, history, notifications
from engine.errors import Conflict, EngineError, Forbidden, InvalidData, NotFound, TooManyRequests
from engine.org import assignment
from engine.org.service import find_users
from engine.runtime import access, approval, instances, rewind, tasks
from engine.runtime.step import spiff_task
from engine.store.db import lock_instance
from engine.store.models import (
    LIVE_TASK_STATES,
    CaseCopy,
    Event,
    Instance,
    InstanceStatus,
    ProcessDefinition,
    Task,
    TaskCandidate,
    TaskKind,
    TaskRowState,
    Timer,
    User,
    utcnow,
)

URGE_INTERVAL = timedelta(hours=1)
BULK_LIMIT = 100
# What counts as someone having acted on a step (撤回 is refused after any of these by another person).
ACTED = {
    history.EventType.COMPLETED,
    history.EventType.CLAIMED,
    history.EventType.TRANSFERRED,
    history.EventType.DELEGATED,
    history.EventType.DELEGATE_RESOLVED,
    history.EventType.SIGNER_ADDED,
    history.EventType.RETURNED,
    history.EventType.ATTACHED,
}


def _refuse(refusal: EngineError | None) -> None:
    if refusal is not None:
        raise refusal


def _person(session: Session, username: str | None, *, field: str = "user") -> User:
    user = session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None or not user.active:
        raise InvalidData({field: [f"用户不存在或已停用：{username}"]})
    return user


def _receiver(session: Session, user: User, username: str, *, not_yourself: str) -> User:
    """Whom a hand-over names: an active person other than the one handing over."""
    target = _person(session, username)
    if target.id == user.id:
        raise Conflict(not_yourself)
    return target


def _record(session: Session, task: Task, type_: history.EventType, actor: User, comment: str | None, **data) -> None:
    history.record(
        session,
        task.instance_id,
        type_,
        actor_id=actor.id,
        task_id=task.id,
        element_id=task.element_id,
        comment=comment or None,
        data=data or None,
    )


def _take(session: Session, task: Task, user: User) -> None:
    """Acting on a group task you have not claimed claims it first."""
    if task.assignee_id is None:
        task.assignee_id = user.id
        _record(session, task, history.EventType.CLAIMED, user, None)


def _lane_of(session: Session, task: Task) -> str | None:
    """The lane expression a row answers to: a signer's is the step's it was added to."""
    while task.kind == TaskKind.SIGNER and task.origin_task_id:
        task = session.get_one(Task, task.origin_task_id)
    return task.role


def _step_data(session: Session, instance: Instance, task: Task) -> dict:
    """The data the step's engine task sees: a multi-instance item has its own (`dept@dept` per item)."""
    try:
        workflow = tasks.workflow_of(instance, tasks.compiled_for(session, instance))
        return dict(spiff_task(workflow, task.spiff_task_id).data)
    except Conflict:
        return dict(instance.data or {})


def separation_rules(session: Session, task: Task) -> list[assignment.Exclusion]:
    """The lane's separation-of-duties rules for this step, which every hand-over re-checks: whoever
    receives the step must be someone the lane itself would have allowed."""
    expr = assignment.RoleExpr.parse(_lane_of(session, task))
    if expr is None or not expr.exclusions:
        return []
    instance = session.get_one(Instance, task.instance_id)
    return assignment.exclusions(
        session, expr, initiator_id=instance.initiator_id, data=_step_data(session, instance, task)
    )


def _check_separation(session: Session, task: Task, target: User) -> None:
    for rule in separation_rules(session, task):
        if target.id in rule.user_ids:
            raise InvalidData({"user": [rule.reason]}, rule.reason)


def _another_row_on_step(session: Session, task: Task, user: User) -> bool:
    return (
        session.scalar(
            select(Task.id)
            .where(
                Task.spiff_task_id == task.spiff_task_id,
                Task.id != task.id,
                Task.assignee_id == user.id,
                Task.state.in_(LIVE_TASK_STATES),
            )
            .limit(1)
        )
        is not None
    )


def _candidate_count(session: Session, task: Task) -> int:
    return session.scalar(select(func.count()).select_from(TaskCandidate).where(TaskCandidate.task_id == task.id)) or 0


# --- on a task ---------------------------------------------------------------------------------


def _unclaim_refusal(session: Session, task: Task, user: User) -> EngineError | None:
    if task.assignee_id != user.id:
        return Conflict("任务尚未认领")
    if task.kind != TaskKind.TASK or _candidate_count(session, task) < 2:
        return Conflict("该任务只由你办理，不能放回待认领")
    return None


def unclaim(session: Session, task_id: str, *, user: User) -> Task:
    task = tasks.actionable(session, task_id, user)
    _refuse(_unclaim_refusal(session, task, user))
    task.assignee_id = None
    _record(session, task, history.EventType.UNCLAIMED, user, None)
    session.flush()
    return task


def transfer(session: Session, task_id: str, *, user: User, to: str, comment: str | None = None) -> Task:
    """转办: the task becomes the other person's, wholly; I no longer have it."""
    task = tasks.actionable(session, task_id, user)
    target = _receiver(session, user, to, not_yourself="不能转办给自己")
    if _another_row_on_step(session, task, target):
        raise Conflict(f"{target.display_name}已是本步骤的审批人")
    _check_separation(session, task, target)
    session.execute(delete(TaskCandidate).where(TaskCandidate.task_id == task.id))
    session.add(TaskCandidate(task_id=task.id, user_id=target.id))
    task.assignee_id = target.id
    _record(
        session, task, history.EventType.TRANSFERRED, user, comment, to=target.username, to_name=target.display_name
    )
    notifications.task_handed(session, task, to=target, by=user, how="转办", comment=comment)
    session.flush()
    return task


def _delegate_refusal(session: Session, task: Task, user: User) -> EngineError | None:
    """A delegate works the task for the delegator: handing it on would take it from them."""
    return Conflict("委派的任务不能再委派") if task.owner_id is not None else None


def delegate(session: Session, task_id: str, *, user: User, to: str, comment: str | None = None) -> Task:
    """委派: the delegate works the task; their submission comes back to me, and I complete it."""
    task = tasks.actionable(session, task_id, user)
    target = _receiver(session, user, to, not_yourself="不能委派给自己")
    _refuse(_delegate_refusal(session, task, user))
    _check_separation(session, task, target)
    _take(session, task, user)
    task.owner_id, task.assignee_id = user.id, target.id
    _record(session, task, history.EventType.DELEGATED, user, comment, to=target.username, to_name=target.display_name)
    notifications.task_handed(session, task, to=target, by=user, how="委派", comment=comment)
    session.flush()
    return task


def _is_approval(session: Session, task: Task) -> bool:
    form = tasks.frozen_form(session, task) or {}  # no options needed: not the users table per call
    return any(c.get("key") == "decision" for c in form.get("components", []))


def _add_signer_refusal(session: Session, task: Task, user: User) -> EngineError | None:
    if not _is_approval(session, task):
        return Conflict("只有审批步骤可以加签")
    if approval.pending_signer(session, task) is not None:
        return Conflict("已有加签人尚未审批")
    if task.owner_id is not None:
        return Conflict("委派的任务不能加签")
    return None


def add_signer(
    session: Session, task_id: str, *, user: User, to: str, position: str, comment: str | None = None
) -> Task:
    """加签: `before` — they give their opinion first, then the task is mine again to decide;
    `after` — once I approve, it goes to them, and their rejection rejects the step."""
    if position not in ("before", "after"):
        raise InvalidData({"position": ["只能是 before（在我之前）或 after（在我之后）"]})
    task = tasks.actionable(session, task_id, user)
    target = _receiver(session, user, to, not_yourself="不能给自己加签")
    _refuse(_add_signer_refusal(session, task, user))
    _check_separation(session, task, target)
    _take(session, task, user)
    signer = approval.add_signer_row(session, task, target, position)
    if position == "before":  # theirs at once; a signer after me hears when I have approved
        notifications.task_handed(session, signer, to=target, by=user, how="加签", comment=comment)
    _record(
        session,
        task,
        history.EventType.SIGNER_ADDED,
        user,
        comment,
        to=target.username,
        to_name=target.display_name,
        position=position,
    )
    session.flush()
    return task


HANDOVERS = ("transfer", "delegate", "add_signer")


def people_for(
    session: Session, task_id: str, *, user: User, action: str, text: str = "", limit: int = 20
) -> list[dict]:
    """Whom the picker of 转办/委派/加签 offers: active people the hand-over would accept (not me, not
    someone the lane's separation of duties keeps off the step, for 转办 not someone already on it)."""
    if action not in HANDOVERS:
        raise InvalidData({"action": [f"只能是 {'、'.join(HANDOVERS)}"]})
    task = tasks.get(session, task_id, user=user)
    if action not in task_actions(session, task, user):
        raise Forbidden("你现在不能对该任务执行此操作")
    excluded = {user.id}.union(*(rule.user_ids for rule in separation_rules(session, task)))
    if action == "transfer":
        excluded.update(
            session.scalars(
                select(Task.assignee_id).where(
                    Task.spiff_task_id == task.spiff_task_id,
                    Task.id != task.id,
                    Task.assignee_id.is_not(None),
                    Task.state.in_(LIVE_TASK_STATES),
                )
            )
        )
    return find_users(session, text, limit=limit, exclude_ids=excluded)


def return_targets(session: Session, task_id: str, *, user: User) -> list[dict]:
    task = tasks.get(session, task_id, user=user)
    return _return_targets(session, task)


def _return_targets(session: Session, task: Task) -> list[dict]:
    """The earlier steps this case completed that it can be taken back to, latest completion of each.
    Only the latest row of each such step is read (a window over the case's completed rows in the
    database), so a case redone many times costs what a fresh one does."""
    instance = session.get_one(Instance, task.instance_id)
    compiled = tasks.compiled_for(session, instance)
    current = set(
        session.scalars(
            select(Task.element_id).where(Task.instance_id == instance.id, Task.state.in_(LIVE_TASK_STATES))
        )
    )
    candidates = sorted(compiled.return_targets - current)
    if not candidates:
        return []
    latest = (
        select(
            Task.id,
            func.row_number()
            .over(partition_by=Task.element_id, order_by=(Task.completed_at.desc(), Task.id))
            .label("rank"),
        )
        .where(
            Task.instance_id == instance.id,
            Task.state == TaskRowState.COMPLETED,
            Task.kind != TaskKind.SIGNER,
            Task.completed_by.is_not(None),
            Task.element_id.in_(candidates),
        )
        .subquery()
    )
    rows = session.execute(
        select(Task, User)
        .join(latest, latest.c.id == Task.id)
        .join(User, User.id == Task.completed_by)
        .where(latest.c.rank == 1)
    )
    return [
        {
            "element_id": row.element_id,
            "name": row.name,
            "completed_by": person.username,
            "completed_by_name": person.display_name,
            "completed_at": row.completed_at,
        }
        for row, person in sorted(rows, key=lambda r: (r[0].completed_at, r[0].id))
    ]


def _return_refusal(session: Session, task: Task, user: User) -> EngineError | None:
    """退回 is the step's own decision: not an added signer's (who gives an opinion), not a delegate's."""
    if task.kind == TaskKind.SIGNER:
        return Conflict("加签人不能退回，可在意见中说明")
    if task.owner_id is not None:
        return Conflict("委派的任务不能退回")
    if not _return_targets(session, task):
        return Conflict("本案件没有可退回的前序步骤")
    return None


def return_to(session: Session, task_id: str, *, user: User, element_id: str, comment: str | None = None) -> Instance:
    """退回: the case goes back to an earlier step, to the person who did it, and is redone from there.
    Works from any row of a multi-person step: the step's other rows are withdrawn."""
    task = tasks.actionable(session, task_id, user)
    instance = tasks.running_instance(session, task.instance_id)
    target = next((t for t in _return_targets(session, task) if t["element_id"] == element_id), None)
    if target is None:
        raise Conflict(f"“{element_id}”不是本案件已完成的、可退回的前序步骤")
    _refuse(_return_refusal(session, task, user))
    _record(
        session,
        task,
        history.EventType.RETURNED,
        user,
        comment,
        to_element=element_id,
        to_name=target["name"],
        to_user=target["completed_by"],
    )
    _rewind(session, instance, element_id, target["completed_by"], actor=user)
    return instance


def _rewind(session: Session, instance: Instance, element_id: str, username: str, *, actor: User) -> None:
    compiled = tasks.compiled_for(session, instance)
    workflow = tasks.workflow_of(instance, compiled)
    rewind.jump_to(workflow, element_id, instance.data or {})
    instances.advance_and_start(session, instance, workflow, compiled, actor_id=actor.id)
    # The step goes back to the person who did it, if the lane still allows them.
    person = session.scalar(select(User).where(User.username == username))
    for row in session.scalars(
        select(Task).where(
            Task.instance_id == instance.id,
            Task.element_id == element_id,
            Task.state == TaskRowState.OPEN,
            Task.kind == TaskKind.TASK,
        )
    ):
        if person is not None and session.get(TaskCandidate, (row.id, person.id)) is not None:
            row.assignee_id = person.id
    session.flush()


# --- on a case ---------------------------------------------------------------------------------


def _locked_case(session: Session, instance_id: int, user: User) -> Instance:
    if not lock_instance(session, instance_id):
        raise NotFound(f"案件不存在：{instance_id}")
    instance = session.get_one(Instance, instance_id, populate_existing=True)
    if not access.can_view(session, user, instance):
        raise Forbidden("无权查看该案件")
    return instance


def _withdraw_point(session: Session, instance: Instance, user: User) -> tuple[Task | None, EngineError | None]:
    """(the initiator's last step to go back to, or None to end the case; or why `user` may not 撤回)."""
    if instance.initiator_id != user.id:
        return None, Forbidden("只有发起人可以撤回")
    if instance.status != InstanceStatus.RUNNING:
        return None, Conflict("案件已结束，不能撤回")
    if session.scalar(
        select(Task.id)
        .where(
            Task.instance_id == instance.id, Task.state == TaskRowState.OPEN, Task.assignee_id == instance.initiator_id
        )
        .limit(1)
    ):
        return None, Conflict("案件当前在你处办理，无需撤回")
    last = session.scalar(
        select(Task)
        .where(
            Task.instance_id == instance.id,
            Task.completed_by == instance.initiator_id,
            Task.state == TaskRowState.COMPLETED,
            Task.kind == TaskKind.TASK,
        )
        .order_by(Task.completed_at.desc(), Task.id)
        .limit(1)
    )
    since = 0
    if last is not None:
        since = (
            session.scalar(
                select(func.max(Event.id)).where(
                    Event.instance_id == instance.id,
                    Event.task_id == last.id,
                    Event.type == history.EventType.COMPLETED,
                )
            )
            or 0
        )
    acted = session.execute(
        select(Event.type, User.display_name)
        .join(User, User.id == Event.actor_id)
        .where(
            Event.instance_id == instance.id,
            Event.id > since,
            Event.type.in_(ACTED),
            Event.actor_id != instance.initiator_id,
        )
        .order_by(Event.id)
        .limit(1)
    ).first()
    if acted is not None:
        return None, Conflict(f"{acted[1]}已处理下一步，不能撤回；如需修改请联系其退回")
    if last is not None and last.element_id not in tasks.compiled_for(session, instance).return_targets:
        return None, Conflict("当前步骤不支持撤回")
    return last, None


def _withdraw_refusal(session: Session, instance: Instance, user: User) -> EngineError | None:
    return _withdraw_point(session, instance, user)[1]


def withdraw(session: Session, instance_id: int, *, user: User, comment: str | None = None) -> Instance:
    """撤回: while nobody has acted on the next step, the initiator takes the case back to their own last
    step to change it; a case with no step of theirs yet ends as withdrawn."""
    instance = _locked_case(session, instance_id, user)
    point, refusal = _withdraw_point(session, instance, user)
    _refuse(refusal)
    history.record(
        session,
        instance.id,
        history.EventType.WITHDRAWN,
        actor_id=user.id,
        comment=comment or None,
        element_id=point.element_id if point else None,
    )
    if point is not None:
        _rewind(session, instance, point.element_id, user.username, actor=user)
        return instance
    for row in session.scalars(select(Task).where(Task.instance_id == instance.id, Task.state.in_(LIVE_TASK_STATES))):
        approval.cancel(session, row, "发起人撤回")
    session.execute(delete(Timer).where(Timer.instance_id == instance.id))
    now = utcnow()
    session.execute(
        update(Instance)
        .where(Instance.id == instance.id)
        .values(
            status=InstanceStatus.WITHDRAWN, completed_at=now, updated_at=now, lock_version=Instance.lock_version + 1
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(instance)
    return instance


# Acting on a case, as opposed to being copied on it or urging it: what makes someone a participant.
PARTICIPATED = ACTED | {history.EventType.STARTED, history.EventType.WITHDRAWN}


def is_participant(session: Session, instance: Instance, user: User) -> bool:
    """Who may spread a case (抄送) and push it (催办): its initiator, whoever acted on it or holds one of
    its steps now, the holders of the procedure's owner role, and 企管部/admins. Being copied on a case
    (抄送给我) lets one read it, not pass it on."""
    if access.sees_all(user) or instance.initiator_id == user.id:
        return True
    owner = session.scalar(select(ProcessDefinition.owner_role).where(ProcessDefinition.key == instance.process_key))
    if owner and owner in user.role_codes:
        return True
    if (
        session.scalar(
            select(Event.id)
            .where(Event.instance_id == instance.id, Event.actor_id == user.id, Event.type.in_(PARTICIPATED))
            .limit(1)
        )
        is not None
    ):
        return True
    live = select(Task.id).where(Task.instance_id == instance.id, Task.state.in_(LIVE_TASK_STATES))
    return (
        session.scalar(
            select(Task.id)
            .where(
                Task.id.in_(live),
                (Task.assignee_id == user.id)
                | (Task.owner_id == user.id)
                | Task.id.in_(select(TaskCandidate.task_id).where(TaskCandidate.user_id == user.id)),
            )
            .limit(1)
        )
        is not None
    )


def _may_urge(session: Session, instance: Instance, user: User) -> bool:
    """Participants, and whoever an overdue step was escalated to for 督办 (copied by the engine)."""
    return (
        is_participant(session, instance, user)
        or session.scalar(
            select(CaseCopy.id).where(
                CaseCopy.instance_id == instance.id, CaseCopy.user_id == user.id, CaseCopy.by_id.is_(None)
            )
        )
        is not None
    )


def _copy_refusal(session: Session, instance: Instance, user: User) -> EngineError | None:
    if not is_participant(session, instance, user):
        return Forbidden("只有发起人、办理过或正在办理本案件的人、流程所有者、企管部和管理员可以抄送；被抄送人只能查看")
    return None


def copy_to(
    session: Session, instance_id: int, *, user: User, usernames: list[str], comment: str | None = None
) -> list[str]:
    """抄送: the people may read the case from now on; answers who was newly copied."""
    instance = _locked_case(session, instance_id, user)
    _refuse(_copy_refusal(session, instance, user))
    if not usernames:
        raise InvalidData({"users": ["请选择抄送人"]})
    people = [_person(session, name, field="users") for name in dict.fromkeys(usernames)]
    already = set(session.scalars(select(CaseCopy.user_id).where(CaseCopy.instance_id == instance.id)))
    added = [p for p in people if p.id not in already]
    session.add_all(
        CaseCopy(instance_id=instance.id, user_id=p.id, by_id=user.id, comment=comment or None) for p in added
    )
    if added:
        history.record(
            session,
            instance.id,
            history.EventType.COPIED,
            actor_id=user.id,
            comment=comment or None,
            data={"users": [p.username for p in added], "names": [p.display_name for p in added]},
        )
        notifications.copied(session, instance, added, by=user, comment=comment)
    session.flush()
    return [p.username for p in added]


def _current_people(session: Session, instance_id: int) -> tuple[list[Task], list[int]]:
    rows = list(session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == TaskRowState.OPEN)))
    ids = {r.assignee_id for r in rows if r.assignee_id}
    unassigned = [r.id for r in rows if r.assignee_id is None]
    if unassigned:
        ids.update(session.scalars(select(TaskCandidate.user_id).where(TaskCandidate.task_id.in_(unassigned))))
    return rows, sorted(ids)


def _waited_on(session: Session, instance: Instance, user: User) -> tuple[list[Task], list[int]]:
    """The open rows of the case, and the people other than `user` it waits on."""
    rows, people = _current_people(session, instance.id)
    return rows, [p for p in people if p != user.id]


def _urge_refusal(session: Session, instance: Instance, user: User) -> EngineError | None:
    if not _may_urge(session, instance, user):
        return Forbidden("只有发起人、办理过或正在办理本案件的人、流程所有者、企管部和管理员可以催办")
    if instance.status != InstanceStatus.RUNNING:
        return Conflict("案件已结束，无需催办")
    if not _waited_on(session, instance, user)[1]:
        return Conflict("当前没有需要催办的人")
    return None


def urge(session: Session, instance_id: int, *, user: User, comment: str | None = None) -> list[str]:
    """催办 the people the case waits on; at most once an hour per case and person urging."""
    instance = _locked_case(session, instance_id, user)
    _refuse(_urge_refusal(session, instance, user))
    rows, people = _waited_on(session, instance, user)
    last = session.scalar(
        select(func.max(Event.at)).where(
            Event.instance_id == instance.id, Event.type == history.EventType.URGED, Event.actor_id == user.id
        )
    )
    if last is not None and utcnow() - last < URGE_INTERVAL:
        raise TooManyRequests(f"一小时内只能催办一次，请在 {clock.local(last + URGE_INTERVAL):%H:%M} 之后再试")
    now = utcnow()
    for row in rows:
        row.urged_at = now
    names = list(session.scalars(select(User.username).where(User.id.in_(people)).order_by(User.id)))
    history.record(
        session, instance.id, history.EventType.URGED, actor_id=user.id, comment=comment or None, data={"to": names}
    )
    notifications.urged(session, instance, rows, people, by=user, comment=comment)
    session.flush()
    return names


def bulk_approve(session: Session, task_ids: list[str], *, user: User, comment: str | None = None) -> list[dict]:
    """批量同意: each task on its own (a savepoint each); one that needs more than a decision is refused."""
    if not task_ids:
        raise InvalidData({"task_ids": ["请选择要审批的任务"]})
    if len(task_ids) > BULK_LIMIT:
        raise InvalidData({"task_ids": [f"一次最多批量审批 {BULK_LIMIT} 个任务"]})
    results = []
    for task_id in dict.fromkeys(task_ids):
        data = {"decision": "approve", **({"comment": comment} if comment else {})}
        try:
            with session.begin_nested():
                task = session.get(Task, task_id)
                if task is not None and task.state == TaskRowState.OPEN and not _is_approval(session, task):
                    raise Conflict("该任务需要填写表单，不能批量同意")
                tasks.complete(session, task_id, user=user, data=data)
            results.append({"task_id": task_id, "ok": True, "message": "已同意"})
        except InvalidData as exc:
            fields = "、".join(exc.errors) if isinstance(exc.errors, dict) else ""
            results.append(
                {
                    "task_id": task_id,
                    "ok": False,
                    "message": f"需要填写表单后单独提交（{fields}）" if fields else exc.message,
                }
            )
        except EngineError as exc:
            results.append({"task_id": task_id, "ok": False, "message": exc.message})
    return results


# --- what a person may do now -------------------------------------------------------------------


def _no_objection(session: Session, task: Task, user: User) -> EngineError | None:
    """Whoever may act on the task may do this (whom they hand it to is checked when they do)."""
    return None


TaskRule = Callable[[Session, Task, User], EngineError | None]
CaseRule = Callable[[Session, Instance, User], EngineError | None]

# Each action's rule beyond `tasks.holder_refusal`, in the order the actions are offered.
TASK_ACTIONS: dict[str, TaskRule] = {
    "complete": _no_objection,
    "attach": _no_objection,
    "transfer": _no_objection,
    "claim": tasks.claim_refusal,
    "delegate": _delegate_refusal,
    "add_signer": _add_signer_refusal,
    "unclaim": _unclaim_refusal,
    "return": _return_refusal,
}
CASE_ACTIONS: dict[str, CaseRule] = {"cc": _copy_refusal, "withdraw": _withdraw_refusal, "urge": _urge_refusal}


def task_actions(session: Session, task: Task, user: User) -> list[str]:
    if tasks.holder_refusal(session, task, user) is not None:
        return []
    return [name for name, refusal in TASK_ACTIONS.items() if refusal(session, task, user) is None]


def instance_actions(session: Session, instance: Instance, user: User) -> list[str]:
    return [name for name, refusal in CASE_ACTIONS.items() if refusal(session, instance, user) is None]
