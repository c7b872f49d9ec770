//! The Graph back end natively: its requests run against the local server's Graph routes
//! (`ews_server::graph::handle`, no HTTP), over the same mailboxes as the EWS endpoint, and its
//! reply classification against Graph-shaped replies.
#![cfg(not(target_arch = "wasm32"))]

use ews_server::state::State;
use futures_executor::block_on;
use offline_im::ews::{EwsMailbox, MailboxAddress, OfflineMessage};
use offline_im::graph::batch::{batch_request, parse_batch};
use offline_im::graph::reply::classify;
use offline_im::graph::GraphMailbox;
use offline_im::mailbox::{Mailbox, Outcome, Request};
use offline_im::message::MissedInput;
use offline_im::transport::{Transport, TransportError, TransportReply};
use std::cell::RefCell;

const BASE: &str = "http://127.0.0.1:9/v1.0";

/// A transport into the server's operations: Graph requests to its Graph routes, EWS ones to
/// its EWS operations; every request is kept.
struct Direct<'a> {
    state: &'a RefCell<State>,
    token: &'static str,
    sent: RefCell<Vec<Request>>,
}

impl<'a> Direct<'a> {
    fn new(state: &'a RefCell<State>, token: &'static str) -> Self {
        Direct { state, token, sent: RefCell::default() }
    }
}

impl Transport for Direct<'_> {
    async fn send(&self, r: &Request) -> Result<TransportReply, TransportError> {
        self.sent.borrow_mut().push(r.clone());
        let body = r.body.as_deref().unwrap_or_default();
        let mut s = self.state.borrow_mut();
        if r.path.is_empty() {
            let (status, body) = ews_server::handle(&mut s, self.token, body);
            return Ok(TransportReply::new(status, body));
        }
        let header = |n: &str| r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str());
        let reply = ews_server::graph::handle(&mut s, self.token, r.method, &r.path, header("Content-Type"), header("Prefer"), body, BASE, &mut || None);
        let retry_after = reply.headers.iter().find(|(k, _)| k == "Retry-After").map(|(_, v)| v.clone());
        Ok(TransportReply { status: reply.status, body: reply.body, retry_after })
    }
}

fn graph() -> GraphMailbox {
    GraphMailbox { base_url: BASE.into(), ..Default::default() }
}

fn message(id: &str, to: &str, text: &str) -> OfflineMessage {
    OfflineMessage { id: id.into(), conversation_id: Some(["conv-", id].concat()), to: MailboxAddress { email_address: to.into(), display_name: None }, text: text.into(), subject: None }
}

fn deliver(m: &impl Mailbox, t: &Direct, msg: &OfflineMessage, class: &str) -> Outcome {
    let r = m.delivery(msg, class).unwrap();
    let reply = block_on(t.send(&r)).unwrap();
    m.delivery_outcome(&reply, 0)
}

