"""Static checks on a BPMN document: everything that would make a deployed diagram fail later.

`validate()` returns a `ParsedDiagram` (the executable process, its SpiffWorkflow spec and what the
engine needs from it) or raises `DefinitionError` with element-level messages.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine import limits, scripting
from engine.definitions import xmlparse
from engine.definitions.vocabulary import (
    APPROVAL_MODE_NAMES,
    ESCALATION_LABELS,
    FLOW_NODE_KINDS,
    KIND_LABELS,
    PROPERTY_LABELS,
    Property,
)
from engine.errors import DefinitionError
from engine.forms.schema import form_problems
from engine.org.assignment import check_expression
from engine.timing import cycle_problem

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "spiffworkflow": SPIFF}

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


DEADLINE_PROPERTIES = {name: PROPERTY_LABELS[name] for name in (Property.DUE_IN, Property.REMIND_BEFORE)}


def _seconds(text: str) -> float | None:
    """An ISO 8601 duration (P3D, PT72H, P1DT4H) in seconds, months as 30 days; None if it is not one."""
    if not text.startswith("P"):
        return None
    try:
        parts = TimerEventDefinition.parse_iso_duration(text)
    except Exception:
        return None
    scale = {
        "years": 365 * 86400,
        "months": 30 * 86400,
        "weeks": 7 * 86400,
        "days": 86400,
        "hours": 3600,
        "minutes": 60,
        "seconds": 1,
    }
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
            problems.append(
                f"{label} {name}=“{value}”不是有效的 ISO 8601 时长（例如 P3D 表示 3 天，PT72H 表示 72 小时）"
            )
    due, remind = seconds.get(Property.DUE_IN), seconds.get(Property.REMIND_BEFORE)
    if Property.REMIND_BEFORE in seconds and Property.DUE_IN not in seconds:
        problems.append(f"设置了提前提醒 {Property.REMIND_BEFORE}，但没有办理时限 {Property.DUE_IN}")
    elif remind and due and remind >= due:
        problems.append(f"提前提醒 {Property.REMIND_BEFORE} 应短于办理时限 {Property.DUE_IN}")
    escalation = (props.get(Property.ESCALATION) or "").strip()
    if escalation:
        kind, _, target = escalation.partition(":")
        if kind not in ESCALATION_LABELS or not target:
            problems.append(
                f"超时处理 {Property.ESCALATION}=“{escalation}”无效：应为 notify:<角色>（通知）或 move:<角色>（转给），"
                f"例如 notify:dept_head"
            )
        else:
            problem = check_expression(target, known_roles)
            if problem:
                problems.append(f"超时处理 {Property.ESCALATION}：{problem}")
        if Property.DUE_IN not in seconds:
            problems.append(f"设置了超时处理 {Property.ESCALATION}，但没有办理时限 {Property.DUE_IN}")
    return problems


def _error(element_id, message):
    return {"element_id": element_id, "message": message}


class DiagramTooLarge(DefinitionError):
    """Over a size limit before anything is parsed: the request itself is refused."""


def check_size(xml: bytes) -> None:
    """The diagram's size against BPM_MAX_DIAGRAM_KB, before any parsing (a multi-megabyte script
    would otherwise hold a worker for half a minute)."""
    limit_kb = limits.DIAGRAM_KB.value()
    if len(xml) > limit_kb * 1024:
        raise DiagramTooLarge(
            [
                _error(
                    None,
                    f"流程图文件过大：{len(xml) / 1024:.0f} KB，上限 {limit_kb} KB（{limits.DIAGRAM_KB.variable}）",
                )
            ]
        )


def parse_xml(xml: str | bytes) -> etree._Element:
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    check_size(xml)
    if not xml.strip():
        raise DefinitionError([_error(None, "文件为空")])
    try:
        root = xmlparse.parse(xml)
    except etree.XMLSyntaxError as exc:
        raise DefinitionError([_error(None, f"XML 格式错误（第 {exc.lineno} 行）：{exc.msg}")]) from None
    except xmlparse.DoctypeRefused as exc:
        raise DefinitionError([_error(None, f"流程图{exc}")]) from None
    if root.tag != f"{{{BPMN}}}definitions":
        raise DefinitionError(
            [
                _error(
                    None,
                    f"不是 BPMN 2.0 文件：根元素是 {etree.QName(root).localname}，应为 {BPMN} 命名空间中的 definitions",
                )
            ]
        )
    return root


def starter_roles_of(process) -> set[str]:
    """The `starterRoles` property: who may start the procedure by hand (empty: anyone)."""
    value = _properties(process).get(Property.STARTER_ROLES) or ""
    return {role.strip() for role in value.split(",") if role.strip()}


def _properties(node) -> dict[str, str]:
    return {
        p.get("name"): p.get("value")
        for p in node.xpath("./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", namespaces=NS)
    }


# Elements whose text SpiffWorkflow evaluates as a Python expression at run time.
EXPRESSION_TAGS = {
    "conditionExpression",
    "completionCondition",
    "loopCardinality",
    "timeDuration",
    "timeDate",
    "timeCycle",
    "condition",
    "messagePath",
    "dataPath",
    "messagePayload",
}
SCRIPT_TAGS = {"script", "preScript", "postScript"}


Code = list[tuple["str | None", str, bool]]  # (element id, source, is_expression)


def _scripts(process) -> Code:
    """(element id, source, is_expression) for every piece of code the engine will run."""
    found: Code = []
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
        while owner is not None and (not owner.get("id") or etree.QName(owner).localname.endswith("EventDefinition")):
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


def _approval_mode_choices() -> str:
    """all（会签）、any（或签）或 sequential（依次审批）"""
    choices = [f"{mode}（{name}）" for mode, name in APPROVAL_MODE_NAMES.items()]
    return "、".join(choices[:-1]) + "或 " + choices[-1]


def validate(
    xml: str | bytes, *, form_exists, known_roles: set[str], decision_lookup=None, form_lookup=None
) -> ParsedDiagram:
    root = parse_xml(xml)
    errors: list[dict] = []

    try:
        _xsd_validator().validate(root)
    except ValidationException as exc:
        raise DefinitionError([schema_refusal(exc, root)]) from None

    processes = root.xpath("./bpmn:process[@isExecutable='true']", namespaces=NS)
    if not processes:
        ids = [p.get("id") for p in root.xpath("./bpmn:process", namespaces=NS)]
        hint = f"（文件中的流程 {', '.join(ids)} 未标记为可执行）" if ids else ""
        raise DefinitionError([_error(None, f'没有可执行的流程：需要一个 isExecutable="true" 的 process{hint}')])
    if len(processes) > 1:
        raise DefinitionError(
            [_error(p.get("id"), "一个文件只能有一个可执行流程；请把其余流程拆分到单独的文件") for p in processes[1:]]
        )
    process = processes[0]
    key = process.get("id")

    for node in process.iter():
        if not isinstance(node.tag, str):
            continue
        qname = etree.QName(node)
        if qname.namespace == BPMN and qname.localname in NOT_EXECUTABLE:
            errors.append(_error(node.get("id"), NOT_EXECUTABLE[qname.localname]))

    errors.extend(unsupported_element_problems(process))
    errors.extend(flow_problems(process))

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
        form_key = _properties(task).get(Property.FORM_KEY)
        if not form_key:
            errors.append(_error(tid, f"用户任务没有指定表单（扩展属性 {Property.FORM_KEY}）"))
        elif not form_exists(form_key):
            errors.append(_error(tid, f"表单不存在：{form_key}"))
        else:
            form_keys.add(form_key)
        mode = _properties(task).get(Property.APPROVAL_MODE)
        if mode is not None:
            form = form_lookup(form_key) if (form_lookup and form_key) else None
            if mode not in APPROVAL_MODE_NAMES:
                errors.append(
                    _error(tid, f"审批方式 {Property.APPROVAL_MODE}=“{mode}”无效：应为 {_approval_mode_choices()}")
                )
            elif form is not None and not any(c.get("key") == "decision" for c in form.get("components", [])):
                errors.append(
                    _error(
                        tid,
                        f"设置了审批方式（{APPROVAL_MODE_NAMES[mode]}）的任务，表单 {form_key} 需要有 decision 字段",
                    )
                )

        errors.extend(_error(tid, problem) for problem in deadline_problems(_properties(task), known_roles))

    errors.extend(plain_task_lane_problems(process, lane_of))
    errors.extend(empty_script_problems(process))
    errors.extend(used_form_problems(process, form_keys, form_lookup))

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
            errors.append(
                _error(
                    element_id,
                    f"消息“{name}”没有接收者：引擎只转交 {START_PREFIX}<流程标识>（发起另一流程）"
                    f"和 {NOTIFY}（提醒/督办），或由本流程中的事件接收",
                )
            )
        elif name.startswith(START_PREFIX) and not name[len(START_PREFIX) :]:
            errors.append(_error(element_id, f"消息“{name}”缺少要发起的流程标识"))

    props = _properties(process)
    starter_roles = starter_roles_of(process)
    for role in sorted(starter_roles - known_roles):
        errors.append(_error(key, f"{Property.STARTER_ROLES} 中的角色未知：{role}"))

    code = _scripts(process)
    too_much = total_code_problem(process, code)
    if too_much:
        errors.append(too_much)
        code = []  # checking each piece is what takes the time
    for owner_id, source, is_expression in code:
        for problem in code_problems(source, expression=is_expression):
            errors.append(_error(owner_id, problem))
    errors.extend(_cycle_errors(process))

    if not errors:
        errors.extend(chain_problems(process))
    if errors:
        raise DefinitionError(errors)

    parser = SpiffBpmnParser()
    try:
        for dmn_xml in set(decisions.values()):
            parser.add_dmn_xml(xmlparse.parse(dmn_xml))
        parser.add_bpmn_xml(root, filename=f"{key}.bpmn")
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except Exception as exc:  # its own ValidationException, raw Python errors, a stack exhausted
        raise DefinitionError([engine_refusal(exc, root)]) from None

    docs = process.xpath("./bpmn:documentation", namespaces=NS)
    return ParsedDiagram(
        key=key,
        name=process.get("name") or key,
        owner_role=props.get(Property.OWNER_ROLE),
        category=props.get(Property.CATEGORY),
        documentation=(docs[0].text or "").strip() if docs else None,
        form_keys=form_keys,
        decisions=decisions,
        starter_roles=starter_roles,
        starts_cases={name[len(START_PREFIX) :] for _, name in thrown if name.startswith(START_PREFIX)},
        started_by=started_by,
        spec=spec,
        subprocess_specs=subprocess_specs,
    )


# ---------------------------------------------------------------------------------------------
# Refusals that name their element, in Chinese, before SpiffWorkflow's parser sees the diagram
# ---------------------------------------------------------------------------------------------

CONTAINER_TAGS = {"subProcess", "transaction", "adHocSubProcess"}
# SpiffWorkflow makes these a person's step (`manual`), so they need a lane to find that person.
PLAIN_HUMAN_TASKS = {"task": "任务（task，无类型）", "manualTask": "人工任务（manualTask）"}


def _local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def describe(node) -> str:
    """How a person finds the element in the modeler: its kind and its name, else its id."""
    kind = KIND_LABELS.get(_local(node), _local(node))
    name = (node.get("name") or "").strip()
    return f"{kind}“{name}”" if name else f"{kind} {node.get('id') or ''}".rstrip()


def _owner(node):
    """The nearest element with an id, skipping event definitions: what the modeler shows."""
    while node is not None and (
        not isinstance(node.tag, str) or not node.get("id") or _local(node).endswith("EventDefinition")
    ):
        node = node.getparent()
    return node


def unsupported_element_problems(process) -> list[dict]:
    """Compensation has no engine support: a compensation boundary event breaks SpiffWorkflow's parser
    with a dump of XML, and a thrown compensation event would silently do nothing."""
    found = []
    for node in process.iter(f"{{{BPMN}}}compensateEventDefinition"):
        owner = _owner(node)
        found.append(
            _error(
                owner.get("id") if owner is not None else None,
                f"{describe(owner) if owner is not None else '事件'}：补偿事件（compensation）尚不支持；"
                "撤销已做的步骤请画成显式的脚本任务或用户任务，或用“退回”",
            )
        )
    for node in process.iter():
        if isinstance(node.tag, str) and node.get("isForCompensation") == "true":
            found.append(
                _error(node.get("id"), f"{describe(node)}：补偿活动（isForCompensation）尚不支持，请把它接入正常的连线")
            )
    return found


def flow_problems(process) -> list[dict]:
    """Every sequence flow joins two flow elements of the same process or subprocess (SpiffWorkflow's
    own message for a dangling reference speaks of forms with duplicate ids)."""
    found = []
    for container in [process, *[n for n in process.iter() if _local(n) in CONTAINER_TAGS]]:
        nodes = {child.get("id") for child in container if _local(child) in FLOW_NODE_KINDS}
        for flow in container.iterchildren(f"{{{BPMN}}}sequenceFlow"):
            for end, label in (("sourceRef", "起点"), ("targetRef", "终点")):
                ref = (flow.get(end) or "").strip()
                if ref not in nodes:
                    where = "" if container is process else f"（{describe(container)} 内）"
                    found.append(
                        _error(
                            flow.get("id"),
                            f"{describe(flow)} 的{label} {end}=“{ref}”不是本流程{where}"
                            f"中的元素：请把连线两端都接到元素上",
                        )
                    )
    return found


def empty_script_problems(process) -> list[dict]:
    """A script task without a script would fail the case when it is reached."""
    return [
        _error(task.get("id"), f"{describe(task)}没有脚本：请填写脚本，或改用其他任务类型")
        for task in process.iter(f"{{{BPMN}}}scriptTask")
        if not (task.findtext(f"{{{BPMN}}}script") or "").strip()
    ]


def plain_task_lane_problems(process, lane_of: dict) -> list[dict]:
    """A task without a type or a manual task waits for a person, whom the engine finds from its lane:
    outside every lane the case could never go on past it."""
    found = []
    for tag, kind in PLAIN_HUMAN_TASKS.items():
        for task in process.iter(f"{{{BPMN}}}{tag}"):
            if task.get("id") not in lane_of:
                found.append(
                    _error(
                        task.get("id"),
                        f"{describe(task)}不在任何泳道中：{kind}由人办理，"
                        f"请把它放进名称为角色代码的泳道，或改为脚本任务",
                    )
                )
    return found


def used_form_problems(process, form_keys: set[str], form_lookup) -> list[dict]:
    """The forms the diagram's user tasks use: patterns must compile (and run in linear time), sizes
    within limits. Each problem is reported on the first user task using that form."""
    if form_lookup is None:
        return []
    first_user: dict[str | None, str | None] = {}
    for task in process.iter(f"{{{BPMN}}}userTask"):
        first_user.setdefault(_properties(task).get(Property.FORM_KEY), task.get("id"))
    found: list[dict] = []
    for form_key in sorted(form_keys):
        form = form_lookup(form_key)
        if form is not None:
            found.extend(_error(first_user.get(form_key), problem) for problem in form_problems(form, form_key))
    return found


def _nesting_depth(tree) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:  # iterative: the point is to measure trees too deep for recursion
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def code_problems(source: str, *, expression: bool) -> list[str]:
    """Size limits on a script or expression, then the sandbox's own checks. Python's parser and
    RestrictedPython both recurse, so a long chain (`1+1+…`) is refused here by length and depth
    before it can exhaust the stack."""
    kind, limit = ("表达式", limits.EXPRESSION_CHARS) if expression else ("脚本", limits.SCRIPT_CHARS)
    if len(source) > limit.value():
        return [f"{kind}过长：{len(source)} 个字符，上限 {limit.value()}（{limit.variable}）"]
    too_deep = (
        f"{kind}嵌套过深：超过 {limits.CODE_NESTING.value()} 层（{limits.CODE_NESTING.variable}）；请拆成几步计算"
    )
    try:
        tree = ast.parse(source, mode="eval" if expression else "exec")
    except SyntaxError:
        tree = None  # reported by scripting.check with its line
    except (RecursionError, MemoryError):
        return [too_deep]
    if tree is not None and _nesting_depth(tree) > limits.CODE_NESTING.value():
        return [too_deep]
    try:
        return scripting.check(source, expression=expression)
    except (RecursionError, MemoryError):
        return [too_deep]


def total_code_problem(process, code: Code) -> dict | None:
    """Checking code costs about 10 ms per 1,000 characters: bound the whole diagram's, so no
    validation or deploy runs for long."""
    total, limit = sum(len(source) for _, source, _ in code), limits.CODE_CHARS_TOTAL.value()
    if total <= limit:
        return None
    return _error(
        process.get("id"),
        f"流程中的脚本和表达式合计 {total} 个字符，上限 {limit}"
        f"（{limits.CODE_CHARS_TOTAL.variable}）：请精简，或把计算拆到多个流程",
    )


def chain_problems(process) -> list[dict]:
    """SpiffWorkflow parses from each start event along the sequence flows, recursively, about two
    frames per element; follow the same walk without recursion and refuse a chain longer than
    BPM_MAX_CHAIN_LENGTH, at the element where it goes over."""
    limit = limits.CHAIN_LENGTH.value()
    by_id: dict[str, etree._Element] = {}
    outgoing: dict[str, list[str]] = {}
    boundary: dict[str, list[str]] = {}
    for node in process.iter():
        local = _local(node)
        if local in FLOW_NODE_KINDS:
            by_id[node.get("id")] = node
            if local == "boundaryEvent":
                boundary.setdefault(node.get("attachedToRef"), []).append(node.get("id"))
        elif local == "sequenceFlow":
            outgoing.setdefault(node.get("sourceRef"), []).append(node.get("targetRef"))
    seen = set()
    stack = [(start.get("id"), 1) for start in process.iterchildren(f"{{{BPMN}}}startEvent")]
    while stack:
        node_id, depth = stack.pop()
        if node_id in seen or node_id not in by_id:
            continue
        seen.add(node_id)
        if depth > limit:
            node = by_id[node_id]
            return [
                _error(
                    node_id,
                    f"从开始事件起依次相连的元素超过 {limit} 个（超出处：{describe(node)}）："
                    f"请把一段步骤画成子流程，或合并相邻的脚本任务（{limits.CHAIN_LENGTH.variable}）",
                )
            ]
        node = by_id[node_id]
        following = [*boundary.get(node_id, ()), *outgoing.get(node_id, ())]
        if _local(node) in CONTAINER_TAGS:
            following += [s.get("id") for s in node.iterchildren(f"{{{BPMN}}}startEvent")]
        stack.extend((next_id, depth + 1) for next_id in reversed(following))
    return []


# ---------------------------------------------------------------------------------------------
# What the XSD check and SpiffWorkflow's parser say, in Chinese and on an element
# ---------------------------------------------------------------------------------------------


def _element_at_line(root, line) -> etree._Element | None:
    """The element with an id that the XSD error's line points into."""
    if not isinstance(line, int):
        return None
    best = None
    for node in root.iter():
        if isinstance(node.tag, str) and node.sourceline is not None and node.sourceline <= line:
            best = node
        elif isinstance(node.tag, str) and node.sourceline is not None and node.sourceline > line:
            break
    return _owner(best) if best is not None else None


