// Storage limits in a real browser: a full origin quota reaches `send`'s caller as a typed error,
// nothing half-accepted is left behind, and sending works again once there is room.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, launch, reset } from "./helpers.mjs";
import { TONY, blankPage, openMessenger } from "./messenger-page.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => browser?.close());

test("QuotaExceededError reaches send's caller as OfflineImError QuotaExceeded", async () => {
  await reset();
  const context = await browser.newContext();
  const { page, errors } = await blankPage(context);
  // Nothing can be delivered (every request is refused as busy): messages stay in the spool.
  await fetch(`${BASE}/_control/faults`, { method: "POST", body: JSON.stringify({ kind: "http503" }) });
  await openMessenger(page, TONY, { dbName: "quota" });
  const send = (id, text) => page.evaluate(async ({ id, text }) => {
    try {
      const r = await window.im.send({ id, to: { emailAddress: "ana@contoso.com", presence: "offline" }, text });
      return { state: r.state };
    } catch (e) {
      return { name: e.name, code: e.code, message: e.message };
    }
  }, { id, text });
  assert.equal((await send("before", "fits")).state, "queued");

  // A full disk or origin quota shows as the write transaction aborting with
  // `transaction.error` a QuotaExceededError (IndexedDB spec, "commit a transaction"). The
  // DevTools quota override (Storage.overrideQuotaForOrigin) does not apply to Playwright's
  // browser contexts, so the next insert transaction is made to fail that way.
  const armQuota = () => page.evaluate(() => {
    const add = IDBObjectStore.prototype.add;
    IDBObjectStore.prototype.add = function (...args) {
      const req = add.apply(this, args); // throws (and stays armed) on an inactive transaction
      IDBObjectStore.prototype.add = add;
      const tx = this.transaction;
      Object.defineProperty(tx, "error", { value: new DOMException("The quota has been exceeded.", "QuotaExceededError") });
      req.addEventListener("success", () => tx.abort());
      return req;
    };
  });
  await armQuota();
  const big = "x".repeat(60000);
  const refused = await send("too-big", big);
  assert.equal(refused.code, "QuotaExceeded", JSON.stringify(refused));
  assert.equal(refused.name, "OfflineImError");
  const ids = await page.evaluate(async () => (await window.im.pending()).map((r) => r.id));
  assert.deepEqual(ids, ["before"], "the refused message was not accepted; the earlier one is intact");

  assert.equal((await send("too-big", big)).state, "queued", "accepted once there is room again");
  await fetch(`${BASE}/_control/faults`, { method: "DELETE" });
  assert.deepEqual(errors, []);
  await context.close();
});
