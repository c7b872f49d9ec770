//! Batched delivery (issue 14) end to end in the core: the spool flushes through each back end
//! into the local server's operations (no HTTP), whose per-item fault injection answers a batch
//! the way Exchange and Graph do; the mailboxes show what arrived and in which order.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::spool_suite::{new_message, Counting, FakeClock, TONY};
use ews_server::faults::{FaultSpec, Kind};
use ews_server::state::State as Mailboxes;
use futures_executor::block_on;
use offline_im::ews::EwsMailbox;
use offline_im::graph::GraphMailbox;
use offline_im::mailbox::{Mailbox, Request};
use offline_im::message::PROPERTY_MESSAGE_ID;
use offline_im::spool::*;
use offline_im::transport::{Transport, TransportError, TransportReply};
use std::cell::RefCell;
use std::collections::VecDeque;

const BASE: &str = "http://127.0.0.1:9/v1.0";

/// Into the server's EWS operations or Graph routes as Tony; `faults` is rolled per CreateItem
/// item (EWS) or per `$batch` request (Graph), in order, then none.
#[derive(Default)]
struct Server {
    state: RefCell<Mailboxes>,
    faults: RefCell<VecDeque<Option<Kind>>>,
    sent: RefCell<Vec<Request>>,
}

impl Server {
    fn fault(&self) -> Option<FaultSpec> {
        let kind = self.faults.borrow_mut().pop_front().flatten()?;
        Some(FaultSpec { kind, count: None, duration_ms: None, back_off_ms: Some(300_000), delay_ms: None, probability: None })
    }

    /// Message ids in Ana's Inbox, in arrival order.
    fn arrived(&self) -> Vec<String> {
        let s = self.state.borrow();
        s.items
            .iter()
            .filter(|i| i.mailbox == "ana@contoso.com" && i.folder == "inbox")
            .filter_map(|i| i.extended.iter().find(|e| e.property_name.as_deref() == Some(PROPERTY_MESSAGE_ID)).map(|e| e.value.clone()))
            .collect()
    }
}

impl Transport for Server {
    async fn send(&self, r: &Request) -> Result<TransportReply, TransportError> {
        self.sent.borrow_mut().push(r.clone());
        let body = r.body.as_deref().unwrap_or_default();
        if r.path.is_empty() {
            let (status, body) = ews_server::handle_with_faults(&mut self.state.borrow_mut(), "tony-token", None, body, &mut || self.fault());
            return Ok(TransportReply::new(status, body));
        }
        let header = |n: &str| r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str());
        let reply = ews_server::graph::handle(&mut self.state.borrow_mut(), "tony-token", r.method, &r.path, header("Content-Type"), header("Prefer"), body, BASE, &mut || self.fault());
        let retry_after = reply.headers.iter().find(|(k, _)| k == "Retry-After").map(|(_, v)| v.clone());
        Ok(TransportReply { status: reply.status, body: reply.body, retry_after })
    }
}

fn spool<M: Mailbox>(mailbox: M) -> Spool<MemoryStore, M> {
    spool_at(mailbox, 4)
}

fn spool_at<M: Mailbox>(mailbox: M, concurrency: usize) -> Spool<MemoryStore, M> {
    Spool::new(MemoryStore::default(), config(mailbox, concurrency))
}

/// Tony's spool settings in the tab "tab".
fn config<M>(mailbox: M, concurrency: usize) -> SpoolConfig<M> {
    SpoolConfig { mailbox, retry: RetryPolicy::default(), concurrency, owner: "tab".into(), sender: TONY.into() }
}

fn graph(batch_size: usize) -> GraphMailbox {
    GraphMailbox { base_url: BASE.into(), batch_size, ..Default::default() }
}

fn accept<S: SpoolStore, M: Mailbox>(spool: &Spool<S, M>, ids: impl IntoIterator<Item = (String, String)>, clock: &FakeClock) {
    for (id, conversation) in ids {
        let r = spool.new_record(new_message(&id, &conversation, &format!("text of {id}")), clock.now_ms()).unwrap();
        block_on(spool.enqueue(r)).unwrap();
    }
}

fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("m{i:02}")).collect()
}

fn state<M: Mailbox>(spool: &Spool<MemoryStore, M>, id: &str) -> (State, u32) {
    let r = block_on(spool.store.get(id)).unwrap().unwrap();
    (r.state, r.attempts)
}

/// With requests in flight to spare, a round's conversations are spread over them.
#[test]
fn a_small_round_is_spread_over_the_requests_in_flight() {
    let server = Server::default();
    let clock = FakeClock::at(1_000);
    let spool = spool(EwsMailbox { batch_size: 10, ..Default::default() });
    accept(&spool, ids(0..10).into_iter().map(|id| (id.clone(), id)), &clock);
    assert_eq!(block_on(spool.process_due(&server, &clock, &|_| {})).unwrap(), 10);
    let sizes: Vec<usize> = server.sent.borrow().iter().map(|r| r.body.as_deref().unwrap_or_default().matches("<t:Message>").count()).collect();
    assert_eq!(sizes, [3, 3, 3, 1], "concurrency 4: four CreateItems at once rather than one of 10");
}

/// Exchange's answers item by item, from the server's own per-item faults: ErrorServerBusy on
/// one item, ErrorMessageSizeExceeded on another, ErrorMailboxStoreUnavailable stopping the
/// rest of its request (ErrorBatchProcessingStopped: not processed, so no attempt).
#[test]
fn ews_batches_settle_item_by_item_against_the_server() {
    let server = Server::default();
    let clock = FakeClock::at(1_000);
    let spool = spool_at(EwsMailbox { batch_size: 10, ..Default::default() }, 1);
    accept(&spool, ids(0..10).into_iter().map(|id| (id.clone(), id)), &clock);
    server.faults.borrow_mut().extend([None, Some(Kind::ItemServerBusy), None, Some(Kind::ItemTooLarge), None, Some(Kind::ItemStoreUnavailable)]);
    let made = block_on(spool.process_due(&server, &clock, &|_| {})).unwrap();
    assert_eq!(made, 6 + 4, "six items processed, then the four stopped ones again");
    assert_eq!(server.sent.borrow().len(), 2, "one CreateItem of 10, then one of the 4 not processed");
    assert_eq!(state(&spool, "m01"), (State::Queued, 1), "ErrorServerBusy: retry after its BackOffMilliseconds");
    assert_eq!(block_on(spool.store.get("m01")).unwrap().unwrap().next_attempt_at, 1_000 + 300_000);
    assert_eq!(state(&spool, "m03").0, State::Failed, "ErrorMessageSizeExceeded: permanent");
    assert_eq!(state(&spool, "m05"), (State::Queued, 1));
    for id in ["m06", "m09"] {
        assert_eq!(state(&spool, id), (State::Delivered, 1), "{id}: stopped, then sent once more");
    }
    let mut arrived = server.arrived();
    arrived.sort();
    assert_eq!(arrived, ["m00", "m02", "m04", "m06", "m07", "m08", "m09"], "each delivered message arrived once");
}

/// Graph: one conversation of 45 messages goes 20 to a `$batch` as a `dependsOn` chain, and
/// arrives in order; a failure inside the chain leaves the rest of it not attempted (424), and
/// the conversation later continues in order.
#[test]
fn a_long_conversation_goes_twenty_to_a_graph_batch_in_order() {
    let server = Server::default();
    let clock = FakeClock::at(1_000);
    let spool = spool(graph(20));
    accept(&spool, ids(0..45).into_iter().map(|id| (id, "c".to_string())), &clock);
    server.faults.borrow_mut().extend([None, None, None, Some(Kind::Http503)]);
    let made = block_on(spool.process_due(&server, &clock, &|_| {})).unwrap();
    assert_eq!(made, 4, "m00..m03 attempted; m04..m19 were not (424), and m20.. wait behind m03");
    assert_eq!(server.arrived(), ids(0..3));
    assert_eq!(state(&spool, "m03"), (State::Queued, 1));
    assert_eq!(state(&spool, "m04"), (State::Queued, 0), "not attempted: no attempt counted");
    clock.advance(300_000); // the 503's Retry-After
    assert_eq!(block_on(spool.process_due(&server, &clock, &|_| {})).unwrap(), 42);
    assert_eq!(server.arrived(), ids(0..45), "every message once, in the conversation's order");
    let sent = server.sent.borrow();
    assert_eq!(sent.len(), 4, "one $batch before the failure, then 20 + 20 + 2");
    assert!(sent.iter().all(|r| r.path == "/$batch"));
    assert_eq!(sent[1].body.as_deref().unwrap_or_default().matches("\"dependsOn\"").count(), 19, "a chain of 20");
}

