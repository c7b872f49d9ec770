//! What the spool keeps for one accepted message: enough to rebuild the EWS request, never
//! credentials or tokens. Stored as one object per message (IndexedDB object store `spool`, key
//! path `id`, index `sender`). Times are milliseconds since the Unix epoch.
//!
//! Record version 2 (this one) adds the owner (`sender`), a store-assigned `seq` that orders a
//! conversation (version 1 ordered by `createdAt`, which follows the wall clock), and the wait
//! accounting that makes expiry clock-proof (`waitedMs`, `backoffMs`, `authFailures`). Version 1
//! records have no sender: they are never sent, only surfaced (`OfflineMessenger.unowned()`).

use crate::message::MailboxAddress;
use serde::{Deserialize, Serialize};

/// Version of the record shape; bumped with a migration when fields change.
pub const RECORD_VERSION: u32 = 2;

/// `queued → sending → delivered | failed`; a retry goes `sending → queued`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum State {
    Queued,
    Sending,
    Delivered,
    Failed,
}

impl State {
    /// Queued or sending: still to be delivered.
    pub fn is_active(self) -> bool {
        matches!(self, State::Queued | State::Sending)
    }
}

/// The last thing that went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct LastError {
    /// An EWS ResponseCode, `Http<status>`, `NetworkError`, `Timeout`, `TokenTimeout`,
    /// `InvalidResponse`, `TransportContract`, an auth cause (`Http401`, `LoginPage`, `Redirect`,
    /// `TokenUnavailable`, `TokenUnsafe`), `MaxAttemptsExceeded` or `MaxAgeExceeded`.
    pub code: String,
    pub message: String,
    /// HTTP status of the reply (0 when there was none).
    pub http_status: u16,
}

/// One message in the spool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct SpoolRecord {
    pub id: String,
    /// The owner: the sender's primary SMTP address, trimmed and lower-cased
    /// ([`normalize_sender`]). A messenger lists, sends, retries and discards only its own
    /// sender's records. Empty only in a version 1 record read from the old object store.
    #[serde(default)]
    pub sender: String,
    pub conversation_id: String,
    pub to: MailboxAddress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_sip_address: Option<String>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `ItemClass` decided by policy at send time.
    pub item_class: String,
    pub state: State,
    /// Attempts made so far (auth-required replies do not count).
    pub attempts: u32,
    /// Auth failures so far (401, a sign-in page, no token): they back off like attempts but do
    /// not count toward `maxAttempts`.
    #[serde(default)]
    pub auth_failures: u32,
    /// When `send` accepted it (ms, wall clock; shown to the app and used for age, never for order).
    pub created_at: u64,
    /// Position in the spool, assigned by the store when the record is inserted: greater than
    /// every record then stored. Order within a conversation comes from this, never a clock.
    pub seq: u64,
    /// Not before this time (ms); for `sending`, irrelevant. A value further ahead than the
    /// longest possible backoff means the clock went back: the record is treated as due.
    pub next_attempt_at: u64,
    /// The delay (ms) that set `nextAttemptAt` (0: none).
    #[serde(default)]
    pub backoff_ms: u64,
    /// Time spent waiting in backoff that the spool saw pass (ms): at each claim, the time since
    /// the delay was scheduled, capped at that delay (a clock jump forward adds at most the
    /// delay, a jump back adds nothing). Expiry needs this to reach `maxAgeMs`.
    #[serde(default)]
    pub waited_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
    /// The messenger instance that is sending it, and until when its claim holds (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_owner: Option<String>,
    #[serde(default)]
    pub lease_until: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<u64>,
    pub record_version: u32,
}

impl SpoolRecord {
    /// Order of sending within a conversation: the store's sequence, then id.
    pub fn order_key(&self) -> (u64, &str) {
        (self.seq, &self.id)
    }
}

/// The owner key of a sender's records: the address trimmed, a `sip:`/`smtp:` prefix dropped, and
/// lower-cased (SMTP domains are case-insensitive, and Exchange resolves local parts
/// case-insensitively).
pub fn normalize_sender(address: &str) -> String {
    let a = crate::address::strip_sip(address);
    let a = match a.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("smtp:") => &a[5..],
        _ => a,
    };
    a.trim().to_ascii_lowercase()
}
