// End-to-end: the demo page in headless Chromium against the local EWS server.
// Run by pkg-scripts/test, which starts the server and sets BASE_URL.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { ARTIFACTS, BASE, launch, mailbox, openDemo as open, recordSends, reset, send, waitFor } from "./helpers.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => browser?.close());
beforeEach(reset);
const openDemo = (query) => open(browser, query);

test("offline recipient: the message lands in Ana's mailbox as a missed conversation", async () => {
  const { context, page, errors } = await openDemo();
  // The page names its icon and the server has it (it was a 404 in a headed browser's console).
  const icon = await fetch(new URL(await page.getAttribute("link[rel=icon]", "href"), `${BASE}/`));
  assert.equal(icon.status, 200, "favicon");
  assert.equal(icon.headers.get("content-type"), "image/svg+xml");
  const sent = recordSends(page);
  await send(page, "ana@contoso.com", "Are you free at 3? <b>not bold</b>");
  assert.match(await page.textContent("[data-testid=decision]"), /Queued.*IPM\.Note\.Microsoft\.Missed/);
  const items = await waitFor(async () => (await mailbox("ana@contoso.com")).filter((i) => i.folder === "inbox").length && mailbox("ana@contoso.com"), "delivery");
  assert.equal(items.length, 1);
  assert.equal(items[0].itemClass, "IPM.Note.Microsoft.Missed");
  assert.match(items[0].body, /Are you free at 3\? &lt;b&gt;not bold&lt;\/b&gt;/);
  assert.equal(items[0].from.email, "tony@contoso.com");
  await page.waitForSelector("[data-testid=log] li.delivered");
  assert.deepEqual(sent, [{ itemClass: "IPM.Note.Microsoft.Missed", to: "ana@contoso.com" }], "what the module sent");
  await page.click("[data-testid=signin]");
  await page.waitForSelector("[data-testid=badge]:not([hidden])");
  assert.equal(await page.textContent("[data-testid=badge]"), "1 missed");
  await page.screenshot({ path: new URL("demo-after-send.png", ARTIFACTS).pathname, fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test("federated recipient: plain mail, not a missed conversation", async () => {
  const { context, page } = await openDemo();
  const sent = recordSends(page);
  await send(page, "bob@fabrikam.com", "hello Bob");
  // "IPM.Note", not the missed class (/IPM\.Note\b/ matched IPM.Note.Microsoft.Missed too).
  assert.match(await page.textContent("[data-testid=decision]"), /as IPM\.Note(?!\.Microsoft)/);
  assert.match(await page.textContent("[data-testid=reasons]"), /Federated/);
  const items = await waitFor(async () => { const i = await mailbox("bob@fabrikam.com"); return i.length ? i : null; }, "delivery");
  assert.equal(items[0].itemClass, "IPM.Note");
  // What the module sent, not what the server stored.
  assert.deepEqual(sent, [{ itemClass: "IPM.Note", to: "bob@fabrikam.com" }]);
  await context.close();
});

test("server down: queued, survives a reload, delivered once by the retry timer (no flush) after the server returns, no drafts", async () => {
  await fetch(`${BASE}/_control/faults`, { method: "POST", body: JSON.stringify({ kind: "http503" }) });
  const { context, page } = await openDemo("?retry=1500");
  await send(page, "ana@contoso.com", "sent while the server is down");
  await page.waitForSelector("[data-testid=log] li.retrying");
  await page.reload();
  await page.waitForSelector("body[data-ready=true]");
  await page.waitForSelector("[data-testid=spool] tbody tr");
  const row = await page.textContent("[data-testid=spool] tbody tr");
  assert.match(row, /sent while the server is down/);
  assert.match(row, /queued|sending/);
  assert.equal((await mailbox("ana@contoso.com")).length, 0);
  await fetch(`${BASE}/_control/faults`, { method: "DELETE" });
  await waitFor(async () => (await mailbox("ana@contoso.com")).length > 0, "delivery after the server came back", 20000);
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=spool] tbody tr").length === 0);
  // No fixed sleep for "nothing more arrives": a later message is a barrier. The spool sends in
  // sequence order, so once it is delivered any second copy of the first would be there too.
  await send(page, "ana@contoso.com", "barrier");
  await waitFor(async () => (await mailbox("ana@contoso.com")).length >= 2, "the barrier message", 20000);
  const ana = await mailbox("ana@contoso.com");
  assert.deepEqual(ana.map((i) => i.subject).sort(), ["barrier", "sent while the server is down"], "exactly one copy");
  const tony = await mailbox("tony@contoso.com");
  assert.equal(tony.filter((i) => i.folder === "drafts").length, 0, "nothing in the sender's Drafts");
  assert.equal(tony.length, 0, "SendOnly: no copy in the sender's mailbox at all");
  await context.close();
});

test("policy: EnableIMAutoArchiving $False for the sender blocks with the reason shown", async () => {
  const { context, page } = await openDemo();
  await page.fill("[data-testid=policy]", "New-CsClientPolicy -Identity OfflineIM\nSet-CsClientPolicy -Identity OfflineIM -EnableIMAutoArchiving $False\nGrant-CsClientPolicy -Identity \"Tony Smith\" -PolicyName OfflineIM");
  await page.click("[data-testid=apply]");
  await page.waitForSelector("text=Policy applied.");
  await send(page, "ana@contoso.com", "will not be sent");
  const decision = await page.textContent("[data-testid=decision]");
  assert.match(decision, /Blocked by policy/);
  assert.match(decision, /AutoArchivingDisabled/);
  assert.match(decision, /ClientPolicy Tag:OfflineIM/);
  assert.equal(await page.locator("[data-testid=spool] tbody tr").count(), 0);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await mailbox("ana@contoso.com")).length, 0);

  // The seed's mis-spaced line gets a clear error with a hint.
  await page.fill("[data-testid=policy]", "Grant -CsClientPolicy -Identity \"Tony Smith\" - PolicyName OfflineIM");
  await page.click("[data-testid=apply]");
  assert.match(await page.textContent("[data-testid=policy-status]"), /PolicyScriptError: policy script, line 1, column 7.*Grant-CsClientPolicy/);
  await context.close();
});
