/* The diagram a new procedure starts from: one pool, one lane for the initiator, a start event. Pure. */

export function escapeXml(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function blankDiagram(key, name, startName) {
  const k = escapeXml(key), n = escapeXml(name || key);
  return '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" ' +
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" ' +
    'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" ' +
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="definitions_' + k + '" targetNamespace="http://bpmn.io/schema/bpmn">' +
    '<bpmn:collaboration id="collab_' + k + '"><bpmn:participant id="participant_' + k + '" name="' + n +
    '" processRef="' + k + '"/></bpmn:collaboration>' +
    '<bpmn:process id="' + k + '" name="' + n + '" isExecutable="true">' +
    '<bpmn:laneSet id="laneset_' + k + '"><bpmn:lane id="lane_initiator" name="initiator">' +
    '<bpmn:flowNodeRef>start</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>' +
    '<bpmn:startEvent id="start" name="' + escapeXml(startName) + '"/></bpmn:process>' +
    '<bpmndi:BPMNDiagram id="diagram_' + k + '"><bpmndi:BPMNPlane id="plane_' + k + '" bpmnElement="collab_' + k + '">' +
    '<bpmndi:BPMNShape id="participant_' + k + '_di" bpmnElement="participant_' + k + '" isHorizontal="true">' +
    '<dc:Bounds x="160" y="80" width="1000" height="220"/></bpmndi:BPMNShape>' +
    '<bpmndi:BPMNShape id="lane_initiator_di" bpmnElement="lane_initiator" isHorizontal="true">' +
    '<dc:Bounds x="190" y="80" width="970" height="220"/></bpmndi:BPMNShape>' +
    '<bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="262" y="172" width="36" height="36"/>' +
    '<bpmndi:BPMNLabel><dc:Bounds x="266" y="215" width="28" height="14"/></bpmndi:BPMNLabel></bpmndi:BPMNShape>' +
    '</bpmndi:BPMNPlane></bpmndi:BPMNDiagram></bpmn:definitions>';
}
