"""Fixtures: one database per test session (SQLite file, or PostgreSQL when DATABASE_URL is set),
with the schema migrated, the demo organisation loaded and the library deployed."""

from __future__ import annotations

import os
from datetime import UTC
from pathlib import Path

import pytest

from engine.config import PROJECT_ROOT
from engine.definitions.deploy import deploy_folder
from engine.org.demo import load_demo
from engine.store.db import Database, fresh_postgres_database
from engine.store.schema import upgrade

TEST_LIBRARY = Path(__file__).parent / "library" / "bpmn"
IN_CI = os.environ.get("CI") == "true"


def postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else None


def fresh_postgres(url: str, suffix: str = "") -> str:
    """A database of our own beside the one given, created anew for this run."""
    return fresh_postgres_database(url, f"_bpm_pytest{suffix}")


@pytest.fixture(scope="session")
def db_url(tmp_path_factory) -> str:
    url = postgres_url()
    if url:
        return fresh_postgres(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'bpm.db'}"


@pytest.fixture(scope="session")
def own_database(tmp_path_factory):
    """A prepared database of a test module's own, for exact counts: `own_database("inbox")`.
    (A fixture, not an import: `from conftest import` is ambiguous beside tests/e2e/conftest.py.)"""
    made = []

    def make(name: str) -> Database:
        url = postgres_url()
        url = fresh_postgres(url, suffix=f"_{name}") if url else f"sqlite:///{tmp_path_factory.mktemp(name) / 'bpm.db'}"
        made.append(_prepared(url))
        return made[-1]

    yield make
    for database in made:
        database.dispose()


@pytest.fixture(scope="session")
def db(db_url) -> Database:
    database = _prepared(db_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def app(db):
    from webapp import create_app

    app = create_app({"TESTING": True, "BPM_DATABASE": db, "SECRET_KEY": "test"})
    return app


@pytest.fixture
def client(app):
    return app.test_client()


class Api:
    """A thin JSON client that logs in as demo users (password `demo`)."""

    def __init__(self, client):
        self.client = client
        self.tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            r = self.client.post("/api/v1/auth/token", json={"username": username, "password": "demo"})
            assert r.status_code == 200, r.json
            self.tokens[username] = r.json["token"]
        return self.tokens[username]

    def call(self, method: str, path: str, as_: str, json=None, **kwargs):
        headers = {"Authorization": f"Bearer {self.token(as_)}"}
        return self.client.open(f"/api/v1{path}", method=method, json=json, headers=headers, **kwargs)

    def get(self, path, as_, **kw):
        return self.call("GET", path, as_, **kw)

    def post(self, path, as_, json=None, **kw):
        return self.call("POST", path, as_, json=json if json is not None else {}, **kw)

    def start(self, key: str, as_: str, data=None) -> dict:
        r = self.post(f"/processes/{key}/instances", as_, {"data": data or {}})
        assert r.status_code == 201, r.json
        return r.json

    def open_task(self, instance_id: int, as_: str, element_id: str | None = None) -> dict:
        body = self.get(f"/instances/{instance_id}", as_).json
        tasks = [
            t for t in body["tasks"] if t["state"] == "open" and (element_id is None or t["element_id"] == element_id)
        ]
        assert tasks, f"no open task {element_id} in {body['tasks']}"
        return tasks[0]

    def complete(self, task_id: str, as_: str, data=None, expect=200) -> dict:
        r = self.post(f"/tasks/{task_id}/complete", as_, {"data": data or {}})
        assert r.status_code == expect, r.json
        return r.json

    def walk(self, instance_id: int, steps) -> None:
        """Complete (element_id, user, data) in order, checking each task is offered to that user."""
        for element_id, user, data in steps:
            task = self.open_task(instance_id, user, element_id)
            assert user in task["candidate_users"] or task["assignee"] == user, (element_id, user, task)
            self.complete(task["id"], user, data)

    def case(self, instance_id: int, as_: str = "admin") -> dict:
        return self.get(f"/instances/{instance_id}", as_).json

    def completions(self, instance_id: int) -> list[tuple]:
        """(element_id, actor, decision) of every completed step, in order."""
        return [
            (e["element_id"], e["actor"], e["decision"])
            for e in self.case(instance_id)["history"]
            if e["type"] == "task_completed"
        ]

    def children(self, instance_id: int) -> list[dict]:
        """The cases this case started, in order."""
        return [
            self.case(e["data"]["instance_id"])
            for e in self.case(instance_id)["history"]
            if e["type"] == "case_started"
        ]


@pytest.fixture
def api(client) -> Api:
    return Api(client)


@pytest.fixture(scope="session")
def api_on():
    """An Api on a database of a test module's own: `api_on(own_database("changes"))`."""
    from webapp import create_app

    def make(database) -> Api:
        app = create_app({"TESTING": True, "BPM_DATABASE": database, "SECRET_KEY": "test"})
        return Api(app.test_client())

    return make


def _prepared(url: str) -> Database:
    database = Database(url)
    upgrade(database)
    with database.session(write=True) as session:
        load_demo(session)
        deploy_folder(session, PROJECT_ROOT / "bpmn")
        deploy_folder(session, TEST_LIBRARY)
    return database


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A fresh PostgreSQL database for tests that need one. They skip on a machine without
    PostgreSQL, but never in CI, where a missing server is a failure."""
    url = postgres_url() or os.environ.get("BPM_TEST_POSTGRES_URL")
    if not url:
        if IN_CI:
            pytest.fail("CI must provide PostgreSQL: set DATABASE_URL or BPM_TEST_POSTGRES_URL")
        pytest.skip("needs PostgreSQL: set BPM_TEST_POSTGRES_URL=postgresql://…")
    fresh = fresh_postgres(url, suffix="_pg")
    _prepared(fresh).dispose()
    return fresh


class Clock:
    """The engine clock, moved by tests; `advance()` also fires whatever timers fell due."""

    def __init__(self, db):
        self.db = db

    def set(self, moment):
        from engine import clock

        clock.set_time(moment)

    def now(self):
        from engine import clock

        return clock.now()

    def advance(self, **delta) -> int:
        from datetime import timedelta

        from engine import clock
        from engine.flows import timers

        clock.advance(timedelta(**delta))
        return timers.fire_due(self.db)


@pytest.fixture
def clock(db):
    """A controllable engine clock, frozen at 2026-11-23 09:00 Beijing time for each test."""
    from datetime import datetime

    from engine import clock as engine_clock

    engine_clock.set_time(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
    yield Clock(db)
    engine_clock.set_time(None)
