//! The recipient side natively: every request shape validated against the EWS schema, then run
//! through the local EWS server's operations (no HTTP) and read back.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::validate_envelope;
use ews_server::state::State;
use offline_im::ews::items::parse_items;
use offline_im::ews::recipient::*;
use offline_im::ews::soap::Header;
use offline_im::ews::{build_offline_message_envelope, Envelope, EnvelopeOptions, MailboxAddress, OfflineMessage};
use offline_im::missed::{group, html_to_text};

fn valid(env: Envelope) -> Envelope {
    if let Err(report) = validate_envelope(&env.xml) {
        panic!("schema rejects:\n{report}\n{}", env.xml);
    }
    env
}

fn run(s: &mut State, token: &str, env: &Envelope) -> (u16, String) {
    ews_server::handle(s, token, &env.xml)
}

fn send(s: &mut State, token: &str, id: &str, conversation: &str, to: &str, class: &str, text: &str) {
    let m = OfflineMessage { id: id.into(), conversation_id: Some(conversation.into()), to: MailboxAddress { email_address: to.into(), display_name: None }, text: text.into(), subject: None };
    let env = build_offline_message_envelope(&m, &EnvelopeOptions { item_class: Some(class.into()), ..Default::default() }).unwrap();
    let (status, reply) = run(s, token, &env);
    assert!(status == 200 && reply.contains("NoError"), "{reply}");
}

/// The real `check_missed` over the local server's operations, every request schema-checked.
fn missed(s: &mut State, token: &'static str) -> offline_im::missed::MissedReport {
    let cell = std::cell::RefCell::new(std::mem::replace(s, State::new()));
    let report = futures_executor::block_on(offline_im::ews::mailbox::check_missed(&Direct { state: &cell, token, validate: true }, &Header::default(), None));
    *s = cell.into_inner();
    report.unwrap()
}

