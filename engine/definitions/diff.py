"""What a proposed version changes against the live one: elements added, removed and changed, and
the fields of the forms it freezes. Reviewers of a 流程新增/变更审批 case read it beside the draft's
diagram, so it speaks of what a person sees (names, roles, forms, conditions), never of layout.

Pure: two diagrams and their forms in, a JSON-ready dict out.
"""

from __future__ import annotations

import textwrap

from lxml import etree

from engine.definitions import xmlparse
from engine.definitions.vocabulary import FLOW_NODE_KINDS, PROPERTY_LABELS

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "spiffworkflow": SPIFF}

CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess"}

# Any spiffworkflow:property without a label in the vocabulary is labelled by its own name.
FIELD_LABELS = {
    "name": "名称",
    "type": "类型",
    "documentation": "说明",
    "lane": "泳道",
    "flow": "连线",
    "condition": "条件",
    "default": "默认路径",
    "script": "脚本",
    "preScript": "脚本（执行前）",
    "postScript": "脚本（执行后）",
    "timer": "定时",
    "message": "消息",
    "messagePayload": "消息内容",
    "messageVariable": "消息变量",
    "eventDefinition": "事件定义",
    "multiInstance": "多实例",
    "attachedTo": "附着于",
    "cancelActivity": "中断任务",
    "calledElement": "调用流程",
    "calledDecisionId": "决策表",
}
TIMER_KINDS = {"timeDate": "日期", "timeDuration": "时长", "timeCycle": "周期"}
# Fields holding code the engine runs: a reviewer must read each one added or changed.
CODE_FIELDS = ("script", "preScript", "postScript", "condition", "timer", "multiInstance", "messagePayload")
FORM_FIELD_PROPERTIES = ("label", "type", "validate", "values")


def diff_definitions(old_xml: str | None, old_forms: dict | None, new_xml: str, new_forms: dict) -> dict:
    """The changes from (old_xml, old_forms) to (new_xml, new_forms); old_xml None: a new procedure."""
    old = _Diagram(old_xml)
    new = _Diagram(new_xml)
    added, changed, removed = [], [], []
    for element_id, element in new.elements.items():
        before = old.elements.get(element_id)
        if before is None:
            added.append(_head(element_id, element))
            continue
        changes = [
            {"field": field, "label": label, "old": before.shown(field), "new": element.shown(field)}
            for field, label in _labels(element, before).items()
            if before.compared(field) != element.compared(field)
        ]
        if changes:
            changed.append({**_head(element_id, element), "changes": changes})
    for element_id, element in old.elements.items():
        if element_id not in new.elements:
            removed.append(_head(element_id, element))
    forms = diff_forms((old_forms or {}) if old_xml is not None else {}, new_forms or {})
    result = {
        "added": added,
        "removed": removed,
        "changed": changed,
        "forms": forms,
        "summary": _summary(added, removed, changed, forms),
    }
    code = _code_changes(new, added, changed)
    if code:  # only then: a change without code reads as before
        result["code_changes"] = code
    return result


def _code_changes(new: _Diagram, added: list, changed: list) -> list[dict]:
    """Every script and expression added or changed, for reviewers to read: code runs with the
    engine's rights over the case's data, so a change to it is never a detail of layout."""
    found = []
    for head in added:
        element = new.elements[head["id"]]
        for field in CODE_FIELDS:
            if element.shown(field):
                found.append(
                    {**head, "field": field, "label": FIELD_LABELS[field], "old": None, "new": element.shown(field)}
                )
    for entry in changed:
        for change in entry["changes"]:
            if change["field"] in CODE_FIELDS:
                found.append(
                    {
                        "id": entry["id"],
                        "type": entry["type"],
                        "name": entry["name"],
                        "field": change["field"],
                        "label": change["label"],
                        "old": change["old"],
                        "new": change["new"],
                    }
                )
    return found


def diff_forms(old_forms: dict, new_forms: dict) -> dict:
    """Forms by form key (sorted); within a form, the keys of the fields (components with a `key`;
    text blocks have none) added, removed, or whose label, type, validation or options differ."""
    changed = []
    for key in sorted(set(old_forms) & set(new_forms)):
        old_fields, new_fields = _form_fields(old_forms[key]), _form_fields(new_forms[key])
        entry = {
            "key": key,
            "fields_added": [k for k in new_fields if k not in old_fields],
            "fields_removed": [k for k in old_fields if k not in new_fields],
            "fields_changed": [
                k
                for k, field in new_fields.items()
                if k in old_fields and any(old_fields[k].get(p) != field.get(p) for p in FORM_FIELD_PROPERTIES)
            ],
        }
        if entry["fields_added"] or entry["fields_removed"] or entry["fields_changed"]:
            changed.append(entry)
    return {
        "added": sorted(set(new_forms) - set(old_forms)),
        "removed": sorted(set(old_forms) - set(new_forms)),
        "changed": changed,
    }


