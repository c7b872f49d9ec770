//! Helpers of the messenger browser tests (web_messenger.rs, web_trust.rs): a scripted EWS
//! transport, an event recorder, and messenger setup.
#![allow(dead_code)]

use js_sys::{Function, Promise, Reflect, JSON};
use offline_im::wasm::messenger::OfflineMessenger;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(inline_js = r#"
// A CreateItem reply with one response message per item, in order (EWS answers a batch item by
// item): `items` holds each item's response message.
const reply = (items) => '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:CreateItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages>' + items.join("") + '</m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>';
const OK_ITEM = '<m:CreateItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items/></m:CreateItemResponseMessage>';
const NO_MAILBOX_ITEM = '<m:CreateItemResponseMessage ResponseClass="Error"><m:MessageText>no mailbox</m:MessageText><m:ResponseCode>ErrorNonExistentMailbox</m:ResponseCode></m:CreateItemResponseMessage>';
const SUCCESS = reply([OK_ITEM]);
const busy = (ms) => '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>a:ErrorServerBusy</faultcode><faultstring>busy</faultstring><detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">ErrorServerBusy</e:ResponseCode><t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="BackOffMilliseconds">' + ms + '</t:Value></t:MessageXml></detail></s:Fault></s:Body></s:Envelope>';

// A batched CreateItem carries several messages: each is counted and answered on its own.
// mode: "ok" | "down" | "busyOnce:<ms>" (a SOAP fault for a request holding a message on its
// first attempt) | "noMailbox:<id>" (that item fails) | "hang:<id>" (a request holding that
// message never settles) | "status:<n>" (every reply has HTTP status n and an empty body) |
// "echo" (500 with an error page echoing the request headers) | "shape:stringStatus" |
// "shape:bytes" | "shape:arrayBuffer" | "shape:response" | "shape:badStatus" | "shape:fracStatus"
// | "shape:noBody". `s.mode` may be changed while the messenger runs. `s.sizes`: messages per
// request.
export function fakeEws(mode) {
  const s = { mode, delivered: {}, attempts: {}, requests: 0, firstAttemptAt: {}, deliveredAt: {}, headers: null, urls: [], bodies: [], signals: [], sizes: [] };
  s.transport = async (req) => {
    s.requests++;
    s.urls.push(req.url);
    s.bodies.push(req.body);
    s.signals.push(req.signal);
    s.headers = req.headers;
    const ids = req.body.split("<t:Message>").slice(1).map((m) => /<t:Value>([^<]*)<\/t:Value>/.exec(m)[1]);
    s.sizes.push(ids.length);
    for (const id of ids) {
      s.attempts[id] = (s.attempts[id] || 0) + 1;
      if (!(id in s.firstAttemptAt)) s.firstAttemptAt[id] = Date.now();
    }
    await new Promise((r) => setTimeout(r, 2));
    if (s.mode === "down") throw new TypeError("Failed to fetch");
    if (ids.some((id) => s.mode === "hang:" + id)) return new Promise(() => {});
    if (s.mode.startsWith("status:")) return { status: Number(s.mode.slice(7)), body: "" };
    if (s.mode === "echo") return { status: 500, body: "Server Error. Authorization: " + req.headers.Authorization + "; token=" + (req.headers.Authorization || "").slice(7) + "; all headers: " + JSON.stringify(req.headers) };
    const ok = (id) => { s.delivered[id] = (s.delivered[id] || 0) + 1; s.deliveredAt[id] = Date.now(); };
    const allOk = () => { ids.forEach(ok); return reply(ids.map(() => OK_ITEM)); };
    if (s.mode === "shape:stringStatus") return { status: "200", body: allOk() };
    if (s.mode === "shape:bytes") return { status: 200, body: new TextEncoder().encode(allOk()) };
    if (s.mode === "shape:arrayBuffer") return { status: 200, body: new TextEncoder().encode(allOk()).buffer };
    if (s.mode === "shape:response") return new Response(allOk(), { status: 200 });
    if (s.mode === "shape:badStatus") { ids.forEach(ok); return { status: "OK", body: SUCCESS }; }
    if (s.mode === "shape:fracStatus") { ids.forEach(ok); return { status: 200.5, body: SUCCESS }; }
    if (s.mode === "shape:noBody") { ids.forEach(ok); return { status: 200 }; }
    if (s.mode === "shape:status0") return { status: 0, body: "" };
    if (s.mode.startsWith("busyOnce:") && ids.some((id) => s.attempts[id] === 1)) return { status: 500, body: busy(s.mode.slice(9)) };
    return { status: 200, body: reply(ids.map((id) => {
      if (s.mode === "noMailbox:" + id) return NO_MAILBOX_ITEM;
      ok(id);
      return OK_ITEM;
    })) };
  };
  return s;
}

export function recorder() {
  const r = { events: [] };
  r.listener = (e) => r.events.push({ type: e.type, detail: e.detail });
  return r;
}

export async function waitForEvent(rec, type, id, timeoutMs) {
  const t0 = Date.now();
  for (;;) {
    const hit = rec.events.find((e) => e.type === type && e.detail.record.id === id);
    if (hit) return hit.detail;
    if (Date.now() - t0 > timeoutMs) throw new Error("no " + type + " event for " + id + " within " + timeoutMs + " ms; saw " + JSON.stringify(rec.events.map((e) => e.type + ":" + e.detail.record.id)));
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

// Moves the delivery time (settledAt) of record `id` in database `name` back by `ms`, as if it
// had been delivered that long ago. Resolves with the record's new settledAt.
export function ageRecord(name, id, ms) {
  const req = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
  return req(indexedDB.open(name)).then(async (db) => {
    const store = db.transaction("spool", "readwrite").objectStore("spool");
    const r = await req(store.get(id));
    r.settledAt -= ms;
    await req(store.put(r));
    db.close();
    return r.settledAt;
  });
}

// Hides navigator.locks (a browser without Web Locks) until restoreWebLocks().
export function hideWebLocks() { Object.defineProperty(navigator, "locks", { value: undefined, configurable: true }); }
export function restoreWebLocks() { delete navigator.locks; }

// Counts navigator.locks.request calls (the Web Lock each processing round asks for).
export function countLockRequests() {
  const c = { n: 0 };
  const orig = LockManager.prototype.request;
  LockManager.prototype.request = function (...args) { c.n++; return orig.apply(this, args); };
  c.restore = () => { LockManager.prototype.request = orig; };
  return c;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = fakeEws)]
    pub fn fake_ews(mode: &str) -> JsValue;
    pub fn recorder() -> JsValue;
    #[wasm_bindgen(js_name = waitForEvent)]
    pub fn wait_for_event(rec: &JsValue, kind: &str, id: &str, timeout_ms: u32) -> Promise;
    pub fn sleep(ms: u32) -> Promise;
    #[wasm_bindgen(js_name = countLockRequests)]
    pub fn count_lock_requests() -> JsValue;
    #[wasm_bindgen(js_name = ageRecord)]
    pub fn age_record(name: &str, id: &str, ms: f64) -> Promise;
    #[wasm_bindgen(js_name = hideWebLocks)]
    pub fn hide_web_locks();
    #[wasm_bindgen(js_name = restoreWebLocks)]
    pub fn restore_web_locks();
}

pub fn get(v: &JsValue, path: &str) -> JsValue {
    path.split('.').fold(v.clone(), |v, k| Reflect::get(&v, &JsValue::from_str(k)).unwrap())
}

pub fn set(v: &JsValue, key: &str, value: &JsValue) {
    Reflect::set(v, &JsValue::from_str(key), value).unwrap();
}

pub fn config(db: &str, ews: &JsValue, extra: &str) -> JsValue {
    config_as("tony@contoso.com", db, ews, extra)
}

/// A messenger config for `sender` (an e-mail address) on database `db`.
pub fn config_as(sender: &str, db: &str, ews: &JsValue, extra: &str) -> JsValue {
    let c = JSON::parse(&format!(
        r#"{{ "ewsUrl": "/EWS/Exchange.asmx", "dbName": "{db}",
             "sender": {{ "emailAddress": "{sender}", "sipAddress": "sip:{sender}" }}
             {extra} }}"#
    ))
    .unwrap();
    set(&c, "transport", &get(ews, "transport"));
    c
}

