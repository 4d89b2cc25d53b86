"""IT服务交付 (seed 003 二、服务交付流程) walked through the API by the demo users.

服务台 ops_eng records a request of 销售经理 sales (市场营销部), tech_eng handles it, tech_head reviews for IT and
mkt_head for the business; the acceptance group is sales plus the people the handler names."""

RECORD = {
    "channel": "hotline",
    "requester": "sales",
    "requester_dept": "mkt",
    "requester_contact": "8001",
    "request_time": "2026-11-23T09:30:00",
    "request_title": "客户拜访记录系统",
    "request_description": "市场营销部需要记录客户拜访并统计",
    "urgency": "高",
}
ASSESS = {
    "request_category": "software",
    "priority": "P2",
    "impact_scope": "市场营销部",
    "assessment_result": "assign",
    "handling_team": "tech",
    "handler": "tech_eng",
}
REQUIREMENTS = {
    "req_background": "拜访记录分散在表格中",
    "req_objectives": "统一记录并统计",
    "functional_requirements": "录入、查询、月度统计",
    "performance_requirements": "查询 2 秒内",
    "interface_requirements": "对接客户主数据",
    "data_requirements": "迁移 2026 年记录",
    "communication_record": "11-24 与市场营销部讨论",
}
SOLUTION = {
    "technical_architecture": "B/S 架构",
    "implementation_steps": "开发、测试、上线",
    "resource_allocation": "2 名工程师",
    "time_plan": "4 周",
    "risk_measures": "数据迁移风险：先试迁移",
    "cost_estimate": 3,
}
IT_OK = {"it_feasibility": "可行", "it_cost_benefit": "合理", "decision": "approve", "comment": "同意"}
BIZ_OK = {"business_fit": "满足业务需要", "decision": "approve", "comment": "同意"}
PLAN = {
    "implementers": ["tech_eng", "ops_eng"],
    "work_items": [
        {"work_item": "开发", "owner": "tech_eng", "due_date": "2026-12-10"},
        {"work_item": "部署", "owner": "ops_eng", "due_date": "2026-12-15"},
    ],
    "milestones": "12-10 开发完成；12-15 上线",
    "quality_checkpoints": "开发完成后功能测试",
    "plan_finish": "2026-12-15",
}
WORK = {"work_report": {"work_done": "按计划完成", "progress_pct": 100}}
MEETING_DONE = {
    "meeting_date": "2026-12-15",
    "overall_progress": 100,
    "progress_summary": "全部完成",
    "impl_status": "complete",
}
PREPARE = {
    "acceptance_date": "2026-12-18",
    "acceptance_group": ["mkt_head", "ops_head"],
    "acceptance_documents": ["requirements", "solution", "test_report", "user_manual"],
    "test_report_summary": "功能测试全部通过",
    "acceptance_criteria": "满足需求说明书",
}
PASS = {"acceptance": {"methods": ["demo", "function_test"], "decision": "approve"}}
REPORT = {
    "report_date": "2026-12-18",
    "acceptance_scope": "全部功能",
    "acceptance_methods": ["demo", "trial"],
    "acceptance_conclusion": "符合要求，予以通过验收",
}
TRAIN = {"training_date": "2026-12-20", "trainees": ["sales", "mkt_head"], "training_content": ["manual", "faq"]}
SUPPORT = {
    "support_team": ["ops_eng"],
    "fault_response": "7×24 值班电话 8000",
    "maintenance_cycle": "monthly",
    "maintenance_plan": "每月检查备份与日志",
}
FEEDBACK = {"satisfaction": "satisfied", "feedback": "好用"}
CLOSE = {"closed_date": "2026-12-22", "closure_summary": "已交付并培训"}
ACCEPTORS = ["mkt_head", "ops_head", "sales"]


def open_tasks(api, case_id, element_id):
    return [t for t in api.case(case_id)["tasks"] if t["state"] == "open" and t["element_id"] == element_id]


def task_for(api, case_id, user, element_id):
    mine = [t for t in open_tasks(api, case_id, element_id) if user in t["candidate_users"]]
    assert mine, f"{user} has no open {element_id}: {api.case(case_id)['tasks']}"
    return mine[0]


def each(api, case_id, element_id, data_of):
    """Complete every instance of a multi-instance task, each by its one candidate."""
    tasks = open_tasks(api, case_id, element_id)
    for t in tasks:
        assert len(t["candidate_users"]) == 1, t
        user = t["candidate_users"][0]
        api.complete(t["id"], user, data_of(user))
    return sorted(t["candidate_users"][0] for t in tasks)


