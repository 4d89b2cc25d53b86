"""The inbox in the browser: logging in and out, the language switch, a phone-sized 待办, the 403 page,
批量同意 from 待办, templated text in a task's form (the case data, shown as text), the login lock."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

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
# 服务风险管理 (tests/procedures/test_risk_management.py), with a risk name that is markup.
HOSTILE_NAME = 'A<img src="http://127.0.0.1:9/html.png">![x](http://127.0.0.1:9/md.png)**粗**'
IDENTIFY = {
    "risk_name": HOSTILE_NAME,
    "risk_category": "技术风险",
    "identification_method": "检查表法",
    "related_service": "客户管理系统",
    "department": "ops",
    "risk_description": "数据库无热备",
}
STRATEGY = {
    "risk_strategy": "降低",
    "strategy_measures": "建设热备并演练",
    "measures_deadline": "2026-12-31",
    "threshold_frequency": 2,
    "threshold_scope": 100,
    "threshold_loss": 5,
    "warning_contacts": ["tech_head", "ops_eng"],
}
NAV = ["待办", "已办", "我发起的", "抄送我的", "发起流程"]
NAV_EN = ["To do", "Done", "Started by me", "Copied to me", "Start"]  # webapp/translations/en


def nav_link(page: Page, name: str):
    # The name may carry the phone layout's icon before it and the count badge after it.
    return page.locator("nav.mainnav").get_by_role("link", name=re.compile(rf"^[^\w\u4e00-\u9fff]*{name}(\s+\d+)?$"))


def todo_row(page: Page, case_id: int):
    return page.locator("#todo-list li.item").filter(
        has=page.locator(".case-link .num", has_text=re.compile(rf"^#{case_id}$"))
    )


def test_login_failure_then_login_and_logout(page_as):
    page = page_as("emp", login=False)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))  # a page needs a session
    page.get_by_label("用户名").fill("emp")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("navigation", name="主导航")).to_have_count(0)
    expect(page.get_by_label("用户名")).to_have_value("emp")  # kept for the next try

    page.get_by_label("密码").fill("demo")
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("待办")
    expect(page.locator(".me-name")).to_have_text("普通员工")

    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    page.goto("/done")
    expect(page).to_have_url(re.compile(r"/login\?next=/done$"))  # the session is gone


def test_language_switch_to_english_and_back(page_as):
    page = page_as("tech_eng")
    page.goto("/done")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.get_by_role("link", name="English").click()
    expect(page).to_have_url(re.compile(r"/done$"))  # back on the page it was switched from
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Done")
    for name in NAV_EN:
        expect(nav_link(page, name)).to_be_visible()
    for name in NAV:
        expect(nav_link(page, name)).to_have_count(0)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.goto("/")  # the choice stays for the session
    expect(page.get_by_role("heading", level=1)).to_have_text("To do")

    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text("待办")
    for name in NAV:
        expect(nav_link(page, name)).to_be_visible()
    expect(page.get_by_role("link", name="English")).to_be_visible()


def test_todo_on_a_phone_has_no_sideways_scroll_and_a_usable_nav(page_as, live_api):
    case = live_api.start("process_change", "emp")  # gives emp a task in 待办
    page = page_as("emp", phone=True)
    page.goto("/")
    expect(todo_row(page, case["id"])).to_be_visible()
    assert page.evaluate("document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth"), (
        page.evaluate("[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")
    )
    for name in NAV:
        expect(nav_link(page, name)).to_be_in_viewport()
    nav_link(page, "发起流程").click()
    expect(page).to_have_url(re.compile(r"/start$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("发起流程")
    assert page.evaluate("document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth")
    nav_link(page, "待办").click()
    expect(page).to_have_url(re.compile(r"/$"))
    todo_row(page, case["id"]).get_by_role("link", name="办理").click()
    expect(page).to_have_url(re.compile(r"/tasks/"))
    submit = page.locator("#task-actions .decide").get_by_role("button", name="提交")
    expect(submit).to_be_enabled()
    submit.click(trial=True)  # scrolled to, and not covered by the fixed bottom nav
    assert page.evaluate("document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth")


def test_a_case_one_may_not_see_is_403(page_as, live_api):
    case = live_api.start("process_change", "emp")
    page = page_as("sales")  # 市场营销部, no part in the case
    response = page.goto(f"/c/{case['id']}")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("403 · 无权访问")
    expect(page.get_by_role("link", name="返回待办")).to_be_visible()
    # The initiator sees it.
    emp = page_as("emp")
    assert emp.goto(f"/c/{case['id']}").status == 200
    expect(emp.locator(".task-head h1")).to_contain_text(f"#{case['id']}")


def test_bulk_approve_two_tasks_from_todo(page_as, live_api):
    cases = []
    for employee in ("emp", "ops_eng"):
        case = live_api.start("process_change", employee)
        live_api.complete(live_api.open_task(case["id"], "apply")["id"], employee, APPLY)
        cases.append(case["id"])

    mr = page_as("mr")
    mr.goto("/")
    rows = [todo_row(mr, case_id) for case_id in cases]
    for row in rows:
        expect(row).to_contain_text("管理者代表审核")
        row.locator("input.pick").check()
    mr.get_by_role("textbox", name="审批意见").fill("批量同意：变更理由充分")
    mr.get_by_role("button", name="批量同意").click()
    expect(mr.locator("#flash")).to_have_text("批量同意完成：成功 2 个，失败 0 个")
    for row in rows:
        expect(row.locator(".item-result")).to_have_text("成功：已同意")
        expect(row.locator("input.pick")).to_be_disabled()

    mr.reload()
    for row in rows:
        expect(row).to_have_count(0)
    mr.goto("/done")
    for case_id in cases:
        expect(
            mr.locator("ul.list li.item").filter(
                has=mr.locator(".case-link .num", has_text=re.compile(rf"^#{case_id}$"))
            )
        ).to_contain_text("同意")
    for case_id in cases:
        history = live_api.get(f"/instances/{case_id}", "admin")["history"]
        mine = [e for e in history if e["type"] == "task_completed" and e["element_id"] == "mr_review"]
        assert [(e["actor"], e["decision"], e["comment"]) for e in mine] == [
            ("mr", "approve", "批量同意：变更理由充分")
        ]
        assert live_api.open_task(case_id, "qg_review")["state"] == "open"


def text_view(page: Page, starting: str):
    return page.locator("#form .fjs-form-field-text").filter(has_text=re.compile("^" + starting))


def test_templated_text_shows_the_case_data_as_text_also_on_a_task_being_worked(page_as, live_api):
    case = live_api.start("risk_management", "emp")
    live_api.complete(case["tasks"][0]["id"], "emp", IDENTIFY)
    assess = live_api.open_task(case["id"], "assess")
    fetched = []
    for who in ("tech_head", "emp"):  # the IT head works it (editable); the initiator only looks (read-only)
        page = page_as(who)
        page.on("request", lambda r: fetched.append(r.url) if "127.0.0.1:9/" in r.url else None)
        page.goto(f"/tasks/{assess['id']}")
        expect(text_view(page, "风险：")).to_have_text(f"风险：{HOSTILE_NAME}（技术风险）")
        expect(page.locator("#form img")).to_have_count(0)
        expect(text_view(page, "风险：").locator("strong")).to_have_count(0)
    assert fetched == []

    live_api.complete(
        assess["id"],
        "tech_head",
        {"likelihood": "中", "impact": "中", "cause_analysis": "单机部署", "risk_owner": "ops_head"},
    )
    live_api.complete(live_api.open_task(case["id"], "plan_strategy")["id"], "ops_head", STRATEGY)
    approve = live_api.open_task(case["id"], "approve_strategy")
    page = page_as("tech_head")
    page.goto(f"/tasks/{approve['id']}")
    expect(text_view(page, "风险等级")).to_have_text("风险等级：中；应对策略：降低")
    expect(page.get_by_label("意见")).to_have_value("")  # nobody else's opinion prefilled
    page.locator("button.approve").click()
    expect(page).to_have_url(re.compile(r"/$"))  # submitted: only the form's own fields went to the server
    assert live_api.open_task(case["id"], "monitor")["state"] == "open"


def test_the_login_page_says_when_to_try_again_after_too_many_failures(page_as):
    page = page_as("fin_head", login=False)  # nobody else logs in as fin_head here: the lock stays
    page.goto("/login")
    for _ in range(5):
        page.get_by_label("用户名").fill("fin_head")
        page.get_by_label("密码").fill("wrong-password")
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("密码").fill("demo")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_contain_text(re.compile(r"登录失败次数过多.*请于 \d\d:\d\d 后"))
    expect(page.get_by_role("navigation", name="主导航")).to_have_count(0)