pub fn unique_db(name: &str) -> String {
    format!("offline-im-messenger-{name}-{}", js_sys::Math::random())
}

pub async fn open(config: JsValue) -> OfflineMessenger {
    OfflineMessenger::open_async(config).await.map_err(|e| JSON::stringify(&e).unwrap()).expect("messenger opens")
}

/// Opens a messenger and records every spool event it dispatches: `(messenger, recorder)`.
pub async fn open_listening(config: JsValue) -> (OfflineMessenger, JsValue) {
    let im = open(config).await;
    let rec = recorder();
    listen(&im, &rec);
    (im, rec)
}

pub fn listen(im: &OfflineMessenger, rec: &JsValue) {
    for kind in ["queued", "sending", "delivered", "retrying", "failed", "authrequired"] {
        im.add_event_listener(kind, get(rec, "listener").unchecked_ref::<Function>(), None).unwrap();
    }
}

pub async fn send(im: &OfflineMessenger, json: &str) -> Result<JsValue, JsValue> {
    JsFuture::from(im.send(JSON::parse(json).unwrap())).await
}

pub async fn wait(rec: &JsValue, kind: &str, id: &str, ms: u32) -> JsValue {
    JsFuture::from(wait_for_event(rec, kind, id, ms)).await.map_err(|e| get(&e, "message").as_string().unwrap_or_default()).unwrap()
}

/// Waits until `im.pending()` is empty; panics after `ms` naming how many are left (a deadline,
/// not a guess at how long it takes: a loaded machine is slower, never wrongly green).
pub async fn drain(im: &OfflineMessenger, ms: f64) {
    let t0 = js_sys::Date::now();
    loop {
        let left = JsFuture::from(im.pending()).await.map(|p| p.unchecked_into::<js_sys::Array>().length()).unwrap_or(u32::MAX);
        if left == 0 {
            return;
        }
        assert!(js_sys::Date::now() - t0 < ms, "{left} messages still pending after {ms} ms");
        JsFuture::from(sleep(20)).await.unwrap();
    }
}

pub fn offline_to(id: &str, conversation: &str, text: &str) -> String {
    format!(r#"{{ "id": "{id}", "conversationId": "{conversation}", "text": "{text}", "to": {{ "emailAddress": "ana@contoso.com", "displayName": "Ana", "presence": "offline" }} }}"#)
}


pub fn code(e: &JsValue) -> String {
    get(e, "code").as_string().unwrap_or_else(|| format!("no code: {:?}", e))
}
