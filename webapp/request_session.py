"""One database session per request: a write transaction for unsafe methods, committed before the
response is sent so that a failed commit is answered as an error, never as a success.

A lock another transaction holds for longer than the lock timeout (SQLite "database is locked",
PostgreSQL lock_timeout, statement_timeout, a deadlock or a serialization failure) is answered
503 数据库繁忙 with Retry-After, on the API and on the pages: nothing was saved, sending it again is safe."""

from __future__ import annotations

from flask import Flask, current_app, g, jsonify, make_response, render_template, request
from flask_babel import gettext
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session

from engine.errors import InvalidData
from engine.store.db import is_busy

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
RETRY_AFTER_SECONDS = 5


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


def busy_response():
    """503 数据库繁忙: the API's JSON error under /api/, the error page elsewhere."""
    if request.path.startswith("/api/"):
        response = jsonify(message="数据库繁忙，请稍后重试", code=503)
    else:
        g.broken = True  # no badge counts in the layout: the database is what is busy
        response = make_response(
            render_template(
                "error.html", code=503, title=gettext("数据库繁忙"), message=gettext("数据库繁忙，请稍后重试")
            )
        )
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(DataError)
    def unstorable(exc: DataError):
        """A value the database cannot hold (PostgreSQL: a number beyond its column, text with a NUL
        byte) is the request's fault: a 400 through the usual error answer of the API or the pages."""
        return app.handle_user_exception(
            InvalidData({}, "请求中有数据库无法保存的值：数字超出范围，或文本含有 NUL 字符")
        )

    @app.errorhandler(OperationalError)
    def database_busy(exc: OperationalError):
        if not is_busy(exc):
            raise exc  # a fault, not contention: the usual 500
        return busy_response()

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
            response = busy_response()
        finally:
            session.close()
        return response

    @app.teardown_request
    def close(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()
