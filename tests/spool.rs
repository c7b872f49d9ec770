//! The spool natively: the shared suite on the memory store, and the schedule and state machine
//! with a fake clock.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::spool_suite::*;
use futures_executor::block_on;
use offline_im::spool::schedule::{claimable, due_chains, next_wakeup};
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
fn memory_senders_see_only_their_own() {
    let shared = MemoryStore::default();
    block_on(senders_see_only_their_own(&shared, &shared));
}
#[test]
fn memory_clock_set_back_keeps_order() {
    block_on(clock_set_back_keeps_order(MemoryStore::default()));
}
#[test]
fn memory_auth_failure_halts_the_round() {
    block_on(auth_failure_halts_the_round(MemoryStore::default()));
}
#[test]
fn memory_transport_failures_are_typed() {
    block_on(transport_failures_are_typed(MemoryStore::default()));
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
fn exhausted_by_attempts_or_age_fails() {
    let spool = Spool::new(MemoryStore::default(), config("a"));
    let p = RetryPolicy { max_attempts: 2, ..RetryPolicy::default() };
    let busy = Outcome::Retry { code: "ErrorServerBusy".into(), message: "busy".into(), back_off_ms: None, http_status: 500 };
    let mut r = spool.new_record(new_message("m", "c", "t"), 0).unwrap();
    assert!(machine::claim(&mut r, TONY, "a", 0, &p));
    assert!(matches!(machine::settle(&mut r, &busy, 1, &p), Some(Settled::Retrying { next_attempt_at: 120_001, .. })));
    assert!(!machine::claim(&mut r, TONY, "a", 120_000, &p), "not due before its time");
    assert!(!machine::claim(&mut r, SAM, "a", 120_001, &p), "never by another sender");
    assert!(machine::claim(&mut r, TONY, "a", 120_001, &p));
    assert!(matches!(machine::settle(&mut r, &busy, 120_002, &p), Some(Settled::Failed { ref code, permanent: false, .. }) if code == "MaxAttemptsExceeded"));
    assert_eq!(r.state, State::Failed);

    // Age: the wall clock and the waited backoff must both reach maxAgeMs.
    let p = RetryPolicy { max_age_ms: 1_000, retry_interval_ms: 400, max_attempts: 100, ..RetryPolicy::default() };
    let mut r = spool.new_record(new_message("m", "c", "t"), 0).unwrap();
    let mut now = 0;
    let mut settled = Vec::new();
    for _ in 0..10 {
        assert!(machine::claim(&mut r, TONY, "a", now, &p), "claimable at {now}");
        let s = machine::settle(&mut r, &busy, now, &p).unwrap();
        settled.push(s.clone());
        if let Settled::Retrying { next_attempt_at, .. } = s { now = next_attempt_at } else { break }
    }
    // Waits of 400 and 800 ms: 1,200 ms waited ≥ 1,000 at the third settle (at 1,200 ms).
    assert_eq!(settled.len(), 3, "{settled:?}");
    assert!(matches!(&settled[2], Settled::Failed { code, .. } if code == "MaxAgeExceeded"), "{settled:?}");
    assert_eq!((r.waited_ms, r.settled_at), (1_200, Some(1_200)));
}

fn outcome(code: &str) -> Outcome {
    Outcome::Retry { code: code.into(), message: "busy".into(), back_off_ms: None, http_status: 503 }
}

#[test]
fn a_clock_jump_alone_never_expires_a_message() {
    // Issue: with the clock jumping a day ahead, a retrying message failed MaxAgeExceeded
    // after 2 attempts. Now the jump counts at most the delay it skipped.
    let spool = Spool::new(MemoryStore::default(), config("a"));
    let p = RetryPolicy::default(); // 7 days, 2-minute interval
    let mut r = spool.new_record(new_message("m", "c", "t"), 1_000).unwrap();
    assert!(machine::claim(&mut r, TONY, "a", 1_000, &p));
    assert!(matches!(machine::settle(&mut r, &outcome("ErrorServerBusy"), 1_000, &p), Some(Settled::Retrying { .. })));
    let later = 1_000 + 30 * 86_400_000; // the clock jumps 30 days ahead
    assert!(machine::claim(&mut r, TONY, "a", later, &p));
    assert_eq!(r.waited_ms, 120_000, "a jump forward counts only the delay it skipped");
    assert!(matches!(machine::settle(&mut r, &outcome("ErrorServerBusy"), later, &p), Some(Settled::Retrying { .. })), "not expired by the jump");
    // Accepted while the clock was 30 days ahead, then the clock is corrected: createdAt is in
    // the future, so only the waited time can expire it; it is due at once, not in 30 days.
    let ahead = 1_000 + 30 * 86_400_000;
    let mut r = spool.new_record(new_message("m2", "c", "t"), ahead).unwrap();
    assert!(claimable(&r, 1_000, &p), "due now although nextAttemptAt is 30 days ahead");
    assert!(machine::claim(&mut r, TONY, "a", 1_000, &p));
    assert!(matches!(machine::settle(&mut r, &outcome("ErrorServerBusy"), 1_000, &p), Some(Settled::Retrying { next_attempt_at: 121_000, .. })));
}

#[test]
fn a_due_time_or_lease_past_the_longest_delay_means_the_clock_went_back() {
    let p = RetryPolicy::default();
    let spool = Spool::new(MemoryStore::default(), config("a"));
    let mut r = spool.new_record(new_message("m", "c", "t"), 0).unwrap();
    let now = 10 * 86_400_000;
    r.next_attempt_at = now + p.longest_delay_ms();
    assert!(!claimable(&r, now, &p), "the longest backoff is a real wait");
    r.next_attempt_at = now + p.longest_delay_ms() + 1;
    assert!(claimable(&r, now, &p), "further than any backoff: written by a clock that went back");
    assert_eq!(next_wakeup(&[r.clone()], now, &p), Some(now));
    r.state = State::Sending;
    r.lease_until = now + p.lease_ms;
    assert!(!claimable(&r, now, &p), "a held lease");
    r.lease_until = now + p.lease_ms + 1;
    assert!(claimable(&r, now, &p), "a lease longer than any lease: the clock went back");
    // BackOffMilliseconds is honoured up to the longest delay, never beyond.
    assert_eq!(p.delay_ms(1, Some(10 * 86_400_000)), p.longest_delay_ms());
}

#[test]
fn auth_required_backs_off_expires_and_does_not_use_up_attempts() {
    let spool = Spool::new(MemoryStore::default(), config("a"));
    let p = RetryPolicy { retry_interval_ms: 100, max_age_ms: 2_000, ..RetryPolicy::default() };
    let mut r = spool.new_record(new_message("m", "c", "t"), 0).unwrap();
    let auth = Outcome::AuthRequired { code: "Http401".into(), message: "EWS asked for credentials".into(), http_status: 401 };
    let mut now = 0;
    let mut delays = Vec::new();
    let last = loop {
        assert!(machine::claim(&mut r, TONY, "a", now, &p));
        match machine::settle(&mut r, &auth, now, &p).unwrap() {
            Settled::AuthRequired { next_attempt_at, ref code, .. } => {
                assert_eq!(code, "Http401");
                assert_eq!(r.attempts, 0, "auth failures are not attempts");
                delays.push(next_attempt_at - now);
                now = next_attempt_at;
            }
            other => break other,
        }
    };
    assert_eq!(delays, [100, 200, 400, 800, 1_600], "exponential backoff");
    assert!(matches!(last, Settled::Failed { ref code, permanent: false, .. } if code == "MaxAgeExceeded"), "{last:?}");
    assert_eq!(r.last_error.as_ref().map(|e| e.code.as_str()), Some("MaxAgeExceeded"));
}

#[test]
fn error_text_never_keeps_a_bearer_credential() {
    let spool = Spool::new(MemoryStore::default(), config("a"));
    let p = RetryPolicy::default();
    let mut r = spool.new_record(new_message("m", "c", "t"), 0).unwrap();
    assert!(machine::claim(&mut r, TONY, "a", 0, &p));
    let echo = outcome("Http500: headers Authorization: Bearer eyJ0eXAi.SENTINEL.sig; Host: x");
    let echo = match echo { Outcome::Retry { code, .. } => Outcome::Retry { code: "Http500".into(), message: code, back_off_ms: None, http_status: 500 }, o => o };
    let s = machine::settle(&mut r, &echo, 0, &p).unwrap();
    let stored = &r.last_error.as_ref().unwrap().message;
    assert!(!stored.contains("SENTINEL") && stored.contains("Bearer [redacted]"), "{stored}");
    assert!(!format!("{s:?}").contains("SENTINEL"), "{s:?}");
    assert_eq!(offline_im::transport::redact("x tok-SECRET-1 y", Some("tok-SECRET-1")), "x [redacted] y");
    assert!(offline_im::transport::check_token("a\r\nX-Evil: 1").is_err());
    assert!(offline_im::transport::check_token("eyJ0eXAi.abc-_~+/=").is_ok());
}

#[test]
fn selection_keeps_conversation_order() {
    let spool = Spool::new(MemoryStore::default(), config("a"));
    let p = RetryPolicy::default();
    let mut recs: Vec<SpoolRecord> = ["a1", "a2", "b1", "c1", "d1"].iter().zip(1..).map(|(id, seq)| SpoolRecord { seq, ..spool.new_record(new_message(id, &id[..1], "t"), 100).unwrap() }).collect();
    let ids = |chains: Vec<Vec<String>>| chains.into_iter().map(|c| c.join(">")).collect::<Vec<_>>();
    assert_eq!(ids(due_chains(&recs, 100, &p)), ["a1>a2", "b1", "c1", "d1"], "a2 goes after a1, in one chain");
    recs[0].next_attempt_at = 500; // a1 retrying later: a2 still waits behind it
    assert_eq!(ids(due_chains(&recs, 100, &p)), ["b1", "c1", "d1"]);
    // Order is the seq, not the clock: a2 accepted "a day earlier" (clock set back) still goes after a1.
    recs[1].created_at = 0;
    recs[0].created_at = 86_400_000;
    recs[0].next_attempt_at = 100;
    assert_eq!(ids(due_chains(&recs, 100, &p)), ["a1>a2", "b1", "c1", "d1"]);
    recs[0].state = State::Failed;
    assert_eq!(ids(due_chains(&recs, 100, &p)), ["a2", "b1", "c1", "d1"], "failed blocks nothing");
    recs[2].state = State::Delivered;
    assert_eq!(ids(due_chains(&recs, 100, &p)), ["a2", "c1", "d1"]);
    assert_eq!(next_wakeup(&recs, 50, &p), Some(100));
}

#[test]
fn memory_conversations_in_order_within_the_concurrency_bound() {
    block_on(conversations_in_order_within_the_concurrency_bound(MemoryStore::default(), yield_a_few));
}

#[test]
fn memory_delivered_records_are_pruned_after_keep_ms() {
    block_on(delivered_records_are_pruned_after_keep_ms(MemoryStore::default()));
}

#[test]
fn memory_a_retrying_message_holds_up_its_conversation() {
    block_on(a_retrying_message_holds_up_its_conversation(MemoryStore::default()));
}

#[test]
fn memory_a_late_answer_after_a_takeover() {
    block_on(a_late_answer_after_a_takeover(MemoryStore::default()));
}

#[test]
fn memory_a_late_failure_leaves_the_takeover_alone() {
    block_on(a_late_failure_leaves_the_takeover_alone(MemoryStore::default()));
}

#[test]
fn memory_exhausted_messages_stay_in_the_store() {
    block_on(exhausted_messages_stay_in_the_store(MemoryStore::default()));
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

/// A record of Tony's in a given state, stored directly (the engine's own paths are tested by
/// the suite; this sets up the states `retry`, `discard` and the make-due calls act on).
fn stored<S: SpoolStore>(spool: &Spool<S, offline_im::ews::EwsMailbox>, id: &str, state: State, next_attempt_at: u64, lease_until: u64, last_error: Option<&str>) {
    let mut r = spool.new_record(new_message(id, id, "t"), 0).unwrap();
    r.state = state;
    r.next_attempt_at = next_attempt_at;
    r.lease_until = lease_until;
    r.backoff_ms = next_attempt_at;
    r.attempts = 3;
    r.last_error = last_error.map(|code| LastError { code: code.into(), message: String::new(), http_status: 0 });
    block_on(spool.store.insert(&r)).unwrap();
}

#[test]
fn retry_and_discard_refuse_a_message_in_flight_until_its_lease_ends() {
    let spool = Spool::new(MemoryStore::default(), config("a"));
    stored(&spool, "sending", State::Sending, 0, 5_000, None);
    stored(&spool, "failed", State::Failed, 0, 0, Some("MaxAttemptsExceeded"));
    for now in [0, 4_999] {
        assert_eq!(block_on(spool.retry("sending", now)).unwrap_err().code(), "MessageInFlight", "retry at {now}");
        assert_eq!(block_on(spool.discard("sending", now)).unwrap_err().code(), "MessageInFlight", "discard at {now}");
    }
    // At lease_until the sender is presumed gone: the message may be retried or discarded.
    let r = block_on(spool.retry("sending", 5_000)).unwrap();
    assert_eq!((r.state, r.next_attempt_at, r.attempts), (State::Sending, 0, 3), "a Sending record past its lease is left to the takeover");
    assert_eq!(block_on(spool.discard("sending", 5_000)).unwrap().id, "sending");
    assert!(block_on(spool.store.get("sending")).unwrap().is_none());
    // A failed message starts afresh.
    let r = block_on(spool.retry("failed", 7_000)).unwrap();
    assert_eq!((r.state, r.attempts, r.next_attempt_at, r.backoff_ms), (State::Queued, 0, 7_000, 0));
    // Someone else's message is unknown to this sender.
    let sams = Spool::new(&spool.store, config_for("b", SAM));
    assert_eq!(block_on(sams.retry("failed", 7_000)).unwrap_err().code(), "UnknownMessage");
    assert_eq!(block_on(sams.discard("failed", 7_000)).unwrap_err().code(), "UnknownMessage");
    assert_eq!(block_on(spool.store.get("failed")).unwrap().unwrap().state, State::Queued);
}

#[test]
fn flush_and_the_online_event_make_the_right_messages_due() {
    let spool = Spool::new(MemoryStore::default(), config("a"));
    stored(&spool, "network", State::Queued, 10_000, 0, Some("NetworkError"));
    stored(&spool, "timeout", State::Queued, 10_000, 0, Some("Timeout"));
    stored(&spool, "busy", State::Queued, 10_000, 0, Some("ErrorServerBusy"));
    stored(&spool, "due", State::Queued, 1_000, 0, Some("NetworkError"));
    stored(&spool, "failed", State::Failed, 10_000, 0, Some("NetworkError"));
    let state = |id: &str| block_on(spool.store.get(id)).unwrap().map(|r| (r.next_attempt_at, r.backoff_ms)).unwrap();
    // `online`: only waits that were for the network end; the server's own wait is kept.
    block_on(spool.make_due_after_network_return(4_000)).unwrap();
    assert_eq!(state("network"), (4_000, 4_000), "due now; 6,000 ms of the 10,000 ms backoff not waited");
    assert_eq!(state("timeout"), (4_000, 4_000));
    assert_eq!(state("busy"), (10_000, 10_000), "BackOffMilliseconds is honoured");
    assert_eq!(state("due"), (1_000, 1_000), "already due: untouched");
    assert_eq!(state("failed"), (10_000, 10_000), "failed: untouched");
    // `flush`: every queued message.
    block_on(spool.make_all_due(5_000)).unwrap();
    assert_eq!(state("busy"), (5_000, 5_000));
    assert_eq!(state("network"), (4_000, 4_000));
    assert_eq!(state("failed"), (10_000, 10_000));
    // Another sender's flush touches nothing of Tony's.
    stored(&spool, "later", State::Queued, 9_000, 0, None);
    block_on(Spool::new(&spool.store, config_for("b", SAM)).make_all_due(6_000)).unwrap();
    assert_eq!(state("later"), (9_000, 9_000));
}

#[test]
fn a_stored_record_is_sent_with_its_own_item_class() {
    // The class policy decided at send time (IPM.Note for a federated recipient) is what goes
    // out, whatever the spool's default envelope options say.
    let spool = Spool::new(MemoryStore::default(), config("a"));
    let mut r = spool.new_record(new_message("m", "c", "t"), 0).unwrap();
    r.item_class = "IPM.Note".into();
    assert!(spool.request(&r).unwrap().body.unwrap().contains("<t:ItemClass>IPM.Note</t:ItemClass>"));
    r.item_class = "IPM.Note.Microsoft.Missed".into();
    assert!(spool.request(&r).unwrap().body.unwrap().contains("<t:ItemClass>IPM.Note.Microsoft.Missed</t:ItemClass>"));
}

/// A store whose listing is a stale snapshot taken before another tab claimed a message (what
/// `all()` followed by `update()` can see when two tabs share a database).
struct StaleListing<'a>(&'a MemoryStore, Vec<SpoolRecord>);
impl SpoolStore for StaleListing<'_> {
    async fn get(&self, id: &str) -> offline_im::Result<Option<SpoolRecord>> {
        self.0.get(id).await
    }
    async fn insert(&self, record: &SpoolRecord) -> offline_im::Result<Option<u64>> {
        self.0.insert(record).await
    }
    async fn update(&self, id: &str, change: &mut dyn FnMut(&mut SpoolRecord) -> bool) -> offline_im::Result<Option<SpoolRecord>> {
        self.0.update(id, change).await
    }
    async fn update_many(&self, ids: &[String], change: &mut dyn FnMut(usize, &mut SpoolRecord) -> bool) -> offline_im::Result<Vec<Option<SpoolRecord>>> {
        self.0.update_many(ids, change).await
    }
    async fn delete(&self, id: &str) -> offline_im::Result<bool> {
        self.0.delete(id).await
    }
    async fn all(&self, _: &str) -> offline_im::Result<Vec<SpoolRecord>> {
        Ok(self.1.clone())
    }
}

