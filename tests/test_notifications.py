"""Notifications: in-app (the 通知 list and its badge) and e-mail through the outbox, delivered to a real
SMTP server (aiosmtpd) that the tests start on a free port; a server that is down loses nothing; several
deliverers send each mail once; each person chooses the channels per kind."""

from __future__ import annotations

import asyncio
import email
import re
import socket
import threading
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner
from sqlalchemy import delete, func, select, text, update
from test_process_change import APPLY

import bpmcli
from engine import notifications
from engine.flows import timers
from engine.org.service import system_user
from engine.store.db import Database
from engine.store.models import MailOutbox, Notification, NotificationOptOut, User

BASE = "https://bpm.example.com"
APPROVE = {"decision": "approve", "comment": "同意"}


# ---- a real SMTP server ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailServer:
    """aiosmtpd on 127.0.0.1:port, keeping what it receives; `refuse` holds addresses it rejects (550)."""

    def __init__(self, port: int):
        self.port = port
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse: set[str] = set()
        self.delay = 0.0
        self.controller = None
        self.credentials: tuple[str, str] | None = None  # set: AUTH required, with this login and password

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        self.received.append(
            (list(envelope.rcpt_tos), email.message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 Message accepted for delivery"

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        given = tuple(v.decode() if isinstance(v, bytes) else v for v in (auth_data.login, auth_data.password))
        return AuthResult(success=given == self.credentials, handled=False)  # the server answers 535 itself

    def start(self) -> None:
        auth = (
            {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
            if self.credentials
            else {}
        )
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **auth)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for rcpts, m in self.received if address in rcpts]


@pytest.fixture
def mail_server(monkeypatch):
    """The SMTP server the engine is configured for: `mail_server(start=False)` leaves the port closed."""
    servers = []

    def make(start: bool = True) -> MailServer:
        server = MailServer(free_port())
        monkeypatch.setenv("BPM_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("BPM_SMTP_PORT", str(server.port))
        monkeypatch.setenv("BPM_BASE_URL", BASE)
        if start:
            server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


# ---- a database of our own, emptied of notifications before each test -----------------------------


@pytest.fixture(scope="module")
def ndb(own_database):
    return own_database("notify")


@pytest.fixture(scope="module")
def napi(api_on, ndb):
    return api_on(ndb)


@pytest.fixture(autouse=True)
def clean(ndb, clock, monkeypatch):
    """Exact counts per test: no notifications, mails or settings left by the one before; e-mail off
    unless the test starts a mail server; the engine clock frozen (the `clock` fixture)."""
    for name in ("BPM_SMTP_HOST", "BPM_SMTP_PORT", "BPM_SMTP_SECURITY", "BPM_SMTP_USER", "BPM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with ndb.session(write=True) as session:
        for model in (Notification, MailOutbox, NotificationOptOut):
            session.execute(delete(model))


def uid(db, username: str) -> int:
    with db.session() as session:
        return session.scalar(select(User.id).where(User.username == username))


def mails(db, **where) -> list[MailOutbox]:
    with db.session() as session:
        query = select(MailOutbox).order_by(MailOutbox.id)
        for key, value in where.items():
            query = query.where(getattr(MailOutbox, key) == value)
        return list(session.scalars(query))


def mine(api, username: str, **params) -> dict:
    r = api.get("/notifications", username, query_string=params)
    assert r.status_code == 200, r.json
    return r.json


def at_mr_review(api) -> tuple[int, dict]:
    case = api.start("process_change", "emp")
    api.complete(api.open_task(case["id"], "emp", "apply")["id"], "emp", APPLY)
    return case["id"], api.open_task(case["id"], "mr", "mr_review")


def send_one(db, username: str = "mr", kind: str = "notify", title: str = "测试通知") -> MailOutbox:
    with db.session(write=True) as session:
        assert notifications.send(session, user_ids=[uid(db, username)], kind=kind, title=title, link="/cases/1") == 2
    return mails(db)[-1]


# ---- what people are told ----------------------------------------------------------------------


def test_urge_tells_the_urged_person_in_the_app_and_by_mail(napi, ndb, mail_server):
    server = mail_server()
    case_id, task = at_mr_review(napi)
    assert napi.post(f"/instances/{case_id}/urge", "emp", {"comment": "今天下班前请审核"}).status_code == 200

    listed = mine(napi, "mr")
    assert listed["unread"] == 2  # the new task, then the urge
    urged, new_task = listed["items"]
    assert (urged["kind"], urged["kind_label"], urged["read"]) == ("urged", "催办", False)
    assert urged["title"] == f"普通员工 催办：{task['name']}" and urged["body"] == "今天下班前请审核"
    assert urged["link"] == f"/tasks/{task['id']}" and urged["instance_id"] == case_id
    assert (new_task["kind"], new_task["link"]) == ("task", f"/tasks/{task['id']}")
    assert mine(napi, "emp")["items"] == []  # who urged is not told

    assert notifications.deliver_outbox(ndb) == 2
    received = server.to("mr@demo.example")
    subjects = sorted(m["Subject"] for m in received)
    assert subjects == sorted(["【催办】流程新增/变更审批 - 普通员工", "【新待办】流程新增/变更审批 - 普通员工"])
    mail = next(m for m in received if m["Subject"].startswith("【催办】"))
    body = mail.get_content()
    assert "今天下班前请审核" in body and f"{BASE}/tasks/{task['id']}" in body
    assert f"案件：流程新增/变更审批 - 普通员工（编号 {case_id}）" in body
    assert "时间：2026-11-23 09:00" in body  # the organisation's time zone
    assert mail["From"] == "流程管理系统 <bpm@localhost>" and mail["To"] == "mr@demo.example"
    assert mail.get_content_charset() == "utf-8"
    assert [(m.status, m.attempts) for m in mails(ndb)] == [("sent", 1), ("sent", 1)]
    assert notifications.deliver_outbox(ndb) == 0 and len(server.received) == 2


def test_urging_a_group_task_links_each_candidate_to_it(napi, ndb):
    case = napi.start("t_group", "emp")
    task = napi.open_task(case["id"], "qg_staff", "handle")
    assert napi.post(f"/instances/{case['id']}/urge", "emp", {}).status_code == 200
    for person in ("qg_head", "qg_staff"):
        urged = [n for n in mine(napi, person)["items"] if n["kind"] == "urged"]
        assert [(n["link"], n["body"]) for n in urged] == [(f"/tasks/{task['id']}", None)]


def test_copy_tells_the_newly_copied_only(napi, ndb):
    case_id, _ = at_mr_review(napi)
    r = napi.post(f"/instances/{case_id}/cc", "emp", {"users": ["qg_staff", "tech_head"], "comment": "请知悉"})
    assert r.status_code == 200
    for person in ("qg_staff", "tech_head"):
        [copied] = mine(napi, person)["items"]
        assert (copied["kind"], copied["title"], copied["body"], copied["link"]) == (
            "copied",
            "普通员工 抄送给你：流程新增/变更审批 - 普通员工",
            "请知悉",
            f"/cases/{case_id}",
        )
    napi.post(f"/instances/{case_id}/cc", "emp", {"users": ["qg_staff", "gm"]})
    assert mine(napi, "qg_staff")["unread"] == 1  # already copied: not told again
    assert [n["kind"] for n in mine(napi, "gm")["items"]] == ["copied"]


def test_a_new_task_tells_each_candidate_and_the_end_tells_the_initiator(napi, ndb):
    case = napi.start("t_group", "emp")
    task = napi.open_task(case["id"], "qg_staff", "handle")
    for person in ("qg_head", "qg_staff"):  # a group task: each candidate, once
        assert [(n["kind"], n["title"], n["link"]) for n in mine(napi, person)["items"]] == [
            ("task", f"企管部处理：{case['title']}", f"/tasks/{task['id']}")
        ]
    assert mine(napi, "emp")["items"] == []
    napi.complete(task["id"], "qg_staff", {"note": "已处理"})
    confirm = napi.open_task(case["id"], "emp", "confirm")
    napi.complete(confirm["id"], "emp", {"note": "确认"})
    assert [(n["kind"], n["link"]) for n in mine(napi, "emp")["items"]] == [
        ("completed", f"/cases/{case['id']}"),
        ("task", f"/tasks/{confirm['id']}"),
    ]
    assert mine(napi, "emp")["items"][0]["title"] == f"已办结：{case['title']}"
    assert len(mine(napi, "qg_head")["items"]) == 1  # nothing more for the other candidate


def test_approvers_each_get_their_own_and_one_waiting_their_turn_is_not_told_yet(napi, ndb):
    case = napi.start("t_vote", "emp")
    napi.complete(
        napi.open_task(case["id"], "emp", "apply")["id"],
        "emp",
        {"subject": "采购服务器", "approvers": ["vp", "mr", "gm"]},
    )
    for person in ("vp", "mr", "gm"):
        assert [n["title"] for n in mine(napi, person)["items"]] == [f"会签：{case['title']}"]

    def vote(element, person):
        [row] = [
            t
            for t in napi.case(case["id"])["tasks"]
            if (t["element_id"], t["assignee"], t["state"]) == (element, person, "open")
        ]
        napi.complete(row["id"], person, APPROVE)

    for person in ("vp", "mr", "gm"):
        vote("all_sign", person)
    vote("any_sign", "mr")
    told = {
        person: [n["title"] for n in mine(napi, person)["items"] if n["title"].startswith("依次审批")]
        for person in ("vp", "mr", "gm")
    }
    assert told == {"vp": [f"依次审批：{case['title']}"], "mr": [], "gm": []}  # vp first; the others wait
    vote("seq_sign", "vp")
    told = {
        person: [n["title"] for n in mine(napi, person)["items"] if n["title"].startswith("依次审批")]
        for person in ("vp", "mr", "gm")
    }
    assert told == {"vp": [f"依次审批：{case['title']}"], "mr": [f"依次审批：{case['title']}"], "gm": []}


def test_a_signer_and_a_delegator_are_told_when_it_is_their_turn(napi, ndb):
    _, task = at_mr_review(napi)
    r = napi.post(f"/tasks/{task['id']}/add-signer", "mr", {"user": "vp", "position": "before", "comment": "请先把关"})
    assert r.status_code == 200, r.json
    [signer] = mine(napi, "vp")["items"]
    assert (signer["kind"], signer["title"], signer["body"]) == (
        "task",
        f"管理者代表 加签给你：{task['name']}（加签）",
        "请先把关",
    )
    napi.complete(signer["task_id"], "vp", APPROVE)
    assert napi.post(f"/tasks/{task['id']}/delegate", "mr", {"user": "office_head"}).status_code == 200
    napi.complete(task["id"], "office_head", APPROVE)  # the delegate's part: back to mr, who decides
    back = [n for n in mine(napi, "mr")["items"] if n["task_id"] == task["id"]]
    # newest first: back from the delegate, back from the signer, the task's arrival
    assert [n["kind"] for n in back] == ["task"] * 3


def test_transfer_and_delegate_tell_the_new_holder(napi, ndb):
    _, task = at_mr_review(napi)
    napi.post(f"/tasks/{task['id']}/transfer", "mr", {"user": "vp", "comment": "出差，请代为审核"})
    [handed] = mine(napi, "vp")["items"]
    assert (handed["kind"], handed["title"], handed["body"], handed["link"]) == (
        "task",
        f"管理者代表 转办给你：{task['name']}",
        "出差，请代为审核",
        f"/tasks/{task['id']}",
    )
    napi.post(f"/tasks/{task['id']}/delegate", "vp", {"user": "office_head"})
    [delegated] = mine(napi, "office_head")["items"]
    assert delegated["title"] == f"分管副总 委派给你：{task['name']}"


def test_a_diagram_reminder_reaches_the_people_the_case_waits_on(napi, ndb, clock):
    case = napi.start("t_quick", "emp")  # its boundary timer throws `notify` one second after the task opens
    clock.set(clock.now() + timedelta(seconds=2))
    assert timers.fire_due(ndb) >= 1
    items = mine(napi, "emp")["items"]
    assert next((n["kind"], n["title"], n["link"]) for n in items) == ("reminder", "请尽快办理", f"/cases/{case['id']}")
    assert notifications.message_kind("escalation") == "escalated"  # what change.bpmn calls it
    assert notifications.message_kind("overdue") == "overdue" and notifications.message_kind("whatever") == "notify"


def test_mail_only_where_it_can_go(napi, ndb, mail_server):
    case_id, _ = at_mr_review(napi)  # e-mail is not configured: in the app only
    assert len(mine(napi, "mr")["items"]) == 1 and mails(ndb) == []
    settings = napi.get("/users/me/notification-settings", "mr").json
    assert settings["email_configured"] is False and settings["email"] == "mr@demo.example"
    mail_server()
    with ndb.session(write=True) as session:
        session.execute(update(User).where(User.username == "vp").values(email=None))
    try:
        napi.post(f"/instances/{case_id}/cc", "emp", {"users": ["vp", "gm"]})
        assert [m.to_address for m in mails(ndb)] == ["gm@demo.example"]  # vp has no address
        assert len(mine(napi, "vp")["items"]) == 1
    finally:
        with ndb.session(write=True) as session:
            session.execute(update(User).where(User.username == "vp").values(email="vp@demo.example"))


# ---- each person's channels --------------------------------------------------------------------


def test_a_person_who_turned_email_off_for_a_kind_gets_it_in_the_app_only(napi, ndb, mail_server):
    server = mail_server()
    settings = napi.get("/users/me/notification-settings", "mr").json
    assert settings["email_configured"] is True
    assert {k["kind"]: (k["in_app"], k["email"]) for k in settings["kinds"]} == dict.fromkeys(
        notifications.KINDS, (True, True)
    )  # the default: everything, both ways
    r = napi.call(
        "PUT",
        "/users/me/notification-settings",
        "mr",
        json={"kinds": [{"kind": "urged", "email": False}, {"kind": "copied", "in_app": False}]},
    )
    assert r.status_code == 200, r.json
    chosen = {k["kind"]: (k["in_app"], k["email"]) for k in r.json["kinds"]}
    assert chosen["urged"] == (True, False) and chosen["copied"] == (False, True) and chosen["task"] == (True, True)
    assert napi.get("/users/me/notification-settings", "emp").json["kinds"][0]["email"] is True  # mine only

    case_id, _ = at_mr_review(napi)
    napi.post(f"/instances/{case_id}/urge", "emp", {})
    napi.post(f"/instances/{case_id}/cc", "emp", {"users": ["mr"]})
    assert [n["kind"] for n in mine(napi, "mr")["items"]] == ["urged", "task"]
    assert sorted(m.kind for m in mails(ndb, user_id=uid(ndb, "mr"))) == ["copied", "task"]
    notifications.deliver_outbox(ndb)
    assert sorted(m["Subject"][:5] for m in server.to("mr@demo.example")) == ["【抄送】流", "【新待办】"]

    r = napi.call("PUT", "/users/me/notification-settings", "mr", json={"kinds": [{"kind": "urged", "email": True}]})
    assert {k["kind"]: k["email"] for k in r.json["kinds"]}["urged"] is True  # back on


@pytest.mark.parametrize(
    "body, message",
    [
        ({"kinds": [{"kind": "holiday", "email": False}]}, "未知的通知类型：holiday"),
        ({"kinds": [{"kind": "urged", "sms": False}]}, "未知的通知渠道：sms"),
        ({"kinds": [{"kind": "urged", "email": "maybe"}]}, "应为 true 或 false"),
        ({}, "缺少 kinds"),
    ],
)
def test_bad_settings_are_refused_by_name(napi, body, message):
    r = napi.call("PUT", "/users/me/notification-settings", "mr", json=body)
    assert r.status_code == 400 and message in str(r.json["errors"]), r.json


# ---- reading them ------------------------------------------------------------------------------


def test_mark_read_through_the_api(napi, ndb):
    case_id, _ = at_mr_review(napi)
    napi.post(f"/instances/{case_id}/urge", "emp", {})
    napi.post(f"/instances/{case_id}/cc", "emp", {"users": ["mr"]})
    items = mine(napi, "mr")["items"]
    assert [n["kind"] for n in items] == ["copied", "urged", "task"]
    assert napi.post("/notifications/read", "mr", {"ids": [items[1]["id"]]}).json == {"updated": 1, "unread": 2}
    assert [n["kind"] for n in mine(napi, "mr", unread=1)["items"]] == ["copied", "task"]
    assert mine(napi, "mr")["items"][1]["read"] is True
    assert napi.post("/notifications/read", "emp", {"ids": [items[0]["id"]]}).json["updated"] == 0  # not emp's
    assert mine(napi, "mr")["unread"] == 2
    r = napi.post("/notifications/read", "mr", {})
    assert r.status_code == 400 and "all: true" in str(r.json["errors"])
    assert napi.post("/notifications/read", "mr", {"ids": ["x"]}).status_code == 400
    assert napi.post("/notifications/read", "mr", {"all": True}).json == {"updated": 2, "unread": 0}
    assert mine(napi, "mr", unread=1)["items"] == []


def login(browser, username: str) -> None:
    token = re.search(r'name="csrf" value="([^"]+)"', browser.get("/login").text).group(1)
    assert browser.post("/login", data={"username": username, "password": "demo", "csrf": token}).status_code == 302


def badge(html: str) -> int:
    found = re.search(r'id="notification-count">(\d+)<', html)
    return int(found.group(1)) if found else 0


@pytest.fixture
def browser(napi):
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    from engine.config import PROJECT_ROOT

    po = PROJECT_ROOT / "webapp" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")  # compiled as `make install` does: .mo files are build output
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        with po.open("rb") as source:
            catalog = read_po(source, locale="en")
        with mo.open("wb") as target:
            write_mo(target, catalog)

    def open_as(username: str):
        client = napi.client.application.test_client()
        login(client, username)
        return client

    return open_as


def test_the_notifications_page_badge_and_following_a_link_marks_it_read(napi, ndb, browser):
    case_id, task = at_mr_review(napi)
    napi.post(f"/instances/{case_id}/urge", "emp", {"comment": "请尽快"})
    mr = browser("mr")
    home = mr.get("/").text
    assert badge(home) == 2 and 'href="/notifications"' in home
    page = mr.get("/notifications").text
    ids = [int(i) for i in re.findall(r'<li class="item unread" data-id="(\d+)"', page)]
    assert len(ids) == 2 and ids == sorted(ids, reverse=True)  # newest first, both unread
    assert page.index(f"普通员工 催办：{task['name']}") < page.index(f"{task['name']}：")
    assert "请尽快" in page and "全部标为已读" in page

    r = mr.get(f"/notifications/{ids[0]}/open")
    assert r.status_code == 302 and r.location == f"/tasks/{task['id']}"
    page = mr.get("/notifications").text
    assert badge(page) == 1 and f'<li class="item " data-id="{ids[0]}"' in page
    assert mr.get(f"/notifications/{ids[1]}/open").location == f"/tasks/{task['id']}"
    assert browser("emp").get(f"/notifications/{ids[0]}/open").status_code == 404  # not emp's

    napi.post(f"/instances/{case_id}/cc", "emp", {"users": ["mr"]})
    page = mr.get("/notifications?unread=1").text
    assert badge(page) == 1 and len(re.findall(r'data-id="\d+"', page)) == 1
    assert mr.post("/notifications/read-all").status_code == 400  # no CSRF token
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert mr.post("/notifications/read-all", data={"csrf": token}).location == "/notifications"
    page = mr.get("/notifications").text
    assert badge(page) == 0 and "全部标为已读" not in page and 'class="item unread"' not in page


def test_the_settings_page_saves_the_matrix(napi, ndb, browser, mail_server):
    mail_server()
    emp = browser("emp")
    page = emp.get("/settings/notifications").text
    boxes = re.findall(r'name="on" value="([a-z_]+:[a-z_]+)" checked', page)
    assert len(boxes) == len(notifications.KINDS) * 2 and "emp@demo.example" in page
    assert emp.post("/settings/notifications", data={"on": boxes}).status_code == 400  # no CSRF token
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    keep = [b for b in boxes if b not in ("completed:email", "copied:in_app")]
    r = emp.post("/settings/notifications", data={"on": keep, "csrf": token})
    assert r.status_code == 302 and r.location == "/settings/notifications?saved=1"
    page = emp.get(r.location).text
    assert "通知设置已保存" in page
    assert 'value="completed:email" checked' not in page and 'value="completed:in_app" checked' in page
    chosen = {
        k["kind"]: (k["in_app"], k["email"]) for k in napi.get("/users/me/notification-settings", "emp").json["kinds"]
    }
    assert chosen["completed"] == (True, False) and chosen["copied"] == (False, True)


def test_the_pages_in_english(napi, ndb, browser):
    at_mr_review(napi)
    mr = browser("mr")
    mr.get("/lang/en")
    page = mr.get("/notifications").text
    assert ">Notifications<" in page and "Mark all as read" in page and "New task" in page
    settings = mr.get("/settings/notifications").text
    assert "Notification settings" in settings and "Someone urges me to act" in settings and "E-mail" in settings
    mr.get("/lang/zh")


# ---- delivering ----------------------------------------------------------------------------------


def test_a_mail_server_that_is_down_loses_nothing(ndb, mail_server, clock):
    server = mail_server(start=False)  # nothing listens on the port
    row = send_one(ndb)
    start = clock.now()
    assert notifications.deliver_outbox(ndb) == 0
    [row] = mails(ndb)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, start + timedelta(minutes=1))
    assert f"127.0.0.1:{server.port}" in row.last_error and "Connection refused" in row.last_error
    assert row.locked_by is None and row.locked_until is None
    assert notifications.deliver_outbox(ndb) == 0 and mails(ndb)[0].attempts == 1  # not due yet: not tried
    for attempt, wait in ((2, 1), (3, 2), (4, 4)):  # back-off: 1 minute, 2, 4 …
        clock.set(clock.now() + timedelta(minutes=wait))
        assert notifications.deliver_outbox(ndb) == 0
        [row] = mails(ndb)
        assert (row.attempts, row.next_attempt_at - clock.now()) == (attempt, timedelta(minutes=wait * 2))
    server.start()
    clock.set(clock.now() + timedelta(minutes=8))
    assert notifications.deliver_outbox(ndb) == 1
    clock.set(clock.now() + timedelta(hours=2))
    assert notifications.deliver_outbox(ndb) == 0
    assert len(server.received) == 1 and server.received[0][1]["Subject"] == "【流程通知】测试通知"
    [row] = mails(ndb)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 5, clock.now() - timedelta(hours=2))


def test_back_off_stops_at_an_hour_and_after_48_hours_the_mail_is_failed_and_kept(napi, ndb, mail_server, clock):
    server = mail_server(start=False)
    send_one(ndb)
    first = clock.now()
    waits = []
    while True:
        assert notifications.deliver_outbox(ndb) == 0
        row = mails(ndb)[0]
        if row.status != "pending":
            break
        waits.append(row.next_attempt_at - clock.now())
        clock.set(row.next_attempt_at)
    assert waits[:8] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)]
    row = mails(ndb)[0]
    assert row.status == "failed" and row.last_error and clock.now() - first >= timedelta(hours=48)
    assert clock.now() - first < timedelta(hours=49)

    r = napi.get("/notifications/outbox?status=failed", "admin")
    assert r.status_code == 200 and [m["id"] for m in r.json["items"]] == [row.id]
    assert r.json["counts"] == {"pending": 0, "sent": 0, "failed": 1}
    assert "Connection refused" in r.json["items"][0]["last_error"]
    assert napi.get("/notifications/outbox", "mr").status_code == 403  # operations only
    assert napi.post(f"/notifications/outbox/{row.id}/retry", "mr").status_code == 403
    assert napi.get("/notifications/outbox?status=lost", "admin").status_code == 400

    server.start()
    r = napi.post(f"/notifications/outbox/{row.id}/retry", "admin")
    assert r.status_code == 200 and (r.json["status"], r.json["attempts"]) == ("pending", 0)
    r = napi.post(f"/notifications/outbox/{row.id}/retry", "admin")
    assert r.status_code == 409 and "pending" in r.json["message"]
    assert napi.post("/notifications/outbox/999999/retry", "admin").status_code == 404
    assert notifications.deliver_outbox(ndb) == 1 and len(server.received) == 1
    assert mails(ndb)[0].status == "sent"


