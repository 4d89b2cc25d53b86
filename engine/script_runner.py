"""Where diagram code runs: worker processes under limits the code can neither catch nor avoid.

A script or expression that is not bounded by its shape (engine/scripting.py decides) runs in a
worker process of its own. The worker sets its own CPU-time (RLIMIT_CPU: the kernel kills it) and
address-space (RLIMIT_AS: allocations fail) limits before it runs anything, and the parent kills it
when the wall-clock limit passes, so no exception handler, C-level loop or huge allocation in the
code can hold a request, a scheduler thread or a database lock for longer than the limits. A killed
worker is replaced; the step that ran it fails with a message that names the limit.

The script functions (`next_number`, `today`, …) run in the parent, in the step's transaction: the
worker asks for them over the pipe, at most BPM_SCRIPT_FUNCTION_CALLS times and for at most
BPM_SCRIPT_FUNCTION_SECONDS in all. What the worker sends back is JSON (dates, times, durations,
decimals and sets tagged), written by the worker under its own limits and at most BPM_SCRIPT_RESULT_KB:
the parent only parses text of a bounded size, which cannot make it run or build anything more.

Run as `python -m engine.script_runner`: the worker's main loop.
"""

from __future__ import annotations

import atexit
import builtins
import collections.abc
import contextlib
import datetime
import decimal
import json
import math
import operator
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
)

from engine import limits

# ---- the restricted namespace (the same in the worker and for bounded expressions in the parent) ----

EXTRA_BUILTINS = [
    "all",
    "any",
    "dict",
    "enumerate",
    "filter",
    "list",
    "map",
    "max",
    "min",
    "reversed",
    "set",
    "sorted",
    "sum",
    "frozenset",
    "ValueError",
    "KeyError",
    "TypeError",
    "Exception",
]
FORBIDDEN_NAMES = {
    "open",
    "exec",
    "eval",
    "compile",
    "getattr",
    "setattr",
    "delattr",
    "globals",
    "locals",
    "vars",
    "input",
    "breakpoint",
    "help",
    "memoryview",
    "type",
    "object",
    "super",
    "classmethod",
    "staticmethod",
    "property",
    "dir",
    "print",
    "exit",
    "quit",
}

_INPLACE = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
}


def _inplacevar(op, x, y):
    if op not in _INPLACE:
        raise TypeError(f"不支持的运算 {op}")
    return _INPLACE[op](x, y)


def _builtins() -> dict:
    allowed = dict(safe_builtins)
    allowed.update({name: getattr(builtins, name) for name in EXTRA_BUILTINS})
    for name in FORBIDDEN_NAMES:
        allowed.pop(name, None)
    return allowed


RESTRICTED_GLOBALS = {
    "__builtins__": _builtins(),
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": _inplacevar,
    "date": datetime.date,
    "datetime": datetime.datetime,
    "timedelta": datetime.timedelta,
}

_compiled_cache: dict[tuple[str, bool], object] = {}


def compiled(source: str, expression: bool):
    """The restricted code object of a script (exec) or an expression (eval); SyntaxError if refused."""
    key = (source, expression)
    code = _compiled_cache.get(key)
    if code is None:
        result = (compile_restricted_eval if expression else compile_restricted_exec)(source)
        if result.errors:
            raise SyntaxError("; ".join(result.errors))
        if len(_compiled_cache) > 4096:
            _compiled_cache.clear()
        code = _compiled_cache[key] = result.code
    return code


def remove_globals_and_functions(context: dict, names, external_context: dict | None) -> None:
    """What a script leaves behind, as SpiffWorkflow keeps it: no builtins, functions or globals."""
    for key in list(context):
        if (
            key == "__builtins__"
            or callable(context[key])
            or key in names
            or (external_context and key in external_context)
        ):
            context.pop(key)


# ---- limits --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    cpu_seconds: float
    wall_seconds: float
    memory_mb: int
    result_kb: int = limits.SCRIPT_RESULT_KB.default
    function_calls: int = limits.SCRIPT_FUNCTION_CALLS.default
    function_seconds: float = limits.SCRIPT_FUNCTION_SECONDS.default

    @classmethod
    def from_environment(cls) -> Limits:
        return cls(
            cpu_seconds=limits.SCRIPT_CPU_SECONDS.value(),
            wall_seconds=limits.SCRIPT_WALL_SECONDS.value(),
            memory_mb=limits.SCRIPT_MEMORY_MB.value(),
            result_kb=limits.SCRIPT_RESULT_KB.value(),
            function_calls=limits.SCRIPT_FUNCTION_CALLS.value(),
            function_seconds=limits.SCRIPT_FUNCTION_SECONDS.value(),
        )


