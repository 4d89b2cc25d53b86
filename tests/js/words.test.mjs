import assert from "node:assert/strict";
import {test} from "node:test";

import {approvalModeChoices, escalationLabel, kindLabel, localName} from "../../webapp/static/js/modeler/words.js";
import {vocabulary} from "./vocabulary.mjs";

test("bpmn-js types name the vocabulary's element kinds", () => {
  assert.equal(localName("bpmn:UserTask"), "userTask");
  assert.equal(localName("bpmn:Process"), "process");
  assert.equal(kindLabel(vocabulary, "bpmn:UserTask"), "用户任务");
  assert.equal(kindLabel(vocabulary, "bpmn:SequenceFlow"), "连线");
  assert.equal(kindLabel(vocabulary, "bpmn:Participant"), "池");
  assert.equal(kindLabel(vocabulary, "bpmn:Unheard"), "Unheard");
});

test("every shape the modeler's palette makes has a label", () => {
  for (const type of ["Process", "Participant", "Lane", "Task", "UserTask", "ManualTask", "ScriptTask", "ServiceTask",
                      "SendTask", "ReceiveTask", "BusinessRuleTask", "SubProcess", "CallActivity", "ExclusiveGateway",
                      "InclusiveGateway", "ParallelGateway", "EventBasedGateway", "StartEvent", "EndEvent",
                      "IntermediateCatchEvent", "IntermediateThrowEvent", "BoundaryEvent", "SequenceFlow", "MessageFlow",
                      "TextAnnotation", "Group", "DataObjectReference", "DataStoreReference"]) {
    assert.ok(vocabulary.kinds[localName("bpmn:" + type)], type);
  }
});

test("approval modes and escalations come with their labels", () => {
  assert.deepEqual(approvalModeChoices(vocabulary),
                   [["all", "会签（全部同意）"], ["any", "或签（一人同意即可）"], ["sequential", "依次审批"]]);
  assert.equal(escalationLabel(vocabulary, "notify"), "通知");
  assert.equal(escalationLabel(vocabulary, "move"), "转给");
  assert.equal(escalationLabel(vocabulary, "other"), "other");
});
