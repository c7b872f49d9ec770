// End to end on the Graph back end: the package in headless Chromium, the page on the local
// server's origin, Graph on another origin (its own port), as graph.microsoft.com is. Every
// request is a real cross-origin fetch with a preflight.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { BASE, GRAPH, launch, mailbox, postEnvelope, recordSends, reset, waitFor } from "./helpers.mjs";
import { TONY, blankPage, drained, missedIds, openMessenger } from "./messenger-page.mjs";

const ON_GRAPH = { backend: "graph", graphUrl: GRAPH, dbName: "graph-e2e", retryIntervalMs: 1000 };
let browser;
before(async () => { browser = await launch(); });
after(async () => browser?.close());
beforeEach(reset);

async function fault(spec) {
  const r = await fetch(`${BASE}/_control/faults`, { method: "POST", body: JSON.stringify(spec) });
  assert.equal(r.status, 204);
}

const sendOne = (page, to, text, presence = "offline", extra = {}) => page.evaluate(async ({ to, text, presence, extra }) =>
  window.im.send({ to: { emailAddress: to, presence }, text, ...extra }), { to, text, presence, extra });

test("graph: offline recipient gets a missed conversation, the sender keeps nothing, and both back ends list it once", async () => {
  const context = await browser.newContext();
  const { page, errors } = await blankPage(context);
  const sent = recordSends(page);
  const hosts = new Set();
  page.on("request", (r) => { if (!new URL(r.url()).pathname.startsWith("/pkg/")) hosts.add(`${new URL(r.url()).origin}${new URL(r.url()).pathname.startsWith("/EWS") ? " EWS" : ""}`); });
  await openMessenger(page, TONY, ON_GRAPH);
  const receipt = await sendOne(page, "ana@contoso.com", "Are you free at 3? <b>not bold</b>", "offline", { id: "g-1" });
  assert.equal(receipt.state, "queued");
  await drained(page, 20000);
  const ana = await mailbox("ana@contoso.com");
  assert.equal(ana.length, 1);
  assert.equal(ana[0].itemClass, "IPM.Note.Microsoft.Missed");
  assert.match(ana[0].body, /Are you free at 3\? &lt;b&gt;not bold&lt;\/b&gt;/);
  assert.deepEqual(sent, [{ itemClass: "IPM.Note.Microsoft.Missed", to: "ana@contoso.com" }], "what the module sent");
  assert.deepEqual(await mailbox("tony@contoso.com"), [], "nothing in Tony's Drafts or Sent Items");
  assert.deepEqual([...hosts], [new URL(GRAPH).origin], "the module requested Graph on its own origin only; never EWS");
  // A second message through EWS (the same mailbox, the on-premises path) and a duplicate copy.
  assert.equal(await postEnvelope(page, "tony-token", { id: "e-1", to: { emailAddress: "ana@contoso.com" }, text: "through EWS" }), 200);
  await sendOne(page, "ana@contoso.com", "Are you free at 3? <b>not bold</b>", "offline", { id: "g-1" }); // same id: not sent again
  const onGraph = await missedIds(page, { emailAddress: "ana@contoso.com", displayName: "Ana" }, { backend: "graph", graphUrl: GRAPH });
  const onEws = await missedIds(page, { emailAddress: "ana@contoso.com", displayName: "Ana" }, { dbName: "ana-ews" });
  for (const r of [onGraph, onEws]) assert.deepEqual([...r.ids].sort(), ["e-1", "g-1"]);
  assert.deepEqual(errors, []);
  await context.close();
});

