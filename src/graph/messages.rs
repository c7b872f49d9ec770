//! Requests and replies of the recipient side on Graph: listing unread missed conversations
//! ("List messages" with `$filter` on PR_MESSAGE_CLASS and `$expand` of our named properties,
//! "Get singleValueLegacyExtendedProperty"), marking them read ("Update message"), and recording a
//! missed message in `conversationhistory` ("Create message" in a mail folder).

use super::send::{json_request, EmailAddress, ItemBody, Property, Recipient};
use super::{named_property_id, percent_encode, PR_MESSAGE_CLASS, PR_MESSAGE_DELIVERY_TIME, PR_MESSAGE_FLAGS};
use crate::datetime::{from_iso, to_iso};
use crate::error::{Error, Result};
use crate::item_class::{MISSED_CONVERSATION, SEED_MISSED_CONVERSATION};
use crate::mailbox::Request;
use crate::message::{html_body, subject_from, MissedInput, PROPERTY_CONVERSATION_ID, PROPERTY_MESSAGE_ID, PROPERTY_SET_ID};
use crate::missed::ItemSummary;
use serde::{Deserialize, Serialize};

/// Folders searched (well-known folder names; `conversationhistory` is where Skype for Business
/// keeps conversations).
pub const MISSED_FOLDERS: [&str; 2] = ["inbox", "conversationhistory"];
/// Both missed-conversation classes (Graph compares extended property values case-insensitively).
pub const MISSED_CLASSES: [&str; 2] = [MISSED_CONVERSATION, SEED_MISSED_CONVERSATION];
/// Items per page (`$top`).
pub const PAGE_SIZE: usize = 100;

/// GET the first page of unread items of `class` in `folder`, with body (as text: `Prefer:
/// outlook.body-content-type="text"`), sender, received time, and our two named properties and
/// the class expanded.
pub fn list_missed_request(user_path: &str, folder: &str, class: &str) -> Request {
    let filter = ["singleValueExtendedProperties/any(ep: ep/id eq '", PR_MESSAGE_CLASS, "' and ep/value eq '", class, "') and isRead eq false"].concat();
    let expand = ["singleValueExtendedProperties($filter=id eq '", PR_MESSAGE_CLASS, "' or id eq '", &named_property_id(PROPERTY_MESSAGE_ID), "' or id eq '", &named_property_id(PROPERTY_CONVERSATION_ID), "')"].concat();
    let path = [
        user_path,
        "/mailFolders/",
        folder,
        "/messages?$filter=",
        &percent_encode(&filter),
        "&$select=subject,body,from,receivedDateTime,isRead&$expand=",
        &percent_encode(&expand),
        "&$top=",
        &PAGE_SIZE.to_string(),
    ]
    .concat();
    get(path)
}

