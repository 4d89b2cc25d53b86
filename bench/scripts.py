"""Benchmark of what the hard limits on diagram code cost (`make bench`; issue 13 item 1).

Before: scripts ran in the web or scheduler process under a `sys.settrace` time limit (which code could
catch or avoid), expressions with no limit. After: an expression whose shape bounds its cost runs in
the process as before, without a tracer; every other script and expression runs in a worker process
under RLIMIT_CPU, RLIMIT_AS and a wall-clock kill (engine/script_runner.py).

One run prints, on a fresh SQLite database with bench/bpmn/bench_script.bpmn (a user task, then a
script task, then a gateway whose condition reads the script's result, then the next user task):
  (a) one evaluation: a bounded condition in the process; a script in the process under the old tracer
      (before); the same script in a worker (after)
  (b) one engine step (complete the user task: script + condition + next task, one write transaction),
      median and p95 over N steps, before and after, and their ratio
and writes bench/results/scripts.json.

Options: --steps N (300), --quick (60 steps).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from SpiffWorkflow.bpmn.script_engine import TaskDataEnvironment  # noqa: E402
from sqlalchemy import select  # noqa: E402

from engine import script_runner, scripting  # noqa: E402
from engine.definitions.deploy import deploy_folder  # noqa: E402
from engine.org.demo import load_demo  # noqa: E402
from engine.runtime import instances, state, tasks  # noqa: E402
from engine.runtime.script_functions import SCRIPT_FUNCTIONS  # noqa: E402
from engine.store.db import Database  # noqa: E402
from engine.store.models import Task, User  # noqa: E402
from engine.store.schema import upgrade  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "scripts.json"
pc = time.perf_counter
SCRIPT = (
    'items = [len(note or "") * k for k in range(3)]\ntotal = sum(items) + 11\nlabel = "大额" if total > 10 else "小额"'
)
CONDITION = 'total > 10 and label == "大额"'


class TracerEnvironment(TaskDataEnvironment):
    """The environment as it was before: restricted code in this process, scripts under a tracer."""

    def __init__(self):
        super().__init__({**script_runner.RESTRICTED_GLOBALS, **SCRIPT_FUNCTIONS})

    def evaluate(self, expression, context, external_context=None):
        return super().evaluate(script_runner.compiled(expression, True), context, external_context)

    def execute(self, script, context, external_context=None):
        deadline = time.monotonic() + 2.0

        def tracer(frame, event, arg):
            if time.monotonic() > deadline:
                raise TimeoutError
            return tracer

        previous = sys.gettrace()
        sys.settrace(tracer)
        try:
            return super().execute(script_runner.compiled(script, False), context, external_context)
        finally:
            sys.settrace(previous)


def per_call(fn, count: int) -> float:
    """Median microseconds of `fn()` over `count` calls, in 5 batches."""
    batches = []
    for _ in range(5):
        began = pc()
        for _ in range(count):
            fn()
        batches.append((pc() - began) / count * 1e6)
    return statistics.median(batches)


def evaluations() -> dict:
    after = scripting.SandboxEnvironment(SCRIPT_FUNCTIONS)
    before = TracerEnvironment()
    context = {"note": "服务器扩容", "total": 21, "label": "大额"}
    after.execute(SCRIPT, dict(context))  # the worker is started before the clock runs
    return {
        "bounded condition, in process (after)": per_call(lambda: after.evaluate(CONDITION, context), 2000),
        "condition, in process (before)": per_call(lambda: before.evaluate(CONDITION, context), 2000),
        "script under a tracer, in process (before)": per_call(lambda: before.execute(SCRIPT, dict(context)), 500),
        "script in a worker process (after)": per_call(lambda: after.execute(SCRIPT, dict(context)), 500),
        "unbounded expression in a worker process (after)": per_call(
            lambda: after.evaluate("[x for x in range(3)]", context), 500
        ),
    }


def fresh_database() -> Database:
    db = Database(f"sqlite:///{Path(tempfile.mkdtemp(prefix='bpm-bench-scripts-')) / 'bench.db'}")
    upgrade(db)
    with db.session(write=True) as session:
        load_demo(session)
        deploy_folder(session, ROOT / "bench" / "bpmn")
    return db


def steps(db: Database, count: int, environments: dict) -> dict[str, list[float]]:
    """Milliseconds of each `complete` of the first user task (script, condition, next task), the
    environments taking turns step by step, so that the machine's noise falls on each alike."""
    with db.session() as session:
        emp_id = session.scalar(select(User.id).where(User.username == "emp"))
    times: dict[str, list[float]] = {name: [] for name in environments}
    kept = state._ENGINE.environment
    try:
        for _ in range(count):
            for name, environment in environments.items():
                with db.session(write=True) as session:
                    case = instances.start(session, process_key="bench_script", user=session.get(User, emp_id), data={})
                    task_id = session.scalar(
                        select(Task.id).where(Task.instance_id == case.id, Task.element_id == "fill")
                    )
                state._ENGINE.environment = environment
                began = pc()
                with db.session(write=True) as session:
                    done = tasks.complete(session, task_id, user=session.get(User, emp_id), data={"note": "服务器扩容"})
                    assert done.status == "running" and done.data["label"] == "大额", done.error
                times[name].append((pc() - began) * 1000)
                state._ENGINE.environment = kept
    finally:
        state._ENGINE.environment = kept
    return times


def summary(times: list[float]) -> dict:
    ordered = sorted(times)
    return {"median_ms": statistics.median(times), "p95_ms": ordered[int(0.95 * (len(ordered) - 1))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count = 60 if args.quick else args.steps
    os.environ.setdefault("BPM_SECRET_KEY", "bench-secret-key")

    print("== diagram code under hard limits (bench/scripts.py)")
    print(f"   {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores")
    print("(a) one evaluation, median µs")
    per_evaluation = evaluations()
    for name, micros in per_evaluation.items():
        print(f"   {name:<52} {micros:8.1f}")

    db = fresh_database()
    environments = {"before": TracerEnvironment(), "after": state._ENGINE.environment}
    steps(db, 10, environments)  # warm: spec cache, worker started
    measured = steps(db, count, environments)
    before, after = measured["before"], measured["after"]
    figures = {"before": summary(before), "after": summary(after)}
    ratio = figures["after"]["median_ms"] / figures["before"]["median_ms"]
    print(f"(b) one engine step with a script and a condition, {count} steps, SQLite")
    for name, values in figures.items():
        print(f"   {name:<7} median {values['median_ms']:6.2f} ms   p95 {values['p95_ms']:6.2f} ms")
    print(f"   after / before (median): {ratio:.2f}×")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps({"evaluation_us": per_evaluation, "step": figures, "ratio": ratio}, ensure_ascii=False, indent=2)
    )
    db.dispose()


if __name__ == "__main__":
    main()