class ScriptLimitExceeded(Exception):
    """Diagram code went past a limit and was stopped; the message names the limit."""


class ScriptError(Exception):
    """Diagram code raised something the parent does not re-create as itself (SystemExit and the
    like included): an ordinary Exception here, so every `except Exception` of the engine handles it."""


# ---- the wire: length-prefixed frames; pickle to the worker, tagged JSON back from it ---------------

_HEADER = struct.Struct("!I")
_TAG = "$bpm"  # {"$bpm": kind, "v": text}: what JSON has no type for
_ERROR_TEXT = 500  # characters of an exception's text kept: a message, not a way to fill the database


class ResultTooLarge(Exception):
    pass


def _tagged(value):
    if isinstance(value, datetime.datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, datetime.date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, datetime.time):
        return {_TAG: "time", "v": value.isoformat()}
    if isinstance(value, datetime.timedelta):
        return {_TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, decimal.Decimal):
        return {_TAG: "decimal", "v": str(value)}
    if isinstance(value, (set, frozenset)):
        return {_TAG: "set", "v": list(value)}
    if isinstance(
        value,
        (
            collections.abc.KeysView,
            collections.abc.ValuesView,
            collections.abc.ItemsView,
            collections.abc.Iterator,
            range,
        ),
    ):
        return list(value)  # what an expression's view or iterator stands for
    raise TypeError(f"{type(value).__name__} 类型的值不能保存为案件数据")


_UNTAG: dict[str, Callable[[Any], Any]] = {
    "datetime": datetime.datetime.fromisoformat,
    "date": datetime.date.fromisoformat,
    "time": datetime.time.fromisoformat,
    "decimal": decimal.Decimal,
    "set": set,
    "timedelta": lambda parts: datetime.timedelta(days=parts[0], seconds=parts[1], microseconds=parts[2]),
}


def _untagged(obj: dict):
    if len(obj) == 2 and _TAG in obj and "v" in obj and obj[_TAG] in _UNTAG:
        return _UNTAG[obj[_TAG]](obj["v"])
    return obj


def _frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload)) + payload


def _send_trusted(stream, message) -> None:
    """Parent to worker: a pickle (the parent is trusted by the worker, not the other way round)."""
    stream.write(_frame(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)))
    stream.flush()


def _send_json(stream, message, max_bytes: int) -> None:
    """Worker to parent: JSON written here, under the worker's limits, refused beyond `max_bytes`."""
    payload = json.dumps(message, default=_tagged, ensure_ascii=False).encode("utf-8")
    if len(payload) > max_bytes:
        raise ResultTooLarge(f"脚本结果过大（{len(payload) // 1024} KB，上限 {max_bytes // 1024} KB）")
    stream.write(_frame(payload))
    stream.flush()


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes | None:
    """`size` bytes from `fd`; None at end of file; TimeoutError past `deadline` (monotonic)."""
    chunks, remaining = [], size
    while remaining:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _receive_frame(fd: int, deadline: float | None, max_bytes: int | None = None) -> bytes | None:
    header = _read_exactly(fd, _HEADER.size, deadline)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if max_bytes is not None and size > max_bytes:
        raise ResultTooLarge(f"脚本结果过大（上限 {max_bytes // 1024} KB）")
    return _read_exactly(fd, size, deadline)


# ---- the parent side -----------------------------------------------------------------------------

_WORKER_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "HOME", "VIRTUAL_ENV", "SYSTEMROOT")