#[test]
fn send_mail_shape_and_nothing_left_with_the_sender() {
    let r = graph().delivery(&message("m1", "ana@contoso.com", "hi <b>Ana</b>\nline 2"), "IM.Note.MissedConversation").unwrap();
    assert_eq!((r.method, r.path.as_str()), ("POST", "/me/sendMail"));
    let v: serde_json::Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
    assert_eq!(v["saveToSentItems"], false);
    assert_eq!(v["message"]["toRecipients"][0]["emailAddress"]["address"], "ana@contoso.com");
    assert_eq!(v["message"]["body"]["contentType"], "HTML");
    assert!(v["message"]["body"]["content"].as_str().unwrap().contains("hi &lt;b&gt;Ana&lt;/b&gt;<br>\nline 2"));
    let props = &v["message"]["singleValueExtendedProperties"];
    assert_eq!(props[0], serde_json::json!({ "id": "String 0x001A", "value": "IPM.Note.Microsoft.Missed" }), "the seed's alias is written as Exchange's class");
    assert_eq!(props[1], serde_json::json!({ "id": "String {6b2b3c54-5e0f-4c1c-9a3e-0ff11e1e0a1d} Name OfflineImMessageId", "value": "m1" }));
    assert_eq!(props[2]["value"], "conv-m1");
    // Impersonation on Graph: the sender's mailbox by address (app-only token).
    let svc = GraphMailbox { user: Some("tony@contoso.com".into()), ..graph() };
    assert_eq!(svc.delivery(&message("m1", "ana@contoso.com", "x"), "IPM.Note").unwrap().path, "/users/tony%40contoso.com/sendMail");

    let state = RefCell::new(State::new());
    let t = Direct::new(&state, "tony-token");
    assert_eq!(deliver(&graph(), &t, &message("m1", "ana@contoso.com", "hello"), "IPM.Note.Microsoft.Missed"), Outcome::Delivered);
    let s = state.borrow();
    let ana: Vec<_> = s.items.iter().filter(|i| i.mailbox == "ana@contoso.com").collect();
    assert_eq!((ana.len(), ana[0].folder.as_str(), ana[0].item_class.as_str()), (1, "inbox", "IPM.Note.Microsoft.Missed"));
    assert_eq!(s.items.iter().filter(|i| i.mailbox == "tony@contoso.com").count(), 0, "no draft and no Sent Items copy");
}

#[test]
fn either_back_end_finds_what_either_sent_once() {
    let state = RefCell::new(State::new());
    let tony = Direct::new(&state, "tony-token");
    let (g, e) = (graph(), EwsMailbox::default());
    assert_eq!(deliver(&g, &tony, &message("by-graph", "ana@contoso.com", "sent through Graph"), "IPM.Note.Microsoft.Missed"), Outcome::Delivered);
    assert_eq!(deliver(&e, &tony, &message("by-ews", "ana@contoso.com", "sent through EWS"), "IPM.Note.Microsoft.Missed"), Outcome::Delivered);
    // An unknown outcome retried: the same message twice on the wire.
    assert_eq!(deliver(&g, &tony, &message("by-graph", "ana@contoso.com", "sent through Graph"), "IPM.Note.Microsoft.Missed"), Outcome::Delivered);
    let ana = Direct::new(&state, "ana-token");
    for (name, report) in [("graph", block_on(g.check_missed(&ana, None)).unwrap()), ("ews", block_on(e.check_missed(&ana, None)).unwrap())] {
        let mut ids: Vec<_> = report.conversations.iter().flat_map(|c| c.messages.iter().map(|m| m.message_id.clone())).collect();
        ids.sort();
        assert_eq!(ids, ["by-ews", "by-graph"], "{name}");
        assert_eq!((report.total, report.items_scanned), (2, 3), "{name}: three items, two messages");
        let graph_copy = report.conversations.iter().flat_map(|c| &c.messages).find(|m| m.message_id == "by-graph").unwrap();
        assert_eq!((graph_copy.text.as_str(), graph_copy.item_ids.len()), ("sent through Graph", 2), "{name}");
        assert_eq!(report.conversations.iter().find(|c| c.conversation_id == "conv-by-graph").unwrap().from_email, "tony@contoso.com");
    }
    // The first pages of the four listings went out in one $batch.
    let sent = ana.sent.borrow();
    let batch = sent.iter().find(|r| r.path == "/$batch").expect("a $batch");
    assert_eq!(serde_json::from_str::<serde_json::Value>(batch.body.as_deref().unwrap()).unwrap()["requests"].as_array().unwrap().len(), 4);
    drop(sent);
    // markSeen through Graph (batched PATCH isRead), then neither back end lists them.
    let report = block_on(g.check_missed(&ana, None)).unwrap();
    let ids: Vec<String> = report.conversations.iter().flat_map(|c| c.messages.iter().flat_map(|m| m.item_ids.clone())).chain(["AAMkAGI2-999999".to_string()]).collect();
    assert_eq!(block_on(g.mark_seen(&ana, &ids)).unwrap(), 3, "the unknown id is skipped");
    // Nine ids: batches of at most 4 (the server throttles a fifth parallel request, as Graph does).
    let before = ana.sent.borrow().len();
    let nine: Vec<String> = (0..9).map(|i| format!("AAMkAGI2-99990{i}")).collect();
    assert_eq!(block_on(g.mark_seen(&ana, &nine)).unwrap(), 0);
    assert_eq!(ana.sent.borrow().len() - before, 3, "4 + 4 + 1");
    assert_eq!(block_on(e.check_missed(&ana, None)).unwrap().total, 0);
    assert_eq!(block_on(g.check_missed(&ana, None)).unwrap().total, 0);
}

