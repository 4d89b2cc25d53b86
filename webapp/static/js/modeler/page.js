/* The modeler page: bpmn-js Modeler with our properties panel (panel.js), the form-js editor for the
   draft's forms, live validation through /definitions/validate, and saving drafts through the API.
   The diagram vocabulary comes from GET /vocabulary before anything is shown. */
import {blankDiagram} from "./blank.js";
import {editing, processContext} from "./moddle.js";
import {createPanel} from "./panel.js";

const B = window.BPM, t = B.t, el = B.el, C = window.MODELER;
const SCHEMA_VERSION = (window.FormEditor && window.FormEditor.schemaVersion) || 19;
const STATES = {draft: t("编辑中"), proposed: t("变更审批中"), activated: t("已生效"), discarded: t("已放弃")};

const $ = (id) => document.getElementById(id);
const buttons = {save: $("save-draft"), propose: $("propose"), deploy: $("deploy"), discard: $("discard"),
                 download: $("download"), fit: $("zoom-fit")};
const panelNode = $("panel"), list = $("validation-list"), host = $("canvas");

function loadFailed(err) {
  panelNode.innerHTML = "";
  panelNode.appendChild(el("p", {class: "error", text: t("流程图加载失败") + "：" + err.message}));
  B.flash(t("流程图加载失败") + "：" + err.message, "bad");
  host.dataset.state = "failed";
}

const vocabulary = await B.api("GET", "/vocabulary").then((res) => {
  if (!res.ok) throw new Error(B.message(res));
  return res.body;
}).catch((err) => { loadFailed(err); return null; });

if (vocabulary) start(vocabulary);