#[test]
fn flush_decides_inside_the_update_not_from_a_stale_listing() {
    let shared = MemoryStore::default();
    let tony = Spool::new(&shared, config("a"));
    stored(&tony, "m1", State::Queued, 10_000, 0, Some("NetworkError"));
    let snapshot = block_on(shared.all(TONY)).unwrap();
    // Another tab claims m1 after the snapshot was read.
    block_on(shared.update("m1", &mut |r| machine::claim(r, TONY, "b", 10_000, &RetryPolicy::default()))).unwrap().unwrap();
    let before = block_on(shared.get("m1")).unwrap().unwrap();
    let stale = Spool::new(StaleListing(&shared, snapshot), config("a"));
    block_on(stale.make_all_due(5_000)).unwrap();
    block_on(stale.make_due_after_network_return(5_000)).unwrap();
    assert_eq!(block_on(shared.get("m1")).unwrap().unwrap(), before, "the claimed message is left as the other tab wrote it");
}

#[test]
fn settle_applies_only_to_a_message_being_sent_except_a_first_delivery() {
    let spool = Spool::new(MemoryStore::default(), config("a"));
    let p = RetryPolicy::default();
    let busy = outcome("ErrorServerBusy");
    let mut r = spool.new_record(new_message("m", "c", "t"), 0).unwrap();
    for state in [State::Queued, State::Failed, State::Delivered] {
        r.state = state;
        assert_eq!(machine::settle(&mut r, &busy, 5, &p), None, "a retry does not touch a {state:?} record");
        assert_eq!(r.state, state);
    }
    r.state = State::Delivered;
    assert_eq!(machine::settle(&mut r, &Outcome::Delivered, 5, &p), None, "delivered once is enough");
    r.state = State::Queued;
    assert_eq!(machine::settle(&mut r, &Outcome::Delivered, 5, &p), Some(Settled::Delivered), "a late delivery is recorded");
}

