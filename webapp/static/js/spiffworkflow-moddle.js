/* The moddle descriptor of SpiffWorkflow's extension namespace, so bpmn-js reads and writes what the engine
   reads: <spiffworkflow:properties><spiffworkflow:property name= value=/>, messagePayload, calledDecisionId,
   pre/post scripts. Type names are capitalised (moddle's convention) and `tagAlias: lowerCase` writes them
   with a lower-case first letter, exactly as the library files spell them. */
(function (root) {
  "use strict";

  function body(name) {  // an element whose text is the value: <spiffworkflow:x>text</spiffworkflow:x>
    return {name: name, superClass: ["Element"], properties: [{name: "value", isBody: true, type: "String"}]};
  }

  var descriptor = {
    name: "SpiffWorkflow",
    uri: "http://spiffworkflow.org/bpmn/schema/1.0/core",
    prefix: "spiffworkflow",
    xml: {tagAlias: "lowerCase"},
    associations: [],
    types: [
      {name: "Properties", superClass: ["Element"],
       properties: [{name: "properties", type: "Property", isMany: true}]},
      {name: "Property", superClass: ["Element"],
       properties: [{name: "name", isAttr: true, type: "String"}, {name: "value", isAttr: true, type: "String"}]},
      body("MessagePayload"),
      body("MessageVariable"),
      body("CalledDecisionId"),
      body("PreScript"),
      body("PostScript")
    ]
  };

  if (typeof module === "object" && module.exports) module.exports = descriptor;
  else root.SPIFF_MODDLE = descriptor;
})(this);
