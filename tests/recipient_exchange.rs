//! The real `check_missed` over FindItem/GetItem replies in the shape Exchange sends them
//! (`tests/fixtures/exchange/`, written from Microsoft's examples): paging by
//! IndexedPagingOffset while new mail shifts the view, a generic `t:Item` written by a Skype for
//! Business client without our properties, Exchange-rendered HTML bodies, an item deleted between
//! FindItem and GetItem, a fault on a later page, and `since`.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::fixture;
use futures_executor::block_on;
use offline_im::ews::datetime::to_iso;
use offline_im::ews::soap::Header;
use offline_im::mailbox::Request;
use offline_im::ews::mailbox::check_missed;
use offline_im::spool::{Transport, TransportError, TransportReply};
use std::cell::RefCell;

const T0: u64 = 1_795_000_000_000; // 2026-11-18, ms

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A line of the fixtures' HTML as Exchange's text conversion writes it.
fn as_text(html: &str) -> String {
    html.replace("&nbsp;", "\u{a0}").replace("&lt;", "<").replace("&gt;", ">").replace("&#x2014;", "\u{2014}").replace("&amp;", "&")
}

fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(template.to_string(), |t, (k, v)| t.replace(&["{", k, "}"].concat(), v))
}

/// The value of `name="..."` after `from` in a request.
fn attr_after<'a>(xml: &'a str, from: &str, name: &str) -> Option<&'a str> {
    let at = xml.find(from)?;
    let key = [name, "=\""].concat();
    let start = at + xml[at..].find(&key)? + key.len();
    Some(&xml[start..start + xml[start..].find('"')?])
}

#[derive(Clone)]
struct Item {
    id: String,
    generic: bool,
    class: &'static str,
    subject: String,
    received: u64,
    message_id: String,
    conversation_id: String,
    from: (&'static str, &'static str),
    lines: (String, String),
}

impl Item {
    /// `body`: None (FindItem), or the BodyType asked for (`HTML` or `Text`).
    fn xml(&self, body: Option<&str>) -> String {
        let body = match body {
            Some("Text") => {
                let text = fill(&fixture("exchange/body.txt"), &[("line1", &as_text(&self.lines.0)), ("line2", &as_text(&self.lines.1))]);
                ["                <t:Body BodyType=\"Text\" IsTruncated=\"false\">", &esc(&text), "</t:Body>\n"].concat()
            }
            Some(_) => {
                let html = fill(&fixture("exchange/body.html"), &[("line1", &self.lines.0), ("line2", &self.lines.1)]);
                ["                <t:Body BodyType=\"HTML\" IsTruncated=\"false\">", &esc(&html), "</t:Body>\n"].concat()
            }
            None => String::new(),
        };
        let template = fixture(if self.generic { "exchange/item.xml" } else { "exchange/message.xml" });
        fill(
            &template,
            &[
                ("id", &esc(&self.id)),
                ("class", self.class),
                ("subject", &esc(&self.subject)),
                ("body", &body),
                ("received", &to_iso(self.received)),
                ("messageId", &esc(&self.message_id)),
                ("conversationId", &esc(&self.conversation_id)),
                ("fromName", self.from.0),
                ("fromEmail", self.from.1),
            ],
        )
    }
}

