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
  await page.waitForSelector("[data-testid=log] li.delivered", { state: "attached" });
  // The conversation keeps the message, with its final state on the bubble (it used to vanish
  // from the spool table, and the decision box kept saying "Queued").
  const bubble = page.locator("[data-testid=transcript] li[data-state=delivered]");
  await bubble.waitFor();
  assert.match(await bubble.textContent(), /Are you free at 3\? <b>not bold<\/b>.*✓✓Delivered to Ana Lopez's mailbox as a missed conversation/);
  assert.match(await page.textContent("[data-testid=decision]"), /Policy decision for your last message/);
  assert.match(await page.textContent("[data-testid=reasons]"), /Ana Lopez is offline, so the message goes to their mailbox/);
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
  // Both the stored item and Playwright's report of the request (they race; see graph.test.mjs).
  const items = await waitFor(async () => { const i = await mailbox("bob@fabrikam.com"); return i.length && sent.length ? i : null; }, "delivery");
  assert.equal(items[0].itemClass, "IPM.Note");
  // What the module sent, not what the server stored.
  assert.deepEqual(sent, [{ itemClass: "IPM.Note", to: "bob@fabrikam.com" }]);
  await context.close();
});

test("server down: queued, survives a reload, delivered once by the retry timer (no flush) after the server returns, no drafts", async () => {
  await fetch(`${BASE}/_control/faults`, { method: "POST", body: JSON.stringify({ kind: "http503" }) });
  const { context, page } = await openDemo("?retry=1500");
  await send(page, "ana@contoso.com", "sent while the server is down");
  await page.waitForSelector("[data-testid=log] li.retrying", { state: "attached" });
  // The bubble says why it waits and when it tries again.
  const waiting = page.locator("[data-testid=transcript] li[data-state=queued]");
  await waiting.waitFor();
  assert.match(await waiting.textContent(), /Queued · next try in \d+ s · last try: Http503 · 1 try so far/);
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
  // Applying says what changed for a message to the selected recipient.
  await page.waitForSelector("text=Policy applied.");
  assert.match(await page.textContent("[data-testid=policy-status]"),
    /A message to Ana Lopez \(offline\): now blocked \(RecipientOffline, AutoArchivingDisabled\); before, to the mailbox as IPM\.Note\.Microsoft\.Missed/);
  await send(page, "ana@contoso.com", "will not be sent");
  const decision = await page.textContent("[data-testid=decision]");
  assert.match(decision, /Blocked by policy/);
  assert.match(decision, /AutoArchivingDisabled/);
  assert.match(decision, /ClientPolicy Tag:OfflineIM/);
  // The blocked message stays in the conversation, with its reason in plain language.
  const blocked = await page.textContent("[data-testid=transcript] li[data-state=blocked]");
  assert.match(blocked, /will not be sent.*Not sent: blocked by policy/);
  assert.match(blocked, /AutoArchivingDisabled Your client policy turns off IM archiving, which offline messages need \(Set-CsClientPolicy -EnableIMAutoArchiving\)/);
  assert.equal(await page.inputValue("[data-testid=text]"), "", "the composer is cleared: the message is in the conversation");
  assert.equal(await page.locator("[data-testid=spool] tbody tr").count(), 0);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await mailbox("ana@contoso.com")).length, 0);

  // The seed's mis-spaced line gets a clear error with a hint.
  await page.fill("[data-testid=policy]", "Grant -CsClientPolicy -Identity \"Tony Smith\" - PolicyName OfflineIM");
  await page.click("[data-testid=apply]");
  assert.match(await page.textContent("[data-testid=policy-status]"), /PolicyScriptError: policy script, line 1, column 7.*Grant-CsClientPolicy/);
  await context.close();
});

/// Everything the page shows fits its width: no sideways scroll, and no element sticks out of its
/// panel or the viewport (what "chips spill out of their card" and "the table is clipped" were).
async function overflow(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const out = [];
    if (document.documentElement.scrollWidth > width) out.push(`page scrolls sideways to ${document.documentElement.scrollWidth} px`);
    for (const panel of document.querySelectorAll(".panel, header, .schedule")) {
      const p = panel.getBoundingClientRect();
      for (const e of panel.querySelectorAll("*")) {
        const r = e.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) continue;
        if (r.right > Math.min(p.right, width) + 0.5 || r.left < Math.max(p.left, 0) - 0.5) out.push(`${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ""}.${e.className} [${Math.round(r.left)}, ${Math.round(r.right)}] outside [${Math.round(p.left)}, ${Math.round(p.right)}]`);
      }
    }
    return out;
  });
}

