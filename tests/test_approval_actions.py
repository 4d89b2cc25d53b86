"""Approval actions as DingTalk/Feishu users know them: 转办, 委派, 加签, 退回, 撤回, 抄送, 催办, 批量同意,
and 会签/或签/依次审批 set in the diagram. Each is in the history with who and why, and is refused with
a clear message when it does not apply."""

from test_process_change import APPLY, CHAIR, ORGANISE, QG_REVIEW

APPROVE = {"decision": "approve", "comment": "同意"}


def at_mr_review(api, initiator="emp"):
    case = api.start("process_change", initiator)
    api.complete(api.open_task(case["id"], initiator, "apply")["id"], initiator, APPLY)
    return case["id"], api.open_task(case["id"], "mr", "mr_review")


def events(api, case_id, type_):
    return [e for e in api.case(case_id)["history"] if e["type"] == type_]


def todo_ids(api, user, scope="all"):
    return {t["id"] for t in api.get(f"/tasks?scope={scope}&limit=500", user).json}


def open_elements(api, case_id):
    return sorted(t["element_id"] for t in api.case(case_id)["tasks"] if t["state"] == "open")


# --- 转办 ---


def test_transfer_hands_the_task_over_entirely(api):
    case_id, task = at_mr_review(api)
    r = api.post(f"/tasks/{task['id']}/transfer", "mr", {"user": "vp", "comment": "出差，请分管副总审核"})
    assert r.status_code == 200, r.json
    assert r.json["assignee"] == "vp"
    assert task["id"] in todo_ids(api, "vp") and task["id"] not in todo_ids(api, "mr")
    assert api.post(f"/tasks/{task['id']}/complete", "mr", {"data": APPROVE}).status_code == 403
    api.complete(task["id"], "vp", APPROVE)
    assert open_elements(api, case_id) == ["qg_review"]
    moved = events(api, case_id, "task_transferred")[0]
    assert (moved["actor"], moved["data"]["to"], moved["comment"]) == ("mr", "vp", "出差，请分管副总审核")
    assert api.get(f"/instances/{case_id}", "mr").status_code == 200  # who acted still sees the case


def test_transfer_refused_when_it_does_not_apply(api):
    _case_id, task = at_mr_review(api)
    assert api.post(f"/tasks/{task['id']}/transfer", "emp", {"user": "vp"}).status_code == 403
    r = api.post(f"/tasks/{task['id']}/transfer", "mr", {"user": "nobody"})
    assert r.status_code == 400 and "nobody" in r.json["errors"]["user"][0]
    assert api.post(f"/tasks/{task['id']}/transfer", "mr", {"user": "mr"}).status_code == 409
    assert api.post(f"/tasks/{task['id']}/transfer", "mr", {}).status_code == 400
    api.complete(task["id"], "mr", APPROVE)
    r = api.post(f"/tasks/{task['id']}/transfer", "mr", {"user": "vp"})
    assert r.status_code == 409 and "已办理" in r.json["message"]


# --- 委派 ---


def test_delegate_works_it_and_it_comes_back_to_the_delegator(api):
    case_id, task = at_mr_review(api)
    assert (
        api.post(f"/tasks/{task['id']}/delegate", "mr", {"user": "office_head", "comment": "请先核实"}).status_code
        == 200
    )
    r = api.post(f"/tasks/{task['id']}/complete", "mr", {"data": APPROVE})
    assert r.status_code == 409 and "委派" in r.json["message"]
    detail = api.get(f"/tasks/{task['id']}", "office_head").json
    assert detail["delegated_by"] == "mr" and "delegate" not in detail["actions"]
    api.complete(task["id"], "office_head", {"decision": "approve", "comment": "已核实，无问题"})
    assert open_elements(api, case_id) == ["mr_review"]  # the step is not decided by the delegate
    back = api.get(f"/tasks/{task['id']}", "mr").json
    assert back["assignee"] == "mr" and back["delegated_by"] is None
    assert back["prefill"]["comment"] == "已核实，无问题"  # the delegate's work is offered to the delegator
    api.complete(task["id"], "mr", APPROVE)
    assert open_elements(api, case_id) == ["qg_review"]
    resolved = events(api, case_id, "delegate_resolved")[0]
    assert (resolved["actor"], resolved["comment"]) == ("office_head", "已核实，无问题")


