//! The messenger's configuration and the planning of one `send`: pure, so it is tested natively.
//! The wasm shell (`wasm::messenger`) adds IndexedDB, fetch, timers and Web Locks.

use crate::address;
use crate::backend::Backend;
use crate::error::{shown, Error, Result};
use crate::ews::soap::server_version;
use crate::ews::create_item::MAX_BATCH_ITEMS;
use crate::ews::{EnvelopeOptions, EwsMailbox, DEFAULT_EWS_BATCH_SIZE};
use crate::graph::{GraphMailbox, DEFAULT_BASE_URL, DEFAULT_GRAPH_BATCH_SIZE, MAX_BATCH, MAX_CONCURRENT};
use crate::message::MailboxAddress;
use crate::policy::{evaluate_parts, parse_policy_script, ClientInfo, Delivery, MailboxHosting, PolicyDecision, PolicySnapshot, Presence, RecipientContext, SenderContext};
use crate::spool::{NewMessage, RetryPolicy, SpoolConfig};
use serde::{Deserialize, Serialize};

/// Admin policy: the seeds' PowerShell lines, or a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(untagged)]
pub enum PolicySource {
    Script(String),
    Snapshot(PolicySnapshot),
}

/// A string is a script, an object a snapshot, read once as what it is. (`#[serde(untagged)]`
/// would buffer the whole value, try each variant, and answer a snapshot with a misspelt field
/// only "data did not match any variant"; this names the field.)
impl<'de> Deserialize<'de> for PolicySource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = PolicySource;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("PowerShell policy lines (a string) or a PolicySnapshot (an object)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<PolicySource, E> {
                Ok(PolicySource::Script(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> std::result::Result<PolicySource, E> {
                Ok(PolicySource::Script(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> std::result::Result<PolicySource, A::Error> {
                PolicySnapshot::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(PolicySource::Snapshot)
            }
        }
        d.deserialize_any(Either)
    }
}

impl Default for PolicySource {
    fn default() -> Self {
        PolicySource::Snapshot(PolicySnapshot::default())
    }
}

/// Which mailbox back end a messenger uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum BackendKind {
    /// Exchange Web Services: Exchange Server on premises (Exchange SE keeps EWS).
    Ews,
    /// Microsoft Graph: Exchange Online (EWS blocked by default since 1 October 2026, removed
    /// 1 April 2027).
    Graph,
}

/// `OfflineMessenger.open(config)`; besides these fields the shell reads two functions:
/// `transport(request) => Promise<{status, body} | Response>` and `getAccessToken() => Promise<string>`
/// (once given, it must resolve a non-empty token: anything else is `authrequired`, nothing sent).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessengerConfig {
    /// `ews` or `graph`. Default: `ews` when `ewsUrl` is given; otherwise from
    /// `sender.mailboxHosting`: `exchangeOnline` → `graph`, `exchangeOnPremises` → an error
    /// asking for `ewsUrl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<BackendKind>,
    /// EWS endpoint, usually a same-origin path to a reverse proxy (`/EWS/Exchange.asmx`):
    /// Exchange does not answer CORS preflights. Required for `ews`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ews_url: Option<String>,
    /// Graph version root; default `https://graph.microsoft.com/v1.0` (a national cloud has its
    /// own). `graph` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_url: Option<String>,
    /// The signed-in user. `emailAddress` is required (the mailbox EWS sends from).
    pub sender: SenderContext,
    #[serde(default)]
    pub policy: PolicySource,
    /// Desktop client info (same as `sender.client`); omit for a web client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientInfo>,
    #[serde(default)]
    pub organization_domains: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// Service-account deployments: act for the sender. EWS: `ExchangeImpersonation` with
    /// `X-AnchorMailbox`; Graph: requests to `/users/{sender}` instead of `/me` (an app-only
    /// token).
    #[serde(default)]
    pub impersonate: bool,
    /// Default 120000 (the seeds' two-minute timer). 1 to 86,400,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval_ms: Option<u64>,
    /// Default 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Default 7 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_ms: Option<u64>,
    /// Requests in flight at once; default 4, 1 to 16 on EWS, 1 to 4 on Graph (4 concurrent
    /// requests per mailbox, "Outlook service limits").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// Most messages one delivery request carries; default 10 on EWS (1 to 100 per `CreateItem`:
    /// Microsoft asks for small batches, "EWS throttling in Exchange") and 20 on Graph (1 to 20,
    /// one `$batch`: 4 conversations of up to 5 messages, chained by `dependsOn`). On EWS a
    /// request holds at most one message of each conversation (order across a batch is not
    /// documented); 1 turns batching off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Timeout of one request; default 30000, 1000 to 300000. Bounds a custom `transport` too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u32>,
    /// How long `getAccessToken()` may take, in ms; default 10000 (MSAL.js's own default
    /// for a silent token renewal in a hidden iframe, `iframeHashTimeout`), 100 to 300000. An
    /// attempt whose token is late is `retrying` with code `TokenTimeout`; nothing is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_timeout_ms: Option<u32>,
    /// How long a message claimed by this tab is reserved for it, in ms. When a tab closes or
    /// reloads mid-send, another tab (or the reloaded one) takes the message over after this.
    /// Default `requestTimeoutMs` + 60000; must exceed `requestTimeoutMs` (up to 86,400,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_ms: Option<u64>,
    /// Default 65536 UTF-8 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_message_bytes: Option<usize>,
    /// IndexedDB database name; default `offline-im`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_name: Option<String>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The URL every request goes to (EWS) or under (Graph: `request.path` is appended).
    pub url: String,
    pub sender: SenderContext,
    pub policy: PolicySnapshot,
    pub organization_domains: Vec<String>,
    pub spool: SpoolConfig<Backend>,
    pub request_timeout_ms: u32,
    pub token_timeout_ms: u32,
    pub db_name: String,
}

fn range<T: PartialOrd + Copy + std::fmt::Display>(field: &'static str, v: Option<T>, default: T, lo: T, hi: T) -> Result<T> {
    let v = v.unwrap_or(default);
    if v < lo || v > hi {
        return Err(Error::InvalidConfig { field, reason: format!("{v} is outside {lo}..={hi}") });
    }
    Ok(v)
}

impl MessengerConfig {
    /// Validates and fills defaults. Errors: [`Error::InvalidConfig`], [`Error::InvalidAddress`],
    /// [`Error::PolicyScript`], [`Error::InvalidPolicy`].
    pub fn resolve(self, owner: &str) -> Result<Resolved> {
        let kind = match (self.backend, self.ews_url.is_some(), self.sender.mailbox_hosting) {
            (Some(k), _, _) => k,
            (None, true, _) => BackendKind::Ews,
            (None, false, MailboxHosting::ExchangeOnline) => BackendKind::Graph,
            (None, false, MailboxHosting::ExchangeOnPremises) => return Err(Error::InvalidConfig { field: "ewsUrl", reason: "is required for a mailbox on Exchange Server (EWS)".into() }),
        };
        let url = match kind {
            BackendKind::Ews => {
                let url = self.ews_url.as_deref().map(str::trim).unwrap_or_default();
                if self.graph_url.is_some() {
                    return Err(Error::InvalidConfig { field: "graphUrl", reason: "is for the graph backend; this messenger uses ews".into() });
                }
                check_url("ewsUrl", url, true)?
            }
            BackendKind::Graph => {
                if self.ews_url.is_some() || self.server_version.is_some() {
                    let field = if self.ews_url.is_some() { "ewsUrl" } else { "serverVersion" };
                    return Err(Error::InvalidConfig { field, reason: "is for the ews backend; this messenger uses graph".into() });
                }
                check_url("graphUrl", self.graph_url.as_deref().map(str::trim).unwrap_or(DEFAULT_BASE_URL), false)?.trim_end_matches('/').to_string()
            }
        };
        let mut sender = self.sender;
        let email = sender.email_address.as_deref().ok_or_else(|| Error::InvalidConfig { field: "sender.emailAddress", reason: "is required".into() })?;
        sender.email_address = Some(address::validate("sender.emailAddress", email)?);
        if let Some(sip) = sender.sip_address.as_deref() {
            address::validate("sender.sipAddress", sip)?;
        }
        if self.client.is_some() {
            sender.client = self.client;
        }
        let policy = match self.policy {
            PolicySource::Script(text) => parse_policy_script(&text)?,
            PolicySource::Snapshot(s) => s,
        };
        server_version(self.server_version.as_deref()).map_err(|_| Error::InvalidConfig {
            field: "serverVersion",
            reason: format!("{} is not an EWS RequestServerVersion", shown(self.server_version.as_deref().unwrap_or_default())),
        })?;
        let defaults = RetryPolicy::default();
        let request_timeout_ms = range("requestTimeoutMs", self.request_timeout_ms, 30_000, 1_000, 300_000)?;
        let token_timeout_ms = range("tokenTimeoutMs", self.token_timeout_ms, 10_000, 100, 300_000)?;
        let retry = RetryPolicy {
            retry_interval_ms: range("retryIntervalMs", self.retry_interval_ms, defaults.retry_interval_ms, 1, 86_400_000)?,
            max_retry_interval_ms: defaults.max_retry_interval_ms,
            max_attempts: range("maxAttempts", self.max_attempts, defaults.max_attempts, 1, 1_000)?,
            max_age_ms: range("maxAgeMs", self.max_age_ms, defaults.max_age_ms, 1, 365 * 86_400_000)?,
            // A claim must outlive the request it covers.
            lease_ms: range("leaseMs", self.lease_ms, u64::from(request_timeout_ms) + 60_000, u64::from(request_timeout_ms) + 1, 86_400_000)?,
        };
        let db_name = self.db_name.unwrap_or_else(|| "offline-im".into());
        if db_name.trim().is_empty() || db_name.len() > 200 {
            return Err(Error::InvalidConfig { field: "dbName", reason: "must be 1 to 200 bytes".into() });
        }
        let impersonate = self.impersonate.then(|| sender.email_address.clone()).flatten();
        let (mailbox, most) = match kind {
            BackendKind::Ews => {
                let options = EnvelopeOptions { item_class: None, server_version: self.server_version, impersonate, max_message_bytes: self.max_message_bytes };
                let batch_size = range("batchSize", self.batch_size, DEFAULT_EWS_BATCH_SIZE, 1, MAX_BATCH_ITEMS)?;
                (Backend::Ews(EwsMailbox { options, batch_size }), 16)
            }
            BackendKind::Graph => {
                let batch_size = range("batchSize", self.batch_size, DEFAULT_GRAPH_BATCH_SIZE, 1, MAX_BATCH)?;
                (Backend::Graph(GraphMailbox { base_url: url.clone(), user: impersonate, max_message_bytes: self.max_message_bytes, batch_size }), MAX_CONCURRENT)
            }
        };
        let concurrency = range("concurrency", self.concurrency, 4, 1, most)?;
        let owner_address = crate::spool::normalize_sender(sender.email_address.as_deref().unwrap_or_default());
        Ok(Resolved {
            url,
            sender,
            policy,
            organization_domains: self.organization_domains,
            spool: SpoolConfig { mailbox, retry, concurrency, owner: owner.to_string(), sender: owner_address },
            request_timeout_ms,
            token_timeout_ms,
            db_name,
        })
    }
}

/// A URL setting: no white space; `http(s)://…`, or (`path_ok`) a same-origin path `/…`.
fn check_url(field: &'static str, url: &str, path_ok: bool) -> Result<String> {
    let ok = !url.is_empty() && !url.chars().any(char::is_whitespace) && (url.starts_with("https://") || url.starts_with("http://") || (path_ok && url.starts_with('/')));
    if !ok {
        let what = if path_ok { "a path (/EWS/Exchange.asmx) or an http(s) URL" } else { "an http(s) URL" };
        return Err(Error::InvalidConfig { field, reason: format!("{} is not {what}", shown(url)) });
    }
    Ok(url.to_string())
}

/// The recipient of `send`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendRecipient {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_address: Option<String>,
    pub email_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Current presence; default `unknown` (treated as offline).
    #[serde(default)]
    pub presence: Presence,
}

