/* Checks and conversions of what one types into the panel. Pure. */

export const FORM_KEY = /^[a-z][a-z0-9_]*$/;
const ISO_DURATION = /^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$/;

export function isDuration(text) { return ISO_DURATION.test(text); }

/* The quick setting of a duration: {count, unit: "D" | "H"} for P3D and PT72H, else no count. */
export function quickDuration(text) {
  const days = /^P(\d+)D$/.exec(text || ""), hours = /^PT(\d+)H$/.exec(text || "");
  return {count: days ? days[1] : hours ? hours[1] : "", unit: hours ? "H" : "D"};
}

/* The duration for a quick setting, or null while the count is not a positive whole number. */
export function composeDuration(count, unit) {
  const n = parseInt(count, 10);
  if (!(n > 0)) return null;
  return unit === "D" ? "P" + n + "D" : "PT" + n + "H";
}

/* A form key to start from: the procedure's key and the task's id, as a form key may be written. */
export function suggestFormKey(processKey, elementId) {
  return (processKey + "_" + elementId).toLowerCase().replace(/[^a-z0-9_]/g, "_").replace(/^[^a-z]+/, "");
}

export function isFormKey(text) { return FORM_KEY.test(text); }
