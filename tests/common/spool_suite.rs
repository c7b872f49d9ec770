//! One test suite for every spool store: the store contract and the engine's behaviour on top of
//! it. Runs natively on `MemoryStore` (tests/spool.rs) and in Chrome and Firefox on the IndexedDB
//! store (tests/web_spool.rs). No threads, processes or files: it must run in a browser.
#![allow(dead_code)]

use offline_im::ews::{Envelope, EnvelopeOptions, MailboxAddress};
use offline_im::spool::*;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub const SUCCESS: &str = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:CreateItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages><m:CreateItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items/></m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>"#;
pub const BUSY_5000: &str = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorServerBusy</faultcode><faultstring>The server cannot service this request right now. Try again later.</faultstring><detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">ErrorServerBusy</e:ResponseCode><e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">The server cannot service this request right now. Try again later.</e:Message><t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="BackOffMilliseconds">500000</t:Value></t:MessageXml></detail></s:Fault></s:Body></s:Envelope>"#;
pub const NO_MAILBOX: &str = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:CreateItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages><m:CreateItemResponseMessage ResponseClass="Error"><m:MessageText>The SMTP address has no mailbox associated with it.</m:MessageText><m:ResponseCode>ErrorNonExistentMailbox</m:ResponseCode></m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>"#;

/// A clock the test moves by hand.
#[derive(Default)]
pub struct FakeClock(pub Cell<u64>);
impl Clock for FakeClock {
    fn now_ms(&self) -> u64 {
        self.0.get()
    }
}
impl FakeClock {
    pub fn at(ms: u64) -> Self {
        FakeClock(Cell::new(ms))
    }
    pub fn advance(&self, ms: u64) {
        self.0.set(self.0.get() + ms)
    }
}

/// Yields to the executor once, so concurrent spools interleave at the "network".
struct YieldOnce(bool);
impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A scripted EWS endpoint: replies from a queue (then Success), counting deliveries per message id.
#[derive(Default)]
pub struct FakeEws {
    pub script: RefCell<VecDeque<(u16, String)>>,
    pub requests: RefCell<Vec<String>>,
    pub delivered: RefCell<BTreeMap<String, u32>>,
}
impl FakeEws {
    pub fn reply(&self, status: u16, body: &str) -> &Self {
        self.script.borrow_mut().push_back((status, body.to_string()));
        self
    }
    pub fn delivered_count(&self, id: &str) -> u32 {
        self.delivered.borrow().get(id).copied().unwrap_or(0)
    }
}
fn message_id(xml: &str) -> String {
    // The first t:Value is the OfflineImMessageId property (envelope shape is tested elsewhere).
    xml.split("<t:Value>").nth(1).and_then(|s| s.split("</t:Value>").next()).unwrap_or_default().to_string()
}
impl Transport for FakeEws {
    async fn post(&self, envelope: &Envelope) -> TransportReply {
        YieldOnce(false).await;
        self.requests.borrow_mut().push(envelope.xml.clone());
        let (status, body) = self.script.borrow_mut().pop_front().unwrap_or((200, SUCCESS.to_string()));
        if status == 200 && body == SUCCESS {
            *self.delivered.borrow_mut().entry(message_id(&envelope.xml)).or_default() += 1;
        }
        TransportReply { status, body }
    }
}

pub fn config(owner: &str) -> SpoolConfig {
    SpoolConfig { envelope: EnvelopeOptions::default(), retry: RetryPolicy::default(), concurrency: 4, owner: owner.into() }
}

pub fn new_message(id: &str, conversation: &str, text: &str) -> NewMessage {
    NewMessage {
        id: id.into(),
        conversation_id: Some(conversation.into()),
        to: MailboxAddress { email_address: "ana@contoso.com".into(), display_name: Some("Ana".into()) },
        to_sip_address: Some("sip:ana@contoso.com".into()),
        text: text.into(),
        subject: None,
        item_class: "IPM.Note.Microsoft.Missed".into(),
    }
}

pub async fn accept<S: SpoolStore>(spool: &Spool<S>, id: &str, conversation: &str, clock: &FakeClock) -> SpoolRecord {
    let r = spool.new_record(new_message(id, conversation, &format!("text of {id}")), clock.now_ms()).expect("valid message");
    let (stored, new) = spool.enqueue(r).await.expect("enqueued");
    assert!(new);
    stored
}