/// A mailbox answering as Exchange does: FindItem newest first from the requested offset, at
/// most MaxEntriesReturned; GetItem one response message per requested id, in request order.
#[derive(Default)]
struct Exchange {
    folders: RefCell<Vec<(&'static str, Vec<Item>)>>,
    /// Arrives in the inbox right after the first inbox page was answered.
    arrival: RefCell<Option<Item>>,
    /// Deleted after FindItem listed it, before GetItem asks for it.
    deleted: Vec<String>,
    /// Answer FindItem at this offset with an ErrorServerBusy fault.
    busy_at_offset: Option<usize>,
    finds: RefCell<Vec<(String, usize)>>,
    gets: RefCell<Vec<Vec<String>>>,
}

impl Transport for Exchange {
    async fn send(&self, request: &Request) -> Result<TransportReply, TransportError> {
        let xml = request.body.as_deref().unwrap_or_default();
        if xml.contains("<m:FindItem") {
            let folder = attr_after(xml, "<m:ParentFolderIds>", "Id").unwrap_or_default().to_string();
            let offset: usize = attr_after(xml, "<m:IndexedPageItemView", "Offset").and_then(|v| v.parse().ok()).unwrap_or(0);
            let max: usize = attr_after(xml, "<m:IndexedPageItemView", "MaxEntriesReturned").and_then(|v| v.parse().ok()).unwrap_or(0);
            self.finds.borrow_mut().push((folder.clone(), offset));
            if self.busy_at_offset == Some(offset) {
                return Ok(TransportReply::new(500, fixture("responses/server-busy-fault.xml")));
            }
            let mut folders = self.folders.borrow_mut();
            let items = &mut folders.iter_mut().find(|(f, _)| *f == folder).expect("a known folder").1;
            items.sort_by_key(|i| std::cmp::Reverse(i.received));
            let page: Vec<String> = items.iter().skip(offset).take(max).map(|i| i.xml(None)).collect();
            let next = offset + page.len();
            let body = fill(
                &fixture("exchange/finditem.xml"),
                &[("next", &next.to_string()), ("total", &items.len().to_string()), ("last", if next >= items.len() { "true" } else { "false" }), ("items", &page.join(""))],
            );
            if folder == "inbox" {
                if let Some(new) = self.arrival.borrow_mut().take() {
                    items.push(new);
                }
            }
            return Ok(TransportReply::new(200, body));
        }
        assert!(xml.contains("<m:GetItem"), "only FindItem and GetItem are expected: {xml}");
        let body_type = if xml.contains("<t:BodyType>Text</t:BodyType>") { "Text" } else { "HTML" };
        let mut ids = Vec::new();
        let mut rest = xml;
        while let Some(id) = attr_after(rest, "<t:ItemId ", "Id") {
            ids.push(id.to_string());
            rest = &rest[rest.find("<t:ItemId ").unwrap_or(0) + 10..];
        }
        self.gets.borrow_mut().push(ids.clone());
        let folders = self.folders.borrow();
        let messages: Vec<String> = ids
            .iter()
            .map(|id| match folders.iter().flat_map(|(_, items)| items).find(|i| &i.id == id && !self.deleted.contains(id)) {
                Some(i) => fill(&fixture("exchange/getitem-success.xml"), &[("item", &i.xml(Some(body_type)))]),
                None => fixture("exchange/getitem-error.xml"),
            })
            .collect();
        Ok(TransportReply::new(200, fill(&fixture("exchange/getitem.xml"), &[("messages", &messages.join(""))])))
    }
}

const TONY: (&str, &str) = ("Tony Smith", "Tony@Contoso.com");
const SAM: (&str, &str) = ("Sam Lee", "sam@contoso.com");

/// Item `k` of Tony's inbox: 103 at first (k < 103), one more (k = 103) arrives between the two
/// pages.
/// Item 1 is a second copy of message m0 (at-least-once delivery).
fn tony(k: usize) -> Item {
    Item {
        id: format!("AAMkADk0{k:04}AAA="),
        generic: false,
        class: "IPM.Note.Microsoft.Missed",
        subject: format!("message {k}"),
        received: T0 + k as u64 * 60_000,
        message_id: format!("m{}", if k == 1 { 0 } else { k }),
        conversation_id: format!("c{}", k % 3),
        from: TONY,
        lines: (format!("line&nbsp;one of {k} &amp; more"), "&#x2014; second&nbsp;line".into()),
    }
}

fn mailbox() -> Exchange {
    let sfb = Item {
        id: "AAMkADk0SFB1AAA=".into(),
        generic: true,
        class: "IM.Note.MissedConversation",
        subject: "Missed conversation with Sam Lee".into(),
        received: T0 + 30 * 60_000 + 1,
        message_id: String::new(),
        conversation_id: String::new(),
        from: SAM,
        lines: ("Sam Lee: are you free?".into(), "Sam Lee: call me &lt;soon&gt;".into()),
    };
    let sam = Item { id: "AAMkADk0SAM1AAA=".into(), class: "IPM.Note.Microsoft.Missed", subject: "ping".into(), received: T0 + 500 * 60_000, message_id: "s1".into(), conversation_id: "sam-ana".into(), from: SAM, ..sfb.clone() };
    let sam = Item { generic: false, ..sam };
    Exchange {
        folders: RefCell::new(vec![("inbox", (0..103).map(tony).collect()), ("conversationhistory", vec![sfb, sam])]),
        arrival: RefCell::new(Some(tony(103))),
        deleted: vec![tony(50).id],
        ..Default::default()
    }
}

#[test]
fn exchange_paging_duplicates_generic_items_and_rendered_bodies() {
    let ex = mailbox();
    let report = block_on(check_missed(&ex, &Header::default(), None)).unwrap();

    // Paging followed IndexedPagingOffset: inbox at 0 and 100 (the second page repeats item 3,
    // pushed down by the arrival), conversation history at 0. The arrival itself sits before
    // the offset by then: the next check lists it (offset paging over a newest-first view).
    assert_eq!(*ex.finds.borrow(), [("inbox".to_string(), 0), ("inbox".to_string(), 100), ("conversationhistory".to_string(), 0)]);
    // Every listed id fetched exactly once, 100 per GetItem: 103 inbox items + 2.
    let gets = ex.gets.borrow();
    let mut all: Vec<&String> = gets.iter().flatten().collect();
    assert_eq!(gets.iter().map(Vec::len).collect::<Vec<_>>(), [100, 5]);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 105, "no id asked for twice");

