//! The admin state the seeds describe, as a JSON-friendly snapshot.
//!
//! Field names mirror the cmdlets' properties in camelCase: `Get-CsImConfiguration` →
//! `imConfigurations[].{identity, enableOfflineIM}`, `Get-CsClientPolicy` →
//! `clientPolicies[].{identity, enableIMAutoArchiving}`, `Grant-CsClientPolicy -Identity
//! -PolicyName` → `clientPolicyGrants[].{identity, policyName}`. A missing property is "not set",
//! which Skype for Business treats as the default: `EnableOfflineIM` true (since Server 2015 CU3)
//! and `EnableIMAutoArchiving` true (seed "Turn on or off Offline Messages for admins").
//!
//! Example:
//! ```json
//! { "imConfigurations": [{ "identity": "Global", "enableOfflineIM": true }],
//!   "clientPolicies": [{ "identity": "Tag:OfflineIM", "enableIMAutoArchiving": false }],
//!   "clientPolicyGrants": [{ "identity": "Tony Smith", "policyName": "OfflineIM" }] }
//! ```

use serde::{Deserialize, Serialize};

/// One `CsImConfiguration` (Global or `Site:<name>` scope).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImConfiguration {
    /// `Global` or `Site:<name>`.
    pub identity: String,
    /// `EnableOfflineIM`; absent = not set = true.
    #[serde(rename = "enableOfflineIM", alias = "enableOfflineIm", default, skip_serializing_if = "Option::is_none")]
    pub enable_offline_im: Option<bool>,
}

/// One `CsClientPolicy` (Global, `Site:<name>` or `Tag:<name>` scope).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientPolicy {
    /// `Global`, `Site:<name>`, `Tag:<name>` (a bare name is a Tag policy).
    pub identity: String,
    /// `EnableIMAutoArchiving`; absent = not set = true.
    #[serde(rename = "enableIMAutoArchiving", alias = "enableImAutoArchiving", default, skip_serializing_if = "Option::is_none")]
    pub enable_im_auto_archiving: Option<bool>,
}

/// One `Grant-CsClientPolicy`: `policyName` null returns the user to the inherited policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientPolicyGrant {
    /// The user as `-Identity` names them: display name, SIP address or UPN/e-mail.
    pub identity: String,
    /// Tag policy name (`OfflineIM` or `Tag:OfflineIM`), or null for `$null`.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "string | null"))]
    pub policy_name: Option<String>,
}

/// The whole admin state relevant to offline IM. An empty snapshot means all defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySnapshot {
    #[serde(default)]
    pub im_configurations: Vec<ImConfiguration>,
    #[serde(default)]
    pub client_policies: Vec<ClientPolicy>,
    /// In order; for one user the last grant wins.
    #[serde(default)]
    pub client_policy_grants: Vec<ClientPolicyGrant>,
}