test("graph: DND recipient records the missed IM itself (not a draft), federated gets plain mail, a blocked policy sends nothing", async () => {
  const context = await browser.newContext();
  const { page } = await blankPage(context);
  const sent = recordSends(page);
  await openMessenger(page, TONY, ON_GRAPH);
  const dnd = await sendOne(page, "ana@contoso.com", "ping", "doNotDisturb");
  assert.equal(dnd.state, "live");
  assert.equal(dnd.decision.recipientRecordsMissed, true);
  // Ana's client records it in her own mailbox through Graph.
  await openMessenger(page, { emailAddress: "ana@contoso.com", displayName: "Ana Lopez" }, { ...ON_GRAPH, dbName: "ana" });
  const itemId = await page.evaluate(() => window.im.recordMissed({ from: { emailAddress: "tony@contoso.com", displayName: "Tony Smith" }, text: "ping", id: "live-1" }));
  const item = (await mailbox("ana@contoso.com")).find((i) => i.id === itemId);
  assert.deepEqual([item.folder, item.isDraft, item.isRead, item.itemClass], ["conversationhistory", false, false, "IPM.Note.Microsoft.Missed"]);
  const report = await page.evaluate(() => window.im.checkMissed());
  assert.equal(report.total, 1);
  assert.equal(await page.evaluate((ids) => window.im.markSeen(ids), report.conversations[0].messages[0].itemIds), 1);
  assert.equal((await page.evaluate(() => window.im.checkMissed())).total, 0);
  // Federated: plain IPM.Note, as sent.
  await openMessenger(page, TONY, ON_GRAPH);
  await sendOne(page, "bob@fabrikam.com", "hello Bob");
  await drained(page, 20000);
  assert.deepEqual(sent, [{ itemClass: "IPM.Note", to: "bob@fabrikam.com" }]);
  assert.equal((await mailbox("bob@fabrikam.com"))[0].itemClass, "IPM.Note");
  // Blocked by policy: nothing stored, nothing sent.
  await openMessenger(page, TONY, { ...ON_GRAPH, dbName: "blocked", policy: "Set-CsImConfiguration -EnableOfflineIM $False" });
  const blocked = await sendOne(page, "sam@contoso.com", "will not go");
  assert.equal(blocked.state, "blocked");
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(sent.length, 1);
  assert.deepEqual(await mailbox("sam@contoso.com"), []);
  await context.close();
});

test("graph CORS: an allowed origin is served; another origin is refused by the browser; Retry-After stays hidden", async () => {
  const context = await browser.newContext();
  const { page } = await blankPage(context);
  const asAllowed = await page.evaluate(async (g) => (await fetch(`${g}/me/mailFolders/inbox/messages`, { headers: { Authorization: "Bearer ana-token" } })).status, GRAPH);
  assert.equal(asAllowed, 200);
  // A page of another origin (served by Playwright, not by the local server).
  const other = await context.newPage();
  await other.route("http://elsewhere.test/", (r) => r.fulfill({ status: 200, contentType: "text/html", body: "<!doctype html><title>elsewhere</title>" }));
  await other.goto("http://elsewhere.test/");
  const refused = await other.evaluate(async (g) => {
    try { await fetch(`${g}/me/mailFolders/inbox/messages`, { headers: { Authorization: "Bearer ana-token" } }); return "served"; } catch (e) { return e.name; }
  }, GRAPH);
  assert.equal(refused, "TypeError", "the browser blocks the response of an origin Graph does not allow");
  // A 429 with Retry-After: 30: the header is not exposed cross-origin, so the module waits its
  // own backoff (retryIntervalMs 1000), not 30 s, and delivers.
  await fault({ kind: "http429", count: 1, backOffMs: 30000 });
  await openMessenger(page, TONY, ON_GRAPH);
  const retry = await page.evaluate(() => new Promise((resolve) => {
    window.im.addEventListener("retrying", (e) => resolve({ code: e.detail.code, wait: e.detail.nextAttemptAt - Date.now() }));
    window.im.send({ to: { emailAddress: "ana@contoso.com", presence: "offline" }, text: "throttled once" });
  }));
  assert.equal(retry.code, "ApplicationThrottled");
  assert.ok(retry.wait <= 1500, `waited ${retry.wait} ms: Retry-After is invisible to the page`);
  await drained(page, 20000);
  assert.equal((await mailbox("ana@contoso.com")).length, 1);
  await context.close();
});

test("demo: the back-end switch sends through Graph", async () => {
  const { openDemo, send } = await import("./helpers.mjs");
  const { context, page, errors } = await openDemo(browser, "?backend=graph");
  const sent = recordSends(page);
  assert.equal(await page.inputValue("[data-testid=backend]"), "graph");
  await send(page, "ana@contoso.com", "through the demo on Graph");
  // The server's mailbox (polled over HTTP) can show the item before Playwright reports the
  // page's request to this process, so wait for both before comparing.
  await waitFor(async () => sent.length > 0 && (await mailbox("ana@contoso.com")).length > 0, "delivery");
  assert.deepEqual(sent, [{ itemClass: "IPM.Note.Microsoft.Missed", to: "ana@contoso.com" }], "a Graph sendMail");
  assert.deepEqual(await mailbox("tony@contoso.com"), []);
  assert.deepEqual(errors, []);
  await context.close();
});
