//! Requests of the recipient side: FindItem for unread missed conversations, GetItem for their
//! bodies, UpdateItem to mark them read, and CreateItem SaveOnly to record a missed message in
//! the user's own mailbox (Do Not Disturb / Presenting, seed "Turn on or off Offline Messages for
//! admins"). EWS reference: "FindItem operation", "GetItem operation (email message)",
//! "UpdateItem operation", "CreateItem operation (email message)".

use super::create_item::{extended_property, mailbox, Envelope};
use super::datetime::to_iso;
use super::soap::{element, envelope, text_element, Header, Nest, XmlWriter};
use super::text::{html_body, subject_from, xml_safe};
use super::{PROPERTY_CONVERSATION_ID, PROPERTY_MESSAGE_ID, PROPERTY_SET_ID};
pub use crate::message::MissedInput;
use crate::error::{shown, Error, Result};
use crate::item_class::{MISSED_CONVERSATION, SEED_MISSED_CONVERSATION};
use std::io;

const ACTION: &str = "http://schemas.microsoft.com/exchange/services/2006/messages/";
/// Folders searched for missed conversations (distinguished folder ids).
pub const MISSED_FOLDERS: [&str; 2] = ["inbox", "conversationhistory"];
/// Most items asked for in one FindItem page or one GetItem / UpdateItem batch.
pub const PAGE_SIZE: usize = 100;

fn done(xml: String, op: &str, replaced: u32, header: &Header) -> Envelope {
    Envelope { xml, soap_action: [ACTION, op].concat(), replaced_characters: replaced, anchor_mailbox: header.impersonate.map(str::to_string) }
}

fn uri(w: &mut XmlWriter, field: &str) -> io::Result<()> {
    element(w, "t:FieldURI", &[("FieldURI", field)]).write_empty()?;
    Ok(())
}

fn named(w: &mut XmlWriter, name: &str) -> io::Result<()> {
    element(w, "t:ExtendedFieldURI", &[("PropertySetId", PROPERTY_SET_ID), ("PropertyName", name), ("PropertyType", "String")]).write_empty()?;
    Ok(())
}

fn is_equal_to(w: &mut XmlWriter, field: &str, value: &str) -> io::Result<()> {
    w.create_element("t:IsEqualTo").nest(&mut |w| {
        uri(w, field)?;
        w.create_element("t:FieldURIOrConstant").nest(&mut |w| {
            element(w, "t:Constant", &[("Value", value)]).write_empty()?;
            Ok(())
        })?;
        Ok(())
    })?;
    Ok(())
}

fn shape(w: &mut XmlWriter, with_body: bool) -> io::Result<()> {
    w.create_element("m:ItemShape").nest(&mut |w| {
        text_element(w, "t:BaseShape", "IdOnly")?;
        if with_body {
            // Exchange converts the HTML body to text itself (BodyType reference: "Text"); the
            // HTML fallback in `missed::html_to_text` covers a server that sends HTML anyway.
            text_element(w, "t:BodyType", "Text")?;
        }
        w.create_element("t:AdditionalProperties").nest(&mut |w| {
            for f in ["item:ItemClass", "item:Subject", "item:DateTimeReceived", "message:From", "message:IsRead"] {
                uri(w, f)?;
            }
            if with_body {
                uri(w, "item:Body")?;
            }
            named(w, PROPERTY_MESSAGE_ID)?;
            named(w, PROPERTY_CONVERSATION_ID)
        })?;
        Ok(())
    })?;
    Ok(())
}

/// FindItem in one folder (`inbox` or `conversationhistory`) for unread items of class
/// `IPM.Note.Microsoft.Missed` or the seed's `IM.Note.MissedConversation`, newest first,
/// `PAGE_SIZE` from `offset`.
pub fn find_missed_envelope(folder: &str, offset: usize, header: &Header) -> Result<Envelope> {
    if !MISSED_FOLDERS.contains(&folder) {
        return Err(Error::InvalidInput { field: "folder", reason: format!("{} is not inbox or conversationhistory", shown(folder)) });
    }
    let xml = envelope(header, &mut |w| {
        element(w, "m:FindItem", &[("Traversal", "Shallow")]).nest(&mut |w| {
            shape(w, false)?;
            element(w, "m:IndexedPageItemView", &[("MaxEntriesReturned", PAGE_SIZE.to_string().as_str()), ("Offset", offset.to_string().as_str()), ("BasePoint", "Beginning")])
                .write_empty()?;
            w.create_element("m:Restriction").nest(&mut |w| {
                w.create_element("t:And").nest(&mut |w| {
                    w.create_element("t:Or").nest(&mut |w| {
                        is_equal_to(w, "item:ItemClass", MISSED_CONVERSATION)?;
                        is_equal_to(w, "item:ItemClass", SEED_MISSED_CONVERSATION)
                    })?;
                    is_equal_to(w, "message:IsRead", "false")
                })?;
                Ok(())
            })?;
            w.create_element("m:SortOrder").nest(&mut |w| {
                element(w, "t:FieldOrder", &[("Order", "Descending")]).nest(&mut |w| uri(w, "item:DateTimeReceived"))?;
                Ok(())
            })?;
            w.create_element("m:ParentFolderIds").nest(&mut |w| {
                element(w, "t:DistinguishedFolderId", &[("Id", folder)]).write_empty()?;
                Ok(())
            })?;
            Ok(())
        })?;
        Ok(())
    })?;
    Ok(done(xml, "FindItem", 0, header))
}

