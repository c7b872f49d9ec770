//! Issue 11 in Chrome and Firefox: the spool trusts nobody around it. Each test is one item of
//! the issue, through the public `OfflineMessenger` API on IndexedDB with real timers.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function, Promise, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

#[path = "common/web_helpers.rs"]
mod web_helpers;
use web_helpers::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
export function deleteDatabase(name) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
  });
}
// Everything in every object store of the database, as JSON text.
export function dumpDatabase(name) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name);
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      const names = [...db.objectStoreNames];
      if (names.length === 0) { db.close(); resolve("{}"); return; }
      const tx = db.transaction(names, "readonly");
      const out = {};
      names.forEach((n) => { const r = tx.objectStore(n).getAll(); r.onsuccess = () => { out[n] = r.result; }; });
      tx.oncomplete = () => { db.close(); resolve(JSON.stringify(out)); };
      tx.onerror = () => reject(tx.error);
    };
  });
}
// Resolves to "settled" or "timed out" (so a hang fails the test instead of the runner).
export function settledWithin(promise, ms) {
  return Promise.race([promise.then(() => "settled", () => "settled"), new Promise((r) => setTimeout(() => r("timed out"), ms))]);
}
// Waits for an event of `type` (any record, or the error event); its detail.
export async function waitForType(rec, type, ms) {
  const t0 = Date.now();
  for (;;) {
    const hit = rec.events.find((e) => e.type === type);
    if (hit) return hit.detail;
    if (Date.now() - t0 > ms) throw new Error("no " + type + " event within " + ms + " ms; saw " + rec.events.map((e) => e.type).join(","));
    await new Promise((r) => setTimeout(r, 10));
  }
}
export function eventsText(rec) {
  return JSON.stringify(rec.events.map((e) => ({ type: e.type, detail: e.detail instanceof Error ? { message: e.detail.message, code: e.detail.code } : e.detail })));
}
export function tokenSource(kind) {
  if (kind === "slow") return () => new Promise((r) => setTimeout(() => r("late-token"), 60000));
  if (kind === "reject") return () => Promise.reject(new Error("interaction_required: AADSTS50058"));
  if (kind === "empty") return async () => "";
  if (kind === "null") return async () => null;
  if (kind === "crlf") return async () => "abc\r\nX-Evil: 1";
  return async () => kind;
}"#)]
extern "C" {
    #[wasm_bindgen(js_name = deleteDatabase)]
    fn delete_database(name: &str) -> Promise;
    #[wasm_bindgen(js_name = dumpDatabase)]
    fn dump_database(name: &str) -> Promise;
    #[wasm_bindgen(js_name = settledWithin)]
    fn settled_within(promise: &Promise, ms: u32) -> Promise;
    #[wasm_bindgen(js_name = waitForType)]
    fn wait_for_type(rec: &JsValue, kind: &str, ms: u32) -> Promise;
    #[wasm_bindgen(js_name = eventsText)]
    fn events_text(rec: &JsValue) -> String;
    #[wasm_bindgen(js_name = tokenSource)]
    fn token_source(kind: &str) -> Function;
}

async fn pending(im: &offline_im::wasm::messenger::OfflineMessenger) -> Array {
    JsFuture::from(im.pending()).await.unwrap().unchecked_into()
}

async fn settles(p: Promise, ms: u32) -> bool {
    JsFuture::from(settled_within(&p, ms)).await.unwrap().as_string().as_deref() == Some("settled")
}

async fn wait_type(rec: &JsValue, kind: &str, ms: u32) -> JsValue {
    JsFuture::from(wait_for_type(rec, kind, ms)).await.map_err(|e| get(&e, "message").as_string().unwrap_or_default()).unwrap()
}

fn text(v: &JsValue) -> String {
    JSON::stringify(v).ok().and_then(|s| s.as_string()).unwrap_or_default()
}

