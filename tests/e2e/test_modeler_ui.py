"""The modeler page (/modeler/<key>) in a real browser, as admin: editing steps in the properties panel,
adding a step, live validation (list, markers, the save button), saving a draft and reopening it, other
tools' extension elements surviving a save, the form editor, 直接部署 and a read-only activated draft.

Each test works on a procedure of its own (the lead's change-approval test owns training_request's live
version, so the draft made here is discarded at the end)."""

from __future__ import annotations

import re

import pytest
from lxml import etree
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
}
NO_FORM = "用户任务没有指定表单"


# ---- what a modeler user does ----


def open_modeler(page: Page, path: str) -> None:
    page.goto(path)
    expect(page.locator("#canvas")).to_have_attribute("data-state", "ready")
    expect(page.locator("#validation-list")).not_to_have_attribute("data-state", "pending")


def select(page: Page, element_id: str) -> None:
    """Click a shape on the canvas; the panel then shows it. (A click on the selected shape deselects it.)"""
    if page.evaluate("BPM_MODELER.modeler.get('selection').get().map(e => e.id)") != [element_id]:
        page.locator(f'.djs-element[data-element-id="{element_id}"]').click()
    expect(page.locator("#panel .mdl-type")).to_contain_text(element_id)


def fill_prop(page: Page, name: str, value: str) -> None:
    box = page.locator(f'#panel [name="prop-{name}"]')
    box.fill(value)
    box.press("Tab")  # leaving the field commits it


def wait_valid(page: Page) -> None:
    expect(page.locator("#validation-list")).to_have_attribute("data-state", "valid")
    expect(page.locator("#validation-list")).to_have_text("校验通过")


def save(page: Page) -> int:
    expect(page.locator("#save-draft")).to_be_enabled()
    page.locator("#save-draft").click()
    expect(page.locator("#flash")).to_have_text("草稿已保存")
    expect(page.locator("#mdl-dirty")).to_be_hidden()
    expect(page).to_have_url(re.compile(r"\?draft=\d+"))
    return int(re.search(r"draft=(\d+)", page.url).group(1))


def confirm(page: Page) -> None:
    page.locator("dialog.dialog").get_by_role("button", name="确定").click()


def modeler_xml(page: Page) -> etree._Element:
    return etree.fromstring(page.evaluate("BPM_MODELER.modeler.saveXML().then(r => r.xml)").encode("utf-8"))


def node(root: etree._Element, element_id: str) -> etree._Element:
    found = root.xpath(f"//bpmn:*[@id='{element_id}']", namespaces=NS)
    assert len(found) == 1, element_id
    return found[0]


def props(element: etree._Element) -> dict[str, str]:
    return {
        p.get("name"): p.get("value")
        for p in element.xpath(
            "./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", namespaces=NS
        )
    }


# ---- tests ----


