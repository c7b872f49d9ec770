// Reliability under faults: many messages, a server that fails at random in every way the local
// server can, and page reloads while the spool drains. No accepted message may be lost, and each
// must reach its recipient exactly once as the recipient's own client reports it.
// CHAOS_N sets the message count (default 1000).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, GRAPH, launch, mailbox, recordSends, reset, waitFor } from "./helpers.mjs";
import { TONY, blankPage, drained, dumpIndexedDb, missedIds, openMessenger, sendAll } from "./messenger-page.mjs";

const N = Number(process.env.CHAOS_N ?? 1000);
const RECIPIENTS = ["ana@contoso.com", "sam@contoso.com", "bob@fabrikam.com"];
const RELOADS = 4;
// Fast timers so the test drains in seconds: retry every 250 ms (doubling), requests time out
// after 1 s, a claim left by a reloaded page is taken over after 3 s.
const SPOOL = { dbName: "chaos", retryIntervalMs: 250, requestTimeoutMs: 1000, leaseMs: 3000 };

let browser;
before(async () => { browser = await launch(); });
after(async () => browser?.close());

async function fault(spec) {
  const r = await fetch(`${BASE}/_control/faults`, { method: "POST", body: JSON.stringify(spec) });
  assert.equal(r.status, 204, await r.text());
}

// The same run on each back end: EWS (same-origin endpoint) and Graph (its own origin, CORS).
const BACKENDS = {
  ews: { extra: {}, endpoint: (p) => p === "/EWS/Exchange.asmx" },
  graph: { extra: { backend: "graph", graphUrl: GRAPH }, endpoint: (p) => p.startsWith("/v1.0/") },
};

