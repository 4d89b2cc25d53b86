"""The words a diagram is written in, defined once: the extension properties the engine reads
(`spiffworkflow:property` names), the values some of them take (approval modes, escalation kinds,
categories), the names of BPMN element kinds as refusals and the modeler show them, and the grammar
of lane names (role expressions, owned by engine.org.assignment).

The engine reads diagrams with these names; `vocabulary()` hands all of it to the modeler as JSON
(GET /api/v1/vocabulary), so that the page restates none of it.
"""

from __future__ import annotations

from enum import StrEnum

from engine.org import assignment


class Property(StrEnum):
    """The `spiffworkflow:property` names the engine reads."""

    FORM_KEY = "formKey"  # user task, start event: the form it is worked (or started) with
    APPROVAL_MODE = "approvalMode"  # user task: one task per candidate (ApprovalMode)
    DUE_IN = "dueIn"  # user task: ISO 8601 duration until it is due
    REMIND_BEFORE = "remindBefore"  # user task: remind whoever holds it this long before it is due
    ESCALATION = "escalation"  # user task: `<EscalationKind>:<lane expression>` once it is overdue
    OWNER_ROLE = "ownerRole"  # process: the role whose holders may change it
    CATEGORY = "category"  # process: its group on the start page (CATEGORIES)
    STARTER_ROLES = "starterRoles"  # process: comma-separated roles that may start it by hand (empty: anyone)


# How reviewers and refusals call the properties.
PROPERTY_LABELS: dict[str, str] = {
    Property.FORM_KEY: "表单",
    Property.APPROVAL_MODE: "审批方式",
    Property.DUE_IN: "办理时限",
    Property.REMIND_BEFORE: "提前提醒",
    Property.ESCALATION: "超时处理",
    Property.OWNER_ROLE: "流程所有者",
    Property.CATEGORY: "类别",
    Property.STARTER_ROLES: "发起角色",
}


class ApprovalMode(StrEnum):
    """`approvalMode`: how the candidates of a lane approve, each with a task of their own."""

    ALL = "all"  # 会签: everyone approves
    ANY = "any"  # 或签: the first approval decides
    SEQUENTIAL = "sequential"  # 依次审批: one after another in the lane's order; a rejection stops it


# Short names (refusals, the version diff) and the choices as the modeler and the task page offer them.
APPROVAL_MODE_NAMES: dict[str, str] = {
    ApprovalMode.ALL: "会签",
    ApprovalMode.ANY: "或签",
    ApprovalMode.SEQUENTIAL: "依次审批",
}
APPROVAL_MODE_LABELS: dict[str, str] = {
    ApprovalMode.ALL: "会签（全部同意）",
    ApprovalMode.ANY: "或签（一人同意即可）",
    ApprovalMode.SEQUENTIAL: "依次审批",
}


class EscalationKind(StrEnum):
    """What `escalation` does once a task is overdue, before the `:` of `notify:dept_head`."""

    NOTIFY = "notify"  # tell the lane expression's people
    MOVE = "move"  # give the task to them


ESCALATION_LABELS: dict[str, str] = {EscalationKind.NOTIFY: "通知", EscalationKind.MOVE: "转给"}

# The groups of the start page; `category` may name another, these are the library's.
CATEGORIES = ("流程治理", "管理体系", "IT服务交付", "ITSM流程")

# BPMN element kinds by local name, as a person finds them in the modeler.
KIND_LABELS: dict[str, str] = {
    "process": "流程",
    "participant": "池",
    "lane": "泳道",
    "sequenceFlow": "连线",
    "messageFlow": "消息流",
    "task": "任务",
    "userTask": "用户任务",
    "manualTask": "人工任务",
    "scriptTask": "脚本任务",
    "serviceTask": "服务任务",
    "sendTask": "发送任务",
    "receiveTask": "接收任务",
    "businessRuleTask": "业务规则任务",
    "callActivity": "调用活动",
    "subProcess": "子流程",
    "transaction": "事务子流程",
    "adHocSubProcess": "自由子流程",
    "startEvent": "开始事件",
    "endEvent": "结束事件",
    "intermediateCatchEvent": "中间捕获事件",
    "intermediateThrowEvent": "中间抛出事件",
    "boundaryEvent": "边界事件",
    "exclusiveGateway": "排他网关",
    "parallelGateway": "并行网关",
    "inclusiveGateway": "包容网关",
    "eventBasedGateway": "事件网关",
    "complexGateway": "复杂网关",
    "dataObject": "数据对象",
    "dataObjectReference": "数据对象引用",
    "dataStoreReference": "数据存储引用",
    "textAnnotation": "注释",
    "group": "组",
    "multiInstanceLoopCharacteristics": "多实例设置",
    "standardLoopCharacteristics": "循环设置",
    "messageEventDefinition": "消息事件定义",
    "signalEventDefinition": "信号事件定义",
    "errorEventDefinition": "错误事件定义",
    "escalationEventDefinition": "升级事件定义",
    "timerEventDefinition": "定时事件定义",
    "conditionalEventDefinition": "条件事件定义",
}
FLOW_NODE_KINDS = frozenset(
    {
        "task",
        "userTask",
        "manualTask",
        "scriptTask",
        "serviceTask",
        "sendTask",
        "receiveTask",
        "businessRuleTask",
        "callActivity",
        "subProcess",
        "transaction",
        "adHocSubProcess",
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "exclusiveGateway",
        "parallelGateway",
        "inclusiveGateway",
        "eventBasedGateway",
        "complexGateway",
    }
)


def _javascript_pattern(python_pattern: str) -> str:
    """A Python regular expression as JavaScript writes it (named groups are `(?<name>…)` there)."""
    return python_pattern.replace("(?P<", "(?<")


def role_expression_grammar() -> dict:
    """What the modeler needs to take a lane name apart and put it together again."""
    return {
        "pattern": _javascript_pattern(assignment.EXPRESSION.pattern),  # groups: role, field, excl
        "role": assignment.ROLE_CODE,
        "field": assignment.FIELD_NAME,
        "pseudo_roles": sorted(assignment.PSEUDO_ROLES),
        "exclusion_kinds": list(assignment.EXCLUSION_KINDS),
    }


def labels() -> list[str]:
    """The labels the pages show from here (and so translate): kinds, approval modes, escalations."""
    return sorted({*KIND_LABELS.values(), *APPROVAL_MODE_LABELS.values(), *ESCALATION_LABELS.values()})


def vocabulary() -> dict:
    """All of the vocabulary as a JSON-able dict."""
    return {
        "properties": {p.name: p.value for p in Property},
        "property_labels": {str(name): label for name, label in PROPERTY_LABELS.items()},
        "approval_modes": [
            {"value": m.value, "name": APPROVAL_MODE_NAMES[m], "label": APPROVAL_MODE_LABELS[m]} for m in ApprovalMode
        ],
        "escalations": [{"kind": k.value, "label": ESCALATION_LABELS[k]} for k in EscalationKind],
        "categories": list(CATEGORIES),
        "kinds": dict(KIND_LABELS),
        "role_expression": role_expression_grammar(),
    }
