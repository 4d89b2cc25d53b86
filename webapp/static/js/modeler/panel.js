/* The properties panel: what the engine reads of the selected element (lanes as role expressions,
   formKey, approvalMode, deadlines, conditions, scripts, timers), edited through bpmn-js commands.
   Each panel edit is one undo step. The words (property names, modes, kinds, the lane grammar) are the
   vocabulary's; the panel only shows and edits them. */
import {bodyExt, docOf, editing, eventDefinition, is, processContext, propsOf} from "./moddle.js";
import {composeDuration, isDuration, isFormKey, quickDuration, suggestFormKey} from "./fields.js";
import {laneGrammar} from "./lanes.js";
import {approvalModeChoices, escalationLabel, kindLabel} from "./words.js";

const B = window.BPM, t = B.t, el = B.el;

const TIMER_TYPES = [["timeDuration", t("时长")], ["timeDate", t("日期时间")], ["timeCycle", t("周期")]];
const TIMER_HINTS = {
  timeDuration: t("ISO 8601 时长，如 PT72H、P3D；或返回它的表达式"),
  timeDate: t('如 2027-01-05T09:00:00+08:00；或表达式，如 planned_end + "T18:00:00+08:00"'),
  timeCycle: t("如 R/2027-01-01T09:00:00+08:00/P3M（每季度）")
};

/* options: the panel node, the modeler, the page's `state` ({loaded, readOnly, forms, fromPanel}), the
   page's configuration (roles, process_key), the vocabulary, and the page's hooks for forms:
   openFormEditor(key), addForm(key) and formsChanged(). */
