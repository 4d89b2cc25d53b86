"""A process owner changes a procedure in the modeler and it goes live through 流程新增/变更审批
(000 篇2 第九–十五条), clicked through the pages: hr_head adds a step to 培训追加审批, proposes the change,
管理者代表 … 总经理 approve it in their inboxes; a new case takes the new step, a case started before
follows the old version to its end."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from test_process_change_browser import CHAIR, GM, MR, choose, decide, open_task, organise_review, qg_review, submitted

pytestmark = pytest.mark.e2e

KEY = "training_request"
NEW_STEP = "人力资源部负责人复核"
TRAINING = {
    "department": "ops",
    "course": "Kubernetes 运维",
    "reason": "新上线容器平台",
    "content": "容器编排",
    "trainees": ["ops_eng"],
    "kind": "external",
    "start_date": "2026-12-10",
    "end_date": "2026-12-12",
    "place": "北京",
    "trainer": "某培训机构",
    "cost": 6000,
}
TO_ORGANISE = [
    ("vp_review", "vp", {"decision": "approve"}),
    ("gm_approve", "gm", {"decision": "approve"}),
    ("organise", "hr_trainer", {"confirmed_date": "2026-12-10", "confirmed_place": "北京", "arrangement": "已通知"}),
]


def walk(live_api, case_id: int, steps) -> None:
    for element_id, user, data in steps:
        live_api.complete(live_api.open_task(case_id, element_id)["id"], user, data)


def add_review_step(page: Page) -> str:
    """As a Camunda Modeler user would: append a task to 组织实施 from its context pad, make it a user
    task with the wrench, connect it to the end event, delete the old flow, then fill the panel."""
    canvas = page.locator(".djs-container")
    canvas.locator('.djs-element[data-element-id="organise"]').click()
    page.locator('.djs-context-pad .entry[data-action="append.append-task"]').click()
    page.keyboard.press("Escape")  # bpmn-js opens the new task's label editor
    page.locator('.djs-context-pad .entry[data-action="replace"]').click()
    page.locator('.djs-popup [data-id="replace-with-user-task"]').click()
    new_id = page.evaluate("BPM_MODELER.modeler.get('selection').get()[0].id")
    page.locator('.djs-context-pad .entry[data-action="connect"]').click()
    canvas.locator('.djs-element[data-element-id="end"]').click()
    # the old flow 组织实施 → 结束 goes: select it and delete it from its context pad
    page.evaluate("""() => { const m = BPM_MODELER.modeler;
        m.get('selection').select(m.get('elementRegistry').get('flow_organise_end')); }""")
    page.locator('.djs-context-pad .entry[data-action="delete"]').click()
    page.evaluate(f"""() => {{ const m = BPM_MODELER.modeler;
        m.get('selection').select(m.get('elementRegistry').get('{new_id}')); }}""")
    page.locator('[name="prop-name"]').fill(NEW_STEP)
    page.locator('[name="prop-name"]').press("Tab")
    page.locator('[name="prop-formKey"]').select_option("training_request_organise")
    return new_id


def test_modeler_change_goes_live_through_the_change_procedure(page_as, live_api):
    old_case = live_api.start(KEY, "ops_head")
    walk(live_api, old_case["id"], [("apply", "ops_head", TRAINING)])

    # -- hr_head (the procedure's owner role): 流程清单 → the procedure → 编辑流程 --
    hr = page_as("hr_head")
    hr.goto("/processes")
    row = hr.locator(f'#catalogue tr[data-key="{KEY}"]')
    expect(row.locator(".version")).to_have_text("V1")
    row.get_by_role("link").first.click()
    hr.get_by_role("link", name="编辑流程").click()
    expect(hr).to_have_url(re.compile(rf"/modeler/{KEY}"))
    expect(hr.locator('.djs-element[data-element-id="organise"]')).to_be_visible()

    new_id = add_review_step(hr)
    expect(hr.locator("#validation-list")).not_to_contain_text("表单")
    expect(hr.locator("#save-draft")).to_be_enabled()
    hr.locator("#save-draft").click()
    expect(hr.locator("#flash")).to_contain_text("已保存")
    hr.locator("#propose").click()

    # -- the application form opens, filled from the draft; hr_head completes and submits it --
    expect(hr).to_have_url(re.compile(r"/tasks/[^/]+$"))
    expect(hr.get_by_role("heading", level=1)).to_contain_text("填写流程新增/变更审批表")
    expect(hr.get_by_label("流程名称")).to_have_value(re.compile("培训"))
    expect(hr.locator("#change-card")).to_contain_text(NEW_STEP)
    case_id = int(hr.locator(".crumbs .num").inner_text().lstrip("#"))
    hr.get_by_label("责任部门提出改进建议").check()
    choose(hr, "业务部门(主持评审)", "人力资源部")
    hr.get_by_label("新增/变更原因").fill("组织实施后需要部门负责人复核")
    hr.locator("#task-actions .decide").get_by_role("button", name="提交").click()
    expect(hr.locator("#flash")).to_have_text("已提交")

    # -- 管理者代表 sees the diff and the draft's diagram, and approves --
    mr = page_as("mr")
    open_task(mr, case_id, MR)
    change = mr.locator("#change-card")
    expect(change.locator('[data-kind="added"]')).to_contain_text(NEW_STEP)
    expect(change.locator('[data-kind="removed"]')).to_contain_text("flow_organise_end")
    change.locator("#view-draft").click()
    expect(mr).to_have_url(re.compile(r"/drafts/\d+$"))
    expect(mr.locator(f'#definition-diagram .djs-element.bpm-added[data-element-id="{new_id}"]')).to_have_count(1)
    expect(mr.locator('#live-diagram .djs-element.bpm-removed[data-element-id="flow_organise_end"]')).to_have_count(1)
    open_task(mr, case_id, MR)
    decide(mr)
    submitted(mr, case_id, MR)

    qg_review(page_as("qg_staff"), case_id, claim=True)
    organise_review(page_as("qg_head"), case_id, claim=True)
    open_task(hr, case_id, CHAIR)
    hr.get_by_label("评审结论").fill("同意增加复核步骤")
    decide(hr)
    submitted(hr, case_id, CHAIR)

    # live stays V1 until 总经理 approves
    assert live_api.get(f"/processes/{KEY}/content", "admin")["version"] == 1
    gm = page_as("gm")
    open_task(gm, case_id, GM)
    decide(gm)
    submitted(gm, case_id, GM)

    # -- V2 is live at once: the 流程清单 says so, with the case that changed it --
    hr.goto("/processes")
    row = hr.locator(f'#catalogue tr[data-key="{KEY}"]')
    expect(row.locator(".version")).to_have_text("V2")
    expect(row).to_contain_text(f"#{case_id}")

    # -- a new case reaches the new step, in the hands of 人力资源部 --
    new_case = live_api.start(KEY, "ops_head")
    walk(live_api, new_case["id"], [("apply", "ops_head", TRAINING)] + TO_ORGANISE)
    task = live_api.open_task(new_case["id"], new_id)
    assert task["name"] == NEW_STEP
    hr.goto("/")
    expect(hr.locator("#todo-list li.item").filter(has_text=NEW_STEP)).to_have_count(1)

    # -- the case started before follows V1: after 组织实施 it ends --
    walk(live_api, old_case["id"], TO_ORGANISE)
    assert live_api.get(f"/instances/{old_case['id']}", "admin")["status"] == "completed"

    # -- the library's diagram again (a rollback to V1, deployed by the admin) for the other browser tests --
    draft = live_api.post(f"/processes/{KEY}/versions/1/rollback", "admin", expect=201)
    assert live_api.post(f"/drafts/{draft['id']}/deploy", "admin", {"note": "测试后恢复"}, expect=201)["version"] == 3
