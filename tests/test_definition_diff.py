"""The element diff a reviewer of a 流程新增/变更审批 case reads: what the draft adds, removes, changes."""

from __future__ import annotations

from lxml import etree

from engine.config import PROJECT_ROOT
from engine.definitions.diff import diff_definitions

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN}

# A small leave procedure: start → number → apply → review → gw → end (default) / back to apply.
LEAVE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="leave_defs" targetNamespace="http://test">
  <bpmn:process id="leave" name="请假" isExecutable="true">
    <bpmn:documentation>员工请假，部门负责人审批。</bpmn:documentation>
    <bpmn:extensionElements>
      <spiffworkflow:properties>
        <spiffworkflow:property name="ownerRole" value="hr"/>
      </spiffworkflow:properties>
    </bpmn:extensionElements>
    <bpmn:laneSet id="ls">
      <bpmn:lane id="lane_emp" name="initiator">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>number</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>apply</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_head" name="dept_head">
        <bpmn:flowNodeRef>review</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>gw</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="提出请假"><bpmn:outgoing>f_start</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="number" name="编号">
      <bpmn:incoming>f_start</bpmn:incoming><bpmn:outgoing>f_number</bpmn:outgoing>
      <bpmn:script>if True:
    leave_no = "QJ-1"</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="apply" name="填写请假单">
      <bpmn:extensionElements>
        <spiffworkflow:properties><spiffworkflow:property name="formKey" value="leave_apply"/></spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f_number</bpmn:incoming><bpmn:incoming>f_back</bpmn:incoming>
      <bpmn:outgoing>f_apply</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:userTask id="review" name="部门负责人审批">
      <bpmn:extensionElements>
        <spiffworkflow:properties><spiffworkflow:property name="formKey" value="leave_review"/></spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f_apply</bpmn:incoming><bpmn:outgoing>f_review</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="gw" default="f_ok">
      <bpmn:incoming>f_review</bpmn:incoming><bpmn:outgoing>f_ok</bpmn:outgoing><bpmn:outgoing>f_back</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="end" name="请假已批准"><bpmn:incoming>f_ok</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="number"/>
    <bpmn:sequenceFlow id="f_number" sourceRef="number" targetRef="apply"/>
    <bpmn:sequenceFlow id="f_apply" name="提交" sourceRef="apply" targetRef="review"/>
    <bpmn:sequenceFlow id="f_review" sourceRef="review" targetRef="gw"/>
    <bpmn:sequenceFlow id="f_ok" name="同意" sourceRef="gw" targetRef="end"/>
    <bpmn:sequenceFlow id="f_back" name="退回" sourceRef="gw" targetRef="apply">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">decision == "reject"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="di">
    <bpmndi:BPMNPlane id="plane" bpmnElement="leave">
      <bpmndi:BPMNShape id="review_di" bpmnElement="review"><dc:Bounds x="400" y="80" width="100" height="80"/></bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""

FORMS = {
    "leave_apply": {
        "id": "leave_apply",
        "type": "default",
        "components": [
            {"id": "title", "type": "text", "text": "## 请假申请"},
            {
                "id": "kind",
                "type": "select",
                "key": "kind",
                "label": "请假类型",
                "values": [{"label": "事假", "value": "personal"}, {"label": "病假", "value": "sick"}],
            },
            {"id": "days", "type": "number", "key": "days", "label": "天数", "validate": {"required": True}},
            {"id": "note", "type": "textarea", "key": "note", "label": "备注"},
        ],
    },
    "leave_review": {
        "id": "leave_review",
        "type": "default",
        "components": [
            {
                "id": "decision",
                "type": "radio",
                "key": "decision",
                "label": "审批意见",
                "values": [{"label": "同意", "value": "approve"}, {"label": "退回", "value": "reject"}],
            },
        ],
    },
}

NO_FORM_CHANGES = {"added": [], "removed": [], "changed": []}


def edit(xml: str, change) -> str:
    """The diagram after `change(root, by_id)` — how a modeler would save it."""
    root = etree.fromstring(xml.encode("utf-8"))

    def by_id(element_id):
        return root.xpath(f"//*[@id='{element_id}']")[0]

    change(root, by_id)
    return etree.tostring(root, encoding="unicode")


