// Every installed dependency with an install script is decided in package.json's allowScripts
// (npm 11 runs none without an entry, and warns about each at every `npm ci`). A new dependency
// that brings one fails here until someone decides, and says why in "//allowScripts".

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const INSTALL_SCRIPTS = ["preinstall", "install", "postinstall"];

interface Manifest {
  name?: string;
  version?: string;
  scripts?: Record<string, string>;
  allowScripts?: Record<string, boolean>;
}

function read(file: string): Manifest {
  return JSON.parse(readFileSync(file, "utf8")) as Manifest;
}

/** Every package under node_modules (scoped and nested ones too). */
function* packages(dir: string): Generator<Manifest> {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (entry.startsWith(".")) continue;
    const full = path.join(dir, entry);
    if (entry.startsWith("@")) {
      yield* packages(full);
      continue;
    }
    try {
      yield read(path.join(full, "package.json"));
    } catch {
      continue;
    }
    yield* packages(path.join(full, "node_modules"));
  }
}

it("decides, in allowScripts, every dependency that has an install script", () => {
  const allow = read(path.join(ROOT, "package.json")).allowScripts ?? {};
  const withScripts = new Set<string>();
  for (const manifest of packages(path.join(ROOT, "node_modules"))) {
    const scripts = manifest.scripts ?? {};
    if (INSTALL_SCRIPTS.some((name) => name in scripts) && manifest.name !== undefined) {
      withScripts.add(manifest.name);
    }
  }
  assert.ok(withScripts.size > 0, "node_modules is installed");
  const undecided = [...withScripts].filter((name) => typeof allow[name] !== "boolean").sort();
  assert.deepEqual(undecided, [], "packages with install scripts missing from allowScripts");
  const stale = Object.keys(allow)
    .filter((name) => !withScripts.has(name))
    .sort();
  assert.deepEqual(stale, [], "allowScripts entries for packages without install scripts");
});