def test_bpm_outbox_lists_and_retries_failed_mails(ndb, mail_server, clock):
    server = mail_server(start=False)
    send_one(ndb, title="将失败的邮件")
    with ndb.session(write=True) as session:  # as 48 hours of failures leave it
        session.execute(update(MailOutbox).values(status="failed", attempts=54, last_error="Connection refused"))
    send_one(ndb, username="gm", title="等待发送的邮件")
    runner = CliRunner()

    def bpm(*args):
        return runner.invoke(bpmcli.main, ["outbox", *args], env={"DATABASE_URL": ndb.url}, catch_exceptions=False)

    listed = bpm()
    assert listed.exit_code == 0, listed.output
    assert "待发送 1，发送失败 1，已发送 0" in listed.output
    assert "【流程通知】将失败的邮件" in listed.output and "Connection refused" in listed.output
    assert "【流程通知】等待发送的邮件" in listed.output and "--retry-failed" in listed.output
    retried = bpm("--retry-failed")
    assert retried.exit_code == 0 and "已将 1 封" in retried.output
    assert [(m.status, m.attempts) for m in mails(ndb)] == [("pending", 0), ("pending", 0)]
    server.start()
    assert notifications.deliver_outbox(ndb) == 2
    assert "待发送 0，发送失败 0，已发送 2" in bpm().output