def bpmn(tag: str):
    return f"{{{BPMN}}}{tag}"


def test_adding_a_user_task_lists_it_and_its_flows_and_the_flow_it_was_inserted_into():
    def add_check(root, by_id):
        process = by_id("leave")
        by_id("f_ok").set("targetRef", "hr_check")
        task = etree.SubElement(process, bpmn("userTask"), id="hr_check", name="人力资源部复核", default="f_check_end")
        etree.SubElement(by_id("lane_head"), bpmn("flowNodeRef")).text = "hr_check"
        process.insert(process.index(by_id("end")), task)
        etree.SubElement(process, bpmn("sequenceFlow"), id="f_check_end", sourceRef="hr_check", targetRef="end")
        back = etree.SubElement(
            process, bpmn("sequenceFlow"), id="f_check_back", sourceRef="hr_check", targetRef="apply"
        )
        etree.SubElement(back, bpmn("conditionExpression")).text = 'hr_decision == "reject"'

    result = diff_definitions(LEAVE, FORMS, edit(LEAVE, add_check), FORMS)
    assert result["added"] == [
        {"id": "hr_check", "type": "userTask", "name": "人力资源部复核"},
        {"id": "f_check_end", "type": "sequenceFlow", "name": None},
        {"id": "f_check_back", "type": "sequenceFlow", "name": None},
    ]
    assert result["removed"] == []
    assert result["changed"] == [
        {
            "id": "f_ok",
            "type": "sequenceFlow",
            "name": "同意",
            "changes": [{"field": "flow", "label": "连线", "old": "gw → 请假已批准", "new": "gw → 人力资源部复核"}],
        }
    ]
    assert result["forms"] == NO_FORM_CHANGES
    assert result["summary"] == "新增 3 个元素，删除 0 个，修改 1 个"


def test_removing_a_step_lists_it_and_its_flow_in_the_old_order():
    def drop_number(root, by_id):
        for element_id in ("number", "f_number"):
            node = by_id(element_id)
            node.getparent().remove(node)
        ref = by_id("lane_emp").xpath("./bpmn:flowNodeRef[text()='number']", namespaces=NS)[0]
        ref.getparent().remove(ref)
        by_id("f_start").set("targetRef", "apply")

    result = diff_definitions(LEAVE, FORMS, edit(LEAVE, drop_number), FORMS)
    assert result["added"] == []
    assert result["removed"] == [
        {"id": "number", "type": "scriptTask", "name": "编号"},
        {"id": "f_number", "type": "sequenceFlow", "name": None},
    ]
    assert result["changed"] == [
        {
            "id": "f_start",
            "type": "sequenceFlow",
            "name": None,
            "changes": [{"field": "flow", "label": "连线", "old": "提出请假 → 编号", "new": "提出请假 → 填写请假单"}],
        }
    ]
    assert result["summary"] == "新增 0 个元素，删除 2 个，修改 1 个"


