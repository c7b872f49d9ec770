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

/// One message of a batched delivery ([`Mailbox::delivery_batch`]).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    pub message: OfflineMessage,
    /// `ItemClass` decided by policy when the message was accepted.
    pub item_class: String,
    /// Runs only after the previous item of the batch succeeded (the next in its lane): Graph's
    /// `dependsOn`. Never set on the first item, nor for back ends whose [`BatchShape`] is not
    /// `chained`.
    pub after_previous: bool,
}

/// How many messages one delivery request carries, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchShape {
    /// Most messages per request (1: no batching).
    pub items: usize,
    /// Most lanes per request. A lane is a run of messages the server takes in order, skipping
    /// the rest of the lane after a failure ([`BatchItem::after_previous`]).
    pub lanes: usize,
    /// Whether a lane may hold several messages, possibly of one conversation (the server
    /// documents order within a lane: Graph's `dependsOn`). Otherwise each lane is one message
    /// and a request holds at most one message of a conversation.
    pub chained: bool,
    /// The server runs a request's lanes at once, so each lane counts against the spool's
    /// `concurrency` (Graph: 4 per mailbox); otherwise a request counts as one (EWS processes
    /// a batch's items one at a time).
    pub lanes_run_in_parallel: bool,
}

impl BatchShape {
    /// One message per request.
    pub const SINGLE: BatchShape = BatchShape { items: 1, lanes: 1, chained: false, lanes_run_in_parallel: false };
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
    /// How this back end batches deliveries; default one message per request.
    fn batch_shape(&self) -> BatchShape {
        BatchShape::SINGLE
    }
    /// The request that delivers `items` (at most [`BatchShape::items`], in lanes as
    /// [`BatchItem::after_previous`] links them). Default: one item through [`Mailbox::delivery`]. Errors: as for
    /// `delivery`, and `InvalidInput` for an empty or oversized batch.
    fn delivery_batch(&self, items: &[BatchItem]) -> Result<Request> {
        match items {
            [one] => self.delivery(&one.message, &one.item_class),
            _ => Err(crate::error::Error::InvalidInput { field: "items", reason: format!("{} messages; this back end sends one per request", items.len()) }),
        }
    }
    /// Each item's outcome from the reply to [`Mailbox::delivery_batch`], in order (as many as
    /// `items`); `None`: the server did not attempt it (an earlier item of its lane failed).
    /// A reply that does not answer item by item (a fault, an HTTP error, no reply) applies to
    /// every item. Default: the single-message classification for each.
    fn batch_outcomes(&self, reply: &TransportReply, items: &[BatchItem], now_ms: u64) -> Vec<Option<Outcome>> {
        vec![Some(self.delivery_outcome(reply, now_ms)); items.len()]
    }
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
