/* The case page's actions from GET /api/v1/instances/<id>: 撤回, 抄送, 催办. */
(function () {
  "use strict";
  var B = window.BPM, t = B.t, el = B.el;
  var bar = document.getElementById("case-actions");
  var id = bar.dataset.instance;
  var path = "/instances/" + id;

  function after(okText) {
    B.flash(okText, "ok", true);
    location.reload();
  }

  function withdraw() {
    var comment = B.commentBox(t("撤回原因"));
    B.dialog(t("撤回"), [el("p", {text: t("确定撤回该案件吗？")}), B.field(t("撤回原因"), comment)], function (close, fail) {
      B.api("POST", path + "/withdraw", {comment: comment.value}).then(function (res) {
        if (res.ok) { close(); after(t("已撤回")); } else fail(B.message(res));
      });
    });
  }

  function cc() {
    var picker = B.userPicker(true);
    var comment = B.commentBox();
    B.dialog(t("抄送"), [B.field(t("抄送给"), picker.node), B.field(t("意见"), comment)], function (close, fail) {
      var users = picker.value();
      if (!users.length) { fail(t("请选择人员")); return; }
      B.api("POST", path + "/cc", {users: users, comment: comment.value}).then(function (res) {
        if (res.ok) { close(); after(t("已抄送")); } else fail(B.message(res));
      });
    });
  }

  function urge() {
    var comment = B.commentBox(t("催办说明"));
    B.dialog(t("催办"), [B.field(t("催办说明"), comment)], function (close, fail) {
      B.api("POST", path + "/urge", {comment: comment.value}).then(function (res) {
        if (res.ok) { close(); after(t("已催办")); } else fail(B.message(res));  // 429: once an hour
      });
    });
  }

  B.api("GET", path).then(function (res) {
    if (!res.ok) return;
    var actions = res.body.actions || [];
    [["withdraw", t("撤回"), withdraw], ["cc", t("抄送"), cc], ["urge", t("催办"), urge]].forEach(function (a) {
      if (actions.indexOf(a[0]) < 0) return;
      var b = el("button", {type: "button", class: "btn" + (a[0] === "withdraw" ? " danger" : ""), "data-action": a[0], text: a[1]});
      b.addEventListener("click", a[2]);
      bar.appendChild(b);
    });
  });
})();
