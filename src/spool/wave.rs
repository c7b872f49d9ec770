//! A round's delivery requests in waves (as many requests as may be in flight), each wave in
//! three steps: claimed in one store transaction, sent, settled in one store transaction. The
//! steps of neighbouring waves overlap ([`Spool::run_waves`]): while a wave is on the wire, the
//! next two are claimed and the ones before it settled, and a send waits for no settle, so the
//! store's transactions (a durable commit each) do not add to the time on the wire. The waves
//! of one round hold different conversations, so overlapping them keeps each conversation's
//! order.

use super::engine::{Clock, Spool, SpoolEvent};
use super::machine::{self, Outcome, Settled};
use super::record::SpoolRecord;
use super::store::SpoolStore;
use crate::error::{Error, Result};
use crate::mailbox::{BatchItem, BatchShape, Mailbox};
use crate::message::OfflineMessage;
use crate::transport::Transport;
use futures_util::future::{join_all, select, Either, LocalBoxFuture};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::future::Future;

/// How many waves are claimed beyond the one on the wire: two, so the claim the next send needs
/// started a wave earlier and is not waiting behind the settle of the wave before.
const CLAIMED_AHEAD: usize = 2;

/// A store call of a round that finished: wave k's claim, or a wave's settle.
enum Done {
    Claimed(usize, Result<Wave>),
    Settled(Result<WaveResult>),
}

/// The store calls of a round in progress, beside its sends.
type Jobs<'a> = FuturesUnordered<LocalBoxFuture<'a, Done>>;

/// What a round has so far: the settled waves' results, per wave its claim not yet sent, and
/// the first store error.
struct Round {
    sent: Sent,
    claimed: Vec<Option<Wave>>,
    failure: Option<Error>,
}

impl Round {
    fn note(&mut self, done: Done) {
        let failed = match done {
            Done::Claimed(k, Ok(wave)) => {
                if let Some(slot) = self.claimed.get_mut(k) {
                    *slot = Some(wave);
                }
                None
            }
            Done::Settled(Ok(result)) => {
                result.add_to(&mut self.sent);
                None
            }
            Done::Claimed(_, Err(e)) | Done::Settled(Err(e)) => Some(e),
        };
        if let Some(e) = failed {
            self.failure.get_or_insert(e);
        }
    }
}

/// `work`'s output, while the round's store calls in `jobs` make progress beside it.
async fn beside<F: Future>(work: F, jobs: &mut Jobs<'_>, round: &mut Round) -> F::Output {
    let mut work = std::pin::pin!(work);
    loop {
        if jobs.is_empty() {
            return work.await;
        }
        match select(work.as_mut(), jobs.next()).await {
            Either::Left((out, _)) => return out,
            Either::Right((Some(done), _)) => round.note(done),
            Either::Right((None, _)) => {}
        }
    }
}

/// One wave after its claim: per message of the wave, in order, its request, its chain, whether
/// it starts a lane and whether it was claimed; and the claimed records with their position.
pub(super) struct Wave {
    request_of: Vec<usize>,
    chain_of: Vec<usize>,
    lane_start: Vec<bool>,
    is_claimed: Vec<bool>,
    claimed: Vec<(usize, SpoolRecord)>,
    requests: usize,
}

/// Per claimed message of a wave, in order: its outcome, or None if the server did not attempt
/// it. The whole is None when the wave was claimed but not sent (the round halted first).
type Outcomes = Option<Vec<Option<Outcome>>>;

/// What one round's waves did: attempts made, and per chain whether it goes on (every message
/// it had in the round was claimed and ended delivered or failed).
pub(super) struct Sent {
    pub attempts: usize,
    pub goes_on: Vec<bool>,
}