/// The store contract.
pub async fn store_contract<S: SpoolStore>(store: S) {
    let spool = Spool::new(&store, config("a"));
    let clock = FakeClock::at(1_000);
    let r = spool.new_record(new_message("m1", "c1", "hello"), clock.now_ms()).unwrap();
    assert!(store.insert(&r).await.unwrap());
    assert!(!store.insert(&r).await.unwrap(), "insert of an existing id writes nothing");
    assert_eq!(store.get("m1").await.unwrap().as_ref(), Some(&r));
    assert_eq!(store.get("nope").await.unwrap(), None);
    let updated = store.update("m1", &mut |x| { x.attempts = 7; true }).await.unwrap().unwrap();
    assert_eq!(updated.attempts, 7);
    assert_eq!(store.update("m1", &mut |_| false).await.unwrap(), None, "unchanged");
    assert_eq!(store.update("nope", &mut |_| true).await.unwrap(), None);
    assert_eq!(store.get("m1").await.unwrap().unwrap().attempts, 7);
    let r2 = spool.new_record(new_message("m2", "c1", "second"), clock.now_ms()).unwrap();
    assert!(store.insert(&r2).await.unwrap());
    let mut ids: Vec<String> = store.all().await.unwrap().into_iter().map(|r| r.id).collect();
    ids.sort();
    assert_eq!(ids, ["m1", "m2"]);
    assert!(store.delete("m1").await.unwrap());
    assert!(!store.delete("m1").await.unwrap());
    assert_eq!(store.all().await.unwrap().len(), 1);
    // Text survives storage byte for byte, including characters XML cannot carry.
    let odd = spool.new_record(new_message("m3", "c3", "é 😀 \u{0} </t:Body>"), 1).unwrap();
    store.insert(&odd).await.unwrap();
    assert_eq!(store.get("m3").await.unwrap().unwrap().text, "é 😀 \u{0} </t:Body>");
}

/// A queued message is delivered on the first pass, with events in order.
pub async fn delivers_and_emits<S: SpoolStore>(store: S) {
    let spool = Spool::new(store, config("a"));
    let clock = FakeClock::at(10_000);
    let ews = FakeEws::default();
    accept(&spool, "m1", "c1", &clock).await;
    let events: RefCell<Vec<(String, String)>> = RefCell::new(Vec::new());
    let made = spool.process_due(&ews, &clock, &|e| events.borrow_mut().push((e.name().to_string(), e.detail().record.id.clone()))).await.unwrap();
    assert_eq!(made, 1);
    assert_eq!(*events.borrow(), [("sending".to_string(), "m1".to_string()), ("delivered".into(), "m1".into())]);
    assert_eq!(ews.delivered_count("m1"), 1);
    let r = spool.store.get("m1").await.unwrap().unwrap();
    assert_eq!((r.state, r.attempts, r.settled_at), (State::Delivered, 1, Some(10_000)));
    assert!(spool.pending().await.unwrap().is_empty());
    // Sending the same id again is recognised: no second delivery.
    let again = spool.new_record(new_message("m1", "c1", "again"), clock.now_ms()).unwrap();
    let (stored, new) = spool.enqueue(again).await.unwrap();
    assert!(!new);
    assert_eq!(stored.state, State::Delivered);
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 0);
}

/// ErrorServerBusy with BackOffMilliseconds delays the retry by at least that much.
pub async fn server_busy_backoff<S: SpoolStore>(store: S) {
    let spool = Spool::new(store, config("a"));
    let clock = FakeClock::at(1_000_000);
    let ews = FakeEws::default();
    ews.reply(500, BUSY_5000);
    accept(&spool, "m1", "c1", &clock).await;
    let events: RefCell<Vec<(String, String)>> = RefCell::new(Vec::new());
    spool.process_due(&ews, &clock, &|e| events.borrow_mut().push((e.name().to_string(), serde_json_free(&e)))).await.unwrap();
    assert_eq!(events.borrow()[1].0, "retrying");
    let r = spool.store.get("m1").await.unwrap().unwrap();
    assert_eq!((r.state, r.attempts), (State::Queued, 1));
    assert_eq!(r.next_attempt_at, 1_000_000 + 500_000, "BackOffMilliseconds (500 s) beats the 2-minute interval");
    assert_eq!(r.last_error.as_ref().unwrap().code, "ErrorServerBusy");
    // The two-minute tick is not enough; the backoff is.
    clock.advance(120_000);
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 0);
    clock.advance(380_000);
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 1);
    assert_eq!(spool.store.get("m1").await.unwrap().unwrap().state, State::Delivered);
    assert_eq!(ews.requests.borrow().len(), 2);
}

