//! EWS as a [`Mailbox`]: delivery by `CreateItem` SendOnly, and the recipient side
//! (`checkMissed`, `markSeen`, `recordMissed`) over any [`Transport`]. Pure apart from the
//! transport, so it runs natively against the local EWS server's operations and in the browser
//! over fetch.

use super::create_item::{build_batch_envelope, build_offline_message_envelope, validate_offline_message, EnvelopeOptions, MAX_BATCH_ITEMS};
use super::items::{parse_items, ItemsReply};
use super::recipient::{find_missed_envelope, get_items_envelope, mark_read_envelope, record_missed_envelope, MISSED_FOLDERS, PAGE_SIZE};
use super::response::{parse_ews_batch_response, parse_ews_response};
use super::soap::Header;
use super::{Envelope, EwsOutcome};
use crate::error::{Error, Result};
use crate::mailbox::{BatchItem, BatchShape, Mailbox, Outcome, Request};
use crate::message::{MissedInput, OfflineMessage};
use crate::missed::{group, MissedReport};
use crate::transport::{Transport, TransportError, TransportReply};

impl From<EwsOutcome> for Outcome {
    fn from(o: EwsOutcome) -> Self {
        match o {
            EwsOutcome::Delivered { .. } => Outcome::Delivered,
            EwsOutcome::Retry { code, message, back_off_ms, http_status } => Outcome::Retry { code, message, back_off_ms, http_status },
            EwsOutcome::PermanentFailure { code, message, http_status } => Outcome::Failed { code, message, http_status, permanent: true },
            EwsOutcome::AuthRequired { http_status, code, message } => Outcome::AuthRequired { code, message, http_status },
        }
    }
}

impl From<Envelope> for Request {
    /// The POST of a SOAP envelope to the EWS endpoint (`path` empty): `Content-Type: text/xml;
    /// charset=utf-8`, `SOAPAction`, and `X-AnchorMailbox` when impersonating.
    fn from(e: Envelope) -> Request {
        let mut headers = vec![("Content-Type", "text/xml; charset=utf-8".to_string()), ("SOAPAction", e.soap_action)];
        if let Some(anchor) = e.anchor_mailbox {
            headers.push(("X-AnchorMailbox", anchor));
        }
        Request { method: "POST", path: String::new(), headers, body: Some(e.xml) }
    }
}

/// Exchange Server on premises through EWS: envelope options shared by every request (server
/// version, impersonation, size limit; the item class comes per message).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EwsMailbox {
    pub options: EnvelopeOptions,
    /// Most messages per `CreateItem` (1 to [`MAX_BATCH_ITEMS`]; 0 counts as 1). Microsoft gives
    /// no number and asks for small batches: the server checks the user's budget after each item
    /// and delays the next when it is spent ("EWS throttling in Exchange", throttling
    /// implications for EWS batch requests). The messenger's default is
    /// [`DEFAULT_EWS_BATCH_SIZE`].
    pub batch_size: usize,
}

/// The messenger's default `batchSize` on EWS: 10 messages per `CreateItem`.
pub const DEFAULT_EWS_BATCH_SIZE: usize = 10;

impl EwsMailbox {
    fn header(&self) -> Header<'_> {
        Header { server_version: self.options.server_version.as_deref(), impersonate: self.options.impersonate.as_deref() }
    }

    fn options_for(&self, item_class: &str) -> EnvelopeOptions {
        EnvelopeOptions { item_class: Some(item_class.to_string()), ..self.options.clone() }
    }
}

impl Mailbox for EwsMailbox {
    fn check(&self, message: &OfflineMessage, item_class: &str) -> Result<()> {
        validate_offline_message(message, &self.options_for(item_class))
    }

    fn delivery(&self, message: &OfflineMessage, item_class: &str) -> Result<Request> {
        build_offline_message_envelope(message, &self.options_for(item_class)).map(Request::from)
    }

    fn delivery_outcome(&self, reply: &TransportReply, _now_ms: u64) -> Outcome {
        parse_ews_response(reply.status, &reply.body).into()
    }

    /// `batch_size` conversations per `CreateItem`, one message of each: Exchange processes a
    /// batch's items one at a time but does not document that they reach the recipient in that
    /// order, so two messages of one conversation never share a request.
    fn batch_shape(&self) -> BatchShape {
        let items = self.batch_size.clamp(1, MAX_BATCH_ITEMS);
        BatchShape { items, lanes: items, chained: false, lanes_run_in_parallel: false }
    }

    fn delivery_batch(&self, items: &[BatchItem]) -> Result<Request> {
        let messages: Vec<_> = items.iter().map(|i| (&i.message, Some(i.item_class.as_str()))).collect();
        build_batch_envelope(&messages, &self.options).map(Request::from)
    }

