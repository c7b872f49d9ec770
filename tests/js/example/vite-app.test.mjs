// The example app (examples/vite-app) as a Vite + TypeScript developer gets it: the packed
// offline-im tarball (target/npm, made by pkg-scripts/build) installed like a registry package,
// `tsc --noEmit --strict`, `vite build`, then the built app in `vite preview` delivering a message
// through an injected fault, and `vite dev` serving the same app (the pre-bundling trap).
// Needs the local server at BASE_URL (pkg-scripts/test starts it).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { BASE, launch, mailbox, reset, waitFor } from "../e2e/helpers.mjs";

const app = new URL("../../../examples/vite-app/", import.meta.url).pathname;
const tarball = new URL("../../../target/npm/offline-im-0.1.0.tgz", import.meta.url).pathname;
const bin = (name) => `${app}node_modules/.bin/${name}`;
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: app, encoding: "utf8", env: { ...process.env, EWS_ORIGIN: BASE } });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};
const servers = [];
after(() => servers.forEach((s) => s.kill()));

/// Starts `vite <args>` on `port` and waits until it answers.
async function vite(args, port) {
  const s = spawn(bin("vite"), [...args, "--host", "127.0.0.1", "--port", String(port), "--strictPort"], { cwd: app, env: { ...process.env, EWS_ORIGIN: BASE }, stdio: "pipe" });
  let log = "";
  s.stdout.on("data", (d) => (log += d));
  s.stderr.on("data", (d) => (log += d));
  servers.push(s);
  const url = `http://127.0.0.1:${port}/`;
  await waitFor(async () => (await fetch(url).catch(() => null))?.ok, `vite ${args[0] ?? "dev"} on ${port}:\n${log}`, 30000);
  return url;
}

/// Opens the app, sends `text` to Ana, and returns the page and the errors it raised.
async function openAndSend(browser, url, text) {
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // The app's own files must all load (an EWS reply's status is the app's business, not an error).
  page.on("response", (r) => !new URL(r.url()).pathname.startsWith("/EWS/") && r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 20000 });
  await page.fill("#text", text);
  await page.click("#send");
  return { page, errors };
}

test("the packed tarball installs like a registry package", () => {
  assert.ok(existsSync(tarball), `${tarball} (pkg-scripts/build makes it)`);
  rmSync(`${app}node_modules`, { recursive: true, force: true });
  rmSync(`${app}dist`, { recursive: true, force: true });
  // --no-save: the committed lock file stays as it is (it pins vite and typescript).
  run("npm", ["install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error"]);
  assert.ok(existsSync(`${app}node_modules/offline-im/web/offline_im_bg.wasm`));
});

test("tsc --noEmit --strict", () => {
  run(bin("tsc"), ["--noEmit", "--strict", "-p", "."]);
});

test("vite build", () => {
  run(bin("vite"), ["build"]);
  const assets = readdirSync(`${app}dist/assets`);
  assert.ok(assets.some((f) => f.endsWith(".wasm")), `the module is emitted as an asset: ${assets}`);
});

test("vite preview: a message is delivered through an injected 503, shown retrying, then delivered", async () => {
  const url = await vite(["preview"], 4173);
  await reset();
  await fetch(`${BASE}/_control/faults`, { method: "POST", body: JSON.stringify({ kind: "http503", count: 1 }) });
  const browser = await launch();
  try {
    const { page, errors } = await openAndSend(browser, url, "sent from the Vite app");
    const bubble = page.locator("#transcript li").first();
    await page.waitForSelector("#transcript li[data-state=retrying]");
    assert.match(await bubble.textContent(), /Http503/);
    assert.equal((await mailbox("ana@contoso.com")).length, 0);
    await page.click("#retry");
    await page.waitForSelector("#transcript li[data-state=delivered]");
    const items = await mailbox("ana@contoso.com");
    assert.equal(items.length, 1);
    assert.equal(items[0].itemClass, "IPM.Note.Microsoft.Missed");
    assert.match(items[0].body, /sent from the Vite app/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test("vite dev serves the app: the module loads and a message is delivered", async () => {
  const url = await vite([], 5173);
  await reset();
  const browser = await launch();
  try {
    const { page, errors } = await openAndSend(browser, url, "sent from vite dev");
    await page.waitForSelector("#transcript li[data-state=delivered]");
    assert.match((await mailbox("ana@contoso.com"))[0]?.body ?? "", /sent from vite dev/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
