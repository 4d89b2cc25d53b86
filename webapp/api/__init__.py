"""REST API under /api/v1 with flask-smorest: marshmallow schemas, OpenAPI at /api/v1/openapi.json."""
from __future__ import annotations

from flask import Flask, jsonify
from flask_smorest import Api, Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser

from engine.errors import (AssignmentError, AuthError, Conflict, DefinitionError, EngineError, Forbidden,
                           InvalidData, NotFound, TooLarge, TooManyRequests)

STATUS = {NotFound: 404, AuthError: 401, Forbidden: 403, Conflict: 409, InvalidData: 400,
          DefinitionError: 400, AssignmentError: 400, TooManyRequests: 429,
          TooLarge: 413}


class _Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400  # a malformed body is the client's error, said the same way everywhere


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = _Parser()


class _Api(Api):
    def handle_http_exception(self, error):
        data = getattr(error, "data", None) or {}
        messages = data.get("messages") or {}
        errors = {}
        for location in messages.values():  # flatten {"json": {field: [..]}}
            errors.update(location if isinstance(location, dict) else {"_schema": location})
        body = {"message": data.get("message") or _describe(error.code, error), "code": error.code}
        if errors:
            body["errors"] = errors
        response = jsonify(body)
        response.status_code = error.code or 500
        return response


def _describe(code, error):
    return {400: "请求格式错误", 401: "需要登录", 403: "无权操作", 404: "不存在", 405: "不支持该方法",
            413: "上传内容过大", 422: "请求数据有误", 500: "服务器内部错误"}.get(code, error.name)


def init_api(app: Flask) -> None:
    app.config.update(
        API_TITLE="流程管理系统 API", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1", OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={"components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]},
    )
    api = _Api(app)
    from webapp.api import attachments, auth, definitions, instances, notifications, processes, tasks, users
    for module in (auth, processes, definitions, instances, tasks, users, attachments, notifications):
        api.register_blueprint(module.blp, url_prefix="/api/v1")

    @app.errorhandler(EngineError)
    def engine_error(exc: EngineError):
        body = {"message": exc.message}
        if isinstance(exc, (InvalidData, DefinitionError)):
            body["errors"] = exc.errors
        response = jsonify(body)
        response.status_code = STATUS.get(type(exc), 400)
        if response.status_code == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, TooManyRequests) and exc.retry_after:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