def test_a_refused_address_fails_at_once_and_the_others_still_go(ndb, mail_server):
    server = mail_server()
    server.refuse.add("gm@demo.example")
    with ndb.session(write=True) as session:
        notifications.send(session, user_ids=[uid(ndb, "gm"), uid(ndb, "mr")], kind="notify", title="通知")
    assert notifications.deliver_outbox(ndb) == 1
    by_address = {m.to_address: m for m in mails(ndb)}
    assert by_address["mr@demo.example"].status == "sent"
    refused = by_address["gm@demo.example"]
    assert refused.status == "failed" and refused.attempts == 1 and "550" in refused.last_error  # retrying cannot help
    assert [rcpts for rcpts, _ in server.received] == [["mr@demo.example"]]


def test_an_address_that_would_inject_a_header_is_never_sent(ndb, mail_server):
    server = mail_server()
    with ndb.session(write=True) as session:
        session.execute(update(User).where(User.username == "gm").values(email="gm@demo.example\nBcc: x@evil.example"))
    try:
        with ndb.session(write=True) as session:
            notifications.send(session, user_ids=[uid(ndb, "gm"), uid(ndb, "mr")], kind="notify", title="通知")
        assert notifications.deliver_outbox(ndb) == 1
        assert [rcpts for rcpts, _ in server.received] == [["mr@demo.example"]]
        bad = next(m for m in mails(ndb) if m.to_address.startswith("gm@"))
        assert bad.status == "failed" and "邮件无法生成" in bad.last_error
    finally:
        with ndb.session(write=True) as session:
            session.execute(update(User).where(User.username == "gm").values(email="gm@demo.example"))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # a test server, without TLS