fn check_ids(ids: &[String]) -> Result<()> {
    if ids.is_empty() || ids.len() > PAGE_SIZE {
        return Err(Error::InvalidInput { field: "ids", reason: format!("{} item ids; 1 to {PAGE_SIZE} per request", ids.len()) });
    }
    if let Some(bad) = ids.iter().find(|i| i.is_empty() || i.len() > 512 || i.chars().any(char::is_control)) {
        return Err(Error::InvalidInput { field: "ids", reason: format!("{} is not an EWS item id", shown(bad)) });
    }
    Ok(())
}

fn item_ids(w: &mut XmlWriter, ids: &[String]) -> io::Result<()> {
    w.create_element("m:ItemIds").nest(&mut |w| {
        for id in ids {
            element(w, "t:ItemId", &[("Id", id.as_str())]).write_empty()?;
        }
        Ok(())
    })?;
    Ok(())
}

/// GetItem with bodies and our extended properties for up to `PAGE_SIZE` item ids.
pub fn get_items_envelope(ids: &[String], header: &Header) -> Result<Envelope> {
    check_ids(ids)?;
    let xml = envelope(header, &mut |w| {
        w.create_element("m:GetItem").nest(&mut |w| {
            shape(w, true)?;
            item_ids(w, ids)
        })?;
        Ok(())
    })?;
    Ok(done(xml, "GetItem", 0, header))
}

/// UpdateItem setting `message:IsRead` to true on up to `PAGE_SIZE` items (SaveOnly, AlwaysOverwrite).
pub fn mark_read_envelope(ids: &[String], header: &Header) -> Result<Envelope> {
    check_ids(ids)?;
    let xml = envelope(header, &mut |w| {
        element(w, "m:UpdateItem", &[("MessageDisposition", "SaveOnly"), ("ConflictResolution", "AlwaysOverwrite")]).nest(&mut |w| {
            w.create_element("m:ItemChanges").nest(&mut |w| {
                for id in ids {
                    w.create_element("t:ItemChange").nest(&mut |w| {
                        element(w, "t:ItemId", &[("Id", id.as_str())]).write_empty()?;
                        w.create_element("t:Updates").nest(&mut |w| {
                            w.create_element("t:SetItemField").nest(&mut |w| {
                                uri(w, "message:IsRead")?;
                                w.create_element("t:Message").nest(&mut |w| text_element(w, "t:IsRead", "true"))?;
                                Ok(())
                            })?;
                            Ok(())
                        })?;
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
        Ok(())
    })?;
    Ok(done(xml, "UpdateItem", 0, header))
}

/// CreateItem `SaveOnly` into the user's `conversationhistory`: class
/// `IPM.Note.Microsoft.Missed`, `From` the original sender, `PR_MESSAGE_FLAGS` (0x0E07) = 0
/// (unread, not unsent: not a draft), `PR_MESSAGE_DELIVERY_TIME` (0x0E06) = `received_at`. No mail
/// is sent and nothing lands in Drafts.
pub fn record_missed_envelope(m: &MissedInput, header: &Header) -> Result<Envelope> {
    let from = m.check()?;
    let mut replaced = 0;
    let from_name = m.from.display_name.as_deref().map(|n| xml_safe(n, &mut replaced));
    let subject = subject_from(&m.text, 255, "Missed conversation");
    let subject = xml_safe(&subject, &mut replaced);
    let body = html_body(&xml_safe(&m.text, &mut replaced));
    let id = xml_safe(&m.id, &mut replaced);
    let conversation = xml_safe(&m.conversation_id, &mut replaced);
    let xml = envelope(header, &mut |w| {
        element(w, "m:CreateItem", &[("MessageDisposition", "SaveOnly")]).nest(&mut |w| {
            w.create_element("m:SavedItemFolderId").nest(&mut |w| {
                element(w, "t:DistinguishedFolderId", &[("Id", "conversationhistory")]).write_empty()?;
                Ok(())
            })?;
            w.create_element("m:Items").nest(&mut |w| {
                w.create_element("t:Message").nest(&mut |w| {
                    text_element(w, "t:ItemClass", MISSED_CONVERSATION)?;
                    text_element(w, "t:Subject", &subject)?;
                    element(w, "t:Body", &[("BodyType", "HTML")]).write_text_content(quick_xml::events::BytesText::new(&body))?;
                    extended_property(w, PROPERTY_MESSAGE_ID, &id)?;
                    extended_property(w, PROPERTY_CONVERSATION_ID, &conversation)?;
                    for (tag, kind, value) in [("0x0E07", "Integer", "0".to_string()), ("0x0E06", "SystemTime", to_iso(m.received_at))] {
                        w.create_element("t:ExtendedProperty").nest(&mut |w| {
                            element(w, "t:ExtendedFieldURI", &[("PropertyTag", tag), ("PropertyType", kind)]).write_empty()?;
                            text_element(w, "t:Value", &value)
                        })?;
                    }
                    w.create_element("t:From").nest(&mut |w| mailbox(w, from_name.as_deref(), &from))?;
                    text_element(w, "t:IsRead", "false")
                })?;
                Ok(())
            })?;
            Ok(())
        })?;
        Ok(())
    })?;
    Ok(done(xml, "CreateItem", replaced, header))
}