export function createPanel(options) {
  const panel = options.panel, modeler = options.modeler, state = options.state, C = options.config;
  const vocabulary = options.vocabulary, P = vocabulary.properties;
  const canvas = modeler.get("canvas"), registry = modeler.get("elementRegistry"), modeling = modeler.get("modeling"),
      selection = modeler.get("selection"), overlays = modeler.get("overlays"), commandStack = modeler.get("commandStack");
  const edit = editing(modeling, modeler.get("moddle"));
  const lanes = laneGrammar(vocabulary.role_expression);
  const roleNames = {};
  (C.roles || []).forEach((r) => { roleNames[r.code] = r.name; });

  // ---- one undo step per panel edit: the modeling commands run inside a command of ours ----

  commandStack.registerHandler("bpm.batch", function BatchHandler() {
    this.preExecute = function (context) { context.run(); };
    this.execute = function () { return []; };
    this.revert = function () { return []; };
  });

  function apply(element, run, rerender) {
    if (state.readOnly) return;
    state.fromPanel = true;  // the panel already shows the new value: don't rebuild it under the cursor
    try {
      commandStack.execute("bpm.batch", {element: element, run: run});
    } finally {
      state.fromPanel = false;
    }
    if (rerender) render();
  }

  // ---- inputs; every label and hint given here is already translated ----

  let pending = null;  // a text input's edit waiting for the typist to pause: {input, run, timer}

  function flushPending() {
    if (!pending) return;
    const p = pending;
    pending = null;
    clearTimeout(p.timer);
    p.run();
  }

  /* Text inputs commit 300 ms after typing pauses (not per key, and not during IME composition) and on change. */
  function bindText(input, commit) {
    function run() { commit(input.value); }
    function typed(e) {
      if (e.isComposing) return;
      if (pending && pending.input !== input) flushPending();
      if (pending) clearTimeout(pending.timer);
      pending = {input: input, run: run, timer: setTimeout(() => { pending = null; run(); }, 300)};
    }
    input.addEventListener("input", typed);
    input.addEventListener("compositionend", typed);
    input.addEventListener("change", () => {
      if (pending && pending.input === input) { clearTimeout(pending.timer); pending = null; }
      run();
    });
    return input;
  }

  function textInput(name, value, commit, attrs) {
    const input = el("input", Object.assign({type: "text", name: "prop-" + name, autocomplete: "off"}, attrs || {}));
    input.value = value || "";
    return commit ? bindText(input, commit) : input;
  }

  function textArea(name, value, commit, attrs) {
    const area = el("textarea", Object.assign({name: "prop-" + name, rows: "3"}, attrs || {}));
    area.value = value || "";
    return bindText(area, commit);
  }

  /* options: [[value, label]] or [{group, options: [[value, label]]}]; an unknown current value stays listed. */
  function selectInput(name, choices, value, onChange, attrs) {
    const select = el("select", Object.assign({name: "prop-" + name}, attrs || {}));
    const seen = {};
    function option(pair) {
      seen[pair[0]] = true;
      return el("option", {value: pair[0], text: pair[1]});
    }
    choices.forEach((o) => {
      if (o.group) select.appendChild(el("optgroup", {label: o.group}, o.options.map(option)));
      else select.appendChild(option(o));
    });
    if (value && !seen[value]) select.appendChild(el("option", {value: value, text: value + "（" + t("当前值") + "）"}));
    select.value = value || "";
    if (onChange) select.addEventListener("change", () => { onChange(select.value); });
    return select;
  }

  function fieldOf(label, control, hint) {
    const f = B.field(label, control);
    if (hint) f.appendChild(el("p", {class: "hint", text: hint}));
    return f;
  }

  function checkbox(name, label, checked, onChange) {
    const box = el("input", {type: "checkbox", name: "prop-" + name});
    box.checked = !!checked;
    box.addEventListener("change", () => { onChange(box.checked); });
    return el("label", {class: "check"}, [box, label]);
  }

  function group(title, children) {
    return el("div", {class: "group"}, [el("p", {class: "group-title", text: title})].concat(children));
  }

  function idField(bo) {
    return fieldOf(t("标识（ID）"), textInput("id", bo.id, null, {readonly: true, class: "mono"}));
  }

  function nameField(element, bo) {
    return fieldOf(t("名称"), textInput("name", bo.name, (value) => {
      if ((bo.name || "") === value) return;
      apply(element, () => { modeling.updateProperties(element, {name: value || undefined}); });
    }));
  }

  function docField(element, bo) {
    return fieldOf(t("说明"), textArea("documentation", docOf(bo), (value) => {
      if (docOf(bo) === value) return;
      apply(element, () => { edit.setDoc(element, bo, value); });
    }));
  }

  function propText(element, bo, name, label, hint, attrs) {
    return fieldOf(label, textInput(name, propsOf(bo)[name], (value) => {
      if ((propsOf(bo)[name] || "") === value.trim()) return;
      apply(element, () => { edit.setProp(element, bo, name, value.trim()); });
    }, attrs), hint);
  }

  function head(element, bo, title) {
    const type = t(kindLabel(vocabulary, bo.$type));
    return [el("h2", {text: title || bo.name || type}), el("div", {class: "mdl-type", text: type + " · " + bo.id})];
  }

  function roleOptions(prefix, extra) {
    const global = [], dept = [];
    (C.roles || []).forEach((r) => {
      (r.scope === "department" ? dept : global).push([prefix + r.code, r.name + "（" + r.code + "）"]);
    });
    const out = extra ? [{group: t("特殊"), options: extra}] : [];
    if (dept.length) out.push({group: t("部门角色"), options: dept});
    out.push({group: t("角色"), options: global});
    return out;
  }

  // -- the process (nothing selected, or the pool) --
  function processPanel() {
    const ctx = processContext(canvas, registry);
    if (!ctx) return [el("p", {class: "muted", text: t("没有流程")})];
    const bo = ctx.bo, element = ctx.element, props = propsOf(bo);
    const name = fieldOf(t("流程名称"), textInput("name", bo.name, (value) => {
      if ((bo.name || "") === value) return;
      apply(element, () => {
        if (ctx.participant) modeling.updateProperties(ctx.participant, {name: value || undefined});
        modeling.updateModdleProperties(element, bo, {name: value || undefined});
      });
      document.getElementById("mdl-name").textContent = value || C.process_key;
    }));
    const owner = fieldOf(t("流程所有者"), selectInput(P.OWNER_ROLE, [["", t("（未设置）")]].concat(roleOptions("")),
      props[P.OWNER_ROLE], (value) => { apply(element, () => { edit.setProp(element, bo, P.OWNER_ROLE, value); }); }),
      t("该角色的人员可以修改本流程"));
    const categories = el("datalist", {id: "mdl-categories"},
                          vocabulary.categories.map((c) => el("option", {value: c})));
    const category = propText(element, bo, P.CATEGORY, t("类别"), null, {list: "mdl-categories"});
    category.appendChild(categories);

    const starters = el("select", {name: "prop-" + P.STARTER_ROLES, multiple: true, size: "6"});
    const chosen = {};
    (props[P.STARTER_ROLES] || "").split(",").forEach((c) => { if (c.trim()) chosen[c.trim()] = true; });
    const known = {};
    (C.roles || []).forEach((r) => {
      known[r.code] = true;
      starters.appendChild(el("option", {value: r.code, text: r.name + "（" + r.code + "）", selected: chosen[r.code] ? "selected" : null}));
    });
    Object.keys(chosen).forEach((c) => {
      if (!known[c]) starters.appendChild(el("option", {value: c, text: c + "（" + t("未知角色") + "）", selected: "selected"}));
    });
    starters.addEventListener("change", () => {
      const codes = Array.prototype.filter.call(starters.options, (o) => o.selected).map((o) => o.value);
      apply(element, () => { edit.setProp(element, bo, P.STARTER_ROLES, codes.join(",")); });
    });
    return head(element, bo, bo.name || C.process_key).concat([
      fieldOf(t("流程标识"), textInput("id", bo.id, null, {readonly: true, class: "mono"}), t("流程标识不能修改")),
      name, owner, category,
      fieldOf(t("发起角色"), starters, t("可手工发起本流程的角色（按住 Ctrl 多选）；不选表示所有人都可发起")),
      docField(element, bo)
    ]);
  }

  // -- a lane: its name is the role expression that assigns its tasks --
  function lanePanel(element, bo) {
    const parsed = lanes.parse(bo.name) || {role: "", field: "", noInitiator: false, others: []};
    function update(change) {
      const next = Object.assign({}, parsed, change);
      if (!next.role) return;
      const name = lanes.compose(next);
      if (name !== bo.name) apply(element, () => { modeling.updateProperties(element, {name: name}); }, true);
    }
    const role = selectInput("lane-role", [["", t("（自定义，见下方表达式）")]].concat(roleOptions("", [
      ["initiator", t("发起人（initiator）")], ["user", t("表单中选定的人员（user@字段）")]])), parsed.role,
      (value) => { update({role: value}); });
    const field = textInput("lane-field", parsed.field, (value) => {
      value = value.trim();
      if (value === parsed.field || (value && !lanes.isField(value))) return;
      update({field: value});
    }, {placeholder: t("表单字段，如 business_dept"), class: "mono"});
    const expr = textInput("name", bo.name, (value) => {
      if ((bo.name || "") === value.trim()) return;
      apply(element, () => { modeling.updateProperties(element, {name: value.trim() || undefined}); });
    }, {class: "mono"});
    expr.addEventListener("change", () => { render(); });
    return head(element, bo, bo.name ? roleTitle(parsed, bo.name) : t("泳道")).concat([
      idField(bo),
      fieldOf(t("办理人（角色）"), role),
      fieldOf(t("@字段"), field, t("dept_head@字段：该字段所选部门的负责人；user@字段：该字段中选定的人员")),
      checkbox("lane-noinitiator", t("排除发起人本人（!initiator）"), parsed.noInitiator,
               (on) => { update({noInitiator: on}); }),
      fieldOf(t("泳道名称（角色表达式）"), expr, t("也可直接填写，如 gm、dept_head@business_dept、user@field!initiator")),
      docField(element, bo)
    ]);
  }

  /* "部门负责人 @business_dept，不含发起人": who a lane's expression names, in words. */
  function roleWords(parsed) {
    const who = parsed.role === "initiator" ? t("发起人") : parsed.role === "user" ? t("选定人员")
      : (roleNames[parsed.role] || parsed.role);
    return who + (parsed.field ? " @" + parsed.field : "") + (parsed.noInitiator ? t("，不含发起人") : "");
  }

  function roleTitle(parsed, name) {
    if (!parsed || !parsed.role) return name;
    return roleWords(parsed) + "（" + name + "）";
  }

  /* Lane names are codes; a tag in each lane says whom they mean. */
  function laneOverlays() {
    overlays.remove({type: "bpm-lane-role"});
    registry.filter((e) => e.type === "bpmn:Lane").forEach((lane) => {
      const parsed = lanes.parse(lane.businessObject.name);
      if (!parsed || (lane.businessObject.childLaneSet && lane.businessObject.childLaneSet.lanes.length)) return;
      try {
        overlays.add(lane.id, "bpm-lane-role", {position: {top: 4, left: 36}, scale: false,
                                                 html: el("span", {class: "bpm-lane-role", text: roleWords(parsed)})});
      } catch (e) { /* a lane without a visual */ }
    });
  }

  // -- user tasks --
  function durationField(element, bo, name, label, hint) {
    const current = propsOf(bo)[name] || "";
    const warn = el("p", {class: "hint error", hidden: true, text: t("不是 ISO 8601 时长（如 P3D、PT72H）")});
    function check(value) { warn.hidden = !value || isDuration(value); }
    const input = textInput(name, current, (value) => {
      value = value.trim();
      check(value);
      if ((propsOf(bo)[name] || "") === value) return;
      apply(element, () => { edit.setProp(element, bo, name, value); });
    }, {placeholder: t("如 P3D"), class: "mono"});
    const quick = quickDuration(current);
    const n = el("input", {type: "number", min: "1", step: "1", name: "prop-" + name + "-n", "aria-label": label + t("数量"),
                           value: quick.count});
    const unit = el("select", {name: "prop-" + name + "-unit", "aria-label": label + t("单位")},
                    [el("option", {value: "D", text: t("天")}), el("option", {value: "H", text: t("小时")})]);
    unit.value = quick.unit;
    function pick() {
      const duration = composeDuration(n.value, unit.value);
      if (!duration) return;
      input.value = duration;
      input.dispatchEvent(new Event("change"));
    }
    n.addEventListener("change", pick);
    unit.addEventListener("change", pick);
    check(current);
    const f = fieldOf(label, input, hint);
    f.appendChild(el("div", {class: "helper"}, [t("快速设置") + "：", n, unit]));
    f.appendChild(warn);
    return f;
  }

  function escalationOptions() {
    const notify = [["notify:dept_head", t("通知部门负责人")], ["notify:initiator", t("通知发起人")]];
    const move = [["move:dept_head", t("转给部门负责人")]];
    (C.roles || []).forEach((r) => {
      if (r.code === "dept_head") return;
      notify.push(["notify:" + r.code, t(escalationLabel(vocabulary, "notify")) + " " + r.name]);
      move.push(["move:" + r.code, t(escalationLabel(vocabulary, "move")) + " " + r.name]);
    });
    return [["", t("无")], {group: t("超时通知"), options: notify}, {group: t("超时转办"), options: move}];
  }

  function newFormDialog(element, bo, onDone) {
    const input = el("input", {type: "text", name: "new-form-key", value: suggestFormKey(C.process_key, bo.id), class: "mono"});
    B.dialog(t("新建表单"), [B.field(t("表单标识"), input),
                         el("p", {class: "hint muted", text: t("小写字母开头，只含小写字母、数字和下划线")})],
      (close, fail) => {
        const key = input.value.trim();
        if (!isFormKey(key)) { fail(t("表单标识只能包含小写字母、数字和下划线，并以字母开头")); return; }
        if (state.forms[key]) { fail(t("表单已存在：{key}", {key: key})); return; }
        options.addForm(key);
        close();
        apply(element, () => { edit.setProp(element, bo, P.FORM_KEY, key); });
        options.formsChanged();
        onDone(key);
      });
  }

  function userTaskPanel(element, bo) {
    const props = propsOf(bo);
    const keys = Object.keys(state.forms).sort();
    const formSelect = selectInput(P.FORM_KEY, [["", t("（未选择）")]].concat(keys.map((k) => {
      return [k, (state.forms[k] && state.forms[k].title) ? k + " · " + state.forms[k].title : k];
    })).concat([["__new__", t("新建表单…")]]), props[P.FORM_KEY], (value) => {
      if (value === "__new__") {
        formSelect.value = props[P.FORM_KEY] || "";
        newFormDialog(element, bo, () => { render(); });
        return;
      }
      apply(element, () => { edit.setProp(element, bo, P.FORM_KEY, value); }, true);
    });
    const editButton = el("button", {type: "button", class: "btn small", id: "edit-form", text: t("编辑表单"),
                                     disabled: props[P.FORM_KEY] ? null : "disabled"});
    editButton.addEventListener("click", () => { options.openFormEditor(propsOf(bo)[P.FORM_KEY]); });
    const formField = fieldOf(t("表单"), el("div", {class: "row"}, [formSelect, editButton]));

    const escalation = selectInput(P.ESCALATION, escalationOptions(), props[P.ESCALATION], (value) => {
      apply(element, () => { edit.setProp(element, bo, P.ESCALATION, value); }, true);
    });
    const modes = [["", t("单人办理")]].concat(approvalModeChoices(vocabulary).map((c) => [c[0], t(c[1])]));
    return head(element, bo).concat([
      idField(bo), nameField(element, bo), formField,
      fieldOf(t("审批方式"), selectInput(P.APPROVAL_MODE, modes, props[P.APPROVAL_MODE], (value) => {
        apply(element, () => { edit.setProp(element, bo, P.APPROVAL_MODE, value); });
      }), t("会签、或签、依次审批：泳道的每位候选人各有一个任务；表单需要 decision 字段")),
      group(t("时限"), [
        durationField(element, bo, P.DUE_IN, t("办理时限"), t("ISO 8601 时长，如 P3D（3 天）、PT72H（72 小时）")),
        durationField(element, bo, P.REMIND_BEFORE, t("到期前提醒"), t("到期前多久提醒办理人，如 P1D")),
        fieldOf(t("超时处理"), escalation),
        propText(element, bo, P.ESCALATION, t("超时处理（表达式）"), t("notify:角色表达式 或 move:角色表达式"),
                 {name: "prop-escalation-expr", class: "mono"})
      ]),
      docField(element, bo)
    ]);
  }

  // -- sequence flows: conditions out of exclusive/inclusive gateways --
  function flowPanel(element, bo) {
    const source = element.source;
    const fields = [idField(bo), nameField(element, bo)];
    if (source && (is(source.businessObject, "bpmn:ExclusiveGateway") || is(source.businessObject, "bpmn:InclusiveGateway"))) {
      const isDefault = source.businessObject.default === bo;
      const condition = bo.conditionExpression ? bo.conditionExpression.body || "" : "";
      const area = textArea("condition", condition, (value) => {
        const now = bo.conditionExpression ? bo.conditionExpression.body || "" : "";
        if (now === value.trim()) return;
        apply(element, () => {
          modeling.updateProperties(element, {conditionExpression: edit.expression(bo, value.trim())});
        });
      }, {class: "mono", rows: "2", disabled: isDefault ? "disabled" : null,
          placeholder: isDefault ? null : 'decision == "reject"'});
      fields.push(fieldOf(t("条件"), area, isDefault ? t("默认路径：其他条件都不满足时走这条，不需要条件")
                                                : t('Python 表达式，使用案件的表单字段，如 decision == "reject"')));
      fields.push(checkbox("default", t("默认路径"), isDefault, (on) => {
        apply(element, () => {
          modeling.updateProperties(source, {"default": on ? bo : undefined});
          if (on && bo.conditionExpression) modeling.updateProperties(element, {conditionExpression: undefined});
        }, true);
      }));
    }
    fields.push(docField(element, bo));
    return head(element, bo).concat(fields);
  }

  // -- events: timers --
  const timerChoice = {};

  function timerFields(element, bo) {
    const def = eventDefinition(bo, "bpmn:TimerEventDefinition");
    if (!def) return [];
    const type = def.timeCycle ? "timeCycle" : def.timeDate ? "timeDate" : def.timeDuration ? "timeDuration"
      : timerChoice[bo.id] || (is(bo, "bpmn:StartEvent") ? "timeCycle" : "timeDuration");
    const value = def[type] ? def[type].body || "" : "";
    function setTimer(kind, text) {
      const props = {timeDate: undefined, timeDuration: undefined, timeCycle: undefined};
      props[kind] = edit.expression(def, text);
      modeling.updateModdleProperties(element, def, props);
    }
    const kind = selectInput("timerType", TIMER_TYPES, type, (next) => {
      const text = def[type] ? def[type].body || "" : "";
      timerChoice[bo.id] = next;  // an empty timer has no type in the XML yet
      if (text) apply(element, () => { setTimer(next, text); }, true);
      else render();
    });
    const input = textInput("timerValue", value, (text) => {
      text = text.trim();
      const now = def[type] ? def[type].body || "" : "";
      if (now === text) return;
      apply(element, () => { setTimer(type, text); });
    }, {class: "mono"});
    const out = [group(t("定时"), [fieldOf(t("类型"), kind), fieldOf(t("值"), input, TIMER_HINTS[type])])];
    if (is(bo, "bpmn:BoundaryEvent")) {
      out[0].appendChild(checkbox("cancelActivity", t("中断任务（到时取消所附着的任务）"), bo.cancelActivity !== false,
        (on) => { apply(element, () => { modeling.updateProperties(element, {cancelActivity: on}); }); }));
    }
    return out;
  }

  function scriptTaskPanel(element, bo) {
    return head(element, bo).concat([
      idField(bo), nameField(element, bo),
      fieldOf(t("脚本"), textArea("script", bo.script, (value) => {
        if ((bo.script || "") === value) return;
        apply(element, () => { modeling.updateProperties(element, {script: value || undefined}); });
      }, {class: "mono", rows: "8", spellcheck: "false"}),
      t('受限的 Python：无 import、无下划线；可用 today()、now()、next_number("计数器")')),
      docField(element, bo)
    ]);
  }

  function ruleTaskPanel(element, bo) {
    const found = bodyExt(bo, "spiffworkflow:CalledDecisionId");
    return head(element, bo).concat([
      idField(bo), nameField(element, bo),
      fieldOf(t("决策表"), textInput("calledDecisionId", found ? found.value : "", (value) => {
        value = value.trim();
        const now = bodyExt(bo, "spiffworkflow:CalledDecisionId");
        if ((now ? now.value || "" : "") === value) return;
        apply(element, () => { edit.setBodyExt(element, bo, "spiffworkflow:CalledDecisionId", value); });
      }, {class: "mono"}), t("流程库 .dmn 文件中的决策 id")),
      docField(element, bo)
    ]);
  }

  function genericPanel(element, bo) {
    let fields = [idField(bo)];
    if (!is(bo, "bpmn:TextAnnotation")) fields.push(nameField(element, bo));
    if (is(bo, "bpmn:Event")) fields = fields.concat(timerFields(element, bo));
    if (is(bo, "bpmn:BaseElement") && !is(bo, "bpmn:TextAnnotation")) fields.push(docField(element, bo));
    return head(element, bo).concat(fields);
  }

  function panelFor(element) {
    const bo = element.businessObject;
    if (is(bo, "bpmn:Lane")) return lanePanel(element, bo);
    if (is(bo, "bpmn:UserTask")) return userTaskPanel(element, bo);
    if (is(bo, "bpmn:ScriptTask")) return scriptTaskPanel(element, bo);
    if (is(bo, "bpmn:BusinessRuleTask")) return ruleTaskPanel(element, bo);
    if (is(bo, "bpmn:SequenceFlow")) return flowPanel(element, bo);
    return genericPanel(element, bo);
  }

  function render() {
    if (!state.loaded) return;
    flushPending();
    const active = document.activeElement;
    const focus = active && panel.contains(active) && active.name ? {name: active.name, start: active.selectionStart,
                                                                        end: active.selectionEnd} : null;
    const scroll = panel.scrollTop;
    const chosen = [];
    selection.get().forEach((e) => {
      const target = e.labelTarget || e;
      if (chosen.indexOf(target) < 0) chosen.push(target);
    });
    let content;
    if (chosen.length > 1) {
      content = [el("h2", {text: t("已选择 {n} 个元素", {n: chosen.length})})];
    } else if (!chosen.length || chosen[0] === canvas.getRootElement() ||
               (chosen[0].type === "bpmn:Participant" && chosen[0].businessObject.processRef)) {
      content = processPanel();
    } else {
      content = panelFor(chosen[0]);
    }
    panel.innerHTML = "";
    content.forEach((node) => { panel.appendChild(node); });
    if (state.readOnly) {
      Array.prototype.forEach.call(panel.querySelectorAll("input, select, textarea, button"), (c) => {
        if (c.id === "edit-form") return;  // the form can still be looked at
        c.disabled = true;
      });
    }
    panel.scrollTop = scroll;
    if (focus) {
      const again = panel.querySelector('[name="' + focus.name + '"]');
      if (again) {
        again.focus();
        try { if (focus.start != null) again.setSelectionRange(focus.start, focus.end); } catch (e) { /* not a text input */ }
      }
    }
  }

  return {render, flushPending, laneOverlays};
}