SCHEMA_MESSAGES = [
    (re.compile(r"Element '(?:\{[^}]*\})?([^']+)': This element is not expected"), "此处不应出现元素 {0}"),
    (
        re.compile(r"Element '(?:\{[^}]*\})?([^']+)', attribute '([^']+)': The attribute '[^']+' is not allowed"),
        "元素 {0} 不允许有属性 {1}",
    ),
    (
        re.compile(r"Element '(?:\{[^}]*\})?([^']+)': The attribute '([^']+)' is required but missing"),
        "元素 {0} 缺少必需的属性 {1}",
    ),
    (
        re.compile(
            r"Element '(?:\{[^}]*\})?([^']+)', attribute '([^']+)': '([^']*)' is not a valid value of the atomic "
            r"type 'xs:ID'"
        ),
        "元素 {0} 的 {1}=“{2}”不是有效的标识（须以字母或下划线开头，不能含空格、冒号）",
    ),
    (
        re.compile(r"Element '(?:\{[^}]*\})?([^']+)', attribute '([^']+)': '([^']*)' is not a valid value"),
        "元素 {0} 的属性 {1}=“{2}”取值无效",
    ),
    (re.compile(r"Element '(?:\{[^}]*\})?([^']+)': Missing child element"), "元素 {0} 缺少必需的子元素"),
    (
        re.compile(r"Element '(?:\{[^}]*\})?([^']+)': No match found for key-sequence \['([^']*)'\]"),
        "元素 {0} 引用的标识 {1} 不存在",
    ),
    (re.compile(r"Element '(?:\{[^}]*\})?([^']+)': Duplicate key-sequence \['([^']*)'\]"), "标识 {1} 重复：元素 {0}"),
]


