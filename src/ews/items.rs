//! Reading items out of FindItem, GetItem, UpdateItem and CreateItem replies, by namespace URI.
//! Errors in the reply are reported as the [`EwsOutcome`] `parse_ews_response` gives.

use super::datetime::from_iso;
use super::response::parse_ews_response;
use super::{push_reference, EwsOutcome, NS_MESSAGES, NS_TYPES, PROPERTY_CONVERSATION_ID, PROPERTY_MESSAGE_ID, PROPERTY_SET_ID};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

pub use crate::missed::ItemSummary;

/// Items of a reply, and FindItem paging.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemsReply {
    pub items: Vec<ItemSummary>,
    /// FindItem: `IncludesLastItemInRange` (true when absent).
    pub includes_last: bool,
    /// FindItem: `IndexedPagingOffset` of the next page.
    pub next_offset: Option<usize>,
    /// Response messages with `ResponseClass="Error"` and their codes (e.g. `ErrorItemNotFound`).
    pub errors: Vec<String>,
}

/// `t:Message`, or `t:Item`: Exchange returns an item whose class is not under `IPM.Note` (the
/// seed's `IM.Note.MissedConversation`) as a generic item, without the message properties
/// (From, IsRead). EWS reference, "Item" and "Message" elements.
fn is_item(local_name: &str) -> bool {
    matches!(local_name, "Message" | "Item")
}

/// Reads the items of a successful reply. Err with the outcome when the reply as a whole is not
/// a success (fault, HTTP error, auth, garbage). Per-item errors land in `errors`.
pub fn parse_items(http_status: u16, body: &str) -> Result<ItemsReply, EwsOutcome> {
    let outcome = parse_ews_response(http_status, body);
    // Per-item errors (e.g. ErrorItemNotFound in one of several GetItem messages) still leave
    // the other items usable; anything retryable, an auth demand or a non-200 reply does not.
    let all_failed = match &outcome {
        EwsOutcome::Delivered { .. } => false,
        EwsOutcome::PermanentFailure { http_status, .. } => *http_status != 200,
        EwsOutcome::Retry { .. } | EwsOutcome::AuthRequired { .. } => true,
    };
    if all_failed {
        return Err(outcome);
    }
    let mut reply = ItemsReply { includes_last: true, ..Default::default() };
    let mut reader = NsReader::from_str(body);
    let mut path: Vec<(bool, String)> = Vec::new(); // (in types or messages namespace, local name)
    let mut current: Option<ItemSummary> = None;
    let mut text = String::new();
    let mut ext_name: Option<String> = None;
    let mut in_error = false;
    // Depth of the open item element: an item nested in it (an attachment) does not end it.
    let mut item_depth = 0;
    loop {
        let Ok((ns, event)) = reader.read_resolved_event() else { return Err(outcome) };
        let ns_t = matches!(ns, ResolveResult::Bound(n) if n.0 == NS_TYPES);
        let ns_m = matches!(ns, ResolveResult::Bound(n) if n.0 == NS_MESSAGES);
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = e.local_name().as_ref().to_string();
                let attr = |k: &str| e.attributes().flatten().find(|a| a.key.as_ref() == k).and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok()).map(|v| v.into_owned());
                if ns_m && name.ends_with("ResponseMessage") {
                    in_error = attr("ResponseClass").as_deref() == Some("Error");
                }
                if ns_m && name == "RootFolder" {
                    reply.includes_last = attr("IncludesLastItemInRange").as_deref() != Some("false");
                    reply.next_offset = attr("IndexedPagingOffset").and_then(|v| v.parse().ok());
                }
                if ns_t && is_item(&name) && current.is_none() && matches!(event, Event::Start(_)) {
                    current = Some(ItemSummary::default());
                    item_depth = path.len();
                }
                // Properties are the outer item's own only as its direct children (not an
                // attached item's).
                let depth = path.len().wrapping_sub(item_depth); // 1: child, 2: grandchild
                if let Some(item) = current.as_mut() {
                    match (ns_t, name.as_str(), depth) {
                        (true, "ItemId", 1) => {
                            item.item_id = attr("Id").unwrap_or_default();
                            item.change_key = attr("ChangeKey").unwrap_or_default();
                        }
                        (true, "Body", 1) => item.body_type = attr("BodyType"),
                        // Only our property set: a same-named property of another set is not ours.
                        // Set (or cleared) at every ExtendedFieldURI, so it always names the
                        // property whose Value follows.
                        (true, "ExtendedFieldURI", 2) => ext_name = attr("PropertyName").filter(|_| attr("PropertySetId").is_some_and(|s| s.eq_ignore_ascii_case(PROPERTY_SET_ID))),
                        _ => {}
                    }
                }
                if matches!(event, Event::Start(_)) {
                    path.push((ns_t || ns_m, name));
                    text.clear();
                }
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => push_reference(&mut text, &r),
            Event::End(_) => {
                let Some((ews, name)) = path.pop() else { return Err(outcome) };
                let parent = path.last().map(|(_, n)| n.as_str());
                let value = std::mem::take(&mut text);
                if ews && name == "ResponseCode" && in_error {
                    reply.errors.push(value.trim().to_string());
                }
                // After the pop, `path` ends with the element's parent: depth item_depth + 1 means
                // a direct child of the outer item, + 2 a grandchild (in From, ExtendedProperty).
                let child = path.len() == item_depth + 1;
                let grandchild_of = |p: &str| path.len() == item_depth + 2 && parent == Some(p);
                let in_from = path.len() == item_depth + 3 && path.get(item_depth + 1).is_some_and(|(_, n)| n == "From");
                if let Some(item) = current.as_mut() {
                    match (ews, name.as_str(), parent) {
                        (true, "ItemClass", _) if child => item.item_class = value.trim().to_string(),
                        (true, "Subject", _) if child => item.subject = value,
                        (true, "Body", _) if child => item.body = Some(value),
                        (true, "DateTimeReceived", _) if child => item.received_at = from_iso(&value),
                        (true, "IsRead", _) if child => item.is_read = Some(matches!(value.trim(), "true" | "1")),
                        (true, "Name", Some("Mailbox")) if in_from => item.from_name = Some(value),
                        (true, "EmailAddress", Some("Mailbox")) if in_from => item.from_email = Some(value.trim().to_string()),
                        (true, "Value", _) if grandchild_of("ExtendedProperty") => match ext_name.as_deref() {
                            Some(PROPERTY_MESSAGE_ID) => item.message_id = Some(value),
                            Some(PROPERTY_CONVERSATION_ID) => item.conversation_id = Some(value),
                            _ => {}
                        },
                        (true, n, _) if is_item(n) && path.len() == item_depth => {
                            if let Some(done) = current.take() {
                                reply.items.push(done);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Event::Eof => return Ok(reply),
            _ => {}
        }
    }
}