impl<S: SpoolStore, M: Mailbox> Spool<S, M> {
    /// Runs a round: the chains' `segments` packed into requests ([`pack`], under the current
    /// limit) sent in waves of as many as may be in flight; `force`: a queued message is due
    /// now (flush). Each wave is claimed in one store transaction and settled in one. Claims
    /// start up to [`CLAIMED_AHEAD`] waves ahead of the wave on the wire, and a sent wave is
    /// settled while the next ones go out, so the store's transactions (which it runs one after
    /// another) hold up a send only when they fall that far behind. A wave is sent only if the
    /// round has not halted (credentials needed), been throttled (the server's concurrency
    /// limit) or failed a store call by then; a wave claimed but not sent is released without an
    /// event, as if never claimed (its attempt does not count). Every wave sent is settled
    /// before this returns, even after a store call failed (then its error is returned).
    pub(super) async fn run_waves<T: Transport, C: Clock>(&self, segments: &[Vec<String>], force: bool, transport: &T, clock: &C, emit: &dyn Fn(SpoolEvent)) -> Result<Sent> {
        let (requests, in_flight) = pack(segments, &self.config.mailbox.batch_shape(), self.limit.get());
        let waves: Vec<&[Vec<Vec<usize>>]> = requests.chunks(in_flight.max(1)).collect();
        let mut round = Round { sent: Sent { attempts: 0, goes_on: vec![false; segments.len()] }, claimed: waves.iter().map(|_| None).collect(), failure: None };
        let mut jobs: Jobs<'_> = FuturesUnordered::new();
        let mut started = 0;
        // The caller starts a round only while it may send.
        for k in 0..waves.len() {
            if round.failure.is_none() && self.may_send() {
                for (i, w) in waves.iter().enumerate().take(k + 1 + CLAIMED_AHEAD).skip(started) {
                    jobs.push(Box::pin(async move { Done::Claimed(i, self.claim_wave(w, segments, force, clock).await) }));
                    started = i + 1;
                }
            }
            // This wave's claim, while the other store calls go on (when it never started, the
            // store calls run out and the round ends).
            while round.claimed.get(k).is_some_and(Option::is_none) && round.failure.is_none() {
                match jobs.next().await {
                    Some(done) => round.note(done),
                    None => break,
                }
            }
            let Some(wave) = round.claimed.get_mut(k).and_then(Option::take) else { break };
            if round.failure.is_some() || !self.may_send() {
                jobs.push(Box::pin(async move { Done::Settled(self.settle_wave(wave, None, clock, emit).await) }));
                continue;
            }
            let outcomes = beside(self.send_wave(&wave, transport, clock, emit), &mut jobs, &mut round).await;
            jobs.push(Box::pin(async move { Done::Settled(self.settle_wave(wave, Some(outcomes), clock, emit).await) }));
        }
        // The settles still running, and waves claimed but not sent (released).
        while let Some(done) = jobs.next().await {
            round.note(done);
            for wave in round.claimed.iter_mut().filter_map(Option::take) {
                jobs.push(Box::pin(async move { Done::Settled(self.settle_wave(wave, None, clock, emit).await) }));
            }
        }
        match round.failure {
            Some(e) => Err(e),
            None => Ok(round.sent),
        }
    }

    fn may_send(&self) -> bool {
        !self.halted.get() && !self.throttled.get()
    }

    /// Claims a wave's messages in one store transaction. A lane is claimed only up to its first
    /// message that is not claimable now (not due, or another instance holds it).
    async fn claim_wave<C: Clock>(&self, requests: &[Vec<Vec<usize>>], segments: &[Vec<String>], force: bool, clock: &C) -> Result<Wave> {
        let policy = self.config.retry;
        let (owner, sender) = (self.config.owner.as_str(), self.config.sender.as_str());
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
        let claimed = records.into_iter().enumerate().filter_map(|(i, r)| Some((i, r?))).collect();
        Ok(Wave { request_of, chain_of, lane_start, is_claimed, claimed, requests: requests.len() })
    }

