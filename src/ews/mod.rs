//! Exchange Web Services: request envelopes written with quick-xml's writer (escaping by
//! construction) and replies parsed by namespace URI. Pure: no I/O.
//!
//! Reference: "CreateItem operation (email message)", "EWS XML elements in Exchange" and
//! "ResponseCode" on learn.microsoft.com (Exchange Server, EWS reference); schema in
//! `shared/ews-schema/`.

pub mod create_item;
/// `xs:dateTime` conversions live in the crate root (Graph uses them too); kept at this path.
pub use crate::datetime;
pub mod items;
pub mod mailbox;
pub mod recipient;
pub mod response;
pub mod soap;
pub mod text;

pub use create_item::{build_batch_envelope, build_offline_message_envelope, validate_offline_message, Envelope, EnvelopeOptions, MailboxAddress, OfflineMessage};
pub use mailbox::{EwsMailbox, DEFAULT_EWS_BATCH_SIZE};
pub use response::{parse_ews_batch_response, parse_ews_response, EwsOutcome};

/// SOAP 1.1 envelope namespace.
pub const NS_SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// EWS types namespace (prefix `t`).
pub const NS_TYPES: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
/// EWS messages namespace (prefix `m`).
pub const NS_MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
/// EWS errors namespace, used in SOAP fault details (prefix `e`).
pub const NS_ERRORS: &str = "http://schemas.microsoft.com/exchange/services/2006/errors";

pub use crate::message::{PROPERTY_CONVERSATION_ID, PROPERTY_MESSAGE_ID, PROPERTY_SET_ID};

/// Appends the text an XML reference in a reply stands for: a character reference, or one of
/// XML's five predefined entities. Any other entity (a reply declares none; XML 1.0 §4.6) adds
/// nothing.
pub(crate) fn push_reference(text: &mut String, r: &quick_xml::events::BytesRef) {
    match r.resolve_char_ref() {
        Ok(Some(c)) => text.push(c),
        _ => text.push_str(match r.xml10_content().as_ref() {
            "lt" => "<",
            "gt" => ">",
            "amp" => "&",
            "apos" => "'",
            "quot" => "\"",
            _ => "",
        }),
    }
}
