"""SQLAlchemy models: the whole persistent state of the engine.

The inbox and reports read `task`, `task_candidate` and `event` rows; only an engine step
loads `instance.state` (the pruned, spec-less SpiffWorkflow serialization).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from engine import clock


class InstanceStatus(enum.StrEnum):
    """Where a case stands (`instance.status`)."""

    RUNNING = "running"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"  # 撤回 by its initiator
    TERMINATED = "terminated"
    ERROR = "error"  # a step failed; retry (after a fix) runs it again


class TaskRowState(enum.StrEnum):
    """Where a task row stands (`task.state`); not SpiffWorkflow's TaskState of the engine task."""

    OPEN = "open"  # to be worked by its assignee or candidates
    WAITING = "waiting"  # for a signer added before (加签)
    PENDING = "pending"  # not its turn yet (依次审批)
    COMPLETED = "completed"
    CANCELLED = "cancelled"


# A row that is not finished: its step still waits on it.
LIVE_TASK_STATES = (TaskRowState.OPEN, TaskRowState.WAITING, TaskRowState.PENDING)


class TaskKind(enum.StrEnum):
    """How a task row relates to the engine task it acts on (see `Task`)."""

    TASK = "task"
    VOTE = "vote"
    SIGNER = "signer"


class TimerKind(enum.StrEnum):
    """What a `timer` row stands for."""

    EVENT = "event"  # a BPMN timer event a case waits on (engine/runtime/timers.py)
    REMIND = "remind"  # a task deadline's reminder, then its due stage (engine/runtime/deadlines.py)
    DUE = "due"


class DraftState(enum.StrEnum):
    """Where a draft of a procedure stands (`process_draft.state`)."""

    DRAFT = "draft"
    PROPOSED = "proposed"  # a change case runs
    ACTIVATED = "activated"
    DISCARDED = "discarded"


class MailStatus(enum.StrEnum):
    """Where a mail of the outbox stands."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


def utcnow() -> datetime:
    return clock.now()


class Base(DeclarativeBase):
    pass


# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Timestamp(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Department(Base):
    __tablename__ = "department"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))


class Role(Base):
    __tablename__ = "role"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    # 'global': every holder is a candidate; 'department': resolved within one department.
    scope: Mapped[str] = mapped_column(String(16), default="global")


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    department: Mapped[Department | None] = relationship(lazy="joined")
    roles: Mapped[list[UserRole]] = relationship(lazy="selectin", cascade="all, delete-orphan")

    @property
    def role_codes(self) -> set[str]:
        return {r.role_code for r in self.roles}


class UserRole(Base):
    __tablename__ = "user_role"
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    role_code: Mapped[str] = mapped_column(ForeignKey("role.code"), primary_key=True)
    __table_args__ = (Index("ix_user_role_role", "role_code"),)


class CredentialKind(enum.StrEnum):
    """What an `api_token` row lets in: a bearer token, or the login session behind a page cookie."""

    API = "api"
    PAGE = "page"


class ApiToken(Base):
    """A credential kept server-side (only its SHA-256), so that it can be listed and revoked: an API
    bearer token or a page session (the cookie carries the session's secret)."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(8), default=CredentialKind.API.value, server_default="api")
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    __table_args__ = (Index("ix_api_token_user", "user_id", "kind"),)


class LoginThrottle(Base):
    """Failed logins counted per account (the username typed, known or not) and per client address.
    In the database, so every web process sees the same counts."""

    __tablename__ = "login_throttle"
    scope: Mapped[str] = mapped_column(String(8), primary_key=True)  # ThrottleScope
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(Timestamp)


class ProcessDefinition(Base):
    """One procedure of the library; its versions hold the content."""

    __tablename__ = "process_definition"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    owner_role: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(64))
    latest_version: Mapped[int] = mapped_column(Integer, default=0)


class ProcessVersion(Base):
    __tablename__ = "process_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_key: Mapped[str] = mapped_column(ForeignKey("process_definition.key"))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    # The forms this version uses, frozen with it: {form_id: form-js schema}.
    forms: Mapped[dict] = mapped_column(JSON, default=dict)
    # The DMN decision tables it calls, frozen likewise: {decision_id: DMN XML}.
    decisions: Mapped[dict | None] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    deployed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    deployed_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
    # How it went live: library (bpm init/deploy) | api | direct (an admin, from the modeler) |
    # change (a 流程新增/变更审批 case, `change_instance_id`, approved by 总经理).
    source: Mapped[str | None] = mapped_column(String(16))
    change_instance_id: Mapped[int | None] = mapped_column(BigId)
    draft_id: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (UniqueConstraint("process_key", "version"),)


