"""A task's deadline falling due (engine/runtime/deadlines.py says when): the reminder, the overdue
notice and the escalation the diagram sets (`notify:` lets someone read the case, `move:` hands the task
on, under the lane's separation of duties)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import clock, history, notifications
from engine.definitions.vocabulary import EscalationKind
from engine.errors import EngineError
from engine.notifications.kinds import NoticeKind
from engine.org import assignment
from engine.runtime.actions import separation_rules
from engine.runtime.deadlines import CLOSED
from engine.store.models import (
    CaseCopy,
    Instance,
    InstanceStatus,
    Task,
    TaskCandidate,
    TaskRowState,
    Timer,
    TimerKind,
    User,
)


def fire(session: Session, timer: Timer) -> bool:
    """One stage of a deadline, under the case's lock. False: try again later (the case is not running)."""
    task = session.get(Task, timer.task_id, populate_existing=True)
    if task is None or task.state in CLOSED:
        session.delete(timer)
        return True
    instance = session.get_one(Instance, task.instance_id, populate_existing=True)
    if instance.status != InstanceStatus.RUNNING:
        return False
    if task.state != TaskRowState.OPEN or task.due_at is None:
        _next_stage(session, timer, task)
        return True
    holders = notifications.holders(session, task)
    if timer.kind == TimerKind.REMIND:
        title = f"{task.name} 将于 {clock.local(task.due_at):%m-%d %H:%M} 到期"
        notifications.send(
            session,
            user_ids=holders,
            kind=NoticeKind.REMINDER,
            title=title,
            body=f"案件：{instance.title}",
            instance_id=instance.id,
            task_id=task.id,
            link=notifications.task_link(task.id),
        )
        _record(session, task, history.EventType.NOTIFIED, title, holders, kind=NoticeKind.REMINDER)
    else:
        title = f"{task.name} 已逾期（应于 {clock.local(task.due_at):%m-%d %H:%M} 前办理）"
        notifications.send(
            session,
            user_ids=holders,
            kind=NoticeKind.OVERDUE,
            title=title,
            body=f"案件：{instance.title}",
            instance_id=instance.id,
            task_id=task.id,
            link=notifications.task_link(task.id),
        )
        if timer.action:
            _escalate(session, instance, task, timer.action, holders, title)
        else:
            _record(session, task, history.EventType.NOTIFIED, title, holders, kind=NoticeKind.OVERDUE)
    _next_stage(session, timer, task)
    return True


def _next_stage(session: Session, timer: Timer, task: Task) -> None:
    if timer.kind == TimerKind.REMIND and task.due_at is not None:
        timer.kind, timer.due_at = TimerKind.DUE, task.due_at
    else:
        session.delete(timer)


def _escalate(session: Session, instance: Instance, task: Task, action: str, holders: list[int], overdue: str) -> None:
    verb, _, expression = action.partition(":")
    department_id = instance.initiator_department_id
    if len(holders) == 1:  # "the department head" is the head of the holder's department
        department_id = session.scalar(select(User.department_id).where(User.id == holders[0])) or department_id
    try:
        targets = assignment.resolve(
            session,
            expression,
            initiator_id=instance.initiator_id,
            initiator_department_id=department_id,
            data=dict(instance.data or {}),
        )
    except EngineError as exc:  # nobody to escalate to: the task stays where it is and the history says why
        _record(
            session,
            task,
            history.EventType.ESCALATED,
            f"{overdue}；超时处理“{action}”未能执行：{exc}",
            [],
            action=verb,
            holders=_usernames(session, holders),
        )
        return
    if (
        verb == EscalationKind.MOVE
    ):  # a hand-over like 转办: the lane's separation of duties holds for whoever receives it
        rules = separation_rules(session, task)
        kept = [uid for uid in targets if not any(uid in rule.user_ids for rule in rules)]
        if not kept:
            reasons = "；".join(dict.fromkeys(rule.reason for rule in rules if set(targets) & rule.user_ids))
            _record(
                session,
                task,
                history.EventType.ESCALATED,
                f"{overdue}；超时处理“{action}”未能执行：{reasons}",
                [],
                action=verb,
                holders=_usernames(session, holders),
            )
            return
        targets = kept
    names = "、".join(session.scalars(select(User.display_name).where(User.id.in_(holders)).order_by(User.id)))
    if verb == EscalationKind.MOVE:
        session.execute(delete(TaskCandidate).where(TaskCandidate.task_id == task.id))
        session.add_all(TaskCandidate(task_id=task.id, user_id=uid) for uid in targets)
        task.assignee_id = targets[0] if len(targets) == 1 else None
        title = f"{task.name} 已逾期，转给你办理（原办理人：{names or '无'}）"
        link = notifications.task_link(task.id)
    else:
        already = set(session.scalars(select(CaseCopy.user_id).where(CaseCopy.instance_id == instance.id)))
        session.add_all(
            CaseCopy(instance_id=instance.id, user_id=uid, comment="超时升级")  # so they may read it
            for uid in targets
            if uid not in already
        )
        title = f"{task.name} 已逾期，请督办（办理人：{names or '无'}）"
        link = notifications.case_link(instance.id)
    notifications.send(
        session,
        user_ids=targets,
        kind=NoticeKind.ESCALATED,
        title=title,
        body=f"案件：{instance.title}",
        instance_id=instance.id,
        task_id=task.id,
        link=link,
    )
    _record(
        session, task, history.EventType.ESCALATED, overdue, targets, action=verb, holders=_usernames(session, holders)
    )


def _usernames(session: Session, ids: list[int]) -> list[str]:
    return list(session.scalars(select(User.username).where(User.id.in_(ids)).order_by(User.id))) if ids else []


def _record(session: Session, task: Task, type_: history.EventType, comment: str, to: list[int], **data) -> None:
    history.record(
        session,
        task.instance_id,
        type_,
        task_id=task.id,
        element_id=task.element_id,
        comment=comment,
        data={"to": _usernames(session, to), **data},
    )
