//! When to try again, and which messages are due.
//!
//! Source of the interval: seed "Enable or Disable Offline IM …", Troubleshooting: "There is a two
//! minute timer from when an offline message is sent to when it's picked up and processed." We
//! try once at once, then on that timer with exponential backoff, never sooner than Exchange's
//! `BackOffMilliseconds` ("EWS throttling in Exchange").

use super::record::{SpoolRecord, State};
use serde::{Deserialize, Serialize};

/// Retry settings (all ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Base retry interval; default 120,000 (the seeds' two-minute timer).
    pub retry_interval_ms: u64,
    /// Upper bound of the exponential backoff; default 3,600,000.
    pub max_retry_interval_ms: u64,
    /// Attempts before a message fails as exhausted; default 20.
    pub max_attempts: u32,
    /// Age after which a message fails as exhausted; default 7 days.
    pub max_age_ms: u64,
    /// How long a claim by one sender holds before another may take the message over; default 90,000.
    pub lease_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retry_interval_ms: 120_000,
            max_retry_interval_ms: 3_600_000,
            max_attempts: 20,
            max_age_ms: 7 * 24 * 3_600_000,
            lease_ms: 90_000,
        }
    }
}

impl RetryPolicy {
    /// The longest delay the schedule ever sets (ms): `max_retry_interval_ms` (at least the
    /// base interval). Exchange's BackOffMilliseconds is honoured up to this.
    pub fn longest_delay_ms(&self) -> u64 {
        self.max_retry_interval_ms.max(self.retry_interval_ms)
    }

    /// Delay before the next attempt after `attempts` failed ones: `interval × 2^(attempts−1)`,
    /// capped at [`RetryPolicy::longest_delay_ms`], and at least `back_off_ms` (Exchange's
    /// BackOffMilliseconds, itself capped there) when the server sent one.
    pub fn delay_ms(&self, attempts: u32, back_off_ms: Option<u64>) -> u64 {
        let shift = attempts.saturating_sub(1).min(32);
        let longest = self.longest_delay_ms();
        let exp = self.retry_interval_ms.saturating_mul(1u64 << shift).min(longest);
        exp.max(back_off_ms.unwrap_or(0).min(longest))
    }
}

/// Whether a record may be claimed now: queued and due, or sending with an expired lease (its
/// sender went away mid-send, e.g. a reload). Clock-proof: a due time further ahead than the
/// longest delay the schedule sets, or a lease further ahead than `lease_ms`, was written by a
/// clock that has since gone back (or ran ahead then), so the record is treated as due / the
/// lease as expired.
pub fn claimable(r: &SpoolRecord, now: u64, policy: &RetryPolicy) -> bool {
    match r.state {
        State::Queued => r.next_attempt_at <= now || r.next_attempt_at > now.saturating_add(policy.longest_delay_ms()),
        State::Sending => r.lease_until <= now || r.lease_until > now.saturating_add(policy.lease_ms),
        _ => false,
    }
}

/// What one processing round works through: per conversation whose oldest active message is
/// claimable now, that message and the active ones behind it, in order. The round sends a
/// conversation's messages one after another and stops the chain at the first that does not end
/// delivered or failed (it is retrying, or someone else holds it), so order is kept. Chains are
/// ordered by their first message.
pub fn due_chains(records: &[SpoolRecord], now: u64, policy: &RetryPolicy) -> Vec<Vec<String>> {
    let mut active: Vec<&SpoolRecord> = records.iter().filter(|r| r.state.is_active()).collect();
    active.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    let mut chains: Vec<Vec<String>> = Vec::new();
    let mut index: std::collections::HashMap<&str, Option<usize>> = std::collections::HashMap::new();
    for r in active {
        match index.get(r.conversation_id.as_str()) {
            Some(Some(i)) => chains[*i].push(r.id.clone()),
            Some(None) => {}
            None => {
                let slot = claimable(r, now, policy).then(|| {
                    chains.push(vec![r.id.clone()]);
                    chains.len() - 1
                });
                index.insert(r.conversation_id.as_str(), slot);
            }
        }
    }
    chains
}

/// The earliest time anything becomes claimable, if anything is active (`now` for a record
/// that [`claimable`] already treats as due).
pub fn next_wakeup(records: &[SpoolRecord], now: u64, policy: &RetryPolicy) -> Option<u64> {
    records
        .iter()
        .filter_map(|r| match r.state {
            State::Queued | State::Sending if claimable(r, now, policy) => Some(now),
            State::Queued => Some(r.next_attempt_at),
            State::Sending => Some(r.lease_until),
            _ => None,
        })
        .min()
}
