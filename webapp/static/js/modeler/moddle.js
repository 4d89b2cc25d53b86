/* The moddle side of a diagram: extension properties, extension elements with a text body,
   documentation, expressions, and the executable process. Every change goes through `modeling`, so
   it can be undone; extension elements of other tools are left where they are. */

const SPIFF_PROPS = "spiffworkflow:Properties";

export function is(bo, type) { return bo && bo.$instanceOf && bo.$instanceOf(type); }

export function extValues(bo) {
  const ext = bo.get("extensionElements");
  return ext ? ext.get("values") : [];
}

/* {name: value} of the element's spiffworkflow:property elements. */
export function propsOf(bo) {
  const out = {};
  extValues(bo).forEach((v) => {
    if (v.$type === SPIFF_PROPS) v.get("properties").forEach((p) => { out[p.name] = p.value; });
  });
  return out;
}

/* <spiffworkflow:calledDecisionId>text</…> and its kind: an extension element whose text is the value. */
export function bodyExt(bo, type) {
  return extValues(bo).filter((v) => v.$type === type)[0];
}

export function docOf(bo) {
  const docs = bo.get("documentation");
  return docs && docs.length ? docs[0].text || "" : "";
}

export function eventDefinition(bo, type) {
  return (bo.get("eventDefinitions") || []).filter((d) => is(d, type))[0];
}

/* The executable process and the shape that stands for it (its pool, or the root of a pool-less diagram). */
export function processContext(canvas, registry) {
  const root = canvas.getRootElement();
  if (is(root.businessObject, "bpmn:Process")) return {element: root, bo: root.businessObject, participant: null};
  const pools = registry.filter((e) => e.type === "bpmn:Participant" && e.businessObject.processRef);
  const pool = pools.filter((e) => e.businessObject.processRef.isExecutable)[0] || pools[0];
  if (!pool) return null;
  return {element: pool, bo: pool.businessObject.processRef, participant: pool};
}

/* The changes, bound to a modeler's `modeling` and `moddle`. */
export function editing(modeling, moddle) {
  /* The existing extensionElements, created if missing; never replaced (other tools' elements live there). */
  function ensureExt(element, bo) {
    let ext = bo.get("extensionElements");
    if (!ext) {
      ext = moddle.create("bpmn:ExtensionElements", {values: []});
      ext.$parent = bo;
      modeling.updateModdleProperties(element, bo, {extensionElements: ext});
    }
    return ext;
  }

  function dropIfEmpty(element, bo, ext, container) {
    const others = ext.get("values").filter((v) => v !== container);
    modeling.updateModdleProperties(element, ext, {values: others});
    if (!others.length) modeling.updateModdleProperties(element, bo, {extensionElements: undefined});
  }

  function setProp(element, bo, name, value) {
    value = value == null ? "" : String(value);
    let ext = bo.get("extensionElements");
    let container = ext && ext.get("values").filter((v) => v.$type === SPIFF_PROPS)[0];
    let prop = container && container.get("properties").filter((p) => p.name === name)[0];
    if (!value) {
      if (!prop) return;
      const rest = container.get("properties").filter((p) => p !== prop);
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

  function setBodyExt(element, bo, type, value) {
    const found = bodyExt(bo, type);
    if (!value) {
      if (found) dropIfEmpty(element, bo, bo.get("extensionElements"), found);
      return;
    }
    if (found) {
      if (found.value !== value) modeling.updateModdleProperties(element, found, {value: value});
      return;
    }
    const ext = ensureExt(element, bo);
    const node = moddle.create(type, {value: value});
    node.$parent = ext;
    modeling.updateModdleProperties(element, ext, {values: ext.get("values").concat([node])});
  }

  function setDoc(element, bo, text) {
    const docs = bo.get("documentation");
    const first = docs[0];
    if (first) {
      if (!text) modeling.updateModdleProperties(element, bo, {documentation: docs.slice(1)});
      else if (first.text !== text) modeling.updateModdleProperties(element, first, {text: text});
    } else if (text) {
      const doc = moddle.create("bpmn:Documentation", {text: text});
      doc.$parent = bo;
      modeling.updateModdleProperties(element, bo, {documentation: [doc]});
    }
  }

  function expression(parent, text) {
    if (!text) return undefined;
    const expr = moddle.create("bpmn:FormalExpression", {body: text});
    expr.$parent = parent;
    return expr;
  }

  /* Variable names in loopDataInputRef/loopDataOutputRef are not element ids, so moddle drops them as
     unresolved references; keep them as references to stand-ins that write the same text back. */
  function keepVariableRefs(warnings) {
    (warnings || []).forEach((w) => {
      if (w.element && w.value && /(^|:)loopData(Input|Output)Ref$/.test(String(w.property || ""))) {
        w.element.set(w.property, moddle.create("bpmn:Property", {id: w.value}));
      }
    });
  }

  return {setProp, setBodyExt, setDoc, expression, keepVariableRefs};
}