def test_a_delegate_neither_delegates_nor_returns_the_task_on(api):
    """What the task page does not offer a delegate, the API refuses too."""
    case_id, task = at_mr_review(api)
    api.post(f"/tasks/{task['id']}/delegate", "mr", {"user": "office_head"})
    r = api.post(f"/tasks/{task['id']}/delegate", "office_head", {"user": "vp"})
    assert r.status_code == 409 and r.json["message"] == "委派的任务不能再委派"
    r = api.post(f"/tasks/{task['id']}/return", "office_head", {"element_id": "apply"})
    assert r.status_code == 409 and r.json["message"] == "委派的任务不能退回"
    detail = api.get(f"/tasks/{task['id']}", "office_head").json
    assert (detail["assignee"], detail["delegated_by"]) == ("office_head", "mr")
    assert "return" not in detail["actions"] and open_elements(api, case_id) == ["mr_review"]


# --- 加签 ---


def test_signer_before_me_gives_an_opinion_then_i_decide(api):
    case_id, task = at_mr_review(api)
    r = api.post(f"/tasks/{task['id']}/add-signer", "mr", {"user": "vp", "position": "before", "comment": "请先把关"})
    assert r.status_code == 200, r.json
    assert task["id"] not in todo_ids(api, "mr")  # waits for the signer
    r = api.post(f"/tasks/{task['id']}/complete", "mr", {"data": APPROVE})
    assert r.status_code == 409 and "加签" in r.json["message"]
    signer = next(t for t in api.get("/tasks", "vp").json if t["kind"] == "signer")
    detail = api.get(f"/tasks/{signer['id']}", "vp").json
    assert detail["origin"]["user"] == "mr" and detail["origin"]["position"] == "before"
    assert [c["key"] for c in detail["form"]["components"]] == ["decision", "comment"]
    api.complete(signer["id"], "vp", {"decision": "reject", "comment": "建议补充升级时限"})
    assert open_elements(api, case_id) == ["mr_review"]  # an opinion only: mr still decides
    assert task["id"] in todo_ids(api, "mr")
    api.complete(task["id"], "mr", APPROVE)
    assert open_elements(api, case_id) == ["qg_review"]
    assert [(e["actor"], e["decision"]) for e in events(api, case_id, "task_completed")][-2:] == [
        ("vp", "reject"),
        ("mr", "approve"),
    ]


def test_signer_after_me_must_also_approve(api):
    case_id, task = at_mr_review(api)
    assert api.post(f"/tasks/{task['id']}/add-signer", "mr", {"user": "gm", "position": "after"}).status_code == 200
    assert not [t for t in api.get("/tasks", "gm").json if t["kind"] == "signer"]  # not before mr approves
    api.complete(task["id"], "mr", APPROVE)
    assert open_elements(api, case_id) == ["mr_review"]
    signer = next(t for t in api.get("/tasks", "gm").json if t["kind"] == "signer")
    api.complete(signer["id"], "gm", {"decision": "approve", "comment": "同意"})
    assert open_elements(api, case_id) == ["qg_review"]
    assert api.case(case_id)["data"]["decision"] == "approve"


def test_signer_after_me_who_rejects_rejects_the_step(api):
    case_id, task = at_mr_review(api)
    api.post(f"/tasks/{task['id']}/add-signer", "mr", {"user": "gm", "position": "after"})
    api.complete(task["id"], "mr", APPROVE)
    signer = next(t for t in api.get("/tasks", "gm").json if t["kind"] == "signer")
    api.complete(signer["id"], "gm", {"decision": "reject", "comment": "方案不成熟"})
    assert open_elements(api, case_id) == ["apply"]  # rejected at mr_review: back to the applicant
    data = api.case(case_id)["data"]
    assert (data["decision"], data["comment"]) == ("reject", "方案不成熟")