#[test]
fn expiry_needs_both_the_wall_age_and_the_wait_at_their_boundaries() {
    let spool = Spool::new(MemoryStore::default(), config("a"));
    let p = RetryPolicy { max_age_ms: 1_000, ..RetryPolicy::default() };
    let mut r = spool.new_record(new_message("m", "c", "t"), 5_000).unwrap();
    r.waited_ms = 1_000;
    assert!(!machine::expired(&r, 5_999, &p), "waited enough, but only 999 ms old");
    assert!(machine::expired(&r, 6_000, &p), "exactly max_age_ms old and waited");
    r.waited_ms = 999;
    assert!(!machine::expired(&r, 60_000, &p), "old, but waited 999 ms");
    r.waited_ms = 1_000;
    assert!(machine::expired(&r, 4_000, &p), "created in the future (the clock went back): its wall age counts as reached");
    assert!(!machine::expired(&r, 5_000, &p), "created this very ms: age 0, not reached");
}

#[test]
fn sender_keys_drop_sip_and_smtp_prefixes_and_case() {
    for a in ["tony@contoso.com", " Tony@Contoso.COM ", "sip:Tony@contoso.com", "SMTP:TONY@CONTOSO.COM", "smtp:tony@contoso.com"] {
        assert_eq!(offline_im::spool::record::normalize_sender(a), "tony@contoso.com", "{a:?}");
    }
}