def test_each_kind_of_change_is_listed_with_its_chinese_label():
    def rework(root, by_id):
        by_id("review").set("name", "部门经理审批")
        properties = by_id("review").xpath(".//*[local-name()='properties']")[0]
        properties[0].set("value", "leave_review_v2")
        etree.SubElement(properties, properties[0].tag, name="approvalMode", value="all")
        etree.SubElement(properties, properties[0].tag, name="dueIn", value="P2D")
        by_id("f_back").xpath("./bpmn:conditionExpression", namespaces=NS)[0].text = 'decision in ("reject", "revise")'
        by_id("number").xpath("./bpmn:script", namespaces=NS)[0].text = 'if True:\n    leave_no = "QJ-2"'
        by_id("leave").xpath("./bpmn:documentation", namespaces=NS)[0].text = "员工请假，部门经理审批。"
        # gw moves from the department head's lane to the initiator's
        head, emp = by_id("lane_head"), by_id("lane_emp")
        ref = head.xpath("./bpmn:flowNodeRef[text()='gw']", namespaces=NS)[0]
        head.remove(ref)
        emp.append(ref)
        by_id("gw").set("default", "f_back")

    result = diff_definitions(LEAVE, FORMS, edit(LEAVE, rework), FORMS)
    assert result["added"] == [] and result["removed"] == []
    assert result["changed"] == [
        {
            "id": "leave",
            "type": "process",
            "name": "请假",
            "changes": [
                {
                    "field": "documentation",
                    "label": "说明",
                    "old": "员工请假，部门负责人审批。",
                    "new": "员工请假，部门经理审批。",
                }
            ],
        },
        {
            "id": "number",
            "type": "scriptTask",
            "name": "编号",
            "changes": [
                {
                    "field": "script",
                    "label": "脚本",
                    "old": 'if True:\n    leave_no = "QJ-1"',
                    "new": 'if True:\n    leave_no = "QJ-2"',
                }
            ],
        },
        {
            "id": "review",
            "type": "userTask",
            "name": "部门经理审批",
            "changes": [
                {"field": "name", "label": "名称", "old": "部门负责人审批", "new": "部门经理审批"},
                {"field": "formKey", "label": "表单", "old": "leave_review", "new": "leave_review_v2"},
                {"field": "approvalMode", "label": "审批方式", "old": None, "new": "all"},
                {"field": "dueIn", "label": "办理时限", "old": None, "new": "P2D"},
            ],
        },
        {
            "id": "gw",
            "type": "exclusiveGateway",
            "name": None,
            "changes": [
                {"field": "lane", "label": "泳道", "old": "dept_head", "new": "initiator"},
                {"field": "default", "label": "默认路径", "old": "同意", "new": "退回"},
            ],
        },
        {
            "id": "f_back",
            "type": "sequenceFlow",
            "name": "退回",
            "changes": [
                {
                    "field": "condition",
                    "label": "条件",
                    "old": 'decision == "reject"',
                    "new": 'decision in ("reject", "revise")',
                }
            ],
        },
    ]
    assert result["summary"] == "新增 0 个元素，删除 0 个，修改 5 个"


def test_a_lane_changing_its_role_is_one_change_not_one_per_step_in_it():
    changed = diff_definitions(LEAVE, FORMS, LEAVE.replace('name="dept_head"', 'name="dept_head@department"'), FORMS)[
        "changed"
    ]
    assert changed == [
        {
            "id": "lane_head",
            "type": "lane",
            "name": "dept_head@department",
            "changes": [{"field": "name", "label": "角色", "old": "dept_head", "new": "dept_head@department"}],
        }
    ]


def test_changing_the_element_type_and_unknown_properties():
    def to_manual(root, by_id):
        by_id("apply").tag = bpmn("manualTask")
        properties = by_id("leave").xpath(".//*[local-name()='properties']")[0]
        etree.SubElement(properties, properties[0].tag, name="retention", value="3年")

    changed = diff_definitions(LEAVE, FORMS, edit(LEAVE, to_manual), FORMS)["changed"]
    assert changed == [
        {
            "id": "leave",
            "type": "process",
            "name": "请假",
            "changes": [{"field": "retention", "label": "retention", "old": None, "new": "3年"}],
        },
        {
            "id": "apply",
            "type": "manualTask",
            "name": "填写请假单",
            "changes": [{"field": "type", "label": "类型", "old": "userTask", "new": "manualTask"}],
        },
    ]


def test_moving_shapes_and_reformatting_text_is_no_change():
    moved = (
        LEAVE.replace('<dc:Bounds x="400" y="80"', '<dc:Bounds x="620" y="240"')
        .replace("员工请假，部门负责人审批。", "\n      员工请假，部门负责人审批。\n    ")
        .replace(
            '<bpmn:script>if True:\n    leave_no = "QJ-1"</bpmn:script>',
            '<bpmn:script>\n        if True:\n            leave_no = "QJ-1"   \n      </bpmn:script>',
        )
    )
    assert moved != LEAVE
    assert diff_definitions(LEAVE, FORMS, moved, FORMS) == {
        "added": [],
        "removed": [],
        "changed": [],
        "forms": NO_FORM_CHANGES,
        "summary": "新增 0 个元素，删除 0 个，修改 0 个",
    }


def test_reindenting_a_script_line_is_a_change():
    indented = LEAVE.replace('    leave_no = "QJ-1"', '  leave_no = "QJ-1"')
    changes = diff_definitions(LEAVE, FORMS, indented, FORMS)["changed"]
    assert [(c["id"], [x["field"] for x in c["changes"]]) for c in changes] == [("number", ["script"])]