#[test]
fn request_shapes_are_schema_valid() {
    let h = Header { server_version: Some("Exchange2016"), impersonate: Some("ana@contoso.com") };
    for folder in MISSED_FOLDERS {
        let env = valid(find_missed_envelope(folder, 200, &h).unwrap());
        assert_eq!(env.anchor_mailbox.as_deref(), Some("ana@contoso.com"), "X-AnchorMailbox with impersonation");
        assert_eq!(find_missed_envelope(folder, 0, &Header::default()).unwrap().anchor_mailbox, None);
    }
    assert!(find_missed_envelope("drafts", 0, &h).is_err());
    let ids = vec!["AAMk=1".to_string(), "AAMk\"<2>".to_string()];
    valid(get_items_envelope(&ids, &h).unwrap());
    valid(mark_read_envelope(&ids, &h).unwrap());
    assert_eq!(get_items_envelope(&[], &h).unwrap_err().code(), "InvalidInput");
    assert_eq!(mark_read_envelope(&vec!["x".to_string(); PAGE_SIZE + 1], &h).unwrap_err().code(), "InvalidInput");
    // Each id: 1 to 512 bytes, no control characters (an EWS ItemId is base64).
    assert!(get_items_envelope(&["x".repeat(512)], &h).is_ok());
    for bad in [String::new(), "x".repeat(513), "AAMk\u{1}=".to_string()] {
        assert_eq!(get_items_envelope(&["AAMk=1".to_string(), bad.clone()], &h).unwrap_err().code(), "InvalidInput", "{bad:?}");
    }
    let m = MissedInput {
        id: "im-1".into(),
        conversation_id: "c</t:Value><t:Bogus/>".into(),
        from: MailboxAddress { email_address: "sam@contoso.com".into(), display_name: Some("Sam \u{0}</t:Name>".into()) },
        text: "you missed <this>\nline 2".into(),
        received_at: 1_795_000_000_000,
    };
    let env = valid(record_missed_envelope(&m, &h).unwrap());
    assert_eq!(env.replaced_characters, 1);
    // The text limit at its boundary.
    let limit = offline_im::ews::create_item::DEFAULT_MAX_MESSAGE_BYTES;
    assert!(record_missed_envelope(&MissedInput { text: "x".repeat(limit), ..m.clone() }, &h).is_ok());
    assert_eq!(record_missed_envelope(&MissedInput { text: "x".repeat(limit + 1), ..m.clone() }, &h).unwrap_err().code(), "MessageTooLarge");
    // Ids: 1 to MAX_ID_BYTES, each field alone.
    let max = offline_im::ews::create_item::MAX_ID_BYTES;
    assert!(record_missed_envelope(&MissedInput { id: "i".repeat(max), conversation_id: "c".repeat(max), ..m.clone() }, &h).is_ok());
    for bad in [MissedInput { id: " ".into(), ..m.clone() }, MissedInput { id: "i".repeat(max + 1), ..m.clone() }, MissedInput { conversation_id: String::new(), ..m.clone() }, MissedInput { conversation_id: "c".repeat(max + 1), ..m.clone() }] {
        assert_eq!(record_missed_envelope(&bad, &h).unwrap_err().code(), "InvalidInput", "{:?}", (bad.id.len(), bad.conversation_id.len()));
    }
    assert!(env.xml.contains("<m:SavedItemFolderId><t:DistinguishedFolderId Id=\"conversationhistory\"/>"));
    assert!(env.xml.contains(r#"PropertyTag="0x0E07" PropertyType="Integer"/><t:Value>0</t:Value>"#));
    assert!(!env.xml.contains("<t:Bogus"));
}

#[test]
fn offline_recipient_sees_each_message_once_and_no_federated_mail() {
    let mut s = State::new();
    send(&mut s, "tony-token", "m1", "tony-ana", "ana@contoso.com", "IPM.Note.Microsoft.Missed", "first <b>line</b>\nsecond & more");
    // At-least-once on the wire: the same message delivered twice.
    send(&mut s, "tony-token", "m1", "tony-ana", "ana@contoso.com", "IPM.Note.Microsoft.Missed", "first <b>line</b>\nsecond & more");
    send(&mut s, "tony-token", "m2", "tony-ana", "ana@contoso.com", "IM.Note.MissedConversation", "written with the seed's class name");
    send(&mut s, "bob-token", "f1", "bob-ana", "ana@contoso.com", "IPM.Note.Microsoft.Missed", "from a federated organisation");
    let report = missed(&mut s, "ana-token");
    assert_eq!((report.total, report.items_scanned), (2, 3), "m1 once (two items), m2; bob's plain mail is not listed");
    assert_eq!(report.conversations.len(), 1);
    let c = &report.conversations[0];
    assert_eq!((c.from_email.as_str(), c.from_name.as_str(), c.conversation_id.as_str()), ("tony@contoso.com", "Tony Smith", "tony-ana"));
    assert_eq!(c.messages[0].message_id, "m1");
    assert_eq!(c.messages[0].item_ids.len(), 2);
    assert_eq!(c.messages[0].text, "first <b>line</b>\nsecond & more");

    // markSeen marks every copy read; nothing is left.
    let ids: Vec<String> = c.messages.iter().flat_map(|m| m.item_ids.clone()).collect();
    let (status, reply) = run(&mut s, "ana-token", &valid(mark_read_envelope(&ids, &Header::default()).unwrap()));
    assert_eq!(parse_items(status, &reply).unwrap().items.len(), 3);
    assert_eq!(missed(&mut s, "ana-token").total, 0);
}

#[test]
fn dnd_recipient_records_a_missed_item_in_conversation_history() {
    let mut s = State::new();
    let m = MissedInput { id: "live-7".into(), conversation_id: "sam-ana".into(), from: MailboxAddress { email_address: "sam@contoso.com".into(), display_name: Some("Sam Lee".into()) }, text: "ping while you present".into(), received_at: 1_795_000_000_000 };
    let (status, reply) = run(&mut s, "ana-token", &valid(record_missed_envelope(&m, &Header::default()).unwrap()));
    assert_eq!(parse_items(status, &reply).unwrap().items.len(), 1, "SaveOnly returns the new item id");
    let item = &s.items[0];
    assert_eq!((item.mailbox.as_str(), item.folder.as_str(), item.is_draft, item.is_read), ("ana@contoso.com", "conversationhistory", false, false));
    assert_eq!(item.from.as_ref().unwrap().email, "sam@contoso.com");
    assert!(s.items.iter().all(|i| i.folder != "drafts"), "no draft, and no mail was sent");
    let report = missed(&mut s, "ana-token");
    assert_eq!(report.total, 1);
    assert_eq!(report.conversations[0].messages[0].text, "ping while you present");
}

#[test]
fn errors_and_paging() {
    let mut s = State::new();
    for i in 0..(PAGE_SIZE + 5) {
        send(&mut s, "tony-token", &format!("p{i}"), &format!("c{}", i % 7), "ana@contoso.com", "IPM.Note.Microsoft.Missed", "x");
    }
    let report = missed(&mut s, "ana-token");
    assert_eq!((report.total, report.items_scanned), (PAGE_SIZE + 5, PAGE_SIZE + 5), "check_missed paged through two FindItem pages");
    assert_eq!(report.conversations.len(), 7);
    // An unknown id is a per-item error; the others still come back.
    let ids = vec![s.items[0].id.clone(), "gone".into()];
    let (status, reply) = run(&mut s, "ana-token", &get_items_envelope(&ids, &Header::default()).unwrap());
    let r = parse_items(status, &reply).unwrap();
    assert_eq!((r.items.len(), r.errors.as_slice()), (1, ["ErrorItemNotFound".to_string()].as_slice()));
    // A whole-reply failure is an outcome, not an empty list.
    assert!(parse_items(401, "").is_err());
    assert!(parse_items(200, "<html>login</html>").is_err());
}

#[test]
fn html_bodies_become_text() {
    assert_eq!(html_to_text("<html><head><meta x></head><body><div>a &lt;b&gt; &amp; c<br>\nd</div></body></html>"), "a <b> & c\nd");
    assert_eq!(html_to_text("plain"), "plain");
    // Block elements each on a line of their own; white space collapses as HTML renders it.
    assert_eq!(html_to_text("<div>a</div><div>b</div><p>c</p>"), "a\nb\nc");
    assert_eq!(html_to_text("<body>\r\n  <div>\r\n one  \t two\r\n</div>\r\n</body>"), "one two");
    assert_eq!(html_to_text("x<br/>y<BR >z<br>"), "x\ny\nz");
    // References: XML's five, &nbsp;, decimal and hex; unknown and malformed ones stay as written.
    assert_eq!(html_to_text("&apos;&quot;&nbsp;&#65;&#x42;&#X43;"), "'\" ABC");
    assert_eq!(html_to_text("&copy; &#0; &#xZZ; & &amp"), "&copy; &#0; &#xZZ; & &amp");
    // A tag that never closes ends the text.
    assert_eq!(html_to_text("a <b"), "a");
}

/// A transport straight into the local EWS server's operations; `validate`: check each request
/// against the EWS schema first.
struct Direct<'a> {
    state: &'a std::cell::RefCell<State>,
    token: &'static str,
    validate: bool,
}
impl offline_im::spool::Transport for Direct<'_> {
    async fn send(&self, request: &offline_im::mailbox::Request) -> Result<offline_im::spool::TransportReply, offline_im::spool::TransportError> {
        let xml = request.body.as_deref().unwrap_or_default();
        if self.validate {
            if let Err(report) = validate_envelope(xml) {
                panic!("schema rejects:\n{report}\n{xml}");
            }
        }
        let (status, body) = ews_server::handle(&mut self.state.borrow_mut(), self.token, xml);
        Ok(offline_im::spool::TransportReply::new(status, body))
    }
}

