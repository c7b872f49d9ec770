//! Deciding what happens to one IM send, with a trace of why.
//!
//! Rules (all from the seeds in `shared/seeds/`):
//! * Recipient presence: Offline or Unknown → offline IM (the message goes to the recipient's
//!   mailbox). Do Not Disturb or Presenting → delivered live, and the recipient's own client records
//!   a missed message ("Turn on or off Offline Messages for admins"). Anything else → ordinary live IM.
//! * Offline IM needs `EnableOfflineIM` on the effective `ImConfiguration` (Site over Global;
//!   default true since Server 2015 CU3) and `EnableIMAutoArchiving` on the sender's effective
//!   `ClientPolicy` (granted Tag over Site over Global; default true): "Offline IM will not be
//!   available to senders if they have a client policy that disables automatic saving …".
//! * Client gates, applied only when client info is given: Click-to-Run ≥ 16.0.6701.1000;
//!   ≥ 16.0.6920.1000 for an Exchange on-premises mailbox; never for an MSI install.
//! * Same organisation → `IPM.Note.Microsoft.Missed`; federated → `IPM.Note`.

use super::client_build::{ClientBuild, MIN_BUILD, MIN_BUILD_ON_PREMISES};
use super::model::{ClientPolicy, ImConfiguration, PolicySnapshot};
use super::scope::{PolicyKind, Scope};
use crate::address::{domain_of, strip_sip};
use crate::error::{shown, Error, Result};
use crate::item_class;
use serde::{Deserialize, Serialize};

/// Where the sender's mailbox lives (seed: on-premises needs a newer client build).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum MailboxHosting {
    #[default]
    ExchangeOnline,
    ExchangeOnPremises,
}

/// How the Skype for Business client was installed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum InstallType {
    #[default]
    ClickToRun,
    Msi,
}

/// The desktop client the sender uses. Omit it for a pure web client: the gates are then not applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientInfo {
    /// Build such as `16.0.6701.1000`.
    pub build: String,
    #[serde(default)]
    pub install_type: InstallType,
}

/// The sender, as far as policy needs to know them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SenderContext {
    /// The name `Grant-CsClientPolicy -Identity` used, if it is none of the addresses or display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Site name (without `Site:`) whose ImConfiguration / ClientPolicy apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(default)]
    pub mailbox_hosting: MailboxHosting,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientInfo>,
}

/// Skype for Business presence states of the recipient.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum Presence {
    Available,
    Busy,
    InACall,
    InAMeeting,
    BeRightBack,
    Away,
    OffWork,
    DoNotDisturb,
    Presenting,
    Offline,
    #[default]
    Unknown,
}

/// The recipient of one send.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecipientContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default)]
    pub presence: Presence,
}

/// Input of `evaluatePolicy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyInput {
    #[serde(default)]
    pub policy: PolicySnapshot,
    pub sender: SenderContext,
    pub recipient: RecipientContext,
    /// Domains of the sender's organisation; empty = the sender's own e-mail (or SIP) domain.
    #[serde(default)]
    pub organization_domains: Vec<String>,
}

/// What the app does with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum Delivery {
    /// Deliver into the recipient's mailbox through EWS (offline IM).
    Mailbox,
    /// Ordinary live IM; the app delivers it itself.
    Live,
    /// Not sent: see `reasons`.
    Blocked,
}

/// One rule that decided. Stable codes (JSON strings are the variant names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub enum Reason {
    RecipientOffline,
    RecipientPresenceUnknown,
    RecipientOnline,
    RecipientDoNotDisturb,
    RecipientPresenting,
    OfflineImDisabled,
    AutoArchivingDisabled,
    ClientBuildTooOld,
    OnPremisesNeedsNewerBuild,
    MsiInstallUnsupported,
    /// No client info was given (web client): the build gates were not applied.
    ClientNotReported,
    SameOrganization,
    Federated,
}

