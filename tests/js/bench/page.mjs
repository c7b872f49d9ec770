// The benchmark page (served at /bench/ by the local EWS server; driven by run.mjs). Every pair is
// measured side by side in this one page; each function returns plain numbers for the table.
import init, { OfflineMessenger, buildOfflineMessageEnvelope, parseEwsResponse } from "/pkg/offline_im.js";
import ews from "./ews.js";

// Workbox's Queue registers for Background Sync through `self.registration`, which only a service
// worker has. In this page it gets an object without `sync`: the Queue stores requests exactly as
// in a worker and never replays them (replay is not part of the enqueue measurement).
globalThis.registration ??= {};
const { Queue } = await import("./workbox.js");

const initStart = performance.now();
await init();
const initMs = performance.now() - initStart;

const EWS_URL = "/EWS/Exchange.asmx";
const SENDER = { displayName: "Tony Smith", emailAddress: "tony@contoso.com", sipAddress: "sip:tony@contoso.com" };
// The local server's Graph endpoint: the EWS port + 1, under /v1.0 (this page's origin is allowed).
const GRAPH_URL = `${location.protocol}//${location.hostname}:${Number(location.port) + 1}/v1.0`;
const TO = { emailAddress: "ana@contoso.com", sipAddress: "sip:ana@contoso.com", displayName: "Ana Lopez", presence: "offline" };
const POLICY = "Set-CsImConfiguration -Identity Global -EnableOfflineIM $True";
// What Exchange (and the local server) answers a successful CreateItem SendOnly.
const CREATE_OK = `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="20" MajorBuildNumber="7000" MinorBuildNumber="0" Version="V2018_01_08" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" xmlns="http://schemas.microsoft.com/exchange/services/2006/types"/></s:Header><s:Body><m:CreateItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:CreateItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items/></m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>`;
const PROPERTY_SET = "6b2b3c54-5e0f-4c1c-9a3e-0ff11e1e0a1d";

const text = (i) => `Are you free at 3? Message ${i}: the <budget> & the plan for "Q${i % 4 + 1}".`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
let run = 0;
const fresh = (what) => `bench-${what}-${Date.now()}-${run++}`;

// --- envelope build + response parse ---------------------------------------------------------

function ours(i) {
  const env = buildOfflineMessageEnvelope(
    { id: `m-${i}`, conversationId: "tony-ana", to: { emailAddress: TO.emailAddress, displayName: TO.displayName }, text: text(i) },
    { itemClass: "IPM.Note.Microsoft.Missed" });
  const outcome = parseEwsResponse(200, CREATE_OK);
  if (outcome.kind !== "delivered") throw new Error(`ours: ${outcome.kind}`);
  return env.xml;
}

// ews-javascript-api with its documented pluggable XHR layer: the request is captured and the
// same CreateItem reply is handed back, which the library parses (no network).
let peerCaptured = "";
const service = new ews.ExchangeService(ews.ExchangeVersion.Exchange2013);
service.Url = new ews.Uri(new URL(EWS_URL, location.href).href);
service.Credentials = new ews.OAuthCredentials("tony-token", true);
service.XHRApi = {
  type: "capture", apiName: "capture",
  async xhr(options) {
    peerCaptured = options.data;
    return { status: 200, statusText: "OK", responseText: CREATE_OK, response: CREATE_OK, getAllResponseHeaders: () => "", getResponseHeader: () => null };
  },
  xhrStream: () => Promise.reject(new Error("not used")), disconnect() {}, getStreamingConnection() {},
};
const setId = new ews.Guid(PROPERTY_SET);
const messageIdProp = new ews.ExtendedPropertyDefinition(setId, "OfflineImMessageId", ews.MapiPropertyType.String);
const conversationProp = new ews.ExtendedPropertyDefinition(setId, "OfflineImConversationId", ews.MapiPropertyType.String);

