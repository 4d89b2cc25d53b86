"""制度流程实地抽查 (seed 000 第八条2, 第九条, 第十一条): 总经理 forms the check team; the team checks on site;
violations are registered and each starts a 内部整改; a serious one is reported in writing to 总经理 the same day;
widespread violations get a 整改计划 and a follow-up within one week."""

TEAM = {
    "team": ["qg_staff", "tech_eng"],
    "team_leader": "qg_staff",
    "departments": ["ops", "impl"],
    "check_date": "2026-11-23",
    "check_focus": "事件管理与变更管理的执行",
}
SERIOUS = {
    "department": "ops",
    "violation": "擅自在生产环境执行未审批变更",
    "employee": "运维工程师",
    "severity": "serious",
}
GENERAL = {"department": "impl", "violation": "发布记录不完整", "employee": "实施工程师", "severity": "general"}
METHODS = ["inquiry", "documents", "head_interview", "observation", "staff_interview"]
CHECK = {
    "methods": METHODS,
    "check_record": "抽查运维部、实施部",
    "findings": [SERIOUS, GENERAL],
    "widespread": True,
    "widespread_desc": "多个部门变更记录不全",
}
CLEAN = {"methods": ["documents"], "check_record": "抽查运维部，未发现违规", "findings": [], "widespread": False}
PENALTIES = {
    "penalties": [
        {
            "employee": "运维工程师",
            "department": "ops",
            "violation": SERIOUS["violation"],
            "measure": "penalty",
            "detail": "通报批评并扣绩效",
        },
        {"employee": "实施工程师", "department": "impl", "violation": GENERAL["violation"], "measure": "criticism"},
    ]
}
WRITTEN = {
    "written_report": {"reported_at": "2026-11-23T11:00:00", "facts": "擅自执行变更", "handling": "停岗培训一周"}
}
PLAN = {"plan_departments": ["ops", "impl"], "plan_content": "补齐变更记录", "plan_deadline": "2026-11-30"}
FOLLOW_UP = {
    "inquiry_date": "2026-11-27",
    "inquiry_record": "各部门已补齐",
    "communication": "已与部门负责人沟通",
    "implemented": "done",
}


def notes(api, case_id):
    return [
        (sorted(e["data"]["to"]), e["data"]["kind"]) for e in api.case(case_id)["history"] if e["type"] == "notified"
    ]


def started_check(api, check):
    case = api.start("process_spotcheck", "qg_staff")
    api.walk(case["id"], [("form_team", "gm", TEAM), ("field_check", "tech_eng", check)])
    return case


def test_only_gm_or_qg_start_a_spot_check(api):
    r = api.post("/processes/process_spotcheck/instances", "ops_head", {"data": {}})
    assert r.status_code == 403


def test_gm_forms_the_team_and_only_its_members_check(api, clock):
    case = api.start("process_spotcheck", "gm")
    assert [(t["element_id"], t["candidate_users"]) for t in case["tasks"]] == [("form_team", ["gm"])]
    api.walk(case["id"], [("form_team", "gm", TEAM)])
    task = api.open_task(case["id"], "qg_staff", "field_check")
    assert task["candidate_users"] == ["qg_staff", "tech_eng"]
    assert api.post(f"/tasks/{task['id']}/complete", "ops_head", {"data": CLEAN}).status_code == 403
    r = api.post(f"/tasks/{task['id']}/complete", "tech_eng", {"data": {**CLEAN, "methods": ["guessing"]}})
    assert r.status_code == 400 and "methods" in r.json["errors"]  # only the five methods of 第八条2


