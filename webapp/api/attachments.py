"""Attachments: upload on a task, list a case's, download one (pages use the same URLs)."""

import io

from flask import current_app, send_file, url_for

from engine.runtime import attachments as engine
from engine.runtime import instances
from webapp.api import Blueprint
from webapp.api.schemas import AttachmentOut, AttachmentUpload
from webapp.auth import current_user
from webapp.request_session import db_session

blp = Blueprint("attachments", __name__, description="附件")


def _with_url(item: dict) -> dict:
    return {**item, "url": url_for("attachments.download_attachment", attachment_id=item["id"])}


@blp.route("/tasks/<task_id>/attachments", methods=["POST"])
@blp.arguments(AttachmentUpload, location="files")
@blp.response(201, AttachmentOut)
def upload_attachment(files, task_id):
    """Attach a file to the case, on a task you may act on now.

    Allowed: office documents, images, text, mail and archives, up to ATTACHMENT_MAX_BYTES (413
    beyond); the content must match the extension (400 otherwise). The same file uploaded twice on
    the same task is stored once."""
    session = db_session()
    user = current_user()
    limit = current_app.config["ATTACHMENT_MAX_BYTES"]
    upload = files["file"]
    data = upload.stream.read(limit + 1)  # one byte past the limit is enough to refuse it
    attachment = engine.add(session, task_id=task_id, user=user, filename=upload.filename, data=data, max_bytes=limit)
    return _with_url(engine.describe(session, attachment))


@blp.route("/instances/<int:instance_id>/attachments", methods=["GET"])
@blp.response(200, AttachmentOut(many=True))
def list_attachments(instance_id):
    """The case's attachments in upload order (without content), for anyone who may view the case."""
    session = db_session()
    instance = instances.get(session, instance_id, user=current_user())
    return [_with_url(item) for item in engine.for_instance(session, instance.id)]


@blp.route("/attachments/<int:attachment_id>", methods=["GET"])
@blp.response(200, description="the file, always as a download", content_type="application/octet-stream")
def download_attachment(attachment_id):
    """The file's bytes with the content type determined on upload, as a download."""
    session = db_session()
    attachment = engine.get(session, attachment_id, user=current_user())
    response = send_file(
        io.BytesIO(attachment.content),
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=attachment.filename,
        etag=attachment.sha256,
        last_modified=attachment.uploaded_at,
    )
    response.content_type = attachment.content_type  # send_file would add a second charset to text types
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Opened directly anyway, the file may not run script or load anything.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.cache_control.private = True
    return response
