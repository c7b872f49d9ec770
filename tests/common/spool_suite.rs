//! One test suite for every spool store: the store contract and the engine's behaviour on top of
//! it. Runs natively on `MemoryStore` (tests/spool.rs) and in Chrome and Firefox on the IndexedDB
//! store (tests/web_spool.rs). No threads, processes or files: it must run in a browser.
#![allow(dead_code)]

use offline_im::ews::{EwsMailbox, MailboxAddress};
use offline_im::mailbox::Request;
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
/// A scripted reply of status 0 with body `timeout`, `token` or `contract` is that
/// [`TransportError`] instead of a reply.
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
    async fn send(&self, request: &Request) -> Result<TransportReply, TransportError> {
        let xml = request.body.clone().unwrap_or_default();
        YieldOnce(false).await;
        let (status, body) = self.script.borrow_mut().pop_front().unwrap_or((200, SUCCESS.to_string()));
        match (status, body.as_str()) {
            (0, "token") => return Err(TransportError::TokenUnavailable("rejected: signed out".into())),
            (0, "token-timeout") => return Err(TransportError::TokenTimeout(100)),
            _ => {}
        }
        self.requests.borrow_mut().push(xml.clone());
        match (status, body.as_str()) {
            (0, "timeout") => return Err(TransportError::Timeout(1_000)),
            (0, "contract") => return Err(TransportError::Contract("status is \"abc\", not an HTTP status".into())),
            (0, _) => return Err(TransportError::NoReply("Failed to fetch".into())),
            _ => {}
        }
        if status == 200 && body == SUCCESS {
            *self.delivered.borrow_mut().entry(message_id(&xml)).or_default() += 1;
        }
        Ok(TransportReply::new(status, body))
    }
}

pub const TONY: &str = "tony@contoso.com";
pub const SAM: &str = "sam@contoso.com";

/// Settings of a spool instance `owner` (a tab) of Tony's.
pub fn config(owner: &str) -> SpoolConfig<EwsMailbox> {
    config_for(owner, TONY)
}

/// Settings of a spool instance `owner` of `sender`'s.
pub fn config_for(owner: &str, sender: &str) -> SpoolConfig<EwsMailbox> {
    SpoolConfig { mailbox: EwsMailbox::default(), retry: RetryPolicy::default(), concurrency: 4, owner: owner.into(), sender: sender.into() }
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

pub async fn accept<S: SpoolStore>(spool: &Spool<S, EwsMailbox>, id: &str, conversation: &str, clock: &FakeClock) -> SpoolRecord {
    let r = spool.new_record(new_message(id, conversation, &format!("text of {id}")), clock.now_ms()).expect("valid message");
    let (stored, new) = spool.enqueue(r).await.expect("enqueued");
    assert!(new);
    stored
}

/// The store contract.
pub async fn store_contract<S: SpoolStore>(store: S) {
    let spool = Spool::new(&store, config("a"));
    let clock = FakeClock::at(1_000);
    let mut r = spool.new_record(new_message("m1", "c1", "hello"), clock.now_ms()).unwrap();
    let seq1 = store.insert(&r).await.unwrap().expect("inserted");
    assert_eq!(store.insert(&r).await.unwrap(), None, "insert of an existing id writes nothing");
    r.seq = seq1;
    assert_eq!(store.get("m1").await.unwrap().as_ref(), Some(&r), "stored as given, with the store's seq");
    assert_eq!(store.get("nope").await.unwrap(), None);
    let updated = store.update("m1", &mut |x| { x.attempts = 7; true }).await.unwrap().unwrap();
    assert_eq!(updated.attempts, 7);
    assert_eq!(store.update("m1", &mut |_| false).await.unwrap(), None, "unchanged");
    assert_eq!(store.update("nope", &mut |_| true).await.unwrap(), None);
    assert_eq!(store.get("m1").await.unwrap().unwrap().attempts, 7);
    let r2 = spool.new_record(new_message("m2", "c1", "second"), clock.now_ms()).unwrap();
    let seq2 = store.insert(&r2).await.unwrap().expect("inserted");
    assert!(seq2 > seq1, "seq increases: {seq1} then {seq2}");
    // Another sender's record: same store, not listed for Tony, and it takes the next seq.
    let sams = Spool::new(&store, config_for("s", SAM));
    let r3 = sams.new_record(new_message("s1", "c1", "sam's"), clock.now_ms()).unwrap();
    assert!(store.insert(&r3).await.unwrap().expect("inserted") > seq2);
    let mut ids: Vec<String> = store.all(TONY).await.unwrap().into_iter().map(|r| r.id).collect();
    ids.sort();
    assert_eq!(ids, ["m1", "m2"]);
    assert_eq!(store.all(SAM).await.unwrap().into_iter().map(|r| r.id).collect::<Vec<_>>(), ["s1"]);
    assert!(store.delete("m1").await.unwrap());
    assert!(!store.delete("m1").await.unwrap());
    assert_eq!(store.all(TONY).await.unwrap().len(), 1);
    // A seq is never handed out twice, even after the record holding the highest is deleted
    // while others remain: the next one is above every stored record.
    assert!(store.delete("s1").await.unwrap());
    let r4 = spool.new_record(new_message("m4", "c1", "after"), clock.now_ms()).unwrap();
    assert!(store.insert(&r4).await.unwrap().expect("inserted") > seq2);
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
    spool.store.update("m1", &mut |r| machine::claim(r, TONY, "old-tab", 1_000, &policy)).await.unwrap().unwrap();
    let ews = FakeEws::default();
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 0, "lease still held");
    clock.advance(policy.lease_ms);
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 1);
    let r = spool.store.get("m1").await.unwrap().unwrap();
    assert_eq!((r.state, r.attempts), (State::Delivered, 2));
}

