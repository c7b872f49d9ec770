//! The spool engine: accepts messages, picks the due ones, sends them through a [`Transport`]
//! and settles them. Generic over the store, the transport and the clock so that it runs natively
//! with a fake clock and in the browser with IndexedDB, fetch and `Date.now()`.

use super::machine::{self, Outcome, Settled};
use super::record::{normalize_sender, SpoolRecord, State, RECORD_VERSION};
use super::schedule::{due_chains, RetryPolicy};
use super::store::SpoolStore;
use crate::transport::Transport;
use crate::error::{Error, Result};
use crate::mailbox::{BatchItem, BatchShape, Mailbox, Request};
use crate::message::{MailboxAddress, OfflineMessage};
use futures_util::future::join_all;
use serde::Serialize;
use std::cell::Cell;

/// Milliseconds since the Unix epoch.
pub trait Clock {
    fn now_ms(&self) -> u64;
}

/// What the messenger tells the app (the JS event names are [`SpoolEvent::name`]).
#[derive(Debug, Clone, PartialEq)]
pub enum SpoolEvent {
    Queued(SpoolRecord),
    Sending(SpoolRecord),
    Settled(SpoolRecord, Settled),
}

impl SpoolEvent {
    /// `queued`, `sending`, `delivered`, `retrying`, `failed` or `authrequired`.
    pub fn name(&self) -> &'static str {
        match self {
            SpoolEvent::Queued(_) => "queued",
            SpoolEvent::Sending(_) => "sending",
            SpoolEvent::Settled(_, Settled::Delivered) => "delivered",
            SpoolEvent::Settled(_, Settled::Retrying { .. }) => "retrying",
            SpoolEvent::Settled(_, Settled::Failed { .. }) => "failed",
            SpoolEvent::Settled(_, Settled::AuthRequired { .. }) => "authrequired",
        }
    }

    /// The event's `detail` for JavaScript: `{ record, …settled fields }`.
    pub fn detail(&self) -> EventDetail<'_> {
        match self {
            SpoolEvent::Queued(r) | SpoolEvent::Sending(r) => EventDetail { record: r, settled: None },
            SpoolEvent::Settled(r, s) => EventDetail { record: r, settled: Some(s) },
        }
    }
}

/// Serializable `detail` of an event.
#[derive(Debug, Serialize)]
pub struct EventDetail<'a> {
    pub record: &'a SpoolRecord,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub settled: Option<&'a Settled>,
}

/// A message as `send` accepts it, after policy decided it goes to the mailbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub id: String,
    pub conversation_id: Option<String>,
    pub to: MailboxAddress,
    pub to_sip_address: Option<String>,
    pub text: String,
    pub subject: Option<String>,
    pub item_class: String,
}

/// Engine settings, over the mailbox back end `M` that writes and reads the requests.
#[derive(Debug, Clone)]
pub struct SpoolConfig<M> {
    /// The back end: builds each record's delivery request and reads its reply.
    pub mailbox: M,
    pub retry: RetryPolicy,
    /// Requests in flight at once (≥ 1). Lowered (halved, at least 1) for the rest of a round
    /// when the server reports its per-mailbox concurrency limit ([`Mailbox::is_concurrency_limit`]).
    pub concurrency: usize,
    /// This messenger instance's id, written into leases.
    pub owner: String,
    /// The signed-in sender's primary SMTP address: the owner of every record this spool
    /// writes, and the only records it reads, sends, retries or discards. Normalised by
    /// [`Spool::new`] ([`normalize_sender`]).
    pub sender: String,
}

/// The engine over a store and a mailbox back end, for one sender.
pub struct Spool<S, M> {
    pub store: S,
    pub config: SpoolConfig<M>,
    /// Set when an attempt in the current round needed credentials: the round starts no more
    /// attempts (they would all fail the same way).
    halted: Cell<bool>,
    /// Requests in flight allowed in this round (starts at `config.concurrency`).
    limit: Cell<usize>,
    /// Set when the server reported its concurrency limit in this pass: the pass starts no more
    /// attempts, and the next one runs at the lowered `limit`.
    throttled: Cell<bool>,
    /// Set by [`Spool::request_flush`]: the next pass treats every queued message as due.
    force: Cell<bool>,
}

