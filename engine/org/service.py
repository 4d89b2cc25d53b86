"""Users, departments and roles (logging in: engine/org/login.py; tokens and sessions: credentials.py)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.org.passwords import hash_password
from engine.store.models import Department, Role, User, UserRole


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户不存在：{username}")
    return user


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    password: str,
    department: str | None = None,
    roles: tuple[str, ...] = (),
    email: str | None = None,
) -> User:
    dept = None
    if department:
        dept = session.scalar(select(Department).where(Department.code == department))
        if dept is None:
            raise NotFound(f"部门不存在：{department}")
    user = User(
        username=username,
        display_name=display_name,
        email=email,
        password_hash=hash_password(password),
        department_id=dept.id if dept else None,
    )
    user.roles = [UserRole(role_code=code) for code in roles]
    session.add(user)
    session.flush()
    return user


SYSTEM_USERNAME = "system"


def system_user(session: Session) -> User:
    """The initiator of cases the scheduler starts. It cannot log in and is never assigned a task."""
    user = session.scalar(select(User).where(User.username == SYSTEM_USERNAME))
    if user is None:
        user = User(
            username=SYSTEM_USERNAME, display_name="系统（定时发起）", active=False, password_hash="!"
        )  # no password hash matches "!"
        session.add(user)
        session.flush()
    return user


def role_codes(session: Session) -> set[str]:
    return set(session.scalars(select(Role.code)))


def department_options(session: Session) -> list[dict]:
    return [{"label": d.name, "value": d.code} for d in session.scalars(select(Department).order_by(Department.id))]


def user_options(session: Session) -> list[dict]:
    users = session.scalars(select(User).where(User.active).order_by(User.id))
    return [{"label": f"{u.display_name}（{u.username}）", "value": u.username} for u in users]


def find_users(session: Session, text: str, *, limit: int = 20, exclude_ids=()) -> list[dict]:
    """Active people whose username, name or department contains `text`, for pickers; `exclude_ids`
    are people the action the picker is for would refuse."""
    query = select(User).outerjoin(Department, Department.id == User.department_id).where(User.active)
    if exclude_ids:
        query = query.where(User.id.not_in(sorted(exclude_ids)))
    text = text.strip()
    if text:
        like = f"%{text}%"
        query = query.where(or_(User.username.ilike(like), User.display_name.ilike(like), Department.name.ilike(like)))
    return [
        {
            "username": u.username,
            "display_name": u.display_name,
            "department": u.department.name if u.department else None,
        }
        for u in session.scalars(query.order_by(User.id).limit(limit))
    ]
