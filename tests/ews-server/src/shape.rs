//! What an item looks like in a FindItem or GetItem reply, as Exchange writes it.
//!
//! - `BaseShape` `IdOnly` "returns only the item or folder ID" (EWS reference, BaseShape); other
//!   properties only when `AdditionalProperties` names them. `Default` and `AllProperties` give
//!   the item's ordinary properties here.
//! - Extended properties are returned only when an `ExtendedFieldURI` asks for them, whatever the
//!   base shape (EWS: "Extended properties are not returned in the AllProperties shape";
//!   "Properties and extended properties in EWS in Exchange").
//! - An item whose class is not under `IPM.Note` (the seed's `IM.Note.MissedConversation`) is a
//!   generic `t:Item`, without the message properties From and IsRead.
//! - FindItem never returns the body. GetItem renders it per the shape's `BodyType`: `HTML` (and
//!   `Best` for an HTML body) as Exchange re-renders stored HTML (a head with the charset `meta`,
//!   CRLF line ends); `Text` converted from HTML by Exchange (tags dropped, `<br>` and block ends
//!   as CRLF, character references decoded). BodyType reference: "HTML", "Text", "Best".
//! - Properties in the schema's order (ItemType, then MessageType).

use crate::dom::{El, T};
use crate::state::{Addr, Ext, Item};
use quick_xml::events::BytesText;
use quick_xml::Writer;
use std::io;

type W = Writer<Vec<u8>>;

/// The properties a request asked for.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    id_only: bool,
    fields: Vec<String>,
    extended: Vec<El>,
    /// `HTML`, `Text` or `Best` (the default).
    body_type: String,
    /// GetItem: the body may be returned.
    with_body: bool,
}

impl Shape {
    /// Reads `m:ItemShape` (absent: IdOnly, as the schema requires the element anyway).
    pub fn parse(shape: Option<&El>, with_body: bool) -> Shape {
        let Some(shape) = shape else { return Shape { id_only: true, with_body, ..Default::default() } };
        let props = shape.child(T, "AdditionalProperties");
        Shape {
            id_only: shape.text_of(T, "BaseShape").is_none_or(|b| b.trim() == "IdOnly"),
            fields: props.map(|p| p.children(T, "FieldURI").filter_map(|f| f.attr("FieldURI")).map(str::to_string).collect()).unwrap_or_default(),
            extended: props.map(|p| p.children(T, "ExtendedFieldURI").cloned().collect()).unwrap_or_default(),
            body_type: shape.text_of(T, "BodyType").unwrap_or("Best").trim().to_string(),
            with_body,
        }
    }

    fn has(&self, uri: &str) -> bool {
        !self.id_only || self.fields.iter().any(|f| f == uri)
    }
}

/// Whether an `ExtendedFieldURI` of a request names the stored property `e` (GUIDs and names
/// compared case-insensitively).
pub fn ext_matches(uri: &El, e: &Ext) -> bool {
    let same = |a: Option<&str>, b: &Option<String>| a.map(str::to_ascii_lowercase) == b.as_deref().map(str::to_ascii_lowercase);
    // Tags by value: 0x0E07, 0xe07 and 3591 are one property.
    let tag = |t: Option<&str>| t.map(property_tag);
    same(uri.attr("PropertySetId"), &e.property_set_id) && same(uri.attr("PropertyName"), &e.property_name) && tag(uri.attr("PropertyTag")) == tag(e.property_tag.as_deref())
}

/// A `PropertyTag` as the schema allows it: hex with `0x` (`0x001A`, `0x1a`) or decimal.
pub fn property_tag(text: &str) -> Option<u32> {
    let t = text.trim();
    match t.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("0x") => u32::from_str_radix(&t[2..], 16).ok(),
        _ => t.parse().ok(),
    }
}

/// Whether Exchange returns items of this class as `t:Message`.
pub fn is_message_class(class: &str) -> bool {
    let c = class.to_ascii_lowercase();
    c == "ipm.note" || c.starts_with("ipm.note.") || c.starts_with("report.ipm.note")
}

