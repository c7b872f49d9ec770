//! The offline message, whatever back end delivers it: its fields, the checks every message
//! passes before the spool accepts it, and the text every back end derives from it (subject,
//! HTML body). Pure. The EWS envelope (`ews::create_item`) and the Graph request
//! (`graph::send`) are both written from what [`check`] returns.

use crate::address;
use crate::error::{shown, Error, Result};
use crate::item_class;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The property set our named extended properties live in (a fixed GUID of this project), so
/// the recipient side can find offline messages by id, whichever back end wrote them. EWS:
/// `ExtendedFieldURI PropertySetId=… PropertyName=… PropertyType="String"`; Graph:
/// `String {guid} Name <name>`.
pub const PROPERTY_SET_ID: &str = "6b2b3c54-5e0f-4c1c-9a3e-0ff11e1e0a1d";
/// Named property carrying the offline message's id (de-duplication key).
pub const PROPERTY_MESSAGE_ID: &str = "OfflineImMessageId";
/// Named property carrying the conversation id.
pub const PROPERTY_CONVERSATION_ID: &str = "OfflineImConversationId";

/// Default limit on the chat text, in UTF-8 bytes (64 KiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Longest id (message or conversation), in UTF-8 bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Longest display name or subject, in characters (Exchange's subject limit is 255).
pub const MAX_NAME_CHARS: usize = 255;

/// A mailbox: SMTP address and optional display name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MailboxAddress {
    pub email_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// One offline message to deliver.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OfflineMessage {
    /// Unique message id (e.g. a UUID), ≤ 256 bytes; written as the `OfflineImMessageId` property.
    pub id: String,
    /// Conversation id, ≤ 256 bytes; defaults to `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    pub to: MailboxAddress,
    /// The chat text (plain text; becomes an HTML body).
    pub text: String,
    /// Subject; defaults to the first line of `text` (≤ 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}


fn check_id(field: &'static str, id: &str) -> Result<()> {
    if id.trim().is_empty() {
        return Err(Error::InvalidInput { field, reason: "is empty".into() });
    }
    if id.len() > MAX_ID_BYTES {
        return Err(Error::InvalidInput { field, reason: format!("is {} bytes; at most {MAX_ID_BYTES}", id.len()) });
    }
    Ok(())
}

fn check_name(field: &'static str, name: &str) -> Result<()> {
    let n = name.chars().count();
    if n > MAX_NAME_CHARS {
        return Err(Error::InvalidInput { field, reason: format!("is {n} characters; at most {MAX_NAME_CHARS}") });
    }
    Ok(())
}

/// Validates the item class: non-empty, ≤ 255 characters, no whitespace or controls.
fn check_item_class(class: &str) -> Result<()> {
    if class.is_empty() || class.len() > 255 || class.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::InvalidInput { field: "itemClass", reason: format!("{} is not a message class such as IPM.Note", shown(class)) });
    }
    Ok(())
}

/// What [`check`] computed: everything a back end writes besides the ids and the text.
pub struct Checked<'a> {
    pub conversation_id: &'a str,
    /// The recipient's address, validated and trimmed.
    pub to: String,
    pub to_name: Option<&'a str>,
    /// The item class, normalised (`item_class::normalize`).
    pub class: String,
    /// The subject given, or the first line of the text.
    pub subject: String,
}

/// The checks every message passes before it is accepted, whatever the back end: text 1 byte to
/// `max_message_bytes` (default 65536) of UTF-8, ids 1 to 256 bytes, a valid recipient address,
/// names and subject up to 255 characters, a message class (`item_class`, default
/// `IPM.Note.Microsoft.Missed`). Errors: [`Error::MessageTooLarge`], [`Error::InvalidInput`],
/// [`Error::InvalidAddress`].
pub fn check<'a>(message: &'a OfflineMessage, item_class: Option<&str>, max_message_bytes: Option<usize>) -> Result<Checked<'a>> {
    let limit = max_message_bytes.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES);
    if message.text.len() > limit {
        return Err(Error::MessageTooLarge { size: message.text.len(), limit });
    }
    if message.text.trim().is_empty() {
        return Err(Error::InvalidInput { field: "text", reason: "is empty".into() });
    }
    check_id("id", &message.id)?;
    let conversation_id = message.conversation_id.as_deref().unwrap_or(&message.id);
    check_id("conversationId", conversation_id)?;
    let to = address::validate("to.emailAddress", &message.to.email_address)?;
    let to_name = message.to.display_name.as_deref().map(str::trim);
    check_name("to.displayName", to_name.unwrap_or(""))?;
    let class = item_class::normalize(item_class.unwrap_or(item_class::MISSED_CONVERSATION));
    check_item_class(&class)?;
    let subject = match message.subject.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => {
            check_name("subject", s)?;
            s.to_string()
        }
        _ => subject_from(&message.text, MAX_NAME_CHARS, "Missed conversation"),
    };
    Ok(Checked { conversation_id, to, to_name, class, subject })
}

/// The HTML document for a chat text: HTML-escaped, each line break (`\r\n`, `\n`, `\r`) kept as
/// `<br>`. EWS writes it into `t:Body` (the XML writer escapes it again); Graph into
/// `body.content` (JSON escapes it).
pub fn html_body(text: &str) -> String {
    let normalized = if text.contains('\r') { Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n")) } else { Cow::Borrowed(text) };
    let mut html = String::with_capacity(normalized.len() + 128);
    html.push_str("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body><div>");
    for (i, line) in normalized.split('\n').enumerate() {
        if i > 0 {
            html.push_str("<br>\n");
        }
        html.push_str(&quick_xml::escape::partial_escape(line));
    }
    html.push_str("</div></body></html>");
    html
}

/// A subject from the chat text: its first non-empty line, trimmed, cut to `max_chars` (with
/// `…` when cut). Empty text gives `fallback`.
pub fn subject_from(text: &str, max_chars: usize, fallback: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    if line.is_empty() {
        return fallback.to_string();
    }
    if line.chars().count() <= max_chars {
        return line.to_string();
    }
    let mut s: String = line.chars().take(max_chars.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// A missed message the user's own client records (Do Not Disturb / Presenting,
/// `recordMissed`), on either back end.
#[derive(Debug, Clone, PartialEq)]
pub struct MissedInput {
    pub id: String,
    pub conversation_id: String,
    pub from: MailboxAddress,
    pub text: String,
    /// When the IM arrived (ms since the epoch).
    pub received_at: u64,
}

impl MissedInput {
    /// The checks both back ends make before recording: text 1 byte to 65536, ids 1 to 256
    /// bytes, a valid sender address (returned, trimmed). Errors: [`Error::InvalidInput`],
    /// [`Error::MessageTooLarge`], [`Error::InvalidAddress`].
    pub fn check(&self) -> Result<String> {
        if self.text.trim().is_empty() {
            return Err(Error::InvalidInput { field: "text", reason: "is empty".into() });
        }
        if self.text.len() > DEFAULT_MAX_MESSAGE_BYTES {
            return Err(Error::MessageTooLarge { size: self.text.len(), limit: DEFAULT_MAX_MESSAGE_BYTES });
        }
        for (field, v) in [("id", &self.id), ("conversationId", &self.conversation_id)] {
            if v.trim().is_empty() || v.len() > MAX_ID_BYTES {
                return Err(Error::InvalidInput { field, reason: format!("must be 1 to {MAX_ID_BYTES} bytes") });
            }
        }
        address::validate("from.emailAddress", &self.from.email_address)
    }
}