impl<S: SpoolStore, M: Mailbox> Spool<S, M> {
    pub fn new(store: S, mut config: SpoolConfig<M>) -> Self {
        config.sender = normalize_sender(&config.sender);
        let limit = Cell::new(config.concurrency.max(1));
        Spool { store, config, halted: Cell::new(false), limit, throttled: Cell::new(false), force: Cell::new(false) }
    }

    /// The normalised sender this spool serves.
    pub fn sender(&self) -> &str {
        &self.config.sender
    }

    /// The record `id` if it is this sender's: another sender's record is reported as absent
    /// (its existence and content stay private). Errors: [`Error::UnknownMessage`].
    async fn own(&self, id: &str) -> Result<SpoolRecord> {
        match self.store.get(id).await? {
            Some(r) if r.sender == self.config.sender => Ok(r),
            _ => Err(Error::UnknownMessage(id.to_string())),
        }
    }

    /// The delivery request for a stored record, rebuilt from the record and the current
    /// settings by the back end.
    pub fn request(&self, r: &SpoolRecord) -> Result<Request> {
        let message = OfflineMessage { id: r.id.clone(), conversation_id: Some(r.conversation_id.clone()), to: r.to.clone(), text: r.text.clone(), subject: r.subject.clone() };
        self.config.mailbox.delivery(&message, &r.item_class)
    }

    /// Validates `m` (every check its envelope needs: bad input is rejected before it is
    /// accepted) and returns the record `enqueue` would store. The message's fields are moved,
    /// not copied, through the check into the record.
    pub fn new_record(&self, m: NewMessage, now: u64) -> Result<SpoolRecord> {
        let conversation_id = m.conversation_id.filter(|c| !c.is_empty()).unwrap_or_else(|| m.id.clone());
        let message = OfflineMessage { id: m.id, conversation_id: Some(conversation_id), to: m.to, text: m.text, subject: m.subject };
        let item_class = m.item_class;
        self.config.mailbox.check(&message, &item_class)?;
        let OfflineMessage { id, conversation_id, to, text, subject } = message;
        Ok(SpoolRecord {
            conversation_id: conversation_id.unwrap_or_default(),
            id,
            sender: self.config.sender.clone(),
            to,
            to_sip_address: m.to_sip_address,
            text,
            subject,
            item_class,
            state: State::Queued,
            attempts: 0,
            auth_failures: 0,
            created_at: now,
            seq: 0,
            next_attempt_at: now,
            backoff_ms: 0,
            waited_ms: 0,
            last_error: None,
            lease_owner: None,
            lease_until: 0,
            settled_at: None,
            record_version: RECORD_VERSION,
        })
    }

    /// Stores a new record durably (the store assigns its `seq`). Idempotent by id: sending the
    /// same id twice returns the stored record and `false`. Errors: [`Error::InvalidInput`]
    /// (`id`) when the id belongs to another sender's record (nothing of it is shown).
    pub async fn enqueue(&self, mut record: SpoolRecord) -> Result<(SpoolRecord, bool)> {
        record.sender.clone_from(&self.config.sender);
        if let Some(seq) = self.store.insert(&record).await? {
            record.seq = seq;
            return Ok((record, true));
        }
        match self.store.get(&record.id).await? {
            Some(existing) if existing.sender == self.config.sender => Ok((existing, false)),
            Some(_) => Err(Error::InvalidInput { field: "id", reason: "is already used by a message of another sender".into() }),
            None => Err(Error::UnknownMessage(record.id.clone())),
        }
    }

