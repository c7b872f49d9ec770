//! The EWS operations over the in-memory mailboxes. Replies are shaped like Exchange's
//! (ResponseMessages / *ResponseMessage ResponseClass / ResponseCode) and written with quick-xml.

use crate::dom::{El, M, SOAP, T};
use crate::shape::{item_id, property_tag, write_item, Shape};
use crate::folders::{resolve, resolve_under};
use crate::faults::{FaultSpec, Kind};
use crate::state::{org_of, Addr, Ext, Item, State, User};
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use std::io;

pub type W = Writer<Vec<u8>>;
type R = io::Result<()>;

/// The Skype missed-conversation class and the seed's alias of it.
const MISSED: &str = "IPM.Note.Microsoft.Missed";
const SEED_MISSED: &str = "IM.Note.MissedConversation";

fn text(w: &mut W, name: &str, value: &str) -> R {
    w.create_element(name).write_text_content(BytesText::new(value))?;
    Ok(())
}

/// A whole SOAP reply around `body`.
pub fn envelope(body: impl FnOnce(&mut W) -> R) -> String {
    let mut w = Writer::new(Vec::new());
    let r: R = (|| {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        w.create_element("s:Envelope").with_attribute(("xmlns:s", SOAP)).write_inner_content(|w| {
            w.create_element("s:Header").write_inner_content(|w| {
                w.create_element("h:ServerVersionInfo")
                    .with_attributes([("xmlns:h", T), ("MajorVersion", "15"), ("MinorVersion", "2"), ("MajorBuildNumber", "1544"), ("MinorBuildNumber", "4"), ("Version", "V2017_07_11")])
                    .write_empty()?;
                Ok(())
            })?;
            w.create_element("s:Body").write_inner_content(body)?;
            Ok(())
        })?;
        Ok(())
    })();
    r.map(|_| String::from_utf8_lossy(&w.into_inner()).into_owned()).unwrap_or_default()
}

