/* Lane names are role expressions (engine/org/assignment.py): `role[@field][!exclusion…]`. Taking one
   apart for the panel and putting it together again, with the grammar the vocabulary serves. Pure. */

export function laneGrammar(grammar) {
  const expression = new RegExp(grammar.pattern);
  const field = new RegExp("^" + grammar.field + "$");

  /* {role, field, noInitiator, others: [exclusion…]} or null when the name is no role expression. */
  function parse(name) {
    const m = expression.exec((name || "").trim());
    if (!m) return null;
    const exclusions = m.groups.excl ? m.groups.excl.split("!").slice(1) : [];
    return {role: m.groups.role, field: m.groups.field || "", noInitiator: exclusions.indexOf("initiator") >= 0,
            others: exclusions.filter((x) => x !== "initiator")};
  }

  /* The initiator is one person: it takes no @field, and excluding it from itself means nothing. */
  function compose(parts) {
    let out = parts.role + (parts.field && parts.role !== "initiator" ? "@" + parts.field : "");
    if (parts.noInitiator && parts.role !== "initiator") out += "!initiator";
    parts.others.forEach((x) => { out += "!" + x; });
    return out;
  }

  function isField(text) { return field.test(text); }

  return {parse, compose, isField};
}
