//! Mailboxes of the test users, in memory. Two organisations: contoso.com and the federated
//! fabrikam.com. Each user authenticates with a fixed bearer token (`<local part>-token`). The
//! service account svc-offline-im@contoso.com (`svc-token`) holds ApplicationImpersonation.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub email: String,
    pub name: String,
    pub token: String,
    /// Holds the ApplicationImpersonation management role (may act as any user of its
    /// organisation with ExchangeImpersonation).
    pub can_impersonate: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Addr {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ext {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property_set_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property_tag: Option<String>,
    pub property_type: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub id: String,
    pub change_key: u32,
    pub mailbox: String,
    pub folder: String,
    pub item_class: String,
    pub subject: String,
    pub body: String,
    pub body_type: String,
    pub from: Option<Addr>,
    pub to: Vec<Addr>,
    pub is_read: bool,
    pub is_draft: bool,
    pub extended: Vec<Ext>,
    pub received_ms: u64,
}

impl Item {
    /// The ChangeKey Exchange would give this version of the item.
    pub fn change_key_text(&self) -> String {
        ["CQAAAB", &self.change_key.to_string()].concat()
    }
}


pub struct State {
    pub users: Vec<User>,
    pub items: Vec<Item>,
    next_id: u64,
    pub requests: u64,
}

pub fn org_of(email: &str) -> String {
    email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default()
}

impl Default for State {
    fn default() -> State {
        State::new()
    }
}

impl State {
    pub fn new() -> State {
        let users = [
            ("tony@contoso.com", "Tony Smith"),
            ("ana@contoso.com", "Ana Lopez"),
            ("sam@contoso.com", "Sam Lee"),
            ("bob@fabrikam.com", "Bob Kelly"),
        ]
        .iter()
        .map(|(email, name)| User { email: email.to_string(), name: name.to_string(), token: [email.split('@').next().unwrap_or(""), "-token"].concat(), can_impersonate: false })
        .chain([User { email: "svc-offline-im@contoso.com".into(), name: "Offline IM service".into(), token: "svc-token".into(), can_impersonate: true }])
        .collect();
        State { users, items: Vec::new(), next_id: 1, requests: 0 }
    }

    pub fn user_by_token(&self, token: &str) -> Option<&User> {
        self.users.iter().find(|u| u.token == token)
    }

    pub fn user(&self, email: &str) -> Option<&User> {
        self.users.iter().find(|u| u.email.eq_ignore_ascii_case(email))
    }

    pub fn new_id(&mut self) -> String {
        let id = format!("AAMkAGI2-{:06}", self.next_id);
        self.next_id += 1;
        id
    }

    pub fn clear(&mut self) {
        self.items.clear();
    }
}
