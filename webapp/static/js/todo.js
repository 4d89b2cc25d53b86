/* 待办: claim from the list, and 批量同意 (POST /tasks/bulk-complete) with a result per task. */
(function () {
  "use strict";
  var B = window.BPM, t = B.t;

  var all = document.getElementById("check-all");
  var picks = Array.prototype.slice.call(document.querySelectorAll(".pick"));
  if (all) {
    all.addEventListener("change", function () { picks.forEach(function (p) { p.checked = all.checked; }); });
  }

  document.querySelectorAll(".claim").forEach(function (button) {
    button.addEventListener("click", function () {
      button.disabled = true;
      var id = button.dataset.task;
      B.api("POST", "/tasks/" + encodeURIComponent(id) + "/claim", {}).then(function (res) {
        if (res.ok) {
          B.flash(t("已认领"), "ok", true);
          location.href = "/tasks/" + encodeURIComponent(id);
        } else {
          button.disabled = false;
          B.flash(B.message(res), "bad");
        }
      });
    });
  });

  var bulk = document.getElementById("bulk");
  if (!bulk) return;
  bulk.addEventListener("submit", function (e) {
    e.preventDefault();
    var ids = picks.filter(function (p) { return p.checked; }).map(function (p) { return p.value; });
    if (!ids.length) { B.flash(t("请先勾选任务"), "bad"); return; }
    var button = bulk.querySelector("button");
    button.disabled = true;
    button.textContent = t("正在处理…");
    B.api("POST", "/tasks/bulk-complete", {task_ids: ids, comment: bulk.comment.value}).then(function (res) {
      button.disabled = false;
      button.textContent = button.dataset.label || button.textContent;
      if (!res.ok) { B.flash(B.message(res), "bad"); return; }
      var ok = 0, failed = 0;
      (res.body.results || []).forEach(function (r) {
        var row = document.querySelector('.item[data-task="' + CSS.escape(r.task_id) + '"]');
        if (r.ok) ok++; else failed++;
        if (!row) return;
        var box = row.querySelector(".item-result");
        box.hidden = false;
        box.className = "item-result " + (r.ok ? "ok" : "bad");
        box.textContent = (r.ok ? t("成功") : t("失败")) + (r.message ? "：" + r.message : "");
        if (r.ok) {
          row.classList.add("finished");
          var pick = row.querySelector(".pick");
          pick.checked = false;
          pick.disabled = true;
        }
      });
      B.flash(t("批量同意完成：成功 {ok} 个，失败 {failed} 个", {ok: ok, failed: failed}), failed ? "bad" : "ok");
    });
  });
  var submit = bulk.querySelector("button");
  submit.dataset.label = submit.textContent;
})();
