//! The state machine: claiming a message for sending, and settling it with the outcome of an
//! attempt. Pure functions over one record; the engine applies them inside atomic store updates.
//!
//! Rules (README, Reliability):
//! - only the record's own sender claims or settles it;
//! - a settle by an instance that no longer holds the lease is dropped, except a delivery
//!   (the mail went out: that must not be lost);
//! - expiry (`MaxAgeExceeded`) needs both the wall-clock age and the time the spool saw pass in
//!   backoff ([`SpoolRecord::waited_ms`]) to reach `maxAgeMs`, so a clock jump alone never
//!   expires a message; a `createdAt` in the future (the clock was ahead at acceptance) is
//!   not trusted and only the waited time counts.

use super::record::{LastError, SpoolRecord, State};
use super::schedule::{claimable, RetryPolicy};
use crate::transport::redact_bearer;
pub use crate::mailbox::Outcome;
use serde::Serialize;

/// What settling did to the record (the event the messenger dispatches).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Settled {
    Delivered,
    Retrying { next_attempt_at: u64, code: String, message: String },
    Failed { code: String, message: String, permanent: bool },
    /// `code` and `message` give the cause (`Http401`, `LoginPage`, `Redirect`,
    /// `TokenUnavailable`, `TokenUnsafe`, …).
    AuthRequired { http_status: u16, next_attempt_at: u64, code: String, message: String },
}

/// Claims `r` for `owner` (an instance of `sender`'s messenger) if it is `sender`'s and claimable
/// at `now`: state `sending`, one more attempt, lease until `now + lease_ms`, and the backoff
/// it waited added to `waited_ms`. Returns false (and leaves `r` alone) otherwise.
pub fn claim(r: &mut SpoolRecord, sender: &str, owner: &str, now: u64, policy: &RetryPolicy) -> bool {
    if r.sender != sender || !claimable(r, now, policy) {
        return false;
    }
    if r.state == State::Queued && r.backoff_ms > 0 {
        let scheduled_at = r.next_attempt_at.saturating_sub(r.backoff_ms);
        r.waited_ms = r.waited_ms.saturating_add(now.saturating_sub(scheduled_at).min(r.backoff_ms));
        r.backoff_ms = 0;
    }
    r.state = State::Sending;
    r.attempts += 1;
    r.lease_owner = Some(owner.to_string());
    r.lease_until = now.saturating_add(policy.lease_ms);
    true
}

/// Gives back a claim by `owner` whose message the server did not attempt (an earlier message of
/// its conversation in the same batch failed first: Graph answers it 424). The attempt does not
/// count; the record is queued, due again once the message before it is settled. Returns the
/// event (`retrying`, code `NotAttempted`), or None when `r` is not `owner`'s claim.
pub fn release(r: &mut SpoolRecord, owner: &str) -> Option<Settled> {
    if r.state != State::Sending || r.lease_owner.as_deref() != Some(owner) {
        return None;
    }
    r.state = State::Queued;
    r.attempts = r.attempts.saturating_sub(1);
    r.lease_owner = None;
    r.lease_until = 0;
    let message = "not attempted: an earlier message of this conversation in the same batch was not delivered".to_string();
    Some(Settled::Retrying { next_attempt_at: r.next_attempt_at, code: "NotAttempted".into(), message })
}

/// Ends a queued record's backoff at `now` (`flush`: the app asks to send now). The time already
/// waited is what counts toward expiry: `backoffMs` shrinks by the wait that was skipped.
/// Returns whether `r` changed.
pub fn make_due_now(r: &mut SpoolRecord, now: u64) -> bool {
    let due = r.state == State::Queued && r.next_attempt_at > now;
    if due {
        r.backoff_ms = r.backoff_ms.saturating_sub(r.next_attempt_at - now);
        r.next_attempt_at = now;
    }
    due
}

/// Whether `r` is past `max_age_ms` by both measures (module doc).
pub fn expired(r: &SpoolRecord, now: u64, policy: &RetryPolicy) -> bool {
    let wall_age_reached = r.created_at > now || now - r.created_at >= policy.max_age_ms;
    wall_age_reached && r.waited_ms >= policy.max_age_ms
}

fn last_error(code: &str, message: &str, http_status: u16) -> Option<LastError> {
    Some(LastError { code: code.to_string(), message: redact_bearer(message), http_status })
}

fn fail(r: &mut SpoolRecord, now: u64, code: &str, message: String, http_status: u16, permanent: bool) -> Settled {
    r.state = State::Failed;
    r.settled_at = Some(now);
    r.backoff_ms = 0;
    r.last_error = last_error(code, &message, http_status);
    Settled::Failed { code: code.to_string(), message: redact_bearer(&message), permanent }
}

fn schedule(r: &mut SpoolRecord, now: u64, delay: u64) -> u64 {
    r.state = State::Queued;
    r.backoff_ms = delay;
    r.next_attempt_at = now.saturating_add(delay);
    r.next_attempt_at
}

/// Applies an outcome to a record this sender claimed. Retries become failures once
/// `max_attempts` is reached or the record [`expired`] (kept in the spool as `failed`, never
/// dropped); auth failures back off like attempts and expire the same way, but do not count as
/// attempts. Returns None when the record is no longer ours to settle (not `sending`: another
/// instance already settled it), except that a delivery is always recorded.
pub fn settle(r: &mut SpoolRecord, outcome: &Outcome, now: u64, policy: &RetryPolicy) -> Option<Settled> {
    let delivered = matches!(outcome, Outcome::Delivered);
    if r.state != State::Sending && !(delivered && r.state != State::Delivered) {
        return None;
    }
    r.lease_owner = None;
    r.lease_until = 0;
    Some(match outcome {
        Outcome::Delivered => {
            r.state = State::Delivered;
            r.settled_at = Some(now);
            r.backoff_ms = 0;
            r.last_error = None;
            Settled::Delivered
        }
        Outcome::Failed { code, message, http_status, permanent } => fail(r, now, code, message.clone(), *http_status, *permanent),
        Outcome::AuthRequired { code, message, http_status } => {
            // Not the message's fault: the attempt does not count, but it backs off and ages.
            r.attempts = r.attempts.saturating_sub(1);
            r.auth_failures = r.auth_failures.saturating_add(1);
            r.last_error = last_error(code, message, *http_status);
            if expired(r, now, policy) {
                let why = format!("older than {} ms; last error {code}: {message}", policy.max_age_ms);
                return Some(fail(r, now, "MaxAgeExceeded", why, *http_status, false));
            }
            let next_attempt_at = schedule(r, now, policy.delay_ms(r.auth_failures, None));
            Settled::AuthRequired { http_status: *http_status, next_attempt_at, code: code.clone(), message: redact_bearer(message) }
        }
        Outcome::Retry { code, message, back_off_ms, http_status } => {
            r.last_error = last_error(code, message, *http_status);
            if r.attempts >= policy.max_attempts {
                let why = format!("gave up after {} attempts; last error {code}: {message}", r.attempts);
                return Some(fail(r, now, "MaxAttemptsExceeded", why, *http_status, false));
            }
            if expired(r, now, policy) {
                let why = format!("older than {} ms; last error {code}: {message}", policy.max_age_ms);
                return Some(fail(r, now, "MaxAgeExceeded", why, *http_status, false));
            }
            let next_attempt_at = schedule(r, now, policy.delay_ms(r.attempts, *back_off_ms));
            Settled::Retrying { next_attempt_at, code: code.clone(), message: redact_bearer(message) }
        }
    })
}
