"""A procedure changed in the browser goes live only through 流程新增/变更审批 (000 篇2 第九–十五条):
drafts, validation, the proposal case with its diff, activation on 总经理's approval, versions,
rollback, the admin's direct deploy, the 流程清单 and its Excel export."""

import io
import re
from datetime import datetime, timedelta

import pytest
from lxml import etree
from openpyxl import load_workbook
from test_process_change import CHAIR, ORGANISE, QG_REVIEW

from engine import clock

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
KEY = "training_request"  # owner role hr: hr_head and hr_trainer may change it
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
HR_ORGANISE = {"confirmed_date": "2026-12-10", "confirmed_place": "北京", "arrangement": "已通知"}
APPLY_MORE = {"trigger": "improvement", "business_dept": "hr", "reason": "组织实施后需要负责人复核"}


@pytest.fixture(scope="module")
def gapi(own_database, api_on):
    return api_on(own_database("changes"))


def browser(api, username):
    """A logged-in browser session (cookie) on the same app, for the server-rendered pages."""
    client = api.client.application.test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"username": username, "password": "demo", "csrf": token}).status_code == 302
    return client


def live_xml(api, as_="hr_head"):
    r = api.get(f"/processes/{KEY}/content", as_)
    assert r.status_code == 200, r.json
    return r.json


def with_review_step(xml: str, *, form_key: str | None = "training_request_organise") -> str:
    """The live diagram with a new user task 人力资源部负责人复核 between 组织实施 and the end."""
    root = etree.fromstring(xml.encode("utf-8"))
    process = root.find(f"{{{BPMN}}}process")
    lane = process.find(f".//{{{BPMN}}}lane[@name='hr']")
    etree.SubElement(lane, f"{{{BPMN}}}flowNodeRef").text = "hr_check"
    task = etree.SubElement(process, f"{{{BPMN}}}userTask", id="hr_check", name="人力资源部负责人复核")
    if form_key:
        props = etree.SubElement(etree.SubElement(task, f"{{{BPMN}}}extensionElements"), f"{{{SPIFF}}}properties")
        etree.SubElement(props, f"{{{SPIFF}}}property", name="formKey", value=form_key)
    flow = process.find(f"{{{BPMN}}}sequenceFlow[@id='flow_organise_end']")
    flow.set("targetRef", "hr_check")
    etree.SubElement(process, f"{{{BPMN}}}sequenceFlow", id="flow_check_end", sourceRef="hr_check", targetRef="end")
    return etree.tostring(root, encoding="unicode")


def walk_to_gm(api, case_id, applicant="hr_head", apply=True):
    steps = [("apply", applicant, APPLY_MORE)] if apply else []
    api.walk(
        case_id,
        steps
        + [
            ("mr_review", "mr", {"decision": "approve", "comment": "同意"}),
            ("qg_review", "qg_staff", QG_REVIEW),
            ("organise_review", "qg_staff", ORGANISE),
            ("chair_review", "hr_head", CHAIR),  # head of the business department chosen: 人力资源部
        ],
    )


def test_only_modelers_may_draft_and_invalid_drafts_are_refused_at_the_element(gapi):
    xml = live_xml(gapi)["bpmn_xml"]
    r = gapi.post(f"/processes/{KEY}/drafts", "emp", {"bpmn_xml": xml, "forms": {}})
    assert r.status_code == 403 and "流程所有者" in r.json["message"]
    r = gapi.post(f"/processes/{KEY}/drafts", "mr", {"bpmn_xml": xml, "forms": {}})
    assert r.status_code == 403  # mr holds neither admin, process_owner nor hr

    broken = with_review_step(xml, form_key=None)
    check = gapi.post("/definitions/validate", "hr_head", {"bpmn_xml": broken, "forms": {}, "process_key": KEY}).json
    assert check["valid"] is False
    assert {"element_id": "hr_check", "message": "用户任务没有指定表单（扩展属性 formKey）"} in check["errors"]
    r = gapi.post(f"/processes/{KEY}/drafts", "hr_head", {"bpmn_xml": broken, "forms": {}})
    assert r.status_code == 400 and any(e["element_id"] == "hr_check" for e in r.json["errors"])

    renamed = xml.replace(f'id="{KEY}"', 'id="training_other"').replace(
        f'processRef="{KEY}"', 'processRef="training_other"'
    )
    r = gapi.post(f"/processes/{KEY}/drafts", "hr_head", {"bpmn_xml": renamed, "forms": {}})
    assert r.status_code == 400 and "流程标识不能修改" in r.json["errors"][0]["message"]

    late = with_review_step(xml).replace(
        'name="formKey" value="training_request_organise"/>\n        </spiffworkflow:properties>',
        'name="formKey" value="training_request_organise"/><spiffworkflow:property name="dueIn" value="3 天"/>'
        "</spiffworkflow:properties>",
        1,
    )
    check = gapi.post("/definitions/validate", "hr_head", {"bpmn_xml": late, "forms": {}, "process_key": KEY}).json
    assert any("不是有效的 ISO 8601 时长" in e["message"] for e in check["errors"]), check


