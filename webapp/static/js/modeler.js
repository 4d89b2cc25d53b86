/* The modeler page: bpmn-js Modeler, our properties panel for what the engine reads (lanes as role
   expressions, formKey, approvalMode, deadlines, conditions, scripts, timers), the form-js editor for the
   draft's forms, live validation through /definitions/validate, and saving drafts through the API.
   Every edit goes through bpmn-js commands, so it can be undone, and extension elements of other tools
   are left where they are. */
(function () {
  "use strict";
  var B = window.BPM, t = B.t, el = B.el, C = window.MODELER;
  var SCHEMA_VERSION = (window.FormEditor && window.FormEditor.schemaVersion) || 19;
  var FORM_KEY = /^[a-z][a-z0-9_]*$/;
  var ROLE_EXPR = /^([a-z][a-z0-9_]*)(?:@([a-z_][a-z0-9_]*))?((?:![a-z][a-z0-9_]*(?:@[a-z_][a-z0-9_]*)?)*)$/;
  var ISO_DURATION = /^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$/;
  var SPIFF_PROPS = "spiffworkflow:Properties";

  var TYPE_LABELS = {
    "bpmn:Process": "流程", "bpmn:Participant": "池", "bpmn:Lane": "泳道", "bpmn:UserTask": "用户任务",
    "bpmn:ScriptTask": "脚本任务", "bpmn:ServiceTask": "服务任务", "bpmn:BusinessRuleTask": "业务规则任务",
    "bpmn:SendTask": "发送任务", "bpmn:ReceiveTask": "接收任务", "bpmn:ManualTask": "人工任务", "bpmn:Task": "任务",
    "bpmn:SubProcess": "子流程", "bpmn:CallActivity": "调用活动", "bpmn:ExclusiveGateway": "排他网关",
    "bpmn:InclusiveGateway": "包容网关", "bpmn:ParallelGateway": "并行网关", "bpmn:EventBasedGateway": "事件网关",
    "bpmn:StartEvent": "开始事件", "bpmn:EndEvent": "结束事件", "bpmn:IntermediateCatchEvent": "中间捕获事件",
    "bpmn:IntermediateThrowEvent": "中间抛出事件", "bpmn:BoundaryEvent": "边界事件", "bpmn:SequenceFlow": "顺序流",
    "bpmn:MessageFlow": "消息流", "bpmn:TextAnnotation": "注释", "bpmn:Group": "组",
    "bpmn:DataObjectReference": "数据对象", "bpmn:DataStoreReference": "数据存储"
  };
  var STATES = {draft: "编辑中", proposed: "变更审批中", activated: "已生效", discarded: "已放弃"};
  var APPROVAL_MODES = [["", "单人办理"], ["all", "会签（全部同意）"], ["any", "或签（一人同意即可）"],
                        ["sequential", "依次审批"]];
  var TIMER_TYPES = [["timeDuration", "时长"], ["timeDate", "日期时间"], ["timeCycle", "周期"]];
  var TIMER_HINTS = {
    timeDuration: "ISO 8601 时长，如 PT72H、P3D；或返回它的表达式",
    timeDate: "如 2027-01-05T09:00:00+08:00；或表达式，如 planned_end + \"T18:00:00+08:00\"",
    timeCycle: "如 R/2027-01-01T09:00:00+08:00/P3M（每季度）"
  };
  var CATEGORIES = ["流程治理", "管理体系", "IT服务交付", "ITSM流程"];

  var $ = function (id) { return document.getElementById(id); };
  var buttons = {save: $("save-draft"), propose: $("propose"), deploy: $("deploy"), discard: $("discard"),
                 download: $("download"), fit: $("zoom-fit")};
  var panel = $("panel"), list = $("validation-list"), host = $("canvas");

  var modeler = new window.BpmnJS({container: host, moddleExtensions: {spiffworkflow: window.SPIFF_MODDLE}});
  var canvas = modeler.get("canvas"), registry = modeler.get("elementRegistry"), modeling = modeler.get("modeling"),
      moddle = modeler.get("moddle"), selection = modeler.get("selection"), overlays = modeler.get("overlays"),
      eventBus = modeler.get("eventBus"), commandStack = modeler.get("commandStack"), rules = modeler.get("rules");

  var state = {
    loaded: false, draft: null, forms: {}, readOnly: false, busy: false, leaving: false,
    changes: 0, savedChanges: 0,   // dirty while they differ
    errors: [], validation: null, fromPanel: false
  };
  var roleNames = {};
  (C.roles || []).forEach(function (r) { roleNames[r.code] = r.name; });

  function is(bo, type) { return bo && bo.$instanceOf && bo.$instanceOf(type); }
  function dirty() { return state.changes !== state.savedChanges; }
  function clone(value) { return JSON.parse(JSON.stringify(value)); }
  function escXml(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }
  function xml() {
    return modeler.saveXML({format: true}).then(function (r) { return r.xml; });
  }

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
    if (rerender) renderPanel();
  }

  // ---- the moddle side: extension properties, documentation, expressions ----

  function extValues(bo) {
    var ext = bo.get("extensionElements");
    return ext ? ext.get("values") : [];
  }

  function propsOf(bo) {
    var out = {};
    extValues(bo).forEach(function (v) {
      if (v.$type === SPIFF_PROPS) v.get("properties").forEach(function (p) { out[p.name] = p.value; });
    });
    return out;
  }

  /* The existing extensionElements, created if missing; never replaced (other tools' elements live there). */
  function ensureExt(element, bo) {
    var ext = bo.get("extensionElements");
    if (!ext) {
      ext = moddle.create("bpmn:ExtensionElements", {values: []});
      ext.$parent = bo;
      modeling.updateModdleProperties(element, bo, {extensionElements: ext});
    }
    return ext;
  }

  function dropIfEmpty(element, bo, ext, container) {
    var others = ext.get("values").filter(function (v) { return v !== container; });
    modeling.updateModdleProperties(element, ext, {values: others});
    if (!others.length) modeling.updateModdleProperties(element, bo, {extensionElements: undefined});
  }

  function setProp(element, bo, name, value) {
    value = value == null ? "" : String(value);
    var ext = bo.get("extensionElements");
    var container = ext && ext.get("values").filter(function (v) { return v.$type === SPIFF_PROPS; })[0];
    var prop = container && container.get("properties").filter(function (p) { return p.name === name; })[0];
    if (!value) {
      if (!prop) return;
      var rest = container.get("properties").filter(function (p) { return p !== prop; });
      modeling.updateModdleProperties(element, container, {properties: rest});
      if (!rest.length) dropIfEmpty(element, bo, ext, container);
      return;
    }
    if (prop) {
      if (prop.value !== value) modeling.updateModdleProperties(element, prop, {value: value});
      return;
    }
    ext = ensureExt(element, bo);
    if (!container) {
      container = moddle.create(SPIFF_PROPS, {properties: []});
      container.$parent = ext;
      modeling.updateModdleProperties(element, ext, {values: ext.get("values").concat([container])});
    }
    prop = moddle.create("spiffworkflow:Property", {name: name, value: value});
    prop.$parent = container;
    modeling.updateModdleProperties(element, container, {properties: container.get("properties").concat([prop])});
  }

  /* <spiffworkflow:calledDecisionId>text</…> and its kind: an extension element whose text is the value. */
  function bodyExt(bo, type) {
    return extValues(bo).filter(function (v) { return v.$type === type; })[0];
  }

  function setBodyExt(element, bo, type, value) {
    var found = bodyExt(bo, type);
    if (!value) {
      if (found) dropIfEmpty(element, bo, bo.get("extensionElements"), found);
      return;
    }
    if (found) {
      if (found.value !== value) modeling.updateModdleProperties(element, found, {value: value});
      return;
    }
    var ext = ensureExt(element, bo);
    var node = moddle.create(type, {value: value});
    node.$parent = ext;
    modeling.updateModdleProperties(element, ext, {values: ext.get("values").concat([node])});
  }

  function docOf(bo) {
    var docs = bo.get("documentation");
    return docs && docs.length ? docs[0].text || "" : "";
  }

  function setDoc(element, bo, text) {
    var docs = bo.get("documentation");
    var first = docs[0];
    if (first) {
      if (!text) modeling.updateModdleProperties(element, bo, {documentation: docs.slice(1)});
      else if (first.text !== text) modeling.updateModdleProperties(element, first, {text: text});
    } else if (text) {
      var doc = moddle.create("bpmn:Documentation", {text: text});
      doc.$parent = bo;
      modeling.updateModdleProperties(element, bo, {documentation: [doc]});
    }
  }

  function expression(parent, text) {
    if (!text) return undefined;
    var expr = moddle.create("bpmn:FormalExpression", {body: text});
    expr.$parent = parent;
    return expr;
  }

  function eventDefinition(bo, type) {
    return (bo.get("eventDefinitions") || []).filter(function (d) { return is(d, type); })[0];
  }

  /* The executable process and the shape that stands for it (its pool, or the root of a pool-less diagram). */
  function processContext() {
    var root = canvas.getRootElement();
    if (is(root.businessObject, "bpmn:Process")) return {element: root, bo: root.businessObject, participant: null};
    var pools = registry.filter(function (e) { return e.type === "bpmn:Participant" && e.businessObject.processRef; });
    var pool = pools.filter(function (e) { return e.businessObject.processRef.isExecutable; })[0] || pools[0];
    if (!pool) return null;
    return {element: pool, bo: pool.businessObject.processRef, participant: pool};
  }

  /* Variable names in loopDataInputRef/loopDataOutputRef are not element ids, so moddle drops them as
     unresolved references; keep them as references to stand-ins that write the same text back. */
  function keepVariableRefs(warnings) {
    (warnings || []).forEach(function (w) {
      if (w.element && w.value && /(^|:)loopData(Input|Output)Ref$/.test(String(w.property || ""))) {
        w.element.set(w.property, moddle.create("bpmn:Property", {id: w.value}));
      }
    });
  }

  // ---- read-only: a proposed or activated draft ----

  var allowed = rules.allowed.bind(rules);
  rules.allowed = function (action, context) { return state.readOnly ? false : allowed(action, context); };
  eventBus.on("element.dblclick", 5000, function () { if (state.readOnly) return false; });

  function setReadOnly(on) {
    state.readOnly = on;
    document.body.classList.toggle("mdl-readonly", on);
    if (on) modeler.get("keyboard").unbind();
  }

  // ---- the properties panel ----

  var pending = null;  // a text input's edit waiting for the typist to pause: {input, run, timer}

  function flushPending() {
    if (!pending) return;
    var p = pending;
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
      pending = {input: input, run: run, timer: setTimeout(function () { pending = null; run(); }, 300)};
    }
    input.addEventListener("input", typed);
    input.addEventListener("compositionend", typed);
    input.addEventListener("change", function () {
      if (pending && pending.input === input) { clearTimeout(pending.timer); pending = null; }
      run();
    });
    return input;
  }

  function textInput(name, value, commit, attrs) {
    var input = el("input", Object.assign({type: "text", name: "prop-" + name, autocomplete: "off"}, attrs || {}));
    input.value = value || "";
    return commit ? bindText(input, commit) : input;
  }

  function textArea(name, value, commit, attrs) {
    var area = el("textarea", Object.assign({name: "prop-" + name, rows: "3"}, attrs || {}));
    area.value = value || "";
    return bindText(area, commit);
  }

  /* options: [[value, label]] or [{group, options: [[value, label]]}]; an unknown current value stays listed. */
  function selectInput(name, options, value, onChange, attrs) {
    var select = el("select", Object.assign({name: "prop-" + name}, attrs || {}));
    var seen = {};
    function option(pair) {
      seen[pair[0]] = true;
      return el("option", {value: pair[0], text: t(pair[1])});
    }
    options.forEach(function (o) {
      if (o.group) select.appendChild(el("optgroup", {label: t(o.group)}, o.options.map(option)));
      else select.appendChild(option(o));
    });
    if (value && !seen[value]) select.appendChild(el("option", {value: value, text: value + "（" + t("当前值") + "）"}));
    select.value = value || "";
    if (onChange) select.addEventListener("change", function () { onChange(select.value); });
    return select;
  }

  function fieldOf(label, control, hint) {
    var f = B.field(t(label), control);
    if (hint) f.appendChild(el("p", {class: "hint", text: t(hint)}));
    return f;
  }

  function checkbox(name, label, checked, onChange) {
    var box = el("input", {type: "checkbox", name: "prop-" + name});
    box.checked = !!checked;
    box.addEventListener("change", function () { onChange(box.checked); });
    return el("label", {class: "check"}, [box, t(label)]);
  }

  function group(title, children) {
    return el("div", {class: "group"}, [el("p", {class: "group-title", text: t(title)})].concat(children));
  }

  function idField(bo) {
    return fieldOf("标识（ID）", textInput("id", bo.id, null, {readonly: true, class: "mono"}));
  }

  function nameField(element, bo, label) {
    return fieldOf(label || "名称", textInput("name", bo.name, function (value) {
      if ((bo.name || "") === value) return;
      apply(element, function () { modeling.updateProperties(element, {name: value || undefined}); });
    }));
  }

  function docField(element, bo) {
    return fieldOf("说明", textArea("documentation", docOf(bo), function (value) {
      if (docOf(bo) === value) return;
      apply(element, function () { setDoc(element, bo, value); });
    }));
  }

  function propText(element, bo, name, label, hint, attrs) {
    return fieldOf(label, textInput(name, propsOf(bo)[name], function (value) {
      if ((propsOf(bo)[name] || "") === value.trim()) return;
      apply(element, function () { setProp(element, bo, name, value.trim()); });
    }, attrs), hint);
  }

  function head(element, bo, title) {
    var type = t(TYPE_LABELS[bo.$type] || bo.$type.replace(/^bpmn:/, ""));
    return [el("h2", {text: title || bo.name || type}), el("div", {class: "mdl-type", text: type + " · " + bo.id})];
  }

  function roleOptions(prefix, extra) {
    var global = [], dept = [];
    (C.roles || []).forEach(function (r) {
      (r.scope === "department" ? dept : global).push([prefix + r.code, r.name + "（" + r.code + "）"]);
    });
    var out = extra ? [{group: "特殊", options: extra}] : [];
    if (dept.length) out.push({group: "部门角色", options: dept});
    out.push({group: "角色", options: global});
    return out;
  }

  // -- the process (nothing selected, or the pool) --
  function processPanel() {
    var ctx = processContext();
    if (!ctx) return [el("p", {class: "muted", text: t("没有流程")})];
    var bo = ctx.bo, element = ctx.element, props = propsOf(bo);
    var name = fieldOf("流程名称", textInput("name", bo.name, function (value) {
      if ((bo.name || "") === value) return;
      apply(element, function () {
        if (ctx.participant) modeling.updateProperties(ctx.participant, {name: value || undefined});
        modeling.updateModdleProperties(element, bo, {name: value || undefined});
      });
      $("mdl-name").textContent = value || C.process_key;
    }));
    var owner = fieldOf("流程所有者", selectInput("ownerRole", [["", "（未设置）"]].concat(roleOptions("")),
      props.ownerRole, function (value) { apply(element, function () { setProp(element, bo, "ownerRole", value); }); }),
      "该角色的人员可以修改本流程");
    var categories = el("datalist", {id: "mdl-categories"}, CATEGORIES.map(function (c) { return el("option", {value: c}); }));
    var category = propText(element, bo, "category", "类别", null, {list: "mdl-categories"});
    category.appendChild(categories);

    var starters = el("select", {name: "prop-starterRoles", multiple: true, size: "6"});
    var chosen = {};
    (props.starterRoles || "").split(",").forEach(function (c) { if (c.trim()) chosen[c.trim()] = true; });
    var known = {};
    (C.roles || []).forEach(function (r) {
      known[r.code] = true;
      starters.appendChild(el("option", {value: r.code, text: r.name + "（" + r.code + "）", selected: chosen[r.code] ? "selected" : null}));
    });
    Object.keys(chosen).forEach(function (c) {
      if (!known[c]) starters.appendChild(el("option", {value: c, text: c + "（" + t("未知角色") + "）", selected: "selected"}));
    });
    starters.addEventListener("change", function () {
      var codes = Array.prototype.filter.call(starters.options, function (o) { return o.selected; })
        .map(function (o) { return o.value; });
      apply(element, function () { setProp(element, bo, "starterRoles", codes.join(",")); });
    });
    return head(element, bo, bo.name || C.process_key).concat([
      fieldOf("流程标识", textInput("id", bo.id, null, {readonly: true, class: "mono"}), "流程标识不能修改"),
      name, owner, category,
      fieldOf("发起角色", starters, "可手工发起本流程的角色（按住 Ctrl 多选）；不选表示所有人都可发起"),
      docField(element, bo)
    ]);
  }

  // -- a lane: its name is the role expression that assigns its tasks --
  function parseLane(name) {
    var m = ROLE_EXPR.exec((name || "").trim());
    if (!m) return null;
    var exclusions = m[3] ? m[3].split("!").slice(1) : [];
    return {role: m[1], field: m[2] || "", noInitiator: exclusions.indexOf("initiator") >= 0,
            others: exclusions.filter(function (x) { return x !== "initiator"; })};
  }

  function composeLane(p) {
    var out = p.role + (p.field && p.role !== "initiator" ? "@" + p.field : "");
    if (p.noInitiator && p.role !== "initiator") out += "!initiator";
    p.others.forEach(function (x) { out += "!" + x; });
    return out;
  }

  function lanePanel(element, bo) {
    var parsed = parseLane(bo.name) || {role: "", field: "", noInitiator: false, others: []};
    function update(change) {
      var next = Object.assign({}, parsed, change);
      if (!next.role) return;
      var name = composeLane(next);
      if (name !== bo.name) apply(element, function () { modeling.updateProperties(element, {name: name}); }, true);
    }
    var role = selectInput("lane-role", [["", "（自定义，见下方表达式）"]].concat(roleOptions("", [
      ["initiator", "发起人（initiator）"], ["user", "表单中选定的人员（user@字段）"]])), parsed.role,
      function (value) { update({role: value}); });
    var field = textInput("lane-field", parsed.field, function (value) {
      value = value.trim();
      if (value === parsed.field || (value && !/^[a-z_][a-z0-9_]*$/.test(value))) return;
      update({field: value});
    }, {placeholder: t("表单字段，如 business_dept"), class: "mono"});
    var expr = textInput("name", bo.name, function (value) {
      if ((bo.name || "") === value.trim()) return;
      apply(element, function () { modeling.updateProperties(element, {name: value.trim() || undefined}); });
    }, {class: "mono"});
    expr.addEventListener("change", function () { renderPanel(); });
    return head(element, bo, bo.name ? roleTitle(parsed, bo.name) : t("泳道")).concat([
      idField(bo),
      fieldOf("办理人（角色）", role),
      fieldOf("@字段", field, "dept_head@字段：该字段所选部门的负责人；user@字段：该字段中选定的人员"),
      checkbox("lane-noinitiator", "排除发起人本人（!initiator）", parsed.noInitiator,
               function (on) { update({noInitiator: on}); }),
      fieldOf("泳道名称（角色表达式）", expr, "也可直接填写，如 gm、dept_head@business_dept、user@field!initiator"),
      docField(element, bo)
    ]);
  }

  /* "部门负责人 @business_dept，不含发起人": who a lane's expression names, in words. */
  function roleWords(parsed) {
    var who = parsed.role === "initiator" ? t("发起人") : parsed.role === "user" ? t("选定人员")
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
    registry.filter(function (e) { return e.type === "bpmn:Lane"; }).forEach(function (lane) {
      var parsed = parseLane(lane.businessObject.name);
      if (!parsed || (lane.businessObject.childLaneSet && lane.businessObject.childLaneSet.lanes.length)) return;
      try {
        overlays.add(lane.id, "bpm-lane-role", {position: {top: 4, left: 36}, scale: false,
                                                 html: el("span", {class: "bpm-lane-role", text: roleWords(parsed)})});
      } catch (e) { /* a lane without a visual */ }
    });
  }

  // -- user tasks --
  function durationField(element, bo, name, label, hint) {
    var current = propsOf(bo)[name] || "";
    var warn = el("p", {class: "hint error", hidden: true, text: t("不是 ISO 8601 时长（如 P3D、PT72H）")});
    function check(value) { warn.hidden = !value || ISO_DURATION.test(value); }
    var input = textInput(name, current, function (value) {
      value = value.trim();
      check(value);
      if ((propsOf(bo)[name] || "") === value) return;
      apply(element, function () { setProp(element, bo, name, value); });
    }, {placeholder: t("如 P3D"), class: "mono"});
    var m = /^P(\d+)D$/.exec(current) || null, h = /^PT(\d+)H$/.exec(current) || null;
    var n = el("input", {type: "number", min: "1", step: "1", name: "prop-" + name + "-n", "aria-label": t(label) + t("数量"),
                         value: m ? m[1] : h ? h[1] : ""});
    var unit = el("select", {name: "prop-" + name + "-unit", "aria-label": t(label) + t("单位")},
                  [el("option", {value: "D", text: t("天")}), el("option", {value: "H", text: t("小时")})]);
    unit.value = h ? "H" : "D";
    function pick() {
      var count = parseInt(n.value, 10);
      if (!(count > 0)) return;
      input.value = unit.value === "D" ? "P" + count + "D" : "PT" + count + "H";
      input.dispatchEvent(new Event("change"));
    }
    n.addEventListener("change", pick);
    unit.addEventListener("change", pick);
    check(current);
    var f = fieldOf(label, input, hint);
    f.appendChild(el("div", {class: "helper"}, [t("快速设置") + "：", n, unit]));
    f.appendChild(warn);
    return f;
  }

  function escalationOptions() {
    var notify = [["notify:dept_head", "通知部门负责人"], ["notify:initiator", "通知发起人"]];
    var move = [["move:dept_head", "转给部门负责人"]];
    (C.roles || []).forEach(function (r) {
      if (r.code === "dept_head") return;
      notify.push(["notify:" + r.code, t("通知") + " " + r.name]);
      move.push(["move:" + r.code, t("转给") + " " + r.name]);
    });
    return [["", "无"], {group: "超时通知", options: notify}, {group: "超时转办", options: move}];
  }

  function newFormDialog(element, bo, onDone) {
    var suggestion = (C.process_key + "_" + bo.id).toLowerCase().replace(/[^a-z0-9_]/g, "_").replace(/^[^a-z]+/, "");
    var input = el("input", {type: "text", name: "new-form-key", value: suggestion, class: "mono"});
    B.dialog(t("新建表单"), [B.field(t("表单标识"), input),
                         el("p", {class: "hint muted", text: t("小写字母开头，只含小写字母、数字和下划线")})],
      function (close, fail) {
        var key = input.value.trim();
        if (!FORM_KEY.test(key)) { fail(t("表单标识只能包含小写字母、数字和下划线，并以字母开头")); return; }
        if (state.forms[key]) { fail(t("表单已存在：{key}", {key: key})); return; }
        state.forms[key] = {type: "default", id: key, components: [], schemaVersion: SCHEMA_VERSION};
        close();
        apply(element, function () { setProp(element, bo, "formKey", key); });
        formsChanged();
        onDone(key);
      });
  }

  function userTaskPanel(element, bo) {
    var props = propsOf(bo);
    var keys = Object.keys(state.forms).sort();
    var formSelect = selectInput("formKey", [["", "（未选择）"]].concat(keys.map(function (k) {
      return [k, (state.forms[k] && state.forms[k].title) ? k + " · " + state.forms[k].title : k];
    })).concat([["__new__", "新建表单…"]]), props.formKey, function (value) {
      if (value === "__new__") {
        formSelect.value = props.formKey || "";
        newFormDialog(element, bo, function () { renderPanel(); });
        return;
      }
      apply(element, function () { setProp(element, bo, "formKey", value); }, true);
    });
    var edit = el("button", {type: "button", class: "btn small", id: "edit-form", text: t("编辑表单"),
                             disabled: props.formKey ? null : "disabled"});
    edit.addEventListener("click", function () { openFormEditor(propsOf(bo).formKey); });
    var formField = fieldOf("表单", el("div", {class: "row"}, [formSelect, edit]));

    var escalation = selectInput("escalation", escalationOptions(), props.escalation, function (value) {
      apply(element, function () { setProp(element, bo, "escalation", value); }, true);
    });
    return head(element, bo).concat([
      idField(bo), nameField(element, bo), formField,
      fieldOf("审批方式", selectInput("approvalMode", APPROVAL_MODES, props.approvalMode, function (value) {
        apply(element, function () { setProp(element, bo, "approvalMode", value); });
      }), "会签、或签、依次审批：泳道的每位候选人各有一个任务；表单需要 decision 字段"),
      group("时限", [
        durationField(element, bo, "dueIn", "办理时限", "ISO 8601 时长，如 P3D（3 天）、PT72H（72 小时）"),
        durationField(element, bo, "remindBefore", "到期前提醒", "到期前多久提醒办理人，如 P1D"),
        fieldOf("超时处理", escalation),
        propText(element, bo, "escalation", "超时处理（表达式）", "notify:角色表达式 或 move:角色表达式",
                 {name: "prop-escalation-expr", class: "mono"})
      ]),
      docField(element, bo)
    ]);
  }

  // -- sequence flows: conditions out of exclusive/inclusive gateways --
  function flowPanel(element, bo) {
    var source = element.source;
    var fields = [idField(bo), nameField(element, bo)];
    if (source && (is(source.businessObject, "bpmn:ExclusiveGateway") || is(source.businessObject, "bpmn:InclusiveGateway"))) {
      var isDefault = source.businessObject.default === bo;
      var condition = bo.conditionExpression ? bo.conditionExpression.body || "" : "";
      var area = textArea("condition", condition, function (value) {
        var now = bo.conditionExpression ? bo.conditionExpression.body || "" : "";
        if (now === value.trim()) return;
        apply(element, function () {
          modeling.updateProperties(element, {conditionExpression: expression(bo, value.trim())});
        });
      }, {class: "mono", rows: "2", disabled: isDefault ? "disabled" : null,
          placeholder: isDefault ? null : 'decision == "reject"'});
      fields.push(fieldOf("条件", area, isDefault ? "默认路径：其他条件都不满足时走这条，不需要条件"
                                            : "Python 表达式，使用案件的表单字段，如 decision == \"reject\""));
      fields.push(checkbox("default", "默认路径", isDefault, function (on) {
        apply(element, function () {
          modeling.updateProperties(source, {"default": on ? bo : undefined});
          if (on && bo.conditionExpression) modeling.updateProperties(element, {conditionExpression: undefined});
        }, true);
      }));
    }
    fields.push(docField(element, bo));
    return head(element, bo).concat(fields);
  }

  // -- events: timers --
  var timerChoice = {};

  function timerFields(element, bo) {
    var def = eventDefinition(bo, "bpmn:TimerEventDefinition");
    if (!def) return [];
    var type = def.timeCycle ? "timeCycle" : def.timeDate ? "timeDate" : def.timeDuration ? "timeDuration"
      : timerChoice[bo.id] || (is(bo, "bpmn:StartEvent") ? "timeCycle" : "timeDuration");
    var value = def[type] ? def[type].body || "" : "";
    function setTimer(kind, text) {
      var props = {timeDate: undefined, timeDuration: undefined, timeCycle: undefined};
      props[kind] = expression(def, text);
      modeling.updateModdleProperties(element, def, props);
    }
    var kind = selectInput("timerType", TIMER_TYPES, type, function (next) {
      var text = def[type] ? def[type].body || "" : "";
      timerChoice[bo.id] = next;  // an empty timer has no type in the XML yet
      if (text) apply(element, function () { setTimer(next, text); }, true);
      else renderPanel();
    });
    var input = textInput("timerValue", value, function (text) {
      text = text.trim();
      var now = def[type] ? def[type].body || "" : "";
      if (now === text) return;
      apply(element, function () { setTimer(type, text); });
    }, {class: "mono"});
    var out = [group("定时", [fieldOf("类型", kind), fieldOf("值", input, TIMER_HINTS[type])])];
    if (is(bo, "bpmn:BoundaryEvent")) {
      out[0].appendChild(checkbox("cancelActivity", "中断任务（到时取消所附着的任务）", bo.cancelActivity !== false,
        function (on) { apply(element, function () { modeling.updateProperties(element, {cancelActivity: on}); }); }));
    }
    return out;
  }

  function scriptTaskPanel(element, bo) {
    return head(element, bo).concat([
      idField(bo), nameField(element, bo),
      fieldOf("脚本", textArea("script", bo.script, function (value) {
        if ((bo.script || "") === value) return;
        apply(element, function () { modeling.updateProperties(element, {script: value || undefined}); });
      }, {class: "mono", rows: "8", spellcheck: "false"}),
      "受限的 Python：无 import、无下划线；可用 today()、now()、next_number(\"计数器\")"),
      docField(element, bo)
    ]);
  }

  function ruleTaskPanel(element, bo) {
    var found = bodyExt(bo, "spiffworkflow:CalledDecisionId");
    return head(element, bo).concat([
      idField(bo), nameField(element, bo),
      fieldOf("决策表", textInput("calledDecisionId", found ? found.value : "", function (value) {
        value = value.trim();
        var now = bodyExt(bo, "spiffworkflow:CalledDecisionId");
        if ((now ? now.value || "" : "") === value) return;
        apply(element, function () { setBodyExt(element, bo, "spiffworkflow:CalledDecisionId", value); });
      }, {class: "mono"}), "流程库 .dmn 文件中的决策 id"),
      docField(element, bo)
    ]);
  }

  function genericPanel(element, bo) {
    var fields = [idField(bo)];
    if (!is(bo, "bpmn:TextAnnotation")) fields.push(nameField(element, bo));
    if (is(bo, "bpmn:Event")) fields = fields.concat(timerFields(element, bo));
    if (is(bo, "bpmn:BaseElement") && !is(bo, "bpmn:TextAnnotation")) fields.push(docField(element, bo));
    return head(element, bo).concat(fields);
  }

  function panelFor(element) {
    var bo = element.businessObject;
    if (is(bo, "bpmn:Lane")) return lanePanel(element, bo);
    if (is(bo, "bpmn:UserTask")) return userTaskPanel(element, bo);
    if (is(bo, "bpmn:ScriptTask")) return scriptTaskPanel(element, bo);
    if (is(bo, "bpmn:BusinessRuleTask")) return ruleTaskPanel(element, bo);
    if (is(bo, "bpmn:SequenceFlow")) return flowPanel(element, bo);
    return genericPanel(element, bo);
  }

  function renderPanel() {
    if (!state.loaded) return;
    flushPending();
    var active = document.activeElement;
    var focus = active && panel.contains(active) && active.name ? {name: active.name, start: active.selectionStart,
                                                                      end: active.selectionEnd} : null;
    var scroll = panel.scrollTop;
    var chosen = [];
    selection.get().forEach(function (e) {
      var target = e.labelTarget || e;
      if (chosen.indexOf(target) < 0) chosen.push(target);
    });
    var content;
    if (chosen.length > 1) {
      content = [el("h2", {text: t("已选择 {n} 个元素", {n: chosen.length})})];
    } else if (!chosen.length || chosen[0] === canvas.getRootElement() ||
               (chosen[0].type === "bpmn:Participant" && chosen[0].businessObject.processRef)) {
      content = processPanel();
    } else {
      content = panelFor(chosen[0]);
    }
    panel.innerHTML = "";
    content.forEach(function (node) { panel.appendChild(node); });
    if (state.readOnly) {
      Array.prototype.forEach.call(panel.querySelectorAll("input, select, textarea, button"), function (c) {
        if (c.id === "edit-form") return;  // the form can still be looked at
        c.disabled = true;
      });
    }
    panel.scrollTop = scroll;
    if (focus) {
      var again = panel.querySelector('[name="' + focus.name + '"]');
      if (again) {
        again.focus();
        try { if (focus.start != null) again.setSelectionRange(focus.start, focus.end); } catch (e) { /* not a text input */ }
      }
    }
  }

  eventBus.on("selection.changed", function () { renderPanel(); });
  eventBus.on("commandStack.changed", function (e) {
    if (e && e.trigger === "clear") return;
    state.changes += 1;
    if (!state.fromPanel) renderPanel();
    laneOverlays();
    changed();
  });

  // ---- validation: the server's checks, ~600 ms after the last change ----

  var validateTimer = null, validateSeq = 0;

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
    var seq = ++validateSeq;
    list.dataset.state = "pending";
    var run = xml().then(function (bpmn) {
      return B.api("POST", "/definitions/validate", {bpmn_xml: bpmn, forms: state.forms, process_key: C.process_key});
    }).then(function (res) {
      if (seq !== validateSeq) return state.validation;  // a newer check is under way: its answer counts
      if (!res.ok) {
        showErrors([{element_id: null, message: t("校验失败") + "：" + B.message(res)}]);
        return false;
      }
      var errors = res.body.errors || [];
      showErrors(errors);
      return !!res.body.valid && !errors.length;
    }, function (err) {
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
    var found = registry.get(id);
    if (found) return found;
    return registry.filter(function (e) {
      return e.type === "bpmn:Participant" && e.businessObject.processRef && e.businessObject.processRef.id === id;
    })[0] || null;
  }

  function elementTitle(element) {
    var bo = element.businessObject;
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

  var marked = [];

  function showErrors(errors) {
    state.errors = errors;
    marked.forEach(function (id) { if (registry.get(id)) canvas.removeMarker(id, "bpm-invalid"); });
    marked = [];
    overlays.remove({type: "bpm-errors"});
    list.innerHTML = "";
    var perElement = {}, order = [], docLevel = [];
    errors.forEach(function (e) {
      var element = shapeFor(e.element_id);
      if (!element) { docLevel.push(e); return; }
      if (!perElement[element.id]) { perElement[element.id] = {element: element, errors: []}; order.push(element.id); }
      perElement[element.id].errors.push(e);
    });
    docLevel.forEach(function (e) {
      list.appendChild(el("li", {class: "doc"}, [e.element_id ? el("strong", {text: e.element_id}) : null, e.message]));
    });
    order.forEach(function (id) {
      var entry = perElement[id];
      if (entry.element !== canvas.getRootElement()) {
        canvas.addMarker(id, "bpm-invalid");
        marked.push(id);
        var badge = el("span", {class: "bpm-error-badge", title: entry.errors.map(function (e) { return e.message; }).join("\n"),
                                text: String(entry.errors.length)});
        badge.addEventListener("click", function () { reveal(entry.element); });
        try {
          overlays.add(id, "bpm-errors", {position: {top: -9, right: 9}, scale: false, html: badge});
        } catch (e) { /* an element without a visual (e.g. hidden) takes no badge */ }
      }
      entry.errors.forEach(function (e) {
        var item = el("li", {tabindex: "0", "data-element": id}, [el("strong", {text: elementTitle(entry.element)}), e.message]);
        item.addEventListener("click", function () { reveal(entry.element); });
        item.addEventListener("keydown", function (ev) { if (ev.key === "Enter") reveal(entry.element); });
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
    var d = state.draft, ro = state.readOnly || !state.loaded, busy = state.busy;
    var hasErrors = state.errors.length > 0;
    var proposable = !d || d.state === "draft";
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
    var tag = $("mdl-draft");
    tag.textContent = t("草稿") + " #" + draft.id + "（" + t(STATES[draft.state] || draft.state) + "）";
    tag.title = draft.updated_by ? t("最后保存：{who}", {who: draft.updated_by}) : "";
    tag.hidden = false;
    var note = $("readonly-note");
    note.innerHTML = "";
    var text = null;
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
    var query = "?draft=" + draft.id + (C.is_new ? "&new=1" : "");
    if (location.search !== query) history.replaceState(null, "", location.pathname + query);
  }

  /* Save the draft (validating first); resolves to true when stored. */
  function save() {
    if (state.readOnly || !state.loaded) return Promise.resolve(false);
    if (state.busy) return Promise.resolve(false);
    flushPending();
    state.busy = true;
    updateButtons();
    var changesAtSave = state.changes;
    return validateNow().then(function (valid) {
      if (!valid) {
        B.flash(t("流程图有错误，请先修正（见右侧校验列表）"), "bad");
        return false;
      }
      return xml().then(function (bpmn) {
        var d = state.draft;
        var body = {bpmn_xml: bpmn, forms: state.forms};
        var request = d ? B.api("PUT", "/drafts/" + d.id, Object.assign(body, {lock_version: d.lock_version}))
                        : B.api("POST", "/processes/" + encodeURIComponent(C.process_key) + "/drafts", body);
        return request.then(function (res) {
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
    }).then(function (ok) {
      state.busy = false;
      updateButtons();
      return ok;
    }, function (err) {
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
    ensureSaved().then(function (ok) {
      if (!ok) return;
      state.busy = true;
      updateButtons();
      B.api("POST", "/drafts/" + state.draft.id + "/propose", {}).then(function (res) {
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
    var note = el("textarea", {name: "note", rows: "3", maxlength: "500"});
    B.dialog(t("直接部署"), [el("p", {class: "notice", text: t("草稿将立即成为新的线上版本，不经过流程新增/变更审批；版本记录中会注明。")}),
                          B.field(t("部署说明"), note)],
      function (close, fail) {
        ensureSaved().then(function (ok) {
          if (!ok) { fail(t("草稿未能保存，未部署")); return; }
          B.api("POST", "/drafts/" + state.draft.id + "/deploy", {note: note.value.trim() || null}).then(function (res) {
            if (!res.ok) { fail(B.message(res)); return; }
            close();
            leave("/processes/" + encodeURIComponent(C.process_key), t("已部署为版本 v{v}", {v: res.body.version}));
          });
        });
      });
  }

  function discard() {
    if (!state.draft) return;
    B.dialog(t("放弃草稿"), [el("p", {text: t("放弃后草稿不能恢复，线上版本不受影响。确定放弃吗？")})], function (close, fail) {
      B.api("DELETE", "/drafts/" + state.draft.id).then(function (res) {
        if (!res.ok) { fail(B.message(res)); return; }
        close();
        leave(C.live_version ? "/processes/" + encodeURIComponent(C.process_key) : "/processes", t("草稿已放弃"));
      });
    });
  }

  /* The whole diagram in view, right of the palette (which floats over the canvas), at most 100 %. */
  function fit() {
    var outer = canvas.viewbox().outer, inner = canvas.viewbox().inner;
    if (!outer.width || !inner.width) return;
    var palette = host.querySelector(".djs-palette");
    var left = palette && palette.offsetWidth && !state.readOnly ? palette.offsetLeft + palette.offsetWidth + 16 : 16;
    var scale = Math.min((outer.width - left - 16) / inner.width, (outer.height - 32) / inner.height, 1);
    canvas.viewbox({x: inner.x - left / scale, y: inner.y - (outer.height / scale - inner.height) / 2,
                    width: outer.width / scale, height: outer.height / scale});
  }

  function download() {
    xml().then(function (bpmn) {
      var url = URL.createObjectURL(new Blob([bpmn], {type: "application/xml"}));
      var a = el("a", {href: url, download: C.process_key + ".bpmn"});
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    });
  }

  buttons.save.addEventListener("click", function () { save(); });
  buttons.propose.addEventListener("click", propose);
  if (buttons.deploy) buttons.deploy.addEventListener("click", deploy);
  buttons.discard.addEventListener("click", discard);
  buttons.download.addEventListener("click", download);
  buttons.fit.addEventListener("click", fit);

  document.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === "s" || e.key === "S")) {
      e.preventDefault();
      if ($("form-editor-dialog").open) return;
      if (state.errors.length) { B.flash(t("流程图有错误，请先修正（见右侧校验列表）"), "bad"); return; }
      save();
    }
  });

  window.addEventListener("beforeunload", function (e) {
    if (dirty() && !state.leaving && !state.readOnly) {
      e.preventDefault();
      e.returnValue = "";
    }
  });

  // ---- the form editor ----

  var formDialog = $("form-editor-dialog"), formHost = $("form-editor");
  var formEditor = null, formKeyEditing = null;

  function openFormEditor(key) {
    if (!key) return;
    formKeyEditing = key;
    $("form-editor-key").textContent = key + (state.forms[key] ? "" : "（" + t("新表单") + "）");
    $("form-editor-done").hidden = state.readOnly;
    formHost.innerHTML = "";
    formDialog.showModal();
    var schema = state.forms[key] ? clone(state.forms[key])
      : {type: "default", id: key, components: [], schemaVersion: SCHEMA_VERSION};
    window.FormEditor.createFormEditor({container: formHost, schema: schema}).then(function (editor) {
      if (formKeyEditing !== key || !formDialog.open) { editor.destroy(); return; }
      formEditor = editor;
    }).catch(function (err) {
      formHost.appendChild(el("p", {class: "error", text: t("表单加载失败") + "：" + err.message}));
    });
  }

  function closeFormEditor(keep) {
    var active = document.activeElement;
    if (active && formHost.contains(active)) active.blur();  // the editor's fields commit on blur
    if (keep && formEditor && !state.readOnly) {
      var schema = formEditor.saveSchema();
      if (!schema.id) schema.id = formKeyEditing;
      state.forms[formKeyEditing] = schema;
      formsChanged();
      renderPanel();
    }
    if (formEditor) formEditor.destroy();
    formEditor = null;
    formKeyEditing = null;
    formHost.innerHTML = "";
    if (formDialog.open) formDialog.close();
  }

  $("form-editor-done").addEventListener("click", function () { closeFormEditor(true); });
  $("form-editor-cancel").addEventListener("click", function () { closeFormEditor(false); });
  // Esc would drop the edits silently: closing takes 完成 or 取消
  formDialog.addEventListener("cancel", function (e) { e.preventDefault(); });

  // ---- loading ----

  function blankDiagram(key, name) {
    var k = escXml(key), n = escXml(name || key);
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
      '<bpmn:startEvent id="start" name="' + escXml(t("发起")) + '"/></bpmn:process>' +
      '<bpmndi:BPMNDiagram id="diagram_' + k + '"><bpmndi:BPMNPlane id="plane_' + k + '" bpmnElement="collab_' + k + '">' +
      '<bpmndi:BPMNShape id="participant_' + k + '_di" bpmnElement="participant_' + k + '" isHorizontal="true">' +
      '<dc:Bounds x="160" y="80" width="1000" height="220"/></bpmndi:BPMNShape>' +
      '<bpmndi:BPMNShape id="lane_initiator_di" bpmnElement="lane_initiator" isHorizontal="true">' +
      '<dc:Bounds x="190" y="80" width="970" height="220"/></bpmndi:BPMNShape>' +
      '<bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="262" y="172" width="36" height="36"/>' +
      '<bpmndi:BPMNLabel><dc:Bounds x="266" y="215" width="28" height="14"/></bpmndi:BPMNLabel></bpmndi:BPMNShape>' +
      '</bpmndi:BPMNPlane></bpmndi:BPMNDiagram></bpmn:definitions>';
  }

  function source() {
    if (C.draft_id) {
      return B.api("GET", "/drafts/" + C.draft_id).then(function (res) {
        if (!res.ok) throw new Error(B.message(res));
        if (res.body.process_key !== C.process_key) throw new Error(t("草稿不属于该流程"));
        setDraft(res.body);
        return {xml: res.body.bpmn_xml, forms: res.body.forms || {}, readOnly: !res.body.editable};
      });
    }
    if (C.is_new) return Promise.resolve({xml: blankDiagram(C.process_key, C.name), forms: {}, fresh: true});
    return B.api("GET", "/processes/" + encodeURIComponent(C.process_key) + "/content").then(function (res) {
      if (!res.ok) throw new Error(B.message(res));
      return {xml: res.body.bpmn_xml, forms: res.body.forms || {}};
    });
  }

  source().then(function (src) {
    state.forms = src.forms;
    return modeler.importXML(src.xml).then(function (result) {
      keepVariableRefs(result.warnings);
      state.loaded = true;
      setReadOnly(!!src.readOnly);
      if (src.fresh) state.changes = 1;  // a new procedure exists nowhere until its first save
      fit();
      laneOverlays();
      var ctx = processContext();
      if (ctx && ctx.bo.name) $("mdl-name").textContent = ctx.bo.name;
      renderPanel();
      updateButtons();
      host.dataset.state = "ready";
      return validateNow();
    });
  }).catch(function (err) {
    panel.innerHTML = "";
    panel.appendChild(el("p", {class: "error", text: t("流程图加载失败") + "：" + err.message}));
    B.flash(t("流程图加载失败") + "：" + err.message, "bad");
    host.dataset.state = "failed";
  });

  window.BPM_MODELER = {
    modeler: modeler,
    get forms() { return state.forms; },
    get draft() { return state.draft; },
    get dirty() { return dirty(); },
    get readOnly() { return state.readOnly; },
    validate: validateNow,
    save: save
  };
})();
