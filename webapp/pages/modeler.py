"""The modeler (/modeler/<key>): bpmn-js with our properties panel and the form-js editor. The page
only carries what the script needs to start; it loads and saves through /api/v1."""

from __future__ import annotations

from flask import g, render_template, request

from engine.definitions import deploy as deployment
from engine.definitions import drafts
from engine.definitions import views as process_views
from engine.errors import NotFound
from webapp.auth import is_admin
from webapp.pages import bp
from webapp.request_session import db_session


@bp.route("/modeler/<key>")
def modeler(key: str):
    session, user = db_session(), g.user
    is_new = request.args.get("new") == "1"
    definition = drafts.check_may_model(session, user, key)  # 403 page
    live = deployment.latest_version(session, key)
    if live is None and not is_new:
        raise NotFound(f"流程不存在：{key}")
    draft_id = request.args.get("draft", type=int)
    if draft_id is None:  # go on with my newest draft of this procedure, as Camunda Modeler reopens a file
        for draft in drafts.for_process(session, key):
            if draft.created_by == user.id and drafts.editable(session, draft):
                draft_id = draft.id
                break
    elif not process_views.draft_exists(session, draft_id):
        raise NotFound(f"草稿不存在：{draft_id}")
    roles = [{"code": r.code, "name": r.name, "scope": r.scope} for r in process_views.roles(session)]
    return render_template(
        "modeler.html",
        active="processes",
        process_key=key,
        name=(definition.name if definition else key),
        live_version=live.version if live else None,
        draft_id=draft_id,
        is_new=live is None,
        can_deploy=is_admin(user),
        roles=roles,
    )
