//! The Graph back end in Chrome and Firefox: OfflineMessenger with `backend: "graph"` over a
//! scripted Graph transport (the local server's Graph over real cross-origin fetch is in the
//! e2e tests): the requests it makes, Retry-After when the transport can see it, and the
//! recipient side through `$batch`.
#![cfg(target_arch = "wasm32")]

use js_sys::JSON;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/web_helpers.rs"]
mod web_helpers;
use web_helpers::*;

#[wasm_bindgen(inline_js = r#"
const MESSAGE = (id, messageId) => ({ id, subject: "hi", isRead: false, receivedDateTime: "2026-11-28T10:00:00Z",
  body: { contentType: "text", content: "hello\r\nthere\r\n" }, from: { emailAddress: { name: "Tony Smith", address: "tony@contoso.com" } },
  singleValueExtendedProperties: [{ id: "String 0x1a", value: "IPM.Note.Microsoft.Missed" },
    { id: "String {6B2B3C54-5E0F-4C1C-9A3E-0FF11E1E0A1D} Name OfflineImMessageId", value: messageId }] });
export function fakeGraph(mode) {
  const g = { requests: [], mode };
  g.transport = async (req) => {
    const body = req.body === undefined ? undefined : JSON.parse(req.body);
    g.requests.push({ method: req.method, url: req.url, headers: req.headers, body });
    const path = req.url.replace("https://graph.example/v1.0", "");
    if (g.mode === "401") return { status: 401, body: JSON.stringify({ error: { code: "InvalidAuthenticationToken", message: "expired" } }) };
    if (path === "/me/sendMail") {
      if (g.mode === "throttle-once") { g.mode = "ok"; return { status: 429, headers: { "retry-after": "2" }, body: JSON.stringify({ error: { code: "ApplicationThrottled", message: "Application is over its MailboxConcurrency limit." } }) }; }
      return { status: 202, body: "" };
    }
    if (path === "/$batch") {
      const responses = body.requests.map((r) => {
        if (r.method === "PATCH") return { id: r.id, status: r.url.endsWith("/gone") ? 404 : 200, body: { id: "x", isRead: true } };
        // Two copies of one message in the inbox listing of the missed class, nothing elsewhere.
        const inbox = r.url.startsWith("/me/mailFolders/inbox/") && r.url.includes("IPM.Note.Microsoft.Missed");
        return { id: r.id, status: 200, body: { value: inbox ? [MESSAGE("AAMk-1", "m-1"), MESSAGE("AAMk-2", "m-1")] : [] } };
      });
      return { status: 200, body: JSON.stringify({ responses: responses.reverse() }) };
    }
    return { status: 404, body: JSON.stringify({ error: { code: "BadRequest", message: path } }) };
  };
  return g;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = fakeGraph)]
    fn fake_graph(mode: &str) -> JsValue;
}

fn graph_config(db: &str, g: &JsValue, extra: &str) -> JsValue {
    let c = JSON::parse(&format!(
        r#"{{ "backend": "graph", "graphUrl": "https://graph.example/v1.0", "dbName": "{db}",
             "sender": {{ "emailAddress": "tony@contoso.com" }} {extra} }}"#
    ))
    .unwrap();
    set(&c, "transport", &get(g, "transport"));
    set(&c, "getAccessToken", &js_sys::Function::new_no_args("return Promise.resolve('tony-graph-token')"));
    c
}

#[wasm_bindgen_test]
async fn sends_through_send_mail_with_our_properties_and_no_sent_items_copy() {
    let g = fake_graph("ok");
    let (im, rec) = open_listening(graph_config(&unique_db("graph-send"), &g, "")).await;
    send(&im, &offline_to("m1", "c1", "hello")).await.unwrap();
    wait(&rec, "delivered", "m1", 3000).await;
    let r = get(&g, "requests.0");
    assert_eq!(get(&r, "method").as_string().as_deref(), Some("POST"));
    assert_eq!(get(&r, "url").as_string().as_deref(), Some("https://graph.example/v1.0/me/sendMail"));
    assert_eq!(get(&r, "headers.Authorization").as_string().as_deref(), Some("Bearer tony-graph-token"));
    assert_eq!(get(&r, "headers.Content-Type").as_string().as_deref(), Some("application/json"));
    assert_eq!(get(&r, "body.saveToSentItems").as_bool(), Some(false));
    assert_eq!(get(&r, "body.message.singleValueExtendedProperties.0.value").as_string().as_deref(), Some("IPM.Note.Microsoft.Missed"));
    assert_eq!(get(&r, "body.message.singleValueExtendedProperties.1.value").as_string().as_deref(), Some("m1"));
    im.close();
}

#[wasm_bindgen_test]
async fn a_visible_retry_after_is_honoured() {
    let g = fake_graph("throttle-once");
    let (im, rec) = open_listening(graph_config(&unique_db("graph-429"), &g, r#", "retryIntervalMs": 100"#)).await;
    send(&im, &offline_to("m1", "c1", "hello")).await.unwrap();
    let retrying = wait(&rec, "retrying", "m1", 3000).await;
    assert_eq!(get(&retrying, "code").as_string().as_deref(), Some("ApplicationThrottled"));
    let wait_ms = get(&retrying, "nextAttemptAt").as_f64().unwrap() - js_sys::Date::now();
    assert!(wait_ms > 1500.0, "Retry-After 2 s outweighs retryIntervalMs 100 (waits {wait_ms} ms)");
    wait(&rec, "delivered", "m1", 5000).await;
    im.close();
}

#[wasm_bindgen_test]
async fn check_missed_and_mark_seen_go_through_batches() {
    let g = fake_graph("ok");
    let im = open(graph_config(&unique_db("graph-missed"), &g, "")).await;
    let report = JsFuture::from(im.check_missed(None)).await.unwrap();
    assert_eq!(get(&report, "total").as_f64(), Some(1.0), "two copies of m-1 are one message");
    assert_eq!(get(&report, "conversations.0.messages.0.text").as_string().as_deref(), Some("hello\nthere"));
    assert_eq!(get(&report, "conversations.0.fromEmail").as_string().as_deref(), Some("tony@contoso.com"));
    assert_eq!(get(&g, "requests.length").as_f64(), Some(1.0), "four listings in one $batch");
    assert_eq!(get(&g, "requests.0.body.requests.length").as_f64(), Some(4.0));
    assert_eq!(get(&g, "requests.0.body.requests.0.headers.Prefer").as_string().as_deref(), Some("outlook.body-content-type=\"text\""));
    let ids = JSON::parse(r#"["AAMk-1", "AAMk-2", "gone"]"#).unwrap();
    assert_eq!(JsFuture::from(im.mark_seen(ids)).await.unwrap().as_f64(), Some(2.0), "an id Graph no longer has is skipped");
    assert_eq!(get(&g, "requests.1.body.requests.2.url").as_string().as_deref(), Some("/me/messages/gone"));
    im.close();
}

#[wasm_bindgen_test]
async fn http_401_is_authrequired_on_both_sides() {
    let g = fake_graph("401");
    let (im, rec) = open_listening(graph_config(&unique_db("graph-401"), &g, "")).await;
    send(&im, &offline_to("m1", "c1", "hello")).await.unwrap();
    let auth = wait(&rec, "authrequired", "m1", 3000).await;
    assert_eq!(get(&auth, "code").as_string().as_deref(), Some("InvalidAuthenticationToken"));
    let e = JsFuture::from(im.check_missed(None)).await.unwrap_err();
    assert_eq!(code(&e), "AuthRequired");
    im.close();
}