class _Worker:
    def __init__(self, limits: Limits):
        package_root = str(Path(__file__).resolve().parent.parent)
        # None of the process's secrets (database URL, secret key, SMTP password) go to the worker.
        env = {name: os.environ[name] for name in _WORKER_ENVIRONMENT if name in os.environ}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        env["BPM_SCRIPT_MEMORY_MB"] = str(limits.memory_mb)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine.script_runner"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=package_root,
            close_fds=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None  # both asked for: PIPE
        self.requests: IO[bytes] = self.process.stdin
        self.replies: IO[bytes] = self.process.stdout
        self.limits = limits

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.requests, self.replies):
            with contextlib.suppress(OSError):
                stream.close()

    def run(self, mode: str, source: str, context: dict, external: dict | None, functions: dict):
        """Run one piece of code; answers what the worker sent back, serving its calls of
        `functions` meanwhile. Raises ScriptLimitExceeded (and leaves the worker dead) past a limit."""
        limits = self.limits
        _send_trusted(
            self.requests,
            ("run", mode, source, context, external, sorted(functions), limits.cpu_seconds, limits.result_kb * 1024),
        )
        deadline = time.monotonic() + limits.wall_seconds  # the code's own time
        function_time, calls = 0.0, 0
        fd = self.replies.fileno()
        while True:
            try:
                payload = _receive_frame(fd, deadline + function_time, limits.result_kb * 1024 + 4096)
            except TimeoutError:
                self.kill()
                raise ScriptLimitExceeded(f"脚本运行超过 {limits.wall_seconds:g} 秒，已中止") from None
            except ResultTooLarge as exc:
                self.kill()
                raise ScriptError(str(exc)) from None
            if payload is None:  # the kernel ended it: CPU time (SIGXCPU) or it could not allocate
                code = self.process.wait()
                self.kill()
                if code == -signal.SIGXCPU:
                    raise ScriptLimitExceeded(f"脚本占用 CPU 超过 {limits.cpu_seconds:g} 秒，已中止")
                raise ScriptLimitExceeded(f"脚本运行进程异常退出（内存上限 {limits.memory_mb} MB），已中止")
            try:
                message = json.loads(payload, object_hook=_untagged)
            except (ValueError, TypeError, RecursionError):
                self.kill()
                raise ScriptError("脚本运行进程的答复无法解读") from None
            if message[0] != "call":
                return message
            calls += 1
            if calls > limits.function_calls:
                self.kill()
                raise ScriptLimitExceeded(f"脚本调用函数超过 {limits.function_calls} 次，已中止")
            _, name, args, kwargs = message
            started = time.monotonic()
            reply: tuple[Any, ...]
            try:
                if name not in functions:
                    raise NameError(f"name '{name}' is not defined")
                reply = ("return", functions[name](*args, **kwargs))
            except Exception as exc:  # the function's own refusal, raised in the code as it would be
                reply = ("raise", type(exc).__name__, str(exc)[:_ERROR_TEXT])
            function_time += time.monotonic() - started
            if function_time > limits.function_seconds:
                self.kill()
                raise ScriptLimitExceeded(f"脚本调用的函数运行超过 {limits.function_seconds:g} 秒，已中止")
            _send_trusted(self.requests, reply)


class Pool:
    """Idle workers of this process, one checked out per running piece of code (threads share it)."""

    def __init__(self, limits: Limits | None = None, keep: int = 4):
        self.limits = limits or Limits.from_environment()
        self.keep = keep
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def _checkout(self) -> _Worker:
        with self._lock:
            if self._pid != os.getpid():  # forked: the workers belong to the parent
                self._idle, self._pid = [], os.getpid()
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
        return _Worker(self.limits)

    def _checkin(self, worker: _Worker) -> None:
        with self._lock:
            if worker.alive() and len(self._idle) < self.keep and self._pid == os.getpid():
                self._idle.append(worker)
                return
        worker.kill()

    def warm(self) -> None:
        """Start a worker ahead of the first script, so no request waits for it."""
        self._checkin(self._checkout())

    def run(self, mode: str, source: str, context: dict, external: dict | None, functions: dict):
        worker = self._checkout()
        try:
            answer = worker.run(mode, source, context, external, functions)
        except BaseException:
            worker.kill()
            raise
        if answer[0] == "recycle":  # ran out of memory: the process may be in a poor state
            worker.kill()
        else:
            self._checkin(worker)
        return _result(answer, self.limits)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


_KNOWN_EXCEPTIONS = {
    cls.__name__: cls
    for cls in (
        ArithmeticError,
        AssertionError,
        AttributeError,
        IndexError,
        KeyError,
        LookupError,
        NameError,
        OverflowError,
        RecursionError,
        RuntimeError,
        StopIteration,
        SyntaxError,
        TypeError,
        UnboundLocalError,
        ValueError,
        ZeroDivisionError,
        NotImplementedError,
        UnicodeError,
        Exception,
    )
}