/// Issue 11.1: two senders on one store. Each lists, sends, retries and discards only its own
/// records; the other's stay intact; an id of the other's cannot be reused or looked at.
pub async fn senders_see_only_their_own<S: SpoolStore>(store_tony: S, store_sam: S) {
    let tony = Spool::new(store_tony, config_for("tab-t", "Tony@Contoso.com "));
    let sam = Spool::new(store_sam, config_for("tab-s", SAM));
    assert_eq!(tony.sender(), TONY, "normalised: trimmed, lower-cased");
    let clock = FakeClock::at(10_000);
    let ews = FakeEws::default();
    ews.reply(503, "").reply(503, "");
    accept(&tony, "t1", "c1", &clock).await;
    accept(&tony, "t2", "c2", &clock).await;
    // Tony's round: both get 503 and stay queued.
    tony.process_due(&ews, &clock, &|_| {}).await.unwrap();
    assert_eq!(ews.requests.borrow().len(), 2);
    // Sam opens the same spool: sees nothing of Tony's, sends nothing of Tony's.
    assert!(sam.pending().await.unwrap().is_empty(), "Sam's pending() lists none of Tony's texts");
    clock.advance(10 * 60_000);
    sam.make_all_due(clock.now_ms()).await.unwrap();
    let events = RefCell::new(Vec::new());
    assert_eq!(sam.process_due(&ews, &clock, &|e| events.borrow_mut().push(e.detail().record.id.clone())).await.unwrap(), 0);
    assert!(events.borrow().is_empty(), "no event about Tony's records");
    assert_eq!(ews.requests.borrow().len(), 2, "Sam's flush sent nothing");
    for (call, code) in [(sam.retry("t1", clock.now_ms()).await, "UnknownMessage"), (sam.discard("t1", clock.now_ms()).await, "UnknownMessage")] {
        assert_eq!(call.unwrap_err().code(), code);
    }
    let reuse = sam.new_record(new_message("t1", "c9", "sam reuses the id"), clock.now_ms()).unwrap();
    let err = sam.enqueue(reuse).await.unwrap_err();
    assert_eq!(err.code(), "InvalidInput");
    assert!(!err.to_string().contains("text of t1"), "{err}");
    // Sam's own message goes out From Sam, and Tony's records are intact.
    accept(&sam, "s1", "c1", &clock).await;
    assert_eq!(sam.process_due(&ews, &clock, &|_| {}).await.unwrap(), 1);
    assert!(ews.requests.borrow()[2].contains("s1"));
    let t1 = tony.store.get("t1").await.unwrap().unwrap();
    assert_eq!((t1.sender.as_str(), t1.state, t1.attempts, t1.text.as_str()), (TONY, State::Queued, 1, "text of t1"));
    // Tony gets his back.
    tony.make_all_due(clock.now_ms()).await.unwrap();
    assert_eq!(tony.process_due(&ews, &clock, &|_| {}).await.unwrap(), 2);
    assert_eq!((ews.delivered_count("t1"), ews.delivered_count("t2"), ews.delivered_count("s1")), (1, 1, 1));
}

/// Issue 11.3: order within a conversation comes from the store's seq. The clock is set back a
/// day while m1 is retrying: m2, accepted "earlier", still goes after m1, and m1 is due on its
/// own schedule, not in 24 h.
pub async fn clock_set_back_keeps_order<S: SpoolStore>(store: S) {
    let spool = Spool::new(store, config("a"));
    let day = 86_400_000;
    let clock = FakeClock::at(10 * day);
    let ews = FakeEws::default();
    ews.reply(503, "");
    accept(&spool, "m1", "c1", &clock).await;
    spool.process_due(&ews, &clock, &|_| {}).await.unwrap();
    let m1 = spool.store.get("m1").await.unwrap().unwrap();
    assert_eq!(m1.state, State::Queued);
    clock.0.set(clock.now_ms() - day); // set back one day
    accept(&spool, "m2", "c1", &clock).await;
    let order = RefCell::new(Vec::new());
    let made = spool.process_due(&ews, &clock, &|e| if e.name() == "delivered" { order.borrow_mut().push(e.detail().record.id.clone()) }).await.unwrap();
    assert_eq!(made, 2, "m1 is due at once: its due time lies further ahead than any backoff");
    assert_eq!(*order.borrow(), ["m1", "m2"]);
}