async function peer(i) {
  const m = new ews.EmailMessage(service);
  const t = text(i);
  m.ItemClass = "IPM.Note.Microsoft.Missed";
  m.Subject = t;
  m.Body = new ews.MessageBody(ews.BodyType.HTML, t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"));
  m.ToRecipients.Add(new ews.EmailAddress(TO.displayName, TO.emailAddress));
  m.SetExtendedProperty(messageIdProp, `m-${i}`);
  m.SetExtendedProperty(conversationProp, "tony-ana");
  await m.Send();
  return peerCaptured;
}

// Interleaved blocks of `block` messages (ours, then the peer, then ours…), so both see the same
// machine state; the figure for each is the median over its blocks, which keeps a garbage
// collection or a JIT tier-up that lands in one block from deciding the result (the means are in
// the JSON too). Both get the same warm-up.
async function envelope({ n = 1000, block = 100 } = {}) {
  // Both must produce a CreateItem SendOnly with the message in it, or the comparison is void.
  for (const xml of [ours(7), await peer(7)]) {
    if (!xml.includes('MessageDisposition="SendOnly"') || !xml.includes("Message 7:") || !xml.includes("OfflineImMessageId")) {
      throw new Error(`envelope check failed: ${xml.slice(0, 200)}`);
    }
  }
  for (let i = 0; i < 1000; i++) { ours(i); await peer(i); } // warm-up (JIT and wasm tier-up, lazy init)
  const oursBlocks = [], peerBlocks = [];
  let bytes = 0;
  const blocks = Math.ceil(n / block);
  for (let b = 0; b < blocks; b++) {
    let t = performance.now();
    for (let i = 0; i < block; i++) bytes += ours(b * block + i).length;
    oursBlocks.push(((performance.now() - t) * 1000) / block);
    t = performance.now();
    for (let i = 0; i < block; i++) await peer(b * block + i);
    peerBlocks.push(((performance.now() - t) * 1000) / block);
  }
  const mean = (xs) => xs.reduce((a, x) => a + x, 0) / xs.length;
  const count = block * blocks;
  return {
    count, blocks, oursUs: median(oursBlocks), peerUs: median(peerBlocks),
    oursMeanUs: mean(oursBlocks), peerMeanUs: mean(peerBlocks), envelopeBytes: Math.round(bytes / count),
  };
}

// --- spool enqueue ---------------------------------------------------------------------------

const idb = (req) => new Promise((resolve, reject) => { req.onsuccess = () => resolve(req.result); req.onerror = () => reject(req.error); });
const done = (tx) => new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onabort = tx.onerror = () => reject(tx.error); });
const dropDb = (name) => idb(indexedDB.deleteDatabase(name));

// The same schema as the messenger's (object store `messages`, keyPath `id`, two indexes).
async function rawDb(name) {
  const req = indexedDB.open(name, 1);
  req.onupgradeneeded = () => {
    const store = req.result.createObjectStore("messages", { keyPath: "id" });
    store.createIndex("state", "state");
    store.createIndex("nextAttemptAt", "nextAttemptAt");
  };
  return idb(req);
}

const stalled = () => new Promise(() => {}); // a transport that never answers: nothing leaves the spool
const failing = async () => ({ status: 0, body: "" });

function openMessenger(dbName, extra = {}) {
  return OfflineMessenger.open({ ewsUrl: EWS_URL, sender: SENDER, policy: POLICY, dbName, ...extra });
}

let template; // a real spool record, so the raw IndexedDB floor stores exactly what we store
async function recordTemplate() {
  if (template) return template;
  const dbName = fresh("template");
  const im = await openMessenger(dbName, { transport: stalled });
  await im.send({ to: TO, text: text(0), conversationId: "tony-ana" });
  [template] = await im.pending();
  im.close();
  await dropDb(dbName);
  return template;
}
const records = (n) => Array.from({ length: n }, (_, i) => ({ ...template, id: `r-${i}-${Math.random()}`, text: text(i), seq: i }));

// A raw IndexedDB variant: a fresh database with our schema and n records; only `write` is timed.
async function timedRaw(prefix, n, write) {
  const name = fresh(prefix); const db = await rawDb(name); const rs = records(n);
  const t = performance.now();
  await write(db, rs);
  const ms = performance.now() - t;
  db.close(); await dropDb(name);
  return ms;
}
const strict = (db) => db.transaction("messages", "readwrite", { durability: "strict" });
// One put in its own transaction; resolves when that transaction completed.
function putAlone(db, r) {
  const tx = strict(db);
  tx.objectStore("messages").put(r);
  return done(tx);
}

// Ours: a fresh messenger whose transport never answers (nothing leaves the spool); only `sendAll`
// is timed, and afterwards the spool must hold all n messages. Like the floor's database, the
// messenger is idle when the clock starts: the processing round `open` starts (Web Lock, spool
// read, timer) is over (`flush` on the empty spool waits for it), as in an app that opened the
// messenger at sign-in and sends later.
const message = (i) => ({ to: TO, text: text(i), conversationId: `c-${i % 10}` });
async function timedOurs(prefix, n, sendAll) {
  const dbName = fresh(prefix); const im = await openMessenger(dbName, { transport: stalled });
  await im.flush();
  const t = performance.now();
  await sendAll(im);
  const ms = performance.now() - t;
  const pending = (await im.pending()).length;
  im.close(); await dropDb(dbName);
  if (pending !== n) throw new Error(`${prefix}: pending ${pending} of ${n}`);
  return ms;
}