/// Graph: forty one-message conversations go in two `$batch`es of 20, in 4 lanes (the fifth
/// lane would be throttled: the server answers it 429 MailboxConcurrency).
#[test]
fn many_conversations_fill_graph_batches_within_four_lanes() {
    let server = Server::default();
    let clock = FakeClock::at(1_000);
    let spool = spool(graph(20));
    accept(&spool, ids(0..40).into_iter().map(|id| (id.clone(), id)), &clock);
    assert_eq!(block_on(spool.process_due(&server, &clock, &|_| {})).unwrap(), 40);
    let sent = server.sent.borrow();
    assert_eq!(sent.len(), 2);
    for r in sent.iter() {
        let body = r.body.as_deref().unwrap_or_default();
        assert_eq!(body.matches("/me/sendMail").count(), 20);
        assert_eq!(body.matches("\"dependsOn\"").count(), 16, "4 lanes of 5: 4 start at once");
    }
    let mut arrived = server.arrived();
    arrived.sort();
    assert_eq!(arrived, ids(0..40));
}

/// `batchSize` 1 keeps one message per request (a plain sendMail, a CreateItem of one).
#[test]
fn batch_size_one_sends_one_message_per_request() {
    let server = Server::default();
    let clock = FakeClock::at(1_000);
    let g = spool(graph(1));
    accept(&g, ids(0..3).into_iter().map(|id| (id.clone(), id)), &clock);
    block_on(g.process_due(&server, &clock, &|_| {})).unwrap();
    assert!(server.sent.borrow().iter().all(|r| r.path == "/me/sendMail"));
    let e = spool(EwsMailbox { batch_size: 1, ..Default::default() });
    accept(&e, ids(3..6).into_iter().map(|id| (id.clone(), id)), &clock);
    block_on(e.process_due(&server, &clock, &|_| {})).unwrap();
    assert_eq!(server.sent.borrow().len(), 6);
    assert!(server.sent.borrow()[3..].iter().all(|r| r.body.as_deref().unwrap_or_default().matches("<t:Message>").count() == 1));
}

/// A flush of 1,000 one-message conversations takes 100 CreateItems of 10 (the bench's case).
#[test]
fn a_thousand_conversations_go_ten_to_a_create_item() {
    let server = Server::default();
    let clock = FakeClock::at(1_000);
    let spool = spool(EwsMailbox { batch_size: 10, ..Default::default() });
    accept(&spool, (0..1000).map(|i| (format!("m{i:04}"), format!("m{i:04}"))), &clock);
    assert_eq!(block_on(spool.process_due(&server, &clock, &|_| {})).unwrap(), 1000);
    let sent = server.sent.borrow();
    assert_eq!(sent.len(), 100);
    assert!(sent.iter().all(|r| r.body.as_deref().unwrap_or_default().matches("<t:Message>").count() == 10));
    assert_eq!(server.arrived().len(), 1000);
}

/// A store whose first listing is a snapshot taken before another tab claimed a message.
struct StaleOnce<'a> {
    inner: &'a MemoryStore,
    snapshot: RefCell<Option<Vec<SpoolRecord>>>,
}

