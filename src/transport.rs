//! What the spool and the recipient side need from the network: send one [`Request`], get a
//! reply or a typed reason why there is none. The wasm shell implements it with `fetch` or the
//! app's own `transport` function; tests implement it with scripted servers. Back-end neutral:
//! EWS and Graph requests both travel as a [`Request`].

use crate::mailbox::{Outcome, Request};

/// An HTTP reply as the transport saw it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransportReply {
    pub status: u16,
    pub body: String,
    /// The `Retry-After` header, when the transport could read it (a cross-origin fetch sees it
    /// only if the server lists it in `Access-Control-Expose-Headers`; Graph does not).
    pub retry_after: Option<String>,
}

impl TransportReply {
    /// A reply with no `Retry-After`.
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        TransportReply { status, body: body.into(), retry_after: None }
    }
}

/// Why an attempt got no usable reply. Every variant names what went wrong; none carries the
/// access token (the shell redacts it before building these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// Nothing came back: a network error, or a custom transport that rejected (its reason).
    NoReply(String),
    /// The request did not settle within `requestTimeoutMs` (the value, ms).
    Timeout(u32),
    /// `getAccessToken` did not settle within `tokenTimeoutMs` (the value, ms); nothing was sent.
    TokenTimeout(u32),
    /// `getAccessToken` rejected (its reason) or gave no token (empty, not a string); nothing
    /// was sent.
    TokenUnavailable(String),
    /// The token cannot go into an HTTP header (CR, LF or another control character); nothing
    /// was sent.
    TokenUnsafe(String),
    /// A custom transport resolved something that is not `{ status, body }`: what was wrong.
    Contract(String),
}

impl TransportError {
    /// The stable code: `NetworkError`, `Timeout`, `TokenTimeout`, `TokenUnavailable`,
    /// `TokenUnsafe` or `TransportContract`.
    pub fn code(&self) -> &'static str {
        match self {
            TransportError::NoReply(_) => "NetworkError",
            TransportError::Timeout(_) => "Timeout",
            TransportError::TokenTimeout(_) => "TokenTimeout",
            TransportError::TokenUnavailable(_) => "TokenUnavailable",
            TransportError::TokenUnsafe(_) => "TokenUnsafe",
            TransportError::Contract(_) => "TransportContract",
        }
    }

    /// A sentence for people.
    pub fn message(&self) -> String {
        match self {
            TransportError::NoReply(why) => ["no reply from the mailbox server: ", why].concat(),
            TransportError::Timeout(ms) => format!("no reply within requestTimeoutMs ({ms} ms)"),
            TransportError::TokenTimeout(ms) => format!("getAccessToken did not settle within tokenTimeoutMs ({ms} ms); nothing was sent"),
            TransportError::TokenUnavailable(why) => ["getAccessToken gave no token (", why, "); nothing was sent"].concat(),
            TransportError::TokenUnsafe(why) => ["the access token cannot be sent in a header (", why, "); nothing was sent"].concat(),
            TransportError::Contract(why) => ["the transport's reply is not { status, body }: ", why].concat(),
        }
    }

    /// What the attempt came to: no reply and timeouts retry (the message may have gone out:
    /// de-duplication by message id covers that); token problems need credentials; a transport
    /// that breaks its contract fails the message visibly, since its outcome is unknown and a
    /// retry could deliver it twice.
    pub fn outcome(&self) -> Outcome {
        let (code, message) = (self.code().to_string(), self.message());
        match self {
            TransportError::NoReply(_) | TransportError::Timeout(_) | TransportError::TokenTimeout(_) => {
                Outcome::Retry { code, message, back_off_ms: None, http_status: 0 }
            }
            TransportError::TokenUnavailable(_) | TransportError::TokenUnsafe(_) => Outcome::AuthRequired { code, message, http_status: 0 },
            TransportError::Contract(_) => Outcome::Failed { code, message, http_status: 0, permanent: false },
        }
    }
}

impl TransportError {
    /// This failure of a recipient-side request as the error the app sees: token problems are
    /// `AuthRequired`, a broken custom transport `TransportContract`, anything else the back
    /// end's own error (`back_end(code, message)`: `EwsError`, `GraphError`).
    pub fn into_error(self, back_end: fn(String, String) -> crate::error::Error) -> crate::error::Error {
        use crate::error::Error;
        match self {
            TransportError::TokenUnavailable(_) | TransportError::TokenUnsafe(_) => Error::AuthRequired { cause: self.code().into(), message: self.message() },
            TransportError::Contract(why) => Error::TransportContract(why),
            other => back_end(other.code().into(), other.message()),
        }
    }
}

/// Sends one request to the mailbox server.
#[allow(async_fn_in_trait)]
pub trait Transport {
    async fn send(&self, request: &Request) -> Result<TransportReply, TransportError>;
}

/// Whether `token` can go into an `Authorization` header: visible ASCII and spaces only
/// (RFC 9110 field values; a CR or LF would split the header). `Err` names the first bad
/// character by position, never by showing the token.
pub fn check_token(token: &str) -> Result<(), String> {
    match token.char_indices().find(|(_, c)| !(c.is_ascii_graphic() || *c == ' ')) {
        None => Ok(()),
        Some((i, c)) => Err(format!("character {} at byte {i} is not allowed in a header", c.escape_unicode())),
    }
}

/// `text` with every occurrence of `secret` replaced by `[redacted]`, and any
/// `Bearer <credential>` too (an error page that echoes request headers).
pub fn redact(text: &str, secret: Option<&str>) -> String {
    let text = match secret.filter(|s| s.len() >= 4) {
        Some(s) => text.replace(s, "[redacted]"),
        None => text.to_string(),
    };
    redact_bearer(&text)
}

/// Replaces every `Bearer <credential>` in `text` with `Bearer [redacted]` (an echoed
/// Authorization header must never reach the spool or an event). The scheme name is matched in
/// any case, as HTTP auth schemes are case-insensitive (RFC 9110 §11.1).
pub fn redact_bearer(text: &str) -> String {
    let lower = text.to_ascii_lowercase(); // same byte offsets as `text`
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = lower[text.len() - rest.len()..].find("bearer ") {
        out.push_str(&rest[..i + 7]);
        let after = &rest[i + 7..];
        let end = after.find(|c: char| c.is_whitespace() || "\"'<>,;&".contains(c)).unwrap_or(after.len());
        if end > 0 {
            out.push_str("[redacted]");
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

