//! Graph as a [`Mailbox`]: delivery by sendMail, and the recipient side over any
//! [`Transport`], with JSON batching where it saves round trips (the first pages of the four
//! listings in one `$batch`, `markSeen` 4 items per `$batch`: more would exceed the mailbox's
//! concurrency inside the batch, see [`MAX_CONCURRENT`]).

use super::batch::{batch_request, batch_request_linked, parse_batch};
use super::messages::{check_item_id, get, list_missed_request, mark_read_request, parse_created, parse_page, record_missed_request, MISSED_CLASSES, MISSED_FOLDERS};
use super::reply::classify;
use super::send::send_mail_request;
use super::{percent_encode, DEFAULT_BASE_URL, MAX_BATCH, MAX_CONCURRENT};
use crate::error::{Error, Result};
use crate::mailbox::{BatchItem, BatchShape, Mailbox, Outcome, Request};
use crate::message::{MissedInput, OfflineMessage};
use crate::missed::{group, MissedReport};
use crate::transport::{Transport, TransportError, TransportReply};
use std::collections::HashSet;

/// Most list pages read in one `checkMissed` (100 items each), over all four listings.
pub const MAX_PAGES: usize = 200;

/// Exchange Online through Microsoft Graph.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphMailbox {
    /// The version root, `https://graph.microsoft.com/v1.0` by default, without a trailing `/`.
    /// An `@odata.nextLink` is followed only under it.
    pub base_url: String,
    /// `None`: the signed-in user (`/me`, a delegated token with Mail.Send, Mail.ReadWrite).
    /// `Some(address)`: that mailbox (`/users/{address}`, an app-only token).
    pub user: Option<String>,
    /// Limit on the text, UTF-8 bytes; default 65536.
    pub max_message_bytes: Option<usize>,
    /// Most messages per delivery request (1 to [`MAX_BATCH`]; 0 counts as 1): above 1, a
    /// `$batch` of up to [`MAX_CONCURRENT`] conversations, each a `dependsOn` chain of its
    /// messages in order (see [`GraphMailbox::batch_shape`]).
    pub batch_size: usize,
}

/// The messenger's default `batchSize` on Graph: 20, a full `$batch` (4 chains of 5).
pub const DEFAULT_GRAPH_BATCH_SIZE: usize = MAX_BATCH;

impl Default for GraphMailbox {
    fn default() -> Self {
        GraphMailbox { base_url: DEFAULT_BASE_URL.into(), user: None, max_message_bytes: None, batch_size: 1 }
    }
}

/// A failed recipient-side reply as the error the app sees (`AuthRequired` or `GraphError`).
fn reply_error(reply: &TransportReply) -> Error {
    match classify(reply, 0) {
        Outcome::AuthRequired { code, message, .. } => Error::AuthRequired { cause: code, message },
        Outcome::Retry { code, message, .. } | Outcome::Failed { code, message, .. } => Error::Graph { code, message },
        Outcome::Delivered => Error::Graph { code: "UnexpectedReply".into(), message: format!("HTTP {}", reply.status) },
    }
}

fn transport_error(e: TransportError) -> Error {
    e.into_error(|code, message| Error::Graph { code, message })
}

fn invalid(why: String) -> Error {
    Error::Graph { code: "InvalidResponse".into(), message: why }
}

impl GraphMailbox {
    /// `/me`, or `/users/{address}`.
    pub fn user_path(&self) -> String {
        match &self.user {
            Some(u) => ["/users/", &percent_encode(u)].concat(),
            None => "/me".into(),
        }
    }

    /// The path of an `@odata.nextLink` under `base_url`. Errors: a link elsewhere
    /// (`InvalidResponse`): only the configured server is requested.
    fn link_path(&self, link: &str) -> Result<String> {
        link.strip_prefix(self.base_url.as_str()).filter(|p| p.starts_with('/')).map(str::to_string).ok_or_else(|| invalid(format!("@odata.nextLink {} is not under {}", crate::error::shown(link), self.base_url)))
    }

    /// Sends `requests` (one alone, several as a `$batch`) and returns their replies in order.
    async fn send_all<T: Transport>(&self, t: &T, requests: &[Request]) -> Result<Vec<TransportReply>> {
        if let [one] = requests {
            return Ok(vec![t.send(one).await.map_err(transport_error)?]);
        }
        let reply = t.send(&batch_request(requests)?).await.map_err(transport_error)?;
        if reply.status != 200 {
            return Err(reply_error(&reply));
        }
        parse_batch(&reply, requests.len()).map_err(invalid)
    }
}

impl Mailbox for GraphMailbox {
    fn check(&self, message: &OfflineMessage, item_class: &str) -> Result<()> {
        crate::message::check(message, Some(item_class), self.max_message_bytes).map(drop)
    }

    fn delivery(&self, message: &OfflineMessage, item_class: &str) -> Result<Request> {
        send_mail_request(&self.user_path(), message, item_class, self.max_message_bytes)
    }

    fn delivery_outcome(&self, reply: &TransportReply, now_ms: u64) -> Outcome {
        classify(reply, now_ms)
    }

