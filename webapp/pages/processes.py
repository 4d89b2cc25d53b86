"""流程清单 and what hangs off it: a procedure's versions, one version's diagram, a draft under review
(diagram + diff against the live version), and migrating running cases (admin)."""

from __future__ import annotations

from flask import g, render_template

from engine.definitions import catalogue, drafts
from engine.definitions import deploy as deployment
from engine.definitions import views as process_views
from engine.flows import changes
from webapp.auth import check_admin, is_admin
from webapp.i18n import N_
from webapp.pages import bp
from webapp.request_session import db_session

# The engine's catalogue values the templates translate with _(): named here so extraction keeps them.
CATALOGUE_TERMS = (
    N_("有效"),
    N_("有草稿"),
    N_("变更审批中"),
    N_("流程库导入"),
    N_("接口部署"),
    N_("管理员直接部署"),
    N_("变更审批生效"),
    N_("部署"),
)


@bp.route("/processes")
def processes():
    rows = catalogue.catalogue(db_session())
    return render_template(
        "processes.html", active="processes", rows=rows, may_create=bool(g.user.role_codes & drafts.EDITOR_ROLES)
    )


@bp.route("/processes/<key>")
def process(key: str):
    session, user = db_session(), g.user
    live = deployment.get_version(session, key)  # 404 page
    definition = process_views.definition(session, key)
    may_model = drafts.may_model(user, definition.owner_role)
    open_drafts = (
        [
            {
                "draft": d,
                "state": drafts.state_of(session, d),
                "editable": drafts.editable(session, d),
                "by": catalogue.display_names(session, [d.updated_by]).get(d.updated_by),
            }
            for d in drafts.for_process(session, key)
        ]
        if may_model
        else []
    )
    return render_template(
        "process.html",
        active="processes",
        definition=definition,
        live=live,
        versions=catalogue.versions(session, key),
        drafts=open_drafts,
        may_model=may_model,
        is_admin=is_admin(user),
    )


@bp.route("/processes/<key>/versions/<int:version>")
def process_version(key: str, version: int):
    session = db_session()
    shown = deployment.get_version(session, key, version)
    live = deployment.latest_version(session, key)
    return render_template(
        "version.html", active="processes", version=shown, live=live, forms=_form_fields(shown.forms or {})
    )


@bp.route("/drafts/<int:draft_id>")
def draft_review(draft_id: int):
    """What reviewers of a change see: the draft's diagram, marked, and the diff against the live version."""
    session = db_session()
    draft = changes.readable(session, draft_id, user=g.user)
    live = deployment.latest_version(session, draft.process_key)
    return render_template(
        "draft.html",
        active="processes",
        draft=draft,
        state=drafts.state_of(session, draft),
        live=live,
        diff=drafts.diff(session, draft),
        may_model=drafts.may_model(g.user, drafts.owner_role(session, draft.process_key)),
    )


@bp.route("/processes/<key>/migrate")
def migrate(key: str):
    session = db_session()
    check_admin(g.user, "只有系统管理员可以迁移运行中的案件")
    live = deployment.get_version(session, key)
    return render_template(
        "migrate.html", active="processes", live=live, cases=process_views.migratable_cases(session, key, live)
    )


def _form_fields(forms: dict) -> list[dict]:
    """Each frozen form with its fields' labels, for reading a version without the editor."""
    return [
        {
            "key": key,
            "fields": [
                (c.get("key"), c.get("label") or c.get("text") or "", c.get("type"))
                for c in (schema.get("components") or [])
                if c.get("key")
            ],
        }
        for key, schema in sorted(forms.items())
    ]