def test_change_goes_live_only_on_gm_approval_and_old_cases_keep_their_version(gapi):
    live = live_xml(gapi)
    assert live["version"] == 1
    old_case = gapi.start(KEY, "ops_head")
    gapi.walk(old_case["id"], [("apply", "ops_head", TRAINING)])

    draft = gapi.post(
        f"/processes/{KEY}/drafts", "hr_head", {"bpmn_xml": with_review_step(live["bpmn_xml"]), "forms": live["forms"]}
    )
    assert draft.status_code == 201, draft.json
    draft = draft.json
    assert (draft["state"], draft["editable"], draft["base_version"]) == ("draft", True, 1)
    stale = gapi.call(
        "PUT",
        f"/drafts/{draft['id']}",
        "hr_trainer",
        json={"bpmn_xml": draft["bpmn_xml"], "forms": draft["forms"], "lock_version": 5},
    )
    assert stale.status_code == 409 and "请重新打开" in stale.json["message"]
    saved = gapi.call(
        "PUT",
        f"/drafts/{draft['id']}",
        "hr_trainer",
        json={"bpmn_xml": draft["bpmn_xml"], "forms": draft["forms"], "lock_version": 0},
    )
    assert saved.status_code == 200 and saved.json["lock_version"] == 1 and saved.json["updated_by"] == "培训管理员"

    proposed = gapi.post(f"/drafts/{draft['id']}/propose", "hr_head")
    assert proposed.status_code == 201, proposed.json
    case_id, apply_task = proposed.json["instance_id"], proposed.json["task_id"]
    task = gapi.get(f"/tasks/{apply_task}", "hr_head").json
    assert task["element_id"] == "apply"
    assert task["prefill"]["process_key"] == KEY and task["prefill"]["change_type"] == "change"
    assert task["prefill"]["responsible_dept"] == "hr"
    assert task["prefill"]["content"].startswith(
        "新增 2 个元素，删除 0 个，修改 1 个"
    )  # the task, its flow; the moved flow

    # One proposal per procedure at a time; a proposed draft is frozen while reviewers hold it.
    second = gapi.post(f"/processes/{KEY}/drafts", "hr_head", {"bpmn_xml": live["bpmn_xml"], "forms": {}}).json
    r = gapi.post(f"/drafts/{second['id']}/propose", "hr_head")
    assert r.status_code == 409 and f"#{case_id}" in r.json["message"]
    assert gapi.call("DELETE", f"/drafts/{second['id']}", "hr_head").status_code == 204

    gapi.complete(apply_task, "hr_head", {**task["prefill"], **APPLY_MORE})
    r = gapi.call(
        "PUT",
        f"/drafts/{draft['id']}",
        "hr_head",
        json={"bpmn_xml": draft["bpmn_xml"], "forms": draft["forms"], "lock_version": 1},
    )
    assert r.status_code == 409 and "审批中不能修改" in r.json["message"]

    # Reviewers (who may see the case) read the draft and its diff; others may not.
    diff = gapi.get(f"/drafts/{draft['id']}/diff", "mr").json
    assert [e["id"] for e in diff["added"]] == ["hr_check", "flow_check_end"]
    assert [e["id"] for e in diff["changed"]] == ["flow_organise_end"]
    assert gapi.get(f"/drafts/{draft['id']}", "emp").status_code == 403
    page = browser(gapi, "mr").get(f"/cases/{case_id}").text
    assert "流程变更内容" in page and "人力资源部负责人复核" in page and f'href="/drafts/{draft["id"]}"' in page
    review = browser(gapi, "mr").get(f"/drafts/{draft['id']}")
    assert review.status_code == 200 and 'data-diff="/drafts/' in review.text
    assert browser(gapi, "emp").get(f"/drafts/{draft['id']}").status_code == 403

    walk_to_gm(gapi, case_id, apply=False)
    # 总经理 sends it back: nothing goes live, and the applicant may change the draft again.
    gapi.walk(case_id, [("gm_approve", "gm", {"decision": "reject", "comment": "请补充复核时限"})])
    assert live_xml(gapi)["version"] == 1
    reopened = gapi.get(f"/drafts/{draft['id']}", "hr_head").json
    assert (reopened["state"], reopened["editable"]) == ("proposed", True)
    timed = reopened["bpmn_xml"].replace(
        'value="training_request_organise"/></spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>',
        'value="training_request_organise"/><spiffworkflow:property name="dueIn" value="P3D"/>'
        "</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>",
    )
    assert timed != reopened["bpmn_xml"]
    r = gapi.call(
        "PUT",
        f"/drafts/{draft['id']}",
        "hr_head",
        json={"bpmn_xml": timed, "forms": reopened["forms"], "lock_version": reopened["lock_version"]},
    )
    assert r.status_code == 200, r.json

    again = gapi.open_task(case_id, "hr_head", "apply")
    prefill = gapi.get(f"/tasks/{again['id']}", "hr_head").json["prefill"]
    assert prefill["process_key"] == KEY and prefill["content"].startswith("新增 2 个元素")
    gapi.complete(again["id"], "hr_head", {**prefill, **APPLY_MORE})
    walk_to_gm(gapi, case_id, apply=False)
    gapi.walk(case_id, [("gm_approve", "gm", {"decision": "approve"})])

    # Approved: the draft is the next version at once, recorded against the case.
    now_live = live_xml(gapi)
    assert now_live["version"] == 2 and 'name="dueIn" value="P3D"' in now_live["bpmn_xml"]
    versions = gapi.get(f"/processes/{KEY}/versions", "emp").json
    assert [(v["version"], v["source"], v["change_instance_id"], v["live"]) for v in versions] == [
        (2, "change", case_id, True),
        (1, "library", None, False),
    ]
    assert versions[0]["deployed_by"] == "人力资源部部长"
    assert versions[1]["running"] == 1  # the old case
    assert gapi.get(f"/drafts/{draft['id']}", "hr_head").json["state"] == "activated"
    publish = gapi.open_task(case_id, "qg_staff", "publish")
    assert gapi.get(f"/tasks/{publish['id']}", "qg_staff").json["prefill"]["new_version"] == "V2"

    # New cases follow V2 and reach the new step; the case started before follows V1 to its end.
    new_case = gapi.start(KEY, "ops_head")
    steps = [
        ("vp_review", "vp", {"decision": "approve"}),
        ("gm_approve", "gm", {"decision": "approve"}),
        ("organise", "hr_trainer", HR_ORGANISE),
    ]
    gapi.walk(new_case["id"], [("apply", "ops_head", TRAINING)] + steps)
    check = gapi.open_task(new_case["id"], "hr_head", "hr_check")
    assert check["name"] == "人力资源部负责人复核"
    # its deadline (dueIn P3D, added after 总经理 sent it back) runs from when the step became ready
    created, due = (datetime.fromisoformat(check[k]) for k in ("created_at", "due_at"))
    assert due - created == timedelta(days=3) and check["overdue"] is False
    clock.set_time(due + timedelta(minutes=1))
    try:
        assert gapi.get(f"/tasks/{check['id']}", "hr_head").json["overdue"] is True
    finally:
        clock.set_time(None)
    organise_row = gapi.case(new_case["id"])["tasks"]
    assert all(t["due_at"] is None for t in organise_row if t["element_id"] != "hr_check")  # no dueIn: none
    # An admin could move it to V2 (its completed part is unchanged): the dry run says so and moves nothing.
    body = {"instance_ids": [old_case["id"]], "dry_run": True}
    assert gapi.post(f"/processes/{KEY}/migrations", "hr_head", body).status_code == 403
    [dry] = gapi.post(f"/processes/{KEY}/migrations", "admin", body).json
    assert (dry["ok"], dry["from_version"], dry["to_version"], dry["current_steps"]) == (True, 1, 2, ["vp_review"])
    gapi.walk(old_case["id"], steps)
    assert gapi.case(old_case["id"])["status"] == "completed"