def test_add_signer_refused_when_it_does_not_apply(api):
    case = api.start("process_change", "emp")
    apply = api.open_task(case["id"], "emp", "apply")
    r = api.post(f"/tasks/{apply['id']}/add-signer", "emp", {"user": "vp", "position": "before"})
    assert r.status_code == 409 and "审批步骤" in r.json["message"]
    _case_id, task = at_mr_review(api)
    assert api.post(f"/tasks/{task['id']}/add-signer", "mr", {"user": "vp", "position": "beside"}).status_code == 400
    api.post(f"/tasks/{task['id']}/add-signer", "mr", {"user": "vp", "position": "after"})
    r = api.post(f"/tasks/{task['id']}/add-signer", "mr", {"user": "gm", "position": "after"})
    assert r.status_code == 409 and "加签人" in r.json["message"]


# --- 退回 ---


def test_return_to_an_earlier_step_redoes_the_case_from_there(api):
    case = api.start("process_change", "emp")
    api.walk(
        case["id"],
        [
            ("apply", "emp", APPLY),
            ("mr_review", "mr", APPROVE),
            ("qg_review", "qg_staff", QG_REVIEW),
            ("organise_review", "qg_head", ORGANISE),
        ],
    )
    chair = api.open_task(case["id"], "tech_head", "chair_review")
    targets = api.get(f"/tasks/{chair['id']}/return-targets", "tech_head").json
    assert [(t["element_id"], t["completed_by"]) for t in targets] == [
        ("apply", "emp"),
        ("mr_review", "mr"),
        ("qg_review", "qg_staff"),
        ("organise_review", "qg_head"),
    ]
    r = api.post(f"/tasks/{chair['id']}/return", "tech_head", {"element_id": "qg_review", "comment": "匹配性意见不清"})
    assert r.status_code == 200, r.json
    redo = api.open_task(case["id"], "qg_staff", "qg_review")
    assert redo["assignee"] == "qg_staff"  # back to the person who did it, not to the whole group
    assert open_elements(api, case["id"]) == ["qg_review"]
    assert api.get(f"/tasks/{redo['id']}", "qg_staff").json["prefill"]["match_opinion"] == "与问题管理匹配"
    returned = events(api, case["id"], "returned")[0]
    assert (returned["actor"], returned["comment"], returned["data"]["to_element"]) == (
        "tech_head",
        "匹配性意见不清",
        "qg_review",
    )
    api.walk(
        case["id"],
        [
            ("qg_review", "qg_staff", QG_REVIEW),
            ("organise_review", "qg_head", ORGANISE),
            ("chair_review", "tech_head", CHAIR),
            ("gm_approve", "gm", APPROVE),
        ],
    )
    assert open_elements(api, case["id"]) == ["publish"]
    assert "qg_review" in api.get(f"/instances/{case['id']}/diagram", "emp").json["completed"]


def test_return_refused_for_a_step_that_is_not_earlier(api):
    case_id, task = at_mr_review(api)
    for element in ("gm_approve", "gw_mr", "mr_review", "nonsense"):
        r = api.post(f"/tasks/{task['id']}/return", "mr", {"element_id": element})
        assert r.status_code == 409 and "不是本案件已完成" in r.json["message"], element
    assert api.post(f"/tasks/{task['id']}/return", "emp", {"element_id": "apply"}).status_code == 403
    assert open_elements(api, case_id) == ["mr_review"]