/// A GET of `path` with the text-body preference.
pub fn get(path: String) -> Request {
    Request { method: "GET", path, headers: vec![("Prefer", "outlook.body-content-type=\"text\"".into())], body: None }
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    value: Vec<GraphMessage>,
    #[serde(default, rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphMessage {
    id: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    body: Option<Body>,
    #[serde(default)]
    from: Option<From>,
    #[serde(default)]
    received_date_time: Option<String>,
    #[serde(default)]
    is_read: Option<bool>,
    #[serde(default)]
    single_value_extended_properties: Vec<Prop>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct From {
    email_address: Address,
}

#[derive(Deserialize)]
struct Address {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

#[derive(Deserialize)]
struct Prop {
    id: String,
    #[serde(default)]
    value: Option<String>,
}

/// Which of our properties a Graph property id names: Graph may answer with the GUID in
/// another case, and the `Name` part is case-sensitive ("Get singleValueLegacyExtendedProperty").
fn is_named(id: &str, name: &str) -> bool {
    let Some(rest) = id.strip_prefix("String {") else { return false };
    rest.get(..PROPERTY_SET_ID.len()).is_some_and(|g| g.eq_ignore_ascii_case(PROPERTY_SET_ID)) && rest[PROPERTY_SET_ID.len()..] == *["} Name ", name].concat()
}

/// The tag of a tagged property id of type `kind` (`String 0x001A`), by value: Graph answers
/// with the tag in its shortest lower-case form (`String 0x1a`), whatever form the request used.
pub fn tag_of(id: &str, kind: &str) -> Option<u32> {
    let (k, tag) = id.split_once(' ')?;
    let hex = tag.strip_prefix("0x").or_else(|| tag.strip_prefix("0X"))?;
    (k.eq_ignore_ascii_case(kind) && !hex.is_empty() && hex.len() <= 4).then(|| u32::from_str_radix(hex, 16).ok()).flatten()
}

/// One page of a message list: the items and the `@odata.nextLink`. Err: the body is not a
/// message collection.
pub fn parse_page(body: &str) -> std::result::Result<(Vec<ItemSummary>, Option<String>), String> {
    let page: Page = serde_json::from_str(body).map_err(|e| ["not a Graph message collection: ", &e.to_string()].concat())?;
    let items = page
        .value
        .into_iter()
        .map(|m| {
            let prop = |pred: &dyn Fn(&str) -> bool| m.single_value_extended_properties.iter().find(|p| pred(&p.id)).and_then(|p| p.value.clone());
            let item_class = prop(&|id| tag_of(id, "String") == Some(0x001A)).unwrap_or_else(|| "IPM.Note".into());
            let message_id = prop(&|id| is_named(id, PROPERTY_MESSAGE_ID));
            let conversation_id = prop(&|id| is_named(id, PROPERTY_CONVERSATION_ID));
            let (from_name, from_email) = m.from.map(|f| (f.email_address.name, f.email_address.address)).unwrap_or_default();
            let (body_type, body) = m.body.map(|b| (b.content_type, b.content)).unwrap_or_default();
            ItemSummary {
                item_id: m.id,
                change_key: String::new(),
                item_class,
                subject: m.subject.unwrap_or_default(),
                body,
                body_type,
                received_at: m.received_date_time.as_deref().and_then(from_iso),
                is_read: m.is_read,
                from_name,
                from_email,
                message_id,
                conversation_id,
            }
        })
        .collect();
    Ok((items, page.next_link))
}

/// `PATCH {user}/messages/{id}` setting `isRead` true.
pub fn mark_read_request(user_path: &str, item_id: &str) -> Result<Request> {
    check_item_id(item_id)?;
    Ok(json_request("PATCH", [user_path, "/messages/", &percent_encode(item_id)].concat(), &IsRead { is_read: true }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IsRead {
    is_read: bool,
}

/// An item id as Graph gives them: 1 to 512 characters, no controls.
pub fn check_item_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 512 || id.chars().any(char::is_control) {
        return Err(Error::InvalidInput { field: "itemIds", reason: format!("{} is not a Graph message id", crate::error::shown(id)) });
    }
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewMessage<'a> {
    subject: &'a str,
    body: ItemBody<'a>,
    from: Recipient<'a>,
    is_read: bool,
    single_value_extended_properties: [Property<'a>; 5],
}

/// `POST {user}/mailFolders/conversationhistory/messages`: the missed message as an item of
/// class `IPM.Note.Microsoft.Missed`, from the original sender, unread, with PR_MESSAGE_FLAGS 0
/// (set at creation: without MSGFLAG_UNSENT the item is not a draft) and PR_MESSAGE_DELIVERY_TIME
/// the time the IM arrived. No mail is sent. Errors as [`MissedInput::check`].
pub fn record_missed_request(user_path: &str, m: &MissedInput) -> Result<Request> {
    let from = m.check()?;
    let subject = subject_from(&m.text, 255, "Missed conversation");
    let html = html_body(&m.text);
    let (message_id, conversation_id, received) = (named_property_id(PROPERTY_MESSAGE_ID), named_property_id(PROPERTY_CONVERSATION_ID), to_iso(m.received_at));
    let body = NewMessage {
        subject: &subject,
        body: ItemBody { content_type: "HTML", content: &html },
        from: Recipient { email_address: EmailAddress { address: &from, name: m.from.display_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) } },
        is_read: false,
        single_value_extended_properties: [
            Property { id: PR_MESSAGE_CLASS, value: MISSED_CONVERSATION },
            Property { id: &message_id, value: &m.id },
            Property { id: &conversation_id, value: &m.conversation_id },
            Property { id: PR_MESSAGE_FLAGS, value: "0" },
            Property { id: PR_MESSAGE_DELIVERY_TIME, value: &received },
        ],
    };
    Ok(json_request("POST", [user_path, "/mailFolders/conversationhistory/messages"].concat(), &body))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    id: String,
    #[serde(default)]
    is_draft: Option<bool>,
}

/// The id and `isDraft` of a created message. Err: not a message.
pub fn parse_created(body: &str) -> std::result::Result<(String, Option<bool>), String> {
    let c: Created = serde_json::from_str(body).map_err(|e| ["not a Graph message: ", &e.to_string()].concat())?;
    Ok((c.id, c.is_draft))
}
