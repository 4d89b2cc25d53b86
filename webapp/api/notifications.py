"""Notifications: my list and unread count, marking read, my channels per kind; the e-mail outbox (admin)."""

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from engine.notifications import inapp_list, present
from engine.notifications import settings as channel_settings
from engine.notifications.channels import email as email_channel
from webapp.api import Blueprint
from webapp.api.schemas import whole_number
from webapp.auth import current_user, require_role
from webapp.request_session import db_session

blp = Blueprint("notifications", __name__, description="通知：站内通知、邮件发件箱、每人的通知渠道设置")


class NotificationQuery(Schema):
    unread = fields.Boolean(
        load_default=False,
        metadata={"description": "1: only the unread ones"},
        error_messages={"invalid": "应为 0 或 1"},
    )
    limit = whole_number(1, 200, load_default=50)
    offset = whole_number(load_default=0)


class NotificationOut(Schema):
    id = fields.Integer()
    kind = fields.String(
        metadata={"description": "task | reminder | overdue | escalated | urged | copied | notify | completed"}
    )
    kind_label = fields.String()
    title = fields.String()
    body = fields.String(allow_none=True)
    link = fields.String(allow_none=True, metadata={"description": "a site path: /tasks/<id> or /cases/<id>"})
    instance_id = fields.Integer(allow_none=True)
    task_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)
    read = fields.Boolean()


class NotificationList(Schema):
    items = fields.List(fields.Nested(NotificationOut))
    unread = fields.Integer(metadata={"description": "my unread notifications in all"})


class ReadRequest(Schema):
    ids = fields.List(whole_number(), load_default=None, validate=validate.Length(max=500, error="一次最多 {max} 条"))
    all = fields.Boolean(load_default=False, error_messages={"invalid": "应为 true 或 false"})

    @validates_schema
    def _one_of(self, data, **_kwargs):
        if not data.get("all") and not data.get("ids"):
            raise ValidationError("请指定要标为已读的通知 ids，或 all: true 全部标为已读", "ids")


class ReadResult(Schema):
    updated = fields.Integer()
    unread = fields.Integer()


class KindSetting(Schema):
    class Meta:
        unknown = INCLUDE  # the engine names an unknown channel in Chinese

    kind = fields.String(required=True, error_messages={"required": "缺少通知类型 kind"})
    label = fields.String(dump_only=True)
    in_app = fields.Boolean(error_messages={"invalid": "应为 true 或 false"})
    email = fields.Boolean(error_messages={"invalid": "应为 true 或 false"})


class ChannelOut(Schema):
    channel = fields.String()
    label = fields.String()


class SettingsOut(Schema):
    kinds = fields.List(fields.Nested(KindSetting))
    channels = fields.List(fields.Nested(ChannelOut))
    email_configured = fields.Boolean(metadata={"description": "whether the server sends e-mail (BPM_SMTP_HOST)"})
    email = fields.String(allow_none=True, metadata={"description": "my address; without one, no e-mail"})


class SettingsRequest(Schema):
    kinds = fields.List(
        fields.Nested(KindSetting), required=True, error_messages={"required": "缺少 kinds：[{{kind, in_app, email}}]"}
    )


class OutboxQuery(Schema):
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(email_channel.OUTBOX_STATUSES, error="只能是 pending、sent 或 failed"),
    )
    limit = whole_number(1, 500, load_default=100)
    offset = whole_number(load_default=0)


class MailOut(Schema):
    id = fields.Integer()
    to_address = fields.String()
    user_id = fields.Integer(allow_none=True)
    kind = fields.String(allow_none=True)
    subject = fields.String()
    status = fields.String(metadata={"description": "pending | sent | failed"})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime()
    locked_by = fields.String(allow_none=True)
    locked_until = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


class OutboxList(Schema):
    items = fields.List(fields.Nested(MailOut))
    counts = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "mails by status: pending, sent, failed"},
    )


@blp.route("/notifications", methods=["GET"])
@blp.arguments(NotificationQuery, location="query")
@blp.response(200, NotificationList)
def list_notifications(args):
    """My notifications, newest first, and how many are unread."""
    session, user = db_session(), current_user()
    rows = inapp_list.list_for(session, user.id, unread=args["unread"], limit=args["limit"], offset=args["offset"])
    return {"items": [present.notification(r) for r in rows], "unread": inapp_list.unread_count(session, user.id)}


@blp.route("/notifications/read", methods=["POST"])
@blp.arguments(ReadRequest)
@blp.response(200, ReadResult)
def mark_read(body):
    """Mark some of my notifications read (`ids`), or all of them (`all: true`)."""
    session, user = db_session(), current_user()
    updated = inapp_list.mark_read(session, user.id, ids=body["ids"], all=body["all"])
    return {"updated": updated, "unread": inapp_list.unread_count(session, user.id)}


@blp.route("/users/me/notification-settings", methods=["GET"])
@blp.response(200, SettingsOut)
def get_settings():
    """Which kinds of notification I get on which channel (all on unless I turned them off)."""
    return channel_settings.of(db_session(), current_user())


@blp.route("/users/me/notification-settings", methods=["PUT"])
@blp.arguments(SettingsRequest)
@blp.response(200, SettingsOut)
def put_settings(body):
    """Turn channels on or off per kind; a channel left out of an entry keeps its setting."""
    return channel_settings.save(db_session(), current_user(), body["kinds"])


@blp.route("/notifications/outbox", methods=["GET"])
@require_role("admin")
@blp.arguments(OutboxQuery, location="query")
@blp.response(200, OutboxList)
def list_outbox(args):
    """The e-mail outbox, newest first (admin): `status=failed` shows the mails that did not go."""
    session = db_session()
    rows = email_channel.outbox(session, status=args["status"], limit=args["limit"], offset=args["offset"])
    return {"items": [present.mail(r) for r in rows], "counts": email_channel.outbox_counts(session)}


@blp.route("/notifications/outbox/<int:mail_id>/retry", methods=["POST"])
@require_role("admin")
@blp.response(200, MailOut)
def retry_mail(mail_id):
    """Put a failed mail back in the queue (admin): it is sent at the next tick."""
    return present.mail(email_channel.retry(db_session(), mail_id))
