"""Benchmark of the BPM engine on the process_change procedure (`make bench`).

One run prints:
  (a) raw SpiffWorkflow in memory: the happy path, spec parsed once
  (b) the engine on a fresh SQLite file (WAL): start + complete, one write transaction per call
  (c) the REST API over real HTTP (werkzeug threaded server on 127.0.0.1, keep-alive client),
      and the same through Flask's in-process test client
  (d) per-step cost after 0/10/50/200 rejection loops (mr_review -> apply), engine vs raw
      SpiffWorkflow reloading its whole serialized state (spec included, no pruning) per request,
      and (d') the same loops through the REST API
  (e) where an engine step's time goes (instrumented run, separate from the figures above)
and writes the figures to bench/results/latest.json.

Options: --quick (fewer instances, for a smoke run), --profile (also print a cProfile top list
of engine steps), --instances-raw N, --instances N.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import cProfile
import gc
import io
import json
import logging
import os
import platform
import pstats
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# create_app() would otherwise create instance/secret_key in the project; keep the bench self-contained.
os.environ.setdefault("BPM_SECRET_KEY", "bench-secret-key")

from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402
from sqlalchemy import event, select  # noqa: E402

from engine.definitions.deploy import deploy_folder  # noqa: E402
from engine.org.demo import load_demo  # noqa: E402
from engine.runtime import instances as rt_instances  # noqa: E402
from engine.runtime import tasks as rt_tasks  # noqa: E402
from engine.store.db import Database  # noqa: E402
from engine.store.models import Instance, Task, User  # noqa: E402
from engine.store.schema import upgrade  # noqa: E402

pc = time.perf_counter
PROCESS = "process_change"
BPMN_FILE = ROOT / "bpmn" / f"{PROCESS}.bpmn"
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"

# Happy path: element -> (who completes it, form data). Form fields checked against forms/*.form.
STEPS = {
    "apply": (
        "emp",
        {
            "change_type": "new",
            "process_name": "事件管理流程",
            "trigger": "improvement",
            "responsible_dept": "ops",
            "business_dept": "tech",
            "reason": "原因",
            "content": "内容",
        },
    ),
    "mr_review": ("mr", {"decision": "approve"}),
    "qg_review": (
        "qg_staff",
        {
            "decision": "approve",
            "standard_opinion": "符合规范",
            "match_opinion": "与相关流程匹配",
            "relation_opinion": "与制度无冲突",
        },
    ),
    "organise_review": (
        "qg_staff",
        {"review_date": "2026-12-01", "review_place": "三楼会议室", "participants": "技术部、运维部、企管部"},
    ),
    "chair_review": ("tech_head", {"decision": "approve", "review_conclusion": "同意按方案实施"}),
    "gm_approve": ("gm", {"decision": "approve"}),
    "publish": ("qg_staff", {"new_version": "V1.1", "publish_date": "2026-12-02"}),
}
HAPPY_PATH = list(STEPS)
REJECT = ("mr", {"decision": "reject", "comment": "请补充"})
USERS = sorted({u for u, _ in STEPS.values()})
LOOP_CHECKPOINTS = (0, 10, 50, 200)
LOOP_MEASURE_STEPS = 20  # 10 loop iterations: resubmit (apply) + reject (mr_review)


# --------------------------------------------------------------------------- helpers


def stats(samples: list[float]) -> dict:
    """Median/p90/mean in microseconds."""
    s = sorted(samples)
    p90 = s[min(len(s) - 1, round(0.9 * (len(s) - 1)))]
    return {
        "n": len(s),
        "median_us": statistics.median(s) * 1e6,
        "p90_us": p90 * 1e6,
        "mean_us": statistics.fmean(s) * 1e6,
        "min_us": s[0] * 1e6,
    }


def fmt_us(us: float) -> str:
    if us >= 10_000:
        return f"{us / 1000:,.1f} ms"
    if us >= 1000:
        return f"{us / 1000:,.2f} ms"
    return f"{us:,.0f} µs"


def data_for(element: str, *, reject: bool = False) -> tuple[str, dict]:
    user, data = REJECT if reject else STEPS[element]
    return user, copy.deepcopy(data)


def header(title: str) -> None:
    print(f"\n=== {title}")
    sys.stdout.flush()


def row(label: str, st: dict, extra: str = "") -> None:
    print(
        f"  {label:<34} median {fmt_us(st['median_us']):>10}   p90 {fmt_us(st['p90_us']):>10}"
        f"   mean {fmt_us(st['mean_us']):>10}   n={st['n']}{extra}"
    )


def quiet_gc() -> None:
    gc.collect()


# --------------------------------------------------------------------------- (a) raw SpiffWorkflow


def parse_spec():
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(BPMN_FILE))
    return parser.get_spec(PROCESS), parser.get_subprocess_specs(PROCESS)


def raw_ready(wf: BpmnWorkflow):
    ready = wf.get_tasks(state=TaskState.READY, manual=True)
    assert len(ready) == 1, [t.task_spec.bpmn_id for t in ready]
    return ready[0]


def raw_step(wf: BpmnWorkflow, *, reject: bool = False) -> str:
    task = raw_ready(wf)
    element = task.task_spec.bpmn_id
    task.data.update(data_for(element, reject=reject)[1])
    task.run()
    wf.do_engine_steps()
    return element


def raw_instance(spec, subs, start_times=None, step_times=None) -> None:
    t0 = pc()
    wf = BpmnWorkflow(spec, subs)
    wf.do_engine_steps()
    t1 = pc()
    if start_times is not None:
        start_times.append(t1 - t0)
    done = []
    while not wf.completed:
        t0 = pc()
        done.append(raw_step(wf))
        if step_times is not None:
            step_times.append(pc() - t0)
    assert done == HAPPY_PATH, done


def bench_raw(n: int) -> dict:
    header(f"(a) raw SpiffWorkflow {spiff_version()}, in memory, happy path x {n}")
    t0 = pc()
    spec, subs = parse_spec()
    parse_s = pc() - t0
    for _ in range(max(20, n // 10)):  # warm-up
        raw_instance(spec, subs)
    quiet_gc()
    starts, steps = [], []
    t0 = pc()
    for _ in range(n):
        raw_instance(spec, subs, starts, steps)
    wall = pc() - t0
    res = {
        "instances": n,
        "wall_s": wall,
        "instances_per_s": n / wall,
        "per_instance_us": wall / n * 1e6,
        "parse_spec_ms": parse_s * 1e3,
        "start": stats(starts),
        "step": stats(steps),
    }
    print(f"  parse spec once: {parse_s * 1e3:.1f} ms")
    print(
        f"  {n / wall:,.0f} instances/s   ({fmt_us(res['per_instance_us'])} per instance, "
        f"{len(HAPPY_PATH)} user tasks each)"
    )
    row("start (BpmnWorkflow+engine steps)", res["start"])
    row("step (fill data, run, engine steps)", res["step"])
    return res


def spiff_version() -> str:
    from importlib.metadata import version

    return version("SpiffWorkflow")


# --------------------------------------------------------------------------- (b) engine + SQLite


def make_db(folder: Path) -> Database:
    url = f"sqlite:///{folder / 'bench.db'}"
    db = Database(url)
    upgrade(db)
    with db.session(write=True) as session:
        load_demo(session)
        deploy_folder(session, ROOT / "bpmn")
    with db.engine.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal", mode
    return db


def user_ids(db: Database) -> dict[str, int]:
    with db.session() as session:
        return dict(session.execute(select(User.username, User.id)).all())


def open_tasks(session, instance_id: int) -> list[tuple[str, str]]:
    return list(
        session.execute(
            select(Task.id, Task.element_id)
            .where(Task.instance_id == instance_id, Task.state == "open")
            .order_by(Task.created_at, Task.id)
        ).all()
    )


def engine_start(db: Database, uids) -> tuple[int, list]:
    with db.session(write=True) as session:
        instance = rt_instances.start(session, process_key=PROCESS, user=session.get(User, uids["emp"]), data={})
        return instance.id, open_tasks(session, instance.id)


def engine_step(db: Database, uids, task_id: str, element: str, *, reject: bool = False) -> tuple[str, list]:
    """One request's worth of work: a write transaction around complete(), and the next open tasks."""
    username, data = data_for(element, reject=reject)
    with db.session(write=True) as session:
        instance = rt_tasks.complete(session, task_id, user=session.get(User, uids[username]), data=data)
        return instance.status, open_tasks(session, instance.id)


