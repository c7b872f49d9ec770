// The local EWS server over HTTP: fault injection, auth, control endpoints, 127.0.0.1 only.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import os from "node:os";

const BASE = process.env.BASE_URL ?? "http://127.0.0.1:8790";
const EWS = `${BASE}/EWS/Exchange.asmx`;
const REQUEST = `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><soap:Body><m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:ItemClass>IPM.Note.Microsoft.Missed</t:ItemClass><t:Subject>s</t:Subject><t:Body BodyType="HTML">b</t:Body><t:ToRecipients><t:Mailbox><t:EmailAddress>ana@contoso.com</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem></soap:Body></soap:Envelope>`;
const post = (token = "tony-token") => fetch(EWS, { method: "POST", body: REQUEST, headers: { "Content-Type": "text/xml; charset=utf-8", Authorization: `Bearer ${token}` } });
const fault = (spec) => fetch(`${BASE}/_control/faults`, { method: "POST", body: JSON.stringify(spec) });

beforeEach(async () => { await fetch(`${BASE}/_control/reset`, { method: "POST" }); });

test("serverBusy answers a SOAP fault with BackOffMilliseconds for `count` requests", async () => {
  await fault({ kind: "serverBusy", count: 2, backOffMs: 4321 });
  for (let i = 0; i < 2; i++) {
    const r = await post();
    assert.equal(r.status, 500);
    const body = await r.text();
    assert.match(body, /<e:ResponseCode[^>]*>ErrorServerBusy<\/e:ResponseCode>/);
    assert.match(body, /<t:Value Name="BackOffMilliseconds">4321<\/t:Value>/);
  }
  assert.equal((await post()).status, 200, "the fault is used up");
  const state = await (await fetch(`${BASE}/_control/faults`)).json();
  assert.equal(state.injected, 2);
});

test("http503, http500Fault and http401", async () => {
  await fault({ kind: "http503", count: 1 });
  assert.equal((await post()).status, 503);
  await fault({ kind: "http500Fault", count: 1 });
  const r = await post();
  assert.equal(r.status, 500);
  assert.match(await r.text(), /ErrorInternalServerError/);
  await fault({ kind: "http401", count: 1 });
  assert.equal((await post()).status, 401);
  assert.equal((await post("no-such-token")).status, 401, "a bad token is refused");
});

test("drop breaks the connection; slow delays the reply; a time window ends", async () => {
  await fault({ kind: "drop", count: 1 });
  await assert.rejects(async () => { const r = await post(); await r.text(); });
  await fault({ kind: "slow", count: 1, delayMs: 400 });
  const t0 = Date.now();
  assert.equal((await post()).status, 200);
  assert.ok(Date.now() - t0 >= 400);
  await fault({ kind: "http503", durationMs: 300 });
  assert.equal((await post()).status, 503);
  await new Promise((r) => setTimeout(r, 350));
  assert.equal((await post()).status, 200, "the window is over");
  const bad = await fetch(`${BASE}/_control/faults`, { method: "POST", body: JSON.stringify({ kind: "meteor" }) });
  assert.equal(bad.status, 400);
});

test("EWS accepts only text/xml; charset=utf-8, as Exchange does (HTTP 415 otherwise)", async () => {
  for (const type of ["application/soap+xml; charset=utf-8", "text/plain", "text/xml"]) {
    const r = await fetch(EWS, { method: "POST", body: REQUEST, headers: { "Content-Type": type, Authorization: "Bearer tony-token" } });
    assert.equal(r.status, 415, type);
  }
  assert.equal((await post()).status, 200);
  const ana = await (await fetch(`${BASE}/_control/mailboxes/ana@contoso.com`)).json();
  assert.equal(ana.items.length, 1, "only the well-typed request delivered");
});

test("mailbox view and the static page share one origin", async () => {
  assert.equal((await post()).status, 200);
  const ana = await (await fetch(`${BASE}/_control/mailboxes/ana@contoso.com`)).json();
  assert.equal(ana.items.length, 1);
  assert.equal((await fetch(`${BASE}/_control/mailboxes/nobody@contoso.com`)).status, 404);
  const page = await fetch(`${BASE}/`);
  assert.match(await page.text(), /<title>offline-im demo/);
  assert.equal((await fetch(`${BASE}/pkg/offline_im.js`)).status, 200);
});

// Connects to the server's port at `host`; resolves "connected" or the error code.
function probe(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 2000 });
    s.on("connect", () => { s.destroy(); resolve("connected"); });
    s.on("timeout", () => { s.destroy(); resolve("timeout"); });
    s.on("error", (e) => resolve(e.code));
  });
}

test("listens on 127.0.0.1 only: the same port on every other address of this machine refuses", async () => {
  const port = Number(new URL(BASE).port);
  assert.equal(await probe("127.0.0.1", port), "connected", "the probe itself works");
  // 127.0.0.2 is loopback too, but not the address bound; then the machine's other addresses.
  const others = ["127.0.0.2", ...Object.values(os.networkInterfaces()).flat().filter((i) => !i.internal).map((i) => i.address)];
  for (const host of others) {
    assert.notEqual(await probe(host, port), "connected", `reachable at ${host}:${port}`);
  }
});
