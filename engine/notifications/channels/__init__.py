"""The channels a notice goes out on, one module each. A channel has a `name` (the key in each person's
settings and in `notification_optout.channel`, at most 8 characters), a `label`, says whether it `reaches` a person at all,
and turns a `Notice` into the rows that record it for the people who get it. Those rows are added in
the engine step's transaction, so a channel that talks to the outside world (a mail server, a webhook)
writes an outbox row here and sends it later, outside any transaction (see `email`).
`ALL`, at the bottom, lists the channels in the order the settings show them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Notice:
    """What each channel is told by one call of `send`: the same for everyone it reaches."""

    kind: str  # a key of KINDS
    title: str  # one line, at most 255 characters
    body: str
    instance_id: int | None
    task_id: str | None
    link: str | None  # a site path: /tasks/<id>, /cases/<id>
    at: datetime


@dataclass(frozen=True)
class Recipient:
    """An active person to be told, with what a channel needs to reach them."""

    user_id: int
    email: str | None


class Channel(ABC):
    name: ClassVar[str]
    label: ClassVar[str]  # Chinese, as the API's settings call it

    def reaches(self, person: Recipient) -> bool:
        """Whether this channel can tell `person` at all (an address, a configured server). Whether they
        want it (their settings for the kind) is checked before, the same for every channel."""
        return True

    @abstractmethod
    def records(self, session: Session, notice: Notice, people: list[Recipient]) -> list[object]:
        """The rows that tell `notice` to each of `people` (never empty), for the caller to add to its session."""


def clip(text: str, size: int) -> str:
    """One line of at most `size` characters, for a column of that size."""
    text = " ".join((text or "").split())
    return text if len(text) <= size else text[: size - 1] + "…"


from engine.notifications.channels import email, in_app  # noqa: E402  (each subclasses Channel above)

ALL: tuple[Channel, ...] = (in_app.CHANNEL, email.CHANNEL)
NAMES: tuple[str, ...] = tuple(channel.name for channel in ALL)
LABELS: dict[str, str] = {channel.name: channel.label for channel in ALL}