/// Output of `evaluatePolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct PolicyDecision {
    pub delivery: Delivery,
    /// `ItemClass` for `mailbox` delivery; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_class: Option<String>,
    /// True for Do Not Disturb / Presenting: the recipient's client records a missed message.
    pub recipient_records_missed: bool,
    /// Identity of the ImConfiguration that applied (`Global` or `Site:<name>`).
    pub effective_im_configuration: String,
    /// Identity of the ClientPolicy that applied (`Global`, `Site:<name>` or `Tag:<name>`).
    pub effective_client_policy: String,
    pub reasons: Vec<Reason>,
}

fn parsed<T>(items: &[T], kind: PolicyKind, identity: impl Fn(&T) -> &str) -> Result<Vec<(Scope, &T)>> {
    items.iter().map(|i| Ok((Scope::parse(identity(i), kind)?, i))).collect()
}

/// The last object whose identity matches `scope` (the configured spelling of its identity with it).
fn find<'a, T>(items: &[(Scope, &'a T)], scope: &Scope) -> Option<(Scope, &'a T)> {
    items.iter().rev().find(|(s, _)| s.same_as(scope)).map(|(s, t)| (s.clone(), *t))
}

fn user_matches(grant_identity: &str, sender: &SenderContext) -> bool {
    let g = strip_sip(grant_identity);
    [&sender.identity, &sender.display_name, &sender.sip_address, &sender.email_address]
        .into_iter()
        .flatten()
        .any(|name| strip_sip(name).eq_ignore_ascii_case(g))
}

/// Resolves the sender's effective ImConfiguration (Site over Global).
fn effective_im_configuration(policy: &PolicySnapshot, site: Option<&Scope>) -> Result<(Scope, bool)> {
    let all = parsed(&policy.im_configurations, PolicyKind::ImConfiguration, |c: &ImConfiguration| &c.identity)?;
    if let Some(site) = site {
        if let Some((scope, c)) = find(&all, site) {
            return Ok((scope, c.enable_offline_im.unwrap_or(true)));
        }
    }
    let global = find(&all, &Scope::Global).and_then(|(_, c)| c.enable_offline_im);
    Ok((Scope::Global, global.unwrap_or(true)))
}

/// Resolves the sender's effective ClientPolicy (granted Tag over Site over Global).
fn effective_client_policy(policy: &PolicySnapshot, sender: &SenderContext, site: Option<&Scope>) -> Result<(Scope, bool)> {
    let all = parsed(&policy.client_policies, PolicyKind::ClientPolicy, |c: &ClientPolicy| &c.identity)?;
    let grant = policy.client_policy_grants.iter().rev().find(|g| user_matches(&g.identity, sender));
    if let Some(name) = grant.and_then(|g| g.policy_name.as_deref()) {
        let tag = match Scope::parse(name, PolicyKind::ClientPolicy)? {
            t @ Scope::Tag(_) => t,
            other => return Err(Error::InvalidPolicy(format!("policyName {} is {other}, not a Tag policy", shown(name)))),
        };
        let (scope, p) = find(&all, &tag).ok_or_else(|| Error::InvalidPolicy(format!("granted client policy {tag} does not exist")))?;
        return Ok((scope, p.enable_im_auto_archiving.unwrap_or(true)));
    }
    if let Some(site) = site {
        if let Some((scope, p)) = find(&all, site) {
            return Ok((scope, p.enable_im_auto_archiving.unwrap_or(true)));
        }
    }
    let global = find(&all, &Scope::Global).and_then(|(_, p)| p.enable_im_auto_archiving);
    Ok((Scope::Global, global.unwrap_or(true)))
}

fn client_gates(sender: &SenderContext, reasons: &mut Vec<Reason>) -> Result<()> {
    let Some(client) = &sender.client else {
        reasons.push(Reason::ClientNotReported);
        return Ok(());
    };
    let build = ClientBuild::parse(&client.build)?;
    if client.install_type == InstallType::Msi {
        reasons.push(Reason::MsiInstallUnsupported);
        return Ok(());
    }
    if build < MIN_BUILD {
        reasons.push(Reason::ClientBuildTooOld);
    }
    if sender.mailbox_hosting == MailboxHosting::ExchangeOnPremises && build < MIN_BUILD_ON_PREMISES {
        reasons.push(Reason::OnPremisesNeedsNewerBuild);
    }
    Ok(())
}