for (const [backend, { extra, endpoint }] of Object.entries(BACKENDS)) {
test(`chaos on ${backend}: ${N} messages, random faults, ${RELOADS} reloads mid-flush: none lost, none duplicated`, { timeout: 300000 }, async () => {
  await reset();
  // One random roll per request picks the first fault whose probability exceeds it, so the
  // thresholds are cumulative: 6 % busy (EWS ErrorServerBusy with BackOffMilliseconds; Graph 429
  // ApplicationThrottled with Retry-After), 4 % 503, 4 % 500 (+ SOAP fault), 3 % dropped
  // connection, 3 % stalled past the client's timeout (the server still delivers: a copy on the
  // wire); Graph also 2 % 429 and 2 % 504.
  // On Graph a message meets two rolls: its $batch's and its own request's inside it. At the
  // full rates (24 % each, 42 % per attempt) one message in a run could fail ten times in a row
  // and wait out a 128 s backoff, past the drain deadline (seen once in CI); so Graph's rates
  // are scaled by 0.6 (about 27 % per attempt, the per-attempt rate EWS sees).
  const k = backend === "graph" ? 0.6 : 1;
  await fault({ kind: "serverBusy", probability: 0.06 * k, backOffMs: 300 });
  await fault({ kind: "http503", probability: 0.10 * k });
  await fault({ kind: "http500Fault", probability: 0.14 * k });
  await fault({ kind: "drop", probability: 0.17 * k });
  await fault({ kind: "slow", probability: 0.20 * k, delayMs: 1500 });
  if (backend === "graph") {
    await fault({ kind: "http429", probability: 0.22 * k, backOffMs: 1000 });
    await fault({ kind: "http504", probability: 0.24 * k });
  } else {
    // Each message of a batched CreateItem rolls on its own too (issue 14): 3 % ErrorServerBusy
    // on that item, 2 % ErrorMailboxStoreUnavailable, which stops the rest of its request
    // (ErrorBatchProcessingStopped), as Exchange answers a batch item by item.
    await fault({ kind: "itemServerBusy", probability: 0.03, backOffMs: 300 });
    await fault({ kind: "itemStoreUnavailable", probability: 0.05 });
  }
  const spoolConfig = { ...SPOOL, ...extra };

  const context = await browser.newContext();
  const { page, errors } = await blankPage(context);
  const requested = new Set();
  page.on("request", (r) => requested.add(new URL(r.url()).pathname));
  const sent = recordSends(page);
  const logs = [];
  page.on("console", (m) => logs.push(m.text()));

  await openMessenger(page, TONY, spoolConfig);
  const messages = Array.from({ length: N }, (_, i) => ({
    id: `chaos-${i}`, to: RECIPIENTS[i % RECIPIENTS.length], conversationId: `conv-${i % 30}`, text: `chaos message ${i} <&> "${i}"`,
  }));
  for (let i = 0; i < N; i += 100) {
    const states = await sendAll(page, messages.slice(i, i + 100));
    assert.ok(states.every((s) => s === "queued"), states.join(","));
  }
  // Reload while the spool drains, each time at a moment a message is being sent (state
  // "sending": claimed, its request on the wire or about to be) and at least 50 more requests
  // after the last reload; each load opens the messenger again, which resumes.
  const pendingAtReload = [], sendingAtReload = [];
  for (let r = 0; r < RELOADS; r++) {
    const base = sent.length;
    const at = await waitFor(async () => {
      if (sent.length < base + 50) return null;
      const p = await page.evaluate(async () => (await window.im.pending()).map((x) => x.state));
      return p.includes("sending") ? p : null;
    }, `a send in flight before reload ${r + 1}`, 60000);
    pendingAtReload.push(at.length);
    sendingAtReload.push(at.filter((s) => s === "sending").length);
    await page.reload();
    await openMessenger(page, TONY, spoolConfig);
  }
  assert.ok(sendingAtReload.every((n) => n > 0), `every reload interrupts a send (sending: ${sendingAtReload})`);
  await drained(page, 240000);
  const stored = await dumpIndexedDb(page);
  const { injected, requests } = await (await fetch(`${BASE}/_control/faults`)).json();
  await fetch(`${BASE}/_control/faults`, { method: "DELETE" });

  // Every message reached its recipient, exactly once as the recipient's client reports it.
  let shown = 0, duplicatesShown = 0, lost = 0, wireCopies = 0;
  for (const to of ["ana@contoso.com", "sam@contoso.com"]) {
    const expected = messages.filter((m) => m.to === to).map((m) => m.id).sort();
    const report = await missedIds(page, { emailAddress: to, displayName: to }, extra);
    const ids = [...report.ids].sort();
    duplicatesShown += ids.length - new Set(ids).size;
    lost += expected.filter((id) => !ids.includes(id)).length;
    shown += ids.length;
    wireCopies += report.copies;
    assert.deepEqual(ids, expected, `${to}: checkMissed lists each message once`);
    assert.equal(report.total, expected.length);
  }
  // Federated mail is plain IPM.Note (not a missed conversation): read the mailbox directly. Our
  // named properties do not cross organisations (SMTP), so the message is told by its subject.
  const bobItems = await mailbox("bob@fabrikam.com");
  assert.ok(bobItems.every((i) => i.extended.length === 0), "no MAPI properties across organisations");
  const bobIds = bobItems.map((i) => `chaos-${/^chaos message (\d+) /.exec(i.subject)[1]}`);
  const bobExpected = messages.filter((m) => m.to === "bob@fabrikam.com").map((m) => m.id);
  lost += bobExpected.filter((id) => !bobIds.includes(id)).length;
  wireCopies += bobIds.length;
  assert.deepEqual([...new Set(bobIds)].sort(), bobExpected.sort(), "bob: every message arrived");
  assert.ok(bobItems.every((i) => i.itemClass === "IPM.Note"));
  // What the module put on the wire (the server rewrites the class across organisations, so
  // the mailbox alone cannot tell): plain IPM.Note to Bob, the missed class inside contoso.
  assert.ok(sent.length >= N, `${sent.length} sends on the wire`);
  const wrongClass = sent.filter((x) => x.itemClass !== (x.to === "bob@fabrikam.com" ? "IPM.Note" : "IPM.Note.Microsoft.Missed"));
  assert.deepEqual(wrongClass, [], "every send carries the class policy decided for its recipient");

  // Nothing in any Drafts folder, nothing in the sender's mailbox at all (no Sent Items copy),
  // nothing left in the spool.
  for (const who of ["tony@contoso.com", ...RECIPIENTS]) {
    const drafts = (await mailbox(who)).filter((i) => i.folder === "drafts" || i.isDraft);
    assert.equal(drafts.length, 0, `${who} has drafts`);
  }
  assert.deepEqual((await mailbox("tony@contoso.com")).map((i) => i.folder), [], "nothing in the sender's mailbox");
  const spool = JSON.parse(stored)["chaos/spool"];
  assert.equal(spool.length, N, "delivered records are kept (for de-duplication of repeated sends)");
  assert.ok(spool.every((r) => r.state === "delivered"), "none queued, sending or failed");

  // Security: the token never reached IndexedDB or the console, and the only URL the package
  // requested is the configured EWS endpoint (besides the page and the package itself).
  assert.ok(!stored.includes("tony-token") && !stored.includes("Bearer"), "no token in IndexedDB");
  assert.ok(!logs.some((l) => l.includes("tony-token")), "no token in the console");
  const other = [...requested].filter((p) => p !== "/_control/users" && !endpoint(p) && !p.startsWith("/pkg/"));
  assert.deepEqual(other, [], `only the ${backend} endpoint is requested`);
  assert.deepEqual(errors, []);

  // Batching was on: a delivery request carried more than one message on average.
  assert.ok(sent.length > sent.requests * 1.5, `${sent.length} messages in ${sent.requests} delivery requests`);
  console.log(`chaos on ${backend}: messages ${N}, requests ${requests} (delivery requests ${sent.requests} carrying ${sent.length} messages), faults injected ${injected}, reloads ${RELOADS} (pending/sending at each: ${pendingAtReload.map((p, i) => `${p}/${sendingAtReload[i]}`).join(" ")}), ` +
    `lost ${lost}, duplicates shown ${duplicatesShown}, copies in mailboxes ${wireCopies} (${wireCopies - N} extra on the wire, merged by message id)`);
  assert.equal(lost, 0);
  assert.equal(duplicatesShown, 0);
  assert.equal(shown + bobExpected.length, N);
  await context.close();
});
}
