"""How the API shows a notification and an outbox mail."""

from __future__ import annotations

from engine.notifications.kinds import KINDS
from engine.store.models import MailOutbox, Notification


def notification(row: Notification) -> dict:
    return {
        "id": row.id,
        "kind": row.kind,
        "kind_label": KINDS.get(row.kind, row.kind),
        "title": row.title,
        "body": row.body,
        "link": row.link,
        "instance_id": row.instance_id,
        "task_id": row.task_id,
        "created_at": row.created_at,
        "read_at": row.read_at,
        "read": row.read_at is not None,
    }


def mail(row: MailOutbox) -> dict:
    return {
        "id": row.id,
        "to_address": row.to_address,
        "user_id": row.user_id,
        "kind": row.kind,
        "subject": row.subject,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "locked_by": row.locked_by,
        "locked_until": row.locked_until,
        "last_error": row.last_error,
        "created_at": row.created_at,
        "sent_at": row.sent_at,
    }