def test_an_added_signer_gives_an_opinion_and_does_not_return_the_case(api):
    case_id, task = at_mr_review(api)
    api.post(f"/tasks/{task['id']}/add-signer", "mr", {"user": "vp", "position": "before"})
    signer = next(t for t in api.get("/tasks", "vp").json if t["kind"] == "signer")
    assert "return" not in api.get(f"/tasks/{signer['id']}", "vp").json["actions"]
    r = api.post(f"/tasks/{signer['id']}/return", "vp", {"element_id": "apply"})
    assert r.status_code == 409 and r.json["message"] == "加签人不能退回，可在意见中说明"
    assert open_elements(api, case_id) == ["mr_review"]


# --- 会签 / 或签 / 依次审批 ---

TEAM = ["vp", "mr", "gm"]


def vote_case(api):
    case = api.start("t_vote", "emp")
    api.complete(api.open_task(case["id"], "emp", "apply")["id"], "emp", {"subject": "采购服务器", "approvers": TEAM})
    return case["id"]


def rows(api, case_id, element):
    return {t["assignee"]: t for t in api.case(case_id)["tasks"] if t["element_id"] == element}


def test_countersign_needs_everyone_then_or_sign_takes_the_first_then_one_after_another(api):
    case_id = vote_case(api)
    votes = rows(api, case_id, "all_sign")
    assert set(votes) == set(TEAM) and all(t["kind"] == "vote" and t["state"] == "open" for t in votes.values())
    api.complete(votes["vp"]["id"], "vp", APPROVE)
    api.complete(votes["mr"]["id"], "mr", APPROVE)
    assert open_elements(api, case_id) == ["all_sign"]  # 会签: gm has not approved yet
    detail = api.get(f"/tasks/{votes['gm']['id']}", "gm").json
    assert detail["approval"]["mode"] == "all"
    assert [(v["user"], v["decision"]) for v in detail["approval"]["votes"]] == [
        ("vp", "approve"),
        ("mr", "approve"),
        ("gm", None),
    ]
    api.complete(votes["gm"]["id"], "gm", APPROVE)
    assert api.case(case_id)["data"]["votes"] == [
        {"user": "vp", "decision": "approve"},
        {"user": "mr", "decision": "approve"},
        {"user": "gm", "decision": "approve"},
    ]

    any_rows = rows(api, case_id, "any_sign")
    assert set(any_rows) == set(TEAM)
    api.complete(any_rows["mr"]["id"], "mr", APPROVE)  # 或签: the first decides
    states = {t["assignee"]: t["state"] for t in api.case(case_id)["tasks"] if t["element_id"] == "any_sign"}
    assert states == {"mr": "completed", "vp": "cancelled", "gm": "cancelled"}
    r = api.post(f"/tasks/{any_rows['gm']['id']}/complete", "gm", {"data": APPROVE})
    assert r.status_code == 409

    seq = rows(api, case_id, "seq_sign")  # 依次: in the order chosen in the form
    assert [seq[u]["state"] for u in TEAM] == ["open", "pending", "pending"]
    assert seq["mr"]["id"] not in todo_ids(api, "mr")
    r = api.post(f"/tasks/{seq['mr']['id']}/complete", "mr", {"data": APPROVE})
    assert r.status_code == 409 and "轮到" in r.json["message"]
    api.complete(seq["vp"]["id"], "vp", APPROVE)
    assert seq["mr"]["id"] in todo_ids(api, "mr")
    api.complete(seq["mr"]["id"], "mr", APPROVE)
    api.complete(seq["gm"]["id"], "gm", APPROVE)
    assert api.case(case_id)["status"] == "completed"


def test_one_rejection_in_a_countersign_rejects_the_step(api):
    case_id = vote_case(api)
    votes = rows(api, case_id, "all_sign")
    api.complete(votes["vp"]["id"], "vp", APPROVE)
    api.complete(votes["gm"]["id"], "gm", {"decision": "reject", "comment": "预算不足"})
    assert open_elements(api, case_id) == ["apply"]
    assert {t["assignee"]: t["state"] for t in api.case(case_id)["tasks"] if t["element_id"] == "all_sign"} == {
        "vp": "completed",
        "gm": "completed",
        "mr": "cancelled",
    }