impl SpoolStore for StaleOnce<'_> {
    async fn get(&self, id: &str) -> offline_im::Result<Option<SpoolRecord>> {
        self.inner.get(id).await
    }
    async fn insert(&self, record: &SpoolRecord) -> offline_im::Result<Option<u64>> {
        self.inner.insert(record).await
    }
    async fn update(&self, id: &str, change: &mut dyn FnMut(&mut SpoolRecord) -> bool) -> offline_im::Result<Option<SpoolRecord>> {
        self.inner.update(id, change).await
    }
    async fn update_many(&self, ids: &[String], change: &mut dyn FnMut(usize, &mut SpoolRecord) -> bool) -> offline_im::Result<Vec<Option<SpoolRecord>>> {
        self.inner.update_many(ids, change).await
    }
    async fn delete(&self, id: &str) -> offline_im::Result<bool> {
        self.inner.delete(id).await
    }
    async fn all(&self, sender: &str) -> offline_im::Result<Vec<SpoolRecord>> {
        let snapshot = self.snapshot.borrow_mut().take();
        match snapshot {
            Some(s) => Ok(s),
            None => self.inner.all(sender).await,
        }
    }
}

/// Graph lanes: five conversations in one `$batch` make four lanes, the fifth message chained
/// behind the first. When another tab claimed that first message after the listing, the lane
/// is claimed only up to it: the chained message waits for the next pass (it would depend on
/// a message this tab is not sending), and the held one is left alone.
#[test]
fn a_lane_stops_at_a_message_another_tab_holds() {
    let server = Server::default();
    let clock = FakeClock::at(1_000);
    let shared = MemoryStore::default();
    let filler = Spool::new(&shared, config(graph(20), 4));
    accept(&filler, ids(0..5).into_iter().map(|id| (id.clone(), id)), &clock);
    let snapshot = block_on(shared.all(TONY)).unwrap();
    let held = block_on(shared.update("m00", &mut |r| offline_im::spool::machine::claim(r, TONY, "other-tab", 1_000, &RetryPolicy::default()))).unwrap().unwrap();
    let spool = Spool::new(StaleOnce { inner: &shared, snapshot: RefCell::new(Some(snapshot)) }, config(graph(20), 4));
    assert_eq!(block_on(spool.process_due(&server, &clock, &|_| {})).unwrap(), 4);
    let mut arrived = server.arrived();
    arrived.sort();
    assert_eq!(arrived, ["m01", "m02", "m03", "m04"]);
    assert_eq!(block_on(shared.get("m00")).unwrap().unwrap(), held, "the other tab's claim is untouched");
    let sent = server.sent.borrow();
    assert_eq!(sent.len(), 2, "m01..m03 (m04's lane stopped at m00), then m04 in the next pass");
    assert_eq!(sent[0].body.as_deref().unwrap_or_default().matches("/me/sendMail").count(), 3);
    assert_eq!(sent[1].path, "/me/sendMail");
}

/// Graph lanes count against `concurrency`: with `batchSize` 2 (two lanes per `$batch`) and
/// concurrency 4, two `$batch`es go out in one wave (claimed in one transaction, settled in
/// one); eight conversations take two waves.
#[test]
fn graph_batches_share_the_concurrency_in_waves() {
    let server = Server::default();
    let clock = FakeClock::at(1_000);
    let store = Counting::new(MemoryStore::default());
    let spool = Spool::new(&store, config(graph(2), 4));
    accept(&spool, ids(0..8).into_iter().map(|id| (id.clone(), id)), &clock);
    assert_eq!(block_on(spool.process_due(&server, &clock, &|_| {})).unwrap(), 8);
    assert_eq!(server.sent.borrow().len(), 4, "four $batches of two");
    assert_eq!(store.batch_updates.get(), 4, "two waves of two requests: a claim and a settle each");
}

