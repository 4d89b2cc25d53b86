"""The server-rendered inbox pages, through the Flask test client: login, the lists, the task and case
pages, permissions, expiry and the English switch. The pages' JavaScript is exercised in the browser."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import event, select

from engine.store.models import CaseCopy, User

# A valid 流程新增/变更 application (as in tests/test_process_change.py).
APPLY = {
    "change_type": "change",
    "process_name": "事件管理流程",
    "process_key": "incident",
    "trigger": "inspection_result",
    "responsible_dept": "ops",
    "business_dept": "tech",
    "reason": "季度检查发现升级时限不清",
    "content": "增加升级步骤",
    "affects_documents": False,
}

TRANSLATIONS = Path(__file__).resolve().parents[2] / "webapp" / "translations"


@pytest.fixture(scope="module", autouse=True)
def compiled_catalog():
    """The English catalog compiled as `make install` does (.mo files are build output)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        with po.open("rb") as source:
            catalog = read_po(source, locale="en")
        with mo.open("wb") as target:
            write_mo(target, catalog)


def form_csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def page_csrf(html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', html).group(1)


def login(client, username: str, next_path: str | None = None):
    token = form_csrf(client.get("/login").text)
    data = {"username": username, "password": "demo", "csrf": token}
    if next_path:
        data["next"] = next_path
    return client.post("/login", data=data)


@pytest.fixture
def web(app):
    """Log in as a demo user in a browser of their own (a fresh cookie jar)."""

    def open_as(username: str):
        browser = app.test_client()
        assert login(browser, username).status_code == 302
        return browser

    return open_as


@pytest.fixture
def case(api):
    """A process_change case emp started and filled in: now at 管理者代表审核 (mr)."""
    started = api.start("process_change", "emp")
    apply = started["tasks"][0]
    api.complete(apply["id"], "emp", APPLY)
    review = api.open_task(started["id"], "mr", "mr_review")
    return {"id": started["id"], "apply": apply, "review": review}


# ---- login, logout, expiry ----


def test_login_needs_the_form_csrf_token_and_the_right_password(client):
    assert client.post("/login", data={"username": "emp", "password": "demo"}).status_code == 400
    wrong = client.post(
        "/login", data={"username": "emp", "password": "nope", "csrf": form_csrf(client.get("/login").text)}
    )
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    assert client.get("/").status_code == 302  # still logged out


def test_logged_out_pages_go_to_login_and_back_to_the_page_asked_for(client):
    r = client.get("/done?page=2")
    assert r.status_code == 302 and r.location.startswith("/login?next=")
    assert "next=/done?page%3D2" in r.location or "next=%2Fdone%3Fpage%3D2" in r.location
    r = login(client, "emp", next_path="/done?page=2")
    assert r.location == "/done?page=2"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(client, target):
    assert login(client, "emp", next_path=target).location == "/"


def test_logout_is_a_post_with_csrf(web):
    browser = web("emp")
    home = browser.get("/")
    assert home.status_code == 200 and "普通员工" in home.text
    assert browser.post("/logout").status_code == 400  # no token: still logged in
    assert browser.get("/").status_code == 200
    r = browser.post("/logout", data={"csrf": form_csrf(home.text)})
    assert r.status_code == 302 and r.location == "/login"
    assert browser.get("/").status_code == 302


def test_an_idle_session_expires_to_the_login_page(web):
    browser = web("emp")
    with browser.session_transaction() as cookie:
        cookie["seen"] = int(time.time()) - 3 * 3600  # idle longer than SESSION_IDLE_MINUTES (120)
    r = browser.get("/started")
    assert r.status_code == 302 and "expired=1" in r.location
    page = browser.get(r.location)
    assert "登录已过期，请重新登录" in page.text


# ---- the lists ----


def test_todo_lists_my_task_with_case_process_and_initiator(web, case):
    page = web("mr").get("/").text
    row = _row(page, case["review"]["id"])
    assert case["review"]["name"] in row
    assert f"#{case['id']}" in row and "流程新增/变更审批" in row and "普通员工" in row
    assert "待认领" not in row  # assigned to mr alone
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", row)
    assert case["review"]["id"] not in web("emp").get("/").text


def test_todo_marks_group_tasks_to_claim(web, api):
    started = api.start("t_group", "emp")
    task = api.open_task(started["id"], "qg_staff", "handle")
    row = _row(web("qg_staff").get("/").text, task["id"])
    assert "待认领" in row and "认领</button>" in row


def test_todo_badge_counts_open_tasks(web, api):
    browser = web("emp")
    before = _badge(browser.get("/").text, "todo-count")
    api.start("process_change", "emp")
    assert _badge(browser.get("/done").text, "todo-count") == before + 1


def test_todo_page_queries_do_not_grow_with_rows(web, api, db):
    """100,000 open tasks must not mean a query per row: the page's statements stay the same."""
    browser = web("qg_head")
    browser.get("/")

    def statements():
        count = []
        listener = lambda *args: count.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert browser.get("/").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(count)

    for _ in range(2):
        api.start("t_group", "emp")
    few = statements()
    for _ in range(6):
        api.start("t_group", "emp")
    assert statements() == few


def test_done_started_and_status_filter(web, api, case):
    emp = web("emp")
    done = emp.get("/done").text
    assert _row_link(done, f"/tasks/{case['apply']['id']}")
    started = emp.get("/started").text
    assert f"/cases/{case['id']}" in started and case["review"]["name"] in started  # the current step
    assert f'/cases/{case["id"]}"' not in emp.get("/started?status=completed").text
    assert f"/cases/{case['id']}" in emp.get("/started?status=running").text
    assert f"/cases/{case['id']}" not in web("mr").get("/started").text


def test_copied_to_me_is_unread_until_the_case_is_opened(web, case, db):
    with db.session(write=True) as session:
        emp = session.scalar(select(User).where(User.username == "emp"))
        vp = session.scalar(select(User).where(User.username == "vp"))
        session.add(CaseCopy(instance_id=case["id"], user_id=vp.id, by_id=emp.id, comment="请知悉"))
    browser = web("vp")
    cc = browser.get("/cc").text
    assert f"/cases/{case['id']}" in cc and "请知悉" in cc and "普通员工" in cc and "未读" in cc
    unread = _badge(cc, "cc-count")
    assert unread >= 1
    opened = browser.get(f"/cases/{case['id']}")
    assert opened.status_code == 200
    assert _badge(opened.text, "cc-count") == unread - 1
    assert "未读" not in _row(browser.get("/cc").text, f"/cases/{case['id']}")


# ---- task and case pages, permissions ----


def test_task_page_for_the_assignee_and_read_only_for_others(web, case):
    mine = web("mr").get(f"/tasks/{case['review']['id']}")
    assert mine.status_code == 200
    assert case["review"]["name"] in mine.text and f"#{case['id']}" in mine.text
    assert "你不能办理此任务，仅可查看" not in mine.text
    assert "事件管理流程" in mine.text and "流程名称" in mine.text  # the case summary, labelled from the form
    assert "运维部" in mine.text and "技术部" in mine.text  # department codes shown by name
    assert "window.TASK" in mine.text and page_csrf(mine.text)
    done = web("emp").get(f"/tasks/{case['apply']['id']}")
    assert done.status_code == 200 and "你不能办理此任务，仅可查看" in done.text
    assert "办理完成" in done.text  # the history timeline


def test_case_page_shows_steps_and_history(web, case):
    page = web("emp").get(f"/cases/{case['id']}").text
    assert "当前步骤" in page and case["review"]["name"] in page and "管理者代表" in page
    assert "发起流程" in page and "办理完成" in page
    assert 'id="diagram"' in page and f'data-instance="{case["id"]}"' in page


def test_strangers_get_403_and_qg_sees_every_case(web, case):
    stranger = web("sales")
    r = stranger.get(f"/cases/{case['id']}")
    assert r.status_code == 403 and "无权查看该案件" in r.text and "返回待办" in r.text
    assert stranger.get(f"/tasks/{case['review']['id']}").status_code == 403
    assert web("qg_staff").get(f"/cases/{case['id']}").status_code == 200
    assert stranger.get("/cases/987654321").status_code == 404
    assert stranger.get("/no/such/page").status_code == 404


def test_short_link_redirects_to_the_case(web, case):
    r = web("emp").get(f"/c/{case['id']}")
    assert r.status_code == 302 and r.location == f"/cases/{case['id']}"


def test_api_errors_stay_json(web):
    r = web("emp").get("/api/v1/no-such-endpoint")
    assert r.status_code == 404 and r.is_json and r.json["message"]


# ---- start page, language ----


def test_start_page_lists_only_what_i_may_start(web):
    emp = web("emp").get("/start").text
    assert 'data-key="process_change"' in emp
    assert 'data-key="incident"' not in emp  # starterRoles service_desk
    assert 'data-key="t_child"' not in emp  # only a message start event: started by other cases
    assert 'data-key="incident"' in web("ops_eng").get("/start").text
    found = web("emp").get("/start?q=process_ch").text
    assert 'data-key="process_change"' in found and 'data-key="document_borrow"' not in found


def test_english_switch(web):
    browser = web("emp")
    r = browser.get("/lang/en", headers={"Referer": "http://localhost/started"})
    assert r.location == "/started"
    page = browser.get("/").text
    assert '<html lang="en">' in page
    for text in ("To do", "Done", "Started by me", "Copied to me", "Log out"):
        assert text in page
    assert "待办" not in _nav(page)
    assert '"已提交": "Submitted"' in page  # the JavaScript strings too
    browser.get("/lang/zh")
    assert "待办" in _nav(browser.get("/").text)


def test_error_pages_are_in_the_layout_and_translated(web):
    browser = web("emp")
    assert "页面不存在" in browser.get("/nowhere").text
    browser.get("/lang/en")
    page = browser.get("/nowhere").text
    assert "Not found" in page and "Back to my tasks" in page


# ---- helpers ----


def _row(html: str, marker: str) -> str:
    """The list item (<li class="item">) that mentions `marker`."""
    for item in re.findall(r'<li class="item[^"]*".*?</li>', html, flags=re.S):
        if marker in item:
            return item
    raise AssertionError(f"no row with {marker}")


def _row_link(html: str, href: str) -> bool:
    return f'href="{href}"' in html


def _badge(html: str, badge_id: str) -> int:
    found = re.search(rf'id="{badge_id}">(\d+)<', html)
    return int(found.group(1)) if found else 0


def _nav(html: str) -> str:
    return re.search(r'<nav class="mainnav".*?</nav>', html, flags=re.S).group(0)
