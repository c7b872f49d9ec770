//! The recipient side over any [`Transport`]: `checkMissed`, `markSeen` and `recordMissed`.
//! Pure apart from the transport, so it runs natively against the local EWS server's operations
//! and in the browser over fetch.

use crate::error::{Error, Result};
use crate::ews::items::{parse_items, ItemsReply};
use crate::ews::recipient::{find_missed_envelope, get_items_envelope, mark_read_envelope, record_missed_envelope, MissedMessage, MISSED_FOLDERS, PAGE_SIZE};
use crate::ews::soap::Header;
use crate::ews::{Envelope, EwsOutcome};
use crate::missed::{group, MissedReport};
use crate::spool::{Transport, TransportError};

/// Most FindItem pages read per folder in one check (100 items each).
pub const MAX_PAGES: usize = 50;

fn outcome_error(o: EwsOutcome) -> Error {
    match o {
        EwsOutcome::AuthRequired { code, message, .. } => Error::AuthRequired { cause: code, message },
        EwsOutcome::Retry { code, message, .. } | EwsOutcome::PermanentFailure { code, message, .. } => Error::Ews { code, message },
        EwsOutcome::Delivered { .. } => Error::Ews { code: "UnexpectedReply".into(), message: "the reply held no items".into() },
    }
}

fn transport_error(e: TransportError) -> Error {
    match e {
        TransportError::TokenUnavailable(_) | TransportError::TokenUnsafe(_) => Error::AuthRequired { cause: e.code().into(), message: e.message() },
        TransportError::Contract(why) => Error::TransportContract(why),
        other => Error::Ews { code: other.code().into(), message: other.message() },
    }
}

async fn call<T: Transport>(t: &T, env: &Envelope) -> Result<ItemsReply> {
    let reply = t.post(env).await.map_err(transport_error)?;
    parse_items(reply.status, &reply.body).map_err(outcome_error)
}

/// Unread missed conversations in `inbox` and `conversationhistory` (FindItem, paged), with
/// bodies (GetItem, batched), de-duplicated by message id and grouped by sender and
/// conversation. `since`: leave out items received earlier (ms). Errors: [`Error::AuthRequired`],
/// [`Error::Ews`].
pub async fn check_missed<T: Transport>(t: &T, header: &Header<'_>, since: Option<u64>) -> Result<MissedReport> {
    let mut ids = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for folder in MISSED_FOLDERS {
        let mut offset = 0;
        for _ in 0..MAX_PAGES {
            let page = call(t, &find_missed_envelope(folder, offset, header)?).await?;
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
        items.extend(call(t, &get_items_envelope(chunk, header)?).await?.items);
    }
    Ok(group(items, since))
}

/// Marks items read (UpdateItem, batched). Returns how many were updated; unknown ids are
/// skipped (another client may have deleted them).
pub async fn mark_seen<T: Transport>(t: &T, header: &Header<'_>, item_ids: &[String]) -> Result<usize> {
    let mut n = 0;
    for chunk in item_ids.chunks(PAGE_SIZE) {
        n += call(t, &mark_read_envelope(chunk, header)?).await?.items.len();
    }
    Ok(n)
}

/// Records a missed message in the user's own mailbox (CreateItem SaveOnly into
/// `conversationhistory`). Returns the new item's id.
pub async fn record_missed<T: Transport>(t: &T, header: &Header<'_>, m: &MissedMessage) -> Result<String> {
    let reply = call(t, &record_missed_envelope(m, header)?).await?;
    if let Some(code) = reply.errors.first() {
        return Err(Error::Ews { code: code.clone(), message: "CreateItem failed".into() });
    }
    Ok(reply.items.into_iter().next().map(|i| i.item_id).unwrap_or_default())
}
