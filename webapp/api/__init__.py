"""REST API under /api/v1 with flask-smorest: marshmallow schemas, OpenAPI at /api/v1/openapi.json."""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import INCLUDE, Schema, fields
from webargs.flaskparser import FlaskParser

from engine.errors import EngineError
from webapp import errors


class _Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400  # a malformed body is the client's error, said the same way everywhere


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = _Parser()


class ErrorSchema(Schema):
    """Every error answer of the API (also those of the authentication and the routing)."""

    class Meta:
        unknown = INCLUDE  # an error may say more, e.g. when to try again

    message = fields.String(required=True, metadata={"description": "为人阅读的中文说明"})
    code = fields.Integer(metadata={"description": "the HTTP status"})
    errors = fields.Raw(
        metadata={
            "description": "what exactly is wrong: {field: [message]} for a request body or a form (nested for "
            "nested fields), [{element_id, message}] for a diagram that cannot be deployed",
            "oneOf": [
                {"type": "object", "additionalProperties": {}},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["message"],
                        "properties": {
                            "element_id": {"type": "string", "nullable": True},
                            "message": {"type": "string"},
                        },
                    },
                },
            ],
        }
    )


class _Api(Api):
    ERROR_SCHEMA = ErrorSchema  # documented as `Error`

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
        for name, value in error.get_headers():  # e.g. the Allow of a 405
            if name.lower() != "content-type":
                response.headers[name] = value
        return response


def _describe(code, error):
    if code == 405 and getattr(error, "valid_methods", None):
        allowed = "、".join(m for m in error.valid_methods if m not in ("HEAD", "OPTIONS"))
        return f"不支持 {request.method} 方法，此地址可用：{allowed}"
    return {
        400: "请求格式错误",
        401: "需要登录",
        403: "无权操作",
        404: "不存在",
        405: "不支持该方法",
        413: "上传内容过大",
        422: "请求数据有误",
        500: "服务器内部错误",
    }.get(code, error.name)


ERRORS_DESCRIPTION = (
    "Errors are `Error` objects: `message` (Chinese), `code` (the HTTP status) and, where there is more "
    "to say, `errors`. Every operation with `bearer` security answers 401 without a valid token, before "
    "its body is read. A method a path does not have is 405 with `Allow`. An id beyond 2^63 − 1 "
    "in a path is 404; such a number in a query or body is 400. 503 with `Retry-After`: the database "
    "was busy (a lock held elsewhere too long, a deadlock); nothing was saved and the request may be "
    "sent again."
)


def init_api(app: Flask) -> set[str]:
    """Register the operations; answers the names of their blueprints (authenticated in webapp/auth.py)."""
    app.config.update(
        API_TITLE="流程管理系统 API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
            "info": {"description": ERRORS_DESCRIPTION},
        },
    )
    api = _Api(app)
    from webapp.api import attachments, auth, definitions, instances, notifications, processes, tasks, users, vocabulary

    modules = (auth, processes, definitions, instances, tasks, users, attachments, notifications, vocabulary)
    for module in modules:
        api.register_blueprint(module.blp, url_prefix="/api/v1")
    app.register_error_handler(EngineError, errors.api_response)
    return {module.blp.name for module in modules}