def test_rollback_and_direct_deploy(gapi):
    before = live_xml(gapi)["version"]
    r = gapi.post(f"/processes/{KEY}/versions/{before}/rollback", "hr_head")
    assert r.status_code == 409 and "当前线上版本" in r.json["message"]
    rollback = gapi.post(f"/processes/{KEY}/versions/1/rollback", "hr_head")
    assert rollback.status_code == 201 and rollback.json["rollback_of"] == 1
    r = gapi.post(f"/drafts/{rollback.json['id']}/deploy", "hr_head", {})
    assert r.status_code == 403  # only an admin skips the change procedure

    r = gapi.post(f"/drafts/{rollback.json['id']}/deploy", "admin", {"note": "紧急恢复"})
    assert r.status_code == 201 and r.json["version"] == before + 1
    restored = live_xml(gapi)
    assert "hr_check" not in restored["bpmn_xml"]
    top = gapi.get(f"/processes/{KEY}/versions", "emp").json[0]
    assert (top["version"], top["source"], top["deployed_by"], top["note"]) == (
        before + 1,
        "direct",
        "系统管理员",
        "紧急恢复",
    )


def test_catalogue_page_and_excel(gapi):
    rows = load_workbook(io.BytesIO(gapi.get("/processes/catalogue.xlsx", "emp").data)).active
    header = [c.value for c in rows[1]]
    assert header[:7] == ["流程编号", "流程名称", "类别", "流程所有者（角色）", "流程经理", "版本", "状态"]
    by_key = {row[0]: row for row in rows.iter_rows(min_row=2, values_only=True)}
    assert sorted(by_key) == sorted(p["key"] for p in gapi.get("/processes", "emp").json)
    training = by_key[KEY]
    assert training[4] == "人力资源部部长、培训管理员" and training[6] == "有效"
    assert training[5] == f"V{live_xml(gapi)['version']}"
    assert by_key["process_change"][5] == "V1"

    emp = browser(gapi, "emp")
    page = emp.get("/processes").text
    assert 'href="/api/v1/processes/catalogue.xlsx"' in page and "新建流程" not in page
    row = re.search(r'<tr data-key="training_request">(.*?)</tr>', page, re.S).group(1)
    assert "培训追加审批" in row or "培训" in row
    assert "人力资源部部长、培训管理员" in row and f"V{live_xml(gapi)['version']}" in row
    history = emp.get(f"/processes/{KEY}").text
    assert "版本历史" in history and "编辑流程" not in history and "回滚到此版本" not in history
    assert "编辑流程" in browser(gapi, "hr_trainer").get(f"/processes/{KEY}").text
    assert emp.get(f"/modeler/{KEY}").status_code == 403
    assert browser(gapi, "hr_head").get(f"/modeler/{KEY}").status_code == 200
    assert emp.get(f"/processes/{KEY}/versions/1").status_code == 200
    assert emp.get(f"/processes/{KEY}/migrate").status_code == 403
    assert "迁移运行中的案件" in browser(gapi, "admin").get(f"/processes/{KEY}/migrate").text


