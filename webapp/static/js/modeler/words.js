/* The diagram vocabulary served by GET /api/v1/vocabulary (engine/definitions/vocabulary.py), looked up
   the way the modeler needs it. Pure: no DOM, no translation (callers translate what they show). */

/* "bpmn:UserTask" -> "userTask", the local name the vocabulary's kinds are keyed by. */
export function localName(type) {
  const name = String(type).replace(/^bpmn:/, "");
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/* The label of an element kind, else its type without the prefix. */
export function kindLabel(vocabulary, type) {
  return vocabulary.kinds[localName(type)] || String(type).replace(/^bpmn:/, "");
}

/* [[value, label]] of the approval modes. */
export function approvalModeChoices(vocabulary) {
  return vocabulary.approval_modes.map((mode) => [mode.value, mode.label]);
}

/* The label of an escalation kind (notify, move). */
export function escalationLabel(vocabulary, kind) {
  const found = vocabulary.escalations.find((e) => e.kind === kind);
  return found ? found.label : kind;
}