#[test]
fn the_next_wakeup_of_a_message_being_sent_is_its_lease_end() {
    let spool = Spool::new(MemoryStore::default(), config("a"));
    let p = RetryPolicy::default();
    let mut r = spool.new_record(new_message("m", "c", "t"), 0).unwrap();
    assert!(machine::claim(&mut r, TONY, "a", 1_000, &p));
    assert_eq!(next_wakeup(std::slice::from_ref(&r), 2_000, &p), Some(1_000 + p.lease_ms), "another tab looks again when the lease ends");
    r.state = State::Delivered;
    assert_eq!(next_wakeup(&[r], 2_000, &p), None);
}

#[test]
fn tokens_and_redaction() {
    use offline_im::transport::{check_token, redact, redact_bearer};
    assert_eq!(check_token("eyJ0eXAi.abc def"), Ok(()), "visible ASCII and spaces");
    assert_eq!(check_token("ab\r\nX-Injected: 1").unwrap_err(), "character \\u{d} at byte 2 is not allowed in a header");
    assert!(check_token("tab\there").is_err() && check_token("é").is_err());
    assert_eq!(redact_bearer("Authorization: Bearer abc.def, next"), "Authorization: Bearer [redacted], next");
    assert_eq!(redact_bearer("bearer x1\nBearer y2;z BEARER q"), "bearer [redacted]\nBearer [redacted];z BEARER [redacted]", "any case, in the order they appear");
    assert_eq!(redact_bearer("Bearer ;nothing to hide"), "Bearer ;nothing to hide", "no credential, nothing redacted");
    assert_eq!(redact("token=s3cr3t and Bearer s3cr3t", Some("s3cr3t")), "token=[redacted] and Bearer [redacted]");
    assert_eq!(redact("abc", Some("abc")), "abc", "secrets shorter than 4 bytes are not searched for");
}

