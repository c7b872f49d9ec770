// offline-im demo: Tony (sender) and Ana or Bob (recipient) side by side, against the local server.
// URL parameters (used by the end-to-end tests): ?retry=<ms> shortens the retry interval;
// ?backend=graph uses the local server's Graph endpoint (its own origin, the EWS port + 1).
import init, { OfflineMessenger, evaluatePolicy, parsePolicyScript } from "/pkg/offline_im.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const retryIntervalMs = Number(params.get("retry")) || 120000;
const backend = params.get("backend") === "graph" ? "graph" : "ews";
const GRAPH_URL = `${location.protocol}//${location.hostname}:${Number(location.port || 80) + 1}/v1.0`;
/// The back-end part of a messenger config: EWS on this origin, or Graph on its own.
const mailboxConfig = () => backend === "graph" ? { backend: "graph", graphUrl: GRAPH_URL } : { ewsUrl: "/EWS/Exchange.asmx" };
const USERS = {
  "tony@contoso.com": { name: "Tony Smith", token: "tony-token", sip: "sip:tony@contoso.com" },
  "ana@contoso.com": { name: "Ana Lopez", token: "ana-token", sip: "sip:ana@contoso.com" },
  "bob@fabrikam.com": { name: "Bob Kelly", token: "bob-token", sip: "sip:bob@fabrikam.com" },
};
const SENDER = { displayName: "Tony Smith", emailAddress: "tony@contoso.com", sipAddress: "sip:tony@contoso.com" };
const ORGANIZATION = ["contoso.com"];

/// Each policy reason in plain language, with the admin setting behind it (the seeds' cmdlets).
const REASONS = {
  RecipientOffline: (p) => `${p} is offline, so the message goes to their mailbox as a missed conversation.`,
  RecipientPresenceUnknown: (p) => `${p}'s presence is unknown, so the message is treated as offline and goes to their mailbox.`,
  RecipientOnline: (p) => `${p} is online: the message is delivered live in the conversation.`,
  RecipientDoNotDisturb: (p) => `${p} is in Do Not Disturb: the message is delivered live, and their own client records it as missed.`,
  RecipientPresenting: (p) => `${p} is presenting: the message is delivered live, and their own client records it as missed.`,
  OfflineImDisabled: () => "Offline messages are turned off for your organisation (Set-CsImConfiguration -EnableOfflineIM).",
  AutoArchivingDisabled: () => "Your client policy turns off IM archiving, which offline messages need (Set-CsClientPolicy -EnableIMAutoArchiving).",
  ClientBuildTooOld: () => "Your Skype for Business client is older than build 16.0.6701.1000, the first with offline messages.",
  OnPremisesNeedsNewerBuild: () => "With a mailbox on Exchange Server, offline messages need client build 16.0.6920.1000 or later.",
  MsiInstallUnsupported: () => "The MSI (Windows Installer) edition of the client does not send offline messages; Click-to-Run does.",
  ClientNotReported: () => "This client did not report a Skype for Business build, so the build rules were not applied (a web client).",
  SameOrganization: (p) => `${p} is in your organisation: the message is stored as a missed conversation (IPM.Note.Microsoft.Missed).`,
  Federated: (p) => `${p} is in another organisation: the message travels as plain mail (IPM.Note), not as a missed conversation.`,
};
const reasonText = (code, peer) => (REASONS[code] ?? (() => code))(peer);

let im = null;
const peer = () => $("to").value;
const peerName = (email = peer()) => USERS[email].name;
const short = (text) => (text.length > 40 ? `${text.slice(0, 40)}…` : text);
const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const seconds = (ms) => (ms >= 60000 ? `${Math.round(ms / 60000)} min` : `${Math.round(ms / 1000)} s`);
const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};

// ---- the conversation: one bubble per message, from send to its last event ----

/// Messages of this page, by id: { id, to, text, sentAt, state, decision, record, reasons, error }.
const messages = new Map();
/// The spool as `im.pending()` last listed it (queued, sending, failed).
let spool = [];

function note(id, change) {
  const m = messages.get(id);
  if (!m) return;
  Object.assign(m, change);
  renderBubble(m);
}

