#!/bin/sh
# Front-end packages from npm (bpmn-js, form-js) into webapp/static/vendor: their prebuilt bundles,
# no bundler needed. The lock file pins them.
set -e
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --loglevel=error
dest=webapp/static/vendor
rm -rf "$dest" && mkdir -p "$dest/bpmn-js" "$dest/form-js"
cp node_modules/bpmn-js/dist/bpmn-navigated-viewer.production.min.js \
   node_modules/bpmn-js/dist/bpmn-modeler.production.min.js "$dest/bpmn-js/"
cp -r node_modules/bpmn-js/dist/assets "$dest/bpmn-js/"
cp node_modules/@bpmn-io/form-js/dist/form-viewer.umd.js node_modules/@bpmn-io/form-js/dist/form-editor.umd.js "$dest/form-js/"
cp -r node_modules/@bpmn-io/form-js/dist/assets/. "$dest/form-js/"