const enqueueVariants = {
  // The floor: every put in one readwrite transaction (strict durability, as ours).
  rawOneTransaction: (n) => timedRaw("raw1", n, (db, rs) => {
    const tx = strict(db);
    const store = tx.objectStore("messages");
    for (const r of rs) store.put(r);
    return done(tx);
  }),
  // Ours: n concurrent `send` calls (policy, validation, envelope check, durable write each).
  oursConcurrent: (n) => timedOurs("ours", n, async (im) => {
    const receipts = await Promise.all(Array.from({ length: n }, (_, i) => im.send(message(i))));
    const queued = receipts.filter((r) => r.state === "queued").length;
    if (queued !== n) throw new Error(`ours queued ${queued} of ${n}`);
  }),
  // One transaction per put, all started at once (what naive concurrent `send`s would do).
  rawTransactionPerPut: (n) => timedRaw("rawN", n, (db, rs) => Promise.all(rs.map((r) => putAlone(db, r)))),
  // workbox-background-sync's Queue: pushRequest of the same EWS request (pre-built XML).
  async workboxQueue(n) {
    await dropDb("workbox-background-sync");
    const queue = new Queue(fresh("wb"));
    const bodies = Array.from({ length: n }, (_, i) => ours(i));
    const t = performance.now();
    await Promise.all(bodies.map((body) => queue.pushRequest({
      request: new Request(EWS_URL, { method: "POST", body, headers: { "Content-Type": "text/xml; charset=utf-8" } }),
    })));
    const ms = performance.now() - t;
    const stored = (await queue.getAll()).length;
    if (stored !== n) throw new Error(`workbox stored ${stored} of ${n}`);
    return ms;
  },
  // Ours, one `send` at a time (a user typing): no batching is possible, one transaction each.
  oursSequential: (n) => timedOurs("oursSeq", n, async (im) => {
    for (let i = 0; i < n; i++) await im.send(message(i));
  }),
  // Raw IndexedDB, one awaited transaction per put: the floor for one-at-a-time sends.
  rawSequential: (n) => timedRaw("rawSeq", n, async (db, rs) => {
    for (const r of rs) await putAlone(db, r);
  }),
};

async function enqueue({ n = 1000, reps = 3 } = {}) {
  await recordTemplate();
  const ms = Object.fromEntries(Object.keys(enqueueVariants).map((k) => [k, []]));
  // Repetition -1 is the warm-up, as in the envelope step: every variant runs once untimed, so
  // the JIT and wasm tier-up (and IndexedDB's first use in the page) land on nobody's figure.
  for (let r = -1; r < reps; r++) {
    for (const [k, f] of Object.entries(enqueueVariants)) {
      // Each variant starts from a quiet browser: the previous one's commits, database deletion
      // and garbage are behind it, not charged to whichever variant runs next.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const t = await f(n);
      if (r >= 0) ms[k].push(t);
    }
  }
  // Ratios per repetition (ours and the floor run back to back, so they share the machine's
  // state of the moment on a shared VM), then their median.
  const perRep = (f) => median(ms.oursConcurrent.map((_, r) => f(r)));
  const ratios = {
    oursOverFloor: perRep((r) => ms.oursConcurrent[r] / ms.rawOneTransaction[r]),
    perPutOverOurs: perRep((r) => ms.rawTransactionPerPut[r] / ms.oursConcurrent[r]),
    workboxOverOurs: perRep((r) => ms.workboxQueue[r] / ms.oursConcurrent[r]),
    sequentialOverFloor: perRep((r) => ms.oursSequential[r] / ms.rawSequential[r]),
  };
  return { count: n, reps, medianMs: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, median(v)])), ratios, allMs: ms };
}

// --- flush to the local EWS server ------------------------------------------------------------