def _head(element_id: str, element: _Element) -> dict:
    return {"id": element_id, "type": element.type, "name": element.name}


def _labels(element: _Element, before: _Element) -> dict[str, str]:
    """Every field either side has, in a stable order: the fixed fields first, then properties."""
    fields = list(element.values) + [f for f in before.values if f not in element.values]
    labels = {}
    for field in fields:
        if field == "name" and element.type == "lane":
            labels[field] = "角色"  # a lane's name is the role expression that picks its people
        else:
            labels[field] = FIELD_LABELS.get(field) or PROPERTY_LABELS.get(field) or field
    return labels


def _summary(added: list, removed: list, changed: list, forms: dict) -> str:
    text = f"新增 {len(added)} 个元素，删除 {len(removed)} 个，修改 {len(changed)} 个"
    parts = [
        f"{verb} {len(forms[kind])} 个"
        for kind, verb in (("added", "新增"), ("removed", "删除"), ("changed", "修改"))
        if forms[kind]
    ]
    return text + ("；表单" + "、".join(parts) if parts else "")


def _form_fields(form) -> dict[str, dict]:
    """Components with a key, in form order, nested ones (groups, dynamic lists) included."""
    found: dict[str, dict] = {}

    def walk(components):
        for component in components if isinstance(components, list) else []:
            if not isinstance(component, dict):
                continue
            if component.get("key"):
                found.setdefault(component["key"], component)
            walk(component.get("components"))

    walk(form.get("components") if isinstance(form, dict) else None)
    return found


class _Element:
    """One element's comparable fields: {field: (compared value, shown value)}. Values differ when an
    element is compared by reference (a lane by id) but shown by what people read (the lane's name)."""

    def __init__(self, type_: str, name: str | None):
        self.type, self.name = type_, name
        self.values: dict[str, tuple] = {}

    def set(self, field: str, value, shown=None) -> None:
        if value is not None and value != "":
            self.values[field] = (value, value if shown is None else shown)

    def compared(self, field: str):
        return self.values.get(field, (None, None))[0]

    def shown(self, field: str):
        return self.values.get(field, (None, None))[1]