/// Issue 11.4: an auth failure stops the round (every other request would fail the same way),
/// backs the message off, and does not use up attempts; nothing else is sent in that round.
pub async fn auth_failure_halts_the_round<S: SpoolStore>(store: S) {
    let spool = Spool::new(Counting::new(store), SpoolConfig { concurrency: 1, ..config("a") });
    let clock = FakeClock::at(1_000);
    let ews = FakeEws::default();
    ews.reply(401, "");
    for i in 0..5 {
        accept(&spool, &format!("m{i}"), &format!("c{i}"), &clock).await;
    }
    let names = RefCell::new(Vec::new());
    spool.process_due(&ews, &clock, &|e| names.borrow_mut().push(format!("{}:{}", e.name(), e.detail().record.id))).await.unwrap();
    assert_eq!(*names.borrow(), ["sending:m0", "authrequired:m0"], "one request, then the round stops");
    assert_eq!(ews.requests.borrow().len(), 1);
    assert_eq!(spool.store.batch_updates.get(), 6, "claim m0, claim m1 and m2 while m0 is on the wire, settle m0, give m1 and m2 back: nothing claimed after the halt");
    let m0 = spool.store.get("m0").await.unwrap().unwrap();
    assert_eq!((m0.state, m0.attempts, m0.auth_failures, m0.next_attempt_at), (State::Queued, 0, 1, 1_000 + 120_000));
    // The waves of m1 and m2 were claimed while m0 was on the wire (wave.rs); the halted round
    // gave them back as they were, without an event.
    for id in ["m1", "m2"] {
        let r = spool.store.get(id).await.unwrap().unwrap();
        assert_eq!((r.state, r.attempts, r.lease_owner.as_deref(), r.lease_until), (State::Queued, 0, None, 0), "{id}: the claimed waves are released");
    }
    // A token the app could not give: authrequired with the cause, and nothing on the wire.
    clock.advance(120_000);
    spool.store.update("m0", &mut |r| { r.next_attempt_at = 0; true }).await.unwrap();
    ews.reply(0, "token");
    let details = RefCell::new(Vec::new());
    spool.process_due(&ews, &clock, &|e| if let SpoolEvent::Settled(_, s) = e { details.borrow_mut().push(s) }).await.unwrap();
    assert!(matches!(&details.borrow()[0], Settled::AuthRequired { code, message, .. } if code == "TokenUnavailable" && message.contains("signed out")), "{:?}", details.borrow());
    assert_eq!(ews.requests.borrow().len(), 1, "no request without the token");
}

/// Issue 11.2 and 11.5: a timeout retries with its own code; a transport that breaks its
/// contract fails the message visibly (its outcome is unknown; a retry could deliver it twice),
/// and the next message of the conversation goes on.
pub async fn transport_failures_are_typed<S: SpoolStore>(store: S) {
    let spool = Spool::new(store, config("a"));
    let clock = FakeClock::at(1_000);
    let ews = FakeEws::default();
    ews.reply(0, "timeout").reply(0, "contract").reply(0, "token-timeout");
    accept(&spool, "m1", "c1", &clock).await;
    accept(&spool, "m2", "c2", &clock).await;
    accept(&spool, "m3", "c2", &clock).await;
    accept(&spool, "m4", "c3", &clock).await;
    let settled = RefCell::new(Vec::new());
    spool.process_due(&ews, &clock, &|e| if let SpoolEvent::Settled(r, s) = e { settled.borrow_mut().push((r.id.clone(), s)) }).await.unwrap();
    let settled = settled.into_inner();
    let of = |id: &str| settled.iter().find(|(i, _)| i == id).map(|(_, s)| s.clone());
    assert!(matches!(of("m1"), Some(Settled::Retrying { ref code, .. }) if code == "Timeout"), "{settled:?}");
    assert!(matches!(of("m2"), Some(Settled::Failed { ref code, permanent: false, ref message }) if code == "TransportContract" && message.contains("status")), "{settled:?}");
    assert!(matches!(of("m3"), Some(Settled::Delivered)), "the conversation goes on after a failed message: {settled:?}");
    assert!(matches!(of("m4"), Some(Settled::Retrying { ref code, .. }) if code == "TokenTimeout"), "{settled:?}");
}

