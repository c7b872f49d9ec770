// Assembles the one npm package, offline-im, from wasm-pack's two builds (called by
// pkg-scripts/build): target/npm/offline-im/{web,bundler}/, LICENSE, the npm README
// (pkg-scripts/npm/README.md) and a package.json with `exports`, as well-kept wasm packages do
// (@matrix-org/matrix-sdk-crypto-wasm, @automerge/automerge: one name, explicit init, LICENSE and
// README in `files`). Then `npm pack` into target/npm/. Prints the tarball's path.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const out = join(root, "target/npm/offline-im");
const cargo = readFileSync(join(root, "Cargo.toml"), "utf8");
const field = (name) => cargo.match(new RegExp(`^${name} = "(.*)"$`, "m"))?.[1];

rmSync(join(root, "target/npm"), { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// wasm-pack's own package.json, README and LICENSE copy stay behind: the package has its own.
const keep = (src) => !/[/\\](package\.json|README\.md|LICENSE|\.gitignore)$/.test(src);
cpSync(join(root, "pkg"), join(out, "web"), { recursive: true, filter: keep });
cpSync(join(root, "pkg-bundler"), join(out, "bundler"), { recursive: true, filter: keep });
cpSync(join(root, "LICENSE"), join(out, "LICENSE"));
// wasm-bindgen declares `[Symbol.dispose]()` on classes; an app compiling with `lib: ["es2022",
// "dom"]` (Vite's template, without skipLibCheck) then fails with TS2550. The declarations name
// the library they need themselves (TypeScript 5.2 and later).
for (const target of ["web", "bundler"]) {
  const dts = join(out, target, "offline_im.d.ts");
  writeFileSync(dts, '/// <reference lib="esnext.disposable" />\n' + readFileSync(dts, "utf8"));
}
cpSync(join(root, "pkg-scripts/npm/README.md"), join(out, "README.md"));

const pkg = {
  name: "offline-im",
  version: field("version"),
  description: field("description"),
  license: field("license"),
  type: "module",
  // `.`: ES module with explicit init (`await init()`; any bundler or none, Vite included).
  // `./bundler`: wasm-pack's bundler target, which imports the .wasm as a module (webpack 5 with
  // experiments.asyncWebAssembly; Vite with vite-plugin-wasm). `./offline_im_bg.wasm`: the module
  // itself, for `init({ module_or_path })` with a bundler's asset URL.
  exports: {
    ".": { types: "./web/offline_im.d.ts", default: "./web/offline_im.js" },
    "./bundler": { types: "./bundler/offline_im.d.ts", default: "./bundler/offline_im.js" },
    "./offline_im_bg.wasm": "./web/offline_im_bg.wasm",
    "./package.json": "./package.json",
  },
  main: "./web/offline_im.js",
  types: "./web/offline_im.d.ts",
  files: ["web/", "bundler/", "LICENSE", "README.md"],
  // The bundler entry instantiates the module when imported; the JS snippets are imported for it.
  sideEffects: ["./bundler/offline_im.js", "./web/snippets/*", "./bundler/snippets/*"],
  keywords: ["skype-for-business", "exchange", "ews", "microsoft-graph", "offline-messaging", "indexeddb", "wasm"],
};
writeFileSync(join(out, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
const name = execFileSync("npm", ["pack", "--silent", "--pack-destination", join(root, "target/npm"), out], { encoding: "utf8" }).trim();
console.log(join(root, "target/npm", name));