def test_a_server_that_needs_a_login_gets_it(ndb, mail_server, monkeypatch, clock):
    server = mail_server(start=False)
    server.credentials = ("bpm", "s3cret")
    server.start()
    monkeypatch.setenv("BPM_SMTP_USER", "bpm")
    monkeypatch.setenv("BPM_SMTP_PASSWORD", "wrong")
    send_one(ndb)
    assert notifications.deliver_outbox(ndb) == 0
    [row] = mails(ndb)
    assert (row.status, row.attempts) == ("pending", 1) and "535" in row.last_error and "登录" in row.last_error
    monkeypatch.setenv("BPM_SMTP_PASSWORD", "s3cret")  # the administrator fixed the password
    clock.set(clock.now() + timedelta(minutes=1))
    assert notifications.deliver_outbox(ndb) == 1 and len(server.received) == 1


def test_a_lease_left_by_a_dead_process_is_respected_until_it_expires(ndb, mail_server, clock):
    server = mail_server()
    row = send_one(ndb)
    with ndb.session(write=True) as session:  # a deliverer claimed it, then died before sending
        session.execute(
            update(MailOutbox)
            .where(MailOutbox.id == row.id)
            .values(locked_by="dead-host:4242", locked_until=clock.now() + timedelta(minutes=10))
        )
    assert notifications.deliver_outbox(ndb) == 0
    assert server.received == [] and mails(ndb)[0].locked_by == "dead-host:4242"
    clock.set(clock.now() + timedelta(minutes=9, seconds=59))
    assert notifications.deliver_outbox(ndb) == 0 and server.received == []
    clock.set(clock.now() + timedelta(seconds=1))
    assert notifications.deliver_outbox(ndb, worker="alive-host:1") == 1
    assert notifications.deliver_outbox(ndb) == 0
    assert len(server.received) == 1
    [row] = mails(ndb)
    assert (row.status, row.locked_by, row.locked_until, row.attempts) == ("sent", None, None, 1)


