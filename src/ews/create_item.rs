//! The `CreateItem` request that delivers one offline message into the recipient's mailbox.
//!
//! Shape (EWS "CreateItem operation (email message)"): `m:CreateItem
//! MessageDisposition="SendOnly"` — the seed says offline messages are not archived in the
//! sender's mailbox, and SendOnly leaves no copy and no draft behind (the seed's Drafts-folder
//! bug) — holding one `t:Message` with, in schema order: `ItemClass`, `Subject`, `Body
//! BodyType="HTML"`, two `ExtendedProperty` (message id, conversation id), `ToRecipients`.

use super::soap::{element, envelope, text_element, Header, XmlWriter};
use super::text::{html_body, subject_from, xml_safe};
use super::{PROPERTY_CONVERSATION_ID, PROPERTY_MESSAGE_ID, PROPERTY_SET_ID};
use crate::address;
use crate::error::{shown, Error, Result};
use crate::item_class;
use quick_xml::events::BytesText;
use serde::{Deserialize, Serialize};
use std::io;

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

/// How to build the envelope.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvelopeOptions {
    /// `ItemClass`, normally `PolicyDecision.itemClass`; default `IPM.Note.Microsoft.Missed`
    /// (the seed's `IM.Note.MissedConversation` is accepted as an alias).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_class: Option<String>,
    /// `RequestServerVersion`; default `Exchange2013`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// Service-account deployments: the sender's primary SMTP address for `ExchangeImpersonation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonate: Option<String>,
    /// Limit on `text` in UTF-8 bytes; default 65536.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_message_bytes: Option<usize>,
}

/// A request ready to POST to `/EWS/Exchange.asmx` with `Content-Type: text/xml; charset=utf-8`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// The SOAP document (UTF-8).
    pub xml: String,
    /// Value for the `SOAPAction` header.
    pub soap_action: String,
    /// How many characters XML 1.0 cannot carry were replaced with U+FFFD (all fields together).
    pub replaced_characters: u32,
    /// Value for the `X-AnchorMailbox` header: the impersonated mailbox's SMTP address, present
    /// only when the request impersonates. Microsoft: "When using impersonation you must always
    /// use the X-AnchorMailbox request header, which should be set to the SMTP address of the
    /// impersonated mailbox" ("Authenticate an EWS application by using OAuth").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor_mailbox: Option<String>,
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

/// Writes one named String extended property.
pub fn extended_property(w: &mut XmlWriter, name: &str, value: &str) -> io::Result<()> {
    w.create_element("t:ExtendedProperty").write_inner_content(|w| {
        element(w, "t:ExtendedFieldURI", &[("PropertySetId", PROPERTY_SET_ID), ("PropertyName", name), ("PropertyType", "String")])
            .write_empty()?;
        text_element(w, "t:Value", value)
    })?;
    Ok(())
}

/// Writes `t:Mailbox` with `t:Name` (if any) and `t:EmailAddress`.
pub fn mailbox(w: &mut XmlWriter, name: Option<&str>, email: &str) -> io::Result<()> {
    w.create_element("t:Mailbox").write_inner_content(|w| {
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            text_element(w, "t:Name", n)?;
        }
        text_element(w, "t:EmailAddress", email)
    })?;
    Ok(())
}

/// What the checks of [`validate_offline_message`] computed, for the writer.
struct Checked<'a> {
    conversation_id: &'a str,
    to: String,
    to_name: Option<&'a str>,
    class: String,
    impersonate: Option<String>,
    subject: String,
}

fn check<'a>(message: &'a OfflineMessage, options: &EnvelopeOptions) -> Result<Checked<'a>> {
    let limit = options.max_message_bytes.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES);
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
    let class = item_class::normalize(options.item_class.as_deref().unwrap_or(item_class::MISSED_CONVERSATION));
    check_item_class(&class)?;
    let impersonate = options.impersonate.as_deref().map(|a| address::validate("impersonate", a)).transpose()?;
    super::soap::server_version(options.server_version.as_deref())?;
    let subject = match message.subject.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => {
            check_name("subject", s)?;
            s.to_string()
        }
        _ => subject_from(&message.text, MAX_NAME_CHARS, "Missed conversation"),
    };
    Ok(Checked { conversation_id, to, to_name, class, impersonate, subject })
}

/// Checks everything [`build_offline_message_envelope`] checks, without writing the XML: the
/// spool calls it before accepting a message, so bad input is rejected up front and an accepted
/// message always has an envelope. Errors as for [`build_offline_message_envelope`].
pub fn validate_offline_message(message: &OfflineMessage, options: &EnvelopeOptions) -> Result<()> {
    check(message, options).map(drop)
}

/// Builds the `CreateItem` SendOnly envelope for `message`. Errors: [`Error::InvalidInput`]
/// (empty or oversized ids, names, subject, bad item class or server version),
/// [`Error::InvalidAddress`] (recipient or impersonated address), [`Error::MessageTooLarge`].
pub fn build_offline_message_envelope(message: &OfflineMessage, options: &EnvelopeOptions) -> Result<Envelope> {
    let Checked { conversation_id, to, to_name, class, impersonate, subject } = check(message, options)?;
    let mut replaced = 0u32;
    let subject = xml_safe(&subject, &mut replaced);
    let body = html_body(&xml_safe(&message.text, &mut replaced));
    let id = xml_safe(&message.id, &mut replaced);
    let conversation_id = xml_safe(conversation_id, &mut replaced);
    let to_name = to_name.map(|n| xml_safe(n, &mut replaced));

    let header = Header { server_version: options.server_version.as_deref(), impersonate: impersonate.as_deref() };
    let xml = envelope(&header, |w| {
        element(w, "m:CreateItem", &[("MessageDisposition", "SendOnly")]).write_inner_content(|w| {
            w.create_element("m:Items").write_inner_content(|w| {
                w.create_element("t:Message").write_inner_content(|w| {
                    text_element(w, "t:ItemClass", &class)?;
                    text_element(w, "t:Subject", &subject)?;
                    element(w, "t:Body", &[("BodyType", "HTML")]).write_text_content(BytesText::new(&body))?;
                    extended_property(w, PROPERTY_MESSAGE_ID, &id)?;
                    extended_property(w, PROPERTY_CONVERSATION_ID, &conversation_id)?;
                    w.create_element("t:ToRecipients").write_inner_content(|w| mailbox(w, to_name.as_deref(), &to))?;
                    Ok(())
                })?;
                Ok(())
            })?;
            Ok(())
        })?;
        Ok(())
    })?;
    Ok(Envelope {
        xml,
        soap_action: "http://schemas.microsoft.com/exchange/services/2006/messages/CreateItem".into(),
        replaced_characters: replaced,
        anchor_mailbox: impersonate,
    })
}