#[test]
fn check_missed_mark_seen_and_record_missed_over_a_transport() {
    use futures_executor::block_on;
    use offline_im::ews::mailbox::{check_missed, mark_seen, record_missed};
    let cell = std::cell::RefCell::new(State::new());
    send(&mut cell.borrow_mut(), "tony-token", "m1", "c", "ana@contoso.com", "IPM.Note.Microsoft.Missed", "hello");
    send(&mut cell.borrow_mut(), "tony-token", "m1", "c", "ana@contoso.com", "IPM.Note.Microsoft.Missed", "hello");
    let ana = Direct { state: &cell, token: "ana-token", validate: false };
    let h = Header::default();
    let m = MissedInput { id: "live-1".into(), conversation_id: "sam-ana".into(), from: MailboxAddress { email_address: "sam@contoso.com".into(), display_name: Some("Sam Lee".into()) }, text: "while presenting".into(), received_at: 1 };
    let new_id = block_on(record_missed(&ana, &h, &m)).unwrap();
    assert!(new_id.starts_with("AAMk"));
    let report = block_on(check_missed(&ana, &h, None)).unwrap();
    assert_eq!((report.total, report.conversations.len()), (2, 2));
    let all: Vec<String> = report.conversations.iter().flat_map(|c| c.messages.iter().flat_map(|m| m.item_ids.clone())).collect();
    assert_eq!(block_on(mark_seen(&ana, &h, &all)).unwrap(), 3);
    assert_eq!(block_on(check_missed(&ana, &h, None)).unwrap().total, 0);
    // `since` in the future leaves everything out; a bad token is AuthRequired.
    send(&mut cell.borrow_mut(), "tony-token", "m9", "c", "ana@contoso.com", "IPM.Note.Microsoft.Missed", "late");
    assert_eq!(block_on(check_missed(&ana, &h, Some(u64::MAX))).unwrap().total, 0);
    let stranger = Direct { state: &cell, token: "nobody", validate: false };
    assert_eq!(block_on(check_missed(&stranger, &h, None)).unwrap_err().code(), "AuthRequired");
}

