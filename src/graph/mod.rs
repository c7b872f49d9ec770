//! Microsoft Graph: the mailbox back end for Exchange Online, where EWS is blocked by default
//! since 1 October 2026 and removed on 1 April 2027. Request builders and reply classifiers over
//! JSON (serde_json, escaping by construction); no I/O.
//!
//! References (learn.microsoft.com, Microsoft Graph v1.0): "user: sendMail", "Create message",
//! "List messages", "Update message", "Get singleValueLegacyExtendedProperty" (filter and
//! expand of extended properties), "Combine multiple requests in one HTTP call using JSON
//! batching", "Microsoft Graph error responses and resource types", "Microsoft Graph throttling
//! guidance" and "Outlook service limits" (4 concurrent requests per mailbox).

pub mod batch;
pub mod mailbox;
pub mod messages;
pub mod reply;
pub mod send;

pub use mailbox::{GraphMailbox, DEFAULT_GRAPH_BATCH_SIZE};

/// The Graph endpoint of the worldwide cloud, version 1.0.
pub const DEFAULT_BASE_URL: &str = "https://graph.microsoft.com/v1.0";
/// Most requests in one `$batch` (JSON batching).
pub const MAX_BATCH: usize = 20;
/// Requests Exchange Online serves at once for one mailbox, per app ("Outlook service limits":
/// 4 concurrent requests); more are answered 429 `ApplicationThrottled` / `MailboxConcurrency`.
/// The requests of a `$batch` count too: Graph dispatches them to Outlook in parallel, so a batch
/// of more than 4 requests to one mailbox has its fifth throttled (Microsoft's answer on Q&A
/// 1660054, "Send 4 requests at the same time, but still get 'Application is over its
/// MailboxConcurrency limit'"), unless `dependsOn` sequences them. Our batches therefore hold at
/// most this many requests, all to the user's own mailbox.
pub const MAX_CONCURRENT: usize = 4;
/// PR_MESSAGE_CLASS as a Graph extended property id: the item class.
pub const PR_MESSAGE_CLASS: &str = "String 0x001A";
/// PR_MESSAGE_FLAGS: settable only when an item is created; without MSGFLAG_UNSENT (8) a
/// created message is not a draft.
pub const PR_MESSAGE_FLAGS: &str = "Integer 0x0E07";
/// PR_MESSAGE_DELIVERY_TIME: the received time of a recorded missed message.
pub const PR_MESSAGE_DELIVERY_TIME: &str = "SystemTime 0x0E06";

/// The Graph id of one of our named String properties: `String {guid} Name <name>`.
pub fn named_property_id(name: &str) -> String {
    ["String {", crate::message::PROPERTY_SET_ID, "} Name ", name].concat()
}

/// `text` percent-encoded for a URL path segment or query value: RFC 3986 unreserved
/// characters stay, every other byte becomes `%XX`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        assert_eq!(percent_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(percent_encode("id eq 'x'"), "id%20eq%20%27x%27");
        assert_eq!(percent_encode("AAMk+/=é"), "AAMk%2B%2F%3D%C3%A9");
    }

    #[test]
    fn named_property_ids_use_our_property_set() {
        assert_eq!(named_property_id("OfflineImMessageId"), "String {6b2b3c54-5e0f-4c1c-9a3e-0ff11e1e0a1d} Name OfflineImMessageId");
    }
}
