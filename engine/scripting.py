"""The restricted environment for script tasks and every expression the engine evaluates.

Scripts are compiled with RestrictedPython (no underscore names, no frame/code introspection,
guarded attribute access, writes and iteration) and run with an allow-list of builtins.
`check()` runs the same compilation at deploy, plus our own rules with clear messages.

Where code runs: an expression whose shape bounds its cost (`is_bounded`: comparisons and boolean
logic over names and small constants, a few functions that read their argument once; no arithmetic,
loop, comprehension or other call) is evaluated here, as its cost is at most linear in the size of the
case's data. Every other script and expression runs in a worker process under CPU, wall-clock and
memory limits it cannot catch (engine/script_runner.py).
"""

from __future__ import annotations

import ast
import contextlib
import contextvars
import datetime
import functools
import re
from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy.orm import Session

from engine import clock, quarantine, script_runner
from engine.config import timezone_name
from engine.script_runner import EXTRA_BUILTINS, FORBIDDEN_NAMES, RESTRICTED_GLOBALS  # noqa: F401 (re-exported)
from engine.store.models import Instance
from engine.timing import cycle_problem

# ---- the step's context and the functions every sandbox has ----------------------------------------

_session: contextvars.ContextVar[Session | None] = contextvars.ContextVar("script_session", default=None)
_instance_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("script_instance", default=None)


@contextlib.contextmanager
def scripts_use(session: Session, instance_id: int | None = None):
    """Let scripts run in this block read and number within `session`'s transaction, on behalf of
    the case `instance_id`."""
    token, case_token = _session.set(session), _instance_id.set(instance_id)
    try:
        yield
    finally:
        _session.reset(token)
        _instance_id.reset(case_token)


def running_case() -> tuple[Session | None, int | None]:
    """The session and case the engine step now running scripts works in; (None, None) outside one."""
    return _session.get(), _instance_id.get()


def _local_now() -> datetime.datetime:
    return clock.now().astimezone(ZoneInfo(timezone_name()))


def today():
    return _local_now().date()


def now():
    return _local_now().replace(tzinfo=None, microsecond=0)


CLOCK_FUNCTIONS: Mapping[str, Callable] = {"today": today, "now": now}  # they need no case: timer starts use them


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


# Timers as other tools write them (`PT72H`, `2027-01-05T09:00:00+08:00`, `R/2027-01-01T09:00:00+08:00/P3M`)
# are ISO 8601 text, not Python: SpiffWorkflow evaluates every timer, so they evaluate to themselves.
ISO_8601_TIMER = re.compile(
    r"^(R\d*/)?(P(\d|T\d)[0-9YMWDTHS.,]*|\d{4}-\d{2}-\d{2}[0-9T:+\-.Z]*|\d{4}-?W\d{2}[0-9T:+\-.Z]*)"
    r"(/(P(\d|T\d)[0-9YMWDTHS.,]*|\d{4}-\d{2}-\d{2}[0-9T:+\-.Z]*))?$"
)


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
    return any(isinstance(d, TimerEventDefinition) for d in (definition, *getattr(definition, "event_definitions", ())))


# ---- which expressions may run in this process ---------------------------------------------------

_BOUNDED_NODES = (
    ast.Expression,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Compare,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.IfExp,
    ast.Attribute,
    ast.Subscript,
    ast.Tuple,
    ast.List,
    ast.Set,
    ast.Call,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
)
# Functions that read their argument once and build nothing (no `str(…)`, `int(…)` of data: converting a
# long number or text costs more than reading it; no arithmetic at all: `a // b` of long numbers does).
_BOUNDED_CALLS = {"len", "bool", "any", "all", "min", "max", "today", "now"}
_LARGEST_BOUNDED_NUMBER = 10**6


@functools.lru_cache(maxsize=4096)
def is_bounded(expression: str) -> bool:
    """Whether an expression may run in this process without a worker: comparisons and `and`/`or`/`not`
    of names, attributes, items and small constants, and a few functions that read their argument once.
    Its cost is then at most linear in the size of the case data (itself bounded: forms cap what people
    submit, and the worker what a script writes back)."""
    try:
        tree = ast.parse(expression, mode="eval")
    except (SyntaxError, RecursionError, ValueError, MemoryError):
        return False
    for node in ast.walk(tree):
        if not isinstance(node, _BOUNDED_NODES):
            return False
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name)
            and node.func.id in _BOUNDED_CALLS
            and not node.keywords
            and not any(isinstance(a, ast.Starred) for a in node.args)
        ):
            return False
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, (int, float, complex))
            and not isinstance(node.value, bool)
            and abs(node.value) > _LARGEST_BOUNDED_NUMBER
        ):
            return False
    return True


class SandboxEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment, given restricted code objects instead of source. Code
    that is not bounded by its shape runs in a worker process under hard limits; the script functions
    it calls run here, in the step's transaction."""

    def __init__(self, functions: Mapping[str, Callable], pool: script_runner.Pool | None = None):
        self.functions = dict(functions)
        super().__init__({**RESTRICTED_GLOBALS, **self.functions})
        self._pool = pool

    @property
    def pool(self) -> script_runner.Pool:
        return self._pool or script_runner.default_pool()

    def evaluate(self, expression, context, external_context=None):
        if is_iso_8601_timer(expression):
            return expression.strip()
        if is_bounded(expression):
            return super().evaluate(script_runner.compiled(expression, True), context, external_context)
        return self.pool.run("eval", expression, context, external_context, self.functions)

    def execute(self, script, context, external_context=None):
        self.check_for_overwrite(context, external_context or {})
        result = self.pool.run("exec", script, context, external_context, self.functions)
        context.clear()
        context.update(result)
        return True


class SandboxScriptEngine(PythonScriptEngine):
    """Expressions over the sandbox: a field the case lacks is named in Chinese; timers' values are
    read in the organisation's time zone. Code that is paused for running into its limits again and
    again (engine/quarantine.py) is not started; each new hit is counted."""

    def execute(self, task, script, external_context=None):
        self._refuse_if_paused(task, script)
        try:
            return super().execute(task, script, external_context)
        except WorkflowTaskException as exc:
            self._count_hit(task, script, exc)
            raise

    def _refuse_if_paused(self, task, source: str) -> None:
        session, process_key = _running_procedure()
        row = quarantine.paused(session, source, process_key) if session is not None else None
        if row is not None:
            raise WorkflowTaskException(quarantine.pause_message(row), task=task)

    def _count_hit(self, task, source: str, exc: WorkflowTaskException) -> None:
        session, process_key = _running_procedure()
        limit = exc.__context__
        if session is not None and isinstance(limit, script_runner.ScriptLimitExceeded):
            quarantine.record_hit(
                session, source, process_key=process_key, element_id=task.task_spec.bpmn_id, error=str(limit)
            )

    def get_error_line_number_and_content(self, script, err):
        line = getattr(err, "script_lineno", 0)  # the traceback is the worker's
        if line:
            lines = script.splitlines()
            return line, lines[line - 1] if line <= len(lines) else ""
        return super().get_error_line_number_and_content(script, err)

    def evaluate(self, task, expression, external_context=None):
        guarded = not (is_iso_8601_timer(expression) or is_bounded(expression))
        if guarded:
            self._refuse_if_paused(task, expression)
        try:
            value = super().evaluate(task, expression, external_context)
        except WorkflowTaskException as exc:
            if guarded:
                self._count_hit(task, expression, exc)
            cause = exc.__context__
            if isinstance(cause, NameError) and cause.name:  # the case has no such field (yet)
                raise WorkflowTaskException(
                    f"表达式 {expression.strip()} 出错：案件数据中没有 {cause.name}", task=task
                ) from None
            if isinstance(cause, Exception) and not isinstance(exc.__cause__, WorkflowTaskException):
                detail = (
                    cause
                    if isinstance(cause, (script_runner.ScriptLimitExceeded, script_runner.ScriptError))
                    else f"{type(cause).__name__}: {cause}"
                )
                raise WorkflowTaskException(f"表达式 {expression.strip()} 出错：{detail}", task=task) from None
            raise
        if not _waits_on_timer(task):
            return value
        value = timer_value(value)
        problem = cycle_problem(value) if isinstance(value, str) else None
        if problem:  # a cycle computed from the case's data: refused as the diagram's text is at deploy
            raise WorkflowTaskException(problem, task=task)
        return value


def _running_procedure():
    """The session of the engine step running code now, and its case's procedure; (None, None) outside one."""
    session, instance_id = running_case()
    case = session.get(Instance, instance_id) if session is not None and instance_id is not None else None
    return session, case.process_key if case is not None else None


def script_engine(functions: Mapping[str, Callable] = CLOCK_FUNCTIONS) -> PythonScriptEngine:
    """A script engine whose code may call `functions` besides the sandbox's builtins (the runtime gives
    its table, engine/runtime/script_functions.py)."""
    return SandboxScriptEngine(environment=SandboxEnvironment(functions))