def test_a_new_procedure_is_all_added():
    result = diff_definitions(None, None, LEAVE, FORMS)
    assert [(e["id"], e["type"]) for e in result["added"]] == [
        ("leave", "process"),
        ("lane_emp", "lane"),
        ("lane_head", "lane"),
        ("start", "startEvent"),
        ("number", "scriptTask"),
        ("apply", "userTask"),
        ("review", "userTask"),
        ("gw", "exclusiveGateway"),
        ("end", "endEvent"),
        ("f_start", "sequenceFlow"),
        ("f_number", "sequenceFlow"),
        ("f_apply", "sequenceFlow"),
        ("f_review", "sequenceFlow"),
        ("f_ok", "sequenceFlow"),
        ("f_back", "sequenceFlow"),
    ]
    assert result["removed"] == [] and result["changed"] == []
    assert result["forms"] == {"added": ["leave_apply", "leave_review"], "removed": [], "changed": []}
    assert result["summary"] == "新增 15 个元素，删除 0 个，修改 0 个；表单新增 2 个"


def test_form_fields_added_removed_and_changed():
    apply = FORMS["leave_apply"]
    new_apply = {
        **apply,
        "components": [
            {"id": "title", "type": "text", "text": "## 请假申请（新）"},  # a text block: not a field
            {
                "id": "kind",
                "type": "select",
                "key": "kind",
                "label": "请假类型",
                "values": [
                    {"label": "事假", "value": "personal"},
                    {"label": "病假", "value": "sick"},
                    {"label": "年假", "value": "annual"},
                ],
            },
            {
                "id": "days",
                "type": "number",
                "key": "days",
                "label": "请假天数",
                "validate": {"required": True, "min": 0.5},
            },
            {"id": "agent", "type": "textfield", "key": "agent", "label": "工作代理人"},
        ],
    }
    hr = {"id": "leave_hr", "type": "default", "components": []}
    result = diff_definitions(LEAVE, FORMS, LEAVE, {"leave_apply": new_apply, "leave_hr": hr})
    assert result["forms"] == {
        "added": ["leave_hr"],
        "removed": ["leave_review"],
        "changed": [
            {
                "key": "leave_apply",
                "fields_added": ["agent"],
                "fields_removed": ["note"],
                "fields_changed": ["kind", "days"],
            }
        ],
    }
    assert result["summary"] == "新增 0 个元素，删除 0 个，修改 0 个；表单新增 1 个、删除 1 个、修改 1 个"


def test_a_form_whose_text_blocks_alone_changed_is_not_listed():
    reworded = {
        **FORMS,
        "leave_apply": {
            **FORMS["leave_apply"],
            "components": [
                {"id": "title", "type": "text", "text": "## 请假申请表"},
                *FORMS["leave_apply"]["components"][1:],
            ],
        },
    }
    assert diff_definitions(LEAVE, FORMS, LEAVE, reworded)["forms"] == NO_FORM_CHANGES


def test_the_library_process_change_diagram_against_an_edited_copy():
    """The real diagram: a message payload, a timer-less throw event, a gateway without default change."""
    source = (PROJECT_ROOT / "bpmn" / "process_change.bpmn").read_text(encoding="utf-8")

    def edit_publish(root, by_id):
        by_id("gm_approve").set("name", "总经理审批")
        payload = by_id("start_document_change").xpath(".//*[local-name()='messagePayload']")[0]
        payload.text = "document_change_request if needs_document_change else None"
        end = by_id("end_documents")
        end.getparent().remove(end)
        flow = by_id("flow_throw_end")
        flow.set("targetRef", "end")
        ref = by_id("lane_qg").xpath("./bpmn:flowNodeRef[text()='end_documents']", namespaces=NS)[0]
        ref.getparent().remove(ref)

    result = diff_definitions(source, {}, edit(source, edit_publish), {})
    assert result["removed"] == [{"id": "end_documents", "type": "endEvent", "name": "流程已发布，文件更改已提交"}]
    assert result["changed"] == [
        {
            "id": "gm_approve",
            "type": "userTask",
            "name": "总经理审批",
            "changes": [{"field": "name", "label": "名称", "old": "总经理批准", "new": "总经理审批"}],
        },
        {
            "id": "start_document_change",
            "type": "intermediateThrowEvent",
            "name": "发起文件更改审批",
            "changes": [
                {
                    "field": "messagePayload",
                    "label": "消息内容",
                    "old": "document_change_request",
                    "new": "document_change_request if needs_document_change else None",
                }
            ],
        },
        {
            "id": "flow_throw_end",
            "type": "sequenceFlow",
            "name": None,
            "changes": [
                {
                    "field": "flow",
                    "label": "连线",
                    "old": "发起文件更改审批 → 流程已发布，文件更改已提交",
                    "new": "发起文件更改审批 → 流程已发布",
                }
            ],
        },
    ]
    assert result["summary"] == "新增 0 个元素，删除 1 个，修改 3 个"