/// `group` on its own: which items count, which copy speaks for a message, and bodies by type.
#[test]
fn grouping_rules() {
    use offline_im::ews::items::ItemSummary;
    let item = |id: &str, msg: &str, at: Option<u64>| ItemSummary {
        item_id: id.into(),
        item_class: "IPM.Note.Microsoft.Missed".into(),
        subject: format!("subject of {id}"),
        body: Some("<b>x</b> &amp; y".into()),
        body_type: Some("HTML".into()),
        received_at: at,
        message_id: Some(msg.into()),
        conversation_id: Some("c".into()),
        from_email: Some("Tony@Contoso.com".into()),
        ..Default::default()
    };
    let items = vec![
        item("late-copy", "m1", Some(200)),
        item("early-copy", "m1", Some(100)),
        ItemSummary { body_type: Some("Text".into()), ..item("text", "m2", Some(300)) },
        item("no-time", "m3", None),
        ItemSummary { is_read: Some(true), ..item("read", "m4", Some(400)) },
        ItemSummary { item_class: "IPM.Note".into(), ..item("plain-mail", "m5", Some(500)) },
        ItemSummary { is_read: Some(false), item_class: "IM.Note.MissedConversation".into(), ..item("seed-class", "m6", Some(50)) },
        item("old", "m7", Some(10)),
    ];
    let report = group(items.clone(), Some(50));
    assert_eq!((report.items_scanned, report.total), (8, 4), "m1 (two copies), m2, m3, m6; not read, plain mail, or before since");
    let c = &report.conversations[0];
    assert_eq!(c.from_email, "tony@contoso.com");
    let ids: Vec<&str> = c.messages.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, ["m3", "m6", "m1", "m2"], "oldest first; no received time sorts as 0 and is kept with since");
    let m1 = &c.messages[2];
    assert_eq!((m1.subject.as_str(), m1.received_at, m1.item_ids.len()), ("subject of early-copy", 100, 2), "the earliest copy speaks");
    assert_eq!(m1.text, "x & y", "HTML body as text");
    assert_eq!(c.messages[3].text, "<b>x</b> &amp; y", "a Text body is shown as it is");
    assert_eq!(group(items, None).total, 5, "without since the old one counts too");

    // Conversations: newest last message first; equal times by sender, then conversation id,
    // whatever order the items came in (the grouping uses hash maps, which have none).
    let from = |id: &str, sender: &str, conversation: &str, at: u64| ItemSummary {
        from_email: Some(sender.into()),
        conversation_id: Some(conversation.into()),
        ..item(id, id, Some(at))
    };
    let mut items = vec![
        from("a", "zed@contoso.com", "c1", 100),
        from("b", "amy@contoso.com", "c2", 100),
        from("c", "amy@contoso.com", "c1", 100),
        from("d", "bob@contoso.com", "c1", 300),
        from("e", "zed@contoso.com", "c1", 50),
    ];
    for _ in 0..items.len() {
        items.rotate_left(1);
        let order: Vec<(String, String)> = group(items.clone(), None).conversations.into_iter().map(|c| (c.from_email, c.conversation_id)).collect();
        let want = [("bob@contoso.com", "c1"), ("amy@contoso.com", "c1"), ("amy@contoso.com", "c2"), ("zed@contoso.com", "c1")];
        assert_eq!(order, want.map(|(a, b)| (a.to_string(), b.to_string())), "items in order {:?}", items.iter().map(|i| &i.item_id).collect::<Vec<_>>());
    }
}

/// The module's impersonated send against the local server's impersonation model: the service
/// account delivers as Tony (the envelope's anchorMailbox is the X-AnchorMailbox header); an
/// account without ApplicationImpersonation is a permanent failure.
#[test]
fn impersonated_send_through_the_local_server() {
    use offline_im::ews::{parse_ews_response, EwsOutcome};
    let mut s = State::new();
    let m = OfflineMessage { id: "imp-1".into(), conversation_id: None, to: MailboxAddress { email_address: "ana@contoso.com".into(), display_name: None }, text: "hi".into(), subject: None };
    let env = build_offline_message_envelope(&m, &EnvelopeOptions { impersonate: Some("tony@contoso.com".into()), ..Default::default() }).unwrap();
    let (status, body) = ews_server::handle_with(&mut s, "svc-token", env.anchor_mailbox.as_deref(), &env.xml);
    assert_eq!(parse_ews_response(status, &body), EwsOutcome::Delivered { response_class: "Success".into() });
    assert_eq!(s.items[0].from.as_ref().map(|f| f.email.as_str()), Some("tony@contoso.com"));
    let (status, body) = ews_server::handle_with(&mut s, "sam-token", env.anchor_mailbox.as_deref(), &env.xml);
    assert!(matches!(parse_ews_response(status, &body), EwsOutcome::PermanentFailure { ref code, .. } if code == "ErrorImpersonateUserDenied"));
}