/// A message that ran out of attempts stays in the store as failed, with its last error, until
/// the app retries or discards it; `retry` gives it a fresh budget and it is delivered.
pub async fn exhausted_messages_stay_in_the_store<S: SpoolStore>(store: S) {
    let mut cfg = config("a");
    cfg.retry.max_attempts = 2;
    let spool = Spool::new(store, cfg);
    let clock = FakeClock::at(1_000_000);
    let ews = FakeEws::default();
    ews.reply(503, "").reply(503, "");
    accept(&spool, "m1", "c1", &clock).await;
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 1);
    clock.advance(120_000);
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 1);
    clock.advance(3_600_000);
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 0, "a failed message is not sent again by itself");
    let kept = spool.store.get("m1").await.unwrap().expect("the failed message is kept in the store");
    assert_eq!((kept.state, kept.attempts, kept.text.as_str()), (State::Failed, 2, "text of m1"));
    assert_eq!(kept.last_error.as_ref().map(|e| e.code.as_str()), Some("MaxAttemptsExceeded"));
    assert_eq!(spool.pending().await.unwrap().iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["m1"], "listed by pending()");
    assert_eq!(spool.retry("m1", clock.now_ms()).await.unwrap().state, State::Queued);
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 1);
    assert_eq!((spool.store.get("m1").await.unwrap().unwrap().state, ews.delivered_count("m1")), (State::Delivered, 1));
}

/// A transport that counts requests in flight and holds each one for `pause()`.
pub struct Gauge<P> {
    pub pause: P,
    pub now: Cell<usize>,
    pub max: Cell<usize>,
    /// Subjects in the order their requests started.
    pub order: RefCell<Vec<String>>,
}
impl<P: Fn() -> F, F: Future<Output = ()>> Transport for Gauge<P> {
    async fn send(&self, request: &Request) -> Result<TransportReply, TransportError> {
        self.now.set(self.now.get() + 1);
        self.max.set(self.max.get().max(self.now.get()));
        let xml = request.body.as_deref().unwrap_or_default();
        let subject = &xml[xml.find("<t:Subject>").unwrap_or(0) + 11..xml.find("</t:Subject>").unwrap_or(0)];
        self.order.borrow_mut().push(subject.to_string());
        (self.pause)().await;
        self.now.set(self.now.get() - 1);
        Ok(TransportReply::new(200, SUCCESS))
    }
}

/// One pass sends ten conversations of three messages: each conversation in order, at most
/// `concurrency` (4) requests in flight and the bound used. `pause` holds a request: a few
/// executor turns natively, a timer in the browser (IndexedDB work runs between tasks).
pub async fn conversations_in_order_within_the_concurrency_bound<S: SpoolStore, P: Fn() -> F, F: Future<Output = ()>>(store: S, pause: P) {
    let spool = Spool::new(store, config("a"));
    let clock = FakeClock::at(100);
    for i in 0..30 {
        let conversation = format!("c{}", i % 10);
        spool.enqueue(spool.new_record(new_message(&format!("m{i}"), &conversation, &format!("{conversation}-{}", i / 10)), 100).unwrap()).await.unwrap();
    }
    let ews = Gauge { pause, now: Cell::new(0), max: Cell::new(0), order: RefCell::new(Vec::new()) };
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 30);
    assert_eq!(ews.max.get(), 4, "at most `concurrency` requests in flight, and the bound is used");
    let order = ews.order.borrow();
    for c in 0..10 {
        let sent: Vec<&String> = order.iter().filter(|t| t.starts_with(&format!("c{c}-"))).collect();
        assert_eq!(sent, [&format!("c{c}-0"), &format!("c{c}-1"), &format!("c{c}-2")], "conversation c{c} in order");
    }
    assert!(spool.pending().await.unwrap().is_empty());
}

/// A pause of a few executor turns (native runs of the suite).
pub async fn yield_a_few() {
    for _ in 0..3 {
        YieldOnce(false).await;
    }
}

/// Delivered records are kept `keep_ms` after delivery (a repeated send of the same id is
/// recognised and not delivered twice), then pruned; failed and queued records are never pruned,
/// and another sender's delivered records are not touched.
pub async fn delivered_records_are_pruned_after_keep_ms<S: SpoolStore>(store: S) {
    const WEEK: u64 = 7 * 24 * 3_600_000;
    let spool = Spool::new(store, config("a"));
    let clock = FakeClock::at(1_000_000);
    let ews = FakeEws::default();
    accept(&spool, "delivered", "c1", &clock).await;
    accept(&spool, "failed", "c2", &clock).await;
    ews.reply(200, SUCCESS).reply(200, NO_MAILBOX);
    spool.process_due(&ews, &clock, &|_| {}).await.unwrap();
    let sam = Spool::new(&spool.store, config_for("b", SAM));
    sam.enqueue(sam.new_record(new_message("sams", "c4", "t"), clock.now_ms()).unwrap()).await.unwrap();
    sam.process_due(&FakeEws::default(), &clock, &|_| {}).await.unwrap();
    assert_eq!(sam.store.get("sams").await.unwrap().unwrap().state, State::Delivered);
    clock.advance(WEEK);
    accept(&spool, "queued", "c3", &clock).await;

    assert_eq!(spool.prune(clock.now_ms() - 1, WEEK).await.unwrap(), 0, "a week less 1 ms after delivery: kept");
    let again = spool.new_record(new_message("delivered", "c1", "text of delivered"), clock.now_ms()).unwrap();
    assert!(!spool.enqueue(again).await.unwrap().1, "a repeated send of a kept id is recognised");
    assert_eq!(spool.prune(clock.now_ms(), WEEK).await.unwrap(), 1, "a week after delivery: pruned");
    assert!(spool.store.get("delivered").await.unwrap().is_none());
    for id in ["failed", "queued", "sams"] {
        assert!(spool.store.get(id).await.unwrap().is_some(), "{id} kept");
    }
    assert_eq!(sam.prune(clock.now_ms(), WEEK).await.unwrap(), 1, "Sam's own prune removes Sam's");
    assert!(spool.store.get("sams").await.unwrap().is_none());
    assert_eq!(ews.delivered_count("delivered"), 1);
}