def history(api, case_id, type_):
    return [e for e in api.case(case_id)["history"] if e["type"] == type_]


def start(api):
    case = api.start("service_delivery", "ops_eng")
    assert case["status"] == "running", case["error"]
    return case["id"]


def to_design(api, case_id):
    api.walk(
        case_id,
        [
            ("record_request", "ops_eng", RECORD),
            ("assess_request", "ops_eng", ASSESS),
            ("analyse_requirements", "tech_eng", REQUIREMENTS),
            ("confirm_requirements", "sales", {"decision": "approve"}),
            ("design_solution", "tech_eng", SOLUTION),
        ],
    )


def to_acceptance(api, case_id):
    to_design(api, case_id)
    api.walk(
        case_id,
        [
            ("it_review", "tech_head", IT_OK),
            ("business_review", "mkt_head", BIZ_OK),
            ("plan_implementation", "tech_eng", PLAN),
        ],
    )
    assert each(api, case_id, "implement_work", lambda u: WORK) == ["ops_eng", "tech_eng"]
    api.walk(case_id, [("progress_meeting", "tech_eng", MEETING_DONE), ("prepare_acceptance", "tech_eng", PREPARE)])


def test_happy_path_from_request_to_closure(api):
    case_id = start(api)
    to_acceptance(api, case_id)
    # The acceptance group (the requester added to the people named) was told to prepare, then each signs.
    notice = history(api, case_id, "notified")[-1]
    assert sorted(notice["data"]["to"]) == ACCEPTORS and notice["data"]["kind"] == "reminder"
    assert "验收准备" in notice["comment"]
    assert each(api, case_id, "accept", lambda u: PASS) == ACCEPTORS
    api.walk(
        case_id,
        [
            ("acceptance_report", "sales", REPORT),
            ("train_users", "tech_eng", TRAIN),
            ("support_handover", "tech_eng", SUPPORT),
            ("satisfaction", "sales", FEEDBACK),
            ("close_request", "ops_eng", CLOSE),
        ],
    )
    done = api.case(case_id)
    assert done["status"] == "completed", done["error"]
    steps = api.completions(case_id)
    assert steps[:5] == [
        ("record_request", "ops_eng", None),
        ("assess_request", "ops_eng", None),
        ("analyse_requirements", "tech_eng", None),
        ("confirm_requirements", "sales", "approve"),
        ("design_solution", "tech_eng", None),
    ]
    assert sorted(steps[5:7]) == [("business_review", "mkt_head", "approve"), ("it_review", "tech_head", "approve")]
    assert steps[7] == ("plan_implementation", "tech_eng", None)
    assert sorted(s[1] for s in steps[8:10]) == ["ops_eng", "tech_eng"] and {s[0] for s in steps[8:10]} == {
        "implement_work"
    }
    assert steps[10:12] == [("progress_meeting", "tech_eng", None), ("prepare_acceptance", "tech_eng", None)]
    assert sorted(s[1] for s in steps[12:15]) == ACCEPTORS
    assert steps[15:] == [
        ("acceptance_report", "sales", None),
        ("train_users", "tech_eng", None),
        ("support_handover", "tech_eng", None),
        ("satisfaction", "sales", None),
        ("close_request", "ops_eng", None),
    ]
    data = done["data"]
    assert data["solution_reviews"] == {
        "it": {"decision": "approve", "comment": "同意"},
        "business": {"decision": "approve", "comment": "同意"},
    }
    assert [r["work_done"] for r in data["work_reports"]] == ["按计划完成", "按计划完成"]
    assert [a["decision"] for a in data["acceptance_results"]] == ["approve"] * 3
    assert data["acceptance_conclusion"] == "符合要求，予以通过验收"
    # The request record is kept as submitted.
    record = next(e for e in done["history"] if e["element_id"] == "record_request" and e["type"] == "task_completed")
    assert record["data"]["urgency"] == "高" and record["data"]["requester"] == "sales"


