//! The spool natively: the shared suite on the memory store, and the schedule and state machine
//! with a fake clock.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::spool_suite::*;
use futures_executor::block_on;
use offline_im::ews::{Envelope, EwsOutcome};
use offline_im::spool::schedule::{due_chains, next_wakeup};
use offline_im::spool::*;

#[test]
fn memory_store_contract() {
    block_on(store_contract(MemoryStore::default()));
}
#[test]
fn memory_delivers_and_emits() {
    block_on(delivers_and_emits(MemoryStore::default()));
}
#[test]
fn memory_server_busy_backoff() {
    block_on(server_busy_backoff(MemoryStore::default()));
}
#[test]
fn memory_permanent_failure_does_not_block() {
    block_on(permanent_failure_does_not_block(MemoryStore::default()));
}
#[test]
fn memory_two_spools_deliver_once() {
    let shared = MemoryStore::default();
    block_on(two_spools_deliver_once(&shared, &shared));
}
#[test]
fn memory_expired_lease_is_taken_over() {
    block_on(expired_lease_is_taken_over(MemoryStore::default()));
}

#[test]
fn retry_delay_is_two_minutes_doubling_capped_and_at_least_back_off() {
    let p = RetryPolicy::default();
    assert_eq!(p.delay_ms(1, None), 120_000);
    assert_eq!(p.delay_ms(2, None), 240_000);
    assert_eq!(p.delay_ms(3, None), 480_000);
    assert_eq!(p.delay_ms(30, None), 3_600_000, "capped at an hour");
    assert_eq!(p.delay_ms(u32::MAX, None), 3_600_000, "no overflow");
    assert_eq!(p.delay_ms(1, Some(297_749)), 297_749);
    assert_eq!(p.delay_ms(3, Some(1_000)), 480_000);
}

#[test]
fn exhausted_by_attempts_or_age_fails_and_is_kept() {
    let spool = Spool::new(MemoryStore::default(), config("a"));
    let p = RetryPolicy { max_attempts: 2, ..RetryPolicy::default() };
    let busy = EwsOutcome::Retry { code: "ErrorServerBusy".into(), message: "busy".into(), back_off_ms: None, http_status: 500 };
    let mut r = spool.new_record(new_message("m", "c", "t"), 0).unwrap();
    assert!(machine::claim(&mut r, "a", 0, &p));
    assert!(matches!(machine::settle(&mut r, &busy, 1, &p), Some(Settled::Retrying { next_attempt_at: 120_001, .. })));
    assert!(!machine::claim(&mut r, "a", 120_000, &p), "not due before its time");
    assert!(machine::claim(&mut r, "a", 120_001, &p));
    assert!(matches!(machine::settle(&mut r, &busy, 120_002, &p), Some(Settled::Failed { ref code, permanent: false, .. }) if code == "MaxAttemptsExceeded"));
    assert_eq!(r.state, State::Failed);

    let p = RetryPolicy { max_age_ms: 1_000, ..RetryPolicy::default() };
    let mut r = spool.new_record(new_message("m", "c", "t"), 0).unwrap();
    machine::claim(&mut r, "a", 0, &p);
    assert!(matches!(machine::settle(&mut r, &busy, 1_000, &p), Some(Settled::Failed { ref code, .. }) if code == "MaxAgeExceeded"));
}

#[test]
fn auth_required_does_not_use_up_attempts() {
    let spool = Spool::new(MemoryStore::default(), config("a"));
    let p = RetryPolicy::default();
    let mut r = spool.new_record(new_message("m", "c", "t"), 0).unwrap();
    machine::claim(&mut r, "a", 0, &p);
    let s = machine::settle(&mut r, &EwsOutcome::AuthRequired { http_status: 401 }, 10, &p);
    assert_eq!(s, Some(Settled::AuthRequired { http_status: 401, next_attempt_at: 120_010 }));
    assert_eq!((r.state, r.attempts), (State::Queued, 0));
}

