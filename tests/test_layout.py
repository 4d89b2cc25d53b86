"""scripts/layout.py: the generated DI covers every element, passes the BPMN schema, leaves the semantic
part alone, and `--check` tells stale DI from fresh."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator

from engine.config import PROJECT_ROOT

LAYOUT = PROJECT_ROOT / "scripts" / "layout.py"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
DI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
NODES = ("Event", "Gateway", "Task", "task", "subProcess")

# Parallel split/join, a reject loop back three columns, a multi-instance task with an interrupting and a
# non-interrupting boundary timer, an expanded subprocess, a timer start and a message start.
SYNTHETIC = """<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs_synth" targetNamespace="http://itsm-bpm/test">
  <bpmn:message id="msg_apply" name="apply"/>
  <bpmn:process id="synth" name="Synthetic layout test" isExecutable="true">
    <bpmn:documentation>Layout test: every construct the tool must draw.</bpmn:documentation>
    <bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="ownerRole" value="qg"/></spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:laneSet id="ls">
      <bpmn:lane id="lane_initiator" name="initiator">
        <bpmn:flowNodeRef>start_timer</bpmn:flowNodeRef><bpmn:flowNodeRef>start_msg</bpmn:flowNodeRef><bpmn:flowNodeRef>gw_in</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>register</bpmn:flowNodeRef><bpmn:flowNodeRef>split</bpmn:flowNodeRef><bpmn:flowNodeRef>prepare_a</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>join</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_qg" name="qg">
        <bpmn:flowNodeRef>prepare_b</bpmn:flowNodeRef><bpmn:flowNodeRef>review</bpmn:flowNodeRef><bpmn:flowNodeRef>remind</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>reminded</bpmn:flowNodeRef><bpmn:flowNodeRef>gw_review</bpmn:flowNodeRef><bpmn:flowNodeRef>execute</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_gm" name="gm">
        <bpmn:flowNodeRef>late</bpmn:flowNodeRef><bpmn:flowNodeRef>escalate</bpmn:flowNodeRef><bpmn:flowNodeRef>end_escalated</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start_timer" name="每月一日">
      <bpmn:outgoing>f_timer</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeCycle>R/2027-01-01T09:00:00+08:00/P1M</bpmn:timeCycle></bpmn:timerEventDefinition>
    </bpmn:startEvent>
    <bpmn:startEvent id="start_msg" name="收到申请">
      <bpmn:outgoing>f_msg</bpmn:outgoing>
      <bpmn:messageEventDefinition id="med_apply" messageRef="msg_apply"/>
    </bpmn:startEvent>
    <bpmn:exclusiveGateway id="gw_in"><bpmn:incoming>f_timer</bpmn:incoming><bpmn:incoming>f_msg</bpmn:incoming><bpmn:outgoing>f_in</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="register" name="登记"><bpmn:incoming>f_in</bpmn:incoming><bpmn:incoming>f_reject</bpmn:incoming><bpmn:outgoing>f_reg</bpmn:outgoing></bpmn:userTask>
    <bpmn:parallelGateway id="split"><bpmn:incoming>f_reg</bpmn:incoming><bpmn:outgoing>f_a</bpmn:outgoing><bpmn:outgoing>f_b</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="prepare_a" name="准备材料 A"><bpmn:incoming>f_a</bpmn:incoming><bpmn:outgoing>f_a2</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="prepare_b" name="准备材料 B"><bpmn:incoming>f_b</bpmn:incoming><bpmn:outgoing>f_b2</bpmn:outgoing></bpmn:userTask>
    <bpmn:parallelGateway id="join"><bpmn:incoming>f_a2</bpmn:incoming><bpmn:incoming>f_b2</bpmn:incoming><bpmn:outgoing>f_join</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="review" name="各部门审核">
      <bpmn:incoming>f_join</bpmn:incoming><bpmn:outgoing>f_review</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="late" name="逾期" attachedToRef="review" cancelActivity="true">
      <bpmn:outgoing>f_late</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"P7D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:boundaryEvent id="remind" name="到期前提醒" attachedToRef="review" cancelActivity="false">
      <bpmn:outgoing>f_remind</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"P5D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="escalate" name="总经理督办"><bpmn:incoming>f_late</bpmn:incoming><bpmn:outgoing>f_esc</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end_escalated" name="已督办"><bpmn:incoming>f_esc</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="reminded" name="已提醒"><bpmn:incoming>f_remind</bpmn:incoming></bpmn:endEvent>
    <bpmn:exclusiveGateway id="gw_review" name="审核结果" default="f_ok"><bpmn:incoming>f_review</bpmn:incoming><bpmn:outgoing>f_ok</bpmn:outgoing><bpmn:outgoing>f_reject</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:subProcess id="execute" name="执行">
      <bpmn:incoming>f_ok</bpmn:incoming><bpmn:outgoing>f_exec</bpmn:outgoing>
      <bpmn:startEvent id="sub_start"><bpmn:outgoing>s1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:userTask id="sub_do" name="实施"><bpmn:incoming>s1</bpmn:incoming><bpmn:outgoing>s2</bpmn:outgoing></bpmn:userTask>
      <bpmn:userTask id="sub_verify" name="验证"><bpmn:incoming>s2</bpmn:incoming><bpmn:outgoing>s3</bpmn:outgoing></bpmn:userTask>
      <bpmn:endEvent id="sub_end"><bpmn:incoming>s3</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="sub_do"/>
      <bpmn:sequenceFlow id="s2" sourceRef="sub_do" targetRef="sub_verify"/>
      <bpmn:sequenceFlow id="s3" sourceRef="sub_verify" targetRef="sub_end"/>
    </bpmn:subProcess>
    <bpmn:endEvent id="end" name="完成"><bpmn:incoming>f_exec</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_timer" sourceRef="start_timer" targetRef="gw_in"/>
    <bpmn:sequenceFlow id="f_msg" sourceRef="start_msg" targetRef="gw_in"/>
    <bpmn:sequenceFlow id="f_in" sourceRef="gw_in" targetRef="register"/>
    <bpmn:sequenceFlow id="f_reg" sourceRef="register" targetRef="split"/>
    <bpmn:sequenceFlow id="f_a" sourceRef="split" targetRef="prepare_a"/>
    <bpmn:sequenceFlow id="f_b" sourceRef="split" targetRef="prepare_b"/>
    <bpmn:sequenceFlow id="f_a2" sourceRef="prepare_a" targetRef="join"/>
    <bpmn:sequenceFlow id="f_b2" sourceRef="prepare_b" targetRef="join"/>
    <bpmn:sequenceFlow id="f_join" name="材料齐全" sourceRef="join" targetRef="review"/>
    <bpmn:sequenceFlow id="f_review" sourceRef="review" targetRef="gw_review"/>
    <bpmn:sequenceFlow id="f_ok" name="通过" sourceRef="gw_review" targetRef="execute"/>
    <bpmn:sequenceFlow id="f_reject" name="退回" sourceRef="gw_review" targetRef="register">
      <bpmn:conditionExpression>decision == "reject"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_late" sourceRef="late" targetRef="escalate"/>
    <bpmn:sequenceFlow id="f_esc" sourceRef="escalate" targetRef="end_escalated"/>
    <bpmn:sequenceFlow id="f_remind" sourceRef="remind" targetRef="reminded"/>
    <bpmn:sequenceFlow id="f_exec" sourceRef="execute" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(LAYOUT), *map(str, args)], capture_output=True, text=True)


