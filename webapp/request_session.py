"""One database session per request: a write transaction for unsafe methods, committed before the
response is sent so that a failed commit is answered as an error, never as a success."""
from __future__ import annotations

from flask import Flask, current_app, g, jsonify, request
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def db_session() -> Session:
    if "db_session" not in g:
        db = current_app.extensions["bpm_db"]
        g.db_session = db.Session() if request.method in SAFE_METHODS or _reads_only() else db.WriteSession()
    return g.db_session


def reads_only(view):
    """A POST that never writes (validation): a read transaction, so on SQLite it never takes the
    write lock, however long it runs."""
    view.reads_only = True  # functools.wraps carries it to the registered endpoint
    return view


def _reads_only() -> bool:
    return bool(getattr(current_app.view_functions.get(request.endpoint), "reads_only", False))


def init_app(app: Flask) -> None:
    @app.after_request
    def commit(response):
        session = g.pop("db_session", None)
        if session is None:
            return response
        try:
            if response.status_code < 400:
                session.commit()
            else:
                session.rollback()
        except OperationalError:
            session.rollback()
            response = jsonify(message="数据库繁忙，请稍后重试")
            response.status_code = 503
        finally:
            session.close()
        return response

    @app.teardown_request
    def close(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()
