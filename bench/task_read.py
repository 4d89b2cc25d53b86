"""Benchmark of reading one task (`make bench`): GET /api/v1/tasks/{id} must cost the same however long the
case's history is.

One run:
  1. makes a fresh SQLite file (WAL), migrates it, loads the demo organisation and deploys the library;
  2. through the engine, starts two process_change cases and brings each to its 管理者代表 review
     (mr_review): the first directly, the second after N rejection loops (mr rejects, the applicant
     resubmits; N = 200 by default), so its history holds 2·N more completed tasks and their events;
  3. reads the open review task of each as mr through Flask's test client with a bearer token,
     alternating between the two cases, and prints the median and p90 of each and their ratio
     (close to 1.0: the read does not grow with the history).

Options: --loops N, --requests N (per case), --quick (fewer loops and requests: a smoke run).
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BPM_SECRET_KEY", "bench-secret-key")  # create_app would write instance/secret_key

from sqlalchemy import select  # noqa: E402

from engine.definitions.deploy import deploy_folder  # noqa: E402
from engine.org.demo import load_demo  # noqa: E402
from engine.runtime import instances as rt_instances  # noqa: E402
from engine.runtime import tasks as rt_tasks  # noqa: E402
from engine.store.db import Database  # noqa: E402
from engine.store.models import Task, User  # noqa: E402
from engine.store.schema import upgrade  # noqa: E402

pc = time.perf_counter
PROCESS = "process_change"
APPLY = (
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
)
REJECT = ("mr", {"decision": "reject", "comment": "请补充"})
REVIEW = "mr_review"


def stats(samples: list[float]) -> dict:
    s = sorted(samples)
    p90 = s[min(len(s) - 1, round(0.9 * (len(s) - 1)))]
    return {"n": len(s), "median_ms": statistics.median(s) * 1e3, "p90_ms": p90 * 1e3}


def row(label: str, st: dict, extra: str = "") -> None:
    print(f"  {label:<40} median {st['median_ms']:7.2f} ms   p90 {st['p90_ms']:7.2f} ms   n={st['n']}{extra}")
    sys.stdout.flush()


def make_db(folder: Path) -> Database:
    db = Database(f"sqlite:///{folder / 'bench.db'}")
    upgrade(db)
    with db.session(write=True) as session:
        load_demo(session)
        deploy_folder(session, ROOT / "bpmn")
    return db


def _open_task(session, instance_id: int) -> Task:
    (task,) = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "open"))
    return task


def _complete(db: Database, task_id: str, username: str, data: dict) -> None:
    with db.session(write=True) as session:
        user = session.scalar(select(User).where(User.username == username))
        rt_tasks.complete(session, task_id, user=user, data=copy.deepcopy(data))


def case_at_review(db: Database, loops: int) -> str:
    """A case waiting on mr_review after `loops` rejections and resubmissions; the review task's id."""
    with db.session(write=True) as session:
        emp = session.scalar(select(User).where(User.username == "emp"))
        instance_id = rt_instances.start(session, process_key=PROCESS, user=emp, data={}).id
    for i in range(loops + 1):
        with db.session() as session:
            task = _open_task(session, instance_id)
        assert task.element_id == "apply", task.element_id
        _complete(db, task.id, *APPLY)
        with db.session() as session:
            task = _open_task(session, instance_id)
        assert task.element_id == REVIEW, task.element_id
        if i < loops:
            _complete(db, task.id, *REJECT)
        if loops >= 50 and (i + 1) % 50 == 0:
            print(f"    … {i + 1} loops")
            sys.stdout.flush()
    return task.id


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loops", type=int, default=None, help="rejection loops of the long case (default 200)")
    ap.add_argument("--requests", type=int, default=None, help="GETs per case (default 300)")
    ap.add_argument("--quick", action="store_true", help="20 loops, 50 requests: a smoke run")
    args = ap.parse_args(argv)
    loops = args.loops if args.loops is not None else (20 if args.quick else 200)
    requests = args.requests or (50 if args.quick else 300)

    print(f"Task read benchmark: GET /api/v1/tasks/{{id}} of {PROCESS}'s {REVIEW}, after 0 and {loops} rejection loops")
    with tempfile.TemporaryDirectory(prefix="bpm-bench-") as tmp:
        db = make_db(Path(tmp))
        try:
            t0 = pc()
            short = case_at_review(db, 0)
            long = case_at_review(db, loops)
            print(f"  (cases prepared through the engine in {pc() - t0:.1f} s)")

            from webapp import create_app

            client = create_app({"BPM_DATABASE": db, "SECRET_KEY": "bench-secret-key"}).test_client()
            token = client.post("/api/v1/auth/token", json={"username": "mr", "password": "demo"}).get_json()
            headers = {"Authorization": f"Bearer {token['token']}"}
            bodies = {}
            for task_id in (short, long):  # warm-up: caches, and both answers the same but for the ids
                for _ in range(10):
                    response = client.get(f"/api/v1/tasks/{task_id}", headers=headers)
                    assert response.status_code == 200, response.get_json()
                bodies[task_id] = response.get_json()
            assert bodies[short]["actions"] == bodies[long]["actions"], (
                bodies[short]["actions"],
                bodies[long]["actions"],
            )
            gc.collect()
            times: dict[str, list[float]] = {short: [], long: []}
            for _ in range(requests):
                for task_id in (short, long):  # alternating: both see the same machine load
                    t0 = pc()
                    response = client.get(f"/api/v1/tasks/{task_id}", headers=headers)
                    times[task_id].append(pc() - t0)
                    assert response.status_code == 200
        finally:
            db.dispose()

    first, last = stats(times[short]), stats(times[long])
    row("after   0 loops", first)
    row(f"after {loops:>3} loops", last)
    print(f"  ratio (median after {loops} / after 0): {last['median_ms'] / first['median_ms']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
