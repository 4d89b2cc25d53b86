/* 流程清单 pages: a version's or a draft's diagram (with the diff marked), rollback, a new procedure,
   and the migration of running cases. */
(function () {
  "use strict";
  var B = window.BPM;

  function showDiagram(host) {
    if (!window.BpmnJS) return;
    var wantDiff = host.dataset.diff ? B.api("GET", host.dataset.diff) : Promise.resolve(null);
    Promise.all([B.api("GET", host.dataset.src), wantDiff]).then(function (res) {
      var content = res[0], diff = res[1];
      if (!content.ok) { host.textContent = B.t("流程图加载失败") + "：" + B.message(content); return; }
      var viewer = new window.BpmnJS({container: host});
      viewer.importXML(content.body.bpmn_xml).then(function () {
        var canvas = viewer.get("canvas"), registry = viewer.get("elementRegistry");
        function mark(list, marker) {
          (list || []).forEach(function (e) { if (registry.get(e.id)) canvas.addMarker(e.id, marker); });
        }
        if (diff && diff.ok) {
          if (host.dataset.side === "old") mark(diff.body.removed, "bpm-removed");
          else { mark(diff.body.added, "bpm-added"); mark(diff.body.changed, "bpm-changed"); }
        }
        canvas.zoom("fit-viewport", "auto");
      }).catch(function (err) { host.textContent = B.t("流程图加载失败") + "：" + err.message; });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll(".diagram[data-src]"), showDiagram);

  Array.prototype.forEach.call(document.querySelectorAll("button.rollback"), function (btn) {
    btn.addEventListener("click", function () {
      var key = btn.dataset.key, version = btn.dataset.version;
      if (!confirm(B.t("以版本 {v} 的内容新建草稿？草稿须经变更审批（或管理员直接部署）后才会作为新版本生效。", {v: version}))) return;
      btn.disabled = true;
      B.api("POST", "/processes/" + key + "/versions/" + version + "/rollback").then(function (res) {
        btn.disabled = false;
        if (!res.ok) { B.flash(B.message(res), "bad"); return; }
        location.href = "/modeler/" + encodeURIComponent(key) + "?draft=" + res.body.id;
      });
    });
  });

  var create = document.getElementById("new-process");
  if (create) {
    create.addEventListener("click", function () {
      var key = (prompt(B.t("新流程的标识（小写字母开头，字母、数字、下划线），例如 asset_handover") || "") || "").trim();
      if (!key) return;
      if (!/^[a-z][a-z0-9_]{1,63}$/.test(key)) { B.flash(B.t("流程标识格式不正确：{key}", {key: key}), "bad"); return; }
      if (document.querySelector('#catalogue tr[data-key="' + key + '"]')) {
        B.flash(B.t("流程已存在：{key}", {key: key}), "bad"); return;
      }
      location.href = "/modeler/" + key + "?new=1";
    });
  }

  var box = document.getElementById("migration");
  if (box) {
    var all = document.getElementById("pick-all");
    function picked() {
      return Array.prototype.filter.call(box.querySelectorAll("input.pick"), function (c) { return c.checked; })
        .map(function (c) { return Number(c.value); });
    }
    if (all) all.addEventListener("change", function () {
      Array.prototype.forEach.call(box.querySelectorAll("input.pick"), function (c) { c.checked = all.checked; });
    });
    function run(dry) {
      var ids = picked();
      if (!ids.length) { B.flash(B.t("请先选择案件"), "bad"); return; }
      if (!dry && !confirm(B.t("把选中的 {n} 个案件迁移到 V{v}？不能安全迁移的案件保持不变。", {n: ids.length, v: box.dataset.version}))) return;
      B.api("POST", "/processes/" + box.dataset.key + "/migrations", {instance_ids: ids, dry_run: dry}).then(function (res) {
        if (!res.ok) { B.flash(B.message(res), "bad"); return; }
        var moved = 0;
        res.body.forEach(function (check) {
          var cell = box.querySelector('tr[data-instance="' + check.instance_id + '"] .result');
          if (!cell) return;
          if (check.ok) moved += 1;
          cell.className = "result " + (check.ok ? "ok" : "error");
          cell.textContent = check.ok ? (dry ? B.t("可以迁移") : B.t("已迁移到 V{v}", {v: check.to_version}))
                                      : check.reasons.join("；");
        });
        B.flash(dry ? B.t("试运行：{ok} 个可以迁移，{bad} 个不能", {ok: moved, bad: res.body.length - moved})
                    : B.t("已迁移 {ok} 个案件，{bad} 个未迁移", {ok: moved, bad: res.body.length - moved}),
                moved ? "ok" : "bad");
      });
    }
    document.getElementById("dry-run").addEventListener("click", function () { run(true); });
    document.getElementById("run-migration").addEventListener("click", function () { run(false); });
  }
})();
