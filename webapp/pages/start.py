"""发起流程: the procedures this user may start, by category, with a search box."""

from __future__ import annotations

from flask import g, render_template, request

from engine.runtime import instances
from webapp.pages import bp
from webapp.request_session import db_session


@bp.route("/start")
def start():
    q = (request.args.get("q") or "").strip()
    groups: dict[str, list[dict]] = {}
    for definition, version in instances.startable(db_session(), g.user):
        if q and q.lower() not in definition.name.lower() and q.lower() not in definition.key.lower():
            continue
        groups.setdefault(definition.category or "", []).append(
            {"key": definition.key, "name": definition.name, "version": version.version}
        )
    return render_template("start.html", groups=sorted(groups.items(), key=lambda kv: (kv[0] == "", kv[0])), q=q)