#[test]
fn federated_recipients_get_plain_mail_without_our_properties() {
    let state = RefCell::new(State::new());
    let tony = Direct::new(&state, "tony-token");
    assert_eq!(deliver(&graph(), &tony, &message("fed", "bob@fabrikam.com", "hello Bob"), "IPM.Note"), Outcome::Delivered);
    let s = state.borrow();
    let bob: Vec<_> = s.items.iter().filter(|i| i.mailbox == "bob@fabrikam.com").collect();
    assert_eq!((bob.len(), bob[0].item_class.as_str(), bob[0].extended.len()), (1, "IPM.Note", 0));
}

#[test]
fn record_missed_makes_an_unread_non_draft_item_both_back_ends_list() {
    let state = RefCell::new(State::new());
    let ana = Direct::new(&state, "ana-token");
    let m = MissedInput { id: "live-1".into(), conversation_id: "sam-ana".into(), from: MailboxAddress { email_address: "sam@contoso.com".into(), display_name: Some("Sam Lee".into()) }, text: "while presenting".into(), received_at: 1_795_000_000_000 };
    let id = block_on(graph().record_missed(&ana, &m)).unwrap();
    let item = state.borrow().items.iter().find(|i| i.id == id).cloned().unwrap();
    assert_eq!((item.folder.as_str(), item.is_draft, item.is_read, item.received_ms), ("conversationhistory", false, false, 1_795_000_000_000));
    assert_eq!(item.from.unwrap().email, "sam@contoso.com");
    for report in [block_on(graph().check_missed(&ana, None)).unwrap(), block_on(EwsMailbox::default().check_missed(&ana, None)).unwrap()] {
        assert_eq!(report.conversations[0].messages[0].message_id, "live-1");
        assert_eq!(report.conversations[0].from_name, "Sam Lee");
    }
}