def _result(answer, limits: Limits):
    kind = answer[0]
    if kind == "ok":
        return answer[1]
    _, _, name, text, extra = answer
    if name == "MemoryError":
        error: Exception = ScriptLimitExceeded(f"脚本占用内存超过 {limits.memory_mb} MB，已中止")
    elif name == "NameError":
        error = NameError(text, name=extra.get("name"))
    elif name in _KNOWN_EXCEPTIONS:
        error = _KNOWN_EXCEPTIONS[name](text)
    else:
        error = ScriptError(f"{name}: {text}" if text else name)
    setattr(error, "script_lineno", extra.get("lineno", 0))  # noqa: B010 -- on any exception class, none declares it
    raise error


_pool: Pool | None = None
_pool_lock = threading.Lock()


def default_pool() -> Pool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = Pool()
            atexit.register(_pool.close)
        return _pool


def set_limits(limits: Limits | None) -> None:
    """Run diagram code of this process under other limits from now on (None: the environment's)."""
    global _pool
    with _pool_lock:
        old, _pool = _pool, (Pool(limits) if limits else None)
        if _pool is not None:
            atexit.register(_pool.close)
    if old is not None:
        old.close()


# ---- the worker side -----------------------------------------------------------------------------


def _limit_self(memory_mb: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # writes no file
    with open("/proc/self/statm") as statm:
        current = int(statm.read().split()[0]) * resource.getpagesize()
    ceiling = current + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))


def _cpu_budget(seconds: float) -> None:
    """Let the kernel end this process (SIGXCPU) once the next piece of code used `seconds` of CPU."""
    import resource

    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(spent + seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard if hard == resource.RLIM_INFINITY or hard > soft else soft))


def _worker_main() -> None:
    inbox, outbox = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but messages on the pipe
    _limit_self(limits.SCRIPT_MEMORY_MB.value())  # the parent passes its own
    fd = inbox.fileno()
    max_bytes = limits.SCRIPT_RESULT_KB.default * 1024  # until the first run says the parent's

    def proxy(name):
        def call(*args, **kwargs):
            _send_json(outbox, ["call", name, args, kwargs], max_bytes)
            payload = _receive_frame(fd, None)
            if payload is None:
                os._exit(0)
            reply = pickle.loads(payload)
            if reply[0] == "raise":
                raise _KNOWN_EXCEPTIONS.get(reply[1], RuntimeError)(reply[2])
            return reply[1]

        call.__name__ = name
        return call

    while True:
        payload = _receive_frame(fd, None)
        if payload is None:
            return
        _, mode, source, context, external, function_names, cpu_seconds, max_bytes = pickle.loads(payload)
        functions = {name: proxy(name) for name in function_names}
        _cpu_budget(cpu_seconds)
        try:
            result = _run(mode, source, context, external or {}, functions)
            try:
                _send_json(outbox, ["ok", result], max_bytes)
            except (TypeError, ValueError, RecursionError) as exc:  # nothing was written
                _send_json(
                    outbox, ["error", None, "ValueError", f"脚本结果无法保存为案件数据：{_text(exc)}", {}], max_bytes
                )
            except ResultTooLarge as exc:
                _send_json(outbox, ["error", None, "ValueError", str(exc), {}], max_bytes)
            continue
        except MemoryError:
            answer: list[Any] = ["recycle", None, "MemoryError", "", {}]
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too: they are the code's, not ours
            answer = ["error", None, type(exc).__name__, _text(exc), _details(exc)]
        _send_json(outbox, answer, max_bytes)


def _text(exc: BaseException) -> str:
    return str(exc.args[0] if exc.args else "")[:_ERROR_TEXT]


def _details(exc: BaseException) -> dict:
    extra: dict = {}
    if isinstance(exc, NameError) and exc.name:
        extra["name"] = exc.name
    if isinstance(exc, SyntaxError) and exc.lineno:
        extra["lineno"] = exc.lineno
    else:
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename in ("<string>", "<inline code>", "<unknown>"):
                extra["lineno"] = frame.lineno
    return extra


def _run(mode: str, source: str, context: dict, external: dict, functions: dict):
    code = compiled(source, mode == "eval")
    names = {**RESTRICTED_GLOBALS, **functions}
    if mode == "eval":
        scope = {**names, **external, **context}
        return eval(code, scope)
    scope = dict(context)
    scope.update({**names, **external})
    exec(code, scope)
    remove_globals_and_functions(scope, names, external)
    return scope


if __name__ == "__main__":
    _worker_main()
