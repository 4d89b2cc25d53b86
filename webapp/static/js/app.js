/* Shared by every page: translation, API calls with the session's CSRF token, the flash message,
   dialogs and the user picker. Plain browser JavaScript, no build step. */
(function () {
  "use strict";

  var I18N = window.I18N || {};

  /* t("批量同意完成：成功 {ok} 个", {ok: 3}): the current language's text with its {placeholders} filled. */
  function t(text, vars) {
    var out = I18N[text] || text;
    Object.keys(vars || {}).forEach(function (k) { out = out.split("{" + k + "}").join(String(vars[k])); });
    return out;
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  /* api("POST", "/tasks/1/claim", {...}) -> Promise<{ok, status, body}>; never rejects on HTTP errors.
     A FormData body is sent as multipart (uploads). */
  function api(method, path, body) {
    var headers = {"Accept": "application/json"};
    if (method !== "GET") headers["X-CSRF-Token"] = csrf();
    var init = {method: method, headers: headers, credentials: "same-origin"};
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch("/api/v1" + path, init).then(function (r) {
      if (r.status === 401) {  // the session expired meanwhile: log in again, then come back
        location.href = "/login?expired=1&next=" + encodeURIComponent(location.pathname + location.search);
      }
      return r.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = {message: text.slice(0, 200)}; }
        return {ok: r.ok, status: r.status, body: parsed};
      });
    }, function () {
      return {ok: false, status: 0, body: {message: t("网络错误，请重试")}};
    });
  }

  function message(res) {
    return (res.body && res.body.message) || t("操作失败") + " (" + res.status + ")";
  }

  /* A message shown at the top of the page; `later` keeps it for the next page (after a redirect). */
  function flash(text, kind, later) {
    if (later) {
      sessionStorage.setItem("flash", JSON.stringify({text: text, kind: kind || "ok"}));
      return;
    }
    var box = document.getElementById("flash");
    if (!box) return;
    box.textContent = text;
    box.className = "flash " + (kind || "ok");
    box.hidden = false;
    box.scrollIntoView({block: "nearest"});
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), attrs[k]);
      else if (attrs[k] !== undefined && attrs[k] !== null && attrs[k] !== false) node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }

  /* An input that suggests people from GET /users?q= (or `source`, a path the action the picker is for
     answers with the people it accepts); multiple pickers collect several.
     Returns {node, value()} where value() is a username, or a list of usernames when multiple. */
  function userPicker(multiple, source) {
    var chosen = [];
    var input = el("input", {type: "text", autocomplete: "off", placeholder: t("输入姓名、账号或部门搜索"),
                             "aria-label": t("选择人员")});
    var list = el("ul", {class: "suggest", role: "listbox", hidden: true});
    var chips = el("div", {class: "chips"});
    var selected = null;
    var timer = null;

    function renderChips() {
      chips.innerHTML = "";
      chosen.forEach(function (u, i) {
        chips.appendChild(el("span", {class: "chip active"}, [u.display_name + "（" + u.username + "）",
          el("button", {type: "button", class: "linkish", "aria-label": "×", text: "×",
                        onclick: function () { chosen.splice(i, 1); renderChips(); }})]));
      });
    }

    function pick(u) {
      list.hidden = true;
      if (multiple) {
        if (!chosen.some(function (c) { return c.username === u.username; })) chosen.push(u);
        input.value = "";
        renderChips();
      } else {
        selected = u;
        input.value = u.display_name + "（" + u.username + "）";
      }
    }

    function search() {
      var q = input.value.trim();
      var base = source || "/users";
      api("GET", base + (base.indexOf("?") < 0 ? "?" : "&") + "limit=10&q=" + encodeURIComponent(q)).then(function (res) {
        list.innerHTML = "";
        var users = res.ok ? res.body : [];
        if (!users.length) list.appendChild(el("li", {class: "muted", text: t("没有找到人员")}));
        users.forEach(function (u) {
          list.appendChild(el("li", {role: "option", tabindex: "0",
            onclick: function () { pick(u); },
            onkeydown: function (e) { if (e.key === "Enter") { e.preventDefault(); pick(u); } }},
            [u.display_name + "（" + u.username + "）", el("span", {class: "muted", text: u.department ? " · " + u.department : ""})]));
        });
        list.hidden = false;
      });
    }

    input.addEventListener("input", function () {
      selected = null;
      clearTimeout(timer);
      timer = setTimeout(search, 200);
    });
    input.addEventListener("focus", function () { if (!input.value) search(); });

    var node = el("div", {class: "picker"}, [chips, input, list]);
    return {
      node: node,
      value: function () {
        return multiple ? chosen.map(function (u) { return u.username; }) : (selected && selected.username);
      }
    };
  }

  /* A modal dialog with the given fields and OK/Cancel. onOk(close, showError) runs on OK. */
  function dialog(title, fields, onOk) {
    var error = el("p", {class: "error", role: "alert", hidden: true});
    var ok = el("button", {type: "submit", class: "btn primary", text: t("确定")});
    var form = el("form", {method: "dialog", class: "dialog-body"},
      [el("h2", {text: title})].concat(fields).concat([error,
        el("div", {class: "actions"}, [
          el("button", {type: "button", class: "btn", text: t("取消"), onclick: function () { close(); }}), ok])]));
    var dlg = el("dialog", {class: "dialog"}, [form]);
    document.body.appendChild(dlg);

    function close() { dlg.close(); dlg.remove(); }
    function showError(text) { error.textContent = text; error.hidden = false; ok.disabled = false; }

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      error.hidden = true;
      ok.disabled = true;
      onOk(close, showError);
    });
    dlg.addEventListener("cancel", function () { dlg.remove(); });
    dlg.showModal();
    return dlg;
  }

  /* A labelled block. Not a <label>: a click anywhere in a label clicks its first control, which in the
     user picker would be a chip's remove button. */
  function field(label, control) {
    var caption = el("span", {text: label});
    var target = control.matches && control.matches("input, select, textarea") ? control : control.querySelector("input");
    if (target && !target.getAttribute("aria-label")) target.setAttribute("aria-label", label);
    return el("div", {class: "field"}, [caption, control]);
  }

  function commentBox(label) {
    return el("textarea", {name: "comment", rows: "3", maxlength: "2000", "aria-label": label || t("意见")});
  }

  document.addEventListener("DOMContentLoaded", function () {
    var saved = sessionStorage.getItem("flash");
    if (saved) {
      sessionStorage.removeItem("flash");
      try { var f = JSON.parse(saved); flash(f.text, f.kind); } catch (e) { /* ignore a broken value */ }
    }
  });

  window.BPM = {t: t, api: api, message: message, flash: flash, el: el, userPicker: userPicker, dialog: dialog,
                field: field, commentBox: commentBox};
})();
