// offline-im demo: Tony (sender) and Ana or Bob (recipient) side by side, against the local EWS server.
// URL parameters (used by the end-to-end tests): ?retry=<ms> shortens the retry interval;
// ?backend=graph uses the local server's Graph endpoint (its own origin, the EWS port + 1).
import init, { OfflineMessenger } from "/pkg/offline_im.js";

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
let im = null;

function log(text, cls = "") {
  const li = document.createElement("li");
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  if (cls) li.className = cls;
  $("log").prepend(li);
}

function showError(where, e) {
  where.hidden = false;
  where.className = "decision blocked";
  where.textContent = `${e.code ?? "Error"}: ${e.message}${e.hint ? ` (hint: ${e.hint})` : ""}`;
}

async function openMessenger() {
  if (im) im.close();
  im = null;
  $("policy-status").textContent = "";
  try {
    im = await OfflineMessenger.open({
      ...mailboxConfig(),
      sender: { displayName: "Tony Smith", emailAddress: "tony@contoso.com", sipAddress: "sip:tony@contoso.com" },
      policy: $("policy").value,
      organizationDomains: ["contoso.com"],
      retryIntervalMs,
      dbName: `offline-im-demo-${backend}`,
      getAccessToken: async () => USERS["tony@contoso.com"].token,
    });
  } catch (e) {
    $("policy-status").className = "error";
    $("policy-status").textContent = `${e.code}: ${e.message}${e.hint ? ` (hint: ${e.hint})` : ""}`;
    return;
  }
  $("policy-status").className = "";
  $("policy-status").textContent = "Policy applied.";
  for (const type of ["queued", "sending", "delivered", "retrying", "failed", "authrequired", "error"]) {
    im.addEventListener(type, (e) => {
      const d = e.detail ?? {};
      const id = d.record ? d.record.id.slice(0, 8) : "";
      const extra = type === "retrying" ? ` ${d.code}, next try ${new Date(d.nextAttemptAt).toLocaleTimeString()}`
        : type === "failed" || type === "authrequired" || type === "error" ? ` ${d.code}: ${d.message}` : "";
      log(`${type} ${id}${extra}`, type);
      refreshSpool();
    });
  }
  refreshSpool();
}

let spool = [];
async function refreshSpool() {
  if (!im) return;
  spool = await im.pending();
  renderSpool();
}

function renderSpool() {
  const body = $("spool");
  body.replaceChildren();
  for (const r of spool) {
    const tr = document.createElement("tr");
    tr.dataset.id = r.id;
    const wait = r.state === "queued" ? Math.max(0, Math.ceil((r.nextAttemptAt - Date.now()) / 1000)) + " s" : "";
    const cells = [r.text.slice(0, 40), r.to.emailAddress, r.state, String(r.attempts), wait, r.lastError ? r.lastError.code : ""];
    cells.forEach((c, i) => {
      const td = document.createElement("td");
      td.textContent = c;
      if (i === 2) td.className = `state-${r.state}`;
      tr.append(td);
    });
    const actions = document.createElement("td");
    for (const [label, fn] of [["retry", () => im.retry(r.id)], ["discard", () => im.discard(r.id)]]) {
      const b = document.createElement("button");
      b.textContent = label;
      b.onclick = async () => { try { await fn(); } catch (e) { log(`${label}: ${e.code}`, "error"); } refreshSpool(); };
      actions.append(b);
    }
    tr.append(actions);
    body.append(tr);
  }
}

function showDecision(receipt) {
  const box = $("decision");
  const d = receipt.decision;
  box.hidden = false;
  box.className = `decision ${receipt.state}`;
  const what = { queued: "Queued for the recipient's mailbox", live: "Delivered live (the recipient is online)", blocked: "Blocked by policy" }[receipt.state] ?? receipt.state;
  box.innerHTML = "";
  const head = document.createElement("div");
  head.textContent = `${what}${d.itemClass ? ` as ${d.itemClass}` : ""}${d.recipientRecordsMissed ? "; the recipient's client records a missed message" : ""}.`;
  const reasons = document.createElement("div");
  reasons.className = "reasons";
  reasons.dataset.testid = "reasons";
  for (const r of d.reasons) {
    const c = document.createElement("code");
    c.textContent = r;
    reasons.append(c);
  }
  const scope = document.createElement("div");
  scope.textContent = `ImConfiguration ${d.effectiveImConfiguration}, ClientPolicy ${d.effectiveClientPolicy}`;
  box.append(head, reasons, scope);
}