def test_steps_are_offered_to_the_right_people(api):
    case_id = start(api)
    assert task_for(api, case_id, "ops_eng", "record_request")["candidate_users"] == ["ops_eng"]
    api.walk(case_id, [("record_request", "ops_eng", RECORD), ("assess_request", "ops_eng", ASSESS)])
    assert open_tasks(api, case_id, "analyse_requirements")[0]["candidate_users"] == ["tech_eng"]
    api.walk(case_id, [("analyse_requirements", "tech_eng", REQUIREMENTS)])
    assert open_tasks(api, case_id, "confirm_requirements")[0]["candidate_users"] == ["sales"]
    api.walk(
        case_id, [("confirm_requirements", "sales", {"decision": "approve"}), ("design_solution", "tech_eng", SOLUTION)]
    )
    # Both reviews are open at once: IT (it_head) and the requester's department head.
    assert open_tasks(api, case_id, "it_review")[0]["candidate_users"] == ["tech_head"]
    review = open_tasks(api, case_id, "business_review")[0]
    assert review["candidate_users"] == ["mkt_head"]
    r = api.post(f"/tasks/{review['id']}/complete", "tech_head", {"data": BIZ_OK})
    assert r.status_code == 403


def test_only_the_service_desk_records_requests(api):
    r = api.post("/processes/service_delivery/instances", "emp", {"data": {}})
    assert r.status_code == 403 and "service_desk" in r.json["message"]
    assert api.start("service_delivery", "tech_eng2")["status"] == "running"  # the other service desk holder


def test_incomplete_request_goes_back_to_the_requester_then_is_reassessed(api):
    case_id = start(api)
    api.walk(
        case_id,
        [
            ("record_request", "ops_eng", RECORD),
            (
                "assess_request",
                "ops_eng",
                {**ASSESS, "assessment_result": "need_info", "handler": None, "info_request": "请说明需要统计哪些指标"},
            ),
            ("supplement_info", "sales", {"supplement": "按客户、按月统计拜访次数"}),
            ("assess_request", "ops_eng", ASSESS),
            ("analyse_requirements", "tech_eng", REQUIREMENTS),
        ],
    )
    assert [s[:2] for s in api.completions(case_id)] == [
        ("record_request", "ops_eng"),
        ("assess_request", "ops_eng"),
        ("supplement_info", "sales"),
        ("assess_request", "ops_eng"),
        ("analyse_requirements", "tech_eng"),
    ]
    assert api.case(case_id)["data"]["supplement"] == "按客户、按月统计拜访次数"


def test_requirements_are_reworked_until_the_requester_confirms(api):
    case_id = start(api)
    api.walk(
        case_id,
        [
            ("record_request", "ops_eng", RECORD),
            ("assess_request", "ops_eng", ASSESS),
            ("analyse_requirements", "tech_eng", REQUIREMENTS),
        ],
    )
    confirm = task_for(api, case_id, "sales", "confirm_requirements")
    r = api.post(f"/tasks/{confirm['id']}/complete", "sales", {"data": {"decision": "reject"}})
    assert r.status_code == 400 and "comment" in r.json["errors"]
    api.complete(confirm["id"], "sales", {"decision": "reject", "comment": "缺少按区域统计"})
    api.walk(
        case_id,
        [
            (
                "analyse_requirements",
                "tech_eng",
                {**REQUIREMENTS, "functional_requirements": "录入、查询、按区域/月统计"},
            ),
            ("confirm_requirements", "sales", {"decision": "approve"}),
        ],
    )
    assert open_tasks(api, case_id, "design_solution")[0]["candidate_users"] == ["tech_eng"]
    assert [s for s in api.completions(case_id) if s[0] in ("analyse_requirements", "confirm_requirements")] == [
        ("analyse_requirements", "tech_eng", None),
        ("confirm_requirements", "sales", "reject"),
        ("analyse_requirements", "tech_eng", None),
        ("confirm_requirements", "sales", "approve"),
    ]


