"""流程新增/变更审批 from application to publication, clicked through the pages by the demo users,
with a 转办 (mr → vp) and a 退回 (业务部门领导 back to 企管部审核)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

APPLY = "填写流程新增/变更审批表"
MR = "管理者代表审核"
QG = "企管部审核（规范性/匹配性/关联性）"
ORGANISE = "企管部组织评审"
CHAIR = "业务部门领导主持评审并签署意见"
GM = "总经理批准"
PUBLISH = "企管部更新流程清单、版本号并备案发布"

RETURN_COMMENT = "评审发现与问题管理流程的接口未说明，请企管部重新审核"


# ---- what a person does on the pages ----


def case_row(page: Page, list_id: str, case_id: int, step: str):
    """The row of a list (#todo-list, or the 已办 list) for this case's step."""
    return (
        page.locator(f"{list_id} li.item")
        .filter(has=page.locator(".case-link .num", has_text=re.compile(rf"^#{case_id}$")))
        .filter(has=page.get_by_role("link", name=step, exact=True))
    )


def todo_row(page: Page, case_id: int, step: str):
    page.goto("/")
    return case_row(page, "#todo-list", case_id, step)


def open_task(page: Page, case_id: int, step: str, claim: bool = False) -> None:
    """From 待办: 认领 a group task (which opens it), or 办理 one of mine."""
    row = todo_row(page, case_id, step)
    expect(row).to_have_count(1)
    if claim:
        expect(row.get_by_text("待认领")).to_be_visible()
        row.get_by_role("button", name="认领").click()
    else:
        row.get_by_role("link", name="办理").click()
    expect(page).to_have_url(re.compile(r"/tasks/[^/]+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(step)
    # The form is rendered and its actions are offered once the page's JavaScript has the task.
    expect(page.locator("#task-actions .decide button").first).to_be_enabled()


def submitted(page: Page, case_id: int, step: str, flash: str = "已提交") -> None:
    """After acting: back on 待办 with the message, the task gone from it."""
    expect(page.locator("#flash")).to_have_text(flash)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(case_row(page, "#todo-list", case_id, step)).to_have_count(0)


def in_done(page: Page, case_id: int, step: str) -> None:
    page.goto("/done")
    expect(case_row(page, "ul.list", case_id, step).first).to_be_visible()


def choose(page: Page, label: str, option: str) -> None:
    """A form-js select: open the dropdown under its label and pick the option by its text."""
    field = page.locator(".fjs-form-field-select").filter(
        has=page.locator("label", has_text=re.compile(rf"^{re.escape(label)}\*?$"))
    )
    field.locator(".fjs-select-display").click()
    field.locator(".fjs-dropdownlist-item", has_text=re.compile(rf"^{re.escape(option)}$")).click()
    expect(field.locator(".fjs-select-display")).to_have_text(option)


def fill_date(page: Page, label: str, value: str) -> None:
    """A form-js date field takes typed yyyy/mm/dd. Its date picker sometimes drops a date typed while it
    is opening (a flatpickr quirk, worse on a loaded machine): type it again until it is kept."""
    box = page.get_by_role("textbox", name=label)
    year, month, day = (int(part) for part in value.split("/"))
    shown = f"{year}/{month}/{day}"  # as the picker writes it back
    for _ in range(5):
        box.fill(value)
        box.press("Enter")
        box.press("Tab")  # leave the field: the picker takes the typed date and closes
        expect(page.locator(".flatpickr-calendar.open")).to_have_count(0)
        try:
            expect(box).to_have_value(shown, timeout=2000)
            return
        except AssertionError:
            continue
    expect(box).to_have_value(shown)


def fill(page: Page, label: str, value: str) -> None:
    box = page.get_by_label(label)
    box.fill(value)
    expect(box).to_have_value(value)


def decide(page: Page, choice: str = "同意") -> None:
    page.locator("#task-actions .decide").get_by_role("button", name=choice, exact=True).click()


def qg_review(page: Page, case_id: int, claim: bool) -> None:
    open_task(page, case_id, QG, claim=claim)
    expect(page.locator("#task-state")).to_have_text("待办理")
    page.get_by_label("规范性意见").fill("符合流程规范")
    page.get_by_label("与其他流程的匹配性意见").fill("与问题管理流程匹配")
    page.get_by_label("与规章制度和程序文件的关联性意见").fill("不涉及程序文件")
    decide(page)
    submitted(page, case_id, QG)


def organise_review(page: Page, case_id: int, claim: bool) -> None:
    open_task(page, case_id, ORGANISE, claim=claim)
    fill_date(page, "评审日期", "2026/12/01")
    fill(page, "评审地点", "三楼会议室")
    fill(page, "参加评审人员", "运维部、技术部、企管部")
    page.locator("#task-actions .decide").get_by_role("button", name="提交").click()
    submitted(page, case_id, ORGANISE)


def timeline(page: Page) -> list[dict]:
    """The rows of 办理记录 as shown: who, what, which step, the decision tag, the comment."""
    return page.locator("ol.timeline > li").evaluate_all("""items => items.map(li => ({
        actor: li.querySelector('.ev-head strong').textContent.trim(),
        label: li.querySelector('.ev-head strong + span').textContent.trim(),
        head: li.querySelector('.ev-head').textContent.replace(/\\s+/g, ' ').trim(),
        step: (li.querySelector('.small') || {textContent: ''}).textContent.trim(),
        decision: (li.querySelector('.ev-head .tag') || {textContent: ''}).textContent.trim(),
        comment: (li.querySelector('.ev-comment') || {textContent: ''}).textContent.trim(),
    }))""")


def test_process_change_from_application_to_publication(page_as):
    # -- emp: 发起流程 → search → start → the application form --
    emp = page_as("emp")
    emp.get_by_role("link", name="发起流程").click()
    search = emp.get_by_role("searchbox", name="搜索流程")
    search.fill("流程新增")
    search.press("Enter")  # the list filters as one types; Enter asks the server
    expect(emp).to_have_url(re.compile(r"/start\?q="))
    emp.wait_for_load_state()  # 发起 works once start.js has run
    tiles = emp.locator(".tile:visible")
    expect(tiles).to_have_count(1)
    expect(tiles).to_contain_text("流程新增/变更审批")
    tiles.get_by_role("button", name="发起").click()
    expect(emp).to_have_url(re.compile(r"/tasks/[^/]+$"))
    expect(emp.get_by_role("heading", level=1)).to_contain_text(APPLY)
    expect(emp.locator("#flash")).to_contain_text("已发起")
    case_id = int(emp.locator(".crumbs .num").inner_text().lstrip("#"))

    expect(emp.get_by_role("heading", name="流程新增/变更审批表", exact=True)).to_be_visible()  # the form-js form
    emp.get_by_label("变更", exact=True).check()
    emp.get_by_label("流程名称").fill("事件管理流程")
    emp.get_by_label("流程编号").fill("incident")
    emp.get_by_label("流程执行检查结果").check()
    choose(emp, "责任部门", "运维部")
    choose(emp, "业务部门(主持评审)", "技术部")
    emp.get_by_label("新增/变更原因").fill("季度检查发现升级时限不清")
    emp.get_by_label("新增/变更内容").fill("增加二线升级步骤和时限")
    emp.locator("#task-actions .decide").get_by_role("button", name="提交").click()
    submitted(emp, case_id, APPLY)
    in_done(emp, case_id, APPLY)

    # -- mr: sees it in 待办, opens it: summary, diagram, history; 转办 to vp --
    mr = page_as("mr")
    open_task(mr, case_id, MR)
    summary = mr.locator("section.card").filter(has=mr.get_by_role("heading", name="案件信息"))
    expect(summary).to_contain_text("事件管理流程")
    expect(summary).to_contain_text("运维部")
    expect(mr.locator("#diagram svg").first).to_be_visible()
    expect(mr.locator('#diagram .djs-element.bpm-current[data-element-id="mr_review"]')).to_have_count(1)
    expect(mr.locator('#diagram .djs-element.bpm-done[data-element-id="apply"]')).to_have_count(1)
    history = mr.locator("ol.timeline")
    expect(history.locator("li.ev-instance_started")).to_contain_text("普通员工")
    expect(history.locator("li.ev-task_completed")).to_contain_text(APPLY)

    mr.locator("#task-actions").get_by_role("button", name="转办", exact=True).click()
    dialog = mr.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="转办")).to_be_visible()
    dialog.get_by_role("textbox", name="选择人员").fill("vp")
    dialog.get_by_role("option").filter(has_text="（vp）").click()
    dialog.get_by_role("textbox", name="意见").fill("请分管副总审核")
    dialog.get_by_role("button", name="确定").click()
    submitted(mr, case_id, MR, flash="已转办")

    # -- vp: approves with a comment --
    vp = page_as("vp")
    open_task(vp, case_id, MR)
    vp.get_by_label("意见", exact=True).fill("同意变更，按期完成")
    decide(vp)
    submitted(vp, case_id, MR)
    in_done(vp, case_id, MR)

    # -- 企管部: qg_staff claims and approves 企管部审核; qg_head organises the review --
    qg_staff = page_as("qg_staff")
    qg_review(qg_staff, case_id, claim=True)
    in_done(qg_staff, case_id, QG)
    qg_head = page_as("qg_head")
    organise_review(qg_head, case_id, claim=True)
    in_done(qg_head, case_id, ORGANISE)

    # -- tech_head (head of the business department chosen): 退回 to 企管部审核 --
    tech_head = page_as("tech_head")
    open_task(tech_head, case_id, CHAIR)
    tech_head.locator("#task-actions").get_by_role("button", name="退回", exact=True).click()
    dialog = tech_head.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="退回")).to_be_visible()
    dialog.get_by_label("退回到").select_option(label=f"{QG} · 企管部专员")
    dialog.get_by_role("textbox", name="意见").fill(RETURN_COMMENT)
    dialog.get_by_role("button", name="确定").click()
    submitted(tech_head, case_id, CHAIR, flash="已退回")
    tech_head.goto(f"/c/{case_id}")
    returned = tech_head.locator("ol.timeline li.ev-returned")
    expect(returned).to_have_count(1)
    expect(returned).to_contain_text("技术部负责人")
    expect(returned).to_contain_text("退回")
    expect(returned.locator(".ev-comment")).to_have_text(RETURN_COMMENT)

    # -- redone from 企管部审核 on: the step returned to goes back to whoever did it, the next is
    # the group's again --
    qg_review(qg_staff, case_id, claim=False)
    organise_review(qg_head, case_id, claim=True)
    open_task(tech_head, case_id, CHAIR)
    tech_head.get_by_label("评审结论").fill("同意按方案修改")
    decide(tech_head)
    submitted(tech_head, case_id, CHAIR)
    in_done(tech_head, case_id, CHAIR)

    gm = page_as("gm")
    open_task(gm, case_id, GM)
    gm.get_by_label("意见", exact=True).fill("批准发布")
    decide(gm)
    submitted(gm, case_id, GM)
    in_done(gm, case_id, GM)

    open_task(qg_staff, case_id, PUBLISH, claim=True)
    fill_date(qg_staff, "发布日期", "2026/12/02")
    fill(qg_staff, "新版本号", "V1.1")
    fill(qg_staff, "备案编号", "QG-2026-017")
    qg_staff.locator("#task-actions .decide").get_by_role("button", name="提交").click()
    submitted(qg_staff, case_id, PUBLISH)

    # -- the case: 已完成, and the record of every step with the right people --
    emp.goto("/started")
    started = emp.locator("ul.list li.item").filter(has=emp.locator(".num", has_text=re.compile(rf"^#{case_id}$")))
    expect(started.locator(".status")).to_have_text("已完成")
    started.get_by_role("link").first.click()
    expect(emp).to_have_url(re.compile(rf"/cases/{case_id}$"))
    expect(emp.locator(".task-head .status")).to_have_text("已完成")
    expect(emp.get_by_text("没有进行中的步骤")).to_be_visible()
    expect(emp.locator("ol.timeline > li").last).to_contain_text("流程结束")

    rows = timeline(emp)
    assert rows[0]["actor"] == "普通员工" and rows[0]["label"] == "发起流程"
    acted = [
        (r["actor"], r["label"], r["step"], r["decision"]) for r in rows if r["label"] in ("办理完成", "转办", "退回")
    ]
    assert acted == [
        ("普通员工", "办理完成", APPLY, ""),
        ("管理者代表", "转办", MR, ""),
        ("分管副总", "办理完成", MR, "同意"),
        ("企管部专员", "办理完成", QG, "同意"),
        ("企管部负责人", "办理完成", ORGANISE, ""),
        ("技术部负责人", "退回", CHAIR, ""),
        ("企管部专员", "办理完成", QG, "同意"),
        ("企管部负责人", "办理完成", ORGANISE, ""),
        ("技术部负责人", "办理完成", CHAIR, "同意"),
        ("总经理", "办理完成", GM, "同意"),
        ("企管部专员", "办理完成", PUBLISH, ""),
    ], rows
    transfer = next(r for r in rows if r["label"] == "转办")
    assert "→ 分管副总" in transfer["head"], transfer
    # Each opinion is its author's: nobody's 意见 box came prefilled with an earlier approver's words.
    comments = [(r["actor"], r["step"], r["comment"]) for r in rows if r["label"] in ("办理完成", "转办", "退回")]
    assert comments == [
        ("普通员工", APPLY, ""),
        ("管理者代表", MR, "请分管副总审核"),
        ("分管副总", MR, "同意变更，按期完成"),
        ("企管部专员", QG, ""),
        ("企管部负责人", ORGANISE, ""),
        ("技术部负责人", CHAIR, RETURN_COMMENT),
        ("企管部专员", QG, ""),
        ("企管部负责人", ORGANISE, ""),
        ("技术部负责人", CHAIR, ""),
        ("总经理", GM, "批准发布"),
        ("企管部专员", PUBLISH, ""),
    ], comments