async function send(ev) {
  ev.preventDefault();
  if (!im) return;
  const to = $("to").value;
  const text = $("text").value;
  try {
    const receipt = await im.send({
      to: { emailAddress: to, sipAddress: USERS[to].sip, displayName: USERS[to].name, presence: $("presence").value },
      text,
      conversationId: `tony|${to}`,
    });
    showDecision(receipt);
    if (receipt.state === "live") {
      const li = document.createElement("li");
      li.textContent = `Tony: ${text}`;
      $("live").append(li);
      if (receipt.decision.recipientRecordsMissed) {
        // Do Not Disturb / Presenting: the recipient's own client records the missed message.
        const itemId = await (await recipientMessenger(to)).recordMissed({
          from: { emailAddress: "tony@contoso.com", displayName: "Tony Smith" }, text, conversationId: `tony|${to}`,
        });
        log(`recipient's client recorded a missed message (${itemId})`);
      }
    }
    $("text").value = "";
    refreshSpool();
  } catch (e) {
    showError($("decision"), e);
  }
}

// The recipient's own client: a messenger signed in as the recipient (their token, their spool).
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

let shownItemIds = [];
async function signIn() {
  const to = $("to").value;
  const list = $("missed");
  try {
    const report = await (await recipientMessenger(to)).checkMissed();
    list.replaceChildren();
    shownItemIds = [];
    for (const c of report.conversations) {
      for (const m of c.messages) {
        const li = document.createElement("li");
        li.innerHTML = `<div class="meta"></div><div class="text"></div>`;
        li.querySelector(".meta").textContent = `${c.fromName || c.fromEmail} · ${new Date(m.receivedAt).toLocaleTimeString()}${m.itemIds.length > 1 ? ` · ${m.itemIds.length} copies in the mailbox, shown once` : ""}`;
        li.querySelector(".text").textContent = m.text;
        list.append(li);
        shownItemIds.push(...m.itemIds);
      }
    }
    $("badge").hidden = false;
    $("badge").textContent = `${report.total} missed`;
    $("seen").hidden = report.total === 0;
  } catch (e) {
    list.replaceChildren(Object.assign(document.createElement("li"), { className: "error", textContent: `${e.code}: ${e.message}` }));
  }
}

async function markSeen() {
  const n = await (await recipientMessenger($("to").value)).markSeen(shownItemIds);
  log(`recipient marked ${n} item(s) read`);
  await signIn();
}

async function setFault() {
  await fetch("/_control/faults", { method: "DELETE" });
  const v = $("fault").value;
  if (v === "busy") await fetch("/_control/faults", { method: "POST", body: JSON.stringify({ kind: "serverBusy", backOffMs: 5000 }) });
  if (v === "down") await fetch("/_control/faults", { method: "POST", body: JSON.stringify({ kind: "http503" }) });
  log(`server fault: ${v}`);
}

function selectRecipient() {
  const to = $("to").value;
  $("recipient-name").textContent = USERS[to].name;
  $("recipient-address").textContent = `${to} — recipient`;
  $("missed").replaceChildren();
  $("badge").hidden = true;
  $("seen").hidden = true;
}

await init();
$("interval").textContent = retryIntervalMs >= 1000 ? `${retryIntervalMs / 1000} s` : `${retryIntervalMs} ms`;
$("compose").addEventListener("submit", send);
$("apply").addEventListener("click", openMessenger);
$("signin").addEventListener("click", signIn);
$("seen").addEventListener("click", markSeen);
$("fault").addEventListener("change", setFault);
$("to").addEventListener("change", selectRecipient);
$("flush").addEventListener("click", async () => { if (im) { await im.flush(); refreshSpool(); } });
setInterval(renderSpool, 1000);
await openMessenger();
document.body.dataset.ready = "true";

// The back-end switch: reloads with ?backend=ews|graph (each back end has its own spool).
const switcher = $("backend");
if (switcher) {
  switcher.value = backend;
  switcher.addEventListener("change", () => { params.set("backend", switcher.value); location.search = params.toString(); });
}