    // 105 items listed, item 50 gone by GetItem: 104 read. Messages: 103 inbox items less the
    // deleted one and the second copy of m0, plus Sam's and the client-written item.
    assert_eq!(report.items_scanned, 104);
    assert_eq!(report.total, 103);
    let convs: Vec<(&str, &str, usize)> = report.conversations.iter().map(|c| (c.from_email.as_str(), c.conversation_id.as_str(), c.messages.len())).collect();
    assert_eq!(convs[0], ("sam@contoso.com", "sam-ana", 1), "newest activity first (Sam's at T0 + 500 min)");
    for c in ["c0", "c1", "c2"] {
        let n = report.conversations.iter().find(|x| x.conversation_id == c).map(|x| x.messages.len());
        let expected = (0..103).filter(|k| k % 3 == c[1..].parse::<usize>().unwrap() && *k != 1 && *k != 50).count();
        assert_eq!(n, Some(expected), "{c}");
    }
    let tony_c0 = report.conversations.iter().find(|x| x.conversation_id == "c0").unwrap();
    assert_eq!((tony_c0.from_email.as_str(), tony_c0.from_name.as_str()), ("tony@contoso.com", "Tony Smith"));
    let m0 = &tony_c0.messages[0];
    let mut copies = m0.item_ids.clone();
    copies.sort();
    assert_eq!((m0.message_id.as_str(), copies), ("m0", vec![tony(0).id, tony(1).id]), "both copies, to mark both seen");
    assert_eq!(m0.text, "line one of 0 & more\n\u{2014} second line", "Exchange's Text body: CRLF, no-break spaces");
    assert_eq!(m0.received_at, T0);
    assert!(tony_c0.messages.windows(2).all(|w| w[0].received_at < w[1].received_at), "oldest first");

    // The item a Skype for Business client wrote: a generic t:Item, no message id or
    // conversation id property, no From: its own message, keyed by its item id.
    let sfb = report.conversations.iter().find(|c| c.messages[0].item_ids == ["AAMkADk0SFB1AAA="]).expect("the t:Item is listed");
    assert_eq!((sfb.from_email.as_str(), sfb.conversation_id.as_str()), ("", "item:AAMkADk0SFB1AAA="));
    assert_eq!(sfb.messages[0].subject, "Missed conversation with Sam Lee");
    assert_eq!(sfb.messages[0].text, "Sam Lee: are you free?\nSam Lee: call me <soon>");
}

