"""The API says what its OpenAPI says, and bad or unlucky requests get a 4xx or a 503, never a 500:
numbers beyond what the database holds (404/400), a lock held too long elsewhere (503 数据库繁忙 with
Retry-After, on the API and the pages, SQLite and PostgreSQL), 405 with Allow, 401 before the body is read."""

from __future__ import annotations

import re
import sqlite3
import threading

import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from engine.org.demo import load_demo
from engine.store.db import MAX_INTEGER, Database, is_busy
from engine.store.schema import upgrade

BEYOND = 2**64  # what the fuzzer sent: more than any column holds


# --- item 12: ids, offsets and versions beyond what the database holds --------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/instances/{BEYOND}",
        f"/instances/{BEYOND}/diagram",
        f"/instances/{BEYOND}/attachments",
        f"/attachments/{BEYOND}",
        f"/drafts/{BEYOND}",
        f"/drafts/{BEYOND}/diff",
    ],
)
def test_an_id_beyond_the_database_names_nothing(api, path):
    r = api.get(path, "admin")
    assert r.status_code == 404 and r.json["code"] == 404


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("POST", f"/instances/{BEYOND}/urge", {}),
        ("POST", f"/processes/t_quick/versions/{BEYOND}/rollback", None),
        ("POST", f"/notifications/outbox/{BEYOND}/retry", None),
        ("DELETE", f"/drafts/{BEYOND}", None),
    ],
)
def test_an_action_on_an_id_beyond_the_database_is_404(api, method, path, body):
    assert api.call(method, path, "admin", json=body).status_code == 404


@pytest.mark.parametrize(
    "method,path,body,field",
    [
        ("GET", f"/instances?offset={BEYOND}", None, "offset"),
        ("GET", f"/tasks?offset={BEYOND}", None, "offset"),
        ("GET", f"/notifications?offset={BEYOND}", None, "offset"),
        ("GET", f"/notifications/outbox?offset={BEYOND}", None, "offset"),
        ("GET", f"/processes/t_quick/bpmn?version={BEYOND}", None, "version"),
        ("GET", f"/processes/t_quick/content?version={BEYOND}", None, "version"),
        ("POST", "/notifications/read", {"ids": [BEYOND]}, "ids"),
        ("POST", "/processes/t_quick/migrations", {"to_version": BEYOND}, "to_version"),
        ("POST", "/processes/t_quick/migrations", {"instance_ids": [BEYOND]}, "instance_ids"),
    ],
)
def test_a_number_beyond_the_database_is_refused_naming_the_field(api, method, path, body, field):
    r = api.call(method, path, "admin", json=body)
    assert r.status_code == 400, r.json
    assert field in r.json["errors"] and r.json["message"]


def test_the_openapi_says_how_large_an_id_may_be(client):
    spec = client.get("/api/v1/openapi.json").json
    param = spec["paths"]["/api/v1/instances/{instance_id}"]["parameters"][0]
    assert param["schema"]["maximum"] == MAX_INTEGER


def test_pages_with_numbers_beyond_the_database(client):
    login(client, "admin")
    assert client.get(f"/cases/{BEYOND}").status_code == 404
    assert client.get(f"/done?page={BEYOND}").status_code == 200
    assert client.get(f"/modeler/t_quick?draft={BEYOND}").status_code == 404
    assert client.get(f"/modeler/t_quick?draft={2**31}").status_code == 404  # beyond a draft's INTEGER id


BEYOND_32 = 2**31  # the first number an INTEGER column of PostgreSQL cannot hold


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", f"/drafts/{BEYOND_32}"),
        ("GET", f"/drafts/{BEYOND_32}/diff"),
        ("DELETE", f"/drafts/{BEYOND_32}"),
        ("POST", f"/drafts/{BEYOND_32}/propose"),
        ("DELETE", f"/auth/tokens/{BEYOND_32}"),
        ("POST", f"/processes/t_quick/versions/{BEYOND_32}/rollback"),
    ],
)
def test_an_id_beyond_a_32_bit_column_names_nothing(api, method, path):
    r = api.call(method, path, "admin")
    assert r.status_code == 404 and r.json["code"] == 404


