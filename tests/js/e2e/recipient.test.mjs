// End-to-end, recipient side: sign-in notice, de-duplication, Do Not Disturb, federated mail.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { launch, mailbox, openDemo, postEnvelope, reset, send, waitFor } from "./helpers.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => browser?.close());
beforeEach(reset);

const badge = (page) => page.textContent("[data-testid=badge]");
async function signIn(page) {
  await page.click("[data-testid=signin]");
  await page.waitForSelector("[data-testid=badge]:not([hidden])");
}

test("offline recipient signs in and sees one entry per message, even when delivered twice", async () => {
  const { context, page, errors } = await openDemo(browser);
  await send(page, "ana@contoso.com", "first message");
  await send(page, "ana@contoso.com", "second message");
  const items = await waitFor(async () => { const i = await mailbox("ana@contoso.com"); return i.length === 2 ? i : null; }, "two deliveries");
  // Deliver the first message a second time (at-least-once on the wire), same message id.
  const first = items.find((i) => i.body.includes("first message"));
  const messageId = first.extended.find((e) => e.propertyName === "OfflineImMessageId").value;
  assert.equal(await postEnvelope(page, "tony-token", { id: messageId, conversationId: "tony|ana@contoso.com", to: { emailAddress: "ana@contoso.com" }, text: "first message" }), 200);
  assert.equal((await mailbox("ana@contoso.com")).length, 3, "three items in the mailbox");

  await signIn(page);
  assert.equal(await badge(page), "2 missed");
  const entries = await page.locator("[data-testid=missed] li").allTextContents();
  assert.equal(entries.length, 2, entries.join(" | "));
  assert.equal(entries.filter((e) => e.includes("first message")).length, 1);
  assert.match(entries.find((e) => e.includes("first message")), /2 copies in the mailbox, shown once/);

  // Mark all seen: every copy is read, nothing is left.
  await page.click("[data-testid=seen]");
  await page.waitForFunction(() => document.querySelector("[data-testid=badge]").textContent === "0 missed");
  assert.ok((await mailbox("ana@contoso.com")).every((i) => i.isRead));
  assert.deepEqual(errors, []);
  await context.close();
});

for (const [presence, label, reason] of [["doNotDisturb", "Do Not Disturb", /RecipientDoNotDisturb/], ["presenting", "Presenting", /RecipientPresenting/]]) {
  test(`${label}: delivered live, and the recipient's own client records a missed item`, async () => {
    const { context, page } = await openDemo(browser);
    await send(page, "ana@contoso.com", "quick question during your talk", presence);
    const decision = await page.textContent("[data-testid=decision]");
    assert.match(decision, /Delivered live.*records a missed message/);
    assert.match(decision, reason, "the decision names this presence");
    assert.match(await page.textContent("[data-testid=live]"), /quick question during your talk/);
    const items = await waitFor(async () => { const i = await mailbox("ana@contoso.com"); return i.length ? i : null; }, "recorded item");
    assert.equal(items.length, 1);
    assert.equal(items[0].folder, "conversationhistory");
    assert.equal(items[0].itemClass, "IPM.Note.Microsoft.Missed");
    assert.equal(items[0].from.email, "tony@contoso.com");
    assert.equal(items[0].isDraft, false);
    assert.equal((await mailbox("tony@contoso.com")).length, 0, "no mail was sent, nothing in Tony's mailbox");
    await signIn(page);
    assert.equal(await badge(page), "1 missed");
    assert.match(await page.textContent("[data-testid=missed]"), /Tony Smith.*quick question during your talk/);
    await context.close();
  });
}

test("a federated sender's offline message is plain mail and not listed as missed", async () => {
  const { context, page } = await openDemo(browser);
  assert.equal(await postEnvelope(page, "bob-token", { id: "fed-1", to: { emailAddress: "ana@contoso.com" }, text: "hello from fabrikam" }), 200);
  const items = await mailbox("ana@contoso.com");
  assert.equal(items.length, 1);
  assert.equal(items[0].itemClass, "IPM.Note", "the server dropped the missed-conversation class across organisations");
  await signIn(page);
  assert.equal(await badge(page), "0 missed");
  assert.equal(await page.locator("[data-testid=missed] li").count(), 0);
  await context.close();
});
