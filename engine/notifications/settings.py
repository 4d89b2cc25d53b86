"""Each person's channels per kind: everything is on unless they turned it off (a `NotificationOptOut` row)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.errors import InvalidData
from engine.notifications import channels
from engine.notifications.channels import email
from engine.notifications.kinds import KINDS
from engine.store.models import NotificationOptOut, User


def of(session: Session, user: User) -> dict:
    """The kinds × channels matrix (on unless turned off), and whether e-mail can reach this person."""
    off = set(
        session.execute(
            select(NotificationOptOut.kind, NotificationOptOut.channel).where(NotificationOptOut.user_id == user.id)
        ).all()
    )
    return {
        "kinds": [
            {"kind": kind, "label": label, **{ch: (kind, ch) not in off for ch in channels.NAMES}}
            for kind, label in KINDS.items()
        ],
        "channels": [{"channel": ch.name, "label": ch.label} for ch in channels.ALL],
        "email_configured": email.configured(),
        "email": user.email or None,
    }


def save(session: Session, user: User, kinds) -> dict:
    """`kinds`: [{kind, in_app?, email?}]; a channel left out keeps its setting."""
    if not isinstance(kinds, list):
        raise InvalidData({"kinds": [f"应为列表：[{{{', '.join(('kind', *channels.NAMES))}}}]"]})
    errors: list[str] = []
    changes: dict[tuple[str, str], bool] = {}
    for item in kinds:
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind not in KINDS:
            errors.append(f"未知的通知类型：{kind}")
            continue
        for key, value in item.items():
            if key in ("kind", "label"):
                continue
            if key not in channels.NAMES:
                errors.append(f"未知的通知渠道：{key}（可选 {'、'.join(channels.NAMES)}）")
            elif not isinstance(value, bool):
                errors.append(f"{KINDS[kind]}的{channels.LABELS[key]}应为 true 或 false")
            else:
                changes[(kind, key)] = value
    if errors:
        raise InvalidData({"kinds": errors})
    for (kind, channel), on in changes.items():
        session.execute(
            delete(NotificationOptOut).where(
                NotificationOptOut.user_id == user.id,
                NotificationOptOut.kind == kind,
                NotificationOptOut.channel == channel,
            )
        )
        if not on:
            session.add(NotificationOptOut(user_id=user.id, kind=kind, channel=channel))
    session.flush()
    return of(session, user)