def test_edit_steps_add_one_save_and_reopen_the_draft(page_as, live_api):
    live = live_api.get("/processes/training_request/content", "admin")["version"]  # other tests change it
    page = page_as("admin")
    open_modeler(page, "/modeler/training_request")
    assert page.evaluate("BPM_MODELER.draft") is None  # the live version, no draft yet
    wait_valid(page)
    expect(page.locator("#mdl-live")).to_have_text(f"线上版本 v{live}")
    expect(page.locator("#discard")).to_be_disabled()

    # -- an existing step: name and 会签 through the panel --
    select(page, "vp_review")
    expect(page.locator('[name="prop-formKey"]')).to_have_value("training_request_vp_review")
    fill_prop(page, "name", "分管副总会签")
    page.locator('[name="prop-approvalMode"]').select_option(label="会签（全部同意）")
    expect(page.locator('.djs-element[data-element-id="vp_review"]')).to_contain_text("分管副总会签")
    expect(page.locator("#mdl-dirty")).to_be_visible()

    # -- a new step after 组织实施, placed where the context pad's "append" puts it --
    new_id = page.evaluate("""() => {
        const m = BPM_MODELER.modeler;
        const shape = m.get('elementFactory').createShape({type: 'bpmn:UserTask'});
        return m.get('autoPlace').append(m.get('elementRegistry').get('organise'), shape).id; }""")
    page.keyboard.press("Escape")  # appending opens the label editor; the name is set in the panel below
    page.locator("#zoom-fit").click()  # the whole diagram in view, the new step included
    select(page, new_id)
    # connect it to the end and remove the old flow, from the context pad
    page.locator('.djs-context-pad .entry[data-action="connect"]').click()
    page.locator('.djs-element[data-element-id="end"]').click()
    page.evaluate("""() => { const m = BPM_MODELER.modeler;
        m.get('selection').select(m.get('elementRegistry').get('flow_organise_end')); }""")
    page.locator('.djs-context-pad .entry[data-action="delete"]').click()

    # -- without a form it is invalid: listed, marked on the canvas, and nothing can be saved --
    errors = page.locator("#validation-list")
    expect(errors).to_have_attribute("data-state", "invalid")
    expect(errors.locator(f'li[data-element="{new_id}"]')).to_contain_text(NO_FORM)
    expect(page.locator(f'.djs-element.bpm-invalid[data-element-id="{new_id}"]')).to_have_count(1)
    expect(page.locator(".djs-overlay .bpm-error-badge")).to_have_text("1")
    expect(page.locator("#save-draft")).to_be_disabled()
    expect(page.locator("#propose")).to_be_disabled()
    page.keyboard.press("Control+s")  # refused as well
    expect(page.locator("#flash")).to_contain_text("流程图有错误")
    assert page.evaluate("BPM_MODELER.draft") is None

    # clicking the error selects the step
    select(page, "vp_review")
    errors.locator(f'li[data-element="{new_id}"]').click()
    expect(page.locator("#panel .mdl-type")).to_contain_text(new_id)
    fill_prop(page, "name", "人力资源部负责人复核")

    # -- 新建表单…: a blank form of its own --
    page.locator('[name="prop-formKey"]').select_option("__new__")
    page.locator('dialog.dialog [name="new-form-key"]').fill("Bad-Key")
    confirm(page)
    expect(page.locator("dialog.dialog .error")).to_contain_text("小写字母")
    page.locator('dialog.dialog [name="new-form-key"]').fill("training_request_hr_check")
    confirm(page)
    expect(page.locator('[name="prop-formKey"]')).to_have_value("training_request_hr_check")
    wait_valid(page)
    expect(page.locator(".djs-element.bpm-invalid")).to_have_count(0)
    expect(page.locator(".bpm-error-badge")).to_have_count(0)

    draft_id = save(page)
    expect(page.locator("#mdl-draft")).to_have_text(f"草稿 #{draft_id}（编辑中）")

    # -- reopened, the draft comes back with the changes --
    page.reload()
    expect(page.locator("#canvas")).to_have_attribute("data-state", "ready")
    assert page.evaluate("BPM_MODELER.draft.id") == draft_id
    root = modeler_xml(page)
    vp = node(root, "vp_review")
    assert vp.get("name") == "分管副总会签"
    assert props(vp) == {"formKey": "training_request_vp_review", "approvalMode": "all"}
    added = node(root, new_id)
    assert etree.QName(added).localname == "userTask"
    assert added.get("name") == "人力资源部负责人复核"
    assert props(added) == {"formKey": "training_request_hr_check"}
    lane = root.xpath(f"//bpmn:lane[bpmn:flowNodeRef='{new_id}']", namespaces=NS)
    assert [x.get("name") for x in lane] == ["hr"]
    flows = {(f.get("sourceRef"), f.get("targetRef")) for f in root.xpath("//bpmn:sequenceFlow", namespaces=NS)}
    assert ("organise", new_id) in flows and (new_id, "end") in flows and ("organise", "end") not in flows
    form = page.evaluate("BPM_MODELER.forms.training_request_hr_check")
    assert form["id"] == "training_request_hr_check" and form["components"] == []
    assert form["schemaVersion"] >= 16

    stored = live_api.get(f"/drafts/{draft_id}", "admin")
    assert stored["state"] == "draft" and stored["editable"] and stored["base_version"] == live
    assert "分管副总会签" in stored["bpmn_xml"] and "training_request_hr_check" in stored["forms"]
    assert live_api.get("/processes/training_request/content", "admin")["version"] == live  # nothing went live

    # -- 放弃草稿 --
    page.locator("#discard").click()
    confirm(page)
    expect(page).to_have_url(re.compile(r"/processes/training_request$"))
    expect(page.locator("#flash")).to_have_text("草稿已放弃")
    assert live_api.get(f"/drafts/{draft_id}", "admin")["state"] == "discarded"


