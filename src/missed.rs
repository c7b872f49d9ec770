//! The recipient's view of missed conversations: items from FindItem/GetItem, de-duplicated by
//! our message-id property (delivery is at-least-once on the wire; the user sees each message
//! once) and grouped by sender and conversation. Pure.

use crate::item_class::is_missed_conversation;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One mailbox item as the recipient side reads it, from either back end (EWS FindItem/GetItem,
/// Graph message list).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemSummary {
    pub item_id: String,
    pub change_key: String,
    pub item_class: String,
    pub subject: String,
    /// The body as sent (HTML for offline messages), when asked for.
    pub body: Option<String>,
    pub body_type: Option<String>,
    pub received_at: Option<u64>,
    pub is_read: Option<bool>,
    pub from_name: Option<String>,
    pub from_email: Option<String>,
    /// Our `OfflineImMessageId` property.
    pub message_id: Option<String>,
    /// Our `OfflineImConversationId` property.
    pub conversation_id: Option<String>,
}

/// One message the user missed; `itemIds` lists every mailbox item that carries it (duplicates
/// included), so that `markSeen(itemIds)` marks them all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct MissedMessage {
    pub message_id: String,
    pub item_ids: Vec<String>,
    pub subject: String,
    /// Plain text of the body.
    pub text: String,
    /// ms since the epoch.
    pub received_at: u64,
}

/// Messages from one sender in one conversation, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct MissedConversation {
    pub from_email: String,
    pub from_name: String,
    pub conversation_id: String,
    pub messages: Vec<MissedMessage>,
}

/// Result of `checkMissed`: conversations with the newest activity first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct MissedReport {
    pub conversations: Vec<MissedConversation>,
    /// Distinct missed messages (the count badge).
    pub total: usize,
    /// Mailbox items read (duplicates included).
    pub items_scanned: usize,
}

/// Plain text of an HTML body as a mail client shows it: the document's `<body>` only (head,
/// style and meta dropped), tags dropped, runs of white space (spaces, tabs, CR, LF: Exchange
/// re-renders bodies with CRLF between tags) collapsed to one space as HTML renders them, `<br>`
/// a line break, and each `<div>`/`<p>` on a line of its own. Character references: the five XML
/// entities, `&nbsp;` (a plain space), decimal and hex numeric references; any other `&name;`
/// stays as written, so one unknown entity never undoes the decoding of the rest.
pub fn html_to_text(html: &str) -> String {
    let body = html.find("<body").and_then(|i| html[i..].find('>').map(|j| &html[i + j + 1..])).unwrap_or(html);
    let body = body.rfind("</body>").map_or(body, |i| &body[..i]);
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    let mut space = false;
    let line_break = |out: &mut String, hard: bool| {
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        if hard || !(out.is_empty() || out.ends_with('\n')) {
            out.push('\n');
        }
    };
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            let Some(gt) = rest.find('>') else { break };
            let tag = rest[1..gt].to_ascii_lowercase();
            let name = tag.trim_start_matches('/').split(|c: char| c.is_ascii_whitespace() || c == '/').next().unwrap_or("");
            match name {
                "br" => line_break(&mut out, true),
                "div" | "p" => line_break(&mut out, false),
                _ => {}
            }
            space = false;
            rest = &rest[gt + 1..];
            continue;
        }
        if c.is_ascii_whitespace() {
            space = !out.is_empty() && !out.ends_with('\n');
            rest = &rest[1..];
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        if c == '&' {
            if let Some((decoded, len)) = entity(rest) {
                out.push(decoded);
                rest = &rest[len..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out.trim_end().to_string()
}

/// A Text body as Exchange converts it (CRLF line ends, a final line break, no-break spaces
/// where the HTML had `&nbsp;`) as the chat text: LF line ends, plain spaces, no trailing breaks.
fn text_body(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\u{a0}', " ").trim_end().to_string()
}

/// The character `&...;` at the start of `s` stands for, and the reference's length in bytes.
fn entity(s: &str) -> Option<(char, usize)> {
    let end = s.get(..12).unwrap_or(s).find(';')?;
    let name = &s[1..end];
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        _ => {
            let n = name.strip_prefix('#')?;
            let code = match n.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => n.parse().ok()?,
            };
            char::from_u32(code).filter(|c| *c != '\0')?
        }
    };
    Some((c, end + 1))
}

/// Builds the report from items (missed-conversation class under either name, unread; items
/// received before `since` are left out; items without a received time are kept, as
/// `check_missed` keeps them). Items without our message-id property are their own
/// message (keyed by item id).
pub fn group(items: Vec<ItemSummary>, since: Option<u64>) -> MissedReport {
    let items_scanned = items.len();
    let mut by_message: HashMap<String, (ItemSummary, Vec<String>)> = HashMap::new();
    for item in items {
        if !is_missed_conversation(&item.item_class) || item.is_read == Some(true) || since.is_some_and(|s| item.received_at.is_some_and(|t| t < s)) {
            continue;
        }
        let key = item.message_id.clone().filter(|m| !m.is_empty()).unwrap_or_else(|| ["item:", &item.item_id].concat());
        let entry = by_message.entry(key).or_insert_with(|| (item.clone(), Vec::new()));
        entry.1.push(item.item_id.clone());
        // The earliest copy speaks for the message (its ids are all in `item_ids` anyway).
        if item.received_at < entry.0.received_at {
            entry.0 = item;
        }
    }
    let total = by_message.len();
    let mut conversations: HashMap<(String, String), MissedConversation> = HashMap::new();
    for (message_id, (item, item_ids)) in by_message {
        let from_email = item.from_email.clone().unwrap_or_default().to_ascii_lowercase();
        let conversation_id = item.conversation_id.clone().unwrap_or_else(|| message_id.clone());
        let c = conversations.entry((from_email.clone(), conversation_id.clone())).or_insert_with(|| MissedConversation {
            from_email,
            from_name: item.from_name.clone().unwrap_or_default(),
            conversation_id,
            messages: Vec::new(),
        });
        let text = match item.body_type.as_deref() {
            Some(t) if t.eq_ignore_ascii_case("text") => item.body.as_deref().map(text_body).unwrap_or_default(),
            _ => item.body.as_deref().map(html_to_text).unwrap_or_default(),
        };
        c.messages.push(MissedMessage { message_id, item_ids, subject: item.subject, text, received_at: item.received_at.unwrap_or(0) });
    }
    let mut conversations: Vec<MissedConversation> = conversations.into_values().collect();
    for c in &mut conversations {
        c.messages.sort_by(|a, b| a.received_at.cmp(&b.received_at).then(a.message_id.cmp(&b.message_id)));
    }
    // Newest conversation first; ties by sender, then conversation (hash maps have no order).
    conversations.sort_by(|a, b| {
        let last = |c: &MissedConversation| c.messages.last().map_or(0, |m| m.received_at);
        last(b).cmp(&last(a)).then_with(|| (&a.from_email, &a.conversation_id).cmp(&(&b.from_email, &b.conversation_id)))
    });
    MissedReport { conversations, total, items_scanned }
}
