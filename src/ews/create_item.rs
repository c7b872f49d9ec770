//! The `CreateItem` request that delivers one offline message into the recipient's mailbox.
//!
//! Shape (EWS "CreateItem operation (email message)"): `m:CreateItem
//! MessageDisposition="SendOnly"` — the seed says offline messages are not archived in the
//! sender's mailbox, and SendOnly leaves no copy and no draft behind (the seed's Drafts-folder
//! bug) — holding one `t:Message` with, in schema order: `ItemClass`, `Subject`, `Body
//! BodyType="HTML"`, two `ExtendedProperty` (message id, conversation id), `ToRecipients`.

use super::soap::{element, envelope, text_element, Header, Nest, XmlWriter};
use super::text::{html_body, xml_safe};
use super::{PROPERTY_CONVERSATION_ID, PROPERTY_MESSAGE_ID, PROPERTY_SET_ID};
use crate::address;
use crate::error::Result;
use crate::message;
pub use crate::message::{MailboxAddress, OfflineMessage, DEFAULT_MAX_MESSAGE_BYTES, MAX_ID_BYTES, MAX_NAME_CHARS};
use quick_xml::events::BytesText;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::io;

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

/// Writes one named String extended property.
pub fn extended_property(w: &mut XmlWriter, name: &str, value: &str) -> io::Result<()> {
    w.create_element("t:ExtendedProperty").nest(&mut |w| {
        element(w, "t:ExtendedFieldURI", &[("PropertySetId", PROPERTY_SET_ID), ("PropertyName", name), ("PropertyType", "String")])
            .write_empty()?;
        text_element(w, "t:Value", value)
    })?;
    Ok(())
}

/// Writes `t:Mailbox` with `t:Name` (if any) and `t:EmailAddress`.
pub fn mailbox(w: &mut XmlWriter, name: Option<&str>, email: &str) -> io::Result<()> {
    w.create_element("t:Mailbox").nest(&mut |w| {
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            text_element(w, "t:Name", n)?;
        }
        text_element(w, "t:EmailAddress", email)
    })?;
    Ok(())
}

/// Checks everything [`build_offline_message_envelope`] checks, without writing the XML: the
/// spool calls it before accepting a message, so bad input is rejected up front and an accepted
/// message always has an envelope. Errors as for [`build_offline_message_envelope`].
pub fn validate_offline_message(message: &OfflineMessage, options: &EnvelopeOptions) -> Result<()> {
    message::check(message, options.item_class.as_deref(), options.max_message_bytes)?;
    options.impersonate.as_deref().map(|a| address::validate("impersonate", a)).transpose()?;
    super::soap::server_version(options.server_version.as_deref()).map(drop)
}

/// Builds the `CreateItem` SendOnly envelope for `message`. Errors: [`Error::InvalidInput`]
/// (empty or oversized ids, names, subject, bad item class or server version),
/// [`Error::InvalidAddress`] (recipient or impersonated address), [`Error::MessageTooLarge`].
pub fn build_offline_message_envelope(message: &OfflineMessage, options: &EnvelopeOptions) -> Result<Envelope> {
    build_batch_envelope(&[(message, options.item_class.as_deref())], options)
}

/// Most messages in one batched `CreateItem` ([`build_batch_envelope`]).
pub const MAX_BATCH_ITEMS: usize = 100;

/// One `CreateItem` SendOnly holding a `t:Message` per entry, in order, each with its own item
/// class (`None`: `options.item_class`). Exchange answers each with its own
/// `CreateItemResponseMessage`, in request order, and a failure affects only its item ("Process
/// email messages in batches by using EWS in Exchange"; items are processed one at a time, and
/// an error likely to repeat stops the rest with `ErrorBatchProcessingStopped`, ResponseCode
/// reference). Errors: as for [`build_offline_message_envelope`] (naming no item: each message
/// was checked when it was accepted), and [`Error::InvalidInput`] (`items`) for 0 or more than
/// [`MAX_BATCH_ITEMS`] messages.
pub fn build_batch_envelope(messages: &[(&OfflineMessage, Option<&str>)], options: &EnvelopeOptions) -> Result<Envelope> {
    if messages.is_empty() || messages.len() > MAX_BATCH_ITEMS {
        return Err(crate::error::Error::InvalidInput { field: "items", reason: format!("{} messages; 1 to {MAX_BATCH_ITEMS} per CreateItem", messages.len()) });
    }
    let mut replaced = 0u32;
    let mut items = Vec::with_capacity(messages.len());
    for (m, class) in messages {
        let message::Checked { conversation_id, to, to_name, class, subject } = message::check(m, class.or(options.item_class.as_deref()), options.max_message_bytes)?;
        items.push(SafeMessage {
            class,
            subject: xml_safe(&subject, &mut replaced).into_owned(),
            body: html_body(&xml_safe(&m.text, &mut replaced)),
            id: xml_safe(&m.id, &mut replaced),
            conversation_id: xml_safe(conversation_id, &mut replaced),
            to,
            to_name: to_name.map(|n| xml_safe(n, &mut replaced)),
        });
    }
    let impersonate = options.impersonate.as_deref().map(|a| address::validate("impersonate", a)).transpose()?;
    super::soap::server_version(options.server_version.as_deref())?;
    let header = Header { server_version: options.server_version.as_deref(), impersonate: impersonate.as_deref() };
    let xml = envelope(&header, &mut |w| {
        element(w, "m:CreateItem", &[("MessageDisposition", "SendOnly")]).nest(&mut |w| {
            w.create_element("m:Items").nest(&mut |w| items.iter().try_for_each(|m| write_message(w, m)))?;
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

/// A checked message with every text made XML-safe.
struct SafeMessage<'a> {
    class: String,
    subject: String,
    body: String,
    id: Cow<'a, str>,
    conversation_id: Cow<'a, str>,
    to: String,
    to_name: Option<Cow<'a, str>>,
}

/// `t:Message` in schema order: `ItemClass`, `Subject`, `Body BodyType="HTML"`, the two
/// extended properties (message id, conversation id), `ToRecipients`.
fn write_message(w: &mut XmlWriter, m: &SafeMessage) -> io::Result<()> {
    w.create_element("t:Message").nest(&mut |w| {
        text_element(w, "t:ItemClass", &m.class)?;
        text_element(w, "t:Subject", &m.subject)?;
        element(w, "t:Body", &[("BodyType", "HTML")]).write_text_content(BytesText::new(&m.body))?;
        extended_property(w, PROPERTY_MESSAGE_ID, &m.id)?;
        extended_property(w, PROPERTY_CONVERSATION_ID, &m.conversation_id)?;
        w.create_element("t:ToRecipients").nest(&mut |w| mailbox(w, m.to_name.as_deref(), &m.to))?;
        Ok(())
    })?;
    Ok(())
}
