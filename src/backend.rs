//! The mailbox back end of a deployment: EWS (Exchange Server on premises) or Microsoft Graph
//! (Exchange Online). One enum so that the messenger holds either without knowing which; every
//! method delegates to the back end's [`Mailbox`] implementation.

use crate::error::Result;
use crate::ews::EwsMailbox;
use crate::graph::GraphMailbox;
use crate::mailbox::{BatchItem, BatchShape, Mailbox, Outcome, Request};
use crate::message::{MissedInput, OfflineMessage};
use crate::missed::MissedReport;
use crate::transport::{Transport, TransportReply};

/// Which back end, with its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    Ews(EwsMailbox),
    Graph(GraphMailbox),
}

impl Backend {
    /// `ews` or `graph` (the config's `backend` value).
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Ews(_) => "ews",
            Backend::Graph(_) => "graph",
        }
    }
}

impl Mailbox for Backend {
    fn check(&self, message: &OfflineMessage, item_class: &str) -> Result<()> {
        match self {
            Backend::Ews(m) => m.check(message, item_class),
            Backend::Graph(m) => m.check(message, item_class),
        }
    }

    fn delivery(&self, message: &OfflineMessage, item_class: &str) -> Result<Request> {
        match self {
            Backend::Ews(m) => m.delivery(message, item_class),
            Backend::Graph(m) => m.delivery(message, item_class),
        }
    }

    fn delivery_outcome(&self, reply: &TransportReply, now_ms: u64) -> Outcome {
        match self {
            Backend::Ews(m) => m.delivery_outcome(reply, now_ms),
            Backend::Graph(m) => m.delivery_outcome(reply, now_ms),
        }
    }

    fn batch_shape(&self) -> BatchShape {
        match self {
            Backend::Ews(m) => m.batch_shape(),
            Backend::Graph(m) => m.batch_shape(),
        }
    }

    fn delivery_batch(&self, items: &[BatchItem]) -> Result<Request> {
        match self {
            Backend::Ews(m) => m.delivery_batch(items),
            Backend::Graph(m) => m.delivery_batch(items),
        }
    }

    fn batch_outcomes(&self, reply: &TransportReply, items: &[BatchItem], now_ms: u64) -> Vec<Option<Outcome>> {
        match self {
            Backend::Ews(m) => m.batch_outcomes(reply, items, now_ms),
            Backend::Graph(m) => m.batch_outcomes(reply, items, now_ms),
        }
    }

    fn is_concurrency_limit(&self, outcome: &Outcome) -> bool {
        match self {
            Backend::Ews(m) => m.is_concurrency_limit(outcome),
            Backend::Graph(m) => m.is_concurrency_limit(outcome),
        }
    }

    async fn check_missed<T: Transport>(&self, t: &T, since: Option<u64>) -> Result<MissedReport> {
        match self {
            Backend::Ews(m) => m.check_missed(t, since).await,
            Backend::Graph(m) => m.check_missed(t, since).await,
        }
    }

    async fn mark_seen<T: Transport>(&self, t: &T, item_ids: &[String]) -> Result<usize> {
        match self {
            Backend::Ews(m) => m.mark_seen(t, item_ids).await,
            Backend::Graph(m) => m.mark_seen(t, item_ids).await,
        }
    }

    async fn record_missed<T: Transport>(&self, t: &T, m: &MissedInput) -> Result<String> {
        match self {
            Backend::Ews(b) => b.record_missed(t, m).await,
            Backend::Graph(b) => b.record_missed(t, m).await,
        }
    }
}