fn text(w: &mut W, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name).write_text_content(BytesText::new(value))?;
    Ok(())
}

pub fn item_id(w: &mut W, item: &Item) -> io::Result<()> {
    w.create_element("t:ItemId").with_attributes([("Id", item.id.as_str()), ("ChangeKey", item.change_key_text().as_str())]).write_empty()?;
    Ok(())
}

pub fn mailbox(w: &mut W, a: &Addr) -> io::Result<()> {
    w.create_element("t:Mailbox").write_inner_content(|w| {
        text(w, "t:Name", &a.name)?;
        text(w, "t:EmailAddress", &a.email)?;
        text(w, "t:RoutingType", "SMTP")?;
        text(w, "t:MailboxType", "Mailbox")
    })?;
    Ok(())
}

/// Writes `item` as `t:Message` or `t:Item` with the properties `shape` asks for.
pub fn write_item(w: &mut W, item: &Item, shape: &Shape) -> io::Result<()> {
    let message = is_message_class(&item.item_class);
    w.create_element(if message { "t:Message" } else { "t:Item" }).write_inner_content(|w| {
        item_id(w, item)?;
        if shape.has("item:ItemClass") {
            text(w, "t:ItemClass", &item.item_class)?;
        }
        if shape.has("item:Subject") {
            text(w, "t:Subject", &item.subject)?;
        }
        if shape.with_body && shape.has("item:Body") {
            let (kind, body) = render_body(item, &shape.body_type);
            w.create_element("t:Body").with_attributes([("BodyType", kind), ("IsTruncated", "false")]).write_text_content(BytesText::new(&body))?;
        }
        if shape.has("item:DateTimeReceived") {
            text(w, "t:DateTimeReceived", &crate::time::iso(item.received_ms))?;
        }
        if shape.has("item:IsDraft") {
            text(w, "t:IsDraft", if item.is_draft { "true" } else { "false" })?;
        }
        for e in item.extended.iter().filter(|e| shape.extended.iter().any(|u| ext_matches(u, e))) {
            w.create_element("t:ExtendedProperty").write_inner_content(|w| {
                let mut uri = w.create_element("t:ExtendedFieldURI");
                if let Some(s) = &e.property_set_id {
                    uri = uri.with_attribute(("PropertySetId", s.as_str()));
                }
                if let Some(n) = &e.property_name {
                    uri = uri.with_attribute(("PropertyName", n.as_str()));
                }
                if let Some(t) = &e.property_tag {
                    uri = uri.with_attribute(("PropertyTag", t.as_str()));
                }
                uri.with_attribute(("PropertyType", e.property_type.as_str())).write_empty()?;
                text(w, "t:Value", &e.value)
            })?;
        }
        if message {
            // Sender and From are the same mailbox unless someone sends on behalf of another,
            // which the test server does not model.
            if let Some(f) = item.from.as_ref().filter(|_| shape.has("message:Sender")) {
                w.create_element("t:Sender").write_inner_content(|w| mailbox(w, f))?;
            }
            if shape.has("message:ToRecipients") && !item.to.is_empty() {
                w.create_element("t:ToRecipients").write_inner_content(|w| item.to.iter().try_for_each(|a| mailbox(w, a)))?;
            }
            if let Some(f) = item.from.as_ref().filter(|_| shape.has("message:From")) {
                w.create_element("t:From").write_inner_content(|w| mailbox(w, f))?;
            }
            if shape.has("message:IsRead") {
                text(w, "t:IsRead", if item.is_read { "true" } else { "false" })?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// The body as Exchange returns it for `requested` (`HTML`, `Text`, `Best`): (BodyType, text).
pub fn render_body(item: &Item, requested: &str) -> (&'static str, String) {
    let html = item.body_type.eq_ignore_ascii_case("HTML");
    match (html, requested) {
        (true, "Text") => ("Text", html_to_text(&item.body)),
        (true, _) => ("HTML", rerender_html(&item.body)),
        (false, "HTML") => ("HTML", rerender_html(&["<div>", &escape_text(&item.body).replace('\n', "<br>\n"), "</div>"].concat())),
        (false, _) => ("Text", item.body.replace("\r\n", "\n").replace('\n', "\r\n")),
    }
}

fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Stored HTML as Exchange sends it back: its own head with the charset meta, the original
/// body's content, CRLF line ends.
fn rerender_html(html: &str) -> String {
    let inner = html.find("<body").and_then(|i| html[i..].find('>').map(|j| &html[i + j + 1..])).unwrap_or(html);
    let inner = inner.rfind("</body>").map_or(inner, |i| &inner[..i]);
    let inner = inner.replace("\r\n", "\n").replace('\n', "\r\n");
    ["<html>\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n", inner.trim(), "\r\n</body>\r\n</html>\r\n"].concat()
}

/// HTML to plain text as Exchange converts it: tags dropped, `<br>` and the end of each `div`,
/// `p` or `li` a CRLF, white space runs one space, character references decoded.
fn html_to_text(html: &str) -> String {
    let body = html.find("<body").and_then(|i| html[i..].find('>').map(|j| &html[i + j + 1..])).unwrap_or(html);
    let body = body.rfind("</body>").map_or(body, |i| &body[..i]);
    let mut out = String::new();
    let mut rest = body;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            let end = after.find('>').unwrap_or(after.len());
            let tag = after[..end].trim_start_matches('/').to_ascii_lowercase();
            let name = tag.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or("");
            if name == "br" || (after.starts_with('/') && matches!(name, "div" | "p" | "li")) {
                while out.ends_with(' ') {
                    out.pop();
                }
                out.push_str("\r\n");
            }
            rest = after.get(end + 1..).unwrap_or("");
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            if !(out.is_empty() || out.ends_with(' ') || out.ends_with('\n')) {
                out.push(' ');
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '&' {
            if let Some(semi) = rest[..rest.len().min(12)].find(';') {
                let name = &rest[1..semi];
                let decoded = match name {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some('\u{a0}'),
                    _ => name.strip_prefix("#x").map_or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()), |h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32),
                };
                if let Some(d) = decoded {
                    out.push(d);
                    rest = &rest[semi + 1..];
                    continue;
                }
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    let trimmed = out.trim_end();
    [trimmed, "\r\n"].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_rerendered_and_converted_as_exchange_does() {
        let item = Item { body: "<html><head></head><body><div>a &amp; b<br>\nc&nbsp;d</div></body></html>".into(), body_type: "HTML".into(), ..Default::default() };
        let (kind, html) = render_body(&item, "HTML");
        assert_eq!(kind, "HTML");
        assert!(html.starts_with("<html>\r\n<head>\r\n<meta http-equiv=\"Content-Type\""), "{html}");
        assert!(html.contains("<div>a &amp; b<br>\r\nc&nbsp;d</div>"), "{html}");
        assert_eq!(render_body(&item, "Text"), ("Text", "a & b\r\nc\u{a0}d\r\n".to_string()));
        assert_eq!(render_body(&item, "Best").0, "HTML");
        let plain = Item { body: "x < y\nz".into(), body_type: "Text".into(), ..Default::default() };
        assert_eq!(render_body(&plain, "Best"), ("Text", "x < y\r\nz".to_string()));
        assert!(render_body(&plain, "HTML").1.contains("<div>x &lt; y<br>\r\nz</div>"));
    }

    #[test]
    fn message_classes() {
        for c in ["IPM.Note", "ipm.note.microsoft.missed", "REPORT.IPM.Note.NDR"] {
            assert!(is_message_class(c), "{c}");
        }
        for c in ["IM.Note.MissedConversation", "IPM.Notes", "IPM.Appointment"] {
            assert!(!is_message_class(c), "{c}");
        }
    }
}