def test_violations_are_registered_reported_rectified_and_followed_up(api, clock):
    case = started_check(api, CHECK)
    body = api.case(case["id"])
    assert body["data"]["spotcheck_no"].startswith("CC-2026-")
    opened = sorted((t["element_id"], tuple(t["candidate_users"])) for t in body["tasks"] if t["state"] == "open")
    assert opened == [
        ("issue_plan", ("qg_staff", "tech_eng")),
        ("register_penalties", ("qg_staff", "tech_eng")),
        ("serious_report", ("ops_head",)),
    ]
    # Each department finding started a 内部整改 for that department, linked to this check.
    children = api.children(case["id"])
    assert sorted((c["data"]["department"], c["data"]["violation"]) for c in children) == [
        ("impl", GENERAL["violation"]),
        ("ops", SERIOUS["violation"]),
    ]
    for child in children:
        assert child["process_key"] == "rectification" and child["parent_instance_id"] == case["id"]
        assert child["data"]["source_no"] == body["data"]["spotcheck_no"]
    api.walk(
        case["id"],
        [
            ("register_penalties", "qg_staff", PENALTIES),
            ("serious_report", "ops_head", WRITTEN),
            ("gm_instruction", "gm", {"instruction": "严肃处理，全员通报"}),
            ("issue_plan", "qg_staff", PLAN),
            ("follow_up", "tech_eng", FOLLOW_UP),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert api.completions(case["id"]) == [
        ("form_team", "gm", None),
        ("field_check", "tech_eng", None),
        ("register_penalties", "qg_staff", None),
        ("serious_report", "ops_head", None),
        ("gm_instruction", "gm", None),
        ("issue_plan", "qg_staff", None),
        ("follow_up", "tech_eng", None),
    ]
    assert done["data"]["serious_reports"]["ops"]["handling"] == "停岗培训一周"
    record = next(e for e in done["history"] if e["element_id"] == "register_penalties")
    assert [p["measure"] for p in record["data"]["penalties"]] == ["penalty", "criticism"]  # 处罚登记


def test_nothing_found_ends_the_check(api, clock):
    case = started_check(api, CLEAN)
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert api.children(case["id"]) == []
    assert [c[0] for c in api.completions(case["id"])] == ["form_team", "field_check"]


def test_widespread_violations_without_named_culprits_only_get_a_plan_and_follow_up(api, clock):
    case = started_check(api, {**CLEAN, "widespread": True, "widespread_desc": "普遍未按时填写记录"})
    assert [t["element_id"] for t in api.case(case["id"])["tasks"] if t["state"] == "open"] == ["issue_plan"]
    api.walk(case["id"], [("issue_plan", "tech_eng", PLAN), ("follow_up", "qg_staff", FOLLOW_UP)])
    assert api.case(case["id"])["status"] == "completed"
    assert api.children(case["id"]) == []


def test_a_serious_violation_must_be_reported_to_gm_the_same_day(api, clock):
    case = started_check(api, {**CHECK, "findings": [SERIOUS], "widespread": False})
    clock.advance(hours=6)  # 15:00
    assert notes(api, case["id"]) == []
    clock.advance(hours=1, minutes=1)  # 16:01: the department head is reminded
    (reminder,) = notes(api, case["id"])  # (with the others this case waits on: the team)
    assert reminder == (["ops_head", "qg_staff", "tech_eng"], "reminder")
    clock.advance(hours=8)  # past midnight: 总经理 is told it was not reported
    assert notes(api, case["id"])[1:] == [(["gm"], "escalation")]
    api.walk(case["id"], [("serious_report", "ops_head", WRITTEN)])  # still possible, now late


def test_follow_up_is_due_within_a_week_of_the_check(api, clock):
    case = started_check(api, {**CLEAN, "widespread": True})
    api.walk(case["id"], [("issue_plan", "qg_staff", PLAN)])
    clock.advance(days=4)
    assert notes(api, case["id"]) == []
    clock.advance(days=1, minutes=1)  # day 5: the team is reminded
    assert notes(api, case["id"]) == [(["qg_staff", "tech_eng"], "reminder")]
    clock.advance(days=2, hours=9)  # a week after, 18:00 passed: 总经理 is told
    assert notes(api, case["id"])[1:] == [(["gm"], "escalation")]
    assert api.open_task(case["id"], "tech_eng", "follow_up")["state"] == "open"