/// Input of `im.send`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendInput {
    pub to: SendRecipient,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// Message id; generated (UUID) when absent. Sending an id again does not send twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// What `send` does with one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Not sent (`decision.reasons` say why) or delivered live by the app itself; with the
    /// message's id (the input's, or a new one), so the app can key its conversation by it.
    NotQueued(PolicyDecision, String),
    /// Goes to the spool.
    Queue(PolicyDecision, NewMessage),
}

/// Evaluates policy for `input` and, for mailbox delivery, prepares the spool message.
/// `new_id` makes the message id when `input.id` is absent (it is called only then, after the
/// input was found valid); every plan carries the id, queued or not.
pub fn plan_send(config: &Resolved, input: SendInput, new_id: impl FnOnce() -> String) -> Result<Plan> {
    let to_email = address::validate("to.emailAddress", &input.to.email_address)?;
    let recipient = RecipientContext {
        sip_address: input.to.sip_address,
        email_address: Some(to_email),
        display_name: input.to.display_name,
        presence: input.to.presence,
    };
    let decision = evaluate_parts(&config.policy, &config.sender, &recipient, &config.organization_domains)?;
    let id = input.id.filter(|i| !i.is_empty()).unwrap_or_else(new_id);
    if decision.delivery != Delivery::Mailbox {
        return Ok(Plan::NotQueued(decision, id));
    }
    let item_class = decision.item_class.clone().unwrap_or_default();
    let message = NewMessage {
        id,
        conversation_id: input.conversation_id,
        to: MailboxAddress { email_address: recipient.email_address.unwrap_or_default(), display_name: recipient.display_name },
        to_sip_address: recipient.sip_address,
        text: input.text,
        subject: input.subject,
        item_class,
    };
    Ok(Plan::Queue(decision, message))
}

