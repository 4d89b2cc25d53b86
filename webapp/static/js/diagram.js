/* The case diagram: bpmn-js NavigatedViewer with the path taken (green) and the current steps (orange). */
(function () {
  "use strict";
  var B = window.BPM;
  var host = document.getElementById("diagram");
  if (!host || !window.BpmnJS) return;

  B.api("GET", "/instances/" + host.dataset.instance + "/diagram").then(function (res) {
    if (!res.ok) { host.textContent = B.t("流程图加载失败") + "：" + B.message(res); return; }
    var viewer = new window.BpmnJS({container: host});
    viewer.importXML(res.body.bpmn_xml).then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      var done = {}, current = {};
      (res.body.completed || []).forEach(function (id) { done[id] = true; });
      (res.body.current || []).forEach(function (id) { current[id] = true; });
      registry.getAll().forEach(function (element) {
        var id = element.id;
        if (current[id]) canvas.addMarker(id, "bpm-current");
        else if (done[id]) canvas.addMarker(id, "bpm-done");
        var bo = element.businessObject;
        if (element.type === "bpmn:SequenceFlow" && bo.sourceRef && bo.targetRef &&
            done[bo.sourceRef.id] && done[bo.targetRef.id]) {
          canvas.addMarker(id, "bpm-done-flow");
        }
      });
      canvas.zoom("fit-viewport", "auto");
    }).catch(function (err) {
      host.textContent = B.t("流程图加载失败") + "：" + err.message;
    });
  });
})();
