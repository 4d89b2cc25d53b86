"""What a case decided stays decided (issue 13): separation of duties survives 转办/委派/加签 and escalation,
重试 does not rewrite decisions, start data fits the start form, only participants spread a case
(抄送/催办), and the change procedure cannot drop its own approvals (管理者代表, 总经理)."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree
from test_process_change import APPLY, CHAIR, ORGANISE, QG_REVIEW

from engine import clock
from engine.flows import timers

LIBRARY_FORMS = Path(__file__).parent / "library" / "forms"
APPROVE = {"decision": "approve", "comment": "同意"}
DESTROY_APPLY = {
    "records": [
        {
            "record_name": "2022年事件记录",
            "record_no": "ITSR-CX-017-01",
            "period": "2022年",
            "retention_period": "3年",
            "expired_on": "2025-12-31",
        }
    ],
    "reason": "超过保存期限",
    "proposed_method": "shred",
}
DESTROY = {
    "destroyed_at": "2026-11-25T15:00:00",
    "method": "shred",
    "destroyed_by": ["emp", "ops_eng"],
    "witness": "qg_staff",
    "location": "运维部档案室",
}
SELF_APPROVAL = "职责分离：申请人不能审批自己的申请"


@pytest.fixture(scope="module")
def database(own_database):
    return own_database("integrity")


@pytest.fixture(scope="module")
def iapi(database, api_on):
    api = api_on(database)
    for key, xml in DIAGRAMS.items():
        r = api.post("/processes", "admin", {"bpmn_xml": xml, "forms": _forms("t_note", "t_approval")})
        assert r.status_code == 201, (key, r.json)
    return api


def _forms(*keys):
    return {k: json.loads((LIBRARY_FORMS / f"{k}.form").read_text(encoding="utf-8")) for k in keys}


def _process(key, name, lanes, body):
    lane_xml = "".join(
        f'<bpmn:lane id="lane_{i}" name="{role}">'
        + "".join(f"<bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef>" for ref in refs)
        + "</bpmn:lane>"
        for i, (role, refs) in enumerate(lanes)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs_' + key + '" '
        'targetNamespace="http://example.org/bpm-tests">'
        f'<bpmn:process id="{key}" name="{name}" isExecutable="true">'
        f'<bpmn:laneSet id="ls">{lane_xml}</bpmn:laneSet>{body}</bpmn:process></bpmn:definitions>'
    )


def _user_task(id_, name, form, incoming, outgoing, extra=""):
    return (
        f'<bpmn:userTask id="{id_}" name="{name}"><bpmn:extensionElements><spiffworkflow:properties>'
        f'<spiffworkflow:property name="formKey" value="{form}"/>{extra}</spiffworkflow:properties>'
        f"</bpmn:extensionElements><bpmn:incoming>{incoming}</bpmn:incoming>"
        f"<bpmn:outgoing>{outgoing}</bpmn:outgoing></bpmn:userTask>"
    )


def _script(id_, name, source, incoming, outgoing):
    return (
        f'<bpmn:scriptTask id="{id_}" name="{name}"><bpmn:incoming>{incoming}</bpmn:incoming>'
        f"<bpmn:outgoing>{outgoing}</bpmn:outgoing><bpmn:script>{source}</bpmn:script></bpmn:scriptTask>"
    )


def _flow(id_, source, target, condition=None):
    cond = (
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>'
        if condition
        else ""
    )
    return f'<bpmn:sequenceFlow id="{id_}" sourceRef="{source}" targetRef="{target}">{cond}</bpmn:sequenceFlow>'


# The case of the issue: 管理者代表 rejects, then a script fails (it needs a field nobody gave) and the case is in error.
T_REVIEW_RETRY = _process(
    "t_review_retry",
    "测试：审批后脚本出错",
    [
        ("initiator", ["start", "apply"]),
        ("mgmt_rep", ["review", "summarise", "gw", "mark_rejected", "mark_approved", "end_rejected", "end_approved"]),
    ],
    '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>'
    + _user_task("apply", "填写申请", "t_note", "f1", "f2")
    + _user_task("review", "管理者代表审核", "t_approval", "f2", "f3")
    + _script("summarise", "汇总", 'summary = "%s / %s / %s" % (note, decision, reviewer_note)', "f3", "f4")
    + '<bpmn:exclusiveGateway id="gw" default="f_ok"><bpmn:incoming>f4</bpmn:incoming>'
    "<bpmn:outgoing>f_no</bpmn:outgoing><bpmn:outgoing>f_ok</bpmn:outgoing></bpmn:exclusiveGateway>"
    + _script("mark_rejected", "记为退回", 'outcome = "rejected"', "f_no", "f5")
    + _script("mark_approved", "记为通过", 'outcome = "approved"', "f_ok", "f6")
    + '<bpmn:endEvent id="end_rejected"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>'
    '<bpmn:endEvent id="end_approved"><bpmn:incoming>f6</bpmn:incoming></bpmn:endEvent>'
    + _flow("f1", "start", "apply")
    + _flow("f2", "apply", "review")
    + _flow("f3", "review", "summarise")
    + _flow("f4", "summarise", "gw")
    + _flow("f_no", "gw", "mark_rejected", 'decision == "reject"')
    + _flow("f_ok", "gw", "mark_approved")
    + _flow("f5", "mark_rejected", "end_rejected")
    + _flow("f6", "mark_approved", "end_approved"),
)

# 企管部 checks, but not the one who asked; overdue, it moves to 企管部 — still not the one who asked.
T_SOD_MOVE = _process(
    "t_sod_move",
    "测试：超时转交仍职责分离",
    [("qg!initiator", ["start", "check", "end"])],
    '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>'
    + _user_task(
        "check",
        "企管部审核",
        "t_approval",
        "f1",
        "f2",
        '<spiffworkflow:property name="dueIn" value="PT8H"/>'
        '<spiffworkflow:property name="escalation" value="move:qg"/>',
    )
    + '<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>'
    + _flow("f1", "start", "check")
    + _flow("f2", "check", "end"),
)

DIAGRAMS = {"t_review_retry": T_REVIEW_RETRY, "t_sod_move": T_SOD_MOVE}


def _history(api, case_id, type_):
    return [e for e in api.case(case_id)["history"] if e["type"] == type_]


def _at_head_decide(api):
    case = api.start("record_destroy", "emp")
    api.walk(case["id"], [("apply", "emp", DESTROY_APPLY)])
    return case["id"], api.open_task(case["id"], "ops_head", "head_decide")


def _people(api, task_id, as_, action):
    r = api.get(f"/tasks/{task_id}/people?action={action}&limit=200", as_)
    assert r.status_code == 200, r.json
    return {p["username"] for p in r.json}


# --- item 5: 转办, 委派 and 加签 keep the lane's separation of duties ---------------------------------------


def test_the_head_cannot_hand_the_applicants_own_request_to_the_applicant(iapi):
    case_id, task = _at_head_decide(iapi)  # lane dept_head!initiator: ops_head decides on emp's list
    for action, body in [
        ("transfer", {"user": "emp"}),
        ("delegate", {"user": "emp"}),
        ("add-signer", {"user": "emp", "position": "before"}),
        ("add-signer", {"user": "emp", "position": "after"}),
    ]:
        r = iapi.post(f"/tasks/{task['id']}/{action}", "ops_head", {**body, "comment": "请你自己审"})
        assert r.status_code == 400 and r.json["message"] == SELF_APPROVAL, (action, r.json)
        assert r.json["errors"] == {"user": [SELF_APPROVAL]}
    assert iapi.open_task(case_id, "ops_head", "head_decide")["assignee"] == "ops_head"
    assert _history(iapi, case_id, "task_transferred") == [] and _history(iapi, case_id, "signer_added") == []
    # The pickers do not offer the applicant (nor me); anyone else they do.
    for action in ("transfer", "delegate", "add_signer"):
        offered = _people(iapi, task["id"], "ops_head", action)
        assert "emp" not in offered and "ops_head" not in offered and {"ops_eng", "vp"} <= offered, action
    assert iapi.get(f"/tasks/{task['id']}/people?action=transfer", "emp").status_code == 403  # not emp's task

    # Handed to someone else, the rule goes with the step: they cannot pass it to the applicant either.
    assert iapi.post(f"/tasks/{task['id']}/transfer", "ops_head", {"user": "ops_eng"}).status_code == 200
    r = iapi.post(f"/tasks/{task['id']}/transfer", "ops_eng", {"user": "emp"})
    assert r.status_code == 400 and r.json["message"] == SELF_APPROVAL
    r = iapi.post(f"/tasks/{task['id']}/add-signer", "ops_eng", {"user": "vp", "position": "before"})
    assert r.status_code == 200, r.json
    signer = next(t for t in iapi.case(case_id)["tasks"] if t["state"] == "open" and t["assignee"] == "vp")
    r = iapi.post(f"/tasks/{signer['id']}/transfer", "vp", {"user": "emp"})  # a signer's row answers to the step
    assert r.status_code == 400 and r.json["message"] == SELF_APPROVAL
    assert "emp" not in _people(iapi, signer["id"], "vp", "transfer")


def test_a_witness_cannot_hand_the_confirmation_to_one_of_the_destroyers(iapi):
    case_id, _ = _at_head_decide(iapi)
    iapi.walk(
        case_id, [("head_decide", "ops_head", APPROVE), ("vp_approve", "vp", APPROVE), ("destroy", "emp", DESTROY)]
    )
    task = iapi.open_task(case_id, "qg_staff", "witness_confirm")  # lane user@witness!user@destroyed_by
    r = iapi.post(f"/tasks/{task['id']}/delegate", "qg_staff", {"user": "ops_eng"})
    assert r.status_code == 400 and r.json["message"] == "职责分离：表单字段 destroyed_by 中选定的人不能办理本步骤"
    assert not {"emp", "ops_eng"} & _people(iapi, task["id"], "qg_staff", "delegate")
    assert iapi.post(f"/tasks/{task['id']}/delegate", "qg_staff", {"user": "qg_head"}).status_code == 200


def test_an_overdue_step_moved_on_escalation_skips_the_excluded_person(iapi, database):
    clock.set_time(clock.now().replace(microsecond=0))
    try:
        case = iapi.start("t_sod_move", "qg_staff")
        assert iapi.open_task(case["id"], "qg_head", "check")["candidate_users"] == ["qg_head"]
        clock.set_time(clock.now() + timedelta(hours=8, minutes=1))
        timers.fire_due(database)
        [moved] = _history(iapi, case["id"], "escalated")
        assert moved["data"]["action"] == "move" and moved["data"]["to"] == ["qg_head"]
        assert iapi.open_task(case["id"], "qg_head", "check")["candidate_users"] == ["qg_head"]
    finally:
        clock.set_time(None)


# --- item 6: 重试 keeps what completed steps decided ---------------------------------------------------------


def _rejected_then_failed(api):
    case = api.start("t_review_retry", "emp")
    api.walk(
        case["id"],
        [("apply", "emp", {"note": "申请采购"}), ("review", "mr", {"decision": "reject", "comment": "预算不足"})],
    )
    failed = api.case(case["id"])
    assert failed["status"] == "error" and "reviewer_note" in failed["error"]
    return case["id"]


def test_the_initiator_cannot_turn_a_rejection_into_an_approval_by_retrying(iapi):
    case_id = _rejected_then_failed(iapi)
    for who in ("emp", "qg_staff"):  # may retry, but not change data
        r = iapi.post(f"/instances/{case_id}/retry", who, {"data": {"decision": "approve", "reviewer_note": "x"}})
        assert r.status_code == 403 and "系统管理员" in r.json["message"], r.json
    r = iapi.post(
        f"/instances/{case_id}/retry",
        "admin",
        {"data": {"decision": "approve", "reviewer_note": "x"}, "reason": "改为同意"},
    )
    assert r.status_code == 400 and "decision" in r.json["errors"] and "管理者代表审核" in r.json["message"]
    r = iapi.post(f"/instances/{case_id}/retry", "admin", {"data": {"reviewer_note": "x"}})
    assert r.status_code == 400 and r.json["errors"] == {"reason": ["更正案件数据必须填写原因"]}
    assert iapi.case(case_id)["status"] == "error" and _history(iapi, case_id, "retried") == []

    # A plain retry still works for the initiator (and fails again: the cause is not fixed).
    r = iapi.post(f"/instances/{case_id}/retry", "emp")
    assert r.status_code == 200 and r.json["status"] == "error"

    # The admin supplies the missing field, with a reason; the rejection stands.
    r = iapi.post(
        f"/instances/{case_id}/retry",
        "admin",
        {"data": {"reviewer_note": "预算另行申请"}, "reason": "脚本需要的审核说明缺失，按管理者代表意见补录"},
    )
    assert r.status_code == 200, r.json
    done = iapi.case(case_id)
    assert (
        done["status"] == "completed" and done["data"]["outcome"] == "rejected" and done["data"]["decision"] == "reject"
    )
    corrected = _history(iapi, case_id, "retried")[-1]
    assert corrected["actor"] == "admin" and corrected["comment"] == "脚本需要的审核说明缺失，按管理者代表意见补录"
    assert corrected["data"] == {
        "corrections": [{"field": "reviewer_note", "old": None, "new": "预算另行申请", "submitted_by": None}]
    }


def test_an_admin_overriding_a_submitted_value_is_recorded_with_old_and_new(iapi):
    case_id = _rejected_then_failed(iapi)
    r = iapi.post(
        f"/instances/{case_id}/retry",
        "admin",
        {"data": {"note": "申请采购（已更正）", "reviewer_note": "补录"}, "reason": "申请人来电更正"},
    )
    assert r.status_code == 200, r.json
    corrections = _history(iapi, case_id, "retried")[-1]["data"]["corrections"]
    assert corrections == [
        {"field": "note", "old": "申请采购", "new": "申请采购（已更正）", "submitted_by": "填写申请"},
        {"field": "reviewer_note", "old": None, "new": "补录", "submitted_by": None},
    ]
    assert iapi.case(case_id)["data"]["outcome"] == "rejected"


# --- item 16: start data fits the start form; reserved names cannot be set ---------------------------------------


def test_start_data_is_checked_against_the_start_form(iapi):
    r = iapi.post("/processes/t_script_error/instances", "emp", {"data": {"amount": 3, "price": 0}})
    assert r.status_code == 400 and r.json["errors"] == {"price": ["发起表单中没有该字段"]}
    assert "price" in r.json["message"]
    r = iapi.post("/processes/t_script_error/instances", "emp", {"data": {"amount": "三"}})
    assert r.status_code == 400 and "amount" in r.json["errors"]
    r = iapi.post("/processes/t_script_error/instances", "emp", {"data": {}})
    assert r.status_code == 400 and r.json["errors"] == {"amount": ["必填项"]}
    # Without a form on the start event, start data is what the first step's form will show.
    case = iapi.start("record_destroy", "emp", {"reason": "超过保存期限"})
    task = iapi.open_task(case["id"], "emp", "apply")
    assert iapi.get(f"/tasks/{task['id']}", "emp").json["prefill"]["reason"] == "超过保存期限"
    r = iapi.post("/processes/record_destroy/instances", "emp", {"data": {"reason": "x", "head_approved": True}})
    assert r.status_code == 400 and list(r.json["errors"]) == ["head_approved"] and "head_approved" in r.json["message"]
    r = iapi.post("/processes/record_destroy/instances", "emp", {"data": {"proposed_method": "rocket"}})
    assert r.status_code == 400 and "proposed_method" in r.json["errors"]
    # A first step that is an approval: its decision is not the initiator's to preset.
    r = iapi.post("/processes/t_dept_head/instances", "emp", {"data": {"decision": "approve", "comment": "同意"}})
    assert r.status_code == 400 and list(r.json["errors"]) == ["decision"]


@pytest.mark.parametrize("name", ["today", "next_number", "len", "datetime", "votes"])
def test_reserved_names_cannot_be_preset(iapi, name):
    r = iapi.post("/processes/record_destroy/instances", "emp", {"data": {name: "2020-01-01"}})
    assert r.status_code == 400 and list(r.json["errors"]) == [name] and name in r.json["message"]
    assert "保留" in r.json["message"]


# --- item 17: who may 抄送 and 催办 ----------------------------------------------------------------------------


def test_someone_merely_copied_can_read_but_not_spread_or_urge(iapi):
    case = iapi.start("process_change", "emp")
    iapi.walk(case["id"], [("apply", "emp", APPLY)])  # now with mr
    r = iapi.post(f"/instances/{case['id']}/cc", "emp", {"users": ["sales"], "comment": "供参考"})
    assert r.status_code == 200 and r.json["users"] == ["sales"]
    assert iapi.get(f"/instances/{case['id']}", "sales").status_code == 200
    assert iapi.get(f"/instances/{case['id']}", "sales").json["actions"] == []
    r = iapi.post(f"/instances/{case['id']}/cc", "sales", {"users": ["hr_head"], "comment": ""})
    assert r.status_code == 403 and "被抄送人只能查看" in r.json["message"]
    assert iapi.get(f"/instances/{case['id']}", "hr_head").status_code == 403
    r = iapi.post(f"/instances/{case['id']}/urge", "sales", {"comment": "快点"})
    assert r.status_code == 403 and "催办" in r.json["message"]
    assert _history(iapi, case["id"], "urged") == []

    # Who may: the initiator, whoever holds a step, 企管部; the holder of the step cannot urge only themselves.
    assert set(iapi.get(f"/instances/{case['id']}", "emp").json["actions"]) >= {"cc", "urge"}
    assert iapi.get(f"/instances/{case['id']}", "mr").json["actions"] == ["cc"]
    assert iapi.post(f"/instances/{case['id']}/cc", "mr", {"users": ["vp"], "comment": ""}).status_code == 200
    assert iapi.post(f"/instances/{case['id']}/urge", "qg_staff", {"comment": "请尽快"}).status_code == 200


def test_whoever_an_overdue_step_was_escalated_to_may_urge_it_but_not_spread_it(iapi, database):
    clock.set_time(clock.now().replace(microsecond=0))
    try:
        case = iapi.start("t_deadline", "emp")  # 办理: due in P3D, then notify:dept_head (ops_head)
        clock.set_time(clock.now() + timedelta(days=3, minutes=1))
        timers.fire_due(database)
        assert [e["data"]["to"] for e in _history(iapi, case["id"], "escalated")] == [["ops_head"]]
        assert iapi.get(f"/instances/{case['id']}", "ops_head").json["actions"] == ["urge"]
        assert iapi.post(f"/instances/{case['id']}/urge", "ops_head", {"comment": "请今天办完"}).status_code == 200
        r = iapi.post(f"/instances/{case['id']}/cc", "ops_head", {"users": ["sales"], "comment": ""})
        assert r.status_code == 403
    finally:
        clock.set_time(None)


# --- item 21: the change procedure keeps 管理者代表 and 总经理 -------------------------------------------------

CHANGE = "process_change"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def _with_lane(xml, lane_id, role):
    root = etree.fromstring(xml.encode("utf-8"))
    lane = root.find(f".//{{{BPMN}}}lane[@id='{lane_id}']")
    lane.set("name", role)
    return etree.tostring(root, encoding="unicode")


def _propose(api, xml, forms):
    draft = api.post(f"/processes/{CHANGE}/drafts", "qg_staff", {"bpmn_xml": xml, "forms": forms})
    assert draft.status_code == 201, draft.json
    proposed = api.post(f"/drafts/{draft.json['id']}/propose", "qg_staff")
    assert proposed.status_code == 201, proposed.json
    case_id, task_id = proposed.json["instance_id"], proposed.json["task_id"]
    prefill = api.get(f"/tasks/{task_id}", "qg_staff").json["prefill"]
    api.complete(
        task_id,
        "qg_staff",
        {
            **prefill,
            "trigger": "improvement",
            "business_dept": "tech",
            "reason": "简化审核",
            "affects_documents": False,
        },
    )
    return draft.json["id"], case_id


def _review(api, case_id, mr_step_by):
    api.walk(
        case_id,
        [
            ("mr_review", mr_step_by, APPROVE),
            ("qg_review", "qg_head", QG_REVIEW),
            ("organise_review", "qg_head", ORGANISE),
            ("chair_review", "tech_head", CHAIR),
            ("gm_approve", "gm", {"decision": "approve"}),
        ],
    )


def test_the_change_procedure_cannot_go_live_without_mgmt_rep_and_gm(iapi):
    live = iapi.get(f"/processes/{CHANGE}/content", "qg_staff").json
    assert live["version"] == 1
    # 企管部 proposes that its own staff, not the 管理者代表, review changes. Approved by mr and gm, it goes live.
    no_mr = _with_lane(live["bpmn_xml"], "lane_mgmt_rep", "qg")
    _, first = _propose(iapi, no_mr, live["forms"])
    _review(iapi, first, "mr")
    assert iapi.case(first)["status"] == "running", iapi.case(first)["error"]
    assert iapi.get(f"/processes/{CHANGE}/content", "qg_staff").json["version"] == 2

    # The next change runs on that version: nobody holding 管理者代表 approves, so it cannot go live.
    no_gm = _with_lane(no_mr, "lane_gm", "qg")
    draft_id, second = _propose(iapi, no_gm, live["forms"])
    _review(iapi, second, "qg_staff")
    failed = iapi.case(second)
    assert failed["status"] == "error" and "尚缺：管理者代表" in failed["error"], failed["error"]
    assert iapi.get(f"/processes/{CHANGE}/content", "qg_staff").json["version"] == 2
    assert iapi.get(f"/drafts/{draft_id}", "qg_staff").json["state"] == "proposed"

    # Nor can an admin put it live directly, by draft or by API.
    other = iapi.post(f"/processes/{CHANGE}/drafts", "admin", {"bpmn_xml": no_gm, "forms": live["forms"]}).json
    r = iapi.post(f"/drafts/{other['id']}/deploy", "admin", {"note": "紧急"})
    assert r.status_code == 403 and "管理者代表和总经理" in r.json["message"]
    r = iapi.post("/processes", "admin", {"bpmn_xml": no_gm, "forms": live["forms"]})
    assert r.status_code == 403 and "申请变更" in r.json["message"]
    assert iapi.get(f"/processes/{CHANGE}/content", "qg_staff").json["version"] == 2
    # Other procedures are deployed directly as before.
    r = iapi.post(
        "/processes", "admin", {"bpmn_xml": T_SOD_MOVE.replace("PT8H", "PT9H"), "forms": _forms("t_approval")}
    )
    assert r.status_code == 201 and r.json["created"] is True