def test_timer_multi_instance_and_interrupting_changes():
    source = (PROJECT_ROOT / "bpmn" / "change.bpmn").read_text(encoding="utf-8")

    def rework(root, by_id):
        overdue = by_id("implement_overdue")
        overdue.set("cancelActivity", "true")
        overdue.xpath(".//bpmn:timeDate", namespaces=NS)[0].text = 'planned_end + "T20:00:00+08:00"'
        loop = by_id("cab_review").xpath("./bpmn:multiInstanceLoopCharacteristics", namespaces=NS)[0]
        loop.set("isSequential", "true")
        etree.SubElement(loop, bpmn("completionCondition")).text = 'cab_vote["decision"] == "reject"'

    changed = diff_definitions(source, {}, edit(source, rework), {})["changed"]
    assert changed == [
        {
            "id": "cab_review",
            "type": "userTask",
            "name": "CAB成员会签",
            "changes": [
                {
                    "field": "multiInstance",
                    "label": "多实例",
                    "old": "并行；输入 cab_members → cab_member；输出 cab_votes ← cab_vote",
                    "new": "依次；输入 cab_members → cab_member；输出 cab_votes ← cab_vote；"
                    '完成条件 cab_vote["decision"] == "reject"',
                }
            ],
        },
        {
            "id": "implement_overdue",
            "type": "boundaryEvent",
            "name": "超过计划完成日",
            "changes": [
                {"field": "cancelActivity", "label": "中断任务", "old": "否", "new": "是"},
                {
                    "field": "timer",
                    "label": "定时",
                    "old": '日期 planned_end + "T18:00:00+08:00"',
                    "new": '日期 planned_end + "T20:00:00+08:00"',
                },
            ],
        },
    ]


def test_a_business_rule_task_calling_another_decision_table():
    source = (PROJECT_ROOT / "bpmn" / "incident.bpmn").read_text(encoding="utf-8")
    edited = source.replace(
        "<spiffworkflow:calledDecisionId>incident_priority<", "<spiffworkflow:calledDecisionId>incident_priority_v2<"
    )
    assert diff_definitions(source, {}, edited, {})["changed"] == [
        {
            "id": "prioritise",
            "type": "businessRuleTask",
            "name": "按紧急度×影响度确定优先级",
            "changes": [
                {
                    "field": "calledDecisionId",
                    "label": "决策表",
                    "old": "incident_priority",
                    "new": "incident_priority_v2",
                }
            ],
        }
    ]


def test_fields_inside_groups_count_and_other_field_settings_do_not():
    def form(phone_type: str, description: str) -> dict:
        return {
            "leave_review": {
                "id": "leave_review",
                "type": "default",
                "components": [
                    {
                        "id": "contact",
                        "type": "group",
                        "label": "联系方式",
                        "components": [{"id": "phone", "type": phone_type, "key": "phone", "label": "电话"}],
                    },
                    {
                        "id": "comment",
                        "type": "textarea",
                        "key": "comment",
                        "label": "意见",
                        "description": description,
                    },
                ],
            }
        }

    old = form("textfield", "可不填")
    assert diff_definitions(LEAVE, old, LEAVE, form("textfield", "请简要说明"))["forms"] == NO_FORM_CHANGES
    assert diff_definitions(LEAVE, old, LEAVE, form("number", "可不填"))["forms"]["changed"] == [
        {"key": "leave_review", "fields_added": [], "fields_removed": [], "fields_changed": ["phone"]}
    ]
