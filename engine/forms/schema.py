"""form-js forms on the server: options filled in, and every submission validated with marshmallow.

The browser renders the same JSON with the form-js viewer, but the server never trusts it.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

import re2
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from engine import limits
from engine.errors import InvalidData
from engine.org.service import department_options, user_options

log = logging.getLogger(__name__)

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
        parsers: dict[str, Callable[[str], date | time]] = {
            "date": date.fromisoformat,
            "time": time.fromisoformat,
            "datetime": datetime.fromisoformat,
        }
        try:
            return parsers.get(subtype, date.fromisoformat)(str(value)).isoformat()
        except ValueError:
            raise ValidationError(
                {
                    "date": "日期格式应为 YYYY-MM-DD",
                    "time": "时间格式应为 HH:MM",
                    "datetime": "日期时间格式应为 ISO 8601",
                }.get(subtype, "日期格式错误")
            ) from None


# ---- patterns: RE2 matches in time linear in the input, so no pattern can stall a submission -------

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # the refusal names the form and field; no stderr noise


@functools.lru_cache(maxsize=1024)
def compiled_pattern(pattern: str):
    """The pattern compiled by RE2; raises re2.error for what RE2 cannot do (backreferences, lookaround)."""
    return re2.compile(pattern, options=_RE2_OPTIONS)


RE2_REASONS = {
    "invalid escape sequence": "无效的转义（反向引用）",
    "invalid perl operator": "不支持的写法",
    "missing ]": "缺少 ]",
    "missing )": "缺少 )",
    "unexpected )": "多余的 )",
    "invalid repetition size": "重复次数无效（最多 1000）",
    "bad repetition operator": "重复符号用法错误",
    "trailing \\": "末尾多了 \\",
    "invalid character class": "字符类无效",
    "invalid named capture group": "命名分组无效",
}


def pattern_problem(pattern) -> str | None:
    if not isinstance(pattern, str):
        return "格式校验（pattern）应为正则表达式文本"
    try:
        compiled_pattern(pattern)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        kind, _, where = reason.partition(": ")
        advice = (
            "匹配引擎 RE2 为保证线性时间，不支持反向引用（\\1）和环视（(?=…)、(?!…)、(?<=…)、(?<!…)），请改写"
            if kind in ("invalid escape sequence", "invalid perl operator")
            else "请改正"
        )
        reason = f"{RE2_REASONS[kind]} {where}".strip() if kind in RE2_REASONS else reason
        return f"格式校验正则表达式“{pattern}”无法使用（{reason}）：{advice}"
    return None


class _Pattern(validate.Validator):
    """marshmallow's Regexp semantics (a match at the start of the value), through RE2."""

    error: str

    def __init__(self, pattern: str, error: str):
        self.regex, self.error = compiled_pattern(pattern), error

    def __call__(self, value):
        if self.regex.match(value) is None:
            raise ValidationError(self.error)
        return value


def _pattern_check(pattern) -> list:
    try:
        return [_Pattern(pattern, "格式不正确")]
    except (re2.error, TypeError):
        # Deploy refuses such a pattern; a version deployed before that check ignores it rather than
        # refusing every submission and leaving its cases stuck.
        log.warning("form pattern ignored, RE2 cannot compile it: %r", pattern)
        return []


def _length_checks(rules: dict, default_max: int) -> list[validate.Validator]:
    """The form's two bounds in one message; a form without a maximum is capped at `default_max`."""
    low, high = rules.get("minLength"), rules.get("maxLength")
    if low and high:
        return [validate.Length(min=low, max=high, error="长度应在 {min} 到 {max} 个字符之间")]
    at_most = validate.Length(max=high or default_max, error="长度不能超过 {max} 个字符")
    return [validate.Length(min=low, error="长度至少 {min} 个字符"), at_most] if low else [at_most]


class _Distinct(validate.Validator):
    """The same person, department or option twice in a list is a mistake (and would make two tasks)."""

    def __call__(self, value):
        seen, repeated = set(), []
        for item in value or []:
            key = json.dumps(item, sort_keys=True, ensure_ascii=False, default=str)
            if key in seen and item not in repeated:
                repeated.append(item)
            seen.add(key)
        if repeated:
            raise ValidationError(f"不能重复选择：{'、'.join(str(r) for r in repeated[:5])}")
        return value


def _list_checks() -> list:
    most = limits.LIST_ITEMS.value()
    return [validate.Length(max=most, error="最多 {max} 项")]


