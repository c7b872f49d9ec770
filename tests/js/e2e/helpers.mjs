// Shared by the end-to-end tests: browser, demo page, server control.
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

export const BASE = process.env.BASE_URL ?? "http://127.0.0.1:8790";
/// The local server's Graph endpoint: its own port (the EWS port + 1), another origin than the page.
export const GRAPH = process.env.GRAPH_URL ?? (() => { const u = new URL(BASE); u.port = String(Number(u.port) + 1); return `${u.origin}/v1.0`; })();
export const ARTIFACTS = new URL("../../e2e/artifacts/", import.meta.url);

export async function launch() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
}

export const reset = () => fetch(`${BASE}/_control/reset`, { method: "POST" });

export async function mailbox(email) {
  return (await (await fetch(`${BASE}/_control/mailboxes/${email}`)).json()).items;
}

export async function waitFor(pred, what, ms = 15000) {
  const t0 = Date.now();
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function openDemo(browser, query = "") {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // The page's own files (not the EWS endpoint or control calls) must all load: a missing one is
  // an error too. (Headless Chromium does not fetch the favicon: demo.test.mjs checks it.)
  page.on("response", (r) => {
    const url = new URL(r.url());
    if (url.origin === BASE && r.request().method() === "GET" && !url.pathname.startsWith("/_control/") && r.status() >= 400) errors.push(`${r.status()} ${url.pathname}`);
  });
  await page.goto(`${BASE}/${query}`);
  await page.waitForSelector("body[data-ready=true]");
  return { context, page, errors };
}

export async function send(page, to, text, presence = "offline") {
  await page.selectOption("[data-testid=to]", to);
  await page.selectOption("[data-testid=presence]", presence);
  await page.fill("[data-testid=text]", text);
  await page.click("[data-testid=send]");
  await page.waitForSelector("[data-testid=decision]:not([hidden])");
}

/// Posts a CreateItem built by the package itself, in the page, as `token` (a second delivery of
/// a message, or a message from another user).
export async function postEnvelope(page, token, message, itemClass = "IPM.Note.Microsoft.Missed") {
  return page.evaluate(async ({ token, message, itemClass }) => {
    const { buildOfflineMessageEnvelope } = await import("/pkg/offline_im.js");
    const env = buildOfflineMessageEnvelope(message, { itemClass });
    const r = await fetch("/EWS/Exchange.asmx", { method: "POST", body: env.xml, headers: { "Content-Type": "text/xml; charset=utf-8", SOAPAction: env.soapAction, Authorization: `Bearer ${token}` } });
    return r.status;
  }, { token, message, itemClass });
}

/// What the module put on the wire: every CreateItem SendOnly request the page posts to the EWS
/// endpoint and every Graph sendMail, as { itemClass, to }, read from the request body (not from
/// what the server stored: the local server rewrites the missed-conversation class across
/// organisations, so a module sending the wrong class would pass a mailbox check). The array
/// fills as requests go out.
export function recordSends(page) {
  // One entry per message on the wire (a batched request carries several); `sent.requests`
  // counts the delivery requests themselves.
  const sent = [];
  // Not enumerable: `assert.deepEqual(sent, [...])` compares the messages only.
  Object.defineProperty(sent, "requests", { value: 0, writable: true, enumerable: false });
  const graphMessage = (m) => {
    const itemClass = (m?.singleValueExtendedProperties ?? []).find((p) => p.id === "String 0x001A")?.value;
    sent.push({ itemClass, to: m?.toRecipients?.[0]?.emailAddress?.address });
  };
  page.on("request", (r) => {
    const path = new URL(r.url()).pathname;
    if (r.method() === "POST" && r.url().startsWith(GRAPH) && path.endsWith("/sendMail")) {
      sent.requests++;
      graphMessage(JSON.parse(r.postData() ?? "{}").message);
      return;
    }
    if (r.method() === "POST" && r.url().startsWith(GRAPH) && path.endsWith("/$batch")) {
      const sends = (JSON.parse(r.postData() ?? "{}").requests ?? []).filter((q) => q.url.endsWith("/sendMail"));
      if (sends.length > 0) sent.requests++;
      for (const q of sends) graphMessage(q.body?.message);
      return;
    }
    const body = r.method() === "POST" && path === "/EWS/Exchange.asmx" ? r.postData() ?? "" : "";
    if (!body.includes('MessageDisposition="SendOnly"')) return;
    sent.requests++;
    for (const item of body.split("<t:Message>").slice(1)) {
      const itemClass = /<t:ItemClass>([^<]*)<\/t:ItemClass>/.exec(item)?.[1];
      const to = /<t:ToRecipients>[\s\S]*?<t:EmailAddress>([^<]*)<\/t:EmailAddress>/.exec(item)?.[1];
      sent.push({ itemClass, to });
    }
  });
  return sent;
}