#[test]
fn since_keeps_what_arrived_from_then_on() {
    let ex = mailbox();
    let since = T0 + 100 * 60_000;
    let report = block_on(check_missed(&ex, &Header::default(), Some(since))).unwrap();
    let mut ids: Vec<&str> = report.conversations.iter().flat_map(|c| c.messages.iter().map(|m| m.message_id.as_str())).collect();
    ids.sort();
    assert_eq!(ids, ["m100", "m101", "m102", "s1"], "items received at or after `since`, nothing older");
    assert_eq!(ex.gets.borrow().iter().map(Vec::len).sum::<usize>(), 4, "older items are not fetched");
}

#[test]
fn a_fault_on_a_later_page_is_an_error_not_a_short_list() {
    let ex = Exchange { busy_at_offset: Some(100), ..mailbox() };
    let err = block_on(check_missed(&ex, &Header::default(), None)).unwrap_err();
    assert_eq!(err.code(), "EwsError");
    assert!(err.to_string().contains("ErrorServerBusy"), "{err}");
    assert!(ex.gets.borrow().is_empty(), "nothing fetched from a partial listing");
}

/// The module asks for Text bodies; a server that sends HTML anyway (Exchange-rendered: CRLF
/// between tags, a charset meta, `&nbsp;`, `<div>` per line) still gives the same text.
#[test]
fn html_bodies_as_exchange_renders_them_become_the_same_text() {
    let item = tony(7);
    let reply = fill(&fixture("exchange/getitem.xml"), &[("messages", &fill(&fixture("exchange/getitem-success.xml"), &[("item", &item.xml(Some("HTML")))]))]);
    let html = offline_im::ews::items::parse_items(200, &reply).unwrap();
    assert_eq!(html.items[0].body_type.as_deref(), Some("HTML"));
    let text = fill(&fixture("exchange/getitem.xml"), &[("messages", &fill(&fixture("exchange/getitem-success.xml"), &[("item", &item.xml(Some("Text")))]))]);
    let text = offline_im::ews::items::parse_items(200, &text).unwrap();
    let shown = |items| offline_im::missed::group(items, None).conversations[0].messages[0].text.clone();
    assert_eq!(shown(html.items), "line one of 7 & more\n\u{2014} second line");
    assert_eq!(shown(text.items), "line one of 7 & more\n\u{2014} second line");
}

