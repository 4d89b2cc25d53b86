/* The vocabulary as GET /api/v1/vocabulary serves it, from the engine itself (not a copy), so the tests
   run the modeler's helpers on the grammar and labels the server really has. */
import {execFileSync} from "node:child_process";
import {dirname, join} from "node:path";
import {fileURLToPath} from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const python = join(root, ".venv", "bin", "python");  // the Makefile's virtualenv

export const vocabulary = JSON.parse(execFileSync(python, ["-c",
  "import json; from engine.definitions.vocabulary import vocabulary; print(json.dumps(vocabulary()))"],
  {cwd: root, env: Object.assign({}, process.env, {PYTHONPATH: root}), encoding: "utf-8"}));