#[test]
fn memory_batches_settle_item_by_item() {
    block_on(batches_settle_item_by_item(MemoryStore::default()));
}

#[test]
fn memory_waves_overlap() {
    block_on(waves_overlap(MemoryStore::default()));
}

#[test]
fn memory_a_conversation_is_never_twice_in_one_ews_request() {
    block_on(a_conversation_is_never_twice_in_one_ews_request(MemoryStore::default()));
}

/// `request_flush` (what `flush()` does): the next round sends every queued message at once,
/// ending each backoff in the claim's own transaction (no write of its own); the wait skipped
/// does not count as waited; later passes of the round are not forced.
#[test]
fn a_requested_flush_sends_backed_off_messages_in_the_claim_transaction() {
    let store = Counting::new(MemoryStore::default());
    let spool = Spool::new(&store, SpoolConfig { mailbox: offline_im::ews::EwsMailbox { batch_size: 10, ..Default::default() }, concurrency: 1, ..config("a") });
    let clock = FakeClock::at(1_000);
    for i in 0..3 {
        block_on(accept(&spool, &format!("m{i}"), &format!("c{i}"), &clock));
    }
    let ews = FakeEws::default();
    ews.reply(503, "");
    block_on(spool.process_due(&ews, &clock, &|_| {})).unwrap();
    assert!(block_on(spool.pending()).unwrap().iter().all(|r| r.state == State::Queued && r.next_attempt_at == 121_000));
    clock.advance(20_000);
    assert_eq!(block_on(spool.process_due(&ews, &clock, &|_| {})).unwrap(), 0, "not due yet");
    let before = (store.updates.get(), store.batch_updates.get());
    spool.request_flush();
    ews.reply(503, "");
    assert_eq!(block_on(spool.process_due(&ews, &clock, &|_| {})).unwrap(), 3, "the flush pass sends all three, the next pass none");
    assert_eq!((store.updates.get(), store.batch_updates.get()), (before.0, before.1 + 2), "one claim and one settle transaction, nothing else");
    let m0 = block_on(store.get("m0")).unwrap().unwrap();
    assert_eq!((m0.attempts, m0.waited_ms), (2, 20_000), "20 s of the 120 s backoff were waited");
    assert_eq!(m0.next_attempt_at, 21_000 + 240_000);
}

