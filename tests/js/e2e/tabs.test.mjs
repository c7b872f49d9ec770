// Several tabs of one user on one spool (one IndexedDB database): every message is delivered
// once, and when the tab holding the Web Lock closes mid-flush another takes over.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, launch, reset } from "./helpers.mjs";
import { TONY, blankPage, drained, missedIds, openMessenger, sendAll, trackLock } from "./messenger-page.mjs";

const PER_TAB = 40;
const SPOOL = { retryIntervalMs: 300, requestTimeoutMs: 2000, leaseMs: 4000 };

let browser;
before(async () => { browser = await launch(); });
after(async () => browser?.close());

const lockHolders = (page, dbName) => page.evaluate(async (name) =>
  (await navigator.locks.query()).held.filter((l) => l.name === `offline-im:${name}`).length, dbName);

for (const tabs of [2, 3]) {
  test(`${tabs} tabs on one spool: each message delivered once; the lock holder closes and another takes over`, { timeout: 120000 }, async () => {
    await reset();
    // Every request takes 150 ms, so rounds are long and the close lands mid-flush.
    await fetch(`${BASE}/_control/faults`, { method: "POST", body: JSON.stringify({ kind: "slow", delayMs: 150 }) });
    const context = await browser.newContext();
    const dbName = `tabs-${tabs}`;
    const pages = [];
    for (let t = 0; t < tabs; t++) {
      const { page, errors } = await blankPage(context);
      await trackLock(page);
      await openMessenger(page, TONY, { ...SPOOL, dbName });
      pages.push({ page, errors });
    }
    const all = [];
    const batch = (t, from) => Array.from({ length: PER_TAB / 2 }, (_, i) => ({
      id: `tab${t}-${from + i}`, to: "ana@contoso.com", conversationId: `tab${t}`, text: `from tab ${t}, message ${from + i}`,
    }));
    // First half from the first tab only. Whichever tab takes the Web Lock first (tab 0 on its
    // send, or another on its retry timer) works through the chain (one conversation, 150 ms a
    // request) while the others wait on it.
    const first = batch(0, 0);
    all.push(...first);
    await sendAll(pages[0].page, first);
    // Wait (polling, not a fixed sleep: a loaded machine starts later) until a few requests went
    // out and one tab holds the spool lock, so that it is in the middle of the chain.
    let seen = [], sent = 0, delivered = 0;
    for (const started = Date.now(); Date.now() - started < 20000; await new Promise((r) => setTimeout(r, 50))) {
      seen = await Promise.all(pages.map(({ page }) => page.evaluate(() => ({ counts: window.counts, holds: window.holdsSpoolLock }))));
      sent = seen.reduce((n, s) => n + (s.counts.sending ?? 0), 0);
      delivered = seen.reduce((n, s) => n + (s.counts.delivered ?? 0), 0);
      if (sent >= 3 && seen.some((s) => s.holds)) break;
    }
    const holders = seen.flatMap((s, i) => (s.holds ? [i] : []));
    assert.equal(holders.length, 1, `exactly one tab holds the spool lock (${JSON.stringify(seen)})`);
    assert.ok(sent > 0 && delivered < first.length, `mid-flush (${sent} sent, ${delivered} delivered)`);
    const holder = holders[0];
    const rest = pages.filter((_, i) => i !== holder);
    assert.equal(await lockHolders(rest[0].page, dbName), 1, "the spool lock is held (LockManager.query)");
    assert.deepEqual(pages[holder].errors, []);
    console.log(`tabs ${tabs}: tab ${holder} held the lock (${sent} sent, ${delivered} delivered); closing it`);
    await pages[holder].page.close();
    // The others take over the closed tab's unsent messages, and send their own.
    await Promise.all(rest.map(({ page }, i) => { const m = [...batch(i + 1, 0), ...batch(i + 1, PER_TAB / 2)]; all.push(...m); return sendAll(page, m); }));
    await drained(rest[0].page, 90000);
    await fetch(`${BASE}/_control/faults`, { method: "DELETE" });

    const report = await missedIds(rest[0].page, { emailAddress: "ana@contoso.com", displayName: "Ana" });
    const expected = all.map((m) => m.id).sort();
    assert.deepEqual([...report.ids].sort(), expected, "every message once, from every tab (closed one included)");
    console.log(`tabs ${tabs}: messages ${expected.length}, shown ${report.ids.length}, copies in the mailbox ${report.copies}`);
    for (const { errors } of rest) assert.deepEqual(errors, []);
    await context.close();
  });
}
