//! OfflineMessenger in Chrome and Firefox: IndexedDB, real timers, a scripted EWS transport.
#![cfg(target_arch = "wasm32")]

use js_sys::{Function, Promise, Reflect, JSON};
use offline_im::messenger::SendReceipt;
use offline_im::wasm::messenger::OfflineMessenger;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/web_helpers.rs"]
mod web_helpers;
use web_helpers::*;

/// A receipt reads as a `SendReceipt` and writes back to the same text (no field missing or
/// extra in either direction). The names themselves are pinned literally in web_trust.rs
/// (`public_field_names_are_pinned`): this check alone would pass a renamed field.
fn assert_receipt_shape(receipt: &JsValue) {
    let text = JSON::stringify(receipt).unwrap().as_string().unwrap();
    let parsed: SendReceipt = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(serde_json::to_string(&parsed).unwrap(), text);
}


#[wasm_bindgen_test]
async fn queued_message_is_delivered_with_events() {
    let ews = fake_ews("ok");
    let (im, rec) = open_listening(config(&unique_db("deliver"), &ews, "")).await;
    let receipt = send(&im, &offline_to("m1", "c1", "hello")).await.unwrap();
    assert_eq!(get(&receipt, "state").as_string().as_deref(), Some("queued"));
    assert_eq!(get(&receipt, "decision.itemClass").as_string().as_deref(), Some("IPM.Note.Microsoft.Missed"));
    assert_receipt_shape(&receipt);
    let delivered = wait(&rec, "delivered", "m1", 3000).await;
    assert_eq!(get(&delivered, "record.state").as_string().as_deref(), Some("delivered"));
    assert_eq!(get(&ews, "delivered.m1").as_f64(), Some(1.0));
    assert_eq!(get(&ews, "headers.SOAPAction").as_string().as_deref(), Some("http://schemas.microsoft.com/exchange/services/2006/messages/CreateItem"));
    let pending: js_sys::Array = JsFuture::from(im.pending()).await.unwrap().unchecked_into();
    assert_eq!(pending.length(), 0);
    // The same id again: recognised, not sent twice.
    let again = send(&im, &offline_to("m1", "c1", "hello")).await.unwrap();
    assert_eq!((get(&again, "duplicate").as_bool(), get(&again, "state").as_string().as_deref()), (Some(true), Some("delivered")));
    assert_receipt_shape(&again);
    // A later message is the barrier (no fixed sleep): once it is delivered, a second copy of m1
    // would have gone before it (one conversation, sequence order).
    send(&im, &offline_to("m2", "c1", "after")).await.unwrap();
    wait(&rec, "delivered", "m2", 3000).await;
    assert_eq!((get(&ews, "requests").as_f64(), get(&ews, "delivered.m1").as_f64()), (Some(2.0), Some(1.0)));
    im.close();
}