/// `release` gives back only this instance's own claim, and the attempt does not count.
#[test]
fn release_gives_back_only_our_own_claim() {
    let p = RetryPolicy::default();
    let spool = Spool::new(MemoryStore::default(), config("a"));
    let mut r = spool.new_record(new_message("m1", "c1", "x"), 1_000).unwrap();
    assert_eq!(machine::release(&mut r.clone(), "a"), None, "queued: nothing to give back");
    assert!(machine::claim(&mut r, TONY, "a", 1_000, &p));
    let claimed = r.clone();
    assert_eq!(machine::release(&mut r.clone(), "b"), None, "another instance's claim is not ours to give back");
    let mut other = claimed.clone();
    other.state = State::Queued;
    assert_eq!(machine::release(&mut other, "a"), None, "not sending any more");
    let s = machine::release(&mut r, "a");
    assert!(matches!(s, Some(Settled::Retrying { ref code, next_attempt_at: 1_000, .. }) if code == "NotAttempted"), "{s:?}");
    assert_eq!((r.state, r.attempts, r.lease_owner.as_deref(), r.lease_until), (State::Queued, 0, None, 0));
}

/// `make_due_now` changes only a queued record still waiting; the wait it skips is taken off
/// its backoff.
#[test]
fn make_due_now_ends_only_a_wait_still_running() {
    let spool = Spool::new(MemoryStore::default(), config("a"));
    let mut r = spool.new_record(new_message("m1", "c1", "x"), 1_000).unwrap();
    assert!(!machine::make_due_now(&mut r, 1_000), "due at this very time: nothing to change");
    r.next_attempt_at = 121_000;
    r.backoff_ms = 120_000;
    assert!(machine::make_due_now(&mut r, 21_000));
    assert_eq!((r.next_attempt_at, r.backoff_ms), (21_000, 20_000));
    r.state = State::Failed;
    r.next_attempt_at = 99_000;
    assert!(!machine::make_due_now(&mut r, 21_000), "only queued records");
}
