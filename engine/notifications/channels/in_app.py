"""站内通知: a `Notification` row per person, what the 通知 list and the unread badge read (`inapp_list`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.notifications.channels import Channel, Notice, Recipient
from engine.store.models import Notification


class InApp(Channel):
    name = "in_app"
    label = "站内通知"

    def records(self, session: Session, notice: Notice, people: list[Recipient]) -> list[object]:
        return [
            Notification(
                user_id=person.user_id,
                kind=notice.kind,
                title=notice.title,
                body=notice.body or None,
                link=notice.link,
                instance_id=notice.instance_id,
                task_id=notice.task_id,
                created_at=notice.at,
            )
            for person in people
        ]


CHANNEL: Channel = InApp()
