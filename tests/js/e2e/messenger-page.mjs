// Drives the package itself (not the demo UI) in a page of the local server's origin: open a
// messenger, send, wait for the spool to drain, read a mailbox with checkMissed, dump IndexedDB.
import { BASE } from "./helpers.mjs";

export const TONY = { displayName: "Tony Smith", emailAddress: "tony@contoso.com", sipAddress: "sip:tony@contoso.com" };

/// A blank page on the server's origin (the users list), with the package imported.
export async function blankPage(context) {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${BASE}/_control/users`);
  return { page, errors };
}

/// Makes `window.holdsSpoolLock` true while this page holds a Web Lock (the spool lock is the
/// only one the package takes): wraps navigator.locks.request before the messenger opens.
export function trackLock(page) {
  return page.evaluate(() => {
    const orig = LockManager.prototype.request;
    window.holdsSpoolLock = false;
    LockManager.prototype.request = function (name, options, callback) {
      const cb = typeof options === "function" ? options : callback;
      const wrapped = async (lock) => {
        if (lock) window.holdsSpoolLock = true;
        try { return await cb(lock); } finally { if (lock) window.holdsSpoolLock = false; }
      };
      return typeof options === "function" ? orig.call(this, name, wrapped) : orig.call(this, name, options, wrapped);
    };
  });
}

/// Opens `window.im` in `page`: a messenger signed in as `user` (token `<name>-token`), counting
/// its events in `window.counts`. `extra` is merged into the config (JSON-safe values only).
export async function openMessenger(page, user, extra = {}) {
  await page.evaluate(async ({ user, extra }) => {
    const { default: init, OfflineMessenger } = await import("/pkg/offline_im.js");
    await init();
    const token = `${user.emailAddress.split("@")[0]}-token`;
    const config = {
      ewsUrl: "/EWS/Exchange.asmx", sender: user, policy: "Set-CsImConfiguration -EnableOfflineIM $True",
      organizationDomains: ["contoso.com"], getAccessToken: async () => token, ...extra,
    };
    // A Graph messenger has no EWS URL (`extra` sets backend and graphUrl).
    if (config.backend === "graph") delete config.ewsUrl;
    window.im = await OfflineMessenger.open(config);
    window.counts = {};
    for (const k of ["queued", "sending", "delivered", "retrying", "failed", "authrequired", "error"]) {
      window.im.addEventListener(k, () => { window.counts[k] = (window.counts[k] ?? 0) + 1; });
    }
  }, { user, extra });
}

/// Sends `messages` ([{ id, to, text, conversationId }]) from `window.im`, all at once; resolves
/// with the receipts' states.
export function sendAll(page, messages) {
  return page.evaluate(async (messages) => {
    const receipts = await Promise.all(messages.map((m) => window.im.send({
      id: m.id, to: { emailAddress: m.to, presence: "offline" }, text: m.text, conversationId: m.conversationId,
    })));
    return receipts.map((r) => r.state);
  }, messages);
}

/// Polls `window.im.pending()` until it is empty; throws after `ms`.
export async function drained(page, ms = 120000) {
  const t0 = Date.now();
  for (;;) {
    const left = await page.evaluate(async () => (await window.im.pending()).map((r) => ({ id: r.id, state: r.state, attempts: r.attempts, inMs: r.nextAttemptAt - Date.now(), lastError: r.lastError?.code })));
    if (left.length === 0) return;
    if (Date.now() - t0 > ms) throw new Error(`${left.length} messages still pending after ${ms} ms: ${JSON.stringify(left.slice(0, 20))}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/// The message ids `checkMissed` reports for `user` (as that user's own client would), with a
/// count of how often each id appears in the report.
export async function missedIds(page, user, extra = {}) {
  await openMessenger(page, user, { dbName: `recipient-${user.emailAddress}`, ...extra });
  return page.evaluate(async () => {
    const report = await window.im.checkMissed();
    const ids = report.conversations.flatMap((c) => c.messages.map((m) => m.messageId));
    window.im.close();
    return { total: report.total, ids, copies: report.conversations.flatMap((c) => c.messages.map((m) => m.itemIds.length)).reduce((a, b) => a + b, 0) };
  });
}

/// Everything in every IndexedDB database of the origin, as JSON text.
export function dumpIndexedDb(page) {
  return page.evaluate(async () => {
    const req = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
    const out = {};
    for (const { name } of await indexedDB.databases()) {
      const db = await req(indexedDB.open(name));
      for (const store of db.objectStoreNames) {
        out[`${name}/${store}`] = await req(db.transaction(store).objectStore(store).getAll());
      }
      db.close();
    }
    return JSON.stringify(out);
  });
}
