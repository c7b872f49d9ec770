//! The state machine: claiming a message for sending, and settling it with an EWS outcome.
//! Pure functions over one record; the engine applies them inside atomic store updates.

use super::record::{LastError, SpoolRecord, State};
use super::schedule::{claimable, RetryPolicy};
use crate::ews::EwsOutcome;
use serde::Serialize;

/// What settling did to the record (the event the messenger dispatches).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Settled {
    Delivered,
    Retrying { next_attempt_at: u64, code: String, message: String },
    Failed { code: String, message: String, permanent: bool },
    AuthRequired { http_status: u16, next_attempt_at: u64 },
}

/// Claims `r` for `owner` if it is claimable at `now`: state `sending`, one more attempt, lease
/// until `now + lease_ms`. Returns false (and leaves `r` alone) otherwise.
pub fn claim(r: &mut SpoolRecord, owner: &str, now: u64, policy: &RetryPolicy) -> bool {
    if !claimable(r, now) {
        return false;
    }
    r.state = State::Sending;
    r.attempts += 1;
    r.lease_owner = Some(owner.to_string());
    r.lease_until = now + policy.lease_ms;
    true
}

fn fail(r: &mut SpoolRecord, now: u64, code: &str, message: String, http_status: u16, permanent: bool) -> Settled {
    r.state = State::Failed;
    r.settled_at = Some(now);
    r.last_error = Some(LastError { code: code.to_string(), message: message.clone(), http_status });
    Settled::Failed { code: code.to_string(), message, permanent }
}

/// Applies an outcome to a record this sender claimed. Retries become failures once
/// `max_attempts` or `max_age_ms` is reached (kept in the spool as `failed`, never dropped).
/// Returns None when the record is no longer ours to settle (not `sending`: another sender
/// already settled it), except that a delivery is always recorded.
pub fn settle(r: &mut SpoolRecord, outcome: &EwsOutcome, now: u64, policy: &RetryPolicy) -> Option<Settled> {
    let delivered = matches!(outcome, EwsOutcome::Delivered { .. });
    if r.state != State::Sending && !(delivered && r.state != State::Delivered) {
        return None;
    }
    r.lease_owner = None;
    r.lease_until = 0;
    Some(match outcome {
        EwsOutcome::Delivered { .. } => {
            r.state = State::Delivered;
            r.settled_at = Some(now);
            r.last_error = None;
            Settled::Delivered
        }
        EwsOutcome::PermanentFailure { code, message, http_status } => fail(r, now, code, message.clone(), *http_status, true),
        EwsOutcome::AuthRequired { http_status } => {
            // Not the message's fault: the attempt does not count.
            r.attempts = r.attempts.saturating_sub(1);
            r.state = State::Queued;
            r.next_attempt_at = now + policy.retry_interval_ms;
            r.last_error = Some(LastError { code: "AuthRequired".into(), message: "EWS asked for credentials".into(), http_status: *http_status });
            Settled::AuthRequired { http_status: *http_status, next_attempt_at: r.next_attempt_at }
        }
        EwsOutcome::Retry { code, message, back_off_ms, http_status } => {
            r.last_error = Some(LastError { code: code.clone(), message: message.clone(), http_status: *http_status });
            if r.attempts >= policy.max_attempts {
                let why = format!("gave up after {} attempts; last error {code}: {message}", r.attempts);
                return Some(fail(r, now, "MaxAttemptsExceeded", why, *http_status, false));
            }
            if now.saturating_sub(r.created_at) >= policy.max_age_ms {
                let why = format!("older than {} ms; last error {code}: {message}", policy.max_age_ms);
                return Some(fail(r, now, "MaxAgeExceeded", why, *http_status, false));
            }
            r.state = State::Queued;
            r.next_attempt_at = now + policy.delay_ms(r.attempts, *back_off_ms);
            Settled::Retrying { next_attempt_at: r.next_attempt_at, code: code.clone(), message: message.clone() }
        }
    })
}