/// Breadth first on Graph: three conversations of ten share a `$batch` six each (18 of 20),
/// each conversation's six chained in order in its own lane.
#[test]
fn graph_conversations_share_a_batch_breadth_first() {
    let server = Server::default();
    let clock = FakeClock::at(1_000);
    let store = Counting::new(MemoryStore::default());
    let spool = Spool::new(&store, config(graph(20), 4));
    accept(&spool, (0..30).map(|i| (format!("m{i:02}"), format!("c{}", i % 3))), &clock);
    assert_eq!(block_on(spool.process_due(&server, &clock, &|_| {})).unwrap(), 30);
    assert_eq!(store.reads.get(), 2, "one listing for the pass (two rounds), one for the pass that finds nothing");
    let sizes: Vec<usize> = server.sent.borrow().iter().map(|r| r.body.as_deref().unwrap_or_default().matches("/me/sendMail").count()).collect();
    assert_eq!(sizes, [18, 12], "six of each conversation, then the last four of each");
    let arrived = server.arrived();
    for c in 0..3 {
        let mine: Vec<&String> = arrived.iter().filter(|id| id[1..].parse::<usize>().is_ok_and(|n| n % 3 == c)).collect();
        let expected: Vec<String> = (0..10).map(|k| format!("m{:02}", k * 3 + c)).collect();
        assert_eq!(mine, expected.iter().collect::<Vec<_>>(), "conversation c{c} in order");
    }
}

/// When the request cannot be built any more (the size limit was lowered since the messages
/// were accepted), only the message that fails the check fails; the others of its batch are
/// not attempted and go in the next pass.
#[test]
fn a_message_the_settings_no_longer_allow_fails_alone() {
    let server = Server::default();
    let clock = FakeClock::at(1_000);
    let shared = MemoryStore::default();
    let before = Spool::new(&shared, config(EwsMailbox::default(), 1));
    for (id, text) in [("m00", "short"), ("m01", &"long ".repeat(400)[..]), ("m02", "short")] {
        block_on(before.enqueue(before.new_record(new_message(id, id, text), 1_000).unwrap())).unwrap();
    }
    let options = offline_im::ews::EnvelopeOptions { max_message_bytes: Some(1_000), ..Default::default() };
    let after = Spool::new(&shared, config(EwsMailbox { options, batch_size: 10 }, 1));
    assert_eq!(block_on(after.process_due(&server, &clock, &|_| {})).unwrap(), 3);
    let m01 = block_on(shared.get("m01")).unwrap().unwrap();
    assert_eq!((m01.state, m01.last_error.map(|e| e.code)), (State::Failed, Some("MessageTooLarge".into())));
    let mut arrived = server.arrived();
    arrived.sort();
    assert_eq!(arrived, ["m00", "m02"]);
    assert_eq!(server.sent.borrow().len(), 1, "the failed build sent nothing; then m00 and m02 in one CreateItem");
}

/// Graph's MailboxConcurrency 429 inside a `$batch` halves the lanes in flight: the pass stops
/// (the round's second `$batch` is not sent), and the next pass packs what is left into two
/// lanes instead of four.
#[test]
fn a_mailbox_concurrency_429_halves_the_lanes() {
    let server = Server::default();
    let clock = FakeClock::at(1_000);
    let spool = spool(graph(20));
    accept(&spool, ids(0..30).into_iter().map(|id| (id.clone(), id)), &clock);
    server.faults.borrow_mut().push_back(Some(Kind::ServerBusy));
    // A round of 30 goes in two $batches of 15; the first has 4 lanes (4, 4, 4, 3), its first
    // message is throttled and the 3 chained behind it are skipped (424).
    assert_eq!(block_on(spool.process_due(&server, &clock, &|_| {})).unwrap(), 12 + 18);
    let sent = server.sent.borrow();
    let lanes = |r: &Request| {
        let body = r.body.as_deref().unwrap_or_default();
        body.matches("/me/sendMail").count() - body.matches("\"dependsOn\"").count()
    };
    assert_eq!(sent.len(), 2, "the throttled pass ends after its first $batch");
    assert_eq!((lanes(&sent[0]), lanes(&sent[1])), (4, 2), "4 lanes, then 2 after the 429");
    assert_eq!(sent[1].body.as_deref().unwrap_or_default().matches("/me/sendMail").count(), 18, "15 not sent and 3 skipped (424)");
    assert_eq!(server.arrived().len(), 29, "all but the throttled one, which waits its Retry-After");
}
