"""Task deadlines from the diagram (tests/library/bpmn/t_deadline.bpmn):
办理 is due in P3D, with a reminder one day before and `notify:dept_head` when it is overdue;
整改 is due in PT8H with `move:dept_head`. emp works in 运维部, whose head is ops_head."""

import re
from datetime import timedelta

from sqlalchemy import func, select

from engine.store.models import Timer, User


def _events(api, case_id, type_):
    return [e for e in api.case(case_id)["history"] if e["type"] == type_]


def _notes(api, user, case_id):
    items = api.get("/notifications?limit=100", user).json["items"]
    return [(n["kind"], n["title"]) for n in items if n["instance_id"] == case_id]


def _timer_rows(db, case_id):
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Timer).where(Timer.instance_id == case_id))


def test_reminder_before_the_due_time_then_the_department_head_is_told(api, clock, db):
    case = api.start("t_deadline", "emp")
    task = api.open_task(case["id"], "emp", "handle")
    assert task["due_at"] and not task["overdue"]
    due = clock.now() + timedelta(days=3)

    clock.advance(days=1, hours=23, minutes=59)  # a minute before the reminder
    assert _events(api, case["id"], "notified") == []
    clock.advance(minutes=2)
    reminder = _events(api, case["id"], "notified")
    assert [(e["data"]["kind"], e["data"]["to"]) for e in reminder] == [("reminder", ["emp"])]
    assert [k for k, _ in _notes(api, "emp", case["id"])].count("reminder") == 1
    assert api.get(f"/instances/{case['id']}", "ops_head").status_code == 403  # not theirs yet

    clock.set(due - timedelta(minutes=1))
    clock.advance(minutes=0)
    assert _events(api, case["id"], "escalated") == []
    assert not api.open_task(case["id"], "emp", "handle")["overdue"]
    clock.advance(minutes=2)
    escalated = _events(api, case["id"], "escalated")
    assert [(e["data"]["action"], e["data"]["to"], e["data"]["holders"]) for e in escalated] == [
        ("notify", ["ops_head"], ["emp"])
    ]
    assert "overdue" in [k for k, _ in _notes(api, "emp", case["id"])]
    head_notes = _notes(api, "ops_head", case["id"])
    assert [k for k, _ in head_notes] == ["escalated"] and "办理 已逾期" in head_notes[0][1]
    assert api.get(f"/instances/{case['id']}", "ops_head").status_code == 200  # they may read what they chase
    task = api.open_task(case["id"], "emp", "handle")
    assert task["overdue"] and task["candidate_users"] == ["emp"]  # notify leaves the task where it is
    todo = api.get("/tasks?limit=500", "emp").json
    assert [t["overdue"] for t in todo if t["id"] == task["id"]] == [True]
    assert _timer_rows(db, case["id"]) == 0

    clock.advance(days=30)  # nothing fires twice
    assert len(_events(api, case["id"], "notified")) == 1 and len(_events(api, case["id"], "escalated")) == 1


def test_an_overdue_task_moves_to_the_department_head(api, clock):
    case = api.start("t_deadline", "emp")
    api.walk(case["id"], [("handle", "emp", {"note": "已办理"})])
    clock.advance(hours=7, minutes=59)
    assert api.open_task(case["id"], "emp", "fix")["candidate_users"] == ["emp"]
    clock.advance(minutes=2)
    task = api.open_task(case["id"], "ops_head", "fix")
    assert task["assignee"] == "ops_head" and task["candidate_users"] == ["ops_head"] and task["overdue"]
    assert all(
        t["element_id"] != "fix" for t in api.get("/tasks?limit=500", "emp").json if t["instance_id"] == case["id"]
    )
    [moved] = _events(api, case["id"], "escalated")
    assert moved["data"]["action"] == "move" and moved["data"]["to"] == ["ops_head"]
    assert [k for k, _ in _notes(api, "ops_head", case["id"])][:1] == ["escalated"]
    api.complete(task["id"], "ops_head", {"note": "部门负责人已整改"})
    assert api.case(case["id"])["status"] == "completed"


def test_a_task_done_in_time_is_neither_reminded_nor_escalated(api, clock, db):
    case = api.start("t_deadline", "emp")
    clock.advance(hours=1)
    api.walk(case["id"], [("handle", "emp", {"note": "按时办理"})])
    api.walk(case["id"], [("fix", "emp", {"note": "按时整改"})])
    clock.advance(days=10)
    assert _events(api, case["id"], "notified") == [] and _events(api, case["id"], "escalated") == []
    assert [k for k, _ in _notes(api, "emp", case["id"]) if k in ("reminder", "overdue")] == []
    assert _timer_rows(db, case["id"]) == 0  # the closed tasks' deadline rows are gone once their time came


def test_an_escalation_nobody_can_take_leaves_the_task_and_says_why(api, clock, db):
    case = api.start("t_deadline", "emp")

    def set_head_active(active):
        with db.session(write=True) as session:
            session.scalar(select(User).where(User.username == "ops_head")).active = active

    set_head_active(False)
    try:
        clock.advance(days=3, minutes=1)
    finally:
        set_head_active(True)
    [failed] = _events(api, case["id"], "escalated")
    assert failed["data"]["to"] == [] and "未能执行" in failed["comment"]
    assert api.case(case["id"])["status"] == "running"
    assert api.open_task(case["id"], "emp", "handle")["candidate_users"] == ["emp"]


def test_the_inbox_and_the_task_page_show_the_due_time_and_mark_it_overdue(api, clock, app):
    case = api.start("t_deadline", "emp")
    task = api.open_task(case["id"], "emp", "handle")
    client = app.test_client()
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "emp", "password": "demo", "csrf": csrf})
    page = client.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert 'id="task-due"' in page and "逾期" not in page.split('id="task-due"')[1].split("</span>")[0]
    clock.advance(days=3, minutes=1)
    page = client.get(f"/tasks/{task['id']}").get_data(as_text=True)
    due = page.split('id="task-due"')[1].split("</span>")[0]
    assert "逾期" in due and "due-late" in page
    marker = f'data-task="{task["id"]}"'
    pages = (client.get(f"/?page={n}").get_data(as_text=True) for n in range(1, 100))
    todo = next(p for p in pages if marker in p)  # other tests leave emp tasks opened later
    row = todo.split(marker)[1].split("</li>")[0]
    assert "逾期" in row and "截止" in row