/// A server that creates the missed item as a draft whatever it is asked (and records the DELETE).
struct DraftMaker(RefCell<Vec<String>>);
impl Transport for DraftMaker {
    async fn send(&self, r: &Request) -> Result<TransportReply, TransportError> {
        self.0.borrow_mut().push([r.method, " ", &r.path].concat());
        Ok(match r.method {
            "POST" => TransportReply::new(201, r#"{"id":"AAMk-draft","isDraft":true}"#),
            _ => TransportReply::new(204, ""),
        })
    }
}

#[test]
fn a_missed_item_created_as_a_draft_is_deleted_and_reported() {
    let t = DraftMaker(RefCell::default());
    let m = MissedInput { id: "x".into(), conversation_id: "c".into(), from: MailboxAddress { email_address: "sam@contoso.com".into(), display_name: None }, text: "t".into(), received_at: 0 };
    let e = block_on(graph().record_missed(&t, &m)).unwrap_err();
    assert_eq!(e.code(), "GraphError");
    assert!(e.to_string().contains("CreatedAsDraft") && e.to_string().contains("it was deleted"), "{e}");
    assert_eq!(*t.0.borrow(), ["POST /me/mailFolders/conversationhistory/messages", "DELETE /me/messages/AAMk-draft"]);
}

#[test]
fn paging_follows_next_links_under_the_base_url_only() {
    let state = RefCell::new(State::new());
    let tony = Direct::new(&state, "tony-token");
    for i in 0..230 {
        deliver(&graph(), &tony, &message(&format!("p{i:03}"), "ana@contoso.com", "page me"), "IPM.Note.Microsoft.Missed");
    }
    let ana = Direct::new(&state, "ana-token");
    let report = block_on(graph().check_missed(&ana, None)).unwrap();
    assert_eq!((report.total, report.items_scanned), (230, 230));
    assert_eq!(ana.sent.borrow().iter().filter(|r| r.path.contains("%24skip=") || r.path.contains("$skip=")).count(), 2, "pages 2 and 3 of the inbox listing");
    // A nextLink to another host is not followed.
    struct Elsewhere;
    impl Transport for Elsewhere {
        async fn send(&self, _: &Request) -> Result<TransportReply, TransportError> {
            let page = r#"{"value":[],"@odata.nextLink":"https://evil.example/v1.0/me/messages?$skip=10"}"#;
            let one = format!(r#"{{"id":"0","status":200,"body":{page}}}"#);
            Ok(TransportReply::new(200, format!(r#"{{"responses":[{one},{},{},{}]}}"#, one.replace("\"0\"", "\"1\""), one.replace("\"0\"", "\"2\""), one.replace("\"0\"", "\"3\""))))
        }
    }
    let e = block_on(graph().check_missed(&Elsewhere, None)).unwrap_err();
    assert!(e.to_string().contains("InvalidResponse") && e.to_string().contains("evil.example"), "{e}");
}

#[test]
fn the_classification_table() {
    let reply = |status: u16, body: &str, retry_after: Option<&str>| TransportReply { status, body: body.into(), retry_after: retry_after.map(str::to_string) };
    let err = |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"m","innerError":{{"request-id":"rid-1","date":"2026-11-28T12:00:00"}}}}}}"#);
    assert_eq!(classify(&reply(202, "", None), 0), Outcome::Delivered);
    let throttled = classify(&reply(429, &err("ApplicationThrottled").replace("\"m\"", "\"Application is over its MailboxConcurrency limit.\""), Some("7")), 0);
    assert!(matches!(&throttled, Outcome::Retry { code, back_off_ms: Some(7_000), http_status: 429, message } if code == "ApplicationThrottled" && message.contains("request-id rid-1")), "{throttled:?}");
    assert!(graph().is_concurrency_limit(&throttled));
    assert!(!graph().is_concurrency_limit(&classify(&reply(429, &err("TooManyRequests"), Some("7")), 0)), "other throttling only waits");
    assert!(!EwsMailbox::default().is_concurrency_limit(&throttled));
    let at = offline_im::ews::datetime::from_iso("2026-11-28T12:00:30Z").unwrap();
    assert!(matches!(classify(&reply(503, &err("ServiceNotAvailable"), Some("Sat, 28 Nov 2026 12:01:00 GMT")), at), Outcome::Retry { back_off_ms: Some(30_000), .. }));
    assert!(matches!(classify(&reply(504, "<html>gateway</html>", None), 0), Outcome::Retry { back_off_ms: None, ref code, .. } if code == "Http504"));
    for s in [500, 502, 408] {
        assert!(matches!(classify(&reply(s, "", None), 0), Outcome::Retry { .. }), "{s}");
    }
    assert!(matches!(classify(&reply(401, &err("InvalidAuthenticationToken"), None), 0), Outcome::AuthRequired { ref code, .. } if code == "InvalidAuthenticationToken"));
    assert!(matches!(classify(&reply(302, "", None), 0), Outcome::AuthRequired { ref code, .. } if code == "Redirect"));
    for (s, code) in [(400, "ErrorInvalidRecipients"), (403, "ErrorAccessDenied"), (404, "ErrorInvalidUser"), (413, "ErrorMessageSizeExceeded")] {
        assert!(matches!(classify(&reply(s, &err(code), None), 0), Outcome::Failed { permanent: true, code: ref c, .. } if c == code), "{s}");
    }
}

#[test]
fn batches_hold_one_to_twenty_and_answer_per_request() {
    let g = graph();
    let reqs: Vec<Request> = (0..21).map(|i| offline_im::graph::messages::mark_read_request(&g.user_path(), &format!("id{i}")).unwrap()).collect();
    assert_eq!(batch_request(&reqs).unwrap_err().code(), "InvalidInput");
    assert_eq!(batch_request(&[]).unwrap_err().code(), "InvalidInput");
    let b = batch_request(&reqs[..2]).unwrap();
    let v: serde_json::Value = serde_json::from_str(b.body.as_deref().unwrap()).unwrap();
    assert_eq!(v["requests"][1], serde_json::json!({ "id": "1", "method": "PATCH", "url": "/me/messages/id1", "headers": { "Content-Type": "application/json" }, "body": { "isRead": true } }));
    // Replies in any order, each with its own status and Retry-After; a missing one is an error.
    let reply = TransportReply::new(200, r#"{"responses":[{"id":"1","status":429,"headers":{"Retry-After":"3"},"body":{"error":{"code":"ApplicationThrottled","message":"x"}}},{"id":"0","status":200,"body":{"id":"a"}}]}"#);
    let parsed = parse_batch(&reply, 2).unwrap();
    assert_eq!((parsed[0].status, parsed[1].status, parsed[1].retry_after.as_deref()), (200, 429, Some("3")));
    assert!(parse_batch(&reply, 3).unwrap_err().contains("no response for request 2"));
    // The server runs each request of a batch on its own.
    let state = RefCell::new(State::new());
    let ana = Direct::new(&state, "ana-token");
    let out = block_on(ana.send(&b)).unwrap();
    assert_eq!(parse_batch(&out, 2).unwrap().iter().map(|r| r.status).collect::<Vec<_>>(), [404, 404]);
    // Like Graph, it runs a batch's requests in parallel: a fifth to one mailbox is throttled.
    let five = block_on(ana.send(&batch_request(&reqs[..5]).unwrap())).unwrap();
    let statuses: Vec<u16> = parse_batch(&five, 5).unwrap().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [404, 404, 404, 404, 429]);
    // dependsOn sequences requests (not counted as parallel) and fails dependents of a failure.
    let chained = r#"{"requests":[{"id":"a","method":"GET","url":"/me/mailFolders/inbox/messages"},{"id":"b","method":"PATCH","url":"/me/messages/none","dependsOn":["a"],"headers":{"Content-Type":"application/json"},"body":{"isRead":true}},{"id":"c","method":"GET","url":"/me/mailFolders/inbox/messages","dependsOn":["b"]}]}"#;
    let out = block_on(ana.send(&Request { method: "POST", path: "/$batch".into(), headers: vec![("Content-Type", "application/json".into())], body: Some(chained.into()) })).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out.body).unwrap();
    assert_eq!(v["responses"].as_array().unwrap().iter().map(|r| r["status"].as_u64().unwrap()).collect::<Vec<_>>(), [200, 404, 424]);
}

