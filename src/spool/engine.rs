//! The spool engine: accepts messages, picks the due ones, sends them through a [`Transport`]
//! and settles them. Generic over the store, the transport and the clock so that it runs natively
//! with a fake clock and in the browser with IndexedDB, fetch and `Date.now()`.

use super::machine::{self, Settled};
use super::record::{normalize_sender, SpoolRecord, State, RECORD_VERSION};
use super::schedule::{due_chains, RetryPolicy};
use super::store::SpoolStore;
use crate::transport::Transport;
use crate::error::{Error, Result};
use crate::mailbox::{Mailbox, Request};
use crate::message::{MailboxAddress, OfflineMessage};
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
    pub(super) halted: Cell<bool>,
    /// Requests in flight allowed in this round (starts at `config.concurrency`).
    pub(super) limit: Cell<usize>,
    /// Set when the server reported its concurrency limit in this pass: the pass starts no more
    /// attempts, and the next one runs at the lowered `limit`.
    pub(super) throttled: Cell<bool>,
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
    /// it for one conversation alone), and these are packed into delivery requests ([`pack`](super::pack)) sent with at most
    /// `concurrency` in flight (lanes, where they run in parallel). A conversation goes on to the
    /// next round only when all it sent ended delivered or failed, so order is kept and a failed
    /// message does not hold up the next. Requests go in waves of as many as may be in flight;
    /// a wave's messages are claimed in one store transaction and settled in one; while a wave
    /// is on the wire the next two are claimed and the ones before it settled (wave.rs).
    /// Returns the number of attempts made.
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
                // Requests in waves of as many as may be in flight: each claimed in one
                // transaction and settled in one, overlapping with the waves beside it (wave.rs).
                let sent = self.run_waves(&segments, force, transport, clock, emit).await?;
                attempted += sent.attempts;
                let goes_on = sent.goes_on;
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
}
