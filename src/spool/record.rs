//! What the spool keeps for one accepted message: enough to rebuild the EWS request, never
//! credentials or tokens. Stored as one object per message (IndexedDB object store `messages`,
//! key path `id`). Times are milliseconds since the Unix epoch.

use crate::ews::MailboxAddress;
use serde::{Deserialize, Serialize};

/// Version of the record shape; bumped with a migration when fields change.
pub const RECORD_VERSION: u32 = 1;

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
    /// An EWS ResponseCode, `Http<status>`, `NetworkError`, `InvalidResponse`, `AuthRequired`,
    /// `MaxAttemptsExceeded` or `MaxAgeExceeded`.
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
    /// When `send` accepted it (ms).
    pub created_at: u64,
    /// Tie-break for messages accepted in the same millisecond (per messenger, increasing).
    pub seq: u32,
    /// Not before this time (ms); for `sending`, irrelevant.
    pub next_attempt_at: u64,
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
    /// Order of sending within a conversation: acceptance time, then sequence, then id.
    pub fn order_key(&self) -> (u64, u32, &str) {
        (self.created_at, self.seq, &self.id)
    }
}