def test_other_tools_extension_elements_survive_a_save(page_as, live_api):
    live = live_api.get("/processes/record_destroy/content", "admin")
    root = etree.fromstring(live["bpmn_xml"].encode("utf-8"))
    ext = node(root, "head_decide").find("bpmn:extensionElements", NS)
    ext.insert(
        0,
        etree.fromstring(
            '<camunda:properties xmlns:camunda="http://camunda.org/schema/1.0/bpmn">'
            '<camunda:property name="x" value="1"/></camunda:properties>'
        ),
    )
    xml = etree.tostring(root, encoding="unicode")
    draft = live_api.post(
        "/processes/record_destroy/drafts", "admin", {"bpmn_xml": xml, "forms": live["forms"]}, expect=201
    )

    page = page_as("admin")
    open_modeler(page, f"/modeler/record_destroy?draft={draft['id']}")
    expect(page.locator("#mdl-draft")).to_have_text(f"草稿 #{draft['id']}（编辑中）")
    select(page, "head_decide")
    fill_prop(page, "name", "部门负责人审定（复核）")
    page.locator('[name="prop-approvalMode"]').select_option("any")
    fill_prop(page, "documentation", "由部门负责人审定销毁清单")
    wait_valid(page)
    assert save(page) == draft["id"]

    stored = live_api.get(f"/drafts/{draft['id']}", "admin")
    assert stored["lock_version"] == draft["lock_version"] + 1
    saved = etree.fromstring(stored["bpmn_xml"].encode("utf-8"))
    task = node(saved, "head_decide")
    assert task.get("name") == "部门负责人审定（复核）"
    assert task.findtext("bpmn:documentation", namespaces=NS) == "由部门负责人审定销毁清单"
    foreign = task.xpath("./bpmn:extensionElements/camunda:properties/camunda:property", namespaces=NS)
    assert [(p.get("name"), p.get("value")) for p in foreign] == [("x", "1")]
    assert props(task) == {"formKey": "record_destroy_head_decide", "approvalMode": "any"}
    process = node(saved, "record_destroy")
    assert props(process) == props(node(root, "record_destroy"))  # ownerRole, category, … untouched
    live_api.call("DELETE", f"/drafts/{draft['id']}", "admin")


def test_form_editor_edits_the_drafts_form(page_as, live_api):
    key = "service_report_review"
    page = page_as("admin")
    open_modeler(page, "/modeler/service_report")
    select(page, "review_report")
    expect(page.locator('[name="prop-formKey"]')).to_have_value(key)
    page.locator("#edit-form").click()

    editor = page.locator("#form-editor")
    expect(page.locator("#form-editor-dialog")).to_be_visible()
    expect(page.locator("#form-editor-key")).to_have_text(key)
    expect(editor.locator('.fjs-element[data-id="comment"]')).to_contain_text("意见")  # the form's own fields
    # a text field from the palette, dropped above 意见, given a key in the editor's properties panel
    editor.locator('.fjs-palette-field[data-field-type="textfield"]').drag_to(
        editor.locator('.fjs-element[data-id="comment"]')
    )
    editor.locator(".bio-properties-panel-group-header", has_text="General").click()
    key_box = editor.locator("#bio-properties-panel-key")
    expect(key_box).to_have_value(re.compile(r"^textfield_"))
    key_box.fill("review_remarks")
    page.locator("#form-editor-done").click()
    expect(page.locator("#form-editor-dialog")).to_be_hidden()
    expect(page.locator("#mdl-dirty")).to_be_visible()
    wait_valid(page)

    draft_id = save(page)
    form = live_api.get(f"/drafts/{draft_id}", "admin")["forms"][key]
    keys = [c.get("key") for c in form["components"]]
    assert keys.index("review_remarks") == keys.index("comment") - 1
    assert form["id"] == key

    # 取消 leaves the form as it was
    page.locator("#edit-form").click()
    expect(editor.locator('.fjs-element[data-id="comment"]')).to_be_visible()
    editor.locator('.fjs-element[data-id="comment"]').click()
    editor.locator(".bio-properties-panel-group-header", has_text="General").click()
    expect(editor.locator("#bio-properties-panel-key")).to_have_value("comment")
    editor.locator("#bio-properties-panel-key").fill("changed_comment")
    page.locator("#form-editor-cancel").click()
    expect(page.locator("#form-editor-dialog")).to_be_hidden()
    assert "changed_comment" not in [c.get("key") for c in page.evaluate(f"BPM_MODELER.forms.{key}.components")]
    live_api.call("DELETE", f"/drafts/{draft_id}", "admin")


