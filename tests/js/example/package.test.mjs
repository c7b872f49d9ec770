// The npm package as published: target/npm/offline-im-<version>.tgz (pkg-scripts/build packs it
// with pkg-scripts/npm/package.mjs). `npm publish --dry-run` accepts it; it holds exactly the
// files it should; every `exports` target is in it; its README speaks to an npm user.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../../../", import.meta.url).pathname;
const version = readFileSync(join(root, "Cargo.toml"), "utf8").match(/^version = "(.*)"$/m)[1];
const tarball = join(root, `target/npm/offline-im-${version}.tgz`);
const unpacked = mkdtempSync(join(tmpdir(), "offline-im-pkg-"));
const tar = spawnSync("tar", ["xzf", tarball, "-C", unpacked]);
const read = (path) => readFileSync(join(unpacked, "package", path), "utf8");

test("npm publish --dry-run accepts the tarball, and it holds exactly the package's files", () => {
  assert.equal(tar.status, 0, `${tarball} (pkg-scripts/build makes it)`);
  const r = spawnSync("npm", ["publish", "--dry-run", "--json", tarball], { cwd: tmpdir(), encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout)["offline-im"];
  assert.equal(report.name, "offline-im");
  assert.equal(report.version, version);
  const files = report.files.map((f) => f.path.replace(/snippets\/offline-im-[0-9a-f]+\//, "snippets/offline-im-HASH/")).sort();
  const targetFiles = (t, extra) => [...extra, "offline_im.d.ts", "offline_im.js", "offline_im_bg.wasm", "offline_im_bg.wasm.d.ts", "snippets/offline-im-HASH/src/wasm/shell.js"].map((f) => `${t}/${f}`);
  assert.deepEqual(files, ["LICENSE", "README.md", ...targetFiles("bundler", ["offline_im_bg.js"]), "package.json", ...targetFiles("web", [])].sort());
});

test("package.json: one name, exports whose targets exist, license, no placeholder", () => {
  const pkg = JSON.parse(read("package.json"));
  assert.equal(pkg.name, "offline-im");
  assert.equal(pkg.license, "MIT");
  assert.equal(pkg.type, "module");
  assert.doesNotMatch(JSON.stringify(pkg), /example\.invalid/);
  assert.deepEqual(Object.keys(pkg.exports), [".", "./bundler", "./offline_im_bg.wasm", "./package.json"]);
  const targets = Object.values(pkg.exports).flatMap((e) => (typeof e === "string" ? [e] : Object.values(e)));
  for (const t of [...targets, pkg.main, pkg.types]) assert.ok(read(t) !== undefined, t);
  assert.equal(pkg.exports["."].types, "./web/offline_im.d.ts", "types first, then default (TypeScript reads the first match)");
  assert.deepEqual(Object.keys(pkg.exports["."]), ["types", "default"]);
});

test("LICENSE, README for npm users, declarations that name the library they need", () => {
  assert.match(read("LICENSE"), /^MIT License/);
  const readme = read("README.md");
  assert.match(readme, /npm install offline-im/);
  assert.doesNotMatch(readme, /\b(tests|src|pkg-scripts|www|examples)\//, "no repository paths");
  assert.match(readme, /offline_im_bg\.wasm\?url/, "the Vite setup the example app tests");
  for (const t of ["web", "bundler"]) assert.match(read(`${t}/offline_im.d.ts`), /^\/\/\/ <reference lib="esnext.disposable" \/>\n/);
});
