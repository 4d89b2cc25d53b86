"""Two people completing the same task at once: one wins, the other gets 409, nothing twice."""

import multiprocessing
import threading

import pytest
from sqlalchemy import func, select

from engine.errors import Conflict
from engine.store.models import Event, Task


def race(calls):
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def completions(db, task_id):
    with db.session() as session:
        return session.scalar(
            select(func.count()).select_from(Event).where(Event.task_id == task_id, Event.type == "task_completed")
        )


@pytest.mark.parametrize(
    "users", [("qg_head", "qg_staff"), ("qg_head", "qg_head")], ids=["two-candidates", "double-click"]
)
def test_threads_completing_one_task(app, db, api, users):
    for _ in range(5):
        case = api.start("t_group", "emp")
        task_id = case["tasks"][0]["id"]
        tokens = [api.token(u) for u in users]

        def complete(token):
            client = app.test_client()
            return (
                lambda: (
                    client.post(
                        f"/api/v1/tasks/{task_id}/complete",  # noqa: B023 (run in this iteration)
                        json={"data": {"note": token[:4]}},
                        headers={"Authorization": f"Bearer {token}"},
                    ).status_code
                )
            )

        statuses = sorted(race([complete(t) for t in tokens]))
        assert statuses == [200, 409]
        assert completions(db, task_id) == 1
        body = api.get(f"/instances/{case['id']}", "emp").json
        assert [t["element_id"] for t in body["tasks"] if t["state"] == "open"] == ["confirm"]


def _complete_in_process(url, task_id, username, barrier, results):
    from engine.org.service import get_user
    from engine.runtime import tasks
    from engine.store.db import Database

    db = Database(url)
    barrier.wait()
    try:
        with db.session(write=True) as session:
            tasks.complete(session, task_id, user=get_user(session, username), data={"note": username})
        results.put("ok")
    except Conflict:
        results.put("conflict")
    except Exception as exc:  # anything else is a failure of the test
        results.put(f"error: {exc!r}")
    finally:
        db.dispose()


@pytest.mark.postgres
def test_processes_completing_one_task_on_postgresql(pg_url):
    from engine.org.service import get_user
    from engine.runtime import instances
    from engine.store.db import Database

    db = Database(pg_url)
    ctx = multiprocessing.get_context("spawn")
    try:
        for _ in range(3):
            with db.session(write=True) as session:
                case = instances.start(session, process_key="t_group", user=get_user(session, "emp"))
                task_id = session.scalar(select(Task.id).where(Task.instance_id == case.id))
            barrier, results = ctx.Barrier(3), ctx.Queue()
            procs = [
                ctx.Process(target=_complete_in_process, args=(pg_url, task_id, u, barrier, results))
                for u in ("qg_head", "qg_staff", "qg_head")
            ]
            for p in procs:
                p.start()
            outcomes = sorted(results.get(timeout=60) for _ in procs)
            for p in procs:
                p.join(timeout=30)
            assert outcomes == ["conflict", "conflict", "ok"]
            assert completions(db, task_id) == 1
            with db.session() as session:
                open_tasks = session.scalars(
                    select(Task.element_id).where(Task.instance_id == case.id, Task.state == "open")
                ).all()
            assert open_tasks == ["confirm"]
    finally:
        db.dispose()