    /// Up to `batch_size` sendMails per `$batch` in at most 4 lanes (Graph runs a batch's
    /// requests at once, and the mailbox serves 4: [`MAX_CONCURRENT`]); a lane is a `dependsOn`
    /// chain, which Graph documents to run in order and to skip (424) after a failure, so it may
    /// hold several messages of one conversation. `batch_size` 1: a plain sendMail.
    fn batch_shape(&self) -> BatchShape {
        let items = self.batch_size.clamp(1, MAX_BATCH);
        BatchShape { items, lanes: items.min(MAX_CONCURRENT), chained: true, lanes_run_in_parallel: true }
    }

    fn delivery_batch(&self, items: &[BatchItem]) -> Result<Request> {
        if let [one] = items {
            return self.delivery(&one.message, &one.item_class);
        }
        let requests = items.iter().map(|i| self.delivery(&i.message, &i.item_class)).collect::<Result<Vec<_>>>()?;
        let after: Vec<bool> = items.iter().map(|i| i.after_previous).collect();
        batch_request_linked(&requests, &after)
    }

    /// A single item: its reply. A batch: each request's own reply, where 424 (its chain's
    /// earlier message failed) is `None`, not attempted; a batch reply that is not a 200 with
    /// one response per request applies to every item.
    fn batch_outcomes(&self, reply: &TransportReply, items: &[BatchItem], now_ms: u64) -> Vec<Option<Outcome>> {
        if items.len() == 1 {
            return vec![Some(classify(reply, now_ms))];
        }
        match parse_batch(reply, items.len()) {
            Ok(replies) => replies.iter().map(|r| (r.status != 424).then(|| classify(r, now_ms))).collect(),
            Err(why) => {
                let whole = match classify(reply, now_ms) {
                    Outcome::Delivered => Outcome::Retry { code: "InvalidResponse".into(), message: why, back_off_ms: None, http_status: reply.status },
                    other => other,
                };
                vec![Some(whole); items.len()]
            }
        }
    }

    /// 429 `ApplicationThrottled` whose message names the `MailboxConcurrency` limit (4
    /// concurrent requests per mailbox, "Outlook service limits").
    fn is_concurrency_limit(&self, outcome: &Outcome) -> bool {
        matches!(outcome, Outcome::Retry { code, message, http_status: 429, .. } if code == "ApplicationThrottled" && message.contains("MailboxConcurrency"))
    }

    /// Four listings (two folders × two classes), their first pages in one `$batch`, then every
    /// `@odata.nextLink` (batched too, 4 at most), each item once.
    async fn check_missed<T: Transport>(&self, t: &T, since: Option<u64>) -> Result<MissedReport> {
        let user = self.user_path();
        let mut pending: Vec<Request> = MISSED_FOLDERS.iter().flat_map(|f| MISSED_CLASSES.iter().map(|c| list_missed_request(&user, f, c))).collect();
        let (mut items, mut seen, mut pages) = (Vec::new(), HashSet::new(), 0);
        while !pending.is_empty() && pages < MAX_PAGES {
            let chunk: Vec<Request> = pending.drain(..pending.len().min(MAX_CONCURRENT)).collect();
            pages += chunk.len();
            for reply in self.send_all(t, &chunk).await? {
                if !(200..300).contains(&reply.status) {
                    return Err(reply_error(&reply));
                }
                let (page, next) = parse_page(&reply.body).map_err(invalid)?;
                // An item that arrives between two pages shifts the view: each id is kept once.
                items.extend(page.into_iter().filter(|i| seen.insert(i.item_id.clone())));
                if let Some(link) = next {
                    pending.push(get(self.link_path(&link)?));
                }
            }
        }
        Ok(group(items, since))
    }

    /// PATCH `isRead` on each item, 4 per `$batch` ([`MAX_CONCURRENT`]); an id Graph does not know (404: deleted
    /// meanwhile) is skipped.
    async fn mark_seen<T: Transport>(&self, t: &T, item_ids: &[String]) -> Result<usize> {
        let user = self.user_path();
        let requests = item_ids.iter().map(|id| mark_read_request(&user, id)).collect::<Result<Vec<_>>>()?;
        let mut n = 0;
        for chunk in requests.chunks(MAX_CONCURRENT) {
            for reply in self.send_all(t, chunk).await? {
                match reply.status {
                    200..=299 => n += 1,
                    404 => {}
                    _ => return Err(reply_error(&reply)),
                }
            }
        }
        Ok(n)
    }

    /// Creates the item and checks the reply says `isDraft: false`. If Graph made a draft after
    /// all, the draft is deleted and the call fails with `GraphError` `CreatedAsDraft`: nothing
    /// is left behind that Outlook would show as an unsent message.
    async fn record_missed<T: Transport>(&self, t: &T, m: &MissedInput) -> Result<String> {
        let reply = t.send(&record_missed_request(&self.user_path(), m)?).await.map_err(transport_error)?;
        if !(200..300).contains(&reply.status) {
            return Err(reply_error(&reply));
        }
        let (id, is_draft) = parse_created(&reply.body).map_err(invalid)?;
        if is_draft != Some(false) {
            check_item_id(&id)?;
            let delete = Request { method: "DELETE", path: [&self.user_path(), "/messages/", &percent_encode(&id)].concat(), headers: Vec::new(), body: None };
            let deleted = t.send(&delete).await.map_err(transport_error)?;
            let what = if (200..300).contains(&deleted.status) { "it was deleted" } else { "deleting it failed too" };
            return Err(Error::Graph { code: "CreatedAsDraft".into(), message: format!("Graph created the missed message as a draft (isDraft {is_draft:?}); {what}") });
        }
        Ok(id)
    }
}