#[test]
fn selection_keeps_conversation_order() {
    let spool = Spool::new(MemoryStore::default(), config("a"));
    let mut recs: Vec<SpoolRecord> = ["a1", "a2", "b1", "c1", "d1"].iter().map(|id| spool.new_record(new_message(id, &id[..1], "t"), 100).unwrap()).collect();
    let ids = |chains: Vec<Vec<String>>| chains.into_iter().map(|c| c.join(">")).collect::<Vec<_>>();
    assert_eq!(ids(due_chains(&recs, 100)), ["a1>a2", "b1", "c1", "d1"], "a2 goes after a1, in one chain");
    recs[0].next_attempt_at = 500; // a1 retrying later: a2 still waits behind it
    assert_eq!(ids(due_chains(&recs, 100)), ["b1", "c1", "d1"]);
    recs[0].state = State::Failed;
    assert_eq!(ids(due_chains(&recs, 100)), ["a2", "b1", "c1", "d1"], "failed blocks nothing");
    recs[2].state = State::Delivered;
    assert_eq!(ids(due_chains(&recs, 100)), ["a2", "c1", "d1"]);
    assert_eq!(next_wakeup(&recs), Some(100));
}

/// A transport that counts requests in flight and stays pending for a few polls.
#[derive(Default)]
struct Gauge {
    now: std::cell::Cell<usize>,
    max: std::cell::Cell<usize>,
    order: std::cell::RefCell<Vec<String>>,
}
impl Transport for Gauge {
    async fn post(&self, envelope: &Envelope) -> TransportReply {
        self.now.set(self.now.get() + 1);
        self.max.set(self.max.get().max(self.now.get()));
        let text = &envelope.xml[envelope.xml.find("<t:Subject>").unwrap() + 11..envelope.xml.find("</t:Subject>").unwrap()];
        self.order.borrow_mut().push(text.to_string());
        for _ in 0..3 {
            yield_now().await;
        }
        self.now.set(self.now.get() - 1);
        TransportReply { status: 200, body: SUCCESS.to_string() }
    }
}

async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

#[test]
fn one_pass_sends_every_conversation_in_order_within_the_concurrency_bound() {
    let spool = Spool::new(MemoryStore::default(), config("a")); // concurrency 4
    let clock = FakeClock::at(100);
    futures_executor::block_on(async {
        for i in 0..30 {
            // Ten conversations of three messages each.
            let conversation = format!("c{}", i % 10);
            spool.enqueue(spool.new_record(new_message(&format!("m{i}"), &conversation, &format!("{conversation}-{}", i / 10)), 100).unwrap()).await.unwrap();
        }
        let ews = Gauge::default();
        let made = spool.process_due(&ews, &clock, &|_| {}).await.unwrap();
        assert_eq!(made, 30);
        assert_eq!(ews.max.get(), 4, "at most `concurrency` requests in flight, and the bound is used");
        {
            let order = ews.order.borrow();
            for c in 0..10 {
                let sent: Vec<&String> = order.iter().filter(|t| t.starts_with(&format!("c{c}-"))).collect();
                assert_eq!(sent, [&format!("c{c}-0"), &format!("c{c}-1"), &format!("c{c}-2")], "conversation c{c} in order");
            }
        }
        assert!(spool.pending().await.unwrap().is_empty());
    });
}

#[test]
fn bad_input_is_rejected_before_it_is_accepted() {
    let spool = Spool::new(MemoryStore::default(), config("a"));
    let mut m = new_message("m", "c", "t");
    m.to.email_address = "not-an-address".into();
    assert_eq!(spool.new_record(m, 0).unwrap_err().code(), "InvalidAddress");
    let big = new_message("m", "c", &"x".repeat(70_000));
    assert_eq!(spool.new_record(big, 0).unwrap_err().code(), "MessageTooLarge");
}