/// 11.1: Tony's queued messages are not Sam's to list or send; they wait intact for Tony.
#[wasm_bindgen_test]
async fn records_belong_to_their_sender() {
    let db = unique_db("senders"); // one origin, one database, as with the default dbName
    let down = fake_ews("down");
    let (tony, rec) = open_listening(config_as("tony@contoso.com", &db, &down, "")).await;
    send(&tony, &offline_to("t1", "c1", "tony one")).await.unwrap();
    send(&tony, &offline_to("t2", "c2", "tony two")).await.unwrap();
    wait(&rec, "retrying", "t1", 5000).await;
    wait(&rec, "retrying", "t2", 5000).await;
    tony.close();

    let sams_ews = fake_ews("ok");
    let (sam, sam_rec) = open_listening(config_as("Sam@Contoso.com", &db, &sams_ews, "")).await;
    assert_eq!(pending(&sam).await.length(), 0, "Sam's pending() lists none of Tony's texts");
    JsFuture::from(sam.flush()).await.unwrap();
    assert_eq!(get(&sams_ews, "requests").as_f64(), Some(0.0), "Sam's flush sends none of Tony's messages");
    for op in [sam.retry("t1".into()), sam.discard("t1".into())] {
        assert_eq!(code(&JsFuture::from(op).await.unwrap_err()), "UnknownMessage");
    }
    send(&sam, &offline_to("s1", "c1", "sam one")).await.unwrap();
    wait(&sam_rec, "delivered", "s1", 5000).await;
    assert!(!events_text(&sam_rec).contains("tony one"), "no event of Sam's carries Tony's text");
    assert_eq!(get(&sams_ews, "requests").as_f64(), Some(1.0));
    sam.close();

    let up = fake_ews("ok");
    let tony = open(config_as("tony@contoso.com", &db, &up, "")).await;
    let mine = pending(&tony).await;
    assert_eq!(mine.length(), 2, "intact for their owner");
    assert_eq!(get(&mine.get(0), "sender").as_string().as_deref(), Some("tony@contoso.com"));
    JsFuture::from(tony.flush()).await.unwrap();
    assert_eq!((get(&up, "delivered.t1").as_f64(), get(&up, "delivered.t2").as_f64()), (Some(1.0), Some(1.0)));
    tony.close();
}