class _Diagram:
    """The comparable elements of a diagram's executable process, in document order."""

    def __init__(self, xml: str | None):
        self.elements: dict[str, _Element] = {}
        if xml is None:
            return
        root = etree.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml, parser=xmlparse.hardened_parser())
        process = _executable_process(root)
        if process is None:
            return
        self.messages = {m.get("id"): m.get("name") or m.get("id") for m in root.xpath("./bpmn:message", namespaces=NS)}
        self.names = {node.get("id"): node.get("name") for node in process.iter() if isinstance(node.tag, str)}
        self.lane_of: dict[str, etree._Element] = {}
        for lane in process.iter(f"{{{BPMN}}}lane"):
            for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS):
                self.lane_of[(ref.text or "").strip()] = lane  # inner lanes come later and win
        for node in process.iter():
            if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN or not node.get("id"):
                continue
            kind = etree.QName(node).localname
            parent = node.getparent()
            in_container = parent is not None and etree.QName(parent).localname in CONTAINERS
            if (
                node is process
                or kind == "lane"
                or (in_container and (kind in FLOW_NODE_KINDS or kind == "sequenceFlow"))
            ):
                self.elements.setdefault(node.get("id"), self._element(node, kind))

    def _label(self, element_id: str | None) -> str | None:
        """How a referenced element is shown: its name, else its id."""
        if not element_id:
            return None
        return _clean(self.names.get(element_id)) or element_id

    def _element(self, node, kind: str) -> _Element:
        element = _Element(kind, _clean(node.get("name")) or None)
        element.set("name", _clean(node.get("name")))
        element.set("type", kind)
        element.set(
            "documentation", _clean(" ".join(d.text or "" for d in node.xpath("./bpmn:documentation", namespaces=NS)))
        )
        if kind in FLOW_NODE_KINDS:
            lane = self.lane_of.get(node.get("id"))
            if lane is not None:
                element.set("lane", lane.get("id"), _clean(lane.get("name")) or lane.get("id"))
        if kind == "sequenceFlow":
            source, target = node.get("sourceRef"), node.get("targetRef")
            element.set("flow", (source, target), f"{self._label(source)} → {self._label(target)}")
            element.set("condition", _expression(node, "./bpmn:conditionExpression"))
        if node.get("default"):
            element.set("default", node.get("default"), self._label(node.get("default")))
        if kind == "boundaryEvent":
            element.set("attachedTo", node.get("attachedToRef"), self._label(node.get("attachedToRef")))
            element.set("cancelActivity", "否" if node.get("cancelActivity") == "false" else "是")
        element.set("script", _script(node.xpath("./bpmn:script", namespaces=NS)))
        for extension in ("preScript", "postScript"):
            element.set(
                extension, _script(node.xpath(f"./bpmn:extensionElements/spiffworkflow:{extension}", namespaces=NS))
            )
        definitions = [
            d for d in node if isinstance(d.tag, str) and etree.QName(d).localname.endswith("EventDefinition")
        ]
        element.set("eventDefinition", ", ".join(etree.QName(d).localname for d in definitions))
        for definition in definitions:
            definition_kind = etree.QName(definition).localname
            if definition_kind == "timerEventDefinition":
                element.set(
                    "timer",
                    "；".join(
                        f"{TIMER_KINDS[t]} {_clean(e.text)}"
                        for t in TIMER_KINDS
                        for e in definition.xpath(f"./bpmn:{t}", namespaces=NS)
                    ),
                )
            elif definition_kind == "messageEventDefinition":
                self._message(element, definition)
            elif definition_kind == "conditionalEventDefinition":
                element.set("condition", _expression(definition, "./bpmn:condition"))
        if kind in ("sendTask", "receiveTask"):
            self._message(element, node)
        element.set("multiInstance", _multi_instance(node))
        element.set("calledElement", node.get("calledElement"))
        for child in node.xpath("./bpmn:extensionElements/*", namespaces=NS):
            if not isinstance(child.tag, str) or etree.QName(child).namespace != SPIFF:
                continue
            child_kind = etree.QName(child).localname
            if child_kind == "properties":
                for prop in child.xpath("./spiffworkflow:property[@name]", namespaces=NS):
                    element.set(prop.get("name"), _clean(prop.get("value")))
            elif child_kind not in ("preScript", "postScript", "messagePayload", "messageVariable"):
                element.set(child_kind, _clean(child.text))  # calledDecisionId, instructionsForEndUser, …
        return element

    def _message(self, element: _Element, node) -> None:
        ref = node.get("messageRef")
        element.set("message", self.messages.get(ref, ref) if ref else None)
        element.set("messagePayload", _expression(node, "./bpmn:extensionElements/spiffworkflow:messagePayload"))
        element.set("messageVariable", _expression(node, "./bpmn:extensionElements/spiffworkflow:messageVariable"))


def _executable_process(root):
    processes = root.xpath("./bpmn:process[@isExecutable='true']", namespaces=NS) or root.xpath(
        "./bpmn:process", namespaces=NS
    )
    return processes[0] if processes else None


def _clean(text: str | None) -> str:
    """Text as people read it: runs of whitespace (indentation, line breaks) count as one space."""
    return " ".join((text or "").split())


def _expression(node, path: str) -> str:
    # Whitespace inside a string literal would matter, but a modeler never reflows one; reindenting
    # or rewrapping the XML must not show up as a change.
    return " ".join(_clean(e.text) for e in node.xpath(path, namespaces=NS)).strip()


def _script(nodes) -> str:
    """Python source with indentation kept (it is meaningful) but not the XML's own indentation,
    trailing spaces, line endings or surrounding blank lines."""
    source = "\n".join(n.text or "" for n in nodes).replace("\r\n", "\n")
    return "\n".join(line.rstrip() for line in textwrap.dedent(source).split("\n")).strip("\n")


def _multi_instance(node) -> str | None:
    loops = node.xpath("./bpmn:multiInstanceLoopCharacteristics", namespaces=NS)
    if not loops:
        return None
    loop = loops[0]

    def text(path: str) -> str:
        return _expression(loop, path)

    def item(path: str) -> str:
        found = loop.xpath(path, namespaces=NS)
        return (found[0].get("name") or found[0].get("id") or "") if found else ""

    collection_in = " → ".join(filter(None, [text("./bpmn:loopDataInputRef"), item("./bpmn:inputDataItem")]))
    collection_out = " ← ".join(filter(None, [text("./bpmn:loopDataOutputRef"), item("./bpmn:outputDataItem")]))
    parts = ["依次" if loop.get("isSequential") == "true" else "并行"]
    for label, value in (
        ("数量", text("./bpmn:loopCardinality")),
        ("输入", collection_in),
        ("输出", collection_out),
        ("完成条件", text("./bpmn:completionCondition")),
    ):
        if value:
            parts.append(f"{label} {value}")
    return "；".join(parts)