def small_pdf() -> bytes:
    """A real one-page PDF (header, objects, cross-reference table, trailer)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R >>",
    ]
    stream = b"BT /F1 12 Tf 20 50 Td (change request) Tj ET"
    objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_attachment_upload_on_a_task_page(page_as, live_api, tmp_path):
    pdf = tmp_path / "变更方案.pdf"
    pdf.write_bytes(small_pdf())
    case = live_api.start("process_change", "emp")
    emp = page_as("emp")
    emp.goto(f"/tasks/{case['tasks'][0]['id']}")
    # The upload form works once the page's script has the task (it offers the actions then).
    expect(emp.locator("#task-actions .decide button").first).to_be_enabled()
    files = emp.locator("#attachments")
    expect(files).to_contain_text("暂无附件")

    files.get_by_label("选择文件").set_input_files(pdf)
    files.get_by_role("button", name="上传").click()
    expect(emp.locator("#flash")).to_have_text("已上传")
    link = files.get_by_role("link", name="变更方案.pdf")
    expect(link).to_be_visible()
    expect(files.locator("li").filter(has=emp.get_by_role("link", name="变更方案.pdf"))).to_contain_text("普通员工")
    expect(files.get_by_role("alert")).to_be_hidden()

    with emp.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == "变更方案.pdf"
    assert download.path().read_bytes() == pdf.read_bytes()
    # Anyone who may see the case finds it on the case page too.
    mr = page_as("qg_staff")
    mr.goto(f"/c/{case['id']}")
    expect(mr.locator("#attachments").get_by_role("link", name="变更方案.pdf")).to_be_visible()