def engine_instance(db: Database, uids, start_times=None, step_times=None) -> int:
    t0 = pc()
    instance_id, pending = engine_start(db, uids)
    if start_times is not None:
        start_times.append(pc() - t0)
    done, status = [], "running"
    while pending:
        assert len(pending) == 1, pending
        task_id, element = pending[0]
        t0 = pc()
        status, pending = engine_step(db, uids, task_id, element)
        if step_times is not None:
            step_times.append(pc() - t0)
        done.append(element)
    assert done == HAPPY_PATH and status == "completed", (done, status)
    return instance_id


def bench_engine(db: Database, uids, n: int) -> dict:
    header(f"(b) engine + SQLite (WAL, file), one write transaction per call, happy path x {n}")
    for _ in range(max(5, n // 10)):
        engine_instance(db, uids)
    quiet_gc()
    starts, steps = [], []
    t0 = pc()
    for _ in range(n):
        engine_instance(db, uids, starts, steps)
    wall = pc() - t0
    res = {
        "instances": n,
        "wall_s": wall,
        "instances_per_s": n / wall,
        "per_instance_us": wall / n * 1e6,
        "start": stats(starts),
        "step": stats(steps),
    }
    print(f"  {n / wall:,.1f} instances/s   ({fmt_us(res['per_instance_us'])} per instance)")
    row("start() transaction", res["start"])
    row("complete() transaction", res["step"])
    return res


# --------------------------------------------------------------------------- (c) HTTP API


class HttpClient:
    """Real HTTP: werkzeug's threaded server on 127.0.0.1, a keep-alive requests.Session."""

    label = "HTTP (werkzeug threaded, keep-alive)"

    def __init__(self, app):
        import requests
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="bench-http", daemon=True)
        self.thread.start()
        self.http = requests.Session()

    def post(self, path: str, body: dict, headers: dict | None = None) -> tuple[int, dict]:
        r = self.http.post(self.base + path, json=body, headers=headers)
        return r.status_code, r.json()

    def close(self) -> None:
        self.http.close()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class TestClient:
    label = "Flask test client (in-process, no socket)"

    def __init__(self, app):
        self.client = app.test_client()

    def post(self, path: str, body: dict, headers: dict | None = None) -> tuple[int, dict]:
        r = self.client.post(path, json=body, headers=headers)
        return r.status_code, r.get_json()

    def close(self) -> None:
        pass


def api_tokens(client) -> dict[str, dict]:
    headers = {}
    for username in USERS:
        status, body = client.post("/api/v1/auth/token", {"username": username, "password": "demo"})
        assert status == 200, body
        headers[username] = {"Authorization": f"Bearer {body['token']}"}
    return headers


def _open_from(body: dict) -> list[dict]:
    return [t for t in body["tasks"] if t["state"] == "open"]


def api_instance(client, headers, start_times=None, step_times=None) -> None:
    t0 = pc()
    status, body = client.post(f"/api/v1/processes/{PROCESS}/instances", {"data": {}}, headers["emp"])
    if start_times is not None:
        start_times.append(pc() - t0)
    assert status == 201, body
    done = []
    pending = _open_from(body)
    while pending:
        assert len(pending) == 1, pending
        task = pending[0]
        username, data = data_for(task["element_id"])
        assert username == task["assignee"] or username in task["candidate_users"], (username, task)
        t0 = pc()
        status, body = client.post(f"/api/v1/tasks/{task['id']}/complete", {"data": data}, headers[username])
        if step_times is not None:
            step_times.append(pc() - t0)
        assert status == 200, body
        done.append(task["element_id"])
        pending = _open_from(body)
    assert done == HAPPY_PATH and body["status"] == "completed", (done, body["status"])


def bench_api(client, n: int, tag: str) -> dict:
    header(f"(c{tag}) REST API via {client.label}, happy path x {n}")
    headers = api_tokens(client)  # obtained once, before timing
    for _ in range(max(5, n // 10)):
        api_instance(client, headers)
    quiet_gc()
    starts, steps = [], []
    t0 = pc()
    for _ in range(n):
        api_instance(client, headers, starts, steps)
    wall = pc() - t0
    requests_ = starts + steps
    res = {
        "client": client.label,
        "instances": n,
        "wall_s": wall,
        "instances_per_s": n / wall,
        "per_instance_us": wall / n * 1e6,
        "request": stats(requests_),
        "start_request": stats(starts),
        "complete_request": stats(steps),
    }
    print(
        f"  {n / wall:,.1f} instances/s   ({fmt_us(res['per_instance_us'])} per instance, "
        f"{len(HAPPY_PATH) + 1} requests each)"
    )
    row("any request", res["request"])
    row("POST .../instances (start)", res["start_request"])
    row("POST /tasks/{id}/complete", res["complete_request"])
    return res


# --------------------------------------------------------------------------- (d) rejection loops


def bench_loops_engine(db: Database, uids) -> dict:
    header(
        f"(d) engine + SQLite: per-step cost after N rejection loops (median over {LOOP_MEASURE_STEPS} further steps)"
    )
    # Warm-up on a throwaway instance (apply + reject), so the first checkpoint is not a cold start.
    iid, pending = engine_start(db, uids)
    for _ in range(5):
        _, pending = engine_step(db, uids, pending[0][0], "apply")
        _, pending = engine_step(db, uids, pending[0][0], "mr_review", reject=True)
    quiet_gc()

    iid, pending = engine_start(db, uids)
    loops, out = 0, {}

    def one_loop(times=None):
        nonlocal pending, loops
        for element, reject in (("apply", False), ("mr_review", True)):
            ((task_id, elem),) = pending
            assert elem == element, (elem, element)
            t0 = pc()
            _, pending = engine_step(db, uids, task_id, element, reject=reject)
            if times is not None:
                times.append(pc() - t0)
        loops += 1

    for checkpoint in LOOP_CHECKPOINTS:
        while loops < checkpoint:
            one_loop()
        with db.session() as session:
            inst = session.get(Instance, iid)
            size = len((inst.state or "").encode("utf-8"))
            n_tasks = len(json.loads(inst.state)["tasks"])
        times = []
        while len(times) < LOOP_MEASURE_STEPS:
            one_loop(times)
        out[checkpoint] = {"step": stats(times), "state_bytes": size, "state_tasks": n_tasks}
        row(f"after {checkpoint:>3} loops", out[checkpoint]["step"], f"   state {size:,} B ({n_tasks} tasks)")
    return out


def bench_loops_api(client) -> dict:
    """The same loops through the API: the complete response is the case with its open tasks,
    so it must not grow with the loops."""
    header(f"(d') the same through the REST API ({client.label}): POST /tasks/{{id}}/complete after N rejection loops")
    headers = api_tokens(client)

    class Case:
        def __init__(self):
            status, self.body = client.post(f"/api/v1/processes/{PROCESS}/instances", {"data": {}}, headers["emp"])
            assert status == 201, self.body
            self.pending = _open_from(self.body)
            self.loops = 0

        def one_loop(self, times=None):
            for element, reject in (("apply", False), ("mr_review", True)):
                (task,) = self.pending
                assert task["element_id"] == element, (task, element)
                username, data = data_for(element, reject=reject)
                t0 = pc()
                status, self.body = client.post(
                    f"/api/v1/tasks/{task['id']}/complete", {"data": data}, headers[username]
                )
                if times is not None:
                    times.append(pc() - t0)
                assert status == 200, self.body
                self.pending = _open_from(self.body)
            self.loops += 1

    warm = Case()
    for _ in range(5):
        warm.one_loop()
    quiet_gc()
    case, out = Case(), {}
    for checkpoint in LOOP_CHECKPOINTS:
        while case.loops < checkpoint:
            case.one_loop()
        times: list[float] = []
        while len(times) < LOOP_MEASURE_STEPS:
            case.one_loop(times)
        body = case.body
        size = len(json.dumps(body, ensure_ascii=False, default=str).encode("utf-8"))
        out[checkpoint] = {"request": stats(times), "response_bytes": size, "response_tasks": len(body["tasks"])}
        row(
            f"after {checkpoint:>3} loops",
            out[checkpoint]["request"],
            f"   last response {size:,} B ({len(body['tasks'])} tasks)",
        )
    return out


def bench_loops_raw() -> dict:
    header(
        "(d) raw SpiffWorkflow, whole state reloaded per request (BpmnWorkflowSerializer "
        "deserialize_json -> step -> serialize_json, spec included, no pruning)"
    )
    spec, subs = parse_spec()
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))

    def reload_step(stored: str, *, reject: bool) -> str:
        wf = serializer.deserialize_json(stored)
        raw_step(wf, reject=reject)
        return serializer.serialize_json(wf)

    # warm-up
    wf = BpmnWorkflow(spec, subs)
    wf.do_engine_steps()
    stored = serializer.serialize_json(wf)
    for i in range(10):
        stored = reload_step(stored, reject=bool(i % 2))
    quiet_gc()

    wf = BpmnWorkflow(spec, subs)
    wf.do_engine_steps()
    loops, out = 0, {}
    for checkpoint in LOOP_CHECKPOINTS:
        while loops < checkpoint:  # reaching the checkpoint in memory gives the same state, faster
            raw_step(wf)
            raw_step(wf, reject=True)
            loops += 1
        stored = serializer.serialize_json(wf)
        size = len(stored.encode("utf-8"))
        n_tasks = len(wf.tasks)
        reload_times, memory_times = [], []
        # the same 10 loop iterations: first reloading per step, then in memory from the same state
        mem_wf = serializer.deserialize_json(stored)
        for i in range(LOOP_MEASURE_STEPS):
            reject = bool(i % 2)
            t0 = pc()
            stored = reload_step(stored, reject=reject)
            reload_times.append(pc() - t0)
            t0 = pc()
            raw_step(mem_wf, reject=reject)
            memory_times.append(pc() - t0)
        wf = serializer.deserialize_json(stored)
        loops += LOOP_MEASURE_STEPS // 2
        out[checkpoint] = {
            "step_reload": stats(reload_times),
            "step_in_memory": stats(memory_times),
            "state_bytes": size,
            "state_tasks": n_tasks,
        }
        row(
            f"after {checkpoint:>3} loops, reload",
            out[checkpoint]["step_reload"],
            f"   state {size:,} B ({n_tasks} tasks)",
        )
        row(f"after {checkpoint:>3} loops, in memory", out[checkpoint]["step_in_memory"])
    return out


# --------------------------------------------------------------------------- (e) breakdown


class Breakdown:
    """Exclusive wall time per category, via wrappers installed only for this section."""

    def __init__(self):
        self.totals: dict[str, float] = {}
        self.stack: list[list] = []  # [category, start, child_time]
        self.patches: list[tuple[object, str, object]] = []

    def wrap(self, owner, name: str, category: str) -> None:
        original = getattr(owner, name)
        me = self

        def wrapper(*args, **kwargs):
            frame = [category, pc(), 0.0]
            me.stack.append(frame)
            try:
                return original(*args, **kwargs)
            finally:
                me.stack.pop()
                elapsed = pc() - frame[1]
                me.totals[category] = me.totals.get(category, 0.0) + elapsed - frame[2]
                if me.stack:
                    me.stack[-1][2] += elapsed

        wrapper.__wrapped__ = original
        self.patches.append((owner, name, original))
        setattr(owner, name, wrapper)

    def restore(self) -> None:
        for owner, name, original in reversed(self.patches):
            setattr(owner, name, original)
        self.patches.clear()


def bench_breakdown(db: Database, uids, n_instances: int, loops: int) -> dict:
    header("(e) where an engine complete() transaction spends its time (instrumented; not part of the figures above)")
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow as _BW
    from SpiffWorkflow.task import Task as SpiffTask
    from sqlalchemy.orm import Session

    from engine.runtime import state as rt_state
    from engine.runtime import step as rt_step

    bd = Breakdown()
    bd.wrap(rt_tasks, "fill_options", "form: fill options (departments query) + deepcopy")
    bd.wrap(rt_tasks, "validate_submission", "form: build marshmallow schema + validate")
    bd.wrap(rt_state, "load", "state.load (json + deserialize)")
    bd.wrap(rt_state, "dump", "state.dump (prune + serialize + json)")
    bd.wrap(SpiffTask, "run", "spiff: run tasks + engine steps")
    bd.wrap(_BW, "do_engine_steps", "spiff: run tasks + engine steps")
    bd.wrap(rt_step, "_sync_tasks", "sync task rows (+ lane assignment)")
    bd.wrap(rt_step, "_current_data", "instance.data (merge + json round trip)")
    for meth in ("execute", "scalar", "scalars", "get"):
        bd.wrap(Session, meth, "SQL statements (incl. ORM loading)")
    bd.wrap(Session, "flush", "ORM flush (INSERT/UPDATE)")
    bd.wrap(Session, "commit", "COMMIT (WAL write)")
    driver = {"seconds": 0.0, "statements": 0}

    def before_cursor(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t0"] = pc()

    def after_cursor(conn, cursor, statement, parameters, context, executemany):
        driver["seconds"] += pc() - conn.info.pop("bench_t0")
        driver["statements"] += 1

    event.listen(db.engine, "before_cursor_execute", before_cursor)
    event.listen(db.engine, "after_cursor_execute", after_cursor)
    steps_total, n_steps = 0.0, 0
    try:
        for _ in range(3):
            engine_instance(db, uids)  # warm the wrappers
        bd.totals.clear()
        driver.update(seconds=0.0, statements=0)
        step_times: list[float] = []
        for _ in range(n_instances):
            engine_instance(db, uids, None, step_times)
        steps_total, n_steps = sum(step_times), len(step_times)
        happy, happy_driver = dict(bd.totals), dict(driver)
        bd.totals.clear()
        # the same after `loops` rejection loops
        _, pending = engine_start(db, uids)
        for _ in range(loops):
            _, pending = engine_step(db, uids, pending[0][0], "apply")
            _, pending = engine_step(db, uids, pending[0][0], "mr_review", reject=True)
        bd.totals.clear()
        driver.update(seconds=0.0, statements=0)
        loop_times = []
        for _ in range(LOOP_MEASURE_STEPS // 2):
            for element, reject in (("apply", False), ("mr_review", True)):
                t0 = pc()
                _, pending = engine_step(db, uids, pending[0][0], element, reject=reject)
                loop_times.append(pc() - t0)
        looped, looped_driver = dict(bd.totals), dict(driver)
    finally:
        bd.restore()
        event.remove(db.engine, "before_cursor_execute", before_cursor)
        event.remove(db.engine, "after_cursor_execute", after_cursor)

    def table(totals: dict, wall: float, count: int, title: str, drv: dict) -> dict:
        rest = wall - sum(totals.values())
        rows = dict(sorted(totals.items(), key=lambda kv: -kv[1]))
        rows["other Python (engine, ORM units of work, session setup)"] = rest
        print(f"  {title}: {count} steps, mean {fmt_us(wall / count * 1e6)} per step (instrumented)")
        out = {}
        for name, secs in rows.items():
            share = secs / wall * 100
            out[name] = {"us_per_step": secs / count * 1e6, "share_pct": share}
            print(f"    {name:<58} {fmt_us(secs / count * 1e6):>10}  {share:5.1f}%")
        per_stmt = drv["statements"] / count
        in_driver = drv["seconds"] / count * 1e6
        print(
            f"    (of the SQL/flush/commit rows: {per_stmt:.1f} statements per step, {fmt_us(in_driver)} "
            f"per step inside the sqlite3 driver's execute = {drv['seconds'] / wall * 100:.1f}%; "
            f"the rest is SQLAlchemy)"
        )
        out["_sql_statements_per_step"] = per_stmt
        out["_sqlite3_execute_us_per_step"] = in_driver
        return out

    return {
        "happy_path": table(happy, steps_total, n_steps, f"happy path x {n_instances}", happy_driver),
        f"after_{loops}_loops": table(
            looped, sum(loop_times), len(loop_times), f"after {loops} rejection loops", looped_driver
        ),
    }


def profile_engine(db: Database, uids, n: int) -> str:
    header(f"(profile) cProfile of {n} engine happy-path instances, top 30 by cumulative time")
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        engine_instance(db, uids)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("cumulative").print_stats(30)
    text = buf.getvalue()
    print(text)
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("tottime").print_stats(20)
    print("  -- by own time --")
    print(buf.getvalue())
    return text


# --------------------------------------------------------------------------- main


def environment() -> dict:
    try:
        commit = (
            subprocess.run(
                ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
            ).stdout.strip()
            or None
        )
    except Exception:
        commit = None
    import sqlalchemy

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "spiffworkflow": spiff_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "flask": _dist_version("flask"),
        "werkzeug": _dist_version("werkzeug"),
        "sqlite": sqlite3.sqlite_version,
        "git_commit": commit,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def verdict(value: float, limit: float) -> str:
    return "MET" if value <= limit else "NOT MET"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    ap.add_argument("--instances-raw", type=int, default=None, help="instances for (a) (default 300)")
    ap.add_argument("--instances", type=int, default=None, help="instances for (b) and (c) (default 50)")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of engine steps")
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    n_raw = args.instances_raw or (30 if args.quick else 300)
    n_eng = args.instances or (8 if args.quick else 50)

    began = pc()
    env = environment()
    print(f"BPM benchmark: {PROCESS} ({len(HAPPY_PATH)} user tasks on the happy path)")
    print(
        f"  Python {env['python']}, SpiffWorkflow {env['spiffworkflow']}, SQLAlchemy {env['sqlalchemy']}, "
        f"Flask {env['flask']}, SQLite {env['sqlite']}, {env['cpus']} CPUs, {env['platform']}"
    )
    results: dict = {
        "environment": env,
        "params": {
            "instances_raw": n_raw,
            "instances": n_eng,
            "loop_checkpoints": list(LOOP_CHECKPOINTS),
            "loop_measure_steps": LOOP_MEASURE_STEPS,
        },
    }

    results["a_raw"] = bench_raw(n_raw)

    with tempfile.TemporaryDirectory(prefix="bpm-bench-") as tmp:
        t0 = pc()
        db = make_db(Path(tmp))
        uids = user_ids(db)
        print(
            f"\n  (fresh SQLite file {Path(tmp) / 'bench.db'}, WAL; schema + demo org + library in {pc() - t0:.1f} s)"
        )
        try:
            results["b_engine"] = bench_engine(db, uids, n_eng)

            from webapp import create_app

            app = create_app({"BPM_DATABASE": db, "SECRET_KEY": "bench-secret-key"})
            http = HttpClient(app)
            try:
                results["c_http"] = bench_api(http, n_eng, "")
            finally:
                http.close()
            test_client = TestClient(app)
            results["c_test_client"] = bench_api(test_client, n_eng, "'")

            results["d_engine"] = bench_loops_engine(db, uids)
            results["d_raw_reload"] = bench_loops_raw()
            results["d_api"] = bench_loops_api(test_client)

            results["e_breakdown"] = bench_breakdown(db, uids, max(5, n_eng // 5), LOOP_CHECKPOINTS[-1])
            if args.profile:
                results["profile_top"] = profile_engine(db, uids, max(5, n_eng // 5))
        finally:
            db.dispose()

    a, b, c, c2 = results["a_raw"], results["b_engine"], results["c_http"], results["c_test_client"]
    de, dr = results["d_engine"], results["d_raw_reload"]
    first, last = LOOP_CHECKPOINTS[0], LOOP_CHECKPOINTS[-1]
    ratio_c_a = c["per_instance_us"] / a["per_instance_us"]
    ratio_c2_a = c2["per_instance_us"] / a["per_instance_us"]
    ratio_b_a = b["per_instance_us"] / a["per_instance_us"]
    ratio_c_b = c["per_instance_us"] / b["per_instance_us"]
    ratio_c2_b = c2["per_instance_us"] / b["per_instance_us"]
    ratio_eng = de[last]["step"]["median_us"] / de[first]["step"]["median_us"]
    ratio_raw = dr[last]["step_reload"]["median_us"] / dr[first]["step_reload"]["median_us"]
    ratio_mem = dr[last]["step_in_memory"]["median_us"] / dr[first]["step_in_memory"]["median_us"]

    header("summary table")
    print(f"  {'':<44}{'instances/s':>12}{'per instance':>14}{'step median':>13}{'step p90':>12}")
    for label, r, key in (
        ("(a) raw SpiffWorkflow, in memory", a, "step"),
        ("(b) engine + SQLite, txn per call", b, "step"),
        ("(c) HTTP API, werkzeug threaded", c, "request"),
        ("(c') API via Flask test client", c2, "request"),
    ):
        print(
            f"  {label:<44}{r['instances_per_s']:>12,.1f}{fmt_us(r['per_instance_us']):>14}"
            f"{fmt_us(r[key]['median_us']):>13}{fmt_us(r[key]['p90_us']):>12}"
        )
    print(
        f"\n  {'rejection loops':<16}{'engine step':>13}{'engine state':>14}"
        f"{'raw reload step':>17}{'raw state':>12}{'raw in-memory step':>20}"
    )
    for n in LOOP_CHECKPOINTS:
        print(
            f"  {n:<16}{fmt_us(de[n]['step']['median_us']):>13}{de[n]['state_bytes']:>12,} B"
            f"{fmt_us(dr[n]['step_reload']['median_us']):>17}{dr[n]['state_bytes']:>10,} B"
            f"{fmt_us(dr[n]['step_in_memory']['median_us']):>20}"
        )

    da = results["d_api"]
    ratio_api = da[last]["request"]["median_us"] / da[first]["request"]["median_us"]
    print(f"\n  {'rejection loops':<16}{'API complete request':>22}{'response':>14}")
    for n in LOOP_CHECKPOINTS:
        print(f"  {n:<16}{fmt_us(da[n]['request']['median_us']):>22}{da[n]['response_bytes']:>12,} B")

    elapsed = pc() - began
    summary = {
        "ratio_c_http_over_a": ratio_c_a,
        "ratio_c_test_client_over_a": ratio_c2_a,
        "ratio_b_over_a": ratio_b_a,
        "ratio_c_http_over_b": ratio_c_b,
        "ratio_c_test_client_over_b": ratio_c2_b,
        "ratio_engine_step_200_over_0": ratio_eng,
        "ratio_raw_reload_step_200_over_0": ratio_raw,
        "ratio_raw_in_memory_step_200_over_0": ratio_mem,
        "ratio_api_request_200_over_0": ratio_api,
        "target_c_over_a_le_3": verdict(ratio_c_a, 3),
        "target_engine_200_over_0_le_2": verdict(ratio_eng, 2),
        "elapsed_s": elapsed,
    }
    results["summary"] = summary
    header("summary")
    print(f"  (b)/(a) per-instance time (engine+SQLite vs raw): {ratio_b_a:.1f}")
    print(f"  (c')/(a) per-instance time (test client vs raw): {ratio_c2_a:.1f}")
    print(f"  (c)/(b) per-instance time (HTTP API vs engine calls): {ratio_c_b:.1f}   (c')/(b): {ratio_c2_b:.1f}")
    print(
        f"  raw reload step({last})/step({first}): {ratio_raw:.2f}   "
        f"(raw in-memory step({last})/step({first}): {ratio_mem:.2f})"
    )
    print(f"  API complete request step({last})/step({first}) (test client): {ratio_api:.2f}")
    print(f"  target (c)/(a) <= 3: {ratio_c_a:.1f} {verdict(ratio_c_a, 3)}")
    print(f"  target engine step({last})/step({first}) <= 2: {ratio_eng:.2f} {verdict(ratio_eng, 2)}")
    print(f"  total bench time: {elapsed:.0f} s")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(_json_keys(results), ensure_ascii=False, indent=2))
    print(f"  figures written to {_display(args.output)}")
    return 0


def _json_keys(obj):
    if isinstance(obj, dict):
        return {str(k): _json_keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_keys(v) for v in obj]
    return obj


def _display(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(ROOT))
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
