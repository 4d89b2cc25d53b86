"""Runtime behaviour through the API: errors and retry, assignment, claiming, permissions."""

from engine.org.service import create_user
from engine.store.models import Department


def test_script_error_puts_case_in_error_and_retry_with_corrected_data_continues(api):
    case = api.start("t_script_error", "emp", {"amount": 3})
    assert case["status"] == "error"
    body = api.get(f"/instances/{case['id']}", "emp").json
    error = [e for e in body["history"] if e["type"] == "error"]
    assert error and error[0]["element_id"] == "calc" and "price" in error[0]["comment"]
    assert body["error"] and "price" in body["error"]

    # Retrying without fixing the cause fails the same way and says so again.
    r = api.post(f"/instances/{case['id']}/retry", "emp")
    assert r.status_code == 200 and r.json["status"] == "error"
    # Correcting the data is an admin's, with a reason (tests/test_case_integrity.py has the rules).
    r = api.post(f"/instances/{case['id']}/retry", "admin", {"data": {"price": 2}, "reason": "补充单价"})
    assert r.status_code == 200 and r.json["status"] == "running"
    assert r.json["data"]["total"] == 6
    assert [t["element_id"] for t in r.json["tasks"] if t["state"] == "open"] == ["check"]
    assert [e["type"] for e in r.json["history"]].count("retried") == 2


def test_retry_refused_when_not_in_error(api):
    case = api.start("t_group", "emp")
    r = api.post(f"/instances/{case['id']}/retry", "emp")
    assert r.status_code == 409


def test_runaway_script_is_stopped_by_the_time_limit(api):
    case = api.start("t_runaway", "emp")
    assert case["status"] == "error"
    body = api.get(f"/instances/{case['id']}", "emp").json
    assert "超过" in body["error"]


def test_department_head_of_initiator(api):
    case = api.start("t_dept_head", "emp")  # emp is in 运维部
    assert case["tasks"][0]["candidate_users"] == ["ops_head"]
    api.complete(case["tasks"][0]["id"], "ops_head", {"decision": "approve"})


def test_no_department_head_is_a_clear_error_at_start_not_a_stuck_task(api, db):
    with db.session(write=True) as session:
        if session.query(Department).filter_by(code="lab").first() is None:
            session.add(Department(code="lab", name="实验室"))
            session.flush()
            create_user(session, username="lab_emp", display_name="实验室员工", password="demo", department="lab")
    before = api.get("/instances?mine=true", "lab_emp").json
    r = api.post("/processes/t_dept_head/instances", "lab_emp", {"data": {}})
    assert r.status_code == 400
    assert "部门负责人" in r.json["message"] and "实验室" in r.json["message"]
    assert api.get("/instances?mine=true", "lab_emp").json == before  # nothing half-started


def test_group_task_claim_and_conflicts(api):
    case = api.start("t_group", "emp")
    task = case["tasks"][0]
    assert task["assignee"] is None and set(task["candidate_users"]) == {"qg_head", "qg_staff"}
    assert task["id"] in [t["id"] for t in api.get("/tasks?scope=group&limit=500", "qg_head").json]

    assert api.post(f"/tasks/{task['id']}/claim", "emp").status_code == 403
    r = api.post(f"/tasks/{task['id']}/claim", "qg_head")
    assert r.status_code == 200 and r.json["assignee"] == "qg_head"
    assert api.post(f"/tasks/{task['id']}/claim", "qg_head").status_code == 200  # double click
    assert api.post(f"/tasks/{task['id']}/claim", "qg_staff").status_code == 409
    assert api.post(f"/tasks/{task['id']}/complete", "qg_staff", {"data": {}}).status_code == 409
    assert task["id"] in [t["id"] for t in api.get("/tasks?scope=mine", "qg_head").json]

    api.complete(task["id"], "qg_head", {"note": "已处理"})
    r = api.post(f"/tasks/{task['id']}/complete", "qg_head", {"data": {"note": "again"}})
    assert r.status_code == 409
    history = api.get(f"/instances/{case['id']}", "emp").json["history"]
    assert [e["type"] for e in history].count("task_completed") == 1