/// parse_items takes from an item only what is the item's own: recipients' names are not the
/// sender's, a same-named property of another property set is not ours, an attached item does
/// not end or overwrite the outer one; IsRead is an xs:boolean; CDATA and references are text;
/// paging attributes default as Exchange documents them; per-item errors are collected.
#[test]
fn parse_items_reads_only_what_belongs_to_the_item() {
    use offline_im::ews::items::parse_items;
    let message = r#"<t:Message>
      <t:ItemId Id="outer" ChangeKey="ck1"/>
      <t:ItemClass>IPM.Note.Microsoft.Missed</t:ItemClass>
      <t:Subject><![CDATA[a <b> ]]>&amp; c</t:Subject>
      <t:Attachments><t:ItemAttachment><t:Name>fwd</t:Name><t:Message><t:ItemId Id="inner"/><t:ItemClass>IPM.Note</t:ItemClass><t:Subject>inner subject</t:Subject><t:Body BodyType="Text">inner body</t:Body><t:DateTimeReceived>2001-01-01T00:00:00Z</t:DateTimeReceived><t:IsRead>false</t:IsRead></t:Message></t:ItemAttachment></t:Attachments>
      <t:ExtendedProperty><t:ExtendedFieldURI PropertySetId="00020329-0000-0000-C000-000000000046" PropertyName="OfflineImMessageId" PropertyType="String"/><t:Value>not ours</t:Value></t:ExtendedProperty>
      <t:ExtendedProperty><t:ExtendedFieldURI PropertySetId="6B2B3C54-5E0F-4C1C-9A3E-0FF11E1E0A1D" PropertyName="OfflineImMessageId" PropertyType="String"/><t:Value>ours</t:Value></t:ExtendedProperty>
      <t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x0E07" PropertyType="Integer"/><t:Value>1</t:Value></t:ExtendedProperty>
      <t:ToRecipients><t:Mailbox><t:Name>Ana Lopez</t:Name><t:EmailAddress>ana@contoso.com</t:EmailAddress></t:Mailbox></t:ToRecipients>
      <t:From><t:Mailbox><t:Name>Tony Smith</t:Name><t:EmailAddress> tony@contoso.com </t:EmailAddress></t:Mailbox></t:From>
      <t:IsRead>1</t:IsRead>
    </t:Message>"#;
    // A second item with neither From nor our property of its own: its attachment's and its
    // recipients' must not stand in for them.
    let bare = r#"<t:Message>
      <t:ItemId Id="bare"/>
      <t:Attachments><t:ItemAttachment><t:Name>fwd</t:Name><t:Message><t:ItemId Id="inner2"/>
        <t:ExtendedProperty><t:ExtendedFieldURI PropertySetId="6b2b3c54-5e0f-4c1c-9a3e-0ff11e1e0a1d" PropertyName="OfflineImMessageId" PropertyType="String"/><t:Value>inner-id</t:Value></t:ExtendedProperty>
        <t:From><t:Mailbox><t:Name>Inner Sender</t:Name><t:EmailAddress>inner@contoso.com</t:EmailAddress></t:Mailbox></t:From>
        <t:IsRead>false</t:IsRead>
      </t:Message></t:ItemAttachment></t:Attachments>
      <t:ToRecipients><t:Mailbox><t:Name>Ana Lopez</t:Name><t:EmailAddress>ana@contoso.com</t:EmailAddress></t:Mailbox></t:ToRecipients>
    </t:Message>"#;
    let success = |item: &str| fill(&fixture("exchange/getitem-success.xml"), &[("item", item)]);
    let reply = fill(&fixture("exchange/getitem.xml"), &[("messages", &[success(message), fixture("exchange/getitem-error.xml"), success(bare)].concat())]);
    let r = parse_items(200, &reply).unwrap();
    assert_eq!((r.items.len(), r.errors.as_slice()), (2, ["ErrorItemNotFound".to_string()].as_slice()), "two items, one per-item error");
    let b = &r.items[1];
    assert_eq!((b.item_id.as_str(), b.message_id.as_deref(), b.from_name.as_deref(), b.from_email.as_deref(), b.is_read), ("bare", None, None, None, None), "nothing borrowed from the attachment or the recipients");
    let i = &r.items[0];
    assert_eq!((i.item_id.as_str(), i.change_key.as_str(), i.item_class.as_str()), ("outer", "ck1", "IPM.Note.Microsoft.Missed"), "the attachment did not overwrite the item");
    assert_eq!(i.subject, "a <b> & c");
    assert_eq!(i.message_id.as_deref(), Some("ours"), "only our property set's OfflineImMessageId");
    assert_eq!((i.from_name.as_deref(), i.from_email.as_deref()), (Some("Tony Smith"), Some("tony@contoso.com")), "From, not a recipient");
    assert_eq!(i.is_read, Some(true), "xs:boolean 1");
    assert_eq!((i.body.as_deref(), i.received_at), (None, None), "the attachment's body and time are not the item's");
    assert_eq!((r.includes_last, r.next_offset), (true, None), "no RootFolder: nothing more to page");

    let page = |attrs: &str| fill(&fixture("exchange/finditem.xml"), &[("items", "")]).replace(r#"IndexedPagingOffset="{next}" TotalItemsInView="{total}" IncludesLastItemInRange="{last}""#, attrs);
    let r = parse_items(200, &page(r#"IndexedPagingOffset="200" TotalItemsInView="250" IncludesLastItemInRange="false""#)).unwrap();
    assert_eq!((r.includes_last, r.next_offset), (false, Some(200)));
    let r = parse_items(200, &page(r#"TotalItemsInView="0""#)).unwrap();
    assert_eq!((r.includes_last, r.next_offset), (true, None), "IncludesLastItemInRange absent means true");
}
