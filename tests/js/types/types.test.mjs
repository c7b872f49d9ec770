// The package's TypeScript declarations as a TypeScript user meets them: usage.ts compiles under
// --strict against pkg/offline_im.d.ts, and each misuse it marks is a type error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const tsc = fileURLToPath(new URL("../node_modules/.bin/tsc", import.meta.url));

test("typed events: the event map types each detail, and misspelt events or wrong listeners do not compile", () => {
  const r = spawnSync(tsc, ["--noEmit", "--strict", "--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler", "--lib", "esnext,dom", "usage.ts"], { cwd: here, encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("no declaration is typed any or Function: a TypeScript user gets a type everywhere", () => {
  for (const dir of ["pkg", "pkg-bundler"]) {
    for (const file of ["offline_im.d.ts", "offline_im_bg.wasm.d.ts"]) {
      const text = readFileSync(new URL(`../../../${dir}/${file}`, import.meta.url), "utf8");
      // Comments may say "any"; code may not.
      const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
      assert.deepEqual(code.match(/:\s*(any|Function)\b|\bany\[\]|<any>/g) ?? [], [], `${dir}/${file}`);
    }
  }
});