def test_bad_submissions_are_refused_and_the_task_stays_open(api):
    case = api.start("t_dept_head", "emp")
    task_id = case["tasks"][0]["id"]
    for data, field in [
        ({"decision": "maybe"}, "decision"),
        ({}, "decision"),
        ({"decision": "approve", "hack": 1}, "hack"),
    ]:
        r = api.post(f"/tasks/{task_id}/complete", "ops_head", {"data": data})
        assert r.status_code == 400 and field in r.json["errors"], r.json
    r = api.post(f"/tasks/{task_id}/complete", "ops_head", {"data": "not an object"})
    assert r.status_code == 400
    assert api.get(f"/tasks/{task_id}", "ops_head").json["state"] == "open"


def test_task_detail_has_form_with_department_options(api):
    case = api.start("process_change", "emp")
    detail = api.get(f"/tasks/{case['tasks'][0]['id']}", "emp").json
    components = {c.get("key"): c for c in detail["form"]["components"]}
    assert {"label": "技术部", "value": "tech"} in components["business_dept"]["values"]
    assert detail["process_key"] == "process_change"


def test_authentication(client, api):
    assert client.post("/api/v1/auth/token", json={"username": "gm", "password": "wrong"}).status_code == 401
    assert client.post("/api/v1/auth/token", json={"username": "gm"}).status_code == 400
    assert client.get("/api/v1/tasks").status_code == 401
    assert client.get("/api/v1/tasks", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert api.get("/tasks", "gm").status_code == 200
    spec = client.get("/api/v1/openapi.json").json
    assert "/api/v1/tasks/{task_id}/complete" in spec["paths"]


def test_cases_are_visible_only_to_those_involved(api):
    case = api.start("t_dept_head", "emp")
    assert api.get(f"/instances/{case['id']}", "ops_head").status_code == 200  # may act on it
    assert api.get(f"/instances/{case['id']}", "qg_staff").status_code == 200  # 企管部 follows every case
    assert api.get(f"/instances/{case['id']}", "sales").status_code == 403
    assert case["id"] not in [i["id"] for i in api.get("/instances", "sales").json]
    task_id = case["tasks"][0]["id"]
    assert api.get(f"/tasks/{task_id}", "sales").status_code == 403
    assert api.get("/instances/999999", "gm").status_code == 404


def test_history_is_append_only(api, db):
    import pytest
    from sqlalchemy import delete, update
    from sqlalchemy.exc import DatabaseError

    from engine.store.models import Event

    case = api.start("t_group", "emp")
    for statement in (
        update(Event).where(Event.instance_id == case["id"]).values(comment="改写"),
        delete(Event).where(Event.instance_id == case["id"]),
    ):
        with pytest.raises(DatabaseError, match="append-only"), db.session(write=True) as session:
            session.execute(statement)
    assert len(api.get(f"/instances/{case['id']}", "emp").json["history"]) >= 1


def test_lane_resolves_to_the_person_chosen_in_an_earlier_form(api):
    case = api.start("t_chosen", "emp")
    pick = case["tasks"][0]
    form = api.get(f"/tasks/{pick['id']}", "emp").json["form"]
    assert "hr_trainer" in [v["value"] for v in form["components"][0]["values"]]
    r = api.post(f"/tasks/{pick['id']}/complete", "emp", {"data": {"reviewer": "nobody"}})
    assert r.status_code == 400 and "reviewer" in r.json["errors"]
    body = api.complete(pick["id"], "emp", {"reviewer": "hr_trainer"})
    review = next(t for t in body["tasks"] if t["state"] == "open")
    assert (review["element_id"], review["assignee"], review["candidate_users"]) == (
        "review",
        "hr_trainer",
        ["hr_trainer"],
    )