test("phone (390 × 844) and desktop layouts: nothing scrolls sideways or sticks out, with every kind of content shown", async () => {
  for (const [name, viewport] of [["phone", { width: 390, height: 844 }], ["desktop", { width: 1366, height: 900 }]]) {
    await reset();
    const context = await browser.newContext({ viewport, isMobile: name === "phone", hasTouch: name === "phone" });
    const page = await context.newPage();
    await page.goto(`${BASE}/?retry=60000`);
    await page.waitForSelector("body[data-ready=true]");
    // A delivered message, one waiting on a fault (a spool row, a countdown), a blocked one
    // (reason chips), a live one, and a signed-in recipient.
    await send(page, "ana@contoso.com", "delivered: a long message with a long word Donaudampfschifffahrtsgesellschaftskapitän and more");
    await page.waitForSelector("[data-testid=transcript] li[data-state=delivered]");
    await fetch(`${BASE}/_control/faults`, { method: "POST", body: JSON.stringify({ kind: "http503" }) });
    await send(page, "ana@contoso.com", "waiting for the server");
    await page.waitForSelector("[data-testid=spool] tbody tr");
    await send(page, "ana@contoso.com", "live while Ana is available", "available");
    await page.fill("[data-testid=policy]", "Set-CsImConfiguration -EnableOfflineIM $False");
    await page.click("[data-testid=apply]");
    await page.waitForSelector("text=Policy applied.");
    await send(page, "ana@contoso.com", "blocked", "offline");
    await page.waitForSelector("[data-testid=transcript] li[data-state=blocked]");
    // (The queued message's next try is a minute away: it stays queued for the picture.)
    await fetch(`${BASE}/_control/faults`, { method: "DELETE" });
    await page.click("[data-testid=signin]");
    await page.waitForSelector("[data-testid=badge]:not([hidden])");
    assert.deepEqual(await overflow(page), [], `${name} layout`);
    await page.screenshot({ path: new URL(`demo-${name}.png`, ARTIFACTS).pathname, fullPage: true });
    await context.close();
  }
});

test("recipient panel: switching recipients keeps each one's missed list; no internal ids in the log", async () => {
  const { context, page, errors } = await openDemo();
  await send(page, "ana@contoso.com", "for Ana");
  await page.waitForSelector("[data-testid=transcript] li[data-state=delivered]");
  await page.click("[data-testid=signin]");
  await page.waitForSelector("[data-testid=badge]:not([hidden])");
  assert.equal(await page.textContent("[data-testid=badge]"), "1 missed");
  assert.match(await page.textContent("[data-testid=missed]"), /Tony Smith · arrived .*for Ana/);
  await page.selectOption("[data-testid=to]", "bob@fabrikam.com");
  assert.equal(await page.locator("[data-testid=missed] li").count(), 0, "Bob has not signed in");
  assert.equal(await page.locator("[data-testid=transcript] li:visible").count(), 0, "the conversation with Bob is empty");
  assert.match(await page.textContent("#missed-empty"), /Sign in as Bob Kelly/);
  await page.selectOption("[data-testid=to]", "ana@contoso.com");
  assert.equal(await page.textContent("[data-testid=badge]"), "1 missed", "Ana's list is still there");
  assert.match(await page.textContent("[data-testid=missed]"), /for Ana/);
  assert.equal(await page.locator("[data-testid=transcript] li:visible").count(), 1);
  // The log names messages by their text, never by a record or mailbox item id.
  const log = await page.textContent("[data-testid=log]");
  assert.match(log, /delivered “for Ana” to ana@contoso.com/);
  const ids = await page.evaluate(() => [...document.querySelectorAll("[data-testid=transcript] li")].map((li) => li.dataset.id));
  for (const id of ids) assert.ok(!log.includes(id.slice(0, 8)), `record id ${id} in the log`);
  assert.doesNotMatch(log, /AAMk|item:/, "no mailbox item ids");
  assert.deepEqual(errors, []);
  await context.close();
});