/// A SOAP fault as Exchange sends it (HTTP 500), optionally with BackOffMilliseconds.
pub fn fault(code: &str, message: &str, back_off_ms: Option<u64>) -> String {
    envelope(|w| {
        w.create_element("s:Fault").write_inner_content(|w| {
            w.create_element("faultcode").with_attribute(("xmlns:a", T)).write_text_content(BytesText::new(&["a:", code].concat()))?;
            w.create_element("faultstring").with_attribute(("xml:lang", "en-US")).write_text_content(BytesText::new(message))?;
            w.create_element("detail").write_inner_content(|w| {
                let e = "http://schemas.microsoft.com/exchange/services/2006/errors";
                w.create_element("e:ResponseCode").with_attribute(("xmlns:e", e)).write_text_content(BytesText::new(code))?;
                w.create_element("e:Message").with_attribute(("xmlns:e", e)).write_text_content(BytesText::new(message))?;
                if let Some(ms) = back_off_ms {
                    w.create_element("t:MessageXml").with_attribute(("xmlns:t", T)).write_inner_content(|w| {
                        w.create_element("t:Value").with_attribute(("Name", "BackOffMilliseconds")).write_text_content(BytesText::new(&ms.to_string()))?;
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
        Ok(())
    })
}

/// One response message of an operation.
pub(crate) enum Msg {
    Ok(Box<dyn FnOnce(&mut W) -> R>),
    Err(&'static str, String),
    /// ResponseClass Warning: a code and text, and content all the same (ResolveNames with
    /// several matches).
    Warn(&'static str, String, Box<dyn FnOnce(&mut W) -> R>),
    /// ResponseClass Error with `MessageXml` BackOffMilliseconds (ErrorServerBusy, "EWS
    /// throttling in Exchange").
    Busy(&'static str, String, u64),
}

pub(crate) fn respond(op: &str, messages: Vec<Msg>) -> String {
    let response = format!("m:{op}Response");
    let message = format!("m:{op}ResponseMessage");
    envelope(|w| {
        w.create_element(response.as_str()).with_attributes([("xmlns:m", M), ("xmlns:t", T)]).write_inner_content(|w| {
            w.create_element("m:ResponseMessages").write_inner_content(|w| {
                for m in messages {
                    match m {
                        Msg::Ok(content) => {
                            w.create_element(message.as_str()).with_attribute(("ResponseClass", "Success")).write_inner_content(|w| {
                                text(w, "m:ResponseCode", "NoError")?;
                                content(w)
                            })?;
                        }
                        Msg::Warn(code, text_, content) => {
                            w.create_element(message.as_str()).with_attribute(("ResponseClass", "Warning")).write_inner_content(|w| {
                                text(w, "m:MessageText", &text_)?;
                                text(w, "m:ResponseCode", code)?;
                                text(w, "m:DescriptiveLinkKey", "0")?;
                                content(w)
                            })?;
                        }
                        Msg::Busy(code, text_, ms) => {
                            w.create_element(message.as_str()).with_attribute(("ResponseClass", "Error")).write_inner_content(|w| {
                                text(w, "m:MessageText", &text_)?;
                                text(w, "m:ResponseCode", code)?;
                                text(w, "m:DescriptiveLinkKey", "0")?;
                                w.create_element("m:MessageXml").write_inner_content(|w| {
                                    w.create_element("t:Value").with_attribute(("Name", "BackOffMilliseconds")).write_text_content(BytesText::new(&ms.to_string()))?;
                                    Ok(())
                                })?;
                                w.create_element("m:Items").write_empty()?;
                                Ok(())
                            })?;
                        }
                        Msg::Err(code, text_) => {
                            w.create_element(message.as_str()).with_attribute(("ResponseClass", "Error")).write_inner_content(|w| {
                                text(w, "m:MessageText", &text_)?;
                                text(w, "m:ResponseCode", code)?;
                                text(w, "m:DescriptiveLinkKey", "0")?;
                                // Item operations answer an error with an empty Items, as the schema requires.
                                if ["CreateItem", "GetItem", "UpdateItem"].contains(&op) {
                                    w.create_element("m:Items").write_empty()?;
                                }
                                Ok(())
                            })?;
                        }
                    }
                }
                Ok(())
            })?;
            Ok(())
        })?;
        Ok(())
    })
}

fn addr(el: &El) -> Option<Addr> {
    let m = el.child(T, "Mailbox")?;
    Some(Addr { name: m.text_of(T, "Name").unwrap_or_default().to_string(), email: m.text_of(T, "EmailAddress")?.trim().to_string() })
}

/// The operation in the body, run for `user`; `item_fault` rolls a per-item fault for each
/// message of a CreateItem (`faults::Kind::per_item`). Returns (HTTP status, reply body).
pub fn dispatch(state: &mut State, user: &User, body: &El, item_fault: &mut dyn FnMut() -> Option<FaultSpec>) -> (u16, String) {
    let Some(op) = body.children.first().filter(|c| c.ns == M) else {
        return (500, fault("ErrorSchemaValidation", "The request failed schema validation: the SOAP body holds no EWS operation.", None));
    };
    match op.name.as_str() {
        "CreateItem" => create_item(state, user, op, item_fault),
        "FindItem" => (200, find_item(state, user, op)),
        "GetItem" => (200, get_item(state, user, op)),
        "GetFolder" => (200, crate::folders::get_folder(state, user, op)),
        "ConvertId" => (200, convert_id(op)),
        "ResolveNames" => (200, resolve_names(state, op)),
        "UpdateItem" => (200, update_item(state, user, op)),
        "DeleteItem" => (200, delete_item(state, user, op)),
        other => (500, fault("ErrorInvalidRequest", &format!("The operation {other} is not supported by this test server."), None)),
    }
}

/// ResolveNames ("ResolveNames operation"): ambiguous name resolution over the directory (the
/// test users): an `smtp:` or `sip:` address matches exactly; otherwise an address or display
/// name matches by prefix, word by word, case-insensitively. One match is Success; several are
/// a Warning `ErrorNameResolutionMultipleResults` listing them (up to 100); none is
/// `ErrorNameResolutionNoResults`. Contacts are not modelled (no `Contact` element).
fn resolve_names(state: &State, op: &El) -> String {
    let entry = op.text_of(M, "UnresolvedEntry").unwrap_or("").trim().to_lowercase();
    let exact = entry.strip_prefix("smtp:").or_else(|| entry.strip_prefix("sip:"));
    let hits: Vec<Addr> = state
        .users
        .iter()
        .filter(|u| match exact {
            Some(address) => u.email.eq_ignore_ascii_case(address),
            None => !entry.is_empty() && (u.email.to_lowercase().starts_with(&entry) || u.name.to_lowercase().split_whitespace().any(|w| w.starts_with(&entry)) || u.name.to_lowercase().starts_with(&entry)),
        })
        .take(100)
        .map(|u| Addr { name: u.name.clone(), email: u.email.clone() })
        .collect();
    let found = hits.len();
    let set = move |w: &mut W| -> R {
        let n = hits.len().to_string();
        w.create_element("m:ResolutionSet").with_attributes([("TotalItemsInView", n.as_str()), ("IncludesLastItemInRange", "true")]).write_inner_content(|w| {
            for a in &hits {
                w.create_element("t:Resolution").write_inner_content(|w| crate::shape::mailbox(w, a))?;
            }
            Ok(())
        })?;
        Ok(())
    };
    let message = match found {
        0 => Msg::Err("ErrorNameResolutionNoResults", "No results were found.".into()),
        1 => Msg::Ok(Box::new(set)),
        _ => Msg::Warn("ErrorNameResolutionMultipleResults", "Multiple results were found.".into(), Box::new(set)),
    };
    respond("ResolveNames", vec![message])
}

/// ConvertId: exchangelib probes the server's API version with a ConvertId of the id "DUMMY"
/// and takes any ordinary reply as "this version works"; Exchange answers an id it cannot read
/// with a per-id `ErrorInvalidIdMalformed` (HTTP 200), not a fault. Converting real ids between
/// formats is not modelled: each is refused per id, never faked.
fn convert_id(op: &El) -> String {
    let messages = op
        .child(M, "SourceIds")
        .map(|s| s.children.iter().filter(|c| c.ns == T).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|id| match id.attr("Id") {
            Some(i) if i.starts_with("AAMkAGI2-") || i.starts_with("AQMkF-") => Msg::Err("ErrorInvalidRequest", "Converting ids between formats is not supported by this test server.".into()),
            _ => Msg::Err("ErrorInvalidIdMalformed", "Id is malformed.".into()),
        })
        .collect();
    respond("ConvertId", messages)
}

fn create_item(state: &mut State, user: &User, op: &El, item_fault: &mut dyn FnMut() -> Option<FaultSpec>) -> (u16, String) {
    let disposition = op.attr("MessageDisposition").unwrap_or("");
    if !["SaveOnly", "SendOnly", "SendAndSaveCopy"].contains(&disposition) {
        return (500, fault("ErrorSchemaValidation", "The request failed schema validation: MessageDisposition is required for messages.", None));
    }
    let Some(items) = op.child(M, "Items") else {
        return (500, fault("ErrorSchemaValidation", "The request failed schema validation: Items is missing.", None));
    };
    let mut messages = Vec::new();
    // Set once an item failed with an error that stops the batch (ResponseCode reference,
    // ErrorBatchProcessingStopped): the items after it are not processed.
    let mut stopped = false;
    for m in items.children(T, "Message") {
        if stopped {
            messages.push(Msg::Warn("ErrorBatchProcessingStopped", "Batch processing stopped because an earlier item failed with an error that would recur.".into(), Box::new(|w: &mut W| {
                w.create_element("m:Items").write_empty()?;
                Ok(())
            })));
            continue;
        }
        match item_fault().map(|f| (f.kind, f.back_off_ms)) {
            Some((Kind::ItemServerBusy, back_off)) => {
                messages.push(Msg::Busy("ErrorServerBusy", "The server cannot service this request right now. Try again later.".into(), back_off.unwrap_or(1_000)));
                continue;
            }
            Some((Kind::ItemStoreUnavailable, _)) => {
                messages.push(Msg::Err("ErrorMailboxStoreUnavailable", "The mailbox database is temporarily unavailable.".into()));
                stopped = true;
                continue;
            }
            Some((Kind::ItemTooLarge, _)) => {
                messages.push(Msg::Err("ErrorMessageSizeExceeded", "The message exceeds the maximum supported size.".into()));
                continue;
            }
            _ => {}
        }
        let mut extended = Vec::new();
        for e in m.children(T, "ExtendedProperty") {
            let Some(uri) = e.child(T, "ExtendedFieldURI") else { continue };
            extended.push(Ext {
                property_set_id: uri.attr("PropertySetId").map(str::to_string),
                property_name: uri.attr("PropertyName").map(str::to_string),
                property_tag: uri.attr("PropertyTag").map(str::to_string),
                property_type: uri.attr("PropertyType").unwrap_or("String").to_string(),
                value: e.text_of(T, "Value").unwrap_or_default().to_string(),
            });
        }
        let flags = extended.iter().find(|e| e.property_tag.as_deref().and_then(property_tag) == Some(0x0E07)).and_then(|e| e.value.parse::<i64>().ok());
        let to: Vec<Addr> = m.child(T, "ToRecipients").map(|r| r.children(T, "Mailbox").filter_map(|mb| Some(Addr { name: mb.text_of(T, "Name").unwrap_or_default().to_string(), email: mb.text_of(T, "EmailAddress")?.trim().to_string() })).collect()).unwrap_or_default();
        let body = m.child(T, "Body");
        let template = Item {
            id: String::new(),
            change_key: 1,
            mailbox: String::new(),
            folder: String::new(),
            // PR_MESSAGE_CLASS (0x001A) set as an extended property is the item class too (MAPI;
            // what exchangelib and Graph clients use to set a custom class).
            item_class: extended
                .iter()
                .find(|e| e.property_tag.as_deref().and_then(property_tag) == Some(0x001A))
                .map(|e| e.value.clone())
                .or_else(|| m.text_of(T, "ItemClass").map(str::to_string))
                .unwrap_or_else(|| "IPM.Note".into())
                .trim()
                .to_string(),
            subject: m.text_of(T, "Subject").unwrap_or_default().to_string(),
            body: body.map(|b| b.text.clone()).unwrap_or_default(),
            body_type: body.and_then(|b| b.attr("BodyType")).unwrap_or("Text").to_string(),
            from: Some(Addr { name: user.name.clone(), email: user.email.clone() }),
            to: to.clone(),
            is_read: m.text_of(T, "IsRead").and_then(xs_boolean).unwrap_or(false),
            is_draft: false,
            extended,
            received_ms: crate::time::now_ms(),
        };
        if disposition == "SaveOnly" {
            let folder = resolve_under(op.child(M, "SavedItemFolderId"), user).unwrap_or("drafts").to_string();
            let mut item = template;
            item.id = state.new_id();
            item.mailbox = user.email.clone();
            item.folder = folder;
            if let Some(f) = m.child(T, "From").and_then(addr) {
                item.from = Some(f);
            }
            // MSGFLAG_UNSENT (8) marks a draft; without PR_MESSAGE_FLAGS a saved message is a draft.
            item.is_draft = flags.is_none_or(|f| f & 8 != 0);
            item.is_read = flags.map_or(item.is_read, |f| f & 1 != 0);
            let saved = item.clone();
            state.items.push(item);
            messages.push(Msg::Ok(Box::new(move |w: &mut W| {
                w.create_element("m:Items").write_inner_content(|w| {
                    w.create_element("t:Message").write_inner_content(|w| item_id(w, &saved))?;
                    Ok(())
                })?;
                Ok(())
            })));
            continue;
        }
        // Sending as someone else needs Send As on their mailbox, which no test user has
        // ("ErrorSendAsDenied": the user does not have the right to send as the requested user).
        if let Some(from) = m.child(T, "From").and_then(addr).filter(|f| !f.email.eq_ignore_ascii_case(&user.email)) {
            messages.push(Msg::Err("ErrorSendAsDenied", format!("The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account {}.", from.email)));
            continue;
        }
        if to.is_empty() {
            messages.push(Msg::Err("ErrorInvalidRecipients", "At least one recipient isn't valid.".into()));
            continue;
        }
        if let Some(bad) = to.iter().find(|a| !a.email.contains('@')) {
            messages.push(Msg::Err("ErrorInvalidRecipients", format!("The recipient {} is not a valid SMTP address.", bad.email)));
            continue;
        }
        deliver(state, user, &template, &to);
        if disposition == "SendAndSaveCopy" {
            let mut copy = template;
            copy.id = state.new_id();
            copy.mailbox = user.email.clone();
            copy.folder = resolve_under(op.child(M, "SavedItemFolderId"), user).unwrap_or("sentitems").to_string();
            copy.is_read = true;
            state.items.push(copy);
        }
        messages.push(Msg::Ok(Box::new(|w: &mut W| {
            w.create_element("m:Items").write_empty()?;
            Ok(())
        })));
    }
    (200, respond("CreateItem", messages))
}

/// Delivers a sent message (`template`: class, subject, body, properties) from `user` to each
/// address of `to`, as Exchange transport does, for EWS CreateItem and Graph sendMail alike:
/// known recipients get a copy in their Inbox; across organisations the missed-conversation
/// class becomes `IPM.Note` and MAPI properties are dropped; an unknown address gets the sender
/// a non-delivery report.
pub fn deliver(state: &mut State, user: &User, template: &Item, to: &[Addr]) {
    // Exchange accepts a message to an address nobody has and reports it later: transport
    // drops a non-delivery report (class REPORT.IPM.Note.NDR, "Undeliverable: <subject>")
    // into the sender's Inbox ("Non-delivery reports in Exchange Server"). The send itself
    // succeeds: "delivered" means accepted by Exchange.
    let (known, unknown): (Vec<&Addr>, Vec<&Addr>) = to.iter().partition(|a| state.user(&a.email).is_some());
    for unknown in unknown {
        let ndr = Item {
            id: state.new_id(),
            mailbox: user.email.clone(),
            folder: "inbox".into(),
            item_class: "REPORT.IPM.Note.NDR".into(),
            subject: ["Undeliverable: ", &template.subject].concat(),
            body: ["Your message to ", &unknown.email, " couldn't be delivered. ", &unknown.email, " wasn't found at ", &org_of(&unknown.email), ". Remote server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'"].concat(),
            body_type: "Text".into(),
            from: Some(Addr { name: "Microsoft Outlook".into(), email: ["MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@", &org_of(&user.email)].concat() }),
            to: vec![Addr { name: user.name.clone(), email: user.email.clone() }],
            received_ms: crate::time::now_ms(),
            change_key: 1,
            ..Default::default()
        };
        state.items.push(ndr);
    }
    for a in known {
        let mut item = template.clone();
        item.id = state.new_id();
        item.mailbox = state.user(&a.email).map(|u| u.email.clone()).unwrap_or_default();
        item.folder = "inbox".into();
        // Across organisations the missed-conversation class is dropped: plain mail (seed [E]).
        let class_is_missed = item.item_class.eq_ignore_ascii_case(MISSED) || item.item_class.eq_ignore_ascii_case(SEED_MISSED);
        if org_of(&a.email) != org_of(&user.email) {
            if class_is_missed {
                item.item_class = "IPM.Note".into();
            }
            // Mail to another organisation crosses SMTP: MAPI named and tagged properties
            // do not survive it (only what MIME headers carry does), so nothing across
            // organisations may depend on them.
            item.extended.clear();
        }
        state.items.push(item);
    }
}

/// An `xs:boolean` lexical value: `true`, `false`, `1` or `0`, surrounding white space allowed
/// (XML Schema Part 2, 3.2.2).
pub fn xs_boolean(text: &str) -> Option<bool> {
    match text.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Orders FindItem results by `SortOrder` (each `FieldOrder` with `Order` Ascending or
/// Descending, in priority order); without one, newest first (DateTimeReceived descending,
/// Outlook's default view). Ties keep the order items were created in.
fn sort(items: &mut [Item], order: Option<&El>) -> Result<(), String> {
    let keys: Vec<(String, bool)> = match order {
        Some(o) => o
            .children(T, "FieldOrder")
            .map(|f| Ok((f.child(T, "FieldURI").and_then(|u| u.attr("FieldURI")).ok_or("FieldOrder without FieldURI")?.to_string(), f.attr("Order") == Some("Descending"))))
            .collect::<Result<_, String>>()?,
        None => vec![("item:DateTimeReceived".into(), true)],
    };
    for (uri, _) in &keys {
        if !matches!(uri.as_str(), "item:DateTimeReceived" | "item:Subject" | "item:ItemClass") {
            return Err(format!("sorting by {uri} is not supported by this test server"));
        }
    }
    items.sort_by(|a, b| {
        keys.iter().fold(std::cmp::Ordering::Equal, |acc, (uri, descending)| {
            acc.then_with(|| {
                let o = match uri.as_str() {
                    "item:DateTimeReceived" => a.received_ms.cmp(&b.received_ms),
                    "item:Subject" => a.subject.to_lowercase().cmp(&b.subject.to_lowercase()),
                    _ => a.item_class.to_lowercase().cmp(&b.item_class.to_lowercase()),
                };
                if *descending { o.reverse() } else { o }
            })
        })
    });
    Ok(())
}

fn find_item(state: &State, user: &User, op: &El) -> String {
    let folders: Vec<&El> = op.child(M, "ParentFolderIds").map(|p| p.children.iter().filter(|c| c.ns == T).collect()).unwrap_or_default();
    let restriction = op.child(M, "Restriction").and_then(|r| r.children.first());
    let view = op.child(M, "IndexedPageItemView");
    let max = view.and_then(|v| v.attr("MaxEntriesReturned")).and_then(|v| v.parse::<usize>().ok()).unwrap_or(usize::MAX);
    let offset = view.and_then(|v| v.attr("Offset")).and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    let shape = Shape::parse(op.child(M, "ItemShape"), false);
    let mut messages = Vec::new();
    for f in folders {
        let Some(id) = resolve(f, user) else {
            messages.push(Msg::Err("ErrorFolderNotFound", format!("The folder {} does not exist in this mailbox.", f.attr("Id").unwrap_or(""))));
            continue;
        };
        let mut hits = Vec::new();
        let mut error = None;
        for item in state.items.iter().filter(|i| i.mailbox == user.email && i.folder == id) {
            match restriction.map(|r| crate::restriction::matches(item, r)).unwrap_or(Ok(true)) {
                Ok(true) => hits.push(item.clone()),
                Ok(false) => {}
                Err(e) => error = Some(e),
            }
        }
        if let Some(e) = error {
            messages.push(Msg::Err("ErrorInvalidRestriction", e));
            continue;
        }
        if let Err(e) = sort(&mut hits, op.child(M, "SortOrder")) {
            messages.push(Msg::Err("ErrorInvalidRequest", e));
            continue;
        }
        let total = hits.len();
        let page: Vec<Item> = hits.into_iter().skip(offset).take(max).collect();
        let next = offset + page.len();
        let shape = shape.clone();
        messages.push(Msg::Ok(Box::new(move |w: &mut W| {
            w.create_element("m:RootFolder")
                .with_attributes([("IndexedPagingOffset", next.to_string().as_str()), ("TotalItemsInView", total.to_string().as_str()), ("IncludesLastItemInRange", if next >= total { "true" } else { "false" })])
                .write_inner_content(|w| {
                    w.create_element("t:Items").write_inner_content(|w| page.iter().try_for_each(|i| write_item(w, i, &shape)))?;
                    Ok(())
                })?;
            Ok(())
        })));
    }
    respond("FindItem", messages)
}

fn ids(op: &El) -> Vec<String> {
    op.child(M, "ItemIds").map(|p| p.children(T, "ItemId").filter_map(|i| i.attr("Id")).map(str::to_string).collect()).unwrap_or_default()
}

fn get_item(state: &State, user: &User, op: &El) -> String {
    let shape = Shape::parse(op.child(M, "ItemShape"), true);
    let messages = ids(op)
        .into_iter()
        .map(|id| match state.items.iter().find(|i| i.id == id && i.mailbox == user.email) {
            Some(item) => {
                let (item, shape) = (item.clone(), shape.clone());
                Msg::Ok(Box::new(move |w: &mut W| {
                    w.create_element("m:Items").write_inner_content(|w| write_item(w, &item, &shape))?;
                    Ok(())
                }))
            }
            None => Msg::Err("ErrorItemNotFound", "The specified object was not found in the store.".into()),
        })
        .collect();
    respond("GetItem", messages)
}

/// UpdateItem as Exchange runs it ("UpdateItem operation", "ConflictResolution"): a stale
/// ChangeKey with `NeverOverwrite` is `ErrorIrresolvableConflict`; with `AutoResolve` (the
/// default) or `AlwaysOverwrite` the change is applied. `SetItemField` on `message:IsRead`
/// (an xs:boolean) and `item:Subject` is applied; any other update is refused with
/// `ErrorInvalidPropertyRequest` rather than reported as done. Each success carries the new
/// ChangeKey and `ConflictResults` (clients read it).
fn update_item(state: &mut State, user: &User, op: &El) -> String {
    let resolution = op.attr("ConflictResolution").unwrap_or("AutoResolve");
    let mut messages = Vec::new();
    for change in op.child(M, "ItemChanges").map(|c| c.children(T, "ItemChange").collect::<Vec<_>>()).unwrap_or_default() {
        let item_id_el = change.child(T, "ItemId");
        let id = item_id_el.and_then(|i| i.attr("Id")).unwrap_or_default().to_string();
        let Some(item) = state.items.iter_mut().find(|i| i.id == id && i.mailbox == user.email) else {
            messages.push(Msg::Err("ErrorItemNotFound", "The specified object was not found in the store.".into()));
            continue;
        };
        let stale = item_id_el.and_then(|i| i.attr("ChangeKey")).is_some_and(|k| k != item.change_key_text());
        if stale && resolution == "NeverOverwrite" {
            messages.push(Msg::Err("ErrorIrresolvableConflict", "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.".into()));
            continue;
        }
        let mut updated = item.clone();
        let mut refused = None;
        for update in change.child(T, "Updates").map(|u| u.children.iter().collect::<Vec<_>>()).unwrap_or_default() {
            let uri = update.child(T, "FieldURI").and_then(|f| f.attr("FieldURI")).unwrap_or("");
            let value = |name: &str| update.children.iter().find(|c| c.ns == T && matches!(c.name.as_str(), "Message" | "Item")).and_then(|c| c.child(T, name)).map(|v| v.text.clone());
            match (update.name.as_str(), uri) {
                ("SetItemField", "message:IsRead") => match value("IsRead").as_deref().and_then(xs_boolean) {
                    Some(b) => updated.is_read = b,
                    None => refused = Some(("ErrorInvalidValueForProperty", "IsRead is not an xs:boolean.".to_string())),
                },
                ("SetItemField", "item:Subject") => updated.subject = value("Subject").unwrap_or_default(),
                (kind, uri) => refused = Some(("ErrorInvalidPropertyRequest", format!("{kind} of {uri} is not supported by this test server."))),
            }
        }
        if let Some((code, text)) = refused {
            messages.push(Msg::Err(code, text));
            continue;
        }
        updated.change_key += 1;
        *item = updated.clone();
        messages.push(Msg::Ok(Box::new(move |w: &mut W| {
            w.create_element("m:Items").write_inner_content(|w| {
                w.create_element("t:Message").write_inner_content(|w| item_id(w, &updated))?;
                Ok(())
            })?;
            w.create_element("m:ConflictResults").write_inner_content(|w| text(w, "t:Count", if stale { "1" } else { "0" }))?;
            Ok(())
        })));
    }
    respond("UpdateItem", messages)
}

fn delete_item(state: &mut State, user: &User, op: &El) -> String {
    let hard = op.attr("DeleteType") == Some("HardDelete");
    let mut messages = Vec::new();
    for id in ids(op) {
        match state.items.iter().position(|i| i.id == id && i.mailbox == user.email) {
            Some(pos) if hard => {
                state.items.remove(pos);
                messages.push(Msg::Ok(Box::new(|_: &mut W| Ok(()))));
            }
            Some(pos) => {
                state.items[pos].folder = "deleteditems".into();
                messages.push(Msg::Ok(Box::new(|_: &mut W| Ok(()))));
            }
            None => messages.push(Msg::Err("ErrorItemNotFound", "The specified object was not found in the store.".into())),
        }
    }
    respond("DeleteItem", messages)
}