/// A message waiting to be retried holds up the rest of its conversation: within one pass the
/// next message is not sent ahead of it, and both go, in order, once it is due.
pub async fn a_retrying_message_holds_up_its_conversation<S: SpoolStore>(store: S) {
    let spool = Spool::new(store, config("a"));
    let clock = FakeClock::at(1_000_000);
    let ews = FakeEws::default();
    ews.reply(503, "");
    accept(&spool, "m1", "c1", &clock).await;
    accept(&spool, "m2", "c1", &clock).await;
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 1, "m1 tried, m2 waits behind it");
    assert_eq!(spool.store.get("m2").await.unwrap().unwrap().attempts, 0);
    clock.advance(120_000);
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 2);
    let order: Vec<String> = ews.requests.borrow().iter().map(|x| message_id(x)).collect();
    assert_eq!(order, ["m1", "m1", "m2"]);
}

/// A gate one future waits at until another opens it (wakes the waiter; no polling, so it works
/// on any executor, including the browser's, where IndexedDB runs between tasks).
#[derive(Default)]
pub struct Gate {
    open: Cell<bool>,
    waker: RefCell<Option<std::task::Waker>>,
}
impl Gate {
    pub fn open(&self) {
        self.open.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
    pub fn wait(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.open.get() {
                Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// A transport whose one request opens `started`, then answers `reply` once `release` opens.
pub struct Held<'a> {
    pub started: &'a Gate,
    pub release: &'a Gate,
    pub reply: (u16, &'static str),
}
impl Transport for Held<'_> {
    async fn send(&self, _: &Request) -> Result<TransportReply, TransportError> {
        self.started.open();
        self.release.wait().await;
        Ok(TransportReply::new(self.reply.0, self.reply.1))
    }
}

/// Tab A's request outlives its lease; tab B (same sender) takes the message over. When A's
/// answer finally arrives: a failure must not overwrite B's delivery, and a delivery is recorded
/// even though B's attempt failed meanwhile (the mail went out).
pub async fn a_late_answer_after_a_takeover<S: SpoolStore>(store: S) {
    let lease = RetryPolicy::default().lease_ms;
    for (late, takeover, expected_events) in [((503, ""), (200, SUCCESS), 0), ((200, SUCCESS), (503, ""), 1)] {
        let a = Spool::new(&store, config("a"));
        let b = Spool::new(&store, config("b"));
        let clock = FakeClock::at(1_000_000);
        let id = if late.0 == 503 { "late-failure" } else { "late-delivery" };
        accept(&a, id, id, &clock).await;
        let (started, release) = (Gate::default(), Gate::default());
        let held = Held { started: &started, release: &release, reply: late };
        let a_events = RefCell::new(Vec::new());
        let record_a = |e: SpoolEvent| a_events.borrow_mut().push(e.name());
        let a_round = a.process_due(&held, &clock, &record_a);
        let b_round = async {
            started.wait().await;
            clock.advance(lease);
            let ews = FakeEws::default();
            ews.reply(takeover.0, takeover.1);
            assert_eq!(b.process_due(&ews, &clock, &|_| {}).await.unwrap(), 1, "{id}: B took the message over");
            release.open();
        };
        let (made, ()) = futures_util::future::join(a_round, b_round).await;
        assert_eq!(made.unwrap(), 1);
        let r = store.get(id).await.unwrap().unwrap();
        assert_eq!((r.state, r.attempts), (State::Delivered, 2), "{id}");
        let settled_by_a = a_events.borrow().iter().filter(|n| **n != "sending").count();
        assert_eq!(settled_by_a, expected_events, "{id}: A's settle events {:?}", a_events.borrow());
    }
}

/// Tab A's late failure arrives while tab B's takeover request is still in flight: A must leave
/// B's claim alone (re-queuing it would let a third attempt race B's), and B's delivery settles.
pub async fn a_late_failure_leaves_the_takeover_alone<S: SpoolStore>(store: S) {
    let a = Spool::new(&store, config("a"));
    let b = Spool::new(&store, config("b"));
    let clock = FakeClock::at(1_000_000);
    accept(&a, "m1", "c1", &clock).await;
    let gates: [Gate; 5] = Default::default();
    let [a_started, a_release, b_started, b_release, a_done] = &gates;
    let held_a = Held { started: a_started, release: a_release, reply: (503, "") };
    let held_b = Held { started: b_started, release: b_release, reply: (200, SUCCESS) };
    let a_round = async {
        let made = a.process_due(&held_a, &clock, &|_| {}).await;
        a_done.open();
        made
    };
    let b_round = async {
        a_started.wait().await;
        clock.advance(RetryPolicy::default().lease_ms);
        b.process_due(&held_b, &clock, &|_| {}).await
    };
    let control = async {
        b_started.wait().await;
        a_release.open();
        a_done.wait().await;
        let r = store.get("m1").await.unwrap().unwrap();
        assert_eq!((r.state, r.lease_owner.as_deref(), r.last_error), (State::Sending, Some("b"), None), "A's late 503 left B's claim alone");
        b_release.open();
    };
    let (made_a, made_b, ()) = futures_util::future::join3(a_round, b_round, control).await;
    assert_eq!((made_a.unwrap(), made_b.unwrap()), (1, 1));
    let r = store.get("m1").await.unwrap().unwrap();
    assert_eq!((r.state, r.attempts), (State::Delivered, 2));
}

/// What a scripted item of [`BatchEws`] answers.
#[derive(Clone, Copy)]
pub enum ItemReply {
    /// ErrorServerBusy with BackOffMilliseconds.
    Busy(u64),
    /// ErrorMessageSizeExceeded (permanent, that item only).
    TooLarge,
    /// ErrorMailboxStoreUnavailable: the later items of the request are Warning
    /// ErrorBatchProcessingStopped, as Exchange answers ("items that follow will not be processed").
    StoreUnavailable,
}

/// An EWS endpoint that answers a CreateItem item by item, in order: Success unless the message
/// id is scripted (once). Keeps each request's message ids and each store call.
#[derive(Default)]
pub struct BatchEws {
    pub script: RefCell<BTreeMap<String, ItemReply>>,
    pub requests: RefCell<Vec<Vec<String>>>,
}

impl Transport for BatchEws {
    async fn send(&self, request: &Request) -> Result<TransportReply, TransportError> {
        YieldOnce(false).await;
        let xml = request.body.clone().unwrap_or_default();
        let ids: Vec<String> = xml.split("<t:Message>").skip(1).map(message_id).collect();
        let mut body = String::from(r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:CreateItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages>"#);
        let mut stopped = false;
        for id in &ids {
            let item = if stopped { None } else { self.script.borrow_mut().remove(id) };
            body.push_str(&match (stopped, item) {
                (true, _) => r#"<m:CreateItemResponseMessage ResponseClass="Warning"><m:MessageText>Batch processing stopped.</m:MessageText><m:ResponseCode>ErrorBatchProcessingStopped</m:ResponseCode><m:Items/></m:CreateItemResponseMessage>"#.to_string(),
                (_, Some(ItemReply::Busy(ms))) => format!(r#"<m:CreateItemResponseMessage ResponseClass="Error"><m:MessageText>busy</m:MessageText><m:ResponseCode>ErrorServerBusy</m:ResponseCode><m:MessageXml><t:Value Name="BackOffMilliseconds">{ms}</t:Value></m:MessageXml><m:Items/></m:CreateItemResponseMessage>"#),
                (_, Some(ItemReply::TooLarge)) => r#"<m:CreateItemResponseMessage ResponseClass="Error"><m:MessageText>too large</m:MessageText><m:ResponseCode>ErrorMessageSizeExceeded</m:ResponseCode><m:Items/></m:CreateItemResponseMessage>"#.to_string(),
                (_, Some(ItemReply::StoreUnavailable)) => {
                    stopped = true;
                    r#"<m:CreateItemResponseMessage ResponseClass="Error"><m:MessageText>unavailable</m:MessageText><m:ResponseCode>ErrorMailboxStoreUnavailable</m:ResponseCode><m:Items/></m:CreateItemResponseMessage>"#.to_string()
                }
                (_, None) => r#"<m:CreateItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items/></m:CreateItemResponseMessage>"#.to_string(),
            });
        }
        body.push_str("</m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>");
        self.requests.borrow_mut().push(ids);
        Ok(TransportReply::new(200, body))
    }
}

/// A store that counts its calls, to show how many transactions a flush takes.
pub struct Counting<S> {
    pub inner: S,
    pub updates: Cell<u32>,
    pub batch_updates: Cell<u32>,
    /// Listings (`all`): one per pass of a round.
    pub reads: Cell<u32>,
    /// Each `update_many` (a claim or a settle of a wave) as it starts, `store <ids>`, and as it
    /// returns, `stored <ids>`.
    pub log: RefCell<Vec<String>>,
    /// `(n, line, times)`: the n-th `update_many` (from 0) returns, after its write, only once
    /// `line` is in the log `times` times ([`until_seen`]).
    pub hold: Option<(usize, &'static str, usize)>,
}

impl<S> Counting<S> {
    pub fn new(inner: S) -> Self {
        Counting { inner, updates: Cell::new(0), batch_updates: Cell::new(0), reads: Cell::new(0), log: RefCell::default(), hold: None }
    }
}

impl<S: SpoolStore> SpoolStore for Counting<S> {
    async fn get(&self, id: &str) -> offline_im::Result<Option<SpoolRecord>> {
        self.inner.get(id).await
    }
    async fn insert(&self, record: &SpoolRecord) -> offline_im::Result<Option<u64>> {
        self.inner.insert(record).await
    }
    async fn update(&self, id: &str, change: &mut dyn FnMut(&mut SpoolRecord) -> bool) -> offline_im::Result<Option<SpoolRecord>> {
        self.updates.set(self.updates.get() + 1);
        self.inner.update(id, change).await
    }
    async fn update_many(&self, ids: &[String], change: &mut dyn FnMut(usize, &mut SpoolRecord) -> bool) -> offline_im::Result<Vec<Option<SpoolRecord>>> {
        let n = self.batch_updates.get() as usize;
        self.batch_updates.set(self.batch_updates.get() + 1);
        self.log.borrow_mut().push(format!("store {}", ids.join(",")));
        let written = self.inner.update_many(ids, change).await;
        if let Some((_, line, times)) = self.hold.filter(|h| h.0 == n) {
            until_seen(&self.log, line, times).await;
        }
        self.log.borrow_mut().push(format!("stored {}", ids.join(",")));
        written
    }
    async fn delete(&self, id: &str) -> offline_im::Result<bool> {
        self.inner.delete(id).await
    }
    async fn all(&self, sender: &str) -> offline_im::Result<Vec<SpoolRecord>> {
        self.reads.set(self.reads.get() + 1);
        self.inner.all(sender).await
    }
}

/// Issue 14: one CreateItem carries up to `batchSize` messages; each item's reply settles its
/// own record (ErrorServerBusy waits its BackOffMilliseconds, ErrorMessageSizeExceeded fails,
/// ErrorMailboxStoreUnavailable retries and the items Exchange did not process are no attempt);
/// each request is claimed in one store transaction and settled in one.
pub async fn batches_settle_item_by_item<S: SpoolStore>(store: S) {
    let store = Counting::new(store);
    let spool = Spool::new(&store, SpoolConfig { mailbox: EwsMailbox { batch_size: 10, ..Default::default() }, concurrency: 1, ..config("a") });
    let clock = FakeClock::at(1_000);
    for i in 0..20 {
        accept(&spool, &format!("m{i:02}"), &format!("c{i:02}"), &clock).await;
    }
    let ews = BatchEws::default();
    ews.script.borrow_mut().extend([("m02".to_string(), ItemReply::Busy(300_000)), ("m04".into(), ItemReply::TooLarge), ("m15".into(), ItemReply::StoreUnavailable)]);
    let events = RefCell::new(Vec::new());
    let made = spool.process_due(&ews, &clock, &|e| if let SpoolEvent::Settled(r, s) = &e { events.borrow_mut().push((r.id.clone(), s.clone())) }).await.unwrap();
    let requests = ews.requests.borrow().clone();
    let first_ids: Vec<String> = (0..10).map(|i| format!("m{i:02}")).collect();
    let second_ids: Vec<String> = (10..20).map(|i| format!("m{i:02}")).collect();
    assert_eq!(requests[..2], [first_ids, second_ids], "10 messages per CreateItem, in the spool's order");
    assert_eq!(requests[2..], [(16..20).map(|i| format!("m{i:02}")).collect::<Vec<_>>()], "what Exchange did not process goes again at once");
    assert_eq!(made, 20, "16 attempts in the first pass (4 not processed), then those 4");
    let get = |id: &'static str| record(&store, id);
    let m02 = get("m02").await;
    assert_eq!((m02.state, m02.attempts, m02.next_attempt_at), (State::Queued, 1, 1_000 + 300_000), "its own BackOffMilliseconds");
    let m04 = get("m04").await;
    assert_eq!((m04.state, m04.last_error.map(|e| e.code)), (State::Failed, Some("ErrorMessageSizeExceeded".into())));
    let m15 = get("m15").await;
    assert_eq!((m15.state, m15.attempts, m15.next_attempt_at), (State::Queued, 1, 1_000 + 120_000));
    for id in ["m16", "m19"] {
        let r = get(id).await;
        assert_eq!((r.state, r.attempts), (State::Delivered, 1), "{id}: not processed is no attempt");
        assert!(events.borrow().iter().any(|(i, s)| i == id && matches!(s, Settled::Retrying { code, .. } if code == "NotAttempted")));
    }
    for id in ["m00", "m03", "m09", "m14"] {
        assert_eq!(get(id).await.state, State::Delivered, "{id}");
    }
    assert_eq!(store.updates.get(), 0, "no per-message transaction");
    assert_eq!(store.batch_updates.get(), 6, "3 requests, each claimed in one transaction and settled in one");
}

async fn record<S: SpoolStore>(store: &S, id: &str) -> SpoolRecord {
    store.get(id).await.unwrap().unwrap()
}

/// Issue 14: a request never holds two messages of one conversation (Exchange does not document
/// that a batch's items reach the mailbox in order), and each conversation is delivered in
/// order, round by round, while different conversations share requests.
pub async fn a_conversation_is_never_twice_in_one_ews_request<S: SpoolStore>(store: S) {
    let spool = Spool::new(store, SpoolConfig { mailbox: EwsMailbox { batch_size: 10, ..Default::default() }, concurrency: 1, ..config("a") });
    let clock = FakeClock::at(1_000);
    for i in 0..12 {
        accept(&spool, &format!("m{i:02}"), &format!("c{}", i % 3), &clock).await;
    }
    let ews = BatchEws::default();
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 12);
    let requests = ews.requests.borrow().clone();
    assert_eq!(requests.len(), 4, "four rounds of three conversations: {requests:?}");
    for (n, r) in requests.iter().enumerate() {
        let expected: Vec<String> = (0..3).map(|c| format!("m{:02}", n * 3 + c)).collect();
        assert_eq!(r, &expected, "round {n}: the next message of each conversation");
    }
    assert!(spool.pending().await.unwrap().is_empty());
}

/// Waits a moment: a timer in the browser (IndexedDB's callbacks run between tasks, which a
/// microtask would starve), one yield natively.
async fn pause() {
    #[cfg(target_arch = "wasm32")]
    gloo_timers::future::TimeoutFuture::new(1).await;
    #[cfg(not(target_arch = "wasm32"))]
    YieldOnce(false).await;
}

/// Waits until `line` is in `log` `times` times, or gives up after about half a second (so a
/// spool that does not overlap its waves fails its test instead of hanging it) and logs
/// `gave up waiting for <line>`.
async fn until_seen(log: &RefCell<Vec<String>>, line: &str, times: usize) {
    for _ in 0..500 {
        if log.borrow().iter().filter(|l| *l == line).count() >= times {
            return;
        }
        pause().await;
    }
    log.borrow_mut().push(format!("gave up waiting for {line}"));
}

/// An EWS endpoint that answers Success to its k-th request once `answer_when[k]` (a line and
/// how many times) is in the log ([`until_seen`]); logs each request and answer.
pub struct Paced<'a> {
    pub log: &'a RefCell<Vec<String>>,
    pub answer_when: Vec<(&'static str, usize)>,
    pub sent: Cell<usize>,
}

impl Transport for Paced<'_> {
    async fn send(&self, request: &Request) -> Result<TransportReply, TransportError> {
        let k = self.sent.get();
        self.sent.set(k + 1);
        let id = message_id(request.body.as_deref().unwrap_or_default());
        self.log.borrow_mut().push(format!("send {id}"));
        if let Some(&(line, times)) = self.answer_when.get(k) {
            until_seen(self.log, line, times).await;
        }
        self.log.borrow_mut().push(format!("reply {id}"));
        Ok(TransportReply::new(200, SUCCESS))
    }
}

/// Issue 14: a round's waves overlap. Claims run two waves ahead of the wave on the wire, and a
/// sent wave is settled while the next waves go out: a slow settle does not hold up the sends
/// after it. Every message is still claimed before it is sent and settled after its reply.
pub async fn waves_overlap<S: SpoolStore>(store: S) {
    let mut store = Counting::new(store);
    // Store calls: 0-2 claim waves 0-2, 3 settles wave 0. The settle of wave 0 returns only
    // once wave 2 is on the wire.
    store.hold = Some((3, "send m2", 1));
    let log = &store.log;
    let spool = Spool::new(&store, SpoolConfig { mailbox: EwsMailbox { batch_size: 1, ..Default::default() }, concurrency: 1, ..config("a") });
    let clock = FakeClock::at(1_000);
    for i in 0..3 {
        accept(&spool, &format!("m{i}"), &format!("c{i}"), &clock).await;
    }
    // m0 is answered once waves 1 and 2 are claimed; m1 once the settle of wave 0 has started.
    let ews = Paced { log, answer_when: vec![("stored m2", 1), ("store m0", 2), ("stored m0", 2)], sent: Cell::new(0) };
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 3);
    let log = log.borrow();
    assert!(!log.iter().any(|l| l.starts_with("gave up")), "{log:?}");
    let at = |line: &str, nth: usize| log.iter().enumerate().filter(|(_, l)| *l == line).nth(nth).map(|(i, _)| i).unwrap_or_else(|| panic!("no {line} #{nth} in {log:?}"));
    for m in ["m0", "m1", "m2"] {
        let steps = [at(&format!("stored {m}"), 0), at(&format!("send {m}"), 0), at(&format!("reply {m}"), 0), at(&format!("store {m}"), 1)];
        assert!(steps.is_sorted(), "{m}: claimed, sent, answered, then settled: {log:?}");
    }
    assert!(at("send m2", 0) < at("stored m0", 1), "wave 2 went out while wave 0 was still being settled: {log:?}");
    assert_eq!(store.batch_updates.get(), 6, "one claim and one settle per wave");
    for i in 0..3 {
        let r = store.get(&format!("m{i}")).await.unwrap().unwrap();
        assert_eq!((r.state, r.attempts), (State::Delivered, 1), "m{i}");
    }
}
