// A chat page on offline-im: Tony writes to Ana, who is offline. Each message shows where it is
// (queued, sending, retrying with the reason and time, delivered to Ana's mailbox, failed).
import init, { OfflineMessenger, isOfflineImError } from "offline-im";
import type { MessengerConfig, OfflineMessengerEventMap, SendReceipt } from "offline-im";
// The .wasm as an asset URL: found by `vite dev` and in `vite build` output alike.
import wasmUrl from "offline-im/offline_im_bg.wasm?url";

const config: MessengerConfig = {
  ewsUrl: "/EWS/Exchange.asmx", // same origin: vite.config.ts proxies /EWS to Exchange
  sender: { displayName: "Tony Smith", emailAddress: "tony@contoso.com", sipAddress: "sip:tony@contoso.com" },
  policy: "Set-CsImConfiguration -EnableOfflineIM $True",
  organizationDomains: ["contoso.com"],
  // A real app asks MSAL.js for the token; the local Exchange test server knows this one as Tony.
  getAccessToken: async () => import.meta.env.VITE_ACCESS_TOKEN ?? "tony-token",
};

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const transcript = $<HTMLOListElement>("transcript");
const status = $<HTMLSpanElement>("status");
const sendButton = $<HTMLButtonElement>("send");
const retryButton = $<HTMLButtonElement>("retry");

/** The bubble of message `id`, made on first use. */
function bubble(id: string, text?: string): HTMLLIElement {
  let li = transcript.querySelector<HTMLLIElement>(`li[data-id="${CSS.escape(id)}"]`);
  if (!li) {
    li = document.createElement("li");
    li.dataset.id = id;
    li.append(document.createElement("span"), document.createElement("small"));
    li.lastElementChild!.className = "state";
    transcript.append(li);
    $("empty").hidden = true;
  }
  if (text !== undefined) li.firstElementChild!.textContent = text;
  return li;
}

function show(id: string, state: string, words: string) {
  const li = bubble(id);
  li.dataset.state = state;
  li.lastElementChild!.textContent = words;
}

function showReceipt(receipt: SendReceipt, text: string) {
  bubble(receipt.id, text);
  if (receipt.state === "blocked") show(receipt.id, "blocked", `Not sent: ${receipt.decision.reasons.join(", ")}`);
  else if (receipt.state === "live") show(receipt.id, "live", "Ana is online: deliver it in the conversation");
  else show(receipt.id, "queued", "Queued");
}

async function main() {
  await init({ module_or_path: wasmUrl });
  const im = await OfflineMessenger.open(config);

  const on = <K extends keyof OfflineMessengerEventMap>(kind: K, f: (e: OfflineMessengerEventMap[K]) => void) => im.addEventListener(kind, f);
  on("sending", (e) => show(e.detail.record.id, "sending", "Sending…"));
  on("delivered", (e) => show(e.detail.record.id, "delivered", "Delivered to Ana's mailbox"));
  on("retrying", (e) => {
    const at = new Date(e.detail.nextAttemptAt).toLocaleTimeString();
    show(e.detail.record.id, "retrying", `Not delivered yet (${e.detail.code}); next try at ${at}`);
    retryButton.disabled = false;
  });
  on("failed", (e) => show(e.detail.record.id, "failed", `Failed (${e.detail.code})${e.detail.permanent ? "" : ": retry to send it again"}`));
  on("authrequired", (e) => show(e.detail.record.id, "retrying", `Waiting for sign-in (${e.detail.code})`));
  on("error", (e) => (status.textContent = `Error: ${e.detail.code}: ${e.detail.message}`));

  // Messages still in the spool from an earlier visit (a reload, a closed tab).
  for (const record of await im.pending()) {
    bubble(record.id, record.text);
    show(record.id, record.state, record.state === "failed" ? "Failed" : "Queued");
  }

  $<HTMLFormElement>("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $<HTMLInputElement>("text");
    const text = input.value;
    try {
      const receipt = await im.send({ to: { emailAddress: "ana@contoso.com", displayName: "Ana Lopez", presence: "offline" }, text, conversationId: "tony-ana" });
      input.value = "";
      showReceipt(receipt, text);
    } catch (e) {
      status.textContent = isOfflineImError(e) ? `Not sent: ${e.code}: ${e.message}` : String(e);
    }
  });
  retryButton.addEventListener("click", async () => {
    retryButton.disabled = true;
    await im.flush();
  });
  sendButton.disabled = false;
  status.textContent = "Ready";
  document.body.dataset.ready = "true";
}

// (Not isOfflineImError here: it is part of the module, which may be what failed to load.)
main().catch((e: unknown) => {
  status.textContent = `Could not start: ${e instanceof Error ? e.message : String(e)}`;
});