def semantic(root: etree._Element) -> bytes:
    root = etree.fromstring(etree.tostring(root))
    for el in root.findall(f"{DI}BPMNDiagram") + root.findall(f"{BPMN}collaboration"):
        root.remove(el)
    return etree.tostring(root, method="c14n2", strip_text=True)  # the layout re-indents around what it adds


def test_layout_draws_every_element_and_keeps_the_semantics(tmp_path):
    path = tmp_path / "synthetic.bpmn"
    path.write_text(SYNTHETIC, encoding="utf-8")
    assert run(path).returncode == 0
    root = etree.parse(str(path)).getroot()
    BpmnValidator().validate(root)  # raises on a schema error
    assert semantic(root) == semantic(etree.fromstring(SYNTHETIC.encode()))
    assert root.find(f"{BPMN}collaboration/{BPMN}participant").get("processRef") == "synth"

    shapes = {s.get("bpmnElement"): s for s in root.iter(f"{DI}BPMNShape")}
    edges = {e.get("bpmnElement"): e for e in root.iter(f"{DI}BPMNEdge")}
    nodes = [n for n in root.iter() if isinstance(n.tag, str) and n.tag.endswith(NODES)]
    lanes = list(root.iter(f"{BPMN}lane"))
    assert len(nodes) == 21 and len(lanes) == 3
    assert {n.get("id") for n in nodes} | {ln.get("id") for ln in lanes} | {"participant_synth"} == set(shapes)
    flows = list(root.iter(f"{BPMN}sequenceFlow"))
    assert {f.get("id") for f in flows} == set(edges)
    for edge in edges.values():
        points = [(float(p.get("x")), float(p.get("y"))) for p in edge.iter("{*}waypoint")]
        assert len(points) >= 2
        assert all(a[0] == b[0] or a[1] == b[1] for a, b in itertools.pairwise(points))  # orthogonal
    assert shapes["execute"].get("isExpanded") == "true"
    assert shapes["gw_review"].get("isMarkerVisible") == "true"

    def bounds(ref):
        b = shapes[ref].find("{*}Bounds")
        return [float(b.get(k)) for k in ("x", "y", "width", "height")]

    def overlap(a, b):
        return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]

    # No two flow nodes overlap, except a subprocess with its content and an activity with its boundary events.
    inside = {n.get("id"): n.getparent().get("id") for n in nodes}
    attached = {n.get("id"): n.get("attachedToRef") for n in nodes}
    ids = [n.get("id") for n in nodes]
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            if b not in (inside[a], attached[a]) and a not in (inside[b], attached[b]):
                assert not overlap(bounds(a), bounds(b)), (a, b)
    for late in ("late", "remind"):  # boundary events sit on the bottom edge of the activity
        assert bounds(late)[1] + 18 == bounds("review")[1] + bounds("review")[3]
    lane_y = [bounds(ln.get("id"))[1] for ln in lanes]
    assert lane_y == sorted(lane_y)  # stacked in the laneSet's order


def test_check_reports_missing_and_stale_di(tmp_path):
    path = tmp_path / "synthetic.bpmn"
    path.write_text(SYNTHETIC, encoding="utf-8")
    assert run("--check", path).returncode == 1  # no DI at all
    run(path)
    assert run("--check", path).returncode == 0

    # An author adds a task: its shape and its flow's edge are missing.
    text = path.read_text(encoding="utf-8").replace(
        '<bpmn:endEvent id="end" name="完成">',
        '<bpmn:task id="archive" name="归档"/>'
        '<bpmn:sequenceFlow id="f_archive" sourceRef="archive" targetRef="end"/>'
        '<bpmn:endEvent id="end" name="完成">',
    )
    path.write_text(text, encoding="utf-8")
    result = run("--check", path)
    assert result.returncode == 1 and "archive" in result.stdout and "f_archive" in result.stdout
    run(path)
    assert run("--check", path).returncode == 0

    # An author removes a node: its DI is left over.
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('<bpmn:task id="archive" name="归档"/>', ""), encoding="utf-8")
    result = run("--check", path)
    assert result.returncode == 1 and "removed archive" in result.stdout