NEW_PROCEDURE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs_asset_handover"
  targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="asset_handover" name="资产交接" isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="ownerRole" value="admin"/>
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:laneSet id="ls"><bpmn:lane id="lane_head" name="dept_head">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>confirm</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="confirm" name="部门负责人确认">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="asset_handover_confirm"/>
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="confirm"/>
    <bpmn:sequenceFlow id="f2" sourceRef="confirm" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""
CONFIRM_FORM = {
    "type": "default",
    "id": "asset_handover_confirm",
    "components": [
        {"id": "note", "type": "textfield", "key": "note", "label": "交接说明", "validate": {"required": True}}
    ],
}


def test_a_new_procedure_with_its_own_form(gapi):
    body = {"bpmn_xml": NEW_PROCEDURE, "forms": {}}
    r = gapi.post("/processes/asset_handover/drafts", "hr_head", body)
    assert r.status_code == 403  # a new procedure has no owner yet: admins and process owners only
    r = gapi.post("/processes/asset_handover/drafts", "admin", body)
    assert r.status_code == 400 and r.json["errors"] == [
        {"element_id": "confirm", "message": "表单不存在：asset_handover_confirm"}
    ]
    r = gapi.post(
        "/processes/asset_handover/drafts", "admin", {**body, "forms": {"asset_handover_confirm": CONFIRM_FORM}}
    )
    assert r.status_code == 201 and r.json["base_version"] is None
    assert gapi.get(f"/drafts/{r.json['id']}/diff", "admin").json["summary"].startswith("新增")
    assert gapi.post(f"/drafts/{r.json['id']}/deploy", "admin", {}).json["version"] == 1
    case = gapi.start("asset_handover", "ops_eng")
    task = gapi.open_task(case["id"], "ops_head", "confirm")
    assert gapi.get(f"/tasks/{task['id']}", "ops_head").json["form"]["components"][0]["label"] == "交接说明"
    assert "asset_handover" in [p["key"] for p in gapi.get("/processes", "emp").json]