def test_solution_is_revised_until_both_it_and_business_approve(api):
    case_id = start(api)
    to_design(api, case_id)
    # Round 1: the business asks for changes, IT agrees; both opinions are collected, then the design is revised.
    api.walk(
        case_id,
        [
            (
                "business_review",
                "mkt_head",
                {"business_fit": "缺少移动端", "decision": "reject", "comment": "需要支持手机录入"},
            )
        ],
    )
    assert open_tasks(api, case_id, "design_solution") == []  # waits for IT's opinion too
    api.walk(case_id, [("it_review", "tech_head", IT_OK)])
    assert api.case(case_id)["data"]["solution_reviews"]["business"] == {
        "decision": "reject",
        "comment": "需要支持手机录入",
    }
    # Round 2: IT asks for changes this time (and signs last), the business agrees.
    api.walk(
        case_id,
        [
            ("design_solution", "tech_eng", {**SOLUTION, "revision_note": "增加移动端"}),
            ("business_review", "mkt_head", BIZ_OK),
            (
                "it_review",
                "tech_head",
                {"it_feasibility": "移动端需安全评估", "decision": "reject", "comment": "补充移动端安全方案"},
            ),
        ],
    )
    # Round 3: both agree, in either order → implementation planning.
    api.walk(
        case_id,
        [
            ("design_solution", "tech_eng", {**SOLUTION, "revision_note": "增加移动端安全方案"}),
            ("it_review", "tech_head", IT_OK),
            ("business_review", "mkt_head", BIZ_OK),
        ],
    )
    assert open_tasks(api, case_id, "plan_implementation")[0]["candidate_users"] == ["tech_eng"]
    design_and_reviews = [
        s for s in api.completions(case_id) if s[0] in ("design_solution", "it_review", "business_review")
    ]
    assert design_and_reviews == [
        ("design_solution", "tech_eng", None),
        ("business_review", "mkt_head", "reject"),
        ("it_review", "tech_head", "approve"),
        ("design_solution", "tech_eng", None),
        ("business_review", "mkt_head", "approve"),
        ("it_review", "tech_head", "reject"),
        ("design_solution", "tech_eng", None),
        ("it_review", "tech_head", "approve"),
        ("business_review", "mkt_head", "approve"),
    ]


def test_implementation_reports_in_rounds_with_replanning_and_a_weekly_reminder(api, clock):
    case_id = start(api)
    to_design(api, case_id)
    api.walk(
        case_id,
        [
            ("it_review", "tech_head", IT_OK),
            ("business_review", "mkt_head", BIZ_OK),
            ("plan_implementation", "tech_eng", PLAN),
        ],
    )
    # Seven days without a report: the implementers still working are reminded.
    api.complete(
        task_for(api, case_id, "tech_eng", "implement_work")["id"],
        "tech_eng",
        {"work_report": {"work_done": "开发 50%", "progress_pct": 50}},
    )
    clock.advance(days=7, minutes=1)
    reminder = [e for e in history(api, case_id, "notified") if e["data"]["kind"] == "reminder"]
    assert len(reminder) == 1 and reminder[0]["data"]["to"] == ["ops_eng"]
    api.complete(
        task_for(api, case_id, "ops_eng", "implement_work")["id"],
        "ops_eng",
        {"work_report": {"work_done": "环境准备", "progress_pct": 30}},
    )
    # Progress meeting: continue → a new round of reports from the same people.
    api.walk(
        case_id, [("progress_meeting", "tech_eng", {**MEETING_DONE, "overall_progress": 40, "impl_status": "continue"})]
    )
    assert sorted(t["candidate_users"][0] for t in open_tasks(api, case_id, "implement_work")) == [
        "ops_eng",
        "tech_eng",
    ]
    each(api, case_id, "implement_work", lambda u: WORK)
    # Requirement change → re-plan with another team, then finish.
    api.walk(
        case_id,
        [
            (
                "progress_meeting",
                "tech_eng",
                {**MEETING_DONE, "overall_progress": 80, "requirement_changes": "增加导出", "impl_status": "replan"},
            ),
            ("plan_implementation", "tech_eng", {**PLAN, "implementers": ["tech_eng2"]}),
        ],
    )
    assert [t["candidate_users"] for t in open_tasks(api, case_id, "implement_work")] == [["tech_eng2"]]
    each(api, case_id, "implement_work", lambda u: WORK)
    assert api.case(case_id)["data"]["work_reports"] == [WORK["work_report"]]  # this round's reports only
    api.walk(case_id, [("progress_meeting", "tech_eng", MEETING_DONE)])
    assert open_tasks(api, case_id, "prepare_acceptance")[0]["candidate_users"] == ["tech_eng"]
    meetings = [s for s in api.completions(case_id) if s[0] in ("progress_meeting", "plan_implementation")]
    assert [s[0] for s in meetings] == [
        "plan_implementation",
        "progress_meeting",
        "progress_meeting",
        "plan_implementation",
        "progress_meeting",
    ]


