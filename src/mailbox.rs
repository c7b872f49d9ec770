//! The one small interface between the spool / the recipient side and a mailbox back end
//! (EWS in `ews`, Microsoft Graph in `graph`): what request delivers a message, what its reply
//! means, and the three recipient-side operations. Neither the spool nor the messenger knows
//! which back end it talks to; `backend::Backend` picks one per deployment.

use crate::error::Result;
use crate::message::{MissedInput, OfflineMessage};
use crate::missed::MissedReport;
use crate::transport::{Transport, TransportReply};

/// One HTTP request to the mailbox server, whichever back end wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `POST`, `GET` or `PATCH`.
    pub method: &'static str,
    /// Appended to the back end's base URL: empty for EWS (the endpoint itself), `/me/sendMail`
    /// and the like for Graph. Never an absolute URL: only the configured server is requested.
    pub path: String,
    /// Header names and values; `Authorization` is added by the transport from `getAccessToken`.
    pub headers: Vec<(&'static str, String)>,
    /// The body (UTF-8), absent for GET and DELETE.
    pub body: Option<String>,
}

/// What one attempt came to, whatever the mailbox back end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The mailbox server accepted the message.
    Delivered,
    /// Try again later; `back_off_ms` is the server's own wait (EWS BackOffMilliseconds, HTTP
    /// `Retry-After`).
    Retry { code: String, message: String, back_off_ms: Option<u64>, http_status: u16 },
    /// Will not be retried automatically. `permanent`: retrying cannot help (a server verdict);
    /// otherwise the cause is on this side (e.g. `TransportContract`) and `retry()` may help once
    /// it is fixed.
    Failed { code: String, message: String, http_status: u16, permanent: bool },
    /// Credentials are missing or refused; nothing of the message is the problem.
    AuthRequired { code: String, message: String, http_status: u16 },
}

/// A mailbox back end. The delivery half is synchronous and pure (the spool sends the request);
/// the recipient half drives a [`Transport`] through paging and batches.
#[allow(async_fn_in_trait)]
pub trait Mailbox {
    /// Every check [`Mailbox::delivery`] makes, without building the request: the spool calls it
    /// before accepting a message, so an accepted message always has a request. Errors:
    /// `InvalidInput`, `InvalidAddress`, `MessageTooLarge`.
    fn check(&self, message: &OfflineMessage, item_class: &str) -> Result<()>;
    /// The request that delivers `message` as `item_class` into the recipient's mailbox.
    fn delivery(&self, message: &OfflineMessage, item_class: &str) -> Result<Request>;
    /// What the reply to a delivery means; `now_ms` turns an HTTP-date `Retry-After` into a wait.
    fn delivery_outcome(&self, reply: &TransportReply, now_ms: u64) -> Outcome;
    /// Whether `outcome` says this mailbox has too many requests in flight, so the spool should
    /// send fewer at once. Default: never (EWS throttles with ErrorServerBusy and
    /// BackOffMilliseconds, which the schedule already honours).
    fn is_concurrency_limit(&self, _outcome: &Outcome) -> bool {
        false
    }
    /// Unread missed conversations in the user's mailbox, de-duplicated by message id and
    /// grouped (`missed::group`). `since`: leave out items received earlier (ms).
    async fn check_missed<T: Transport>(&self, t: &T, since: Option<u64>) -> Result<MissedReport>;
    /// Marks items read; returns how many were updated (unknown ids are skipped).
    async fn mark_seen<T: Transport>(&self, t: &T, item_ids: &[String]) -> Result<usize>;
    /// Records a missed message in the user's own mailbox (`conversationhistory`, not a draft,
    /// no mail sent); returns the new item's id.
    async fn record_missed<T: Transport>(&self, t: &T, m: &MissedInput) -> Result<String>;
}