/// 11.2: a custom transport that never settles. The attempt times out (retrying, code
/// `Timeout`, its AbortSignal fired), another conversation is delivered meanwhile, `flush()`
/// resolves, and `close()` during a hung request frees the spool for another tab at once.
#[wasm_bindgen_test]
async fn a_transport_that_never_settles_is_bounded() {
    let db = unique_db("hang");
    let ews = fake_ews("hang:h1");
    let (im, rec) = open_listening(config(&db, &ews, r#", "requestTimeoutMs": 1000, "retryIntervalMs": 60000"#)).await;
    send(&im, &offline_to("h1", "stuck", "never answered")).await.unwrap();
    send(&im, &offline_to("o1", "other", "goes on")).await.unwrap();
    wait(&rec, "delivered", "o1", 5000).await;
    let retrying = wait(&rec, "retrying", "h1", 5000).await;
    assert_eq!(get(&retrying, "code").as_string().as_deref(), Some("Timeout"));
    assert_eq!(get(&get(&ews, "signals"), "0.aborted").as_bool(), Some(true), "the transport's AbortSignal fired");
    assert!(settles(im.flush(), 5000).await, "flush() resolves although the transport hangs");
    // close() while a request hangs: the round ends, the Web Lock is released, and the claimed
    // message is given back, so another tab sends it now (not after leaseMs, 61 s here).
    let rec2 = recorder();
    listen(&im, &rec2);
    JsFuture::from(im.retry("h1".into())).await.unwrap();
    wait(&rec2, "sending", "h1", 5000).await;
    im.close();
    let ok = fake_ews("ok");
    let other_tab = open(config(&db, &ok, "")).await;
    assert!(settles(other_tab.flush(), 5000).await, "the other tab's flush is not blocked");
    assert_eq!(get(&ok, "delivered.h1").as_f64(), Some(1.0));
    other_tab.close();
}

/// 11.2: a `getAccessToken` that takes 60 s holds nothing: the attempt is retrying with code
/// `TokenTimeout` after `tokenTimeoutMs`, and nothing was sent.
#[wasm_bindgen_test]
async fn a_slow_token_is_bounded() {
    let ews = fake_ews("ok");
    let c = config(&unique_db("slow-token"), &ews, r#", "tokenTimeoutMs": 200"#);
    set(&c, "getAccessToken", &token_source("slow"));
    let (im, rec) = open_listening(c).await;
    send(&im, &offline_to("k1", "c", "x")).await.unwrap();
    let retrying = wait(&rec, "retrying", "k1", 3000).await;
    assert_eq!(get(&retrying, "code").as_string().as_deref(), Some("TokenTimeout"));
    assert_eq!(get(&ews, "requests").as_f64(), Some(0.0));
    im.close();
}

/// 11.4: a token the app cannot give (rejected, empty, null) or cannot be a header (CR/LF) is
/// `authrequired` with its cause and sends nothing; a good token reaches the wire as
/// `Authorization: Bearer`.
#[wasm_bindgen_test]
async fn token_problems_need_credentials_and_send_nothing() {
    for (kind, cause, needle) in [("reject", "TokenUnavailable", "interaction_required"), ("empty", "TokenUnavailable", "empty"), ("null", "TokenUnavailable", "null"), ("crlf", "TokenUnsafe", "header")] {
        let ews = fake_ews("ok");
        let c = config(&unique_db("token"), &ews, "");
        set(&c, "getAccessToken", &token_source(kind));
        let (im, rec) = open_listening(c).await;
        send(&im, &offline_to("a1", "c", "x")).await.unwrap();
        let auth = wait(&rec, "authrequired", "a1", 3000).await;
        assert_eq!(get(&auth, "code").as_string().as_deref(), Some(cause), "{kind}");
        let message = get(&auth, "message").as_string().unwrap_or_default();
        assert!(message.contains(needle), "{kind}: {message}");
        assert_eq!(get(&ews, "requests").as_f64(), Some(0.0), "{kind}: nothing sent without the token");
        im.close();
    }
    let ews = fake_ews("ok");
    let c = config(&unique_db("token-ok"), &ews, "");
    set(&c, "getAccessToken", &token_source("eyJ0eXAi.good.token"));
    let (im, rec) = open_listening(c).await;
    send(&im, &offline_to("a2", "c", "x")).await.unwrap();
    wait(&rec, "delivered", "a2", 3000).await;
    assert_eq!(get(&ews, "headers.Authorization").as_string().as_deref(), Some("Bearer eyJ0eXAi.good.token"));
    im.close();
}

/// 11.4: EWS answering 401 with `maxAgeMs: 2000`: authrequired with backoff (few requests, not
/// dozens), not counted as attempts, and the message fails `MaxAgeExceeded` once old enough. A
/// redirect (a sign-in front end) is authrequired too.
#[wasm_bindgen_test]
async fn http_401_backs_off_and_expires() {
    let ews = fake_ews("status:401");
    let (im, rec) = open_listening(config(&unique_db("401"), &ews, r#", "retryIntervalMs": 100, "maxAgeMs": 2000"#)).await;
    send(&im, &offline_to("u1", "c", "x")).await.unwrap();
    let auth = wait(&rec, "authrequired", "u1", 3000).await;
    assert_eq!(get(&auth, "code").as_string().as_deref(), Some("Http401"));
    let failed = wait(&rec, "failed", "u1", 15000).await;
    assert_eq!(get(&failed, "code").as_string().as_deref(), Some("MaxAgeExceeded"));
    assert_eq!(get(&failed, "record.attempts").as_f64(), Some(0.0), "auth failures are not attempts");
    let requests = get(&ews, "requests").as_f64().unwrap_or(0.0);
    // Backoff 100, 200, 400, 800, 1600 ms: 2,000 ms waited after the fifth; one request more per wait.
    assert!((5.0..=7.0).contains(&requests), "{requests} requests");
    im.close();

    let ews = fake_ews("status:302");
    let (im, rec) = open_listening(config(&unique_db("302"), &ews, "")).await;
    send(&im, &offline_to("r1", "c", "x")).await.unwrap();
    let auth = wait(&rec, "authrequired", "r1", 3000).await;
    assert_eq!(get(&auth, "code").as_string().as_deref(), Some("Redirect"));
    assert_eq!(get(&auth, "record.attempts").as_f64(), Some(0.0), "a redirect burns no attempt");
    im.close();
}

/// 11.5: a reply in an obvious shape (numeric string status, bytes, a fetch Response) is read;
/// any other shape fails the message visibly with `TransportContract` instead of sending it again.
#[wasm_bindgen_test]
async fn transport_reply_shapes() {
    for mode in ["shape:stringStatus", "shape:bytes", "shape:arrayBuffer", "shape:response"] {
        let ews = fake_ews(mode);
        let (im, rec) = open_listening(config(&unique_db("shape"), &ews, "")).await;
        send(&im, &offline_to("s1", "c", "x")).await.unwrap();
        let delivered = wait(&rec, "delivered", "s1", 3000).await;
        assert_eq!(get(&delivered, "record.attempts").as_f64(), Some(1.0), "{mode}");
        assert_eq!(get(&ews, "requests").as_f64(), Some(1.0), "{mode}: one copy on the wire");
        im.close();
    }
    // Status 0 is "no reply" (as 0.1.0 documented it): retried, not a contract failure.
    let ews = fake_ews("shape:status0");
    let (im, rec) = open_listening(config(&unique_db("status0"), &ews, r#", "retryIntervalMs": 60000"#)).await;
    send(&im, &offline_to("z0", "c", "x")).await.unwrap();
    let retrying = wait(&rec, "retrying", "z0", 3000).await;
    assert_eq!(get(&retrying, "code").as_string().as_deref(), Some("NetworkError"));
    im.close();
    for (mode, needle) in [("shape:badStatus", "status is a string"), ("shape:fracStatus", "status is the number 200.5"), ("shape:noBody", "body")] {
        let ews = fake_ews(mode);
        let (im, rec) = open_listening(config(&unique_db("shape-bad"), &ews, r#", "retryIntervalMs": 50"#)).await;
        send(&im, &offline_to("s2", "c", "x")).await.unwrap();
        let failed = wait(&rec, "failed", "s2", 3000).await;
        assert_eq!(get(&failed, "code").as_string().as_deref(), Some("TransportContract"), "{mode}");
        assert!(get(&failed, "message").as_string().unwrap_or_default().contains(needle), "{mode}: {}", text(&failed));
        JsFuture::from(im.flush()).await.unwrap();
        assert_eq!(get(&ews, "requests").as_f64(), Some(1.0), "{mode}: not sent again");
        im.close();
    }
}

/// 11.6: a lone surrogate becomes U+FFFD (counted); errors name the field, never a JSON position;
/// config errors are InvalidConfig.
#[wasm_bindgen_test]
async fn lone_surrogates_and_field_errors() {
    let ews = fake_ews("down");
    let im = open(config(&unique_db("surrogate"), &ews, "")).await;
    let input = JSON::parse(r#"{ "id": "u1", "text": "cut \ud83d here \udc00", "to": { "emailAddress": "ana@contoso.com", "presence": "offline" } }"#).unwrap();
    let receipt = JsFuture::from(im.send(input)).await.unwrap();
    assert_eq!(get(&receipt, "replacedCharacters").as_f64(), Some(2.0));
    let stored = pending(&im).await.get(0);
    assert_eq!(get(&stored, "text").as_string().as_deref(), Some("cut \u{fffd} here \u{fffd}"));
    // Text that only looks like an escape, and a whole emoji, are left as they are.
    let input = JSON::parse(r#"{ "id": "u2", "text": "typed \\ud800 and 😀", "to": { "emailAddress": "ana@contoso.com", "presence": "offline" } }"#).unwrap();
    let receipt = JsFuture::from(im.send(input)).await.unwrap();
    assert_eq!(get(&receipt, "replacedCharacters").as_f64(), Some(0.0));
    let stored = pending(&im).await.get(1);
    assert_eq!(get(&stored, "text").as_string().as_deref(), Some("typed \\ud800 and 😀"));
    let bad = JSON::parse(r#"{ "text": "x", "to": { "emailAddress": 42 } }"#).unwrap();
    let e = JsFuture::from(im.send(bad)).await.unwrap_err();
    let message = get(&e, "message").as_string().unwrap_or_default();
    assert_eq!((code(&e), get(&e, "field").as_string()), ("InvalidInput".to_string(), Some("input.to.emailAddress".into())), "{message}");
    assert!(!message.contains("line 1") && !message.contains("column"), "{message}");
    im.close();
    let c = config(&unique_db("badconfig"), &ews, r#", "retryIntervalMs": "5""#);
    let e = offline_im::wasm::messenger::OfflineMessenger::open_async(c).await.err().expect("refused");
    let message = get(&e, "message").as_string().unwrap_or_default();
    assert_eq!((code(&e), get(&e, "field").as_string()), ("InvalidConfig".to_string(), Some("config.retryIntervalMs".into())), "{message}");
    assert!(!message.contains("column"), "{message}");
}

/// 11.7: another tab deletes the database: an `error` event says so (code `SpoolDeleted`, with
/// the number of records lost), and later sends work on a fresh database.
#[wasm_bindgen_test]
async fn a_deleted_database_is_reported_and_replaced() {
    let db = unique_db("deleted");
    let ews = fake_ews("down");
    let (im, rec) = open_listening(config(&db, &ews, r#", "retryIntervalMs": 60000"#)).await;
    im.add_event_listener("error", get(&rec, "listener").unchecked_ref(), None).unwrap();
    send(&im, &offline_to("d1", "c1", "x")).await.unwrap();
    send(&im, &offline_to("d2", "c2", "x")).await.unwrap();
    wait(&rec, "retrying", "d2", 5000).await;
    JsFuture::from(delete_database(&db)).await.expect("not blocked by the messenger");
    let error = wait_type(&rec, "error", 3000).await;
    assert_eq!((code(&error), get(&error, "records").as_f64()), ("SpoolDeleted".to_string(), Some(2.0)));
    js_sys::Reflect::set(&ews, &"mode".into(), &"ok".into()).unwrap();
    send(&im, &offline_to("d3", "c3", "after")).await.expect("sends work after the deletion");
    wait(&rec, "delivered", "d3", 5000).await;
    im.close();
}

/// 11.8: an error page that echoes the request headers (with the token) never puts the token
/// into IndexedDB, `pending()` or an event.
#[wasm_bindgen_test]
async fn the_token_never_reaches_storage_or_events() {
    const SENTINEL: &str = "SENTINEL-tok-7f3a9c";
    let db = unique_db("sentinel");
    let ews = fake_ews("echo");
    let c = config(&db, &ews, r#", "retryIntervalMs": 60000"#);
    set(&c, "getAccessToken", &token_source(SENTINEL));
    let (im, rec) = open_listening(c).await;
    send(&im, &offline_to("e1", "c", "x")).await.unwrap();
    let retrying = wait(&rec, "retrying", "e1", 3000).await;
    assert!(get(&ews, "headers.Authorization").as_string().unwrap_or_default().contains(SENTINEL), "the server did see (and echo) the token");
    assert!(get(&retrying, "message").as_string().unwrap_or_default().contains("[redacted]"), "{}", text(&retrying));
    let stored = JsFuture::from(dump_database(&db)).await.unwrap().as_string().unwrap();
    assert!(stored.contains("e1") && !stored.contains(SENTINEL), "IndexedDB: {stored}");
    assert!(!text(&pending(&im).await.into()).contains(SENTINEL));
    assert!(!events_text(&rec).contains(SENTINEL));
    im.close();
}

/// README promises that no test checked before (issue 16): `retry`/`discard` of a message that
/// is being sent are `MessageInFlight`; once it settled they work.
#[wasm_bindgen_test]
async fn retry_and_discard_during_a_send_are_message_in_flight() {
    let ews = fake_ews("hang:f1");
    let (im, rec) = open_listening(config(&unique_db("in-flight"), &ews, r#", "requestTimeoutMs": 1000, "retryIntervalMs": 60000"#)).await;
    send(&im, &offline_to("f1", "c", "x")).await.unwrap();
    wait(&rec, "sending", "f1", 3000).await;
    assert_eq!(code(&JsFuture::from(im.retry("f1".into())).await.unwrap_err()), "MessageInFlight");
    assert_eq!(code(&JsFuture::from(im.discard("f1".into())).await.unwrap_err()), "MessageInFlight");
    wait(&rec, "retrying", "f1", 5000).await;
    let discarded = JsFuture::from(im.discard("f1".into())).await.expect("settled: discard works");
    assert_eq!(get(&discarded, "id").as_string().as_deref(), Some("f1"));
    assert_eq!(pending(&im).await.length(), 0);
    im.close();
}

/// The `online` event starts a round: with a 60 s retry interval, a message retrying after a
/// network error is delivered within seconds of `online`, not a minute later.
#[wasm_bindgen_test]
async fn the_online_event_starts_a_round() {
    let ews = fake_ews("down");
    let (im, rec) = open_listening(config(&unique_db("online"), &ews, r#", "retryIntervalMs": 60000"#)).await;
    send(&im, &offline_to("n1", "c", "x")).await.unwrap();
    let retrying = wait(&rec, "retrying", "n1", 3000).await;
    assert_eq!(get(&retrying, "code").as_string().as_deref(), Some("NetworkError"));
    js_sys::Reflect::set(&ews, &"mode".into(), &"ok".into()).unwrap();
    let window: web_sys::EventTarget = js_sys::global().unchecked_into();
    window.dispatch_event(&web_sys::Event::new("online").unwrap()).unwrap();
    wait(&rec, "delivered", "n1", 5000).await;
    im.close();
}

/// `maxAttempts` set from JavaScript reaches `failed` (`MaxAttemptsExceeded`, not permanent,
/// kept in the spool) after exactly that many requests.
#[wasm_bindgen_test]
async fn max_attempts_from_js_fails_the_message() {
    let ews = fake_ews("down");
    let (im, rec) = open_listening(config(&unique_db("attempts"), &ews, r#", "retryIntervalMs": 20, "maxAttempts": 3"#)).await;
    send(&im, &offline_to("x1", "c", "x")).await.unwrap();
    let failed = wait(&rec, "failed", "x1", 5000).await;
    assert_eq!((get(&failed, "code").as_string().as_deref(), get(&failed, "permanent").as_bool()), (Some("MaxAttemptsExceeded"), Some(false)));
    assert_eq!((get(&failed, "record.attempts").as_f64(), get(&ews, "requests").as_f64()), (Some(3.0), Some(3.0)));
    assert_eq!(get(&pending(&im).await.get(0), "state").as_string().as_deref(), Some("failed"));
    im.close();
}

/// The public field names are the API: pinned literally, not compared with our own serde output
/// (a renamed field would pass that). Receipt, spool record and event detail.
#[wasm_bindgen_test]
async fn public_field_names_are_pinned() {
    let keys = |v: &JsValue| -> Vec<String> { js_sys::Object::keys(v.unchecked_ref::<js_sys::Object>()).iter().filter_map(|k| k.as_string()).collect() };
    let ews = fake_ews("busyOnce:10");
    let (im, rec) = open_listening(config(&unique_db("names"), &ews, r#", "retryIntervalMs": 20"#)).await;
    let receipt = send(&im, &offline_to("p1", "c", "x")).await.unwrap();
    assert_eq!(keys(&receipt), ["id", "state", "decision", "duplicate", "replacedCharacters"]);
    let retrying = wait(&rec, "retrying", "p1", 3000).await;
    assert_eq!(keys(&retrying), ["record", "type", "nextAttemptAt", "code", "message"]);
    let record = get(&retrying, "record");
    assert_eq!(
        keys(&record),
        ["id", "sender", "conversationId", "to", "text", "itemClass", "state", "attempts", "authFailures", "createdAt", "seq", "nextAttemptAt", "backoffMs", "waitedMs", "lastError", "leaseUntil", "recordVersion"]
    );
    assert_eq!(keys(&get(&record, "lastError")), ["code", "message", "httpStatus"]);
    let delivered = wait(&rec, "delivered", "p1", 3000).await;
    assert_eq!(keys(&delivered), ["record", "type"]);
    im.close();
}
