"""Engine errors (engine/errors.py) as HTTP answers, for the API and the pages alike: one status per class.

The API answers every status with its JSON `Error` body. The pages have an error page only for what a
person can do something about there (无权访问 403, 页面不存在 404); anything else the engine refuses shows
as 请求有误 (400)."""

from __future__ import annotations

from flask import Response, jsonify

from engine.errors import (
    AssignmentError,
    AuthError,
    Conflict,
    DefinitionError,
    EngineError,
    Forbidden,
    InvalidData,
    NotFound,
    TooLarge,
    TooManyRequests,
)

STATUS: dict[type[EngineError], int] = {
    NotFound: 404,
    AuthError: 401,
    Forbidden: 403,
    Conflict: 409,
    InvalidData: 400,
    DefinitionError: 400,
    AssignmentError: 400,
    TooManyRequests: 429,
    TooLarge: 413,
}
PAGE_STATUSES = {403, 404}


def status_of(exc: EngineError) -> int:
    """The status of the error's own class or of the nearest class it derives from (DiagramTooLarge is
    a DefinitionError)."""
    return next((STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS), 400)


def page_status_of(exc: EngineError) -> int:
    status = status_of(exc)
    return status if status in PAGE_STATUSES else 400


def api_response(exc: EngineError) -> Response:
    """The API's `Error` body: message, code, and what exactly is wrong when the engine says."""
    status = status_of(exc)
    body: dict = {"message": exc.message, "code": status}
    if isinstance(exc, (InvalidData, DefinitionError)):
        body["errors"] = exc.errors
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyRequests) and exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response
