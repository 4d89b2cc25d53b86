"""form-js forms on the server: options filled in, and every submission validated with marshmallow.

The browser renders the same JSON with the form-js viewer, but the server never trusts it.
"""
from __future__ import annotations

import copy
from datetime import date, datetime, time

from marshmallow import Schema, ValidationError, fields, validate, validates_schema, RAISE
from sqlalchemy.orm import Session

from engine.errors import InvalidData
from engine.org.service import department_options, user_options

NO_DATA = {"text", "image", "spacer", "separator", "button", "html", "iframe", "table", "expression"}
OPTION_SOURCES = {"users": user_options, "departments": department_options}
REQUIRED = {"required": "必填项"}
# Approval steps reject with a reason (PROCEDURES.md conventions).
DECISION, COMMENT = "decision", "comment"


def _components(components):
    """Data-carrying components, flattening groups that do not nest their data under a path."""
    for comp in components or []:
        if comp.get("type") in ("group", "dynamiclist") and comp.get("components") is not None:
            if comp.get("path"):
                yield comp  # nested object/list: validated as a whole by its own schema
            else:
                yield from _components(comp["components"])
        elif comp.get("key") and comp.get("type") not in NO_DATA:
            yield comp


def fill_options(form: dict, session: Session) -> dict:
    """A copy of the form with people/department selects given their current options."""
    filled = copy.deepcopy(form)
    cache: dict[str, list] = {}

    def walk(components):
        for comp in components or []:
            source = (comp.get("properties") or {}).get("options")
            if source in OPTION_SOURCES:
                if source not in cache:
                    cache[source] = OPTION_SOURCES[source](session)
                comp["values"] = cache[source]
            walk(comp.get("components"))

    walk(filled.get("components"))
    return filled


class _IsoDate(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        subtype = self.metadata.get("subtype", "date")
        parsers = {"date": date.fromisoformat, "time": time.fromisoformat, "datetime": datetime.fromisoformat}
        try:
            return parsers.get(subtype, date.fromisoformat)(str(value)).isoformat()
        except ValueError:
            raise ValidationError({"date": "日期格式应为 YYYY-MM-DD", "time": "时间格式应为 HH:MM",
                                   "datetime": "日期时间格式应为 ISO 8601"}.get(subtype, "日期格式错误"))


def _field_for(comp: dict) -> fields.Field:
    rules = comp.get("validate") or {}
    required = bool(rules.get("required")) and not comp.get("conditional")
    kwargs = {"required": required, "allow_none": not required, "error_messages": REQUIRED}
    kind = comp.get("type")
    options = [v.get("value") for v in comp.get("values") or []]
    checks = []
    if kind in ("textfield", "textarea"):
        if rules.get("minLength") or rules.get("maxLength"):
            checks.append(validate.Length(min=rules.get("minLength"), max=rules.get("maxLength"),
                                          error="长度应在 {min} 到 {max} 个字符之间"))
        if rules.get("pattern"):
            checks.append(validate.Regexp(rules["pattern"], error="格式不正确"))
        if rules.get("validationType") == "email":
            checks.append(validate.Email(error="邮箱地址格式不正确"))
        if required:
            checks.append(validate.Regexp(r"\S", error="必填项"))
        return fields.String(validate=checks, **kwargs)
    if kind == "number":
        if rules.get("min") is not None or rules.get("max") is not None:
            checks.append(validate.Range(min=rules.get("min"), max=rules.get("max"),
                                         error="数值应在 {min} 到 {max} 之间"))
        return fields.Float(validate=checks, allow_nan=False, **kwargs)
    if kind == "checkbox":
        return fields.Boolean(**kwargs)
    if kind in ("radio", "select"):
        if options:
            checks.append(validate.OneOf(options, error="不是可选的值：{input}"))
        return fields.Raw(validate=checks, **kwargs)
    if kind in ("checklist", "taglist"):
        inner = fields.Raw(validate=validate.OneOf(options, error="不是可选的值：{input}")) if options else fields.Raw()
        if required:
            checks.append(validate.Length(min=1, error="至少选择一项"))
        return fields.List(inner, validate=checks, **kwargs)
    if kind == "datetime":
        return _IsoDate(metadata={"subtype": comp.get("subtype", "date")}, **kwargs)
    if kind in ("group", "dynamiclist"):
        nested = build_schema({"components": comp.get("components")})
        return (fields.List(fields.Nested(nested), **kwargs) if kind == "dynamiclist"
                else fields.Nested(nested, **kwargs))
    return fields.Raw(**kwargs)


def build_schema(form: dict) -> Schema:
    declared = {}
    for comp in _components(form.get("components")):
        if comp.get("readonly") is True or comp.get("disabled") is True:
            continue  # shown, never written by the submitter
        key = comp.get("path") if comp.get("type") in ("group", "dynamiclist") else comp["key"]
        declared[key] = _field_for(comp)
    return type("FormSchema", (_FormSchema,), declared)()


class _FormSchema(Schema):
    class Meta:
        unknown = RAISE

    @validates_schema
    def _require_reason(self, data, **kwargs):
        if (DECISION in self.fields and COMMENT in self.fields and data.get(DECISION) == "reject"
                and not (data.get(COMMENT) or "").strip()):
            raise ValidationError("退回时必须填写意见", field_name=COMMENT)


def validate_submission(form: dict, submitted: dict) -> dict:
    """The cleaned submission, or InvalidData with {field: [messages]}."""
    if not isinstance(submitted, dict):
        raise InvalidData({"_schema": ["提交的数据必须是 JSON 对象"]})
    try:
        return build_schema(form).load(submitted)
    except ValidationError as exc:
        raise InvalidData(_flatten(exc.messages))


def _flatten(messages) -> dict:
    out = {}
    for key, value in messages.items():
        if isinstance(value, dict):
            value = [m for msgs in value.values() for m in (msgs if isinstance(msgs, list) else [msgs])]
        out[key] = [("未知字段" if m == "Unknown field." else m) for m in value]
    return out