/// A message survives closing the messenger, and `open` sends what came due meanwhile.
#[wasm_bindgen_test]
async fn message_survives_closing_and_reopening() {
    let db = unique_db("reopen");
    let down = fake_ews("down");
    let (im, rec) = open_listening(config(&db, &down, r#", "retryIntervalMs": 200"#)).await;
    send(&im, &offline_to("kept", "c1", "still here")).await.unwrap();
    let retrying = wait(&rec, "retrying", "kept", 3000).await;
    assert_eq!(get(&retrying, "code").as_string().as_deref(), Some("NetworkError"));
    im.close();
    let next = get(&retrying, "nextAttemptAt").as_f64().unwrap();
    while js_sys::Date::now() < next {
        JsFuture::from(sleep(20)).await.unwrap();
    }

    // Reopened after the retry came due while no messenger was open, with a one-minute timer:
    // `open` itself sends it (no flush, and the timer is far off).
    let up = fake_ews("ok");
    let (im, rec) = open_listening(config(&db, &up, r#", "retryIntervalMs": 60000"#)).await;
    let delivered = wait(&rec, "delivered", "kept", 5000).await;
    assert_eq!(get(&delivered, "record.text").as_string().as_deref(), Some("still here"), "the stored message, as it was");
    assert_eq!(get(&up, "delivered.kept").as_f64(), Some(1.0));
    im.close();
}

#[wasm_bindgen_test]
async fn server_busy_back_off_delays_the_retry() {
    let ews = fake_ews("busyOnce:1500");
    let (im, rec) = open_listening(config(&unique_db("busy"), &ews, r#", "retryIntervalMs": 100"#)).await;
    send(&im, &offline_to("b1", "c1", "busy")).await.unwrap();
    let retrying = wait(&rec, "retrying", "b1", 3000).await;
    let first = get(&ews, "firstAttemptAt.b1").as_f64().unwrap();
    let next = get(&retrying, "nextAttemptAt").as_f64().unwrap();
    assert!(next - first >= 1500.0, "next attempt {next} is BackOffMilliseconds after {first}, not the 100 ms interval");
    wait(&rec, "delivered", "b1", 5000).await;
    let delivered_at = get(&ews, "deliveredAt.b1").as_f64().unwrap();
    assert!(delivered_at - first >= 1500.0, "retried after {} ms", delivered_at - first);
    assert_eq!(get(&ews, "attempts.b1").as_f64(), Some(2.0));
    im.close();
}

#[wasm_bindgen_test]
async fn permanent_error_fails_and_the_next_message_still_goes() {
    let ews = fake_ews("noMailbox:p1");
    let (im, rec) = open_listening(config(&unique_db("permanent"), &ews, "")).await;
    send(&im, &offline_to("p1", "c1", "first")).await.unwrap();
    send(&im, &offline_to("p2", "c1", "second")).await.unwrap();
    let failed = wait(&rec, "failed", "p1", 3000).await;
    assert_eq!(get(&failed, "code").as_string().as_deref(), Some("ErrorNonExistentMailbox"));
    assert_eq!(get(&failed, "permanent").as_bool(), Some(true));
    wait(&rec, "delivered", "p2", 3000).await;
    let pending: js_sys::Array = JsFuture::from(im.pending()).await.unwrap().unchecked_into();
    assert_eq!((pending.length(), get(&pending.get(0), "state").as_string()), (1, Some("failed".into())), "failed is kept");
    JsFuture::from(im.discard("p1".into())).await.unwrap();
    let e = JsFuture::from(im.retry("p1".into())).await.unwrap_err();
    assert_eq!(code(&e), "UnknownMessage");
    im.close();
}

#[wasm_bindgen_test]
async fn two_messengers_on_one_database_deliver_each_message_once() {
    let db = unique_db("tabs");
    let ews = fake_ews("ok");
    let a = open(config(&db, &ews, "")).await;
    let b = open(config(&db, &ews, "")).await;
    for i in 0..10 {
        let im = if i % 2 == 0 { &a } else { &b };
        send(im, &offline_to(&format!("t{i}"), &format!("c{}", i % 3), "x")).await.unwrap();
    }
    JsFuture::from(Promise::all(&js_sys::Array::of2(&a.flush(), &b.flush()))).await.unwrap();
    drain(&a, 15_000.0).await;
    for i in 0..10 {
        assert_eq!(get(&ews, &format!("delivered.t{i}")).as_f64(), Some(1.0), "t{i} delivered exactly once");
    }
    assert_eq!(get(&ews, "requests").as_f64(), Some(10.0));
    a.close();
    b.close();
}

#[wasm_bindgen_test]
async fn concurrent_sends_start_one_round_not_one_each() {
    let ews = fake_ews("ok");
    let im = open(config(&unique_db("one-round"), &ews, "")).await;
    JsFuture::from(im.flush()).await.unwrap(); // the round `open` started is over
    let locks = count_lock_requests();
    let sends = js_sys::Array::new();
    for i in 0..50 {
        sends.push(&im.send(JSON::parse(&offline_to(&format!("r{i}"), &format!("c{}", i % 5), "x")).unwrap()));
    }
    JsFuture::from(Promise::all(&sends)).await.unwrap();
    drain(&im, 15_000.0).await;
    let rounds = get(&locks, "n").as_f64().unwrap_or(0.0);
    get(&locks, "restore").unchecked_into::<Function>().call0(&JsValue::NULL).unwrap();
    for i in 0..50 {
        assert_eq!(get(&ews, &format!("delivered.r{i}")).as_f64(), Some(1.0), "r{i} delivered once");
    }
    // Batched: five conversations share requests (never two messages of one in a request).
    let requests = get(&ews, "requests").as_f64().unwrap_or(0.0);
    assert!(requests < 50.0, "50 messages in {requests} requests");
    // One round for the batch, and at most one more for sends that joined while it ran.
    assert!((1.0..=2.0).contains(&rounds), "50 concurrent sends asked for the Web Lock {rounds} times");
    im.close();
}

#[wasm_bindgen_test]
async fn policy_blocked_and_live_are_not_queued() {
    let ews = fake_ews("ok");
    let im = open(config(&unique_db("policy"), &ews, r#", "policy": "Set-CsClientPolicy -Identity Global -EnableIMAutoArchiving $False""#)).await;
    let blocked = send(&im, &offline_to("x1", "c", "hi")).await.unwrap();
    assert_eq!(get(&blocked, "state").as_string().as_deref(), Some("blocked"));
    assert_eq!(JSON::stringify(&get(&blocked, "decision.reasons")).unwrap(), r#"["RecipientOffline","AutoArchivingDisabled","ClientNotReported"]"#);
    let live = send(&im, r#"{ "text": "hi", "to": { "emailAddress": "ana@contoso.com", "presence": "doNotDisturb" } }"#).await.unwrap();
    assert_eq!(get(&live, "state").as_string().as_deref(), Some("live"));
    assert_eq!(get(&live, "decision.recipientRecordsMissed").as_bool(), Some(true));
    assert_receipt_shape(&blocked);
    assert_receipt_shape(&live);
    assert_eq!(Reflect::has(&get(&live, "decision"), &"itemClass".into()), Ok(false), "no itemClass key, as serde skips it");
    // The next equal decision is a copy: changing one receipt changes no other.
    let again = send(&im, r#"{ "text": "hi", "to": { "emailAddress": "ana@contoso.com", "presence": "doNotDisturb" } }"#).await.unwrap();
    assert_eq!(JSON::stringify(&get(&again, "decision")).unwrap(), JSON::stringify(&get(&live, "decision")).unwrap());
    // Every receipt has the message's id, live and blocked ones too (a chat UI keys its view by it).
    assert_eq!(get(&blocked, "id").as_string().as_deref(), Some("x1"), "the input's id");
    let (a, b) = (get(&live, "id").as_string().unwrap(), get(&again, "id").as_string().unwrap());
    assert!(a.len() == 36 && b.len() == 36 && a != b, "a UUID made for each: {a} {b}");
    set(&get(&live, "decision"), "delivery", &"changed".into());
    js_sys::Array::from(&get(&live, "decision.reasons")).push(&"changed".into());
    assert_receipt_shape(&again);
    assert_eq!(get(&again, "decision.delivery").as_string().as_deref(), Some("live"));
    let pending: js_sys::Array = JsFuture::from(im.pending()).await.unwrap().unchecked_into();
    assert_eq!(pending.length(), 0);
    im.close();
}

#[wasm_bindgen_test]
async fn bad_config_and_bad_input_get_clear_errors() {
    let ews = fake_ews("ok");
    let cases = [
        // Without ewsUrl a mailbox on Exchange Online uses Graph; on premises EWS needs its URL.
        (r#"{ "sender": { "emailAddress": "tony@contoso.com", "mailboxHosting": "exchangeOnPremises" } }"#, "InvalidConfig", "ewsUrl"),
        (r#"{ "backend": "graph", "concurrency": 8, "sender": { "emailAddress": "tony@contoso.com" } }"#, "InvalidConfig", "concurrency"),
        (r#"{ "ewsUrl": "ftp://x", "sender": { "emailAddress": "tony@contoso.com" } }"#, "InvalidConfig", "ewsUrl"),
        (r#"{ "ewsUrl": "/EWS/Exchange.asmx", "sender": {} }"#, "InvalidConfig", "sender.emailAddress"),
        (r#"{ "ewsUrl": "/EWS/Exchange.asmx", "sender": { "emailAddress": "tony" } }"#, "InvalidAddress", "sender.emailAddress"),
        (r#"{ "ewsUrl": "/EWS/Exchange.asmx", "sender": { "emailAddress": "tony@contoso.com" }, "retryIntervalMs": 0 }"#, "InvalidConfig", "retryIntervalMs"),
        (r#"{ "ewsUrl": "/EWS/Exchange.asmx", "sender": { "emailAddress": "tony@contoso.com" }, "policy": "Grant -CsClientPolicy" }"#, "PolicyScriptError", "line 1"),
        (r#"{ "ewsUrl": "/EWS/Exchange.asmx", "sender": { "emailAddress": "tony@contoso.com" }, "retryIntervalMS": 5 }"#, "InvalidConfig", "retryIntervalMS"),
    ];
    for (json, want, needle) in cases {
        let e = OfflineMessenger::open_async(JSON::parse(json).unwrap()).await.err().unwrap_or_else(|| panic!("accepted: {json}"));
        assert_eq!(code(&e), want, "{json}");
        let message = get(&e, "message").as_string().unwrap();
        assert!(message.contains(needle), "{json}: {message}");
    }
    let c = config(&unique_db("bad"), &ews, "");
    set(&c, "getAccessToken", &JsValue::from_str("not a function"));
    assert_eq!(code(&OfflineMessenger::open_async(c).await.err().unwrap()), "InvalidConfig");
    assert_eq!(code(&OfflineMessenger::open_async(JsValue::from_str("x")).await.err().unwrap()), "InvalidConfig");

    let im = open(config(&unique_db("badinput"), &ews, r#", "maxMessageBytes": 10"#)).await;
    for (json, want) in [
        (r#"{ "text": "hi" }"#, "InvalidInput"),
        (r#"{ "text": "hi", "to": { "emailAddress": "nobody" } }"#, "InvalidAddress"),
        (r#"{ "text": "far too long for ten bytes", "to": { "emailAddress": "ana@contoso.com", "presence": "offline" } }"#, "MessageTooLarge"),
        (r#"{ "text": "", "to": { "emailAddress": "ana@contoso.com", "presence": "offline" } }"#, "InvalidInput"),
    ] {
        assert_eq!(code(&send(&im, json).await.unwrap_err()), want, "{json}");
    }
    let pending: js_sys::Array = JsFuture::from(im.pending()).await.unwrap().unchecked_into();
    assert_eq!(pending.length(), 0, "nothing half-accepted");
    im.close();
    assert_eq!(code(&send(&im, &offline_to("z", "c", "hi")).await.unwrap_err()), "MessengerClosed");
}

/// Without Web Locks (`navigator.locks` missing) the records' leases are what keeps two tabs
/// from sending the same message: each of 20 messages sent by two messengers on one database
/// is delivered once, and no lock is asked for.
#[wasm_bindgen_test]
async fn without_web_locks_leases_keep_two_tabs_apart() {
    hide_web_locks();
    let db = unique_db("no-locks");
    let ews = fake_ews("ok");
    let a = open(config(&db, &ews, "")).await;
    let b = open(config(&db, &ews, "")).await;
    for i in 0..20 {
        send(if i % 2 == 0 { &a } else { &b }, &offline_to(&format!("n{i}"), &format!("c{}", i % 4), "x")).await.unwrap();
    }
    JsFuture::from(Promise::all(&js_sys::Array::of2(&a.flush(), &b.flush()))).await.unwrap();
    drain(&a, 15_000.0).await;
    let hidden = Reflect::get(&web_sys_navigator(), &"locks".into()).unwrap().is_undefined();
    restore_web_locks();
    assert!(hidden, "navigator.locks was hidden for the whole test");
    for i in 0..20 {
        assert_eq!(get(&ews, &format!("delivered.n{i}")).as_f64(), Some(1.0), "n{i} delivered exactly once");
    }
    assert_eq!(get(&ews, "requests").as_f64(), Some(20.0));
    a.close();
    b.close();
}

fn web_sys_navigator() -> JsValue {
    Reflect::get(&js_sys::global(), &"navigator".into()).unwrap()
}

/// `recordMissed` rejects when the item was not saved: a per-item error from Exchange, an HTTP
/// error, and a 401 (authrequired), each with its code; it resolves to the item id otherwise.
#[wasm_bindgen_test]
async fn record_missed_rejects_when_the_item_is_not_saved() {
    let input = r#"{ "from": { "emailAddress": "sam@contoso.com", "displayName": "Sam" }, "text": "during your talk", "id": "live-1" }"#;
    for (mode, expected, detail) in [("noMailbox:live-1", "EwsError", "ErrorNonExistentMailbox"), ("status:503", "EwsError", "Http503"), ("status:401", "AuthRequired", "Http401")] {
        let ews = fake_ews(mode);
        let im = open(config(&unique_db("record"), &ews, "")).await;
        let e = JsFuture::from(im.record_missed(JSON::parse(input).unwrap())).await.expect_err(mode);
        assert_eq!(code(&e), expected, "{mode}");
        let text = [get(&e, "message").as_string().unwrap_or_default(), get(&e, "cause").as_string().unwrap_or_default()].concat();
        assert!(text.contains(detail), "{mode}: {text}");
        assert_eq!(get(&ews, "requests").as_f64(), Some(1.0), "{mode}: tried once, not spooled");
        im.close();
    }
}

/// `open` prunes delivered records a week (KEEP_DELIVERED_MS) after delivery: until then a
/// repeated send of the same id is recognised; a record delivered 7 days ago is gone after the
/// next open, one delivered 6 days ago is kept.
#[wasm_bindgen_test]
async fn open_prunes_records_delivered_a_week_ago() {
    const DAY: f64 = 24.0 * 3_600_000.0;
    let db = unique_db("prune");
    let ews = fake_ews("ok");
    let (im, rec) = open_listening(config(&db, &ews, "")).await;
    for id in ["week-old", "six-days-old"] {
        send(&im, &offline_to(id, id, "x")).await.unwrap();
        wait(&rec, "delivered", id, 3000).await;
    }
    im.close();
    JsFuture::from(age_record(&db, "week-old", 7.0 * DAY)).await.unwrap();
    JsFuture::from(age_record(&db, "six-days-old", 6.0 * DAY)).await.unwrap();
    let im = open(config(&db, &ews, "")).await;
    let again = send(&im, &offline_to("six-days-old", "six-days-old", "x")).await.unwrap();
    assert_eq!(get(&again, "duplicate").as_bool(), Some(true), "kept 6 days after delivery: recognised");
    let again = send(&im, &offline_to("week-old", "week-old", "x")).await.unwrap();
    assert_eq!(get(&again, "duplicate").as_bool(), Some(false), "pruned at open 7 days after delivery: a new message");
    im.close();
}

/// With `impersonate`, every request carries `X-AnchorMailbox` with the impersonated (sender's)
/// address, as Microsoft requires with impersonation; without it, no such header.
#[wasm_bindgen_test]
async fn impersonation_sends_x_anchor_mailbox() {
    for (extra, expected) in [(r#", "impersonate": true"#, Some("tony@contoso.com")), ("", None)] {
        let ews = fake_ews("ok");
        let (im, rec) = open_listening(config(&unique_db("anchor"), &ews, extra)).await;
        send(&im, &offline_to("a1", "c", "x")).await.unwrap();
        wait(&rec, "delivered", "a1", 3000).await;
        assert_eq!(get(&ews, "headers.X-AnchorMailbox").as_string().as_deref(), expected, "{extra}");
        im.close();
    }
}

/// A listener that counts its calls in `counter.n`.
fn counting(counter: &JsValue) -> Function {
    Function::new_with_args("c", "return () => { c.n = (c.n || 0) + 1; }").call1(&JsValue::NULL, counter).unwrap().unchecked_into()
}

/// addEventListener takes EventTarget's options: `once` hears one event, an aborted `signal`
/// removes the listener, and a `signal` that is not an AbortSignal is refused.
#[wasm_bindgen_test]
async fn listener_options_once_and_signal() {
    let (im, rec) = open_listening(config(&unique_db("listener-options"), &fake_ews("ok"), "")).await;
    let (once, until) = (js_sys::Object::new(), js_sys::Object::new());
    let controller = Function::new_no_args("return new AbortController()").call0(&JsValue::NULL).unwrap();
    let options = |key: &str, value: &JsValue| {
        let o = js_sys::Object::new();
        Reflect::set(&o, &key.into(), value).unwrap();
        Some(o.into())
    };
    im.add_event_listener("delivered", &counting(&once), options("once", &JsValue::TRUE)).unwrap();
    im.add_event_listener("delivered", &counting(&until), options("signal", &get(&controller, "signal"))).unwrap();
    send(&im, &offline_to("m1", "c1", "one")).await.unwrap();
    wait(&rec, "delivered", "m1", 3000).await;
    assert_eq!((get(&once, "n").as_f64(), get(&until, "n").as_f64()), (Some(1.0), Some(1.0)));
    Function::new_with_args("c", "c.abort()").call1(&JsValue::NULL, &controller).unwrap();
    send(&im, &offline_to("m2", "c1", "two")).await.unwrap();
    wait(&rec, "delivered", "m2", 3000).await;
    assert_eq!((get(&once, "n").as_f64(), get(&until, "n").as_f64()), (Some(1.0), Some(1.0)), "once heard one event; the aborted signal removed its listener");
    let e = im.add_event_listener("delivered", &counting(&once), options("signal", &"not a signal".into())).unwrap_err();
    assert_eq!(get(&e, "name").as_string().as_deref(), Some("TypeError"), "EventTarget's own error");
    im.close();
}

/// Event names are checked: a misspelt one would otherwise never fire, silently.
#[wasm_bindgen_test]
async fn unknown_event_names_and_non_function_listeners_are_refused() {
    let im = open(config(&unique_db("events"), &fake_ews("ok"), "")).await;
    let listener = js_sys::Function::new_no_args("");
    let e = im.add_event_listener("deliverd", &listener, None).unwrap_err();
    assert_eq!((code(&e), get(&e, "field").as_string().as_deref()), ("InvalidInput".to_string(), Some("kind")));
    assert!(get(&e, "message").as_string().unwrap().contains("queued, sending, delivered, retrying, failed, authrequired, error"));
    let e = im.add_event_listener("delivered", JsValue::from_str("not a function").unchecked_ref(), None).unwrap_err();
    assert_eq!(get(&e, "field").as_string().as_deref(), Some("listener"));
    assert_eq!(code(&im.remove_event_listener("Delivered", &listener, None).unwrap_err()), "InvalidInput");
    for kind in ["queued", "sending", "delivered", "retrying", "failed", "authrequired", "error"] {
        im.add_event_listener(kind, &listener, None).unwrap();
        im.remove_event_listener(kind, &listener, None).unwrap();
    }
    im.close();
}