def test_deliverers_running_at_once_send_each_mail_once(ndb, mail_server):
    server = mail_server()
    server.delay = 0.01  # a slow server: the deliverers overlap
    with ndb.session(write=True) as session:
        everyone = list(session.scalars(select(User.id).where(User.active, User.email.is_not(None))))
        for i in range(3):
            notifications.send(session, user_ids=everyone, kind="notify", title=f"第 {i + 1} 批")
    total = len(mails(ndb))
    assert total == 3 * len(everyone) > 40
    databases = [Database(ndb.url) for _ in range(4)]  # as four processes would
    barrier = threading.Barrier(len(databases))
    sent = [0] * len(databases)
    errors = []

    def deliver(i):
        try:
            barrier.wait()
            for _ in range(50):
                sent[i] += notifications.deliver_outbox(databases[i], limit=5, worker=f"worker-{i}")
                if not mails(ndb, status="pending"):
                    break
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(len(databases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for database in databases:
        database.dispose()
    assert errors == []
    assert sum(sent) == total and sum(1 for n in sent if n) > 1  # the work was shared …
    ids = [m["Message-ID"] for _, m in server.received]
    assert len(ids) == total and len(set(ids)) == total  # … and each mail went once
    assert {m.status for m in mails(ndb)} == {"sent"}


def test_a_deliverer_skips_rows_another_one_is_claiming(ndb, pg_url, mail_server):
    """PostgreSQL: FOR UPDATE SKIP LOCKED — a claim in progress neither blocks nor is taken twice."""
    server = mail_server()
    database = Database(pg_url)
    try:
        with database.session(write=True) as session:
            session.execute(delete(MailOutbox))
            notifications.send(
                session, user_ids=[uid(database, u) for u in ("mr", "gm", "vp")], kind="notify", title="并发"
            )
        held = database.engine.connect()
        transaction = held.begin()
        first = held.execute(text("SELECT id FROM mail_outbox ORDER BY id LIMIT 1 FOR UPDATE")).scalar()
        result = []
        worker = threading.Thread(target=lambda: result.append(notifications.deliver_outbox(database)))
        worker.start()
        worker.join(15)
        assert not worker.is_alive() and result == [2]  # did not wait for the held row
        transaction.rollback()
        held.close()
        assert notifications.deliver_outbox(database) == 1 and len(server.received) == 3
        with database.session() as session:
            assert session.get(MailOutbox, first).status == "sent"
    finally:
        database.dispose()


def test_e_mail_settings_are_checked_before_anything_is_claimed(ndb, mail_server, monkeypatch):
    mail_server()
    send_one(ndb)
    monkeypatch.setenv("BPM_SMTP_SECURITY", "tls")
    with pytest.raises(ValueError, match="BPM_SMTP_SECURITY 只能是 none、starttls 或 ssl：tls"):
        notifications.deliver_outbox(ndb)
    monkeypatch.setenv("BPM_SMTP_SECURITY", "none")
    monkeypatch.setenv("BPM_SMTP_PORT", "smtp")
    with pytest.raises(ValueError, match="BPM_SMTP_PORT"):
        notifications.deliver_outbox(ndb)
    [row] = mails(ndb)
    assert (row.locked_by, row.attempts) == (None, 0)


def test_without_a_mail_server_configured_mails_wait(ndb, mail_server, monkeypatch):
    server = mail_server()
    send_one(ndb)
    monkeypatch.delenv("BPM_SMTP_HOST")  # e-mail switched off after the mail was queued
    assert notifications.deliver_outbox(ndb) == 0
    assert [(m.status, m.attempts) for m in mails(ndb)] == [("pending", 0)]
    monkeypatch.setenv("BPM_SMTP_HOST", "127.0.0.1")
    assert notifications.deliver_outbox(ndb) == 1 and len(server.received) == 1


def test_send_refuses_an_unknown_kind_and_skips_inactive_people(ndb):
    with ndb.session(write=True) as session:
        with pytest.raises(ValueError, match="未知的通知类型"):
            notifications.send(session, user_ids=[1], kind="gossip", title="x")
        system = system_user(session).id  # inactive: it cannot log in
        made = notifications.send(
            session, user_ids=[uid(ndb, "mr"), uid(ndb, "mr"), system, None], kind="notify", title="x"
        )
        assert made == 1  # mr once; the inactive account nothing
        assert session.scalar(select(func.count()).select_from(Notification)) == 1
