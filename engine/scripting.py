"""The restricted environment for script tasks and every expression the engine evaluates.

Scripts are compiled with RestrictedPython (no underscore names, no frame/code introspection,
guarded attribute access, writes and iteration) and run with an allow-list of builtins and a
time limit. `check()` runs the same compilation at deploy, plus our own rules with clear messages.
"""
from __future__ import annotations

import ast
import datetime
import functools
import operator
import re
import sys
import time
from zoneinfo import ZoneInfo

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence,
                                     safe_builtins, safer_getattr)
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine import script_functions
from engine.config import timezone_name

EXTRA_BUILTINS = ("all any dict enumerate filter list map max min reversed set sorted sum "
                  "frozenset ValueError KeyError TypeError Exception").split()
FORBIDDEN_NAMES = {
    "open", "exec", "eval", "compile", "getattr", "setattr", "delattr", "globals", "locals", "vars",
    "input", "breakpoint", "help", "memoryview", "type", "object", "super", "classmethod",
    "staticmethod", "property", "dir", "print", "exit", "quit",
}
TIME_LIMIT_SECONDS = 2.0

_INPLACE = {"+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
            "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow}


def _inplacevar(op, x, y):
    if op not in _INPLACE:
        raise TypeError(f"不支持的运算 {op}")
    return _INPLACE[op](x, y)


def _builtins() -> dict:
    import builtins
    allowed = dict(safe_builtins)
    allowed.update({name: getattr(builtins, name) for name in EXTRA_BUILTINS})
    for name in FORBIDDEN_NAMES:
        allowed.pop(name, None)
    return allowed


SCRIPT_GLOBALS = {
    "__builtins__": _builtins(),
    "_getattr_": safer_getattr, "_getitem_": default_guarded_getitem, "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard, "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence, "_inplacevar_": _inplacevar,
    "date": datetime.date, "datetime": datetime.datetime, "timedelta": datetime.timedelta,
    **script_functions.SCRIPT_FUNCTIONS,
}


def check(source: str, *, expression: bool = False) -> list[str]:
    """Problems that make a script or expression unsafe or unparsable; empty when it may run."""
    try:
        tree = ast.parse(source, mode="eval" if expression else "exec")
    except SyntaxError as exc:
        return [f"语法错误（第 {exc.lineno} 行）：{exc.msg}"]
    problems = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        where = f"第 {line} 行：" if line else ""
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            problems.append(f"{where}脚本不允许 import")
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            problems.append(f"{where}脚本不允许 global/nonlocal")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            problems.append(f"{where}不允许访问以下划线开头的属性 {node.attr}")
        elif isinstance(node, ast.Name) and (node.id.startswith("_") or node.id in FORBIDDEN_NAMES):
            problems.append(f"{where}不允许使用 {node.id}")
        elif isinstance(node, (ast.ClassDef, ast.AsyncFunctionDef, ast.Await, ast.Yield, ast.YieldFrom)):
            problems.append(f"{where}脚本不允许定义类或协程")
    if problems:
        return problems
    result = (compile_restricted_eval if expression else compile_restricted_exec)(source)
    return [_translate(msg) for msg in result.errors]


def _translate(message: str) -> str:
    if "is a restricted name" in message or "is an invalid attribute name" in message:
        return f"不允许的名称或属性（{message}）"
    return message


@functools.lru_cache(maxsize=4096)
def _compiled(source: str, expression: bool):
    result = (compile_restricted_eval if expression else compile_restricted_exec)(source)
    if result.errors:
        raise SyntaxError("; ".join(result.errors))
    return result.code


class TimeLimitExceeded(Exception):
    pass


def _run_with_time_limit(func, *args):
    deadline = time.monotonic() + TIME_LIMIT_SECONDS

    def tracer(frame, event, arg):
        if time.monotonic() > deadline:
            raise TimeLimitExceeded(f"脚本运行超过 {TIME_LIMIT_SECONDS:g} 秒，已中止")
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        return func(*args)
    finally:
        sys.settrace(previous)


# Timers as other tools write them (`PT72H`, `2027-01-05T09:00:00+08:00`, `R/2027-01-01T09:00:00+08:00/P3M`)
# are ISO 8601 text, not Python: SpiffWorkflow evaluates every timer, so they evaluate to themselves.
ISO_8601_TIMER = re.compile(r"^(R\d*/)?(P(\d|T\d)[0-9YMWDTHS.,]*|\d{4}-\d{2}-\d{2}[0-9T:+\-.Z]*|\d{4}-?W\d{2}[0-9T:+\-.Z]*)"
                            r"(/(P(\d|T\d)[0-9YMWDTHS.,]*|\d{4}-\d{2}-\d{2}[0-9T:+\-.Z]*))?$")


def is_iso_8601_timer(text: str) -> bool:
    return bool(ISO_8601_TIMER.match(text.strip()))


def timer_value(value):
    """A timer's value as the ISO 8601 text SpiffWorkflow reads. A date or time without an offset
    (`2027-03-01` from a form, `2027-01-05T09:00:00` typed in a modeler) is the organisation's
    (BPM_TIMEZONE), not the server's: a date alone is its midnight there. Date objects become text."""
    if isinstance(value, datetime.date):  # and datetime
        value = value.isoformat()
    if not isinstance(value, str) or not is_iso_8601_timer(value):
        return value
    return "/".join(_zoned(part) for part in value.strip().split("/"))


_CALENDAR_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _zoned(part: str) -> str:
    if not _CALENDAR_DATE.match(part):
        return part  # a repetition (R3), a duration (P3M) or a week date
    try:
        moment = datetime.datetime.fromisoformat(part)
    except ValueError:
        return part  # SpiffWorkflow reports it, naming the element
    return part if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(timezone_name())).isoformat()


def _waits_on_timer(task) -> bool:
    """A timer event, or an event-based gateway with a timer among its events."""
    definition = getattr(task.task_spec, "event_definition", None)
    return any(isinstance(d, TimerEventDefinition)
               for d in (definition, *getattr(definition, "event_definitions", ())))


class SandboxEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment, given restricted code objects instead of source."""

    def __init__(self):
        super().__init__(dict(SCRIPT_GLOBALS))

    def evaluate(self, expression, context, external_context=None):
        if is_iso_8601_timer(expression):
            return expression.strip()
        return super().evaluate(_compiled(expression, True), context, external_context)

    def execute(self, script, context, external_context=None):
        return _run_with_time_limit(super().execute, _compiled(script, False), context, external_context)


class SandboxScriptEngine(PythonScriptEngine):
    """Expressions over the sandbox: a field the case lacks is named in Chinese; timers' values are
    read in the organisation's time zone."""

    def evaluate(self, task, expression, external_context=None):
        try:
            value = super().evaluate(task, expression, external_context)
        except WorkflowTaskException as exc:
            missing = exc.__context__
            if isinstance(missing, NameError) and missing.name:  # the case has no such field (yet)
                raise WorkflowTaskException(f"表达式 {expression.strip()} 出错：案件数据中没有 {missing.name}",
                                            task=task) from None
            raise
        return timer_value(value) if _waits_on_timer(task) else value


def script_engine() -> PythonScriptEngine:
    return SandboxScriptEngine(environment=SandboxEnvironment())