def test_a_version_beyond_a_32_bit_column_is_refused_naming_the_field(api):
    r = api.get(f"/processes/t_quick/content?version={BEYOND_32}", "admin")
    assert r.status_code == 400 and "version" in r.json["errors"]


def test_a_nul_byte_in_a_request_is_refused_not_a_server_error(api):
    """PostgreSQL text cannot hold NUL; SQLite can: either way the answer is the request's, never a 500."""
    r = api.post("/tasks/bulk-complete", "admin", {"task_ids": ["a\u0000b"], "comment": "同意"})
    assert r.status_code in (200, 400), r.json
    if r.status_code == 400:
        assert "NUL" in r.json["message"]
    else:
        assert [x["ok"] for x in r.json["results"]] == [False]


# --- item 20: the OpenAPI matches the code ----------------------------------------------------------


def test_a_refused_diagram_answers_errors_as_the_openapi_documents(api, app):
    import schemathesis

    r = api.post("/processes", "admin", {"bpmn_xml": "not xml"})
    assert r.status_code == 400
    assert isinstance(r.json["errors"], list) and r.json["errors"][0]["message"]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema["/api/v1/processes"]["POST"].validate_response(r)  # raises if the body violates the schema
    form_error = api.post("/tasks/bulk-complete", "admin", {"task_ids": "x"})
    assert form_error.status_code == 400 and isinstance(form_error.json["errors"], dict)
    schema["/api/v1/tasks/bulk-complete"]["POST"].validate_response(form_error)


def test_a_method_not_allowed_says_which_are(api):
    r = api.call("PUT", "/processes", "admin", json={})
    assert r.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in r.headers["Allow"].split(",")}
    assert "PUT" in r.json["message"] and "GET" in r.json["message"]


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("POST", "/processes", {"bpmn_xml": 5}),
        ("POST", "/processes/t_quick/instances", {"data": "not an object"}),
        ("POST", "/tasks/bulk-complete", {"task_ids": "x"}),
        ("GET", "/tasks?scope=nonsense", None),
        ("PUT", "/drafts/1", {}),
    ],
)
def test_without_a_valid_token_a_bad_body_is_401_not_400(client, api, method, path, body):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        r = client.open(f"/api/v1{path}", method=method, json=body, headers=headers)
        assert r.status_code == 401, (headers, r.json)
        assert r.headers["WWW-Authenticate"] == "Bearer"
    assert api.call(method, path, "admin", json=body).status_code == 400  # logged in, the body is checked


def test_asking_for_a_token_is_open_and_checks_its_body(client):
    r = client.post("/api/v1/auth/token", json={"username": ""})
    assert r.status_code == 400 and "password" in r.json["errors"]


# --- item 13: a lock held too long elsewhere is 503 数据库繁忙 --------------------------------------


def form_csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(client, username: str):
    r = client.post(
        "/login", data={"username": username, "password": "demo", "csrf": form_csrf(client.get("/login").text)}
    )
    assert r.status_code == 302, r.text
    return r


def _app_on(database: Database):
    from webapp import create_app

    return create_app({"TESTING": True, "BPM_DATABASE": database, "SECRET_KEY": "test"})


def _assert_busy(response, *, page: bool):
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    if page:
        assert "text/html" in response.content_type and "数据库繁忙" in response.text
    else:
        assert response.json["message"] == "数据库繁忙，请稍后重试" and response.json["code"] == 503


def test_sqlite_write_lock_held_elsewhere_is_503_busy(tmp_path):
    path = tmp_path / "busy.db"
    database = Database(f"sqlite:///{path}", lock_timeout=0.3)
    upgrade(database)
    with database.session(write=True) as session:
        load_demo(session)
    client = _app_on(database).test_client()
    token = client.post("/api/v1/auth/token", json={"username": "emp", "password": "demo"}).json["token"]
    csrf = form_csrf(client.get("/login").text)
    member = _app_on(database).test_client()
    login(member, "emp")
    member_csrf = form_csrf(member.get("/notifications").text)

    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # e.g. a long step of another request
    try:
        api_call = client.post(
            "/api/v1/notifications/read", json={"all": True}, headers={"Authorization": f"Bearer {token}"}
        )
        _assert_busy(api_call, page=False)
        page = client.post("/login", data={"username": "emp", "password": "demo", "csrf": csrf})
        _assert_busy(page, page=True)
        _assert_busy(member.post("/notifications/read-all", data={"csrf": member_csrf}), page=True)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    again = client.post("/api/v1/notifications/read", json={"all": True}, headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 200  # nothing stuck: sent again, it goes through
    assert client.post("/login", data={"username": "emp", "password": "demo", "csrf": csrf}).status_code == 302
    database.dispose()


def _raw(pg_url: str) -> psycopg.Connection:
    return psycopg.connect(make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False))


