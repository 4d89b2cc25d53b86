import assert from "node:assert/strict";
import {test} from "node:test";

import {laneGrammar} from "../../webapp/static/js/modeler/lanes.js";
import {vocabulary} from "./vocabulary.mjs";

const lanes = laneGrammar(vocabulary.role_expression);

test("a lane name is taken apart into role, field and exclusions", () => {
  assert.deepEqual(lanes.parse("gm"), {role: "gm", field: "", noInitiator: false, others: []});
  assert.deepEqual(lanes.parse(" dept_head@business_dept!initiator "),
                   {role: "dept_head", field: "business_dept", noInitiator: true, others: []});
  assert.deepEqual(lanes.parse("user@team!dept@dept!initiator"),
                   {role: "user", field: "team", noInitiator: true, others: ["dept@dept"]});
});

test("what the engine cannot read is no role expression", () => {
  for (const name of ["", "总经理", "Gm", "gm@", "gm!", "dept_head@Field", "gm!!initiator"]) {
    assert.equal(lanes.parse(name), null, name);
  }
});

test("composing gives back the name it was taken from", () => {
  for (const name of ["gm", "dept_head@business_dept", "dept_head!initiator", "user@team!dept@dept", "auditor!user@leader"]) {
    assert.equal(lanes.compose(lanes.parse(name)), name);
  }
});

test("the initiator takes no field and is not excluded from itself", () => {
  assert.equal(lanes.compose({role: "initiator", field: "x", noInitiator: true, others: []}), "initiator");
  assert.equal(lanes.compose({role: "qg", field: "", noInitiator: true, others: ["user@leader"]}),
               "qg!initiator!user@leader");
});

test("a field is a form field's name", () => {
  assert.ok(lanes.isField("business_dept"));
  assert.ok(lanes.isField("_item"));
  assert.ok(!lanes.isField("1dept"));
  assert.ok(!lanes.isField("Dept"));
});
