"""The restricted environment for script tasks and conditions.

Checked at deploy (no imports, no dunder or private attributes, no dangerous builtins) and
enforced at run time (an allow-list of builtins and a time limit).
"""
from __future__ import annotations

import ast
import builtins
import datetime
import sys
import time

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

SAFE_BUILTIN_NAMES = (
    "abs all any bool dict divmod enumerate filter float format frozenset int isinstance len list "
    "map max min next range reversed round set sorted str sum tuple zip True False None "
    "ValueError KeyError TypeError Exception"
).split()
SAFE_BUILTINS = {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES}
FORBIDDEN_NAMES = {
    "open", "exec", "eval", "compile", "getattr", "setattr", "delattr", "globals", "locals", "vars",
    "__import__", "input", "breakpoint", "help", "memoryview", "type", "object", "super", "classmethod",
    "staticmethod", "property", "dir", "id", "print", "exit", "quit",
}
SCRIPT_GLOBALS = {
    "__builtins__": SAFE_BUILTINS,
    "date": datetime.date, "datetime": datetime.datetime, "timedelta": datetime.timedelta,
}
TIME_LIMIT_SECONDS = 2.0


def check(source: str, *, expression: bool = False) -> list[str]:
    """Problems that make a script or condition unsafe or unparsable; empty when it may run."""
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
        elif isinstance(node, ast.Name) and (node.id.startswith("__") or node.id in FORBIDDEN_NAMES):
            problems.append(f"{where}不允许使用 {node.id}")
        elif isinstance(node, (ast.ClassDef, ast.AsyncFunctionDef, ast.Await, ast.Yield, ast.YieldFrom)):
            problems.append(f"{where}脚本不允许定义类或协程")
    return problems


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


class SandboxEnvironment(TaskDataEnvironment):
    def __init__(self):
        super().__init__(dict(SCRIPT_GLOBALS))

    def evaluate(self, expression, context, external_context=None):
        # Conditions are evaluated often; they were checked at deploy and have no loops.
        return super().evaluate(expression, context, external_context)

    def execute(self, script, context, external_context=None):
        return _run_with_time_limit(super().execute, script, context, external_context)


def script_engine() -> PythonScriptEngine:
    return PythonScriptEngine(environment=SandboxEnvironment())
