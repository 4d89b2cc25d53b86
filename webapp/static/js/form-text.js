/* Case data shown in a form's templated text is text, never markup.

   form-js renders a text view's template result as Markdown, then HTML: a case value such as
   `<img src="https://…">` or `![](https://…)` would show an image and make the reader's browser fetch
   it. Here every value inserted into a text view's template is escaped for Markdown (a backslash before
   each ASCII punctuation mark, which CommonMark reads as that mark literally), so it shows exactly as
   typed. The form's own text (its author's Markdown) is untouched. HTML views already escape what they
   insert (form-js passes its escapeHTML as the template sanitiser) and DOMPurify cleans the result.

   window.BPM.formTextModule: an additional form-js module for FormViewer.createForm. */
(function () {
  "use strict";
  var FV = window.FormViewer;
  if (!FV || !FV.FeelersTemplating || !FV.Text) return;

  var PUNCTUATION = /[!-\/:-@\[-`{-~]/g;

  function asText(value) {
    return String(value === undefined || value === null ? "" : value).replace(PUNCTUATION, "\\$&");
  }

  /* The templating service: form-js's own, with the escaping above while a text view renders. */
  function SafeTemplating() {
    this.inner = new FV.FeelersTemplating();
    this.textViews = 0;
  }
  SafeTemplating.prototype.isTemplate = function (value) { return this.inner.isTemplate(value); };
  SafeTemplating.prototype.getVariableNames = function (template) { return this.inner.getVariableNames(template); };
  SafeTemplating.prototype.evaluate = function (template, context, options) {
    options = options || {};
    if (this.textViews > 0 && !options.sanitizer) options = Object.assign({}, options, {sanitizer: asText});
    return this.inner.evaluate(template, context, options);
  };

  /* form-js's text view, rendered with the escaping switched on (its hooks evaluate synchronously). */
  function TextViews(formFields, templating) {
    function SafeText(props) {
      templating.textViews += 1;
      try { return FV.Text(props); } finally { templating.textViews -= 1; }
    }
    SafeText.config = FV.Text.config;
    formFields.register(FV.Text.config.type, SafeText);
  }
  TextViews.$inject = ["formFields", "templating"];

  window.BPM = window.BPM || {};
  window.BPM.formTextModule = {
    __init__: ["safeTextViews"],
    templating: ["type", SafeTemplating],
    safeTextViews: ["type", TextViews]
  };
  window.BPM.asFormText = asText;
})();