def test_return_from_inside_a_countersign(api):
    case_id = vote_case(api)
    votes = rows(api, case_id, "all_sign")
    api.complete(votes["vp"]["id"], "vp", APPROVE)
    targets = api.get(f"/tasks/{votes['mr']['id']}/return-targets", "mr").json
    assert [t["element_id"] for t in targets] == ["apply"]
    r = api.post(f"/tasks/{votes['mr']['id']}/return", "mr", {"element_id": "apply", "comment": "审批人选错了"})
    assert r.status_code == 200, r.json
    assert open_elements(api, case_id) == ["apply"]
    assert rows(api, case_id, "all_sign")["gm"]["state"] == "cancelled"
    apply = api.open_task(case_id, "emp", "apply")
    assert api.get(f"/tasks/{apply['id']}", "emp").json["prefill"]["approvers"] == TEAM
    api.complete(apply["id"], "emp", {"subject": "采购服务器", "approvers": ["vp", "gm"]})
    assert set(rows(api, case_id, "all_sign")) >= {"vp", "gm"}
    assert {
        t["assignee"] for t in api.case(case_id)["tasks"] if t["element_id"] == "all_sign" and t["state"] == "open"
    } == {"vp", "gm"}


# --- 撤回 ---


def test_initiator_withdraws_while_nobody_has_acted(api):
    case_id, task = at_mr_review(api)
    assert "withdraw" in api.case(case_id, "emp")["actions"]
    assert api.post(f"/instances/{case_id}/withdraw", "mr", {}).status_code == 403
    r = api.post(f"/instances/{case_id}/withdraw", "emp", {"comment": "填错了责任部门"})
    assert r.status_code == 200, r.json
    assert open_elements(api, case_id) == ["apply"]
    assert task["id"] not in todo_ids(api, "mr")
    assert events(api, case_id, "withdrawn")[0]["comment"] == "填错了责任部门"
    r = api.post(f"/instances/{case_id}/withdraw", "emp", {})
    assert r.status_code == 409 and "你处" in r.json["message"]
    api.complete(api.open_task(case_id, "emp", "apply")["id"], "emp", APPLY)
    assert open_elements(api, case_id) == ["mr_review"]


def test_withdraw_refused_once_the_next_step_was_acted_on(api):
    case_id, task = at_mr_review(api)
    api.post(f"/tasks/{task['id']}/transfer", "mr", {"user": "vp"})
    r = api.post(f"/instances/{case_id}/withdraw", "emp", {})
    assert r.status_code == 409 and "管理者代表已处理下一步" in r.json["message"]
    assert "withdraw" not in api.case(case_id, "emp")["actions"]


# --- 抄送 / 催办 ---


def test_cc_lets_people_read_the_case(api):
    case_id, _ = at_mr_review(api)
    assert api.get(f"/instances/{case_id}", "fin_head").status_code == 403
    r = api.post(f"/instances/{case_id}/cc", "emp", {"users": ["fin_head", "hr_head", "fin_head"], "comment": "请知悉"})
    assert r.status_code == 200 and r.json["users"] == ["fin_head", "hr_head"]
    assert api.get(f"/instances/{case_id}", "fin_head").status_code == 200
    assert api.post(f"/instances/{case_id}/cc", "emp", {"users": ["fin_head"]}).json["users"] == []
    r = api.post(f"/instances/{case_id}/cc", "emp", {"users": ["ghost"]})
    assert r.status_code == 400 and "ghost" in r.json["errors"]["users"][0]
    assert api.post(f"/instances/{case_id}/cc", "sales", {"users": ["hr_head"]}).status_code == 403
    copied = events(api, case_id, "copied")
    assert len(copied) == 1 and copied[0]["data"]["users"] == ["fin_head", "hr_head"]


