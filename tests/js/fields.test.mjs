import assert from "node:assert/strict";
import {test} from "node:test";

import {composeDuration, isDuration, isFormKey, quickDuration, suggestFormKey} from "../../webapp/static/js/modeler/fields.js";
import {blankDiagram, escapeXml} from "../../webapp/static/js/modeler/blank.js";

test("ISO 8601 durations", () => {
  for (const text of ["P3D", "PT72H", "P1DT4H", "PT30M", "P1Y2M", "P2W", "PT1.5S"]) assert.ok(isDuration(text), text);
  for (const text of ["", "P", "PT", "3D", "P3", "PT3D", "3 天", "P1DT"]) assert.ok(!isDuration(text), text);
});

test("the quick setting reads days and hours, and writes them back", () => {
  assert.deepEqual(quickDuration("P3D"), {count: "3", unit: "D"});
  assert.deepEqual(quickDuration("PT72H"), {count: "72", unit: "H"});
  assert.deepEqual(quickDuration("P1DT4H"), {count: "", unit: "D"});
  assert.deepEqual(quickDuration(undefined), {count: "", unit: "D"});
  assert.equal(composeDuration("3", "D"), "P3D");
  assert.equal(composeDuration("72", "H"), "PT72H");
  assert.equal(composeDuration("0", "D"), null);
  assert.equal(composeDuration("", "H"), null);
});

test("form keys", () => {
  assert.ok(isFormKey("leave_request_2"));
  assert.ok(!isFormKey("2leave"));
  assert.ok(!isFormKey("Leave"));
  assert.ok(!isFormKey("leave-request"));
  assert.equal(suggestFormKey("asset_handover", "Activity_0x1"), "asset_handover_activity_0x1");
  assert.equal(suggestFormKey("_x", "Task-1"), "x_task_1");
  assert.ok(isFormKey(suggestFormKey("9a", "B c")));
});

test("a new procedure's diagram escapes its key and name", () => {
  assert.equal(escapeXml('<a & "b">'), "&lt;a &amp; &quot;b&quot;&gt;");
  const xml = blankDiagram("asset_handover", 'A & "B"', "发起");
  assert.ok(xml.includes('<bpmn:process id="asset_handover" name="A &amp; &quot;B&quot;" isExecutable="true">'));
  assert.ok(xml.includes('<bpmn:lane id="lane_initiator" name="initiator">'));
  assert.ok(xml.includes('<bpmn:startEvent id="start" name="发起"/>'));
  assert.ok(blankDiagram("k", "", "s").includes('name="k"'));
});
