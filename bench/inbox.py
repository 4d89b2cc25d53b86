"""Benchmark of the inbox at scale (`make bench`): with 100,000 open tasks in the database the 待办
page and GET /api/v1/tasks must answer in under 50 ms median.

One run:
  1. makes a fresh database (a temp SQLite file; PostgreSQL `<db>_bpm_bench` beside DATABASE_URL when
     that is postgres), migrates it, loads the demo organisation and deploys the library;
  2. seeds it with Core bulk inserts, not through the engine: 2,000 extra users over the departments,
     ~35,000 running and 40,000 finished cases of the library's processes, 100,000 open task rows
     (the busy approver `mr` with 1,000 assigned and 500 group tasks, most people with a few, group
     tasks with several candidates, some of them claimed), rows that are not open (pending votes,
     rows waiting for a signer, cancelled), 300,000 completed tasks with their candidates and
     events, copies (抄送);
  3. times the inbox functions (engine/runtime/inbox.py) in-process, then GET /api/v1/tasks as mr
     (default scope), ?scope=group, ?scope=all, ?state=completed, the 待办 page GET / (logged in
     through the login form) and ?scope=all as qg_staff (every open task), through Flask's test
     client and a real HTTP server (werkzeug threaded on 127.0.0.1, keep-alive requests.Session);
  4. prints median and p95 with the verdict against the 50 ms target, and writes
     bench/results/inbox.json.

Options: --quick (a tenth of the data, fewer requests: a smoke run), --requests N, --explain (print
the plans of the todo queries), --keep (keep the database and print its URL), --reuse URL (measure
an already seeded database, skip 1 and 2), --output PATH.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BPM_SECRET_KEY", "bench-secret-key")  # create_app would write instance/secret_key

from sqlalchemy import create_engine, event, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from engine.definitions.deploy import deploy_folder  # noqa: E402
from engine.org.demo import load_demo  # noqa: E402
from engine.org.passwords import hash_password  # noqa: E402
from engine.runtime import inbox  # noqa: E402
from engine.store.db import Database, fresh_postgres_database  # noqa: E402
from engine.store.models import (  # noqa: E402
    CaseCopy,
    Department,
    Event,
    Instance,
    ProcessDefinition,
    ProcessVersion,
    Task,
    TaskCandidate,
    User,
    UserRole,
)
from engine.store.schema import upgrade  # noqa: E402

pc = time.perf_counter
RESULTS = Path(__file__).resolve().parent / "results" / "inbox.json"
TARGET_MS = 50.0
BPMN_NS = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
SPIFF_NS = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
BUSY = "mr"


@dataclass
class Scale:
    open_tasks: int = 100_000
    running: int = 35_000
    finished: int = 40_000
    completed_tasks: int = 300_000
    extra_users: int = 2_000
    copies: int = 20_000
    busy_assigned: int = 1_000
    busy_group: int = 500
    busy_completed: int = 6_000
    requests: int = 200
    warm: int = 20


QUICK = Scale(
    open_tasks=10_000,
    running=3_500,
    finished=4_000,
    completed_tasks=30_000,
    extra_users=400,
    copies=2_000,
    busy_assigned=400,
    busy_group=200,
    busy_completed=1_500,
    requests=40,
    warm=5,
)

# Open tasks assigned to demo users besides the busy one: the heads and staff approvers.
DEMO_ASSIGNED = {
    "gm": 600,
    "vp": 400,
    "qg_staff": 500,
    "qg_head": 300,
    "tech_head": 300,
    "ops_head": 150,
    "hr_head": 120,
    "fin_head": 120,
    "office_head": 100,
    "dev_head": 100,
    "impl_head": 80,
    "mkt_head": 60,
    "tech_eng": 60,
    "tech_eng2": 40,
    "ops_eng": 40,
    "hr_trainer": 30,
    "pm": 30,
    "sales": 20,
    "emp": 5,
}
EXTRA_ROLES = ("service_desk", "auditor", "project_manager", "hr", "finance", "sales")
COMMENTS = ("同意", "请补充材料后再提交", "已核实", "按计划执行", "注意时间节点", None, None, None)


# --------------------------------------------------------------------------- helpers


def stats(samples: list[float]) -> dict:
    s = sorted(samples)
    p95 = s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
    return {
        "n": len(s),
        "median_ms": statistics.median(s) * 1e3,
        "p95_ms": p95 * 1e3,
        "mean_ms": statistics.fmean(s) * 1e3,
        "min_ms": s[0] * 1e3,
        "max_ms": s[-1] * 1e3,
    }


def header(title: str) -> None:
    print(f"\n=== {title}")
    sys.stdout.flush()


def row(label: str, st: dict, extra: str = "") -> None:
    print(
        f"  {label:<46} median {st['median_ms']:8.2f} ms   p95 {st['p95_ms']:8.2f} ms"
        f"   mean {st['mean_ms']:8.2f} ms   n={st['n']}{extra}"
    )
    sys.stdout.flush()


def verdict(median_ms: float) -> str:
    return "MET" if median_ms < TARGET_MS else "NOT MET"


def chunks(items, size: int = 20_000):
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --------------------------------------------------------------------------- database


def drop_postgres(url: str, beside: str) -> None:
    """Drop the bench's database, connected to the one it was made beside."""
    target = make_url(url)
    admin = create_engine(make_url(url).set(database=make_url(beside).database), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def prepare(url: str) -> Database:
    db = Database(url)
    upgrade(db)
    with db.session(write=True) as session:
        load_demo(session)
        deploy_folder(session, ROOT / "bpmn")
    return db


# --------------------------------------------------------------------------- seeding


def process_catalogue(session) -> list[dict]:
    """The library's processes with their user tasks (element id, name, lane, form key)."""
    out = []
    rows = session.execute(
        select(ProcessDefinition.key, ProcessDefinition.name, ProcessVersion.id, ProcessVersion.bpmn_xml).join(
            ProcessVersion,
            (ProcessVersion.process_key == ProcessDefinition.key)
            & (ProcessVersion.version == ProcessDefinition.latest_version),
        )
    )
    for key, name, version_id, xml in rows:
        root = ET.fromstring(xml)
        lanes = {}
        for lane in root.iter(f"{BPMN_NS}lane"):
            for ref in lane.iter(f"{BPMN_NS}flowNodeRef"):
                lanes[ref.text.strip()] = lane.get("name")
        tasks = []
        for ut in root.iter(f"{BPMN_NS}userTask"):
            form = None
            for prop in ut.iter(f"{SPIFF_NS}property"):
                if prop.get("name") == "formKey":
                    form = prop.get("value")
            tasks.append((ut.get("id"), ut.get("name") or ut.get("id"), lanes.get(ut.get("id")), form))
        if tasks:
            out.append({"key": key, "name": name, "version_id": version_id, "tasks": tasks})
    return out


def skewed(rng: random.Random, population: list, k: int, power: float = 0.9) -> list:
    """k draws where the first of the population are drawn far more often: a few busy, many with a few."""
    weights = [1.0 / (i + 1) ** power for i in range(len(population))]
    return rng.choices(population, weights=weights, k=k)


def seed(db: Database, scale: Scale, rng: random.Random) -> dict:
    now = datetime.now(UTC)
    t_begin = pc()
    with db.session() as session:
        catalogue = process_catalogue(session)
        demo = dict(session.execute(select(User.username, User.id)).all())
        departments = list(session.scalars(select(Department.id).order_by(Department.id)))
        user_dept = dict(session.execute(select(User.id, User.department_id)).all())
    busy = demo[BUSY]
    password = hash_password("demo")  # once: every extra user can log in with `demo`

    with db.engine.begin() as conn:
        conn.execute(
            User.__table__.insert(),
            [
                {
                    "username": f"user{i:04d}",
                    "display_name": f"员工{i:04d}",
                    "email": f"user{i:04d}@bench.example",
                    "password_hash": password,
                    "department_id": departments[i % len(departments)],
                    "active": True,
                    "created_at": now - timedelta(days=800),
                }
                for i in range(1, scale.extra_users + 1)
            ],
        )
        extras = list(conn.scalars(select(User.id).where(User.username.like("user%")).order_by(User.id)))
        user_dept.update(conn.execute(select(User.id, User.department_id).where(User.id.in_(extras))).all())
        conn.execute(
            UserRole.__table__.insert(),
            [
                {"user_id": uid, "role_code": EXTRA_ROLES[i % len(EXTRA_ROLES)]}
                for i, uid in enumerate(extras)
                if i % 3 == 0
            ],
        )
        max_instance = conn.scalar(select(func.max(Instance.id))) or 0
    rng.shuffle(extras)  # the skew falls on random people, not the first user ids
    everyone = list(demo.values()) + extras

    # Candidate groups: the busy approver's (with deputies and the leadership), the 企管部, the
    # service desk, and per department groups of 3-8 colleagues.
    busy_pools = [[busy] + rng.sample(extras, 2), [busy, demo["gm"], demo["vp"]] + rng.sample(extras, 1)]
    pools = [
        [demo["qg_head"], demo["qg_staff"]] + rng.sample(extras, 3),
        [demo["tech_eng2"], demo["ops_eng"]] + rng.sample(extras, 6),
    ]
    by_dept: dict[int, list[int]] = {}
    for uid in extras:
        by_dept.setdefault(user_dept[uid], []).append(uid)
    for members in by_dept.values():
        for _ in range(20):
            pools.append(rng.sample(members, min(len(members), rng.randint(3, 8))))

    # Cases: running ones hold the open tasks; finished ones most of the history.
    instances = []  # (id, process, created_at, completed_at)
    inst_rows = []
    initiators = skewed(rng, everyone, scale.running + scale.finished, 0.6)
    for n in range(scale.running + scale.finished):
        proc = rng.choice(catalogue)
        running = n < scale.running
        age = timedelta(days=90 * rng.random() ** 2) if running else timedelta(days=60 + 670 * rng.random())
        created = now - age - timedelta(minutes=5)
        completed = None if running else created + timedelta(hours=rng.uniform(2, 24 * 30))
        iid = max_instance + n + 1
        initiator = initiators[n]
        instances.append((iid, proc, created, completed))
        inst_rows.append(
            {
                "id": iid,
                "process_key": proc["key"],
                "version_id": proc["version_id"],
                "status": "running" if running else "completed",
                "initiator_id": initiator,
                "initiator_department_id": user_dept.get(initiator),
                "title": f"{proc['name']} #{iid}",
                "data": {
                    "title": f"{proc['name']} #{iid}",
                    "reason": "年度计划内事项",
                    "amount": rng.randint(1, 500) * 100,
                },
                "state": None,
                "lock_version": 3,
                "path": None,
                "parent_instance_id": None,
                "created_at": created,
                "updated_at": completed or now - age / 2,
                "completed_at": completed,
            }
        )
    running_cases, finished_cases = instances[: scale.running], instances[scale.running :]

    tasks, candidates, events = [], [], []

    def add_task(
        case,
        *,
        state: str,
        assignee,
        members,
        created,
        completed_by=None,
        completed_at=None,
        kind="task",
        claimed=False,
    ):
        iid, proc, _, _ = case
        element, name, lane, form = rng.choice(proc["tasks"])
        tid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        approval = "review" in element or "approve" in element
        decision = rng.choice(("approve", "approve", "approve", "reject")) if approval and completed_by else None
        tasks.append(
            {
                "id": tid,
                "spiff_task_id": tid,
                "kind": kind,
                "instance_id": iid,
                "element_id": element,
                "name": name,
                "role": lane,
                "form_key": form,
                "state": state,
                "assignee_id": assignee,
                "owner_id": None,
                "completed_by": completed_by,
                "decision": decision,
                "mode": "all" if kind == "vote" else None,
                "seq": None,
                "origin_task_id": None,
                "position": None,
                "pending_data": None,
                "urged_at": None,
                "created_at": created,
                "completed_at": completed_at,
                "due_at": created + timedelta(days=rng.choice((3, 5, 7, 14))) if rng.random() < 0.5 else None,
            }
        )
        candidates.extend({"task_id": tid, "user_id": uid} for uid in members)
        if claimed:
            events.append(
                (
                    created + (completed_at - created) / 3 if completed_at else created + timedelta(minutes=7),
                    iid,
                    tid,
                    "task_claimed",
                    assignee,
                    element,
                    None,
                    None,
                )
            )
        if completed_by:
            events.append(
                (completed_at, iid, tid, "task_completed", completed_by, element, decision, rng.choice(COMMENTS))
            )

    def open_created(case):
        _, _, created, _ = case
        return created + (now - created) * rng.random()

    # 100,000 open rows: the busy approver's, the demo approvers', then the rest: 60% assigned
    # (skewed over everyone), 40% group tasks over the pools, a fifth of those already claimed.
    plan: list[tuple] = [(busy, [busy], False)] * scale.busy_assigned
    plan += [(None, rng.choice(busy_pools), False) for _ in range(scale.busy_group)]
    for username, count in DEMO_ASSIGNED.items():
        plan += [(demo[username], [demo[username]], False)] * min(count, scale.open_tasks // 100)
    rest = scale.open_tasks - len(plan)
    n_assigned = int(rest * 0.6)
    plan += [(uid, [uid], False) for uid in skewed(rng, extras, n_assigned, 0.7)]
    for members in skewed(rng, pools, rest - n_assigned, 0.5):
        if rng.random() < 0.2:
            plan.append((rng.choice(members), members, True))
        else:
            plan.append((None, members, False))
    for assignee, members, claimed in plan:
        case = rng.choice(running_cases)
        kind = "vote" if assignee is not None and not claimed and rng.random() < 0.08 else "task"
        add_task(
            case,
            state="open",
            assignee=assignee,
            members=members,
            created=open_created(case),
            kind=kind,
            claimed=claimed,
        )
    n_open = len(tasks)

    # Rows of running cases that are not open: sequential votes not yet due, rows waiting for a signer
    # added before them, cancelled rows.
    for state, count in (
        ("pending", scale.open_tasks // 20),
        ("waiting", scale.open_tasks // 100),
        ("cancelled", scale.open_tasks // 30),
    ):
        for uid in skewed(rng, everyone, count, 0.7):
            case = rng.choice(running_cases)
            created = open_created(case)
            add_task(
                case,
                state=state,
                assignee=uid,
                members=[uid],
                created=created,
                completed_at=created + timedelta(hours=1) if state == "cancelled" else None,
                kind="vote" if state == "pending" else "task",
            )

    # 300,000 completed rows: two thirds in finished cases, the busy approver's share, 40% worked
    # from a group (claimed first).
    completers = [busy] * scale.busy_completed
    completers += skewed(rng, everyone, scale.completed_tasks - scale.busy_completed, 0.6)
    rng.shuffle(completers)
    for uid in completers:
        case = rng.choice(finished_cases) if rng.random() < 2 / 3 else rng.choice(running_cases)
        _, _, created, completed = case
        end = completed or now
        done_at = created + (end - created) * rng.random()
        started = done_at - (done_at - created) * rng.random() * 0.5
        if rng.random() < 0.4:
            members = rng.choice(busy_pools) if uid == busy else rng.choice(pools)
            members = members if uid in members else members[:-1] + [uid]
            add_task(
                case,
                state="completed",
                assignee=uid,
                members=members,
                created=started,
                completed_by=uid,
                completed_at=done_at,
                claimed=True,
            )
        else:
            add_task(
                case,
                state="completed",
                assignee=uid,
                members=[uid],
                created=started,
                completed_by=uid,
                completed_at=done_at,
            )

    for iid, _, created, completed in instances:
        initiator = inst_rows[iid - max_instance - 1]["initiator_id"]
        events.append((created, iid, None, "instance_started", initiator, None, None, None))
        if completed:
            events.append((completed, iid, None, "instance_completed", None, None, None, None))

    # 抄送: the busy approver is copied on a few hundred cases, half not read yet.
    copy_pairs, copies = set(), []
    copy_users = [busy] * min(400, scale.copies // 10) + skewed(rng, everyone, scale.copies, 0.5)
    for uid in copy_users:
        iid, _, created, completed = rng.choice(instances)
        if (iid, uid) in copy_pairs:
            continue
        copy_pairs.add((iid, uid))
        at = created + ((completed or now) - created) * rng.random()
        by = inst_rows[iid - max_instance - 1]["initiator_id"]
        copies.append(
            {
                "instance_id": iid,
                "user_id": uid,
                "by_id": by,
                "comment": rng.choice(COMMENTS),
                "at": at,
                "read_at": at + timedelta(hours=3) if rng.random() < 0.5 else None,
            }
        )
        events.append((at, iid, None, "copied", copies[-1]["by_id"], None, None, None))
    events.sort(key=lambda e: e[0])
    t_generated = pc()

    with db.engine.begin() as conn:
        for table, rows in (
            (Instance.__table__, inst_rows),
            (Task.__table__, tasks),
            (TaskCandidate.__table__, candidates),
            (CaseCopy.__table__, copies),
        ):
            for part in chunks(rows):
                conn.execute(table.insert(), part)
        for part in chunks(events):
            conn.execute(
                Event.__table__.insert(),
                [
                    {
                        "at": at,
                        "instance_id": iid,
                        "task_id": tid,
                        "type": type_,
                        "actor_id": actor,
                        "element_id": element,
                        "decision": decision,
                        "comment": comment,
                        "data": None,
                    }
                    for at, iid, tid, type_, actor, element, decision, comment in part
                ],
            )
        if conn.dialect.name == "postgresql":
            # the ids were given: the sequence goes on after them
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('instance', 'id'), (SELECT max(id) FROM instance))")
            )
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does after a load this size
    counts = {
        "users_extra": len(extras),
        "instances_running": scale.running,
        "instances_finished": scale.finished,
        "tasks_open": n_open,
        "tasks_total": len(tasks),
        "task_candidates": len(candidates),
        "events": len(events),
        "case_copies": len(copies),
        "generate_s": round(t_generated - t_begin, 1),
        "insert_s": round(pc() - t_generated, 1),
    }
    return counts


# --------------------------------------------------------------------------- clients


class TestClient:
    label = "Flask test client (in-process)"

    def __init__(self, app):
        self.client = app.test_client()

    def get(self, path: str, headers=None):
        r = self.client.get(path, headers=headers)
        return r.status_code, r.data

    def post_form(self, path: str, data: dict):
        r = self.client.post(path, data=data)
        return r.status_code, r.data

    def post_json(self, path: str, body: dict):
        r = self.client.post(path, json=body)
        return r.status_code, r.get_json()

    def close(self):
        pass


class HttpClient:
    label = "HTTP (werkzeug threaded, keep-alive)"

    def __init__(self, app):
        import requests
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="bench-http", daemon=True)
        self.thread.start()
        self.http = requests.Session()

    def get(self, path: str, headers=None):
        r = self.http.get(self.base + path, headers=headers, allow_redirects=False)
        return r.status_code, r.content

    def post_form(self, path: str, data: dict):
        r = self.http.post(self.base + path, data=data, allow_redirects=False)
        return r.status_code, r.content

    def post_json(self, path: str, body: dict):
        r = self.http.post(self.base + path, json=body, allow_redirects=False)
        return r.status_code, r.json()

    def close(self):
        self.http.close()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def log_in_form(client, username: str) -> None:
    status, body = client.get("/login")
    assert status == 200, status
    csrf = re.search(rb'name="csrf" value="([^"]+)"', body).group(1).decode()
    status, body = client.post_form("/login", {"csrf": csrf, "username": username, "password": "demo"})
    assert status == 302, (status, body[:300])


# (label, path, who asks: a bearer token's user, or None for the page with the login session of BUSY)
ENDPOINTS = [
    ("GET /api/v1/tasks", "/api/v1/tasks", BUSY),
    ("GET /api/v1/tasks?scope=group", "/api/v1/tasks?scope=group", BUSY),
    ("GET /api/v1/tasks?scope=all", "/api/v1/tasks?scope=all", BUSY),
    ("GET /api/v1/tasks?state=completed", "/api/v1/tasks?state=completed", BUSY),
    ("GET / (待办 page)", "/", None),
    # 企管部 sees every case: scope=all is every open task of the database
    ("GET /api/v1/tasks?scope=all as qg_staff", "/api/v1/tasks?scope=all", "qg_staff"),
]


def bench_client(client, scale: Scale) -> dict:
    header(f"requests as {BUSY} (unless named) via {client.label}: warm {scale.warm}, then {scale.requests} each")
    bearer = {}
    for username in {who for _, _, who in ENDPOINTS if who}:
        status, body = client.post_json("/api/v1/auth/token", {"username": username, "password": "demo"})
        assert status == 200, body
        bearer[username] = {"Authorization": f"Bearer {body['token']}"}
    log_in_form(client, BUSY)
    out = {}
    for label, path, who in ENDPOINTS:
        api = who is not None
        headers = bearer[who] if api else None
        for _ in range(scale.warm):
            status, body = client.get(path, headers)
            assert status == 200, (label, status, body[:300])
        times = []
        for _ in range(scale.requests):
            t0 = pc()
            status, body = client.get(path, headers)
            times.append(pc() - t0)
            assert status == 200, (label, status)
        st = stats(times)
        st["items"] = len(json.loads(body)) if api else None
        st["bytes"] = len(body)
        st["verdict"] = verdict(st["median_ms"])
        out[label] = st
        what = f"{st['items']} items" if api else f"{len(body):,} B"
        row(label, st, f"   ({what})  {st['verdict']}")
    return out


# --------------------------------------------------------------------------- engine functions


def bench_functions(db: Database, scale: Scale, usernames: list[str]) -> dict:
    header(f"inbox functions in-process (engine/runtime/inbox.py), {scale.requests} calls each")
    calls = [
        ("todo(scope=mine)", lambda s, u: inbox.todo(s, user=u, scope="mine")),
        ("todo(scope=group)", lambda s, u: inbox.todo(s, user=u, scope="group")),
        ("todo(scope=all)", lambda s, u: inbox.todo(s, user=u, scope="all")),
        ("todo(scope=all, offset=500)", lambda s, u: inbox.todo(s, user=u, scope="all", offset=500)),
        ("todo_count", lambda s, u: inbox.todo_count(s, user=u)),
        ("done", lambda s, u: inbox.done(s, user=u)),
        ("started", lambda s, u: inbox.started(s, user=u)),
        ("copied", lambda s, u: inbox.copied(s, user=u)),
        ("copied_unread_count", lambda s, u: inbox.copied_unread_count(s, user=u)),
    ]
    out = {}
    for username in usernames:
        with db.session() as session:
            user = session.scalar(select(User).where(User.username == username))
            size = inbox.todo_count(session, user=user)
        print(f"  -- {username} (todo_count {size})")
        out[username] = {"todo_count": size}
        for label, fn in calls:
            times = []
            with db.session() as session:
                user = session.get(User, user.id)
                for i in range(scale.warm + scale.requests):
                    t0 = pc()
                    result = fn(session, user)
                    if i >= scale.warm:
                        times.append(pc() - t0)
                    session.expunge_all()  # each call loads its rows anew, as a request would
                    user = session.get(User, user.id)
            st = stats(times)
            st["result"] = result if isinstance(result, int) else len(result)
            out[username][label] = st
            row(label, st, f"   -> {st['result']}")
    return out


# --------------------------------------------------------------------------- EXPLAIN


def explain(db: Database) -> dict:
    header(f"query plans of the todo queries for {BUSY}")
    plans = {}
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == BUSY))
        for label, fn in (
            ("todo(scope=all)", lambda: inbox.todo(session, user=user, scope="all")),
            ("todo(scope=group)", lambda: inbox.todo(session, user=user, scope="group")),
            ("todo(scope=mine)", lambda: inbox.todo(session, user=user, scope="mine")),
            ("todo_count", lambda: inbox.todo_count(session, user=user)),
        ):
            statements = []

            def capture(conn, cursor, statement, parameters, context, executemany):
                statements.append((statement, parameters))  # noqa: B023 (listened to for this fn only)

            event.listen(db.engine, "before_cursor_execute", capture)
            try:
                fn()
            finally:
                event.remove(db.engine, "before_cursor_execute", capture)
            plans[label] = []
            for statement, parameters in statements:
                conn = session.connection()
                if db.is_sqlite:
                    rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
                    plan = "\n".join(f"{'   ' * _depth(rows, r)}{r[-1]}" for r in rows)
                else:
                    rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
                    plan = "\n".join(r[0] for r in rows)
                print(f"\n  -- {label}\n{_indent(statement)}\n\n{_indent(plan)}")
                plans[label].append({"sql": statement, "plan": plan})
    return plans


def _depth(rows, r) -> int:
    parents = {x[0]: x[1] for x in rows}
    depth, parent = 0, r[1]
    while parent:
        depth, parent = depth + 1, parents.get(parent, 0)
    return depth


def _indent(block: str) -> str:
    return "\n".join("    " + line for line in block.strip().splitlines())


# --------------------------------------------------------------------------- main


def environment(db: Database) -> dict:
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

    with db.engine.connect() as conn:
        server = conn.exec_driver_sql("select sqlite_version()" if db.is_sqlite else "show server_version").scalar()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "sqlalchemy": sqlalchemy.__version__,
        "database": db.engine.dialect.name,
        "database_version": server,
        "sqlite_module": sqlite3.sqlite_version,
        "git_commit": commit,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def table_counts(db: Database) -> dict:
    with db.session() as session:
        return {
            "task_open": session.scalar(select(func.count()).select_from(Task).where(Task.state == "open")),
            "task": session.scalar(select(func.count()).select_from(Task)),
            "task_candidate": session.scalar(select(func.count()).select_from(TaskCandidate)),
            "event": session.scalar(select(func.count()).select_from(Event)),
            "instance": session.scalar(select(func.count()).select_from(Instance)),
            "user_account": session.scalar(select(func.count()).select_from(User)),
            "case_copy": session.scalar(select(func.count()).select_from(CaseCopy)),
        }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a tenth of the data, fewer requests")
    ap.add_argument("--requests", type=int, default=None, help="timed requests per endpoint (default 200)")
    ap.add_argument("--explain", action="store_true", help="print the plans of the todo queries")
    ap.add_argument("--keep", action="store_true", help="keep the seeded database and print its URL")
    ap.add_argument("--reuse", metavar="URL", help="measure an already seeded database (no schema, no seeding)")
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    scale = QUICK if args.quick else Scale()
    if args.requests:
        scale.requests = args.requests
    began = pc()
    results: dict = {"scale": asdict(scale), "target_median_ms": TARGET_MS}

    tmp, db, given = None, None, os.environ.get("DATABASE_URL", "")
    if args.reuse:
        url = args.reuse
    elif given.startswith("postgres"):
        url = fresh_postgres_database(given, "_bpm_bench")
    else:
        tmp = tempfile.mkdtemp(prefix="bpm-bench-inbox-")
        url = f"sqlite:///{Path(tmp) / 'inbox.db'}"
    try:
        if args.reuse:
            print(f"Inbox benchmark on the seeded database {make_url(url).render_as_string(hide_password=True)}")
            db = Database(url)
        else:
            print(f"Inbox benchmark: fresh database {make_url(url).render_as_string(hide_password=True)}")
            t0 = pc()
            db = prepare(url)
            print(f"  schema + demo org + library in {pc() - t0:.1f} s")
            header("seeding (Core bulk inserts)")
            counts = seed(db, scale, random.Random(20261123))
            results["seed"] = counts
            print(f"  generated in {counts['generate_s']} s, inserted in {counts['insert_s']} s")
        env = environment(db)
        results["environment"] = env
        results["rows"] = table_counts(db)
        print(
            f"  {env['database']} {env['database_version']}, Python {env['python']}, SQLAlchemy "
            f"{env['sqlalchemy']}, {env['cpus']} CPUs"
        )
        print("  rows: " + ", ".join(f"{k} {v:,}" for k, v in results["rows"].items()))

        if args.explain:
            results["explain"] = explain(db)

        with db.session() as session:  # a light user: someone with a few open tasks
            light = (
                session.scalar(
                    select(User.username)
                    .join(Task, Task.assignee_id == User.id)
                    .where(Task.state == "open", User.username.like("user%"))
                    .group_by(User.username)
                    .having(func.count() == 3)
                    .order_by(User.username)
                    .limit(1)
                )
                or "emp"
            )
        results["functions"] = bench_functions(db, scale, [BUSY, light])

        from webapp import create_app

        app = create_app({"BPM_DATABASE": db, "SECRET_KEY": "bench-secret-key"})
        client = TestClient(app)
        results["test_client"] = bench_client(client, scale)
        http = HttpClient(app)
        try:
            results["http"] = bench_client(http, scale)
        finally:
            http.close()
    finally:
        if db is not None:
            db.dispose()
        if args.keep or args.reuse:
            print(f"\n  database kept: {url}")
        elif tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            drop_postgres(url, given)

    header(
        f"summary: median against the {TARGET_MS:.0f} ms target ({results['rows']['task_open']:,} open tasks, "
        f"{results['environment']['database']})"
    )
    print(f"  {'':<40}{'test client':>16}{'HTTP':>16}")
    met = True
    for label, _, _ in ENDPOINTS:
        a, b = results["test_client"][label], results["http"][label]
        met &= a["verdict"] == "MET" and b["verdict"] == "MET"
        print(
            f"  {label:<40}{a['median_ms']:>13.2f} ms{b['median_ms']:>13.2f} ms   "
            f"p95 {a['p95_ms']:.1f} / {b['p95_ms']:.1f} ms   {verdict(max(a['median_ms'], b['median_ms']))}"
        )
    results["summary"] = {"target_met": met, "elapsed_s": round(pc() - began, 1)}
    print(f"  target: every median under {TARGET_MS:.0f} ms: {'MET' if met else 'NOT MET'}")
    print(f"  total bench time: {pc() - began:.0f} s")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str))
    with contextlib.suppress(ValueError):
        print(f"  figures written to {args.output.resolve().relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
