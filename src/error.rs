//! Typed errors of the pure core.
//!
//! Every error has a stable, machine-readable [`Error::code`] (PascalCase, never changes once
//! published) and a human-readable message. The wasm shell turns them into JavaScript `Error`
//! objects whose `code` property is that string, so a chat UI can branch on it.

use thiserror::Error;

/// Anything the core can refuse. No variant is ever produced by a panic.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// A PowerShell policy script could not be read (`parsePolicyScript`).
    /// `line` and `column` are 1-based; `column` counts Unicode scalar values.
    #[error("policy script, line {line}, column {column}: {message}{}", hint_suffix(.hint))]
    PolicyScript {
        line: usize,
        column: usize,
        message: String,
        hint: Option<String>,
    },

    /// The policy snapshot is inconsistent (e.g. a grant names a client policy that does not exist).
    #[error("invalid policy: {0}")]
    InvalidPolicy(String),

    /// A client build string is not dotted numbers such as `16.0.6701.1000`.
    #[error("invalid client build {0:?}: expected dotted numbers such as 16.0.6701.1000")]
    InvalidClientBuild(String),

    /// An e-mail or SIP address is empty, too long or not of the form `local@domain`.
    #[error("invalid {field}: {reason}")]
    InvalidAddress { field: &'static str, reason: String },

    /// A required field is missing or empty, or a field has a value out of range.
    #[error("invalid {field}: {reason}")]
    InvalidInput { field: &'static str, reason: String },

    /// The message text is larger than the configured limit (UTF-8 bytes).
    #[error("message is {size} bytes of UTF-8; the limit is {limit} bytes")]
    MessageTooLarge { size: usize, limit: usize },

    /// Invalid messenger configuration (`OfflineMessenger.open`).
    #[error("invalid config {field}: {reason}")]
    InvalidConfig { field: &'static str, reason: String },

    /// The browser refused to store more (IndexedDB `QuotaExceededError`). The message was not accepted.
    #[error("storage quota exceeded: {0}")]
    QuotaExceeded(String),

    /// Any other storage failure (`name` is the DOMException name, e.g. `InvalidStateError`).
    #[error("storage error {name}: {message}")]
    Storage { name: String, message: String },

    /// Opening the database is blocked by another tab holding an older version open.
    #[error("database upgrade blocked: close other tabs of this app that use {0}")]
    DatabaseBlocked(String),

    /// No message with this id is in the spool.
    #[error("no message {0:?} in the spool")]
    UnknownMessage(String),

    /// The message is being sent right now; try again when it has settled.
    #[error("message {0:?} is being sent right now")]
    MessageInFlight(String),

    /// Credentials are missing or refused for a recipient-side request. `cause`: `Http401`,
    /// `Http403`, `Redirect`, `LoginPage`, `TokenUnavailable` or `TokenUnsafe`.
    #[error("credentials needed ({cause}): {message}")]
    AuthRequired { cause: String, message: String },

    /// A custom `transport` resolved something that is not `{ status, body }` (what was wrong).
    #[error("the transport's reply is not {{ status, body }}: {0}")]
    TransportContract(String),

    /// Another tab (or the user, or the browser) deleted the spool's IndexedDB database.
    /// `records` is how many of this sender's records the messenger last knew of.
    #[error("the spool database {name:?} was deleted by someone else; {records} records it held are gone")]
    SpoolDeleted { name: String, records: usize },

    /// An EWS request of the recipient side failed (`code` is the EWS ResponseCode, `Http<status>`,
    /// `NetworkError` or `InvalidResponse`).
    #[error("EWS request failed: {code}: {message}")]
    Ews { code: String, message: String },

    /// A Graph request of the recipient side failed (`code` is Graph's `error.code`,
    /// `Http<status>`, `NetworkError`, `Timeout`, `InvalidResponse` or `CreatedAsDraft`).
    #[error("Graph request failed: {code}: {message}")]
    Graph { code: String, message: String },

    /// The messenger was closed.
    #[error("the messenger is closed")]
    Closed,

    /// Writing XML failed (only possible if the output buffer fails; kept for completeness).
    #[error("could not write XML: {0}")]
    XmlWrite(String),
}

fn hint_suffix(hint: &Option<String>) -> String {
    match hint {
        Some(h) => [" (hint: ", h, ")"].concat(),
        None => String::new(),
    }
}

impl Error {
    /// The stable error code a JavaScript caller sees as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::PolicyScript { .. } => "PolicyScriptError",
            Error::InvalidPolicy(_) => "InvalidPolicy",
            Error::InvalidClientBuild(_) => "InvalidClientBuild",
            Error::InvalidAddress { .. } => "InvalidAddress",
            Error::InvalidInput { .. } => "InvalidInput",
            Error::MessageTooLarge { .. } => "MessageTooLarge",
            Error::XmlWrite(_) => "XmlWriteFailed",
            Error::InvalidConfig { .. } => "InvalidConfig",
            Error::QuotaExceeded(_) => "QuotaExceeded",
            Error::Storage { .. } => "StorageError",
            Error::DatabaseBlocked(_) => "DatabaseBlocked",
            Error::UnknownMessage(_) => "UnknownMessage",
            Error::MessageInFlight(_) => "MessageInFlight",
            Error::Closed => "MessengerClosed",
            Error::AuthRequired { .. } => "AuthRequired",
            Error::TransportContract(_) => "TransportContract",
            Error::SpoolDeleted { .. } => "SpoolDeleted",
            Error::Ews { .. } => "EwsError",
            Error::Graph { .. } => "GraphError",
        }
    }
}

/// Result alias for the core.
pub type Result<T> = std::result::Result<T, Error>;

/// A value from the caller as error messages show it: quoted like `{:?}`, and cut to 60
/// characters (with the total size) so that a huge input does not come back in the error.
pub fn shown(value: &str) -> String {
    const MAX: usize = 60;
    if value.chars().count() <= MAX {
        return format!("{value:?}");
    }
    let head: String = value.chars().take(MAX).collect();
    format!("{head:?}… ({} bytes)", value.len())
}
