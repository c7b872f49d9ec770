//! `POST {user}/sendMail`: delivers one offline message ("user: sendMail"). The message carries,
//! as single-value extended properties, its class (`String 0x001A`, PR_MESSAGE_CLASS) and our
//! named message-id and conversation-id properties: the same property set and names as the EWS
//! envelope, so either back end's `checkMissed` finds what either sent. `saveToSentItems: false`:
//! the seed says offline messages are not archived for the sender, and sendMail writes no draft
//! (nothing in Drafts or Sent Items; the seed's Drafts pile-up cannot come back this way).

use super::{named_property_id, PR_MESSAGE_CLASS};
use crate::error::Result;
use crate::mailbox::Request;
use crate::message::{check, html_body, OfflineMessage, PROPERTY_CONVERSATION_ID, PROPERTY_MESSAGE_ID};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EmailAddress<'a> {
    pub address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Recipient<'a> {
    pub email_address: EmailAddress<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ItemBody<'a> {
    pub content_type: &'a str,
    pub content: &'a str,
}

#[derive(Serialize)]
pub(crate) struct Property<'a> {
    pub id: &'a str,
    pub value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    subject: &'a str,
    body: ItemBody<'a>,
    to_recipients: [Recipient<'a>; 1],
    single_value_extended_properties: [Property<'a>; 3],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendMail<'a> {
    message: Message<'a>,
    save_to_sent_items: bool,
}

/// The sendMail request for `message` as `item_class`, for the mailbox at `user_path` (`/me`, or
/// `/users/{address}` for an app-only token). Errors as `message::check`.
pub fn send_mail_request(user_path: &str, message: &OfflineMessage, item_class: &str, max_message_bytes: Option<usize>) -> Result<Request> {
    let c = check(message, Some(item_class), max_message_bytes)?;
    let (message_id, conversation_id) = (named_property_id(PROPERTY_MESSAGE_ID), named_property_id(PROPERTY_CONVERSATION_ID));
    let html = html_body(&message.text);
    let body = SendMail {
        message: Message {
            subject: &c.subject,
            body: ItemBody { content_type: "HTML", content: &html },
            to_recipients: [Recipient { email_address: EmailAddress { address: &c.to, name: c.to_name.filter(|n| !n.is_empty()) } }],
            single_value_extended_properties: [
                Property { id: PR_MESSAGE_CLASS, value: &c.class },
                Property { id: &message_id, value: &message.id },
                Property { id: &conversation_id, value: c.conversation_id },
            ],
        },
        save_to_sent_items: false,
    };
    Ok(json_request("POST", [user_path, "/sendMail"].concat(), &body))
}

/// A request with a JSON body (`Content-Type: application/json`).
pub(crate) fn json_request(method: &'static str, path: String, body: &impl Serialize) -> Request {
    // Serializing these structs (strings, bools, arrays) cannot fail.
    let body = serde_json::to_string(body).unwrap_or_default();
    Request { method, path, headers: vec![("Content-Type", "application/json".into())], body: Some(body) }
}