    /// Sends a claimed wave: one request per group of its messages that share a request, all at
    /// once. Returns each claimed message's outcome; notes an outcome that halts or throttles
    /// the round.
    async fn send_wave<T: Transport, C: Clock>(&self, wave: &Wave, transport: &T, clock: &C, emit: &dyn Fn(SpoolEvent)) -> Vec<Option<Outcome>> {
        for (_, r) in &wave.claimed {
            emit(SpoolEvent::Sending(r.clone()));
        }
        let groups: Vec<Vec<BatchItem>> = (0..wave.requests)
            .map(|r| wave.claimed.iter().filter(|(i, _)| wave.request_of[*i] == r).map(|(i, rec)| BatchItem { message: message_of(rec), item_class: rec.item_class.clone(), after_previous: !wave.lane_start[*i] }).collect())
            .filter(|items: &Vec<BatchItem>| !items.is_empty())
            .collect();
        let outcomes: Vec<Option<Outcome>> = join_all(groups.iter().map(|items| self.outcomes(items, transport, clock))).await.into_iter().flatten().collect();
        for o in outcomes.iter().flatten() {
            if matches!(o, Outcome::AuthRequired { .. }) {
                self.halted.set(true);
            }
            if self.config.mailbox.is_concurrency_limit(o) {
                // The round starts nothing more (the requests in flight finish); the next pass
                // starts fewer at once.
                self.limit.set((self.limit.get() / 2).max(1));
                self.throttled.set(true);
            }
        }
        outcomes
    }

    /// Settles a wave in one store transaction: each claimed message by its outcome, released
    /// when the server did not attempt it (with a `retrying` event) or the wave was not sent
    /// (without one). Only the lease holder settles, except that a delivery is recorded even
    /// after the lease was taken over (the mail went out); never another sender's record.
    async fn settle_wave<C: Clock>(&self, wave: Wave, outcomes: Outcomes, clock: &C, emit: &dyn Fn(SpoolEvent)) -> Result<WaveResult> {
        let policy = self.config.retry;
        let (owner, sender) = (self.config.owner.as_str(), self.config.sender.as_str());
        let Wave { chain_of, is_claimed, claimed, .. } = wave;
        let mut result = WaveResult { attempts: 0, chains: chain_of.iter().map(|&c| (c, false)).collect() };
        result.chains.dedup();
        if claimed.is_empty() {
            return Ok(result);
        }
        let was_sent = outcomes.is_some();
        let outcomes = outcomes.unwrap_or_else(|| vec![None; claimed.len()]);
        result.attempts = outcomes.iter().flatten().count();
        let now = clock.now_ms();
        let claimed_ids: Vec<String> = claimed.into_iter().map(|(_, r)| r.id).collect();
        let mut settled: Vec<Option<Settled>> = vec![None; claimed_ids.len()];
        let written = self
            .store
            .update_many(&claimed_ids, &mut |i, rec| {
                let s = match &outcomes[i] {
                    None => machine::release(rec, owner),
                    Some(outcome) => {
                        let own_record = rec.sender == sender;
                        let holds_lease = own_record && rec.lease_owner.as_deref() == Some(owner);
                        if holds_lease || (own_record && matches!(outcome, Outcome::Delivered)) { machine::settle(rec, outcome, now, &policy) } else { None }
                    }
                };
                let changed = s.is_some();
                settled[i] = if was_sent { s } else { None };
                changed
            })
            .await?;
        let mut chain_ok = vec![true; chain_of.iter().max().map_or(0, |m| m + 1)];
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
        for (chain, ok) in &mut result.chains {
            *ok = chain_ok[*chain];
        }
        Ok(result)
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

/// What one wave's settling found: attempts made, and per chain in it whether it goes on.
struct WaveResult {
    attempts: usize,
    chains: Vec<(usize, bool)>,
}

impl WaveResult {
    fn add_to(self, sent: &mut Sent) {
        sent.attempts += self.attempts;
        for (chain, ok) in self.chains {
            sent.goes_on[chain] = ok;
        }
    }
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
