/* The task page: the form (form-js viewer), 同意/拒绝 or 提交, and the actions this user may take now,
   all from GET /api/v1/tasks/<id>; every action goes through the API. */
(function () {
  "use strict";
  var B = window.BPM, t = B.t, el = B.el, T = window.TASK;
  var path = "/tasks/" + encodeURIComponent(T.task_id);
  var formHost = document.getElementById("form");
  var bar = document.getElementById("task-actions");
  var errorsBox = document.getElementById("form-errors");
  var form = null;         // the form-js Form
  var decision = null;     // the form's decision radio {approve: label, reject: label}, shown as buttons
  var fields = {};         // key -> {id, label} of the form's components, for server errors
  var bound = {};          // the top-level case data keys the form's fields read and write

  var MODES = {all: t("会签（全部同意）"), any: t("或签（一人同意即可）"), sequential: t("依次审批")};

  function walk(components, fn) {
    (components || []).forEach(function (c) { fn(c); walk(c.components, fn); });
  }

  function done(text, target) {
    B.flash(text, "ok", true);
    location.href = target || "/";
  }

  function showErrors(res) {
    errorsBox.innerHTML = "";
    var errors = (res.body && res.body.errors) || {};
    var list = el("ul");
    var inline = {};
    Object.keys(errors).forEach(function (key) {
      var msgs = [].concat(errors[key]).map(String);
      var f = fields[key];
      if (f) inline[f.id] = msgs;
      list.appendChild(el("li", {text: (f ? f.label : key) + "：" + msgs.join("；")}));
    });
    errorsBox.appendChild(el("p", {text: B.message(res)}));
    if (list.children.length) errorsBox.appendChild(list);
    errorsBox.hidden = false;
    if (form && Object.keys(inline).length) {
      form._setState({errors: inline});  // shows the server's messages under the fields, as form-js does its own
    }
    errorsBox.scrollIntoView({block: "nearest"});
  }

  function submit(choice, buttons) {
    errorsBox.hidden = true;
    var data = {};
    if (form) {
      var result = form.submit();
      if (Object.keys(result.errors || {}).length) {
        errorsBox.textContent = t("表单有误，请检查标红的字段");
        errorsBox.hidden = false;
        return;
      }
      data = result.data;
    }
    if (choice) data.decision = choice;
    buttons.forEach(function (b) { b.disabled = true; });
    B.api("POST", path + "/complete", {data: data}).then(function (res) {
      if (res.ok) { done(t("已提交")); return; }
      buttons.forEach(function (b) { b.disabled = false; });
      showErrors(res);
    });
  }

  /* What the form opens with. Templated text (text and HTML views) reads the whole case data, also on a
     task being worked; the form's own fields open with `prefill` only, so an approver never starts from
     someone else's decision or comment. form-js submits only the form's fields. */
  function formData(task, editable) {
    if (!editable) return Object.assign({}, task.data || {}, T.submitted || {});
    var data = Object.assign({}, task.data || {});
    Object.keys(bound).forEach(function (key) { delete data[key]; });
    return Object.assign(data, task.prefill || {});
  }

  function renderForm(task, actions) {
    var schema = task.form;
    var editable = actions.indexOf("complete") >= 0;
    if (!schema) {
      formHost.appendChild(el("p", {class: "muted", text: t("无需填写表单")}));
      return Promise.resolve();
    }
    schema = JSON.parse(JSON.stringify(schema));
    walk(schema.components, function (c) {
      if (c.key) fields[c.key] = {id: c.id, label: c.label || c.key};
      [c.key, c.path].forEach(function (k) { if (k) bound[String(k).split(".")[0]] = true; });
      if (c.key === "decision" && c.values) {
        var values = {};
        c.values.forEach(function (v) { values[v.value] = v.label; });
        if (values.approve && values.reject) decision = values;
      }
    });
    if (decision && editable) {  // the decision is the big buttons, not a radio
      var strip = function (list) {
        return (list || []).filter(function (c) { return c.key !== "decision"; })
          .map(function (c) { if (c.components) c.components = strip(c.components); return c; });
      };
      schema.components = strip(schema.components);
    }
    return window.FormViewer.createForm({container: formHost, schema: schema, data: formData(task, editable),
                                         properties: {readOnly: !editable},
                                         additionalModules: B.formTextModule ? [B.formTextModule] : []}).then(function (f) {
      form = editable ? f : null;
    }).catch(function (err) {
      formHost.appendChild(el("p", {class: "error", text: t("表单加载失败") + "：" + err.message}));
    });
  }

  function renderApproval(task) {
    var box = document.getElementById("approval");
    var parts = [];
    if (task.origin) {
      parts.push(el("p", {text: t("由 {name} 加签", {name: task.origin.display_name || task.origin.user || ""}) +
        (task.origin.position === "before" ? "（" + t("在其之前") + "）" : task.origin.position === "after" ? "（" + t("在其之后") + "）" : "")}));
    }
    if (task.approval && task.approval.votes) {
      parts.push(el("p", {class: "muted", text: MODES[task.approval.mode] || task.approval.mode || ""}));
      var list = el("ul", {class: "votes"});
      task.approval.votes.forEach(function (v) {
        var state = v.decision === "approve" ? t("同意") : v.decision === "reject" ? t("拒绝") : t("待处理");
        list.appendChild(el("li", {}, [el("strong", {text: v.display_name || v.user}), " ",
          el("span", {class: "tag " + (v.decision === "approve" ? "green" : v.decision === "reject" ? "red" : "gray"), text: state}),
          v.comment ? el("span", {class: "muted", text: " " + v.comment}) : null]));
      });
      parts.push(list);
    }
    if (parts.length) { parts.forEach(function (p) { box.appendChild(p); }); box.hidden = false; }
  }

  function simple(action, okText, target) {
    return function (button) {
      button.disabled = true;
      B.api("POST", path + "/" + action, {}).then(function (res) {
        if (res.ok) { done(okText, target); return; }
        button.disabled = false;
        B.flash(B.message(res), "bad");
      });
    };
  }

  function personDialog(title, action, okText, extra) {
    return function () {
      var picker = B.userPicker(false, path + "/people?action=" + action.replace("-", "_"));
      var comment = B.commentBox();
      var more = extra ? extra() : null;
      var body = [B.field(t("选择人员"), picker.node)];
      if (more) body.push(more.node);
      body.push(B.field(t("意见"), comment));
      B.dialog(title, body, function (close, fail) {
        var user = picker.value();
        if (!user) { fail(t("请选择人员")); return; }
        var payload = Object.assign({user: user, comment: comment.value}, more ? more.value() : {});
        B.api("POST", path + "/" + action, payload).then(function (res) {
          if (res.ok) { close(); done(okText); } else fail(B.message(res));
        });
      });
    };
  }

  function positionChoice() {
    var select = el("select", {name: "position"}, [
      el("option", {value: "before", text: t("在我之前（先由对方处理）")}),
      el("option", {value: "after", text: t("在我之后（我处理后再由对方处理）")})]);
    return {node: B.field(t("加签位置"), select), value: function () { return {position: select.value}; }};
  }

  function returnDialog() {
    B.api("GET", path + "/return-targets").then(function (res) {
      if (!res.ok) { B.flash(B.message(res), "bad"); return; }
      var targets = res.body || [];
      var select = el("select", {name: "element_id"}, targets.map(function (x) {
        var who = x.completed_by_name ? " · " + x.completed_by_name : "";
        return el("option", {value: x.element_id, text: (x.name || x.element_id) + who});
      }));
      var comment = B.commentBox();
      var body = targets.length ? [B.field(t("退回到"), select), B.field(t("意见"), comment)]
                                : [el("p", {class: "muted", text: t("没有可退回的步骤")})];
      B.dialog(t("退回"), body, function (close, fail) {
        if (!targets.length || !select.value) { fail(t("请选择要退回的步骤")); return; }
        B.api("POST", path + "/return", {element_id: select.value, comment: comment.value}).then(function (r) {
          if (r.ok) { close(); done(t("已退回")); } else fail(B.message(r));
        });
      });
    });
  }

  function renderActions(task, actions) {
    var buttons = [];
    if (actions.indexOf("complete") >= 0) {
      if (decision) {
        var yes = el("button", {type: "button", class: "btn big approve"}, [t("同意"),
          decision.approve !== "同意" ? el("small", {text: decision.approve}) : null]);
        var no = el("button", {type: "button", class: "btn big reject"}, [t("拒绝"),
          el("small", {text: decision.reject})]);
        yes.addEventListener("click", function () { submit("approve", [yes, no]); });
        no.addEventListener("click", function () { submit("reject", [yes, no]); });
        bar.appendChild(el("div", {class: "decide"}, [no, yes]));
      } else {
        var go = el("button", {type: "button", class: "btn primary big", text: t("提交")});
        go.addEventListener("click", function () { submit(null, [go]); });
        bar.appendChild(el("div", {class: "decide"}, [go]));
      }
    }
    var handlers = {
      claim: [t("认领"), function (b) {
        b.disabled = true;
        B.api("POST", path + "/claim", {}).then(function (res) {
          if (res.ok) { B.flash(t("已认领"), "ok", true); location.reload(); }
          else { b.disabled = false; B.flash(B.message(res), "bad"); }
        });
      }],
      unclaim: [t("取消认领"), simple("unclaim", t("已取消认领"))],
      transfer: [t("转办"), personDialog(t("转办"), "transfer", t("已转办"))],
      delegate: [t("委派"), personDialog(t("委派"), "delegate", t("已委派"))],
      add_signer: [t("加签"), personDialog(t("加签"), "add-signer", t("已加签"), positionChoice)],
      "return": [t("退回"), returnDialog]
    };
    var more = el("div", {class: "more-actions"});
    ["claim", "unclaim", "transfer", "delegate", "add_signer", "return"].forEach(function (name) {
      if (actions.indexOf(name) < 0) return;
      var b = el("button", {type: "button", class: "btn" + (name === "claim" ? " primary" : ""), "data-action": name,
                            text: handlers[name][0]});
      b.addEventListener("click", function () { handlers[name][1](b); });
      more.appendChild(b);
      buttons.push(b);
    });
    if (buttons.length) bar.appendChild(more);
  }

  function setupUpload(actions) {
    var upload = document.getElementById("upload");
    if (!upload) return;
    if (actions.indexOf("attach") < 0) { upload.hidden = true; return; }
    var error = document.getElementById("upload-error");
    upload.querySelector("button").disabled = false;  // disabled in the HTML until this handler exists
    upload.addEventListener("submit", function (e) {
      e.preventDefault();
      error.hidden = true;
      if (!upload.file.files.length) { error.textContent = t("请选择文件"); error.hidden = false; return; }
      var body = new FormData();
      body.append("file", upload.file.files[0]);
      var button = upload.querySelector("button");
      button.disabled = true;
      button.textContent = t("上传中…");
      B.api("POST", path + "/attachments", body).then(function (res) {
        if (res.ok) { B.flash(t("已上传"), "ok", true); location.reload(); return; }
        button.disabled = false;
        button.textContent = t("上传");
        error.textContent = res.status === 413 ? (res.body && res.body.message) || t("文件过大") : B.message(res);
        error.hidden = false;
      });
    });
  }

  B.api("GET", path).then(function (res) {
    if (!res.ok) {
      formHost.appendChild(el("p", {class: "error", text: B.message(res)}));
      return;
    }
    var task = res.body;
    var actions = task.actions || [];
    renderApproval(task);
    setupUpload(actions);
    renderForm(task, actions).then(function () { renderActions(task, actions); });
  });
})();