    /// Item by item ([`parse_ews_batch_response`]); `ErrorBatchProcessingStopped` is `None`:
    /// "items that follow will not be processed" (ResponseCode reference), so it is no attempt.
    fn batch_outcomes(&self, reply: &TransportReply, items: &[BatchItem], _now_ms: u64) -> Vec<Option<Outcome>> {
        let outcomes = parse_ews_batch_response(reply.status, &reply.body, items.len());
        outcomes.into_iter().map(|o| (!matches!(&o, EwsOutcome::Retry { code, .. } if code == "ErrorBatchProcessingStopped")).then(|| o.into())).collect()
    }

    async fn check_missed<T: Transport>(&self, t: &T, since: Option<u64>) -> Result<MissedReport> {
        check_missed(t, &self.header(), since).await
    }

    async fn mark_seen<T: Transport>(&self, t: &T, item_ids: &[String]) -> Result<usize> {
        mark_seen(t, &self.header(), item_ids).await
    }

    async fn record_missed<T: Transport>(&self, t: &T, m: &MissedInput) -> Result<String> {
        record_missed(t, &self.header(), m).await
    }
}

/// Most FindItem pages read per folder in one check (100 items each).
pub const MAX_PAGES: usize = 50;

fn outcome_error(o: EwsOutcome) -> Error {
    match o {
        EwsOutcome::AuthRequired { code, message, .. } => Error::AuthRequired { cause: code, message },
        EwsOutcome::Retry { code, message, .. } | EwsOutcome::PermanentFailure { code, message, .. } => Error::Ews { code, message },
        EwsOutcome::Delivered { .. } => Error::Ews { code: "UnexpectedReply".into(), message: "the reply held no items".into() },
    }
}

/// A transport failure of a recipient-side request as the error the app sees.
fn transport_error(e: TransportError) -> Error {
    e.into_error(|code, message| Error::Ews { code, message })
}

async fn call<T: Transport>(t: &T, env: Envelope) -> Result<ItemsReply> {
    let reply = t.send(&Request::from(env)).await.map_err(transport_error)?;
    parse_items(reply.status, &reply.body).map_err(outcome_error)
}

/// Unread missed conversations in `inbox` and `conversationhistory` (FindItem, paged), with
/// bodies (GetItem, batched), de-duplicated by message id and grouped by sender and
/// conversation. `since`: leave out items received earlier (ms). Errors: [`Error::AuthRequired`],
/// [`Error::Ews`].
pub async fn check_missed<T: Transport>(t: &T, header: &Header<'_>, since: Option<u64>) -> Result<MissedReport> {
    let mut ids = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for folder in MISSED_FOLDERS {
        let mut offset = 0;
        for _ in 0..MAX_PAGES {
            let page = call(t, find_missed_envelope(folder, offset, header)?).await?;
            let n = page.items.len();
            // An item that arrives between two pages shifts the view (newest first): the next page
            // repeats items already seen. Each id is fetched once.
            for item in page.items.into_iter().filter(|i| since.is_none_or(|s| i.received_at.is_none_or(|t| t >= s))) {
                if seen.insert(item.item_id.clone()) {
                    ids.push(item.item_id);
                }
            }
            offset = page.next_offset.unwrap_or(offset + n);
            if page.includes_last || n == 0 {
                break;
            }
        }
    }
    let mut items = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(PAGE_SIZE) {
        items.extend(call(t, get_items_envelope(chunk, header)?).await?.items);
    }
    Ok(group(items, since))
}

/// Marks items read (UpdateItem, batched). Returns how many were updated; unknown ids are
/// skipped (another client may have deleted them).
pub async fn mark_seen<T: Transport>(t: &T, header: &Header<'_>, item_ids: &[String]) -> Result<usize> {
    let mut n = 0;
    for chunk in item_ids.chunks(PAGE_SIZE) {
        n += call(t, mark_read_envelope(chunk, header)?).await?.items.len();
    }
    Ok(n)
}

/// Records a missed message in the user's own mailbox (CreateItem SaveOnly into
/// `conversationhistory`). Returns the new item's id.
pub async fn record_missed<T: Transport>(t: &T, header: &Header<'_>, m: &MissedInput) -> Result<String> {
    let reply = call(t, record_missed_envelope(m, header)?).await?;
    if let Some(code) = reply.errors.first() {
        return Err(Error::Ews { code: code.clone(), message: "CreateItem failed".into() });
    }
    Ok(reply.items.into_iter().next().map(|i| i.item_id).unwrap_or_default())
}
