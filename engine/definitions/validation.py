"""Static checks on a BPMN document: everything that would make a deployed diagram fail later.

`validate()` returns a `ParsedDiagram` (the executable process, its SpiffWorkflow spec and what the
engine needs from it) or raises `DefinitionError` with element-level messages.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine import scripting
from engine.errors import DefinitionError
from engine.org.assignment import check_expression
from engine.timing import cycle_problem

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "spiffworkflow": SPIFF}

# Flow nodes SpiffWorkflow can execute and this engine can drive without a plug-in.
EXECUTABLE = {
    "startEvent", "endEvent", "userTask", "task", "manualTask", "scriptTask", "subProcess", "transaction", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
    "eventBasedGateway", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "receiveTask", "sendTask", "businessRuleTask",
}
NOT_EXECUTABLE = {
    "serviceTask": "服务任务（serviceTask）需要外部服务连接器，本系统尚不支持；请改用脚本任务或用户任务",
    "complexGateway": "复杂网关（complexGateway）无法执行；请改用排他、并行或包容网关",
    "adHocSubProcess": "自由子流程（adHocSubProcess）尚不支持",
    # Each diagram is parsed on its own, so a called process could never be found when the case runs.
    "callActivity": "调用活动（callActivity）尚不支持：要发起另一个流程，请抛出消息 start:<流程标识>（见 docs/library.md），"
                    "或把被调用的部分画成子流程（subProcess）",
}
_VALIDATOR = None


def _xsd_validator() -> BpmnValidator:
    global _VALIDATOR  # compiling the BPMN XSD takes ~100 ms: once per process
    if _VALIDATOR is None:
        _VALIDATOR = BpmnValidator()
    return _VALIDATOR


@dataclass
class ParsedDiagram:
    key: str
    name: str
    owner_role: str | None
    category: str | None
    documentation: str | None
    form_keys: set[str]
    decisions: dict[str, str] = field(default_factory=dict)  # decision id -> DMN XML
    starter_roles: set[str] = field(default_factory=set)  # empty: anyone may start it by hand
    starts_cases: set[str] = field(default_factory=set)  # process keys it starts (`start:<key>` thrown)
    started_by: set[str] = field(default_factory=set)  # message names its message start events catch
    spec: object = None
    subprocess_specs: dict = field(default_factory=dict)


DEADLINE_PROPERTIES = {"dueIn": "办理时限", "remindBefore": "提前提醒"}
ESCALATIONS = {"notify": "通知", "move": "转给"}


def _seconds(text: str) -> float | None:
    """An ISO 8601 duration (P3D, PT72H, P1DT4H) in seconds, months as 30 days; None if it is not one."""
    if not text.startswith("P"):
        return None
    try:
        parts = TimerEventDefinition.parse_iso_duration(text)
    except Exception:
        return None
    scale = {"years": 365 * 86400, "months": 30 * 86400, "weeks": 7 * 86400, "days": 86400, "hours": 3600,
             "minutes": 60, "seconds": 1}
    return sum(scale[k] * float(v) for k, v in parts.items() if k in scale)


def deadline_problems(props: dict[str, str], known_roles: set[str]) -> list[str]:
    """A user task's deadline: `dueIn` and `remindBefore` are ISO 8601 durations; `escalation` is
    `notify:<lane expression>` (tell them when it is overdue) or `move:<lane expression>` (give it to them)."""
    problems, seconds = [], {}
    for name, label in DEADLINE_PROPERTIES.items():
        value = (props.get(name) or "").strip()
        if not value:
            continue
        seconds[name] = _seconds(value)
        if not seconds[name]:
            problems.append(f"{label} {name}=“{value}”不是有效的 ISO 8601 时长（例如 P3D 表示 3 天，PT72H 表示 72 小时）")
    if "remindBefore" in seconds and "dueIn" not in seconds:
        problems.append("设置了提前提醒 remindBefore，但没有办理时限 dueIn")
    elif seconds.get("remindBefore") and seconds.get("dueIn") and seconds["remindBefore"] >= seconds["dueIn"]:
        problems.append("提前提醒 remindBefore 应短于办理时限 dueIn")
    escalation = (props.get("escalation") or "").strip()
    if escalation:
        kind, _, target = escalation.partition(":")
        if kind not in ESCALATIONS or not target:
            problems.append(f"超时处理 escalation=“{escalation}”无效：应为 notify:<角色>（通知）或 move:<角色>（转给），"
                            f"例如 notify:dept_head")
        else:
            problem = check_expression(target, known_roles)
            if problem:
                problems.append(f"超时处理 escalation：{problem}")
        if "dueIn" not in seconds:
            problems.append("设置了超时处理 escalation，但没有办理时限 dueIn")
    return problems


def _error(element_id, message):
    return {"element_id": element_id, "message": message}


def parse_xml(xml: str | bytes) -> etree._Element:
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    if not xml.strip():
        raise DefinitionError([_error(None, "文件为空")])
    try:
        root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise DefinitionError([_error(None, f"XML 格式错误（第 {exc.lineno} 行）：{exc.msg}")])
    if root.tag != f"{{{BPMN}}}definitions":
        raise DefinitionError([_error(None, f"不是 BPMN 2.0 文件：根元素是 {etree.QName(root).localname}，"
                                            f"应为 {BPMN} 命名空间中的 definitions")])
    return root


def starter_roles_of(process) -> set[str]:
    """The `starterRoles` property: who may start the procedure by hand (empty: anyone)."""
    value = _properties(process).get("starterRoles") or ""
    return {role.strip() for role in value.split(",") if role.strip()}


def _properties(node) -> dict[str, str]:
    return {p.get("name"): p.get("value")
            for p in node.xpath("./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property",
                                namespaces=NS)}


# Elements whose text SpiffWorkflow evaluates as a Python expression at run time.
EXPRESSION_TAGS = {"conditionExpression", "completionCondition", "loopCardinality", "timeDuration", "timeDate",
                   "timeCycle", "condition", "messagePath", "dataPath", "messagePayload"}
SCRIPT_TAGS = {"script", "preScript", "postScript"}


def _scripts(process) -> list[tuple[str, str, bool]]:
    """(element id, source, is_expression) for every piece of code the engine will run."""
    found = []
    for node in process.iter():
        if not isinstance(node.tag, str):
            continue
        name = etree.QName(node).localname
        if name not in EXPRESSION_TAGS and name not in SCRIPT_TAGS:
            continue
        source = (node.text or "").strip()
        if not source or (name.startswith("time") and scripting.is_iso_8601_timer(source)):
            continue
        owner = node.getparent()  # the flow element people see, not its event definition
        while owner is not None and (not owner.get("id")
                                     or etree.QName(owner).localname.endswith("EventDefinition")):
            owner = owner.getparent()
        found.append((owner.get("id") if owner is not None else None, source, name in EXPRESSION_TAGS))
    return found


def _cycle_errors(process) -> list[dict]:
    """Repeating timers written as ISO 8601 text whose period is under the minimum (engine/timing.py);
    one computed by an expression is checked when it is evaluated."""
    errors = []
    for node in process.iter(f"{{{BPMN}}}timeCycle"):
        problem = cycle_problem(node.text or "")
        if problem:
            owner = node.getparent().getparent()
            errors.append(_error(owner.get("id") if owner is not None else None, problem))
    return errors


START_PREFIX, NOTIFY = "start:", "notify"  # the messages the engine routes (engine.runtime.messages)


def _messages(root, process) -> tuple[list[tuple[str, str]], set[str], set[str]]:
    """(element id, message name) thrown; names caught inside the process; names its start events catch."""
    names = {m.get("id"): m.get("name") or m.get("id") for m in root.xpath("./bpmn:message", namespaces=NS)}
    thrown, caught, started_by = [], set(), set()
    for node in process.iter():
        if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN:
            continue
        kind = etree.QName(node).localname
        if kind == "sendTask" and node.get("messageRef"):
            thrown.append((node.get("id"), names.get(node.get("messageRef"), node.get("messageRef"))))
        elif kind == "receiveTask" and node.get("messageRef"):
            caught.add(names.get(node.get("messageRef"), node.get("messageRef")))
        for definition in node.xpath("./bpmn:messageEventDefinition[@messageRef]", namespaces=NS):
            name = names.get(definition.get("messageRef"), definition.get("messageRef"))
            if kind in ("intermediateThrowEvent", "endEvent"):
                thrown.append((node.get("id"), name))
            elif kind == "startEvent" and node.getparent() is process:
                started_by.add(name)
            else:
                caught.add(name)
    return thrown, caught, started_by


def check_links(diagrams: list[ParsedDiagram]) -> list[dict]:
    """Across a library: every procedure a diagram starts exists and has a matching message start event."""
    by_key = {d.key: d for d in diagrams}
    errors = []
    for diagram in diagrams:
        for target in sorted(diagram.starts_cases):
            if target not in by_key:
                errors.append(_error(diagram.key, f"要发起的流程 {target} 不在流程库中"))
            elif f"{START_PREFIX}{target}" not in by_key[target].started_by:
                errors.append(_error(diagram.key, f"流程 {target} 没有接收“{START_PREFIX}{target}”的消息启动事件"))
    return errors


APPROVAL_MODES = {"all": "会签", "any": "或签", "sequential": "依次审批"}


def validate(xml: str | bytes, *, form_exists, known_roles: set[str], decision_lookup=None,
             form_lookup=None) -> ParsedDiagram:
    root = parse_xml(xml)
    errors: list[dict] = []

    try:
        _xsd_validator().validate(root)
    except ValidationException as exc:
        raise DefinitionError([_error(exc.id or None, f"不符合 BPMN 2.0 规范（第 {exc.line_number} 行）：{exc}")])

    processes = root.xpath("./bpmn:process[@isExecutable='true']", namespaces=NS)
    if not processes:
        ids = [p.get("id") for p in root.xpath("./bpmn:process", namespaces=NS)]
        hint = f"（文件中的流程 {', '.join(ids)} 未标记为可执行）" if ids else ""
        raise DefinitionError([_error(None, f"没有可执行的流程：需要一个 isExecutable=\"true\" 的 process{hint}")])
    if len(processes) > 1:
        raise DefinitionError([_error(p.get("id"), "一个文件只能有一个可执行流程；请把其余流程拆分到单独的文件")
                               for p in processes[1:]])
    process = processes[0]
    key = process.get("id")

    for node in process.iter():
        if not isinstance(node.tag, str):
            continue
        qname = etree.QName(node)
        if qname.namespace == BPMN and qname.localname in NOT_EXECUTABLE:
            errors.append(_error(node.get("id"), NOT_EXECUTABLE[qname.localname]))

    lane_of = {}
    for lane in process.xpath(".//bpmn:lane", namespaces=NS):
        if lane.xpath("./bpmn:childLaneSet", namespaces=NS):
            continue  # the inner lanes carry the roles
        problem = check_expression(lane.get("name"), known_roles)
        if problem:
            errors.append(_error(lane.get("id"), problem))
        for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS):
            lane_of[(ref.text or "").strip()] = lane.get("name")

    form_keys = set()
    for task in process.iter(f"{{{BPMN}}}userTask"):
        tid = task.get("id")
        if tid not in lane_of:
            errors.append(_error(tid, "用户任务不在任何泳道中：请把它放进名称为角色代码的泳道"))
        form_key = _properties(task).get("formKey")
        if not form_key:
            errors.append(_error(tid, "用户任务没有指定表单（扩展属性 formKey）"))
        elif not form_exists(form_key):
            errors.append(_error(tid, f"表单不存在：{form_key}"))
        else:
            form_keys.add(form_key)
        mode = _properties(task).get("approvalMode")
        if mode is not None:
            form = form_lookup(form_key) if (form_lookup and form_key) else None
            if mode not in APPROVAL_MODES:
                errors.append(_error(tid, f"审批方式 approvalMode=“{mode}”无效：应为 all（会签）、any（或签）或 sequential（依次审批）"))
            elif form is not None and not any(c.get("key") == "decision" for c in form.get("components", [])):
                errors.append(_error(tid, f"设置了审批方式（{APPROVAL_MODES[mode]}）的任务，表单 {form_key} 需要有 decision 字段"))

        errors.extend(_error(tid, problem) for problem in deadline_problems(_properties(task), known_roles))

    decisions: dict[str, str] = {}
    for task in process.iter(f"{{{BPMN}}}businessRuleTask"):
        ref = task.xpath("./bpmn:extensionElements/spiffworkflow:calledDecisionId", namespaces=NS)
        decision_id = (ref[0].text or "").strip() if ref else ""
        xml_of = decision_lookup.get(decision_id) if (decision_lookup and decision_id) else None
        if not decision_id:
            errors.append(_error(task.get("id"), "业务规则任务没有指定决策表（扩展元素 calledDecisionId）"))
        elif xml_of is None:
            errors.append(_error(task.get("id"), f"决策表不存在：{decision_id}（应在流程库的 .dmn 文件中）"))
        else:
            decisions[decision_id] = xml_of

    thrown, caught, started_by = _messages(root, process)
    for element_id, name in thrown:
        if not (name.startswith(START_PREFIX) or name == NOTIFY or name in caught):
            errors.append(_error(element_id, f"消息“{name}”没有接收者：引擎只转交 {START_PREFIX}<流程标识>（发起另一流程）"
                                             f"和 {NOTIFY}（提醒/督办），或由本流程中的事件接收"))
        elif name.startswith(START_PREFIX) and not name[len(START_PREFIX):]:
            errors.append(_error(element_id, f"消息“{name}”缺少要发起的流程标识"))

    props = _properties(process)
    starter_roles = starter_roles_of(process)
    for code in sorted(starter_roles - known_roles):
        errors.append(_error(key, f"starterRoles 中的角色未知：{code}"))

    for element_id, source, is_expression in _scripts(process):
        for problem in scripting.check(source, expression=is_expression):
            errors.append(_error(element_id, problem))
    errors.extend(_cycle_errors(process))

    if errors:
        raise DefinitionError(errors)

    parser = SpiffBpmnParser()
    try:
        for dmn_xml in set(decisions.values()):
            parser.add_dmn_xml(etree.fromstring(dmn_xml.encode("utf-8")))
        parser.add_bpmn_xml(root, filename=f"{key}.bpmn")
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as exc:
        raise DefinitionError([_error(exc.id or None, str(exc))])
    except SpiffWorkflowException as exc:
        raise DefinitionError([_error(getattr(exc, "id", None), str(exc))])

    docs = process.xpath("./bpmn:documentation", namespaces=NS)
    return ParsedDiagram(
        key=key, name=process.get("name") or key, owner_role=props.get("ownerRole"),
        category=props.get("category"), documentation=(docs[0].text or "").strip() if docs else None,
        form_keys=form_keys, decisions=decisions, starter_roles=starter_roles,
        starts_cases={name[len(START_PREFIX):] for _, name in thrown if name.startswith(START_PREFIX)},
        started_by=started_by, spec=spec, subprocess_specs=subprocess_specs,
    )