/// What `send` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum ReceiptState {
    /// Policy blocked it; `decision.reasons` say why. Nothing was stored.
    Blocked,
    /// The recipient is online (or DND/Presenting): the app delivers it live itself.
    Live,
    /// Durably in the spool; delivery follows.
    Queued,
    /// (Repeated id) the stored message is being sent.
    Sending,
    /// (Repeated id) the stored message was already delivered.
    Delivered,
    /// (Repeated id) the stored message failed; see `pending()`.
    Failed,
}

/// The result of `im.send`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct SendReceipt {
    /// The message's id: the input's `id`, or one made for it (a UUID), in every state. A queued
    /// message keeps it in the spool (a repeat is recognised by it); a live or blocked one has it
    /// so that the app can key its conversation view by it.
    pub id: String,
    pub state: ReceiptState,
    pub decision: PolicyDecision,
    /// True when this id was already in the spool (nothing new was stored or sent).
    pub duplicate: bool,
    /// Lone UTF-16 surrogates in the input (an emoji cut in half) replaced by U+FFFD.
    #[serde(default)]
    pub replaced_characters: u32,
}

impl From<crate::spool::State> for ReceiptState {
    fn from(s: crate::spool::State) -> Self {
        match s {
            crate::spool::State::Queued => ReceiptState::Queued,
            crate::spool::State::Sending => ReceiptState::Sending,
            crate::spool::State::Delivered => ReceiptState::Delivered,
            crate::spool::State::Failed => ReceiptState::Failed,
        }
    }
}

/// Options of `im.checkMissed`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckMissedOptions {
    /// Leave out items received before this time (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
}

/// Input of `im.recordMissed`: an IM that arrived while the user was Do Not Disturb or Presenting.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordMissedInput {
    /// The original sender.
    pub from: MailboxAddress,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// When the IM arrived (ms); default now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<u64>,
    /// The IM's message id, if it has one (de-duplicates against an offline copy); default generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl RecordMissedInput {
    /// The missed message to record, with defaults filled (`id`: `generated_id`; conversation:
    /// the sender's address; `received_at`: `now`).
    pub fn into_message(self, generated_id: String, now: u64) -> crate::message::MissedInput {
        let id = self.id.filter(|i| !i.is_empty()).unwrap_or(generated_id);
        crate::message::MissedInput {
            conversation_id: self.conversation_id.filter(|c| !c.is_empty()).unwrap_or_else(|| self.from.email_address.trim().to_ascii_lowercase()),
            id,
            from: self.from,
            text: self.text,
            received_at: self.received_at.unwrap_or(now),
        }
    }
}