#[test]
fn the_server_refuses_what_graph_refuses() {
    let state = RefCell::new(State::new());
    let call = |token: &str, method: &str, path: &str, ct: Option<&str>, body: &str| ews_server::graph::handle(&mut state.borrow_mut(), token, method, path, ct, None, body, BASE, &mut || None);
    assert_eq!(call("nobody", "GET", "/me/mailFolders/inbox/messages", None, "").status, 401);
    assert_eq!(call("tony-token", "POST", "/me/sendMail", Some("text/plain"), "{}").status, 400);
    let r = call("tony-token", "GET", "/me/mailFolders/inbox/messages?$filter=subject%20eq%20%27x%27", None, "");
    assert!(r.status == 400 && r.body.contains("Invalid filter clause"), "{r:?}");
    assert_eq!(call("tony-token", "POST", "/users/ana@contoso.com/sendMail", Some("application/json"), "{}").status, 403, "another user's mailbox needs an app-only token");
    let svc = call("svc-token", "POST", "/users/ana%40contoso.com/sendMail", Some("application/json"), r#"{"message":{"subject":"s","toRecipients":[{"emailAddress":{"address":"tony@contoso.com"}}]},"saveToSentItems":false}"#);
    assert_eq!(svc.status, 202, "{svc:?}");
    assert_eq!(call("tony-token", "POST", "/me/sendMail", Some("application/json"), r#"{"message":{"toRecipients":[]}}"#).body.contains("ErrorInvalidRecipients"), true);
    assert!(call("tony-token", "POST", "/me/sendMail", Some("application/json"), r#"{"message":{"bogus":1}}"#).body.contains("RequestBodyRead"));
}

/// Counts requests in flight (each yields once before it answers) and answers the first one
/// 429 `ApplicationThrottled` `MailboxConcurrency`, the rest 202.
struct Busy {
    now: std::cell::Cell<usize>,
    max_after_429: std::cell::Cell<usize>,
    requests: std::cell::Cell<usize>,
    throttled: std::cell::Cell<bool>,
}
struct YieldOnce(bool);
impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}
impl Transport for Busy {
    async fn send(&self, _: &Request) -> Result<TransportReply, TransportError> {
        self.now.set(self.now.get() + 1);
        if self.throttled.get() {
            self.max_after_429.set(self.max_after_429.get().max(self.now.get()));
        }
        YieldOnce(false).await;
        self.now.set(self.now.get() - 1);
        self.requests.set(self.requests.get() + 1);
        if self.requests.get() == 1 {
            self.throttled.set(true);
            return Ok(TransportReply { status: 429, body: r#"{"error":{"code":"ApplicationThrottled","message":"Application is over its MailboxConcurrency limit."}}"#.into(), retry_after: None });
        }
        Ok(TransportReply::new(202, ""))
    }
}

#[test]
fn the_mailbox_concurrency_limit_lowers_concurrency_at_once() {
    use offline_im::spool::{Clock, MemoryStore, NewMessage, RetryPolicy, Spool, SpoolConfig, State as S};
    struct Fixed;
    impl Clock for Fixed {
        fn now_ms(&self) -> u64 {
            1_000
        }
    }
    let config = SpoolConfig { mailbox: graph(), retry: RetryPolicy::default(), concurrency: 4, owner: "tab".into(), sender: "tony@contoso.com".into() };
    let spool = Spool::new(MemoryStore::default(), config);
    for i in 0..12 {
        let m = NewMessage { id: format!("m{i}"), conversation_id: Some(format!("c{i}")), to: MailboxAddress { email_address: "ana@contoso.com".into(), display_name: None }, to_sip_address: None, text: "t".into(), subject: None, item_class: "IPM.Note.Microsoft.Missed".into() };
        block_on(spool.enqueue(spool.new_record(m, 1_000).unwrap())).unwrap();
    }
    let t = Busy { now: Default::default(), max_after_429: Default::default(), requests: Default::default(), throttled: Default::default() };
    block_on(spool.process_due(&t, &Fixed, &|_| {})).unwrap();
    let records = block_on(spool.pending()).unwrap();
    assert_eq!(records.iter().map(|r| (r.id.as_str(), r.state)).collect::<Vec<_>>(), [("m0", S::Queued)], "only the throttled one waits");
    assert!(t.max_after_429.get() <= 2, "after the 429 at most 2 in flight (was 4): {}", t.max_after_429.get());
}