// `oneConversation`: every message in one conversation (delivered strictly in order: on EWS one
// per request, on Graph chained by dependsOn); otherwise each its own. `backend`: "ews" | "graph".
async function flush({ n = 1000, oneConversation = false, backend = "ews" } = {}) {
  await fetch("/_control/reset", { method: "POST" });
  const dbName = fresh("flush");
  const open = (extra) => backend === "graph"
    ? OfflineMessenger.open({ backend: "graph", graphUrl: GRAPH_URL, sender: SENDER, policy: POLICY, dbName, ...extra })
    : openMessenger(dbName, extra);
  // Fill the spool without delivering: a transport with no reply leaves each conversation's
  // first message retrying in two minutes (the rest wait behind it); `flush()` below makes
  // them all due.
  const filler = await open({ transport: failing });
  let retrying = 0;
  const heads = oneConversation ? 1 : n;
  const attempted = new Promise((resolve) => filler.addEventListener("retrying", () => { if (++retrying === heads) resolve(); }));
  await Promise.all(Array.from({ length: n }, (_, i) => filler.send({ to: TO, text: text(i), ...(oneConversation ? { conversationId: "one" } : {}) })));
  await attempted; // every conversation tried once and settled (no lease left behind)
  filler.close();

  // Time on the wire: the union of intervals with at least one fetch in flight.
  const realFetch = globalThis.fetch;
  let inFlight = 0, since = 0, waitingMs = 0, requests = 0;
  globalThis.fetch = async (...args) => {
    if (inFlight++ === 0) since = performance.now();
    requests++;
    try {
      const res = await realFetch(...args);
      const body = await res.text();
      return new Response(body, { status: res.status, headers: res.headers });
    } finally {
      if (--inFlight === 0) waitingMs += performance.now() - since;
    }
  };
  try {
    const im = await open({ getAccessToken: async () => "tony-token" });
    let delivered = 0;
    const all = new Promise((resolve) => im.addEventListener("delivered", () => { if (++delivered === n) resolve(); }));
    // The runner's CPU profiler (run.mjs, `benchMark`), when it profiles this run: started
    // before the timed window and stopped after it.
    await globalThis.benchMark?.("start");
    const t = performance.now();
    await im.flush();
    await all;
    const wallMs = performance.now() - t;
    await globalThis.benchMark?.("stop");
    const left = (await im.pending()).length;
    im.close(); await dropDb(dbName);
    const items = (await (await realFetch("/_control/mailboxes/ana@contoso.com")).json()).items.length;
    if (items !== n || left !== 0) throw new Error(`flush: ${items} items in the mailbox, ${left} left in the spool`);
    return { count: n, backend, oneConversation, requests, wallMs, messagesPerSecond: (n * 1000) / wallMs, waitingMs, moduleShare: 1 - waitingMs / wallMs, mailboxItems: items };
  } finally {
    globalThis.fetch = realFetch;
  }
}

// --- open + first send -----------------------------------------------------------------------

async function firstSend({ reps = 10 } = {}) {
  const ms = [];
  for (let r = 0; r < reps; r++) {
    const dbName = fresh("first");
    const t = performance.now();
    const im = await openMessenger(dbName, { transport: stalled });
    const receipt = await im.send({ to: TO, text: text(r) });
    ms.push(performance.now() - t);
    im.close(); await dropDb(dbName);
    if (receipt.state !== "queued") throw new Error(`first send: ${receipt.state}`);
  }
  return { reps, medianMs: median(ms), allMs: ms, initMs };
}

// --- the size reference ------------------------------------------------------------------------

// tests/size-floor (the required stack alone) is measured for size only; this checks that it is a
// working module doing the work it stands for, not an empty shell.
async function sizeFloor() {
  const checked = {};
  for (const variant of ["json", "serde-wasm-bindgen"]) {
    const floor = await import(`./size-floor-${variant}/size_floor.js`);
    await floor.default();
    const xml = floor.build({ to: { emailAddress: "ana@contoso.com", displayName: null, sipAddress: null }, text: "a < b", id: "m-1", conversationId: null, subject: null, attempts: 0, createdAt: 1.5 });
    const parsed = floor.parse(CREATE_OK);
    const name = fresh(`floor-${variant}`);
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore("s", { keyPath: "id" });
    await idb(open).then((db) => db.close());
    const stored = await floor.store(name, { to: { emailAddress: "ana@contoso.com", displayName: null, sipAddress: null }, text: "x", id: "m-2", conversationId: null, subject: null, attempts: 1, createdAt: 2 });
    // (its connection stays open: the module never closes it, so the database is left behind)
    const ok = xml.includes("a &lt; b") && xml.includes('Id="m-1"') && parsed.id === "NoError" && stored.id === "m-2" && stored.to.emailAddress === "ana@contoso.com";
    if (!ok) throw new Error(`size floor module (${variant}) misbehaves: ${xml} ${JSON.stringify(parsed)} ${JSON.stringify(stored)}`);
    checked[variant] = ok;
  }
  return checked;
}

window.bench = { envelope, enqueue, flush, firstSend, sizeFloor };
document.body.dataset.ready = "true";
