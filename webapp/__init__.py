"""Flask app factory: the web pages and the REST API over the same engine."""

from __future__ import annotations

import os
import secrets

from flask import Flask
from werkzeug.routing import IntegerConverter

from engine.config import session_idle_minutes, session_max_hours
from engine.store.db import MAX_INTEGER, Database


class DatabaseInteger(IntegerConverter):
    """`<int:…>` in every route: 0 … the largest integer the database stores (also in the OpenAPI).
    Longer numbers do not match at all, so every method of the URL answers 404 (not 405)."""

    regex = r"\d{1,19}"

    def __init__(self, url_map, fixed_digits=0, min=0, max=MAX_INTEGER, signed=False):
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(
        SECRET_KEY=os.environ.get("BPM_SECRET_KEY") or _secret_key(),
        DATABASE_URL=os.environ.get("DATABASE_URL"),
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
        JSON_AS_ASCII=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=session_max_hours() * 3600,  # at the latest, log in again after this
        SESSION_IDLE_MINUTES=session_idle_minutes(),
        ATTACHMENT_MAX_BYTES=int(os.environ.get("BPM_ATTACHMENT_MAX_MB", "20")) * 1024 * 1024,
    )
    if config:
        app.config.update(config)
    app.json.ensure_ascii = False
    app.extensions["bpm_db"] = app.config.get("BPM_DATABASE") or Database(app.config.get("DATABASE_URL"))
    # Before any route is added: an id in a URL beyond what a database column holds names nothing (404),
    # instead of failing in the database driver.
    app.url_map.converters["int"] = DatabaseInteger

    from webapp import request_session, security

    security.init_app(app)
    request_session.init_app(app)

    from webapp.api import init_api

    api_blueprints = init_api(app)

    from webapp.pages import bp as pages_bp

    app.register_blueprint(pages_bp)

    from webapp import auth

    auth.init_app(app, api_blueprints=api_blueprints, page_blueprints={pages_bp.name})
    return app


def _secret_key() -> str:
    """A stable key per installation, so sessions survive restarts and are shared by workers."""
    from engine.config import PROJECT_ROOT

    path = PROJECT_ROOT / "instance" / "secret_key"
    path.parent.mkdir(exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()