    /// Takes over a record that has no sender (record version 1, from before records knew
    /// their sender) as this sender's, because the app says this user wrote it: the record to
    /// store, with this sender and, if it was still active, queued and due now. The store gives
    /// it a new `seq` (after everything stored) when it moves it (`IdbStore::adopt_unowned`).
    pub fn adoptable(&self, mut record: SpoolRecord, now: u64) -> SpoolRecord {
        record.sender.clone_from(&self.config.sender);
        record.record_version = RECORD_VERSION;
        record.lease_owner = None;
        record.lease_until = 0;
        record.backoff_ms = 0;
        if record.state.is_active() {
            record.state = State::Queued;
            record.next_attempt_at = now;
        }
        record
    }

    /// Records not yet delivered (queued, sending, failed), oldest first.
    pub async fn pending(&self) -> Result<Vec<SpoolRecord>> {
        let mut all: Vec<SpoolRecord> = self.store.all(&self.config.sender).await?.into_iter().filter(|r| r.state != State::Delivered).collect();
        all.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        Ok(all)
    }

    /// Makes a queued or failed message due now (a failed one starts its attempts afresh).
    /// Errors: [`Error::UnknownMessage`], [`Error::MessageInFlight`].
    pub async fn retry(&self, id: &str, now: u64) -> Result<SpoolRecord> {
        let mut in_flight = false;
        let sender = self.config.sender.as_str();
        let updated = self
            .store
            .update(id, &mut |r| match r.state {
                _ if r.sender != sender => false,
                State::Queued | State::Failed => {
                    if r.state == State::Failed {
                        r.attempts = 0;
                        r.auth_failures = 0;
                        r.waited_ms = 0;
                        r.settled_at = None;
                    }
                    r.state = State::Queued;
                    r.next_attempt_at = now;
                    r.backoff_ms = 0;
                    true
                }
                State::Sending if r.lease_until > now => {
                    in_flight = true;
                    false
                }
                _ => false,
            })
            .await?;
        if in_flight {
            return Err(Error::MessageInFlight(id.to_string()));
        }
        match updated {
            Some(r) => Ok(r),
            None => self.own(id).await,
        }
    }

    /// Removes a message from the spool (the app gave up on it). Errors: [`Error::UnknownMessage`],
    /// [`Error::MessageInFlight`].
    pub async fn discard(&self, id: &str, now: u64) -> Result<SpoolRecord> {
        let r = self.own(id).await?;
        if r.state == State::Sending && r.lease_until > now {
            return Err(Error::MessageInFlight(id.to_string()));
        }
        self.store.delete(id).await?;
        Ok(r)
    }

    /// Makes every queued message due now (`flush`: the app asks to process now).
    pub async fn make_all_due(&self, now: u64) -> Result<()> {
        self.make_due(now, |_| true).await
    }

    /// Makes due now the queued messages whose last attempt got no reply (`NetworkError`,
    /// `Timeout`): the network is back (the browser's `online` event). A wait the server asked
    /// for (BackOffMilliseconds, 503) is kept.
    pub async fn make_due_after_network_return(&self, now: u64) -> Result<()> {
        self.make_due(now, |r| r.last_error.as_ref().is_some_and(|e| e.code == "NetworkError" || e.code == "Timeout")).await
    }

    /// One transaction for all of them: a round running meanwhile sees none or all made due.
    async fn make_due(&self, now: u64, which: impl Fn(&SpoolRecord) -> bool) -> Result<()> {
        let ids: Vec<String> = self.store.all(&self.config.sender).await?.into_iter().filter(|r| r.state == State::Queued && r.next_attempt_at > now && which(r)).map(|r| r.id).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let sender = self.config.sender.as_str();
        self.store.update_many(&ids, &mut |_, x| x.sender == sender && machine::make_due_now(x, now)).await?;
        Ok(())
    }

    /// `flush` without a write of its own: the next [`Spool::process_due`] treats every queued
    /// message as due in its first pass, and ends each one's backoff in the transaction that
    /// claims it ([`machine::make_due_now`]). Same effect as [`Spool::make_all_due`] followed by
    /// a round, with a third fewer IndexedDB writes; if the round never runs (the tab closed),
    /// the backoffs stand.
    pub fn request_flush(&self) {
        self.force.set(true);
    }

