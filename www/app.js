// offline-im demo: Tony (sender) and Ana or Bob (recipient) side by side, against the local EWS server.
// URL parameters (used by the end-to-end tests): ?retry=<ms> shortens the retry interval.
import init, { OfflineMessenger } from "/pkg/offline_im.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const retryIntervalMs = Number(params.get("retry")) || 120000;
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
      ewsUrl: "/EWS/Exchange.asmx",
      sender: { displayName: "Tony Smith", emailAddress: "tony@contoso.com", sipAddress: "sip:tony@contoso.com" },
      policy: $("policy").value,
      organizationDomains: ["contoso.com"],
      retryIntervalMs,
      dbName: "offline-im-demo",
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
        : type === "failed" ? ` ${d.code}: ${d.message}` : type === "error" ? ` ${d.code}: ${d.message}` : "";
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
    }
    $("text").value = "";
    refreshSpool();
  } catch (e) {
    showError($("decision"), e);
  }
}

async function signIn() {
  // Lists what arrived in the recipient's mailbox (server's JSON view). The recipient side of the
  // library (checkMissed through FindItem/GetItem) replaces this view.
  const to = $("to").value;
  const res = await fetch(`/_control/mailboxes/${encodeURIComponent(to)}`);
  const box = await res.json();
  const items = box.items.filter((i) => i.folder === "inbox" || i.folder === "conversationhistory");
  const list = $("missed");
  list.replaceChildren();
  for (const i of items) {
    const li = document.createElement("li");
    const body = new DOMParser().parseFromString(i.body, "text/html").body.innerText;
    li.innerHTML = `<div class="meta"></div><div class="text"></div>`;
    li.querySelector(".meta").textContent = `${i.from?.name ?? "?"} · ${i.itemClass}${i.isRead ? "" : " · unread"}`;
    li.querySelector(".text").textContent = body;
    list.append(li);
  }
  const missed = items.filter((i) => i.itemClass === "IPM.Note.Microsoft.Missed" && !i.isRead).length;
  $("badge").hidden = false;
  $("badge").textContent = `${missed} missed`;
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
}

await init();
$("interval").textContent = retryIntervalMs >= 1000 ? `${retryIntervalMs / 1000} s` : `${retryIntervalMs} ms`;
$("compose").addEventListener("submit", send);
$("apply").addEventListener("click", openMessenger);
$("signin").addEventListener("click", signIn);
$("fault").addEventListener("change", setFault);
$("to").addEventListener("change", selectRecipient);
$("flush").addEventListener("click", async () => { if (im) { await im.flush(); refreshSpool(); } });
setInterval(renderSpool, 1000);
await openMessenger();
document.body.dataset.ready = "true";
