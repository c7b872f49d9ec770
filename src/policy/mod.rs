//! Skype for Business policy: the admin state (snapshot or PowerShell script) and the decision
//! for one send. Pure: no I/O, no JavaScript.

pub mod client_build;
pub mod evaluate;
pub mod model;
pub mod scope;
pub mod script;
mod script_lex;

pub use evaluate::{evaluate, evaluate_parts, ClientInfo, Delivery, InstallType, MailboxHosting, PolicyDecision, PolicyInput, Presence, Reason, RecipientContext, SenderContext};
pub use model::{ClientPolicy, ClientPolicyGrant, ImConfiguration, PolicySnapshot};
pub use script::parse_policy_script;
