//! Fault injection, set through `POST /_control/faults`:
//! `{ "kind": "serverBusy" | "http503" | "http429" | "http504" | "http500Fault" | "http401" | "drop" | "slow"
//!    | "itemServerBusy" | "itemStoreUnavailable" | "itemTooLarge",
//!    "count": N, "durationMs": T, "backOffMs": B, "delayMs": D, "probability": P }`.
//! The `item*` kinds apply to one message of an EWS CreateItem (each message rolls on its own),
//! answered in its own `CreateItemResponseMessage` as Exchange answers a batch item by item
//! ("Process email messages in batches by using EWS in Exchange"): `itemServerBusy` is
//! ErrorServerBusy with BackOffMilliseconds; `itemStoreUnavailable` is
//! ErrorMailboxStoreUnavailable, which stops the batch: every later item is a Warning
//! `ErrorBatchProcessingStopped` (ResponseCode reference: "items that follow will not be
//! processed"); `itemTooLarge` is ErrorMessageSizeExceeded (permanent, that item only).
//! Faults are shared by the EWS and Graph endpoints, each answering in its own shape (Graph:
//! `graph::fault_reply`; each request inside a `$batch` rolls on its own). A fault applies to the
//! next `count` requests, or for `durationMs`, or (neither) until
//! `DELETE /_control/faults`; `probability` (0..1) makes it random (chaos tests).

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    ServerBusy,
    Http503,
    /// Graph: 429 with Retry-After; EWS: HTTP 429 (a front end's throttling).
    Http429,
    /// 504 Gateway Timeout.
    Http504,
    Http500Fault,
    Http401,
    Drop,
    Slow,
    ItemServerBusy,
    ItemStoreUnavailable,
    ItemTooLarge,
}

impl Kind {
    /// Whether the fault applies to one item of an EWS CreateItem rather than a whole request.
    pub fn per_item(self) -> bool {
        matches!(self, Kind::ItemServerBusy | Kind::ItemStoreUnavailable | Kind::ItemTooLarge)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    pub kind: Kind,
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub back_off_ms: Option<u64>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub probability: Option<f64>,
}

pub struct Active {
    pub spec: FaultSpec,
    remaining: Option<u32>,
    until: Option<Instant>,
}

#[derive(Default)]
pub struct Faults {
    pub active: Vec<Active>,
    pub injected: u64,
    rng: u64,
}

impl Faults {
    pub fn add(&mut self, spec: FaultSpec) {
        let until = spec.duration_ms.map(|ms| Instant::now() + Duration::from_millis(ms));
        self.active.push(Active { remaining: spec.count, until, spec });
    }

    fn random(&mut self) -> f64 {
        // xorshift: deterministic enough for tests, no extra dependency.
        self.rng = if self.rng == 0 { 0x9E37_79B9_7F4A_7C15 } else { self.rng };
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The fault to apply to this request, if any (consumes one of its count).
    pub fn take(&mut self) -> Option<FaultSpec> {
        self.roll(false)
    }

    /// The fault to apply to this item of a CreateItem, if any (consumes one of its count).
    pub fn take_item(&mut self) -> Option<FaultSpec> {
        self.roll(true)
    }

    fn roll(&mut self, per_item: bool) -> Option<FaultSpec> {
        let now = Instant::now();
        self.active.retain(|a| a.remaining != Some(0) && a.until.is_none_or(|u| u > now));
        if !self.active.iter().any(|a| a.spec.kind.per_item() == per_item) {
            return None;
        }
        let roll = self.random();
        let a = self.active.iter_mut().find(|a| a.spec.kind.per_item() == per_item && a.spec.probability.is_none_or(|p| roll < p))?;
        if let Some(r) = a.remaining.as_mut() {
            *r -= 1;
        }
        self.injected += 1;
        Some(a.spec.clone())
    }
}