def test_urge_at_most_once_an_hour(api, clock):
    case_id, task = at_mr_review(api)
    r = api.post(f"/instances/{case_id}/urge", "emp", {"comment": "请尽快审核"})
    assert r.status_code == 200 and r.json["users"] == ["mr"]
    assert api.get(f"/tasks/{task['id']}", "mr").json["urged_at"] is not None
    r = api.post(f"/instances/{case_id}/urge", "emp", {})
    assert r.status_code == 429 and "一小时" in r.json["message"]
    assert api.post(f"/instances/{case_id}/urge", "qg_staff", {}).status_code == 200  # per person
    clock.advance(minutes=61)
    assert api.post(f"/instances/{case_id}/urge", "emp", {}).status_code == 200
    assert len(events(api, case_id, "urged")) == 3


# --- 批量同意 / 认领 ---


def test_bulk_approve_each_on_its_own(api):
    tasks = [at_mr_review(api)[1]["id"] for _ in range(3)]
    own = api.start("process_change", "mr")
    needs_form = api.open_task(own["id"], "mr", "apply")["id"]
    r = api.post("/tasks/bulk-complete", "mr", {"task_ids": tasks + [needs_form, "no-such-task"], "comment": "同意"})
    assert r.status_code == 200, r.json
    results = {x["task_id"]: x for x in r.json["results"]}
    assert all(results[t]["ok"] for t in tasks)
    assert not results[needs_form]["ok"] and "表单" in results[needs_form]["message"]
    assert not results["no-such-task"]["ok"]
    assert needs_form in todo_ids(api, "mr")
    for t in tasks:
        assert api.get(f"/tasks/{t}", "mr").json["state"] == "completed"


def test_claim_and_unclaim_a_group_task(api):
    case = api.start("process_change", "emp")
    api.walk(case["id"], [("apply", "emp", APPLY), ("mr_review", "mr", APPROVE)])
    task = api.open_task(case["id"], "qg_staff", "qg_review")
    assert "claim" in api.get(f"/tasks/{task['id']}", "qg_staff").json["actions"]
    assert task["id"] in todo_ids(api, "qg_head", "group")
    api.post(f"/tasks/{task['id']}/claim", "qg_staff")
    assert task["id"] not in todo_ids(api, "qg_head", "group")
    assert "unclaim" in api.get(f"/tasks/{task['id']}", "qg_staff").json["actions"]
    assert api.post(f"/tasks/{task['id']}/unclaim", "qg_staff").status_code == 200
    assert task["id"] in todo_ids(api, "qg_head", "group")
    assert [e["type"] for e in api.case(case["id"])["history"]][-2:] == ["task_claimed", "task_unclaimed"]


def test_withdraw_before_any_step_of_mine_ends_the_case(api):
    case = api.start("t_group", "emp")  # 企管部 handles it first; the initiator only confirms at the end
    handle = api.open_task(case["id"], "qg_staff", "handle")
    r = api.post(f"/instances/{case['id']}/withdraw", "emp", {"comment": "不需要了"})
    assert r.status_code == 200, r.json
    assert r.json["status"] == "withdrawn"
    assert api.get(f"/tasks/{handle['id']}", "qg_staff").json["state"] == "cancelled"
    assert handle["id"] not in todo_ids(api, "qg_staff")
    assert api.post(f"/instances/{case['id']}/urge", "emp", {}).status_code == 409
    assert api.post(f"/instances/{case['id']}/withdraw", "emp", {}).status_code == 409


def test_an_approver_never_starts_from_someone_elses_opinion(api):
    case_id, task = at_mr_review(api)
    api.complete(task["id"], "mr", {"decision": "approve", "comment": "同意变更，按期完成"})
    qg = api.open_task(case_id, "qg_staff", "qg_review")
    prefill = api.get(f"/tasks/{qg['id']}", "qg_staff").json["prefill"]
    assert "comment" not in prefill and "decision" not in prefill
    apply = api.get(f"/tasks/{task['id']}", "mr").json  # a done task shows no stale opinion either
    assert "comment" not in apply["prefill"]