def test_admin_deploys_directly_and_the_activated_draft_opens_read_only(page_as, live_api):
    page = page_as("admin")
    open_modeler(page, "/modeler/record_form")
    select(page, "publish")
    page.locator('[name="prop-dueIn-n"]').fill("3")  # the helper writes the ISO duration
    page.locator('[name="prop-dueIn-unit"]').select_option("D")
    page.locator('[name="prop-dueIn-n"]').press("Tab")
    expect(page.locator('[name="prop-dueIn"]')).to_have_value("P3D")
    wait_valid(page)
    draft_id = save(page)
    # a change after saving: 直接部署 saves it first
    page.locator('[name="prop-escalation"]').select_option("notify:dept_head")
    expect(page.locator("#mdl-dirty")).to_be_visible()
    wait_valid(page)

    page.locator("#deploy").click()
    page.locator('dialog.dialog [name="note"]').fill("增加发放时限")
    confirm(page)
    expect(page).to_have_url(re.compile(r"/processes/record_form$"))
    expect(page.locator("#flash")).to_have_text("已部署为版本 v2")
    live = live_api.get("/processes/record_form/content", "admin")
    assert live["version"] == 2
    publish = node(etree.fromstring(live["bpmn_xml"].encode("utf-8")), "publish")
    assert props(publish) == {"formKey": "record_form_publish", "dueIn": "P3D", "escalation": "notify:dept_head"}
    versions = {v["version"]: v for v in live_api.get("/processes/record_form/versions", "admin")}
    assert versions[2]["source"] == "direct"
    assert live_api.get(f"/drafts/{draft_id}", "admin")["state"] == "activated"

    # -- the activated draft can be looked at, not changed --
    open_modeler(page, f"/modeler/record_form?draft={draft_id}")
    expect(page.locator("#readonly-note")).to_contain_text("草稿已生效（版本 v2），不能修改")
    for button in ("#save-draft", "#propose", "#deploy", "#discard"):
        expect(page.locator(button)).to_be_disabled()
    expect(page.locator(".djs-palette")).to_be_hidden()
    select(page, "publish")
    expect(page.locator('[name="prop-name"]')).to_be_disabled()
    expect(page.locator('[name="prop-formKey"]')).to_be_disabled()
    page.locator('.djs-element[data-element-id="publish"]').dblclick()  # no label editing either
    expect(page.locator(".djs-direct-editing-parent")).to_be_hidden()
    expect(page.locator("#mdl-dirty")).to_be_hidden()


