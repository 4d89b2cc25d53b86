"""Resolve a lane's role expression to the people who may act on a task.

Lane names are role expressions; no diagram names a person:
  `gm`, `mgmt_rep`, ...   every holder of a global role
  `dept_head`             the role within the initiator's department (department-scoped roles)
  `dept_head@field`       the role within the department chosen in form field `field`
  `initiator`             the person who started the case
  `user@field`            the person (or people) chosen in form field `field`
A field may also be a multi-instance item (`dept_head@dept` over a list of departments).
Exclusions follow `!` and separate duties:
  `dept_head!initiator`   the initiator's department head, unless that is the initiator
  `user@team!dept@dept`   the chosen team, without members of the department in `dept`
  `auditor!user@leader`   every auditor except the person chosen in `leader`
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import AssignmentError
from engine.store.models import Department, Role, User, UserRole

PSEUDO_ROLES = {"initiator", "user"}
ROLE_CODE = r"[a-z][a-z0-9_]*"
FIELD_NAME = r"[a-z_][a-z0-9_]*"  # a form field or multi-instance item
EXCLUSION_KINDS = ("initiator", "dept", "user")
_TERM = rf"{ROLE_CODE}(?:@{FIELD_NAME})?"
EXPRESSION = re.compile(rf"^(?P<role>{ROLE_CODE})(?:@(?P<field>{FIELD_NAME}))?(?P<excl>(?:!{_TERM})*)$")
_EXCLUSION = re.compile(rf"^(?P<kind>{'|'.join(EXCLUSION_KINDS)})(?:@(?P<field>{FIELD_NAME}))?$")


@dataclass(frozen=True)
class RoleExpr:
    role: str
    field: str | None = None
    exclusions: tuple[tuple[str, str | None], ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> RoleExpr | None:
        match = EXPRESSION.match((text or "").strip())
        if not match:
            return None
        exclusions = []
        for term in match["excl"].split("!")[1:]:
            part = _EXCLUSION.match(term)
            if part is None or (part["kind"] == "initiator") == bool(part["field"]):
                return None
            exclusions.append((part["kind"], part["field"]))
        return cls(match["role"], match["field"], tuple(exclusions))


def check_expression(text: str | None, known_roles: set[str]) -> str | None:
    """The problem with a lane name, or None if the engine can resolve it."""
    expr = RoleExpr.parse(text)
    if expr is None:
        return (
            f"泳道名称“{text}”不是角色表达式（例如 gm、dept_head、dept_head@business_dept、user@field、"
            f"dept_head!initiator、user@team!dept@dept）"
        )
    if expr.role == "initiator" and expr.field:
        return "initiator 不能带 @字段"
    if expr.role == "user" and not expr.field:
        return "user 泳道需要指明表单字段，例如 user@audit_leader"
    if expr.role not in PSEUDO_ROLES and expr.role not in known_roles:
        return f"未知角色“{expr.role}”"
    return None


def _values(value) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v not in (None, "")]
    return [str(value)]


def resolve(
    session: Session, text: str, *, initiator_id: int, initiator_department_id: int | None, data: dict
) -> list[int]:
    expr = RoleExpr.parse(text)
    if expr is None:
        raise AssignmentError(f"无法解析泳道角色“{text}”")
    ids = _resolve_base(session, expr, initiator_id, initiator_department_id, data)
    if not expr.exclusions:
        return ids
    rules = exclusions(session, expr, initiator_id=initiator_id, data=data)
    excluded = set().union(*(rule.user_ids for rule in rules))
    remaining = [uid for uid in ids if uid not in excluded]
    if not remaining:
        reasons = "、".join(rule.who for rule in rules)
        raise AssignmentError(f"“{text}”排除{reasons}后没有可办理的人（职责分离：不能审批/审核自己的申请或本部门）")
    return remaining


@dataclass(frozen=True)
class Exclusion:
    """One `!` term of a lane: the people it keeps off the step, and why (for refusals)."""

    user_ids: frozenset[int]
    who: str  # 申请人本人, leader 中选定的人, 运维部的人员
    reason: str  # the refusal when someone would hand the step to one of them


def exclusions(session: Session, lane: str | RoleExpr | None, *, initiator_id: int, data: dict) -> list[Exclusion]:
    """The separation-of-duties rules of a lane expression, resolved against a case's data. Hand-overs
    (转办, 委派, 加签, escalation) check their receiver against these, as the lane's own candidates were."""
    expr = lane if isinstance(lane, RoleExpr) else RoleExpr.parse(lane)
    rules = []
    for kind, field in expr.exclusions if expr else ():
        if kind == "initiator":
            rules.append(Exclusion(frozenset({initiator_id}), "申请人本人", "职责分离：申请人不能审批自己的申请"))
        elif kind == "user":
            ids = session.scalars(select(User.id).where(User.username.in_(_values(data.get(field)))))
            rules.append(
                Exclusion(frozenset(ids), f"{field} 中选定的人", f"职责分离：表单字段 {field} 中选定的人不能办理本步骤")
            )
        else:
            assert field is not None  # RoleExpr.parse: only `initiator` comes without a field
            dept = _department(session, field, data, what="回避的部门")
            ids = session.scalars(select(User.id).where(User.department_id == dept.id))
            rules.append(Exclusion(frozenset(ids), f"{dept.name}的人员", f"职责分离：{dept.name}的人员不能办理本步骤"))
    return rules


def _department(session: Session, field: str, data: dict, *, what: str) -> Department:
    codes = _values(data.get(field))
    if not codes:
        raise AssignmentError(f"表单字段 {field} 未选择部门，无法确定{what}")
    dept = session.scalar(select(Department).where(Department.code == codes[0]))
    if dept is None:
        raise AssignmentError(f"部门不存在：{codes[0]}")
    return dept


def _resolve_base(
    session: Session, expr: RoleExpr, initiator_id: int, initiator_department_id: int | None, data: dict
) -> list[int]:
    if expr.role == "initiator":
        return [initiator_id]
    if expr.role == "user":
        usernames = _values(data.get(expr.field))
        if not usernames:
            raise AssignmentError(f"表单字段 {expr.field} 未选择办理人")
        found = dict(
            session.execute(select(User.username, User.id).where(User.username.in_(usernames), User.active)).all()
        )
        if len(found) != len(set(usernames)):
            raise AssignmentError(f"表单字段 {expr.field} 中的用户不存在或已停用：{', '.join(usernames)}")
        return list(dict.fromkeys(found[name] for name in usernames))  # the order chosen (依次审批 follows it)

    role = session.get(Role, expr.role)
    if role is None:
        raise AssignmentError(f"未知角色“{expr.role}”")
    query = (
        select(User.id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role_code == expr.role, User.active)
        .order_by(User.id)
    )
    where = ""
    if expr.field:
        dept = _department(session, expr.field, data, what=f"“{role.name}”")
        query = query.where(User.department_id == dept.id)
        where = f"（{dept.name}）"
    elif role.scope == "department":
        if initiator_department_id is None:
            raise AssignmentError(f"发起人未归属任何部门，无法确定“{role.name}”")
        query = query.where(User.department_id == initiator_department_id)
        initiator_department = session.get(Department, initiator_department_id)
        where = f"（{initiator_department.name}）" if initiator_department else ""
    ids = list(session.scalars(query))
    if not ids:
        raise AssignmentError(f"没有人担任“{role.name}”{where}，请管理员先配置该角色")
    return ids