class ProcessDraft(Base):
    """A procedure being edited in the modeler: nothing runs it. It goes live as the next version
    through a process_change case (or an admin's direct deploy)."""

    __tablename__ = "process_draft"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(128))  # no FK: a new procedure has no definition yet
    name: Mapped[str] = mapped_column(String(255))
    base_version: Mapped[int | None] = mapped_column(Integer)  # the live version it was made from
    rollback_of: Mapped[int | None] = mapped_column(Integer)  # the old version it restores
    bpmn_xml: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict] = mapped_column(JSON, default=dict)  # {form_key: form-js schema}, frozen on activation
    state: Mapped[str] = mapped_column(String(16), default=DraftState.DRAFT)
    change_instance_id: Mapped[int | None] = mapped_column(BigId)
    activated_version: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    lock_version: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (Index("ix_process_draft_key", "process_key", "state"),)


class Instance(Base):
    __tablename__ = "instance"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(128))
    version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"))
    status: Mapped[str] = mapped_column(String(16))  # InstanceStatus
    initiator_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    initiator_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    title: Mapped[str] = mapped_column(String(255))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    # Pruned SpiffWorkflow state without the spec: size is bounded by the live part of the tree.
    state: Mapped[str | None] = mapped_column(Text)
    lock_version: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # The elements the case has passed through (a set, bounded by the diagram): the viewer's path.
    path: Mapped[list | None] = mapped_column(JSON)
    parent_instance_id: Mapped[int | None] = mapped_column(ForeignKey("instance.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    __table_args__ = (
        Index("ix_instance_initiator", "initiator_id", "created_at"),
        Index("ix_instance_status", "status", "created_at"),
    )


class Task(Base):
    """One person's (or one group's) piece of work on a user task: what the inbox reads.

    `kind` says how the row relates to the engine task `spiff_task_id` it acts on:
      task    the engine task itself (its id is the engine task's id)
      vote    one approver of a multi-person step (approvalMode all | any | sequential)
      signer  a person added before or after another row (加签); `origin_task_id` is that row
    """

    __tablename__ = "task"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36), nullable=True)  # always set; see migration 0004
    kind: Mapped[str] = mapped_column(String(8), default=TaskKind.TASK)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instance.id"))
    element_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(128))
    form_key: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))  # TaskRowState
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # 委派: the delegator, to whom the task comes back once the delegate has worked it.
    owner_id: Mapped[int | None] = mapped_column(Integer)  # a user id (no FK: added by ALTER on SQLite)
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decision: Mapped[str | None] = mapped_column(String(32))
    mode: Mapped[str | None] = mapped_column(String(16))  # a vote's approval mode
    seq: Mapped[int | None] = mapped_column(Integer)  # order of sequential votes
    origin_task_id: Mapped[str | None] = mapped_column(String(36))
    position: Mapped[str | None] = mapped_column(String(8))  # a signer's: before | after
    # A submission waiting on someone else: the origin's, carried by a signer added after it;
    # a delegate's, offered to the delegator when the task comes back.
    pending_data: Mapped[dict | None] = mapped_column(JSON)
    urged_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    due_at: Mapped[datetime | None] = mapped_column(Timestamp)
    __table_args__ = (
        Index("ix_task_instance", "instance_id", "state"),
        Index("ix_task_assignee", "assignee_id", "state", "created_at"),
        Index("ix_task_state_created", "state", "created_at"),
        Index("ix_task_completed_by", "completed_by", "completed_at"),
        Index("ix_task_spiff", "spiff_task_id"),
        # The open rows nobody has claimed: what a candidate's group tasks are probed against.
        Index(
            "ix_task_unclaimed",
            "id",
            postgresql_where=text("state = 'open' AND assignee_id IS NULL"),
            sqlite_where=text("state = 'open' AND assignee_id IS NULL"),
        ),
    )

    def is_overdue(self, now: datetime) -> bool:
        """Past its due time and not finished: what the inbox, the task page and the API call 逾期."""
        return self.due_at is not None and self.state in LIVE_TASK_STATES and self.due_at < now


class TaskCandidate(Base):
    __tablename__ = "task_candidate"
    task_id: Mapped[str] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    __table_args__ = (Index("ix_task_candidate_user", "user_id", "task_id"),)


class Event(Base):
    """Append-only history: never updated, never deleted."""

    __tablename__ = "event"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instance.id"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    element_id: Mapped[str | None] = mapped_column(String(255))
    decision: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSON)
    __table_args__ = (Index("ix_event_instance", "instance_id", "id"),)


class CaseCopy(Base):
    """抄送: a person copied on a case, who may then read it."""

    __tablename__ = "case_copy"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instance.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(Timestamp)
    __table_args__ = (UniqueConstraint("instance_id", "user_id"), Index("ix_case_copy_user", "user_id", "at"))