def test_lane_roles_conditions_scripts_and_undo(page_as, live_api):
    page = page_as("admin")
    open_modeler(page, "/modeler/supplier_review")
    wait_valid(page)

    # -- a lane: its name is the role expression; the panel composes it --
    page.locator('.djs-element[data-element-id="lane_gm"]').click(position={"x": 12, "y": 40})  # the lane's title strip
    expect(page.locator("#panel .mdl-type")).to_contain_text("lane_gm")
    expect(page.locator('[name="prop-lane-role"]')).to_have_value("gm")
    page.locator('[name="prop-lane-role"]').select_option("dept_head")
    fill_prop(page, "lane-field", "supplier_dept")
    page.locator('[name="prop-lane-noinitiator"]').check()
    expect(page.locator('[name="prop-name"]')).to_have_value("dept_head@supplier_dept!initiator")
    expect(page.locator('.djs-element[data-element-id="lane_gm"]')).to_contain_text("dept_head@supplier_dept!initiator")
    lane_tag = page.locator(".djs-overlay .bpm-lane-role")
    expect(lane_tag).to_contain_text(["供应商管理流程经理", "部门负责人 @supplier_dept，不含发起人"])
    fill_prop(page, "name", "no such role")  # typed by hand: the server says what is wrong
    expect(page.locator('#validation-list li[data-element="lane_gm"]')).to_contain_text("不是角色表达式")
    expect(page.locator("#save-draft")).to_be_disabled()
    fill_prop(page, "name", "mgmt_rep")
    expect(page.locator('[name="prop-lane-role"]')).to_have_value("mgmt_rep")
    wait_valid(page)

    # -- a gateway's flows: the condition, and 默认路径 moving to the other flow --
    page.evaluate("""() => { const m = BPM_MODELER.modeler;
        m.get('selection').select(m.get('elementRegistry').get('flow_gm_reject')); }""")
    condition = page.locator('[name="prop-condition"]')
    expect(condition).to_have_value('decision == "reject"')
    fill_prop(page, "condition", 'decision == "reject" and comment')
    expect(page.locator('[name="prop-default"]')).not_to_be_checked()
    page.locator('[name="prop-default"]').check()
    expect(condition).to_be_disabled()
    root = modeler_xml(page)
    assert node(root, "gw_gm").get("default") == "flow_gm_reject"
    assert node(root, "flow_gm_reject").find("bpmn:conditionExpression", NS) is None  # a default needs none
    # one Ctrl+Z undoes the whole 默认路径 change
    page.locator(".djs-container svg").first.focus()
    page.keyboard.press("Control+z")
    root = modeler_xml(page)
    assert node(root, "gw_gm").get("default") == "flow_gw_gm_implement"
    assert (
        node(root, "flow_gm_reject").findtext("bpmn:conditionExpression", namespaces=NS)
        == 'decision == "reject" and comment'
    )

    # -- a script the engine would refuse, then one it runs --
    select(page, "number")
    fill_prop(page, "script", "import os")
    expect(page.locator('#validation-list li[data-element="number"]')).to_contain_text("评审编号")
    expect(page.locator('#validation-list li[data-element="number"]')).to_contain_text("import")
    expect(page.locator('.djs-element.bpm-invalid[data-element-id="number"]')).to_have_count(1)
    script = 'review_no = "SR-%d" % next_number("SR")'
    fill_prop(page, "script", script)
    wait_valid(page)

    draft_id = save(page)
    saved = etree.fromstring(live_api.get(f"/drafts/{draft_id}", "admin")["bpmn_xml"].encode("utf-8"))
    assert node(saved, "lane_gm").get("name") == "mgmt_rep"
    assert node(saved, "number").findtext("bpmn:script", namespaces=NS) == script
    condition = node(saved, "flow_gm_reject").find("bpmn:conditionExpression", NS)
    assert condition.text == 'decision == "reject" and comment'
    assert condition.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "bpmn:tFormalExpression"
    live_api.call("DELETE", f"/drafts/{draft_id}", "admin")


def test_multi_instance_steps_and_timers_survive_editing(page_as, live_api):
    """loopDataInputRef names a case variable, not an element: bpmn-js alone would drop it on export."""
    page = page_as("admin")
    open_modeler(page, "/modeler/training_annual_plan")
    wait_valid(page)
    page.evaluate("""() => { const m = BPM_MODELER.modeler;
        m.get('selection').select(m.get('elementRegistry').get('remind_needs')); }""")
    expect(page.locator('[name="prop-timerType"]')).to_have_value("timeDate")
    expect(page.locator('[name="prop-timerValue"]')).to_have_value(
        re.compile(r"^\(datetime\.fromisoformat\(needs_deadline")
    )
    expect(page.locator('[name="prop-cancelActivity"]')).not_to_be_checked()
    page.locator('[name="prop-timerType"]').select_option("timeDuration")
    fill_prop(page, "timerValue", "P7D")
    wait_valid(page)

    draft_id = save(page)
    saved = etree.fromstring(live_api.get(f"/drafts/{draft_id}", "admin")["bpmn_xml"].encode("utf-8"))
    loop = node(saved, "submit_needs").find("bpmn:multiInstanceLoopCharacteristics", NS)
    assert loop.findtext("bpmn:loopDataInputRef", namespaces=NS) == "departments"
    assert loop.findtext("bpmn:loopDataOutputRef", namespaces=NS) == "needs"
    timer = node(saved, "remind_needs").find("bpmn:timerEventDefinition", NS)
    assert [etree.QName(c).localname for c in timer] == ["timeDuration"]
    assert timer.findtext("bpmn:timeDuration", namespaces=NS) == "P7D"
    assert node(saved, "remind_needs").get("cancelActivity") == "false"
    live_api.call("DELETE", f"/drafts/{draft_id}", "admin")