fn is_same_organization(sender: &SenderContext, recipient: &RecipientContext, organization_domains: &[String]) -> Result<bool> {
    let recipient = [&recipient.email_address, &recipient.sip_address]
        .into_iter()
        .flatten()
        .find_map(|a| domain_of(a))
        .ok_or_else(|| Error::InvalidInput { field: "recipient", reason: "needs an emailAddress or sipAddress with a domain".into() })?;
    let mut org: Vec<String> = organization_domains.iter().map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase()).collect();
    if org.is_empty() {
        let own = [&sender.email_address, &sender.sip_address].into_iter().flatten().find_map(|a| domain_of(a));
        org.extend(own);
    }
    if org.is_empty() {
        return Err(Error::InvalidInput { field: "organizationDomains", reason: "empty, and the sender has no address to take a domain from".into() });
    }
    Ok(org.contains(&recipient))
}

/// Decides what happens to one send. Errors: [`Error::InvalidPolicy`] (bad identities, a grant of a
/// policy that does not exist), [`Error::InvalidClientBuild`], [`Error::InvalidInput`] (no recipient
/// domain). Never panics.
pub fn evaluate(input: &PolicyInput) -> Result<PolicyDecision> {
    evaluate_parts(&input.policy, &input.sender, &input.recipient, &input.organization_domains)
}

/// [`evaluate`] on the parts of a [`PolicyInput`], borrowed: a messenger evaluates its own
/// configuration for every send without copying it. Same errors.
pub fn evaluate_parts(policy: &PolicySnapshot, sender: &SenderContext, recipient: &RecipientContext, organization_domains: &[String]) -> Result<PolicyDecision> {
    let site = sender.site.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| Scope::Site(s.to_string()));
    let (im_scope, offline_im_enabled) = effective_im_configuration(policy, site.as_ref())?;
    let (cp_scope, auto_archiving) = effective_client_policy(policy, sender, site.as_ref())?;
    let same_org = is_same_organization(sender, recipient, organization_domains)?;
    let mut reasons = Vec::new();
    let decision = |delivery, item_class: Option<&str>, missed, reasons| PolicyDecision {
        delivery,
        item_class: item_class.map(str::to_string),
        recipient_records_missed: missed,
        effective_im_configuration: im_scope.to_string(),
        effective_client_policy: cp_scope.to_string(),
        reasons,
    };
    match recipient.presence {
        Presence::Offline => reasons.push(Reason::RecipientOffline),
        Presence::Unknown => reasons.push(Reason::RecipientPresenceUnknown),
        Presence::DoNotDisturb => return Ok(decision(Delivery::Live, None, true, vec![Reason::RecipientDoNotDisturb])),
        Presence::Presenting => return Ok(decision(Delivery::Live, None, true, vec![Reason::RecipientPresenting])),
        _ => return Ok(decision(Delivery::Live, None, false, vec![Reason::RecipientOnline])),
    }
    let before = reasons.len();
    if !offline_im_enabled {
        reasons.push(Reason::OfflineImDisabled);
    }
    if !auto_archiving {
        reasons.push(Reason::AutoArchivingDisabled);
    }
    client_gates(sender, &mut reasons)?;
    let blocked = reasons[before..].iter().any(|r| *r != Reason::ClientNotReported);
    if blocked {
        return Ok(decision(Delivery::Blocked, None, false, reasons));
    }
    let class = if same_org {
        reasons.push(Reason::SameOrganization);
        item_class::MISSED_CONVERSATION
    } else {
        reasons.push(Reason::Federated);
        item_class::PLAIN_MAIL
    };
    Ok(decision(Delivery::Mailbox, Some(class), false, reasons))
}