class _Scalar(fields.Raw):
    """An item of a list whose options come from elsewhere: text, a number or a flag, never a structure."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and len(value) > limits.TEXTFIELD_CHARS.value():
            raise ValidationError(f"长度不能超过 {limits.TEXTFIELD_CHARS.value()} 个字符")
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise ValidationError("应为文本或数字")
        return value


def form_problems(form: dict, form_key: str) -> list[str]:
    """What deploy refuses in a form: over the size limit, or a pattern RE2 cannot compile (each
    names the form and the field)."""
    size_kb = len(json.dumps(form, ensure_ascii=False).encode("utf-8")) / 1024
    if size_kb > limits.FORM_KB.value():
        return [
            f"表单 {form_key} 过大：{size_kb:.0f} KB，上限 {limits.FORM_KB.value()} KB（{limits.FORM_KB.variable}）"
        ]
    problems = []

    def walk(components):
        for comp in components or []:
            if not isinstance(comp, dict):
                continue
            declared = comp.get("validate")
            rules: dict = declared if isinstance(declared, dict) else {}
            if rules.get("pattern") not in (None, ""):
                problem = pattern_problem(rules["pattern"])
                if problem:
                    label = comp.get("label") or comp.get("key") or comp.get("id")
                    problems.append(
                        f"表单 {form_key} 的字段“{label}”（{comp.get('key') or comp.get('id')}）：{problem}"
                    )
            walk(comp.get("components"))

    walk(form.get("components"))
    return problems


def _field_for(comp: dict) -> fields.Field:
    rules = comp.get("validate") or {}
    required = bool(rules.get("required")) and not comp.get("conditional")
    kwargs: dict[str, Any] = {"required": required, "allow_none": not required, "error_messages": REQUIRED}
    kind = comp.get("type")
    options = [v.get("value") for v in comp.get("values") or []]
    checks: list[validate.Validator] = []
    if kind in ("textfield", "textarea"):
        checks.extend(
            _length_checks(rules, (limits.TEXTAREA_CHARS if kind == "textarea" else limits.TEXTFIELD_CHARS).value())
        )
        if rules.get("pattern"):
            checks.extend(_pattern_check(rules["pattern"]))
        if rules.get("validationType") == "email":
            checks.append(validate.Email(error="邮箱地址格式不正确"))
        if required:
            checks.append(validate.Regexp(r"\S", error="必填项"))
        return fields.String(validate=checks, **kwargs)
    if kind == "number":
        if rules.get("min") is not None or rules.get("max") is not None:
            checks.append(
                validate.Range(min=rules.get("min"), max=rules.get("max"), error="数值应在 {min} 到 {max} 之间")
            )
        return fields.Float(validate=checks, allow_nan=False, **kwargs)
    if kind == "checkbox":
        return fields.Boolean(**kwargs)
    if kind in ("radio", "select"):
        if options:
            checks.append(validate.OneOf(options, error="不是可选的值：{input}"))
        return fields.Raw(validate=checks, **kwargs)
    if kind in ("checklist", "taglist"):
        inner = fields.Raw(validate=validate.OneOf(options, error="不是可选的值：{input}")) if options else _Scalar()
        if required:
            checks.append(validate.Length(min=1, error="至少选择一项"))
        return fields.List(inner, validate=[*checks, *_list_checks(), _Distinct()], **kwargs)
    if kind == "datetime":
        return _IsoDate(metadata={"subtype": comp.get("subtype", "date")}, **kwargs)
    if kind in ("group", "dynamiclist"):
        nested = build_schema({"components": comp.get("components")})
        return (
            fields.List(fields.Nested(nested), validate=_list_checks(), **kwargs)
            if kind == "dynamiclist"
            else fields.Nested(nested, **kwargs)
        )
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
        if (
            DECISION in self.fields
            and COMMENT in self.fields
            and data.get(DECISION) == "reject"
            and not (data.get(COMMENT) or "").strip()
        ):
            raise ValidationError("退回时必须填写意见", field_name=COMMENT)


def validate_submission(form: dict, submitted: dict) -> dict:
    """The cleaned submission, or InvalidData with {field: [messages]}."""
    if not isinstance(submitted, dict):
        raise InvalidData({"_schema": ["提交的数据必须是 JSON 对象"]})
    try:
        return build_schema(form).load(submitted)
    except ValidationError as exc:
        raise InvalidData(_flatten(exc.messages)) from None


def _flatten(messages) -> dict:
    out = {}
    for key, value in messages.items():
        if isinstance(value, dict):
            value = [m for msgs in value.values() for m in (msgs if isinstance(msgs, list) else [msgs])]
        out[key] = [("未知字段" if m == "Unknown field." else m) for m in value]
    return out
