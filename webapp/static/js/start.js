/* 发起流程: instant filtering, and starting a case (then its first task if it is mine, else the case). */
(function () {
  "use strict";
  var B = window.BPM, t = B.t;
  var box = document.getElementById("start-q");
  var empty = document.getElementById("start-empty");

  function filter() {
    var q = box.value.trim().toLowerCase();
    var shown = 0;
    document.querySelectorAll("[data-group]").forEach(function (group) {
      var visible = 0;
      group.querySelectorAll(".tile").forEach(function (tile) {
        var match = !q || tile.dataset.name.toLowerCase().indexOf(q) >= 0;
        tile.hidden = !match;
        if (match) visible++;
      });
      group.hidden = !visible;
      shown += visible;
    });
    empty.hidden = shown > 0;
  }
  box.addEventListener("input", filter);

  document.querySelectorAll(".start-btn").forEach(function (button) {
    button.disabled = false;  // disabled in the HTML until this handler exists
    button.addEventListener("click", function () {
      button.disabled = true;
      var url = window.START_URL.replace("{key}", encodeURIComponent(button.dataset.key));
      B.api("POST", url.replace(/^\/api\/v1/, ""), {data: {}}).then(function (res) {
        button.disabled = false;
        if (!res.ok) { B.flash(B.message(res), "bad"); return; }
        var me = document.querySelector(".me-name").title;
        var mine = (res.body.tasks || []).filter(function (task) {
          return task.state === "open" && (task.assignee === me ||
            (!task.assignee && (task.candidate_users || []).indexOf(me) >= 0));
        });
        B.flash(t("已发起") + " #" + res.body.id, "ok", true);
        location.href = mine.length ? "/tasks/" + encodeURIComponent(mine[0].id) : "/cases/" + res.body.id;
      });
    });
  });
})();