class Attachment(Base):
    """A file uploaded on a task. The content lives in the database, so every web process sees it."""

    __tablename__ = "attachment"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instance.id"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    __table_args__ = (Index("ix_attachment_instance", "instance_id", "id"),)


class Timer(Base):
    """A timer event an instance waits on, with its due time: what the scheduler scans."""

    __tablename__ = "timer"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instance.id"))
    task_id: Mapped[str] = mapped_column(String(36))  # the SpiffWorkflow task of the timer event
    element_id: Mapped[str] = mapped_column(String(255))
    due_at: Mapped[datetime] = mapped_column(Timestamp)
    # event: a BPMN timer event (task_id is its engine task); remind | due: a user task's deadline
    # (task_id is the task row; engine/runtime/deadlines.py), `action` its escalation from the diagram.
    kind: Mapped[str] = mapped_column(String(8), default=TimerKind.EVENT, server_default="event")
    action: Mapped[str | None] = mapped_column(String(255))
    # A scheduler's claim (engine/flows/timers.py): nobody else fires the row before the lease ends, so
    # a process that dies mid-fire delays it by one lease at most. Also "not before" for a retry.
    locked_by: Mapped[str | None] = mapped_column(String(128))
    locked_until: Mapped[datetime | None] = mapped_column(Timestamp)
    __table_args__ = (UniqueConstraint("instance_id", "task_id"), Index("ix_timer_due", "due_at"))


class StartSchedule(Base):
    """A timer start event of the live version of a procedure: when it next starts a case."""

    __tablename__ = "start_schedule"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_key: Mapped[str] = mapped_column(ForeignKey("process_definition.key"))
    element_id: Mapped[str] = mapped_column(String(255))
    expression: Mapped[str] = mapped_column(Text)
    next_due_at: Mapped[datetime | None] = mapped_column(Timestamp)  # None: no further occurrence
    last_fired_at: Mapped[datetime | None] = mapped_column(Timestamp)
    locked_by: Mapped[str | None] = mapped_column(String(128))  # as Timer's
    locked_until: Mapped[datetime | None] = mapped_column(Timestamp)
    __table_args__ = (UniqueConstraint("process_key", "element_id"), Index("ix_start_schedule_due", "next_due_at"))


class NumberSequence(Base):
    """Document and record numbers: one counter per name, incremented under a row lock, never reused.
    A counter belongs to the procedure whose case first used it (`process_key`); no other may advance it."""

    __tablename__ = "number_sequence"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    process_key: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Notification(Base):
    """An in-app notification: what the 通知 list and the unread badge read (engine/notifications/)."""

    __tablename__ = "notification"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(255))  # a site path: /tasks/<id>, /cases/<id>
    instance_id: Mapped[int | None] = mapped_column(BigId)  # no FK: a notice outlives nothing it names
    task_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(Timestamp)
    __table_args__ = (
        Index("ix_notification_user", "user_id", "id"),
        # The unread count in every page's nav: only the unread rows are indexed.
        Index(
            "ix_notification_unread",
            "user_id",
            postgresql_where=text("read_at IS NULL"),
            sqlite_where=text("read_at IS NULL"),
        ),
    )


class MailOutbox(Base):
    """An e-mail to send: written in the engine step's transaction, sent later by `deliver_outbox`
    with retry and back-off, so a mail server that is down loses nothing. Never deleted."""

    __tablename__ = "mail_outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    to_address: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str | None] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    # A deliverer's lease: others leave the row alone until locked_until (a dead process's lease expires).
    locked_by: Mapped[str | None] = mapped_column(String(128))
    locked_until: Mapped[datetime | None] = mapped_column(Timestamp)
    last_error: Mapped[str | None] = mapped_column(Text)
    failing_since: Mapped[datetime | None] = mapped_column(Timestamp)  # first failure since (re)queued
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp)
    __table_args__ = (
        # Sent rows pile up for ever; the deliverer only scans the pending ones.
        Index(
            "ix_mail_outbox_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_mail_outbox_status", "status", "id"),
    )


class NotificationOptOut(Base):
    """A kind of notification a user turned off on one channel. No row: on (the default)."""

    __tablename__ = "notification_optout"
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)  # in_app | email


class CodeQuarantine(Base):
    """A piece of diagram code (by the SHA-256 of its source) that ran into its limits: counted per hit,
    and paused once it reached BPM_SCRIPT_QUARANTINE_HITS, so it cannot stall the system again and
    again (engine/quarantine.py). Released by an admin, or by the next version, whose code differs."""

    __tablename__ = "code_quarantine"
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    process_key: Mapped[str | None] = mapped_column(String(64))
    element_id: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(Text)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_hit_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    paused_at: Mapped[datetime | None] = mapped_column(Timestamp)
    released_at: Mapped[datetime | None] = mapped_column(Timestamp)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