    /// Deletes delivered records settled more than `keep_ms` ago (they are kept a while so that a
    /// repeated `send` with the same id is recognised and not delivered twice).
    pub async fn prune(&self, now: u64, keep_ms: u64) -> Result<usize> {
        let mut n = 0;
        for r in self.store.all(&self.config.sender).await? {
            if r.state == State::Delivered && r.settled_at.is_some_and(|t| t + keep_ms <= now) && self.store.delete(&r.id).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Sends everything due until nothing is due. Each pass reads the store once
    /// ([`due_chains`]) and goes in rounds: every conversation still going gives its next
    /// message (on a back end whose [`BatchShape`] is `chained`, its share of a request: all of
    /// it for one conversation alone), and these are packed into delivery requests ([`pack`]) sent with at most
    /// `concurrency` in flight (lanes, where they run in parallel). A conversation goes on to the
    /// next round only when all it sent ended delivered or failed, so order is kept and a failed
    /// message does not hold up the next. Requests go in waves of as many as may be in flight;
    /// a wave's messages are claimed in one store transaction and settled in one. Returns the
    /// number of attempts made.
    pub async fn process_due<T: Transport, C: Clock>(&self, transport: &T, clock: &C, emit: &dyn Fn(SpoolEvent)) -> Result<usize> {
        let mut made = 0;
        self.halted.set(false);
        self.limit.set(self.config.concurrency.max(1));
        let shape = self.config.mailbox.batch_shape();
        loop {
            self.throttled.set(false);
            let force = self.force.replace(false);
            let mut records = self.store.all(&self.config.sender).await?;
            if force {
                let now = clock.now_ms();
                for r in &mut records {
                    machine::make_due_now(r, now);
                }
            }
            let mut chains: Vec<Vec<String>> = due_chains(&records, clock.now_ms(), &self.config.retry);
            drop(records);
            for c in &mut chains {
                c.reverse();
            }
            let mut attempted = 0;
            // Rounds: stop when no conversation goes on, or the round halted / was throttled.
            while !chains.is_empty() && !self.halted.get() && !self.throttled.get() {
                // Breadth first: a request's worth shared among the conversations going (one
                // conversation alone fills a chained request; thirty give one message each).
                let take = if shape.chained { (shape.items / chains.len()).max(1) } else { 1 };
                let segments: Vec<Vec<String>> = chains.iter_mut().map(|c| (0..take).map_while(|_| c.pop()).collect()).collect();
                let (requests, in_flight) = pack(&segments, &shape, self.limit.get());
                let mut goes_on = vec![false; chains.len()];
                // Waves of `in_flight` requests: each claimed in one transaction and settled in one.
                for wave in requests.chunks(in_flight) {
                    let sent = self.send_wave(wave, &segments, force, transport, clock, emit).await?;
                    attempted += sent.attempts;
                    for (chain, ok) in sent.chains {
                        goes_on[chain] = ok;
                    }
                }
                let mut i = 0;
                chains.retain(|c| {
                    i += 1;
                    goes_on[i - 1] && !c.is_empty()
                });
            }
            // Ends when a pass attempts nothing: nothing due, or the round halted (every chain
            // stops before its first attempt).
            if attempted == 0 {
                return Ok(made);
            }
            made += attempted;
        }
    }

    /// Claims, sends and settles one wave of delivery requests: each request a list of lanes of
    /// chain indexes into `segments` (see [`pack`]). The wave's messages are claimed in one
    /// store transaction, its requests go out at once, and all are settled in one transaction:
    /// two transactions per wave, however many messages. A lane is claimed only up to its first
    /// message that is not claimable now (not due, or another instance holds it). `force`: a
    /// queued message is due now (flush).
    async fn send_wave<T: Transport, C: Clock>(&self, requests: &[Vec<Vec<usize>>], segments: &[Vec<String>], force: bool, transport: &T, clock: &C, emit: &dyn Fn(SpoolEvent)) -> Result<Sent> {
        let policy = self.config.retry;
        let (owner, sender) = (self.config.owner.as_str(), self.config.sender.as_str());
        let mut sent = Sent { attempts: 0, chains: Vec::new() };
        if self.halted.get() || self.throttled.get() {
            // A wave not yet started when the round halted or was throttled starts nothing.
            return Ok(sent);
        }
        // Every message of the wave, flattened: its request, chain and whether it starts a lane.
        let (mut request_of, mut chain_of, mut lane_start) = (Vec::new(), Vec::new(), Vec::new());
        for (r, lanes) in requests.iter().enumerate() {
            for lane in lanes {
                for (k, &chain) in lane.iter().enumerate() {
                    request_of.push(r);
                    chain_of.push(chain);
                    lane_start.push(k == 0);
                }
            }
        }
        let mut next = vec![0usize; segments.len()];
        let ids: Vec<String> = chain_of
            .iter()
            .map(|&chain| {
                next[chain] += 1;
                segments[chain][next[chain] - 1].clone()
            })
            .collect();
        sent.chains = chain_of.iter().map(|&c| (c, false)).collect();
        sent.chains.dedup();
        let now = clock.now_ms();
        let mut is_claimed = vec![false; ids.len()];
        let records = self
            .store
            .update_many(&ids, &mut |i, r| {
                is_claimed[i] = (lane_start[i] || is_claimed[i - 1]) && r.sender == sender && {
                    if force {
                        machine::make_due_now(r, now);
                    }
                    machine::claim(r, sender, owner, now, &policy)
                };
                is_claimed[i]
            })
            .await?;
        // (position in `ids`, record) of what was claimed, in order.
        let claimed: Vec<(usize, SpoolRecord)> = records.into_iter().enumerate().filter_map(|(i, r)| Some((i, r?))).collect();
        if claimed.is_empty() {
            return Ok(sent);
        }
        for (_, r) in &claimed {
            emit(SpoolEvent::Sending(r.clone()));
        }
        // One request per group of claimed messages that share a request, all at once.
        let groups: Vec<Vec<BatchItem>> = (0..requests.len())
            .map(|r| claimed.iter().filter(|(i, _)| request_of[*i] == r).map(|(i, rec)| BatchItem { message: message_of(rec), item_class: rec.item_class.clone(), after_previous: !lane_start[*i] }).collect())
            .filter(|items: &Vec<BatchItem>| !items.is_empty())
            .collect();
        let outcomes: Vec<Option<Outcome>> = join_all(groups.iter().map(|items| self.outcomes(items, transport, clock))).await.into_iter().flatten().collect();
        for o in outcomes.iter().flatten() {
            if matches!(o, Outcome::AuthRequired { .. }) {
                self.halted.set(true);
            }
            if self.config.mailbox.is_concurrency_limit(o) {
                // This pass starts nothing more (the requests in flight finish); the next starts
                // fewer at once.
                self.limit.set((self.limit.get() / 2).max(1));
                self.throttled.set(true);
            }
        }
        sent.attempts = outcomes.iter().flatten().count();
        let now = clock.now_ms();
        let claimed_ids: Vec<String> = claimed.into_iter().map(|(_, r)| r.id).collect();
        let mut settled: Vec<Option<Settled>> = vec![None; claimed_ids.len()];
        let written = self
            .store
            .update_many(&claimed_ids, &mut |i, rec| {
                let s = match &outcomes[i] {
                    None => machine::release(rec, owner),
                    // Only the lease holder settles, except that a delivery is recorded even after
                    // the lease was taken over (the mail went out); never another sender's record.
                    Some(outcome) => {
                        let own_record = rec.sender == sender;
                        let holds_lease = own_record && rec.lease_owner.as_deref() == Some(owner);
                        if holds_lease || (own_record && matches!(outcome, Outcome::Delivered)) { machine::settle(rec, outcome, now, &policy) } else { None }
                    }
                };
                let changed = s.is_some();
                settled[i] = s;
                changed
            })
            .await?;
        // A chain goes on when every message of it in this wave was claimed and ended delivered
        // or failed.
        let mut chain_ok = vec![true; segments.len()];
        let mut written = written.into_iter().zip(settled).zip(&outcomes);
        for (i, &chain) in chain_of.iter().enumerate() {
            // `written` holds the claimed messages, in order.
            let goes_on = is_claimed[i] && written.next().is_some_and(|((record, s), outcome)| {
                let goes_on = outcome.is_some() && matches!(s, Some(Settled::Delivered | Settled::Failed { .. }));
                if let (Some(record), Some(s)) = (record, s) {
                    emit(SpoolEvent::Settled(record, s));
                }
                goes_on
            });
            chain_ok[chain] &= goes_on;
        }
        for (chain, ok) in &mut sent.chains {
            *ok = chain_ok[*chain];
        }
        Ok(sent)
    }

    /// Each item's outcome: the request built, sent and its reply read by the back end. If the
    /// request cannot be built (the settings changed since the messages were accepted), each
    /// message that fails the back end's checks fails permanently and the others are not
    /// attempted.
    async fn outcomes<T: Transport, C: Clock>(&self, items: &[BatchItem], transport: &T, clock: &C) -> Vec<Option<Outcome>> {
        let mailbox = &self.config.mailbox;
        match mailbox.delivery_batch(items) {
            Ok(request) => match transport.send(&request).await {
                Ok(reply) => mailbox.batch_outcomes(&reply, items, clock.now_ms()),
                Err(e) => vec![Some(e.outcome()); items.len()],
            },
            Err(batch_error) => items
                .iter()
                .map(|i| {
                    let e = if items.len() == 1 { Err(batch_error.clone()) } else { mailbox.check(&i.message, &i.item_class) };
                    e.err().map(|e| Outcome::Failed { code: e.code().to_string(), message: e.to_string(), http_status: 0, permanent: true })
                })
                .collect(),
        }
    }
}

/// What one wave did: attempts made, and per chain in it whether the chain goes on.
struct Sent {
    attempts: usize,
    chains: Vec<(usize, bool)>,
}

fn message_of(r: &SpoolRecord) -> OfflineMessage {
    OfflineMessage { id: r.id.clone(), conversation_id: Some(r.conversation_id.clone()), to: r.to.clone(), text: r.text.clone(), subject: r.subject.clone() }
}

/// Packs a round's segments (one per conversation, its next messages in order) into requests of
/// `shape`, and says how many to have in flight under `limit`. Each request is a list of lanes;
/// a lane lists chain indexes, one per message (a chain's messages together, in order). A
/// request holds at most `shape.items` messages in at most `shape.lanes` lanes (fewer lanes
/// when lanes run in parallel and `limit` is lower); when a round has fewer messages than that
/// many requests in flight could carry, they are spread over `limit` requests.
pub fn pack(segments: &[Vec<String>], shape: &BatchShape, limit: usize) -> (Vec<Vec<Vec<usize>>>, usize) {
    let limit = limit.max(1);
    let (max_lanes, in_flight) = if shape.lanes_run_in_parallel {
        let lanes = shape.lanes.clamp(1, limit);
        (lanes, (limit / lanes).max(1))
    } else {
        (shape.lanes.max(1), limit)
    };
    let total: usize = segments.iter().map(Vec::len).sum();
    let live = segments.iter().filter(|s| !s.is_empty()).count();
    let requests = total.div_ceil(shape.items.max(1)).max(live.min(in_flight)).max(1);
    let cap = total.div_ceil(requests).max(segments.iter().map(Vec::len).max().unwrap_or(1));
    let mut batches: Vec<Vec<Vec<usize>>> = Vec::new();
    let mut size = 0;
    for (chain, seg) in segments.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
        if batches.is_empty() || size + seg.len() > cap.min(shape.items.max(1)) {
            batches.push(Vec::new());
            size = 0;
        }
        let Some(batch) = batches.last_mut() else { break };
        let run = std::iter::repeat_n(chain, seg.len());
        if batch.len() < max_lanes {
            batch.push(run.collect());
        } else if let Some(lane) = batch.iter_mut().min_by_key(|l| l.len()) {
            lane.extend(run);
        }
        size += seg.len();
    }
    (batches, in_flight)
}