def schema_refusal(exc: ValidationException, root) -> dict:
    line = exc.line_number if isinstance(exc.line_number, int) else None
    owner = _element_at_line(root, line)
    english = str(exc.args[0] if exc.args else exc).strip()
    for pattern, template in SCHEMA_MESSAGES:
        match = pattern.search(english)
        if match:
            detail = template.format(*match.groups())
            if "xs:ID" in english and len(root.xpath("//*[@id=$id]", id=match.group(3))) > 1:
                detail = f"标识 {match.group(3)} 重复：每个元素的 id 须唯一"
            break
    else:
        detail = f"请检查该元素的写法（XML 校验提示：{_short(english)}）"
    where = f"第 {line} 行" if line else ""
    if owner is not None and owner is not root:
        where = f"{where}，{describe(owner)}" if where else describe(owner)
    return _error(
        exc.id or (owner.get("id") if owner is not None and owner is not root else None),
        f"不符合 BPMN 2.0 规范（{where}）：{detail}" if where else f"不符合 BPMN 2.0 规范：{detail}",
    )


ENGINE_MESSAGES = [
    (
        "Multiple outgoing flows are not supported",
        "有多条流出连线，但只有网关可以分支：请在它后面加一个排他、包容或并行网关",
    ),
    ("we found two items", "有连线指向不存在的元素"),
    ("No start event found", "没有开始事件"),
    (
        "Non-default exclusive outgoing sequence flow without condition",
        "这条从排他/包容网关流出的连线既没有条件，也不是网关的默认路径：请设置条件表达式，或把它设为默认路径",
    ),
    ("Exactly one start event is required in a SubWorkflow", "子流程必须有且只有一个开始事件"),
    ("A SubWorkflow Must contain an End event", "子流程必须有结束事件"),
    (
        "must specify exactly one of cardinality or loop input",
        "多实例设置只能指定实例数（loopCardinality）或集合（loopDataInputRef）之一",
    ),
    (
        "must specify a cardinality or a loop input",
        "多实例设置需要指定实例数（loopCardinality）或集合（loopDataInputRef）",
    ),
    ("loop input data reference is missing", "多实例的集合（loopDataInputRef）不在输入输出设置中"),
    ("loop output data reference is missing", "多实例的结果（loopDataOutputRef）不在输入输出设置中"),
    (
        "loopMaximum or loopCondition must be specified",
        "循环任务需要指定最大次数（loopMaximum）或循环条件（loopCondition）",
    ),
    ("Cancel Events may only be used with transactions", "取消事件只能附着在事务子流程（transaction）上"),
    ("Unsupported Catch Event", "事件类型不受支持：边界事件须为定时、消息、信号、错误、升级、条件或取消事件"),
    ("Expected a Message node", "引用的消息（message）不存在"),
    ("Expected a Signal node", "引用的信号（signal）不存在"),
    ("Expected an Error node", "引用的错误（error）不存在"),
    ("Expected an Escalation node", "引用的升级（escalation）不存在"),
    ("raise_validation_exception() got an unexpected keyword argument", "引用的消息、信号、错误或升级定义不存在"),
    ("Conditional event definition with missing condition", "条件事件缺少条件表达式"),
    ("Unknown Time Specification", "定时事件缺少时间设置（timeDate、timeDuration 或 timeCycle）"),
    ("Time Specification Error", "定时事件的时间设置无效"),
    ("No Script Provided", "脚本任务没有脚本"),
    ("There is no support implemented for this task type", "是本系统不支持的元素类型"),
    ("Duplicate process ID", "流程标识重复"),
    ("Cannot resolve dataInputAssociation", "数据输入关联引用的数据对象不存在"),
    ("Cannot resolve dataOutputAssociation", "数据输出关联引用的数据对象不存在"),
    ("has no implementation", "使用了本系统不支持的数据存储"),
    ("is missing from bpmn xml", "文件中的消息、信号、错误、升级或关联定义缺少 id"),
    ("Sequential ordering for ad hoc subprocesses", "自由子流程不支持顺序执行"),
    ("Ad hoc subprocesses may not contain start or end events", "自由子流程中不能有开始或结束事件"),
    ('No "calledElement" attribute', "调用活动没有指定被调用的流程（calledElement）"),
    ("A Service Task must have an operator", "服务任务没有指定服务"),
    ("RecursionError", "流程图太深，引擎无法解析：从开始事件起依次相连的元素太多，请把一段步骤画成子流程"),
]


def engine_refusal(exc: BaseException, root) -> dict:
    """SpiffWorkflow's refusal (English, sometimes the repr of an exception with XML in it) as a
    Chinese message on the element it concerns."""
    english = str(exc.args[0] if exc.args else exc)
    if isinstance(exc, RecursionError):
        english = "RecursionError"
    element_id = getattr(exc, "id", None) or None
    node = None
    if element_id:
        found = root.xpath("//*[@id=$id]", id=element_id)
        node = found[0] if found else None
    for fragment, detail in ENGINE_MESSAGES:  # noqa: B007 (the match's detail is read after the loop)
        if fragment in english:
            break
    else:
        detail = f"流程引擎无法解析，请检查它的设置和连线（引擎提示：{_short(english)}）"
    return _error(element_id, f"{describe(node)}：{detail}" if node is not None else detail)


def _short(text: str) -> str:
    """A hint from an English message without the XML some of them carry."""
    text = re.split(r"b?'<|<\?xml|<bpmn", text, maxsplit=1)[0].strip(" ,.(\"'")
    return text[:160] + ("…" if len(text) > 160 else "")