/// Why a queued message waits, in words (the countdown included).
function waitingWords(m) {
  const r = spool.find((s) => s.id === m.id) ?? m.record;
  if (!r) return "Queued";
  const now = Date.now();
  if (r.nextAttemptAt > now + 500) {
    const why = r.lastError ? (r.lastError.code === "ErrorServerBusy" ? "Exchange asked to wait (ErrorServerBusy, BackOffMilliseconds)" : `last try: ${r.lastError.code}`) : "waiting";
    return `Queued · next try in ${seconds(r.nextAttemptAt - now)} · ${why} · ${r.attempts} ${r.attempts === 1 ? "try" : "tries"} so far`;
  }
  const ahead = spool.find((s) => s.conversationId === r.conversationId && s.seq < r.seq && s.state !== "failed");
  if (ahead) return `Queued · waits for the earlier message in this conversation (“${short(ahead.text)}”): messages arrive in order`;
  return "Queued · due now";
}

const STATUS = {
  queued: { tick: "◷", words: waitingWords },
  sending: { tick: "↑", words: () => "Sending…" },
  delivered: { tick: "✓✓", words: (m) => `Delivered to ${peerName(m.to)}'s mailbox ${m.record?.itemClass === "IPM.Note" ? "as mail" : "as a missed conversation"}` },
  live: { tick: "✓", words: (m) => `Delivered live${m.decision?.recipientRecordsMissed ? `; ${peerName(m.to)}'s client records it as missed` : ""}` },
  failed: { tick: "!", words: (m) => `Not delivered: ${m.error?.code ?? "failed"}${m.error?.permanent === false ? " (gave up retrying)" : ""}. ${m.error?.message ?? ""}` },
  blocked: { tick: "⊘", words: () => "Not sent: blocked by policy" },
  error: { tick: "!", words: (m) => `Not sent: ${m.error?.code}: ${m.error?.message}` },
};

function renderBubble(m) {
  let li = $("transcript").querySelector(`li[data-id="${CSS.escape(m.id)}"]`);
  if (!li) {
    li = el("li", { className: "bubble" });
    li.dataset.id = m.id;
    li.append(el("div", { className: "text" }), el("div", { className: "meta" }), el("ul", { className: "why" }), el("div", { className: "actions" }));
    $("transcript").append(li);
  }
  li.dataset.state = m.state;
  li.dataset.to = m.to;
  li.hidden = m.to !== peer();
  li.querySelector(".text").textContent = m.text;
  const status = STATUS[m.state] ?? STATUS.queued;
  const meta = li.querySelector(".meta");
  meta.replaceChildren(el("span", { className: "time", textContent: clock(m.sentAt) }), el("span", { className: "tick", textContent: status.tick }), el("span", { className: "status", textContent: status.words(m) }));
  const why = li.querySelector(".why");
  why.replaceChildren(...(m.state === "blocked" ? m.decision.reasons.filter((r) => r !== "ClientNotReported").map((r) => el("li", {}, el("code", { textContent: r }), " ", reasonText(r, peerName(m.to)))) : []));
  const actions = li.querySelector(".actions");
  actions.replaceChildren(...(m.state === "failed" ? [
    el("button", { type: "button", textContent: "Retry", onclick: () => act(() => im.retry(m.id)) }),
    el("button", { type: "button", textContent: "Discard", onclick: () => act(async () => { await im.discard(m.id); li.remove(); messages.delete(m.id); renderEmpty(); }) }),
  ] : []));
  renderEmpty();
}

async function act(f) {
  try {
    await f();
  } catch (e) {
    log(`${e.code ?? "Error"}: ${e.message}`, "error");
  }
  refreshSpool();
}

function renderEmpty() {
  const shown = [...$("transcript").children].some((li) => !li.hidden);
  $("transcript-empty").hidden = shown;
  $("live-empty").hidden = $("live").querySelector(`li[data-to="${CSS.escape(peer())}"]`) !== null;
  for (const li of $("live").children) li.hidden = li.dataset.to !== peer();
  for (const s of document.querySelectorAll(".peer-name")) s.textContent = peerName();
}

// ---- the messenger ----

function log(text, cls = "") {
  $("log").prepend(el("li", { className: cls, textContent: `${clock(Date.now())} ${text}` }));
}

async function openMessenger() {
  if (im) im.close();
  im = null;
  try {
    im = await OfflineMessenger.open({
      ...mailboxConfig(),
      sender: SENDER,
      policy: $("policy").value,
      organizationDomains: ORGANIZATION,
      retryIntervalMs,
      dbName: `offline-im-demo-${backend}`,
      getAccessToken: async () => USERS["tony@contoso.com"].token,
    });
  } catch (e) {
    $("policy-status").className = "status error";
    $("policy-status").textContent = `${e.code}: ${e.message}${e.hint ? ` (hint: ${e.hint})` : ""}`;
    return false;
  }
  const text = (d) => (d.record ? `“${short(d.record.text)}” to ${d.record.to.emailAddress}` : "");
  for (const type of ["queued", "sending", "delivered", "retrying", "failed", "authrequired", "error"]) {
    im.addEventListener(type, (e) => {
      const d = e.detail ?? {};
      const extra = type === "retrying" ? `: ${d.code}, next try at ${clock(d.nextAttemptAt)}`
        : type === "failed" || type === "authrequired" || type === "error" ? `: ${d.code}: ${d.message}` : "";
      log(`${type} ${text(d)}${extra}`, type);
      if (d.record) {
        const state = { queued: "queued", sending: "sending", delivered: "delivered", retrying: "queued", failed: "failed", authrequired: "queued" }[type];
        if (!messages.has(d.record.id)) messages.set(d.record.id, { id: d.record.id, to: d.record.to.emailAddress, text: d.record.text, sentAt: d.record.createdAt });
        note(d.record.id, { state, record: d.record, error: type === "failed" ? { code: d.code, message: d.message, permanent: d.permanent } : undefined });
      }
      refreshSpool();
    });
  }
  await refreshSpool();
  // What is still in the spool (after a reload, or from another tab) joins the conversation.
  for (const r of spool) {
    if (!messages.has(r.id)) messages.set(r.id, { id: r.id, to: r.to.emailAddress, text: r.text, sentAt: r.createdAt });
    note(r.id, { state: r.state, record: r, error: r.lastError ? { code: r.lastError.code, message: r.lastError.message } : undefined });
  }
  return true;
}

async function refreshSpool() {
  if (!im) return;
  spool = await im.pending();
  renderSpool();
}

function renderSpool() {
  const body = $("spool");
  body.replaceChildren();
  for (const r of spool) {
    const wait = r.state === "queued" ? seconds(Math.max(0, r.nextAttemptAt - Date.now())) : "";
    const tr = el("tr");
    tr.dataset.id = r.id;
    [["Message", short(r.text)], ["To", r.to.emailAddress], ["State", r.state], ["Attempts", String(r.attempts)], ["Next try", wait], ["Last error", r.lastError ? r.lastError.code : ""]].forEach(([label, c], i) => {
      const td = el("td", { textContent: c });
      td.dataset.label = label;
      if (i === 2) td.className = `state-${r.state}`;
      tr.append(td);
    });
    const actions = el("td", { className: "row-actions" });
    for (const [label, fn] of [["retry", () => im.retry(r.id)], ["discard", () => im.discard(r.id)]]) {
      actions.append(el("button", { type: "button", textContent: label, onclick: () => act(fn) }));
    }
    tr.append(actions);
    body.append(tr);
  }
  $("spool-empty").hidden = spool.length > 0;
  // The countdowns in the conversation move with the spool's.
  for (const m of messages.values()) if (m.state === "queued") renderBubble(m);
}

// ---- sending ----

function describeDecision(receipt) {
  const d = receipt.decision;
  const who = peerName();
  const what = {
    queued: `Queued for ${who}'s mailbox${d.itemClass ? ` as ${d.itemClass}` : ""}`,
    live: `Delivered live to ${who}${d.recipientRecordsMissed ? `; the recipient's client records a missed message` : ""}`,
    blocked: "Blocked by policy: not sent, kept in the conversation",
  }[receipt.state] ?? receipt.state;
  return { head: `Policy decision for your last message: ${what}.`, d };
}

function showDecision(receipt) {
  const { head, d } = describeDecision(receipt);
  const box = $("decision");
  box.hidden = false;
  box.className = `decision ${receipt.state}`;
  const reasons = el("ul", { className: "reasons" });
  reasons.dataset.testid = "reasons";
  for (const r of d.reasons) reasons.append(el("li", {}, el("code", { textContent: r }), " ", reasonText(r, peerName())));
  box.replaceChildren(el("div", { className: "head", textContent: head }), reasons,
    el("div", { className: "scope", textContent: `ImConfiguration ${d.effectiveImConfiguration}, ClientPolicy ${d.effectiveClientPolicy}` }));
}

async function send(ev) {
  ev.preventDefault();
  if (!im) return;
  const to = peer();
  const text = $("text").value;
  const sentAt = Date.now();
  try {
    const receipt = await im.send({
      to: { emailAddress: to, sipAddress: USERS[to].sip, displayName: USERS[to].name, presence: $("presence").value },
      text,
      conversationId: `tony|${to}`,
    });
    showDecision(receipt);
    $("text").value = "";
    if (!messages.has(receipt.id)) messages.set(receipt.id, { id: receipt.id, to, text, sentAt });
    const known = messages.get(receipt.id).state;
    // An event may have moved the message on already (sending, delivered): keep the later state.
    note(receipt.id, { decision: receipt.decision, state: known && receipt.state === "queued" ? known : receipt.state });
    if (receipt.state === "live") {
      const li = el("li", { textContent: `Tony: ${text}` });
      li.dataset.to = to;
      $("live").append(li);
      renderEmpty();
      if (receipt.decision.recipientRecordsMissed) {
        // Do Not Disturb / Presenting: the recipient's own client records the missed message.
        await (await recipientMessenger(to)).recordMissed({ from: { emailAddress: SENDER.emailAddress, displayName: SENDER.displayName }, text, conversationId: `tony|${to}` });
        log(`${USERS[to].name}'s client recorded a missed message`);
      }
    }
    refreshSpool();
  } catch (e) {
    // Refused before it was queued (too large, a bad address): shown on its own bubble.
    const id = `error-${sentAt}`;
    messages.set(id, { id, to, text, sentAt, state: "error", error: { code: e.code ?? "Error", message: e.message } });
    renderBubble(messages.get(id));
    $("decision").hidden = true;
  }
}

// ---- the recipient's own client (their token, their spool) ----

const recipients = new Map();
async function recipientMessenger(email) {
  if (!recipients.has(email)) {
    const u = USERS[email];
    recipients.set(email, await OfflineMessenger.open({
      ...mailboxConfig(),
      sender: { displayName: u.name, emailAddress: email, sipAddress: u.sip },
      dbName: `offline-im-demo-${backend}-${email}`,
      getAccessToken: async () => u.token,
    }));
  }
  return recipients.get(email);
}

/// The last missed report of each recipient: switching recipients keeps what each one saw.
const missedBy = new Map();
async function signIn() {
  const to = peer();
  try {
    missedBy.set(to, await (await recipientMessenger(to)).checkMissed());
  } catch (e) {
    missedBy.set(to, { error: `${e.code}: ${e.message}` });
  }
  renderMissed();
}

function renderMissed() {
  const report = missedBy.get(peer());
  const list = $("missed");
  list.replaceChildren();
  $("badge").hidden = !report || !!report.error;
  $("seen").hidden = !report || !report.total;
  $("missed-empty").hidden = !!report && report.total !== 0;
  $("missed-empty").textContent = report ? "No missed conversations." : `Sign in as ${peerName()} to see what they missed.`;
  if (!report) return;
  if (report.error) {
    list.append(el("li", { className: "error", textContent: report.error }));
    return;
  }
  $("badge").textContent = `${report.total} missed`;
  for (const c of report.conversations) {
    for (const m of c.messages) {
      const copies = m.itemIds.length > 1 ? ` · ${m.itemIds.length} copies in the mailbox, shown once` : "";
      const when = m.receivedAt ? `arrived ${new Date(m.receivedAt).toLocaleString([], { dateStyle: "short", timeStyle: "medium" })}` : "arrival time unknown";
      list.append(el("li", {}, el("div", { className: "meta", textContent: `${c.fromName || c.fromEmail} · ${when}${copies}` }), el("div", { className: "text", textContent: m.text })));
    }
  }
}

async function markSeen() {
  const to = peer();
  const report = missedBy.get(to);
  const ids = report.conversations.flatMap((c) => c.messages.flatMap((m) => m.itemIds));
  const n = await (await recipientMessenger(to)).markSeen(ids);
  log(`${USERS[to].name} marked ${n} mailbox ${n === 1 ? "item" : "items"} read`);
  await signIn();
}

// ---- admin ----

/// What the policy says about a message to the selected recipient now, in one line.
function decisionLine(policyText) {
  try {
    const d = evaluatePolicy({
      policy: parsePolicyScript(policyText),
      sender: SENDER,
      recipient: { emailAddress: peer(), sipAddress: USERS[peer()].sip, displayName: peerName(), presence: $("presence").value },
      organizationDomains: ORGANIZATION,
    });
    const what = d.delivery === "blocked" ? "blocked" : d.delivery === "live" ? "delivered live" : `to the mailbox as ${d.itemClass}`;
    return `${what} (${d.reasons.filter((r) => r !== "ClientNotReported").join(", ")})`;
  } catch (e) {
    return null;
  }
}

let appliedPolicy = "";
async function applyPolicy() {
  const before = decisionLine(appliedPolicy);
  if (!(await openMessenger())) return;
  appliedPolicy = $("policy").value;
  const after = decisionLine(appliedPolicy);
  const presence = $("presence").selectedOptions[0].textContent.toLowerCase();
  const change = before === after ? `unchanged: ${after}` : `now ${after}; before, ${before}`;
  $("policy-status").className = "status ok";
  $("policy-status").textContent = `Policy applied. A message to ${peerName()} (${presence}): ${change}.`;
}

async function setFault() {
  await fetch("/_control/faults", { method: "DELETE" });
  const v = $("fault").value;
  if (v === "busy") await fetch("/_control/faults", { method: "POST", body: JSON.stringify({ kind: "serverBusy", backOffMs: 5000 }) });
  if (v === "down") await fetch("/_control/faults", { method: "POST", body: JSON.stringify({ kind: "http503" }) });
  log(`server fault: ${$("fault").selectedOptions[0].textContent}`);
}

function selectRecipient() {
  $("recipient-name").textContent = peerName();
  $("recipient-address").textContent = peer();
  for (const li of $("transcript").children) li.hidden = li.dataset.to !== peer();
  renderEmpty();
  renderMissed();
}

// The retry schedule in words (the spool's RetryPolicy: interval × 2^(tries−1), at most an hour,
// never sooner than Exchange's BackOffMilliseconds; 20 tries or 7 days, then failed and kept).
function schedule() {
  const steps = [1, 2, 4].map((k) => seconds(retryIntervalMs * k)).join(", ");
  return `Delivery: at once; after a failed try, again after ${steps}, … doubling up to 1 hour between tries, never sooner than Exchange asks (BackOffMilliseconds). After 20 tries or 7 days a message is marked failed and kept.${retryIntervalMs !== 120000 ? " (Shortened from the seeds' two-minute timer by ?retry=.)" : " (The seeds' two-minute timer.)"}`;
}

await init();
$("schedule").textContent = schedule();
$("compose").addEventListener("submit", send);
$("apply").addEventListener("click", applyPolicy);
$("signin").addEventListener("click", signIn);
$("seen").addEventListener("click", markSeen);
$("fault").addEventListener("change", setFault);
$("to").addEventListener("change", selectRecipient);
$("flush").addEventListener("click", async () => { if (im) { await im.flush(); refreshSpool(); } });
setInterval(renderSpool, 1000);
selectRecipient();
if (await openMessenger()) {
  appliedPolicy = $("policy").value;
  $("policy-status").className = "status ok";
  $("policy-status").textContent = `Policy applied. A message to ${peerName()} (offline): ${decisionLine(appliedPolicy)}.`;
}
document.body.dataset.ready = "true";

// The back-end switch: reloads with ?backend=ews|graph (each back end has its own spool).
const switcher = $("backend");
switcher.value = backend;
switcher.addEventListener("change", () => { params.set("backend", switcher.value); location.search = params.toString(); });