@pytest.mark.postgres
def test_postgres_lock_held_elsewhere_is_503_busy(pg_url):
    database = Database(pg_url, lock_timeout=0.5)
    client = _app_on(database).test_client()
    token = client.post("/api/v1/auth/token", json={"username": "emp", "password": "demo"}).json["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    case = client.post("/api/v1/processes/t_quick/instances", json={"data": {}}, headers=bearer).json
    task_id = case["tasks"][0]["id"]
    csrf = form_csrf(client.get("/login").text)

    with _raw(pg_url) as holder:
        holder.execute("SELECT id FROM instance WHERE id = %s FOR UPDATE", [case["id"]])  # a long step elsewhere
        _assert_busy(client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}}, headers=bearer), page=False)
        holder.execute("LOCK TABLE user_account IN ACCESS EXCLUSIVE MODE")  # e.g. a schema change under way
        _assert_busy(client.get("/api/v1/tasks", headers=bearer), page=False)
        _assert_busy(client.post("/login", data={"username": "emp", "password": "demo", "csrf": csrf}), page=True)
        holder.rollback()
    assert client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}}, headers=bearer).status_code == 200
    database.dispose()


@pytest.mark.postgres
def test_postgres_timeouts_deadlocks_and_serialization_failures_count_as_busy(pg_url):
    database = Database(pg_url)
    errors = []

    def failure(statements):
        with database.engine.connect() as conn:
            try:
                for statement in statements:
                    conn.exec_driver_sql(statement)
            except OperationalError as exc:
                errors.append(exc)

    failure(["SET statement_timeout = 50", "SELECT pg_sleep(2)"])
    assert errors[-1].orig.sqlstate == "57014" and is_busy(errors[-1])

    with _raw(pg_url) as setup:
        setup.execute("CREATE TABLE IF NOT EXISTS busy_probe (id int PRIMARY KEY, n int)")
        setup.execute("DELETE FROM busy_probe")
        setup.execute("INSERT INTO busy_probe VALUES (1, 0), (2, 0)")

    with database.engine.connect() as reader, _raw(pg_url) as writer:  # a serialization failure
        reader.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        reader.exec_driver_sql("SELECT n FROM busy_probe WHERE id = 1")
        writer.execute("UPDATE busy_probe SET n = n + 1 WHERE id = 1")
        writer.commit()
        with pytest.raises(OperationalError) as raised:
            reader.exec_driver_sql("UPDATE busy_probe SET n = n + 1 WHERE id = 1")
        assert raised.value.orig.sqlstate == "40001" and is_busy(raised.value)

    first, second = database.engine.connect(), database.engine.connect()  # a deadlock
    first.exec_driver_sql("UPDATE busy_probe SET n = 1 WHERE id = 1")
    second.exec_driver_sql("UPDATE busy_probe SET n = 1 WHERE id = 2")
    crossing = threading.Thread(target=lambda: _quietly(first, "UPDATE busy_probe SET n = 2 WHERE id = 2", errors))
    crossing.start()
    _quietly(second, "UPDATE busy_probe SET n = 2 WHERE id = 1", errors)
    second.rollback()
    crossing.join(10)
    first.rollback()
    first.close(), second.close()
    assert any(e.orig.sqlstate == "40P01" and is_busy(e) for e in errors)
    database.dispose()


def _quietly(conn, statement, errors):
    try:
        conn.exec_driver_sql(statement)
    except OperationalError as exc:
        errors.append(exc)


def test_a_database_fault_is_not_busy(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with database.engine.connect() as conn, pytest.raises(OperationalError) as raised:
        conn.exec_driver_sql("SELECT * FROM no_such_table")
    assert not is_busy(raised.value)
    database.dispose()