fn serde_json_free(e: &SpoolEvent) -> String {
    match e {
        SpoolEvent::Settled(_, Settled::Retrying { next_attempt_at, .. }) => next_attempt_at.to_string(),
        _ => String::new(),
    }
}

/// A permanent error marks the message failed (kept), and the next message of the conversation still goes.
pub async fn permanent_failure_does_not_block<S: SpoolStore>(store: S) {
    let spool = Spool::new(store, config("a"));
    let clock = FakeClock::at(5_000);
    let ews = FakeEws::default();
    ews.reply(200, NO_MAILBOX);
    accept(&spool, "m1", "c1", &clock).await;
    accept(&spool, "m2", "c1", &clock).await;
    let names = RefCell::new(Vec::new());
    spool.process_due(&ews, &clock, &|e| names.borrow_mut().push(format!("{}:{}", e.name(), e.detail().record.id))).await.unwrap();
    assert_eq!(*names.borrow(), ["sending:m1", "failed:m1", "sending:m2", "delivered:m2"], "in order, m2 after m1 settled");
    let failed = spool.store.get("m1").await.unwrap().unwrap();
    assert_eq!((failed.state, failed.last_error.unwrap().code.as_str()), (State::Failed, "ErrorNonExistentMailbox"));
    let pending: Vec<String> = spool.pending().await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(pending, ["m1"], "a failed message stays in the spool");
    // retry() makes it due again with fresh attempts; discard() removes it.
    let r = spool.retry("m1", clock.now_ms()).await.unwrap();
    assert_eq!((r.state, r.attempts), (State::Queued, 0));
    spool.discard("m1", clock.now_ms()).await.unwrap();
    assert_eq!(spool.retry("m1", 0).await.unwrap_err().code(), "UnknownMessage");
}

/// Two spools (two tabs) on one store: each message goes out exactly once.
pub async fn two_spools_deliver_once<S: SpoolStore>(store_a: S, store_b: S) {
    let a = Spool::new(store_a, config("tab-a"));
    let b = Spool::new(store_b, config("tab-b"));
    let clock = FakeClock::at(50_000);
    let ews = FakeEws::default();
    for i in 0..12 {
        accept(if i % 2 == 0 { &a } else { &b }, &format!("m{i}"), &format!("c{}", i % 3), &clock).await;
    }
    let (ra, rb) = futures_util::future::join(a.process_due(&ews, &clock, &|_| {}), b.process_due(&ews, &clock, &|_| {})).await;
    assert_eq!(ra.unwrap() + rb.unwrap(), 12, "12 attempts in all");
    for i in 0..12 {
        assert_eq!(ews.delivered_count(&format!("m{i}")), 1, "m{i} delivered exactly once");
    }
    assert_eq!(ews.requests.borrow().len(), 12);
}

/// A sender that vanished mid-send (reload) leaves a lease; after it expires the message is sent again.
pub async fn expired_lease_is_taken_over<S: SpoolStore>(store: S) {
    let spool = Spool::new(store, config("new-tab"));
    let clock = FakeClock::at(1_000);
    accept(&spool, "m1", "c1", &clock).await;
    let policy = RetryPolicy::default();
    spool.store.update("m1", &mut |r| machine::claim(r, "old-tab", 1_000, &policy)).await.unwrap().unwrap();
    let ews = FakeEws::default();
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 0, "lease still held");
    clock.advance(policy.lease_ms);
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 1);
    let r = spool.store.get("m1").await.unwrap().unwrap();
    assert_eq!((r.state, r.attempts), (State::Delivered, 2));
}