def test_failed_acceptance_is_rectified_by_the_deadline_and_accepted_again(api, clock):
    case_id = start(api)
    to_acceptance(api, case_id)
    fail = {
        "acceptance": {
            "methods": ["trial"],
            "decision": "reject",
            "comment": "统计结果不对",
            "issues": "月度统计漏算跨月拜访",
            "rectify_deadline": "2026-11-30",
        }
    }
    each(api, case_id, "accept", lambda u: fail if u == "sales" else PASS)
    body = api.case(case_id)
    assert body["data"]["acceptance_issues"] == ["月度统计漏算跨月拜访"]
    assert body["data"]["rectify_due"] == "2026-11-30"
    assert open_tasks(api, case_id, "rectify")[0]["candidate_users"] == ["tech_eng"]
    # A reminder the day before the deadline, an escalation to the IT head once it has passed.
    clock.advance(days=5, hours=23)  # 2026-11-29 08:00
    assert history(api, case_id, "notified")[-1]["data"]["kind"] == "reminder"  # only the acceptance notice so far
    assert len(history(api, case_id, "notified")) == 1
    clock.advance(hours=2)  # 2026-11-29 10:00
    notes = history(api, case_id, "notified")
    assert notes[-1]["data"] == {"to": ["tech_eng"], "kind": "reminder"} and "2026-11-30" in notes[-1]["comment"]
    clock.advance(days=1, hours=9)  # 2026-11-30 19:00
    notes = history(api, case_id, "notified")
    assert notes[-1]["data"] == {"to": ["tech_head"], "kind": "escalation"}
    assert open_tasks(api, case_id, "rectify")  # still to be done: escalation does not cancel it
    api.walk(
        case_id,
        [
            (
                "rectify",
                "tech_eng",
                {"rectify_measures": "修正统计口径", "rectify_result": "已修正", "retest_result": "复测通过"},
            )
        ],
    )
    # The same group accepts again, with fresh tasks; all pass now.
    assert sorted(t["candidate_users"][0] for t in open_tasks(api, case_id, "accept")) == ACCEPTORS
    assert len([e for e in history(api, case_id, "notified") if "验收准备" in e["comment"]]) == 2
    each(api, case_id, "accept", lambda u: PASS)
    assert open_tasks(api, case_id, "acceptance_report")[0]["candidate_users"] == ["sales"]
    body = api.case(case_id)
    assert [a["decision"] for a in body["data"]["acceptance_results"]] == ["approve"] * 3
    accepts = [s for s in api.completions(case_id) if s[0] in ("accept", "rectify")]
    assert [s[0] for s in accepts] == ["accept"] * 3 + ["rectify"] + ["accept"] * 3
    rejected = [
        e
        for e in body["history"]
        if e["type"] == "task_completed"
        and e["element_id"] == "accept"
        and e["data"]["acceptance"]["decision"] == "reject"
    ]
    assert [e["actor"] for e in rejected] == ["sales"]


def test_rejecting_acceptor_must_give_a_reason(api):
    case_id = start(api)
    to_acceptance(api, case_id)
    task = task_for(api, case_id, "ops_head", "accept")
    r = api.post(
        f"/tasks/{task['id']}/complete",
        "ops_head",
        {"data": {"acceptance": {"methods": ["demo"], "decision": "reject"}}},
    )
    assert r.status_code == 400


def test_the_handler_cannot_sit_on_the_acceptance_group(api):
    case_id = start(api)
    to_design(api, case_id)
    api.walk(
        case_id,
        [
            ("it_review", "tech_head", IT_OK),
            ("business_review", "mkt_head", BIZ_OK),
            ("plan_implementation", "tech_eng", PLAN),
        ],
    )
    each(api, case_id, "implement_work", lambda u: WORK)
    api.walk(case_id, [("progress_meeting", "tech_eng", MEETING_DONE)])
    task = task_for(api, case_id, "tech_eng", "prepare_acceptance")
    r = api.post(
        f"/tasks/{task['id']}/complete", "tech_eng", {"data": {**PREPARE, "acceptance_group": ["tech_eng", "mkt_head"]}}
    )
    assert r.status_code == 400 and "职责分离" in r.json["message"]
    assert task_for(api, case_id, "tech_eng", "prepare_acceptance")["id"] == task["id"]  # still open
    api.complete(task["id"], "tech_eng", PREPARE)
    assert sorted(t["candidate_users"][0] for t in open_tasks(api, case_id, "accept")) == ACCEPTORS