function start(vocabulary) {
  const modeler = new window.BpmnJS({container: host, moddleExtensions: {spiffworkflow: window.SPIFF_MODDLE}});
  const canvas = modeler.get("canvas"), registry = modeler.get("elementRegistry"), selection = modeler.get("selection"),
      overlays = modeler.get("overlays"), eventBus = modeler.get("eventBus"), rules = modeler.get("rules");
  const edit = editing(modeler.get("modeling"), modeler.get("moddle"));

  const state = {
    loaded: false, draft: null, forms: {}, readOnly: false, busy: false, leaving: false,
    changes: 0, savedChanges: 0,   // dirty while they differ
    errors: [], validation: null, fromPanel: false
  };

  function dirty() { return state.changes !== state.savedChanges; }
  function clone(value) { return JSON.parse(JSON.stringify(value)); }
  function xml() {
    return modeler.saveXML({format: true}).then((r) => r.xml);
  }
  function blankForm(key) { return {type: "default", id: key, components: [], schemaVersion: SCHEMA_VERSION}; }

  const panel = createPanel({
    panel: panelNode, modeler: modeler, state: state, config: C, vocabulary: vocabulary,
    openFormEditor: openFormEditor, formsChanged: formsChanged,
    addForm: (key) => { state.forms[key] = blankForm(key); }
  });

  // ---- read-only: a proposed or activated draft ----

  const allowed = rules.allowed.bind(rules);
  rules.allowed = (action, context) => (state.readOnly ? false : allowed(action, context));
  eventBus.on("element.dblclick", 5000, () => { if (state.readOnly) return false; });

  function setReadOnly(on) {
    state.readOnly = on;
    document.body.classList.toggle("mdl-readonly", on);
    if (on) modeler.get("keyboard").unbind();
  }

  eventBus.on("selection.changed", () => { panel.render(); });
  eventBus.on("commandStack.changed", (e) => {
    if (e && e.trigger === "clear") return;
    state.changes += 1;
    if (!state.fromPanel) panel.render();
    panel.laneOverlays();
    changed();
  });

  // ---- validation: the server's checks, ~600 ms after the last change ----

  let validateTimer = null, validateSeq = 0;

  function changed() {
    updateButtons();
    clearTimeout(validateTimer);
    list.dataset.state = "pending";
    validateTimer = setTimeout(validateNow, 600);
  }

  function formsChanged() {
    state.changes += 1;
    changed();
  }

  function validateNow() {
    clearTimeout(validateTimer);
    validateTimer = null;
    const seq = ++validateSeq;
    list.dataset.state = "pending";
    const run = xml().then((bpmn) => {
      return B.api("POST", "/definitions/validate", {bpmn_xml: bpmn, forms: state.forms, process_key: C.process_key});
    }).then((res) => {
      if (seq !== validateSeq) return state.validation;  // a newer check is under way: its answer counts
      if (!res.ok) {
        showErrors([{element_id: null, message: t("校验失败") + "：" + B.message(res)}]);
        return false;
      }
      const errors = res.body.errors || [];
      showErrors(errors);
      return !!res.body.valid && !errors.length;
    }, (err) => {
      if (seq !== validateSeq) return state.validation;
      showErrors([{element_id: null, message: t("流程图无法导出") + "：" + err.message}]);
      return false;
    });
    state.validation = run;
    return run;
  }

  /* The element an error names: itself, or for the process its pool; null for document-level errors. */
  function shapeFor(id) {
    if (!id) return null;
    const found = registry.get(id);
    if (found) return found;
    return registry.filter((e) => {
      return e.type === "bpmn:Participant" && e.businessObject.processRef && e.businessObject.processRef.id === id;
    })[0] || null;
  }

  function elementTitle(element) {
    const bo = element.businessObject;
    return bo.name || (bo.processRef && bo.processRef.name) || bo.id;
  }

  function reveal(element) {
    if (element === canvas.getRootElement()) {
      selection.select(null);
      return;
    }
    selection.select(element);
    if (canvas.scrollToElement) canvas.scrollToElement(element, {top: 100, bottom: 100, left: 100, right: 100});
  }

  let marked = [];

  function showErrors(errors) {
    state.errors = errors;
    marked.forEach((id) => { if (registry.get(id)) canvas.removeMarker(id, "bpm-invalid"); });
    marked = [];
    overlays.remove({type: "bpm-errors"});
    list.innerHTML = "";
    const perElement = {}, order = [], docLevel = [];
    errors.forEach((e) => {
      const element = shapeFor(e.element_id);
      if (!element) { docLevel.push(e); return; }
      if (!perElement[element.id]) { perElement[element.id] = {element: element, errors: []}; order.push(element.id); }
      perElement[element.id].errors.push(e);
    });
    docLevel.forEach((e) => {
      list.appendChild(el("li", {class: "doc"}, [e.element_id ? el("strong", {text: e.element_id}) : null, e.message]));
    });
    order.forEach((id) => {
      const entry = perElement[id];
      if (entry.element !== canvas.getRootElement()) {
        canvas.addMarker(id, "bpm-invalid");
        marked.push(id);
        const badge = el("span", {class: "bpm-error-badge", title: entry.errors.map((e) => e.message).join("\n"),
                                  text: String(entry.errors.length)});
        badge.addEventListener("click", () => { reveal(entry.element); });
        try {
          overlays.add(id, "bpm-errors", {position: {top: -9, right: 9}, scale: false, html: badge});
        } catch (e) { /* an element without a visual (e.g. hidden) takes no badge */ }
      }
      entry.errors.forEach((e) => {
        const item = el("li", {tabindex: "0", "data-element": id}, [el("strong", {text: elementTitle(entry.element)}), e.message]);
        item.addEventListener("click", () => { reveal(entry.element); });
        item.addEventListener("keydown", (ev) => { if (ev.key === "Enter") reveal(entry.element); });
        list.appendChild(item);
      });
    });
    if (!errors.length) list.appendChild(el("li", {class: "ok", text: t("校验通过")}));
    $("validation-count").textContent = errors.length ? String(errors.length) : "";
    list.dataset.state = errors.length ? "invalid" : "valid";
    updateButtons();
  }

  // ---- toolbar ----

  function updateButtons() {
    const d = state.draft, ro = state.readOnly || !state.loaded, busy = state.busy;
    const hasErrors = state.errors.length > 0;
    const proposable = !d || d.state === "draft";
    buttons.save.disabled = ro || busy || hasErrors;
    buttons.propose.disabled = ro || busy || hasErrors || !proposable;
    if (buttons.deploy) buttons.deploy.disabled = ro || busy || hasErrors || !proposable;
    buttons.discard.disabled = ro || busy || !d || d.state !== "draft";
    buttons.download.disabled = !state.loaded;
    buttons.fit.disabled = !state.loaded;
    buttons.save.title = hasErrors ? t("流程图有错误，修正后才能保存") : "Ctrl+S";
    $("mdl-dirty").hidden = !dirty() || state.readOnly;
  }

  function setDraft(draft) {
    state.draft = draft;
    const tag = $("mdl-draft");
    tag.textContent = t("草稿") + " #" + draft.id + "（" + (STATES[draft.state] || draft.state) + "）";
    tag.title = draft.updated_by ? t("最后保存：{who}", {who: draft.updated_by}) : "";
    tag.hidden = false;
    const note = $("readonly-note");
    note.innerHTML = "";
    let text = null;
    if (draft.state === "proposed" && !draft.editable) {
      text = t("草稿已提交变更审批（案件 #{id}），审批中不能修改", {id: draft.change_instance_id});
    } else if (draft.state === "proposed") {
      text = t("变更申请（案件 #{id}）已退回修改：保存草稿后，在案件的待办中重新提交", {id: draft.change_instance_id});
    } else if (draft.state === "activated") {
      text = t("草稿已生效（版本 v{v}），不能修改", {v: draft.activated_version});
    } else if (draft.state === "discarded") {
      text = t("草稿已放弃，不能修改");
    }
    if (text) {
      note.appendChild(document.createTextNode(text));
      if (draft.change_instance_id) {
        note.appendChild(document.createTextNode(" "));
        note.appendChild(el("a", {href: "/cases/" + draft.change_instance_id, text: t("查看案件")}));
      }
    }
    note.hidden = !text;
  }

  function afterSave(draft, changesAtSave) {
    setDraft(draft);
    state.savedChanges = changesAtSave;
    const query = "?draft=" + draft.id + (C.is_new ? "&new=1" : "");
    if (location.search !== query) history.replaceState(null, "", location.pathname + query);
  }

  /* Save the draft (validating first); resolves to true when stored. */
  function save() {
    if (state.readOnly || !state.loaded) return Promise.resolve(false);
    if (state.busy) return Promise.resolve(false);
    panel.flushPending();
    state.busy = true;
    updateButtons();
    const changesAtSave = state.changes;
    return validateNow().then((valid) => {
      if (!valid) {
        B.flash(t("流程图有错误，请先修正（见右侧校验列表）"), "bad");
        return false;
      }
      return xml().then((bpmn) => {
        const d = state.draft;
        const body = {bpmn_xml: bpmn, forms: state.forms};
        const request = d ? B.api("PUT", "/drafts/" + d.id, Object.assign(body, {lock_version: d.lock_version}))
                          : B.api("POST", "/processes/" + encodeURIComponent(C.process_key) + "/drafts", body);
        return request.then((res) => {
          if (res.ok) {
            afterSave(res.body, changesAtSave);
            B.flash(t("草稿已保存"), "ok");
            return true;
          }
          if (res.body && Array.isArray(res.body.errors)) showErrors(res.body.errors);
          B.flash(B.message(res), "bad");
          return false;
        });
      });
    }).then((ok) => {
      state.busy = false;
      updateButtons();
      return ok;
    }, (err) => {
      state.busy = false;
      updateButtons();
      B.flash(t("保存失败") + "：" + err.message, "bad");
      return false;
    });
  }

  function ensureSaved() {
    return dirty() || !state.draft ? save() : Promise.resolve(true);
  }

  function leave(url, message) {
    state.leaving = true;
    if (message) B.flash(message, "ok", true);
    location.href = url;
  }

  /* 申请变更 needs no confirmation: it opens the applicant's form, which is only submitted from there. */
  function propose() {
    if (state.busy) return;
    ensureSaved().then((ok) => {
      if (!ok) return;
      state.busy = true;
      updateButtons();
      B.api("POST", "/drafts/" + state.draft.id + "/propose", {}).then((res) => {
        if (!res.ok) {
          state.busy = false;
          updateButtons();
          B.flash(B.message(res), "bad");
          return;
        }
        leave(res.body.task_id ? "/tasks/" + encodeURIComponent(res.body.task_id) : "/cases/" + res.body.instance_id,
              t("已提交变更申请，请填写并提交流程新增/变更审批表"));
      });
    });
  }

  function deploy() {
    const note = el("textarea", {name: "note", rows: "3", maxlength: "500"});
    B.dialog(t("直接部署"), [el("p", {class: "notice", text: t("草稿将立即成为新的线上版本，不经过流程新增/变更审批；版本记录中会注明。")}),
                          B.field(t("部署说明"), note)],
      (close, fail) => {
        ensureSaved().then((ok) => {
          if (!ok) { fail(t("草稿未能保存，未部署")); return; }
          B.api("POST", "/drafts/" + state.draft.id + "/deploy", {note: note.value.trim() || null}).then((res) => {
            if (!res.ok) { fail(B.message(res)); return; }
            close();
            leave("/processes/" + encodeURIComponent(C.process_key), t("已部署为版本 v{v}", {v: res.body.version}));
          });
        });
      });
  }

  function discard() {
    if (!state.draft) return;
    B.dialog(t("放弃草稿"), [el("p", {text: t("放弃后草稿不能恢复，线上版本不受影响。确定放弃吗？")})], (close, fail) => {
      B.api("DELETE", "/drafts/" + state.draft.id).then((res) => {
        if (!res.ok) { fail(B.message(res)); return; }
        close();
        leave(C.live_version ? "/processes/" + encodeURIComponent(C.process_key) : "/processes", t("草稿已放弃"));
      });
    });
  }

  /* The whole diagram in view, right of the palette (which floats over the canvas), at most 100 %. */
  function fit() {
    const outer = canvas.viewbox().outer, inner = canvas.viewbox().inner;
    if (!outer.width || !inner.width) return;
    const palette = host.querySelector(".djs-palette");
    const left = palette && palette.offsetWidth && !state.readOnly ? palette.offsetLeft + palette.offsetWidth + 16 : 16;
    const scale = Math.min((outer.width - left - 16) / inner.width, (outer.height - 32) / inner.height, 1);
    canvas.viewbox({x: inner.x - left / scale, y: inner.y - (outer.height / scale - inner.height) / 2,
                    width: outer.width / scale, height: outer.height / scale});
  }

  function download() {
    xml().then((bpmn) => {
      const url = URL.createObjectURL(new Blob([bpmn], {type: "application/xml"}));
      const a = el("a", {href: url, download: C.process_key + ".bpmn"});
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => { URL.revokeObjectURL(url); }, 1000);
    });
  }

  buttons.save.addEventListener("click", () => { save(); });
  buttons.propose.addEventListener("click", propose);
  if (buttons.deploy) buttons.deploy.addEventListener("click", deploy);
  buttons.discard.addEventListener("click", discard);
  buttons.download.addEventListener("click", download);
  buttons.fit.addEventListener("click", fit);

  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === "s" || e.key === "S")) {
      e.preventDefault();
      if ($("form-editor-dialog").open) return;
      if (state.errors.length) { B.flash(t("流程图有错误，请先修正（见右侧校验列表）"), "bad"); return; }
      save();
    }
  });

  window.addEventListener("beforeunload", (e) => {
    if (dirty() && !state.leaving && !state.readOnly) {
      e.preventDefault();
      e.returnValue = "";
    }
  });

  // ---- the form editor ----

  const formDialog = $("form-editor-dialog"), formHost = $("form-editor");
  let formEditor = null, formKeyEditing = null;

  function openFormEditor(key) {
    if (!key) return;
    formKeyEditing = key;
    $("form-editor-key").textContent = key + (state.forms[key] ? "" : "（" + t("新表单") + "）");
    $("form-editor-done").hidden = state.readOnly;
    formHost.innerHTML = "";
    formDialog.showModal();
    const schema = state.forms[key] ? clone(state.forms[key]) : blankForm(key);
    window.FormEditor.createFormEditor({container: formHost, schema: schema}).then((editor) => {
      if (formKeyEditing !== key || !formDialog.open) { editor.destroy(); return; }
      formEditor = editor;
    }).catch((err) => {
      formHost.appendChild(el("p", {class: "error", text: t("表单加载失败") + "：" + err.message}));
    });
  }

  function closeFormEditor(keep) {
    const active = document.activeElement;
    if (active && formHost.contains(active)) active.blur();  // the editor's fields commit on blur
    if (keep && formEditor && !state.readOnly) {
      const schema = formEditor.saveSchema();
      if (!schema.id) schema.id = formKeyEditing;
      state.forms[formKeyEditing] = schema;
      formsChanged();
      panel.render();
    }
    if (formEditor) formEditor.destroy();
    formEditor = null;
    formKeyEditing = null;
    formHost.innerHTML = "";
    if (formDialog.open) formDialog.close();
  }

  $("form-editor-done").addEventListener("click", () => { closeFormEditor(true); });
  $("form-editor-cancel").addEventListener("click", () => { closeFormEditor(false); });
  // Esc would drop the edits silently: closing takes 完成 or 取消
  formDialog.addEventListener("cancel", (e) => { e.preventDefault(); });

  // ---- loading ----

  function source() {
    if (C.draft_id) {
      return B.api("GET", "/drafts/" + C.draft_id).then((res) => {
        if (!res.ok) throw new Error(B.message(res));
        if (res.body.process_key !== C.process_key) throw new Error(t("草稿不属于该流程"));
        setDraft(res.body);
        return {xml: res.body.bpmn_xml, forms: res.body.forms || {}, readOnly: !res.body.editable};
      });
    }
    if (C.is_new) return Promise.resolve({xml: blankDiagram(C.process_key, C.name, t("发起")), forms: {}, fresh: true});
    return B.api("GET", "/processes/" + encodeURIComponent(C.process_key) + "/content").then((res) => {
      if (!res.ok) throw new Error(B.message(res));
      return {xml: res.body.bpmn_xml, forms: res.body.forms || {}};
    });
  }

  source().then((src) => {
    state.forms = src.forms;
    return modeler.importXML(src.xml).then((result) => {
      edit.keepVariableRefs(result.warnings);
      state.loaded = true;
      setReadOnly(!!src.readOnly);
      if (src.fresh) state.changes = 1;  // a new procedure exists nowhere until its first save
      fit();
      panel.laneOverlays();
      const ctx = processContext(canvas, registry);
      if (ctx && ctx.bo.name) $("mdl-name").textContent = ctx.bo.name;
      panel.render();
      updateButtons();
      host.dataset.state = "ready";
      return validateNow();
    });
  }).catch(loadFailed);

  window.BPM_MODELER = {
    modeler: modeler,
    get forms() { return state.forms; },
    get draft() { return state.draft; },
    get dirty() { return dirty(); },
    get readOnly() { return state.readOnly; },
    validate: validateNow,
    save: save
  };
}
