//! Every CreateItem envelope shape, validated against Microsoft's EWS schema with xmllint, and
#![cfg(not(target_arch = "wasm32"))]
//! read back with a namespace-aware parser to check the content survived escaping.

mod common;

use common::validate_envelope;
use offline_im::ews::{build_batch_envelope, build_offline_message_envelope, validate_offline_message, EnvelopeOptions, MailboxAddress, OfflineMessage, PROPERTY_SET_ID};
use offline_im::Error;
use quick_xml::events::Event;
use quick_xml::NsReader;

fn message(text: &str) -> OfflineMessage {
    OfflineMessage {
        id: "msg-0001".into(),
        conversation_id: Some("conv-42".into()),
        to: MailboxAddress { email_address: "ana@contoso.com".into(), display_name: Some("Ana Lopez".into()) },
        text: text.into(),
        subject: None,
    }
}

/// Text content of every element with local name `local` in namespace `ns`, in document order.
fn texts(xml: &str, ns: &str, local: &str) -> Vec<String> {
    let mut r = NsReader::from_str(xml);
    let mut out = Vec::new();
    let mut inside = false;
    let mut cur = String::new();
    loop {
        match r.read_resolved_event().unwrap() {
            (quick_xml::name::ResolveResult::Bound(n), Event::Start(e)) if n.0 == ns && e.local_name().as_ref() == local => {
                inside = true;
                cur.clear();
            }
            (_, Event::Text(t)) if inside => cur.push_str(&t.xml10_content()),
            (_, Event::GeneralRef(g)) if inside => cur.push_str(&quick_xml::escape::unescape(&["&", &g.xml10_content(), ";"].concat()).unwrap()),
            (_, Event::End(e)) if inside && e.local_name().as_ref() == local => {
                inside = false;
                out.push(cur.clone());
            }
            (_, Event::Eof) => return out,
            _ => {}
        }
    }
}

const T: &str = "http://schemas.microsoft.com/exchange/services/2006/types";

fn valid(m: &OfflineMessage, o: &EnvelopeOptions) -> offline_im::ews::Envelope {
    let env = build_offline_message_envelope(m, o).expect("builds");
    if let Err(report) = validate_envelope(&env.xml) {
        panic!("schema rejects envelope:\n{report}\n{}", env.xml);
    }
    env
}

#[test]
fn same_org_missed_conversation() {
    let env = valid(&message("hello Ana"), &EnvelopeOptions::default());
    assert!(env.xml.contains(r#"<m:CreateItem MessageDisposition="SendOnly">"#));
    assert!(!env.xml.contains("SavedItemFolderId"), "SendOnly leaves no copy: no saved-item folder");
    assert_eq!(texts(&env.xml, T, "ItemClass"), ["IPM.Note.Microsoft.Missed"]);
    assert_eq!(texts(&env.xml, T, "Subject"), ["hello Ana"]);
    assert_eq!(texts(&env.xml, T, "EmailAddress"), ["ana@contoso.com"]);
    assert_eq!(texts(&env.xml, T, "Name"), ["Ana Lopez"]);
    assert_eq!(texts(&env.xml, T, "Value"), ["msg-0001", "conv-42"]);
    assert!(env.xml.contains(PROPERTY_SET_ID));
    assert!(env.xml.contains(r#"<t:RequestServerVersion Version="Exchange2013"/>"#));
    assert_eq!(env.soap_action, "http://schemas.microsoft.com/exchange/services/2006/messages/CreateItem");
    assert_eq!(env.replaced_characters, 0);
}

#[test]
fn federated_plain_mail_and_seed_alias() {
    let mut m = message("hi Bob");
    m.to = MailboxAddress { email_address: "bob@fabrikam.com".into(), display_name: None };
    let env = valid(&m, &EnvelopeOptions { item_class: Some("IPM.Note".into()), ..Default::default() });
    assert_eq!(texts(&env.xml, T, "ItemClass"), ["IPM.Note"]);
    assert!(texts(&env.xml, T, "Name").is_empty());
    let env = valid(&message("x"), &EnvelopeOptions { item_class: Some("IM.Note.MissedConversation".into()), ..Default::default() });
    assert_eq!(texts(&env.xml, T, "ItemClass"), ["IPM.Note.Microsoft.Missed"], "seed alias normalised");
}

#[test]
fn impersonation_and_server_version() {
    let o = EnvelopeOptions { impersonate: Some("tony@contoso.com".into()), server_version: Some("Exchange2016".into()), ..Default::default() };
    let env = valid(&message("hi"), &o);
    assert_eq!(texts(&env.xml, T, "PrimarySmtpAddress"), ["tony@contoso.com"]);
    assert!(env.xml.contains(r#"Version="Exchange2016""#));
    // Impersonation needs the X-AnchorMailbox header with the impersonated address (Microsoft:
    // "you must always use the X-AnchorMailbox request header"); without it, no header.
    assert_eq!(env.anchor_mailbox.as_deref(), Some("tony@contoso.com"));
    assert_eq!(valid(&message("hi"), &EnvelopeOptions::default()).anchor_mailbox, None);
    let bad = EnvelopeOptions { server_version: Some("Exchange2099".into()), ..Default::default() };
    assert!(matches!(build_offline_message_envelope(&message("hi"), &bad), Err(Error::InvalidInput { field: "serverVersion", .. })));
    let bad = EnvelopeOptions { impersonate: Some("not an address".into()), ..Default::default() };
    assert_eq!(build_offline_message_envelope(&message("hi"), &bad).unwrap_err().code(), "InvalidAddress");
}

#[test]
fn html_body_keeps_line_breaks_and_escapes_markup() {
    let env = valid(&message("line <one>\nline & two\r\nthree"), &EnvelopeOptions::default());
    let body = &texts(&env.xml, T, "Body")[0];
    assert!(body.contains("line &lt;one&gt;<br>\nline &amp; two<br>\nthree"), "{body}");
    assert!(env.xml.contains(r#"<t:Body BodyType="HTML">"#));
}

#[test]
fn xml_injection_attempts_stay_text() {
    let attack = r#"</t:Body><t:Bogus>x</t:Bogus><!-- ]]> <![CDATA[ "'&amp;"#;
    let mut m = message(attack);
    m.subject = Some(attack.into());
    m.id = "a\"><t:Bogus/>".into();
    m.conversation_id = Some("]]>&lt;".into());
    m.to.display_name = Some("</t:Name><t:Bogus/>".into());
    let env = valid(&m, &EnvelopeOptions::default());
    assert!(!env.xml.contains("<t:Bogus"), "no injected element");
    assert_eq!(texts(&env.xml, T, "Subject"), [attack]);
    assert_eq!(texts(&env.xml, T, "Value"), ["a\"><t:Bogus/>", "]]>&lt;"]);
    assert_eq!(texts(&env.xml, T, "Name"), ["</t:Name><t:Bogus/>"]);
}

#[test]
fn characters_xml_cannot_carry_are_replaced_and_counted() {
    let mut m = message("bell\u{7} nul\u{0} esc\u{1b} \u{FFFF} emoji 😀 tab\tok");
    m.to.display_name = Some("Ana\u{0}".into());
    m.id = "id\u{1}".into();
    let env = valid(&m, &EnvelopeOptions::default());
    assert_eq!(env.replaced_characters, 4 + 4 + 1 + 1, "text (body and subject) 4 each, name 1, id 1");
    assert!(texts(&env.xml, T, "Body")[0].contains("bell\u{FFFD} nul\u{FFFD} esc\u{FFFD} \u{FFFD} emoji 😀 tab\tok"));
}

#[test]
fn size_limits_and_bad_input() {
    let big = "x".repeat(70_000);
    assert_eq!(build_offline_message_envelope(&message(&big), &EnvelopeOptions::default()).unwrap_err(), Error::MessageTooLarge { size: 70_000, limit: 65_536 });
    let o = EnvelopeOptions { max_message_bytes: Some(10), ..Default::default() };
    // The limit counts UTF-8 bytes: four 3-byte characters are 12 bytes.
    assert_eq!(build_offline_message_envelope(&message("€€€€"), &o).unwrap_err().code(), "MessageTooLarge");
    valid(&message(&"y".repeat(65_536)), &EnvelopeOptions::default());

    let mut m = message("  ");
    assert_eq!(build_offline_message_envelope(&m, &EnvelopeOptions::default()).unwrap_err().code(), "InvalidInput");
    m = message("hi");
    m.id = String::new();
    assert!(matches!(build_offline_message_envelope(&m, &EnvelopeOptions::default()), Err(Error::InvalidInput { field: "id", .. })));
    m = message("hi");
    m.to.email_address = "ana@contoso.com</t:EmailAddress>".into();
    assert_eq!(build_offline_message_envelope(&m, &EnvelopeOptions::default()).unwrap_err().code(), "InvalidAddress");
    m = message("hi");
    m.to.email_address = format!("{}@contoso.com", "a".repeat(400));
    assert_eq!(build_offline_message_envelope(&m, &EnvelopeOptions::default()).unwrap_err().code(), "InvalidAddress");
    m = message("hi");
    m.subject = Some("s".repeat(256));
    assert!(matches!(build_offline_message_envelope(&m, &EnvelopeOptions::default()), Err(Error::InvalidInput { field: "subject", .. })));
    let o = EnvelopeOptions { item_class: Some("IPM Note".into()), ..Default::default() };
    assert!(matches!(build_offline_message_envelope(&message("hi"), &o), Err(Error::InvalidInput { field: "itemClass", .. })));
}

/// The spool validates without writing XML: it must accept exactly what the writer accepts.
#[test]
fn validation_without_writing_agrees_with_the_writer() {
    let mut cases: Vec<(OfflineMessage, EnvelopeOptions)> = Vec::new();
    let d = EnvelopeOptions::default;
    cases.push((message("hi"), d()));
    cases.push((message(&"x".repeat(70_000)), d()));
    cases.push((message("€€€€"), EnvelopeOptions { max_message_bytes: Some(10), ..d() }));
    cases.push((message(" \n "), d()));
    let mut m = message("hi");
    m.id = String::new();
    cases.push((m, d()));
    let mut m = message("hi");
    m.conversation_id = Some("c".repeat(300));
    cases.push((m, d()));
    let mut m = message("hi");
    m.to.email_address = "not an address".into();
    cases.push((m, d()));
    let mut m = message("hi");
    m.to.display_name = Some("n".repeat(256));
    cases.push((m, d()));
    cases.push((message("hi"), EnvelopeOptions { item_class: Some("IPM Note".into()), ..d() }));
    cases.push((message("hi"), EnvelopeOptions { server_version: Some("Exchange1999".into()), ..d() }));
    cases.push((message("hi"), EnvelopeOptions { impersonate: Some("tony@".into()), ..d() }));
    cases.push((message("hi"), EnvelopeOptions { impersonate: Some("tony@contoso.com".into()), item_class: Some("IM.Note.MissedConversation".into()), ..d() }));
    let mut ok = 0;
    for (m, o) in &cases {
        let built = build_offline_message_envelope(m, o).map(drop);
        assert_eq!(validate_offline_message(m, o), built, "{:?} {:?}", m.id, o);
        ok += built.is_ok() as usize;
    }
    assert_eq!(ok, 2, "two of the cases are valid, the rest each break one rule");
}

#[test]
fn default_subject_is_first_line_and_conversation_defaults_to_id() {
    let mut m = message("\n first line \nsecond");
    m.conversation_id = None;
    let env = valid(&m, &EnvelopeOptions::default());
    assert_eq!(texts(&env.xml, T, "Subject"), ["first line"]);
    assert_eq!(texts(&env.xml, T, "Value"), ["msg-0001", "msg-0001"]);
}

#[test]
fn schema_check_is_real() {
    // The validator must reject a wrong element order, or the tests above prove nothing.
    let env = build_offline_message_envelope(&message("hi"), &EnvelopeOptions::default()).unwrap();
    let swapped = env.xml.replacen("<t:ItemClass>IPM.Note.Microsoft.Missed</t:ItemClass>", "", 1).replacen("</t:Subject>", "</t:Subject><t:ItemClass>IPM.Note.Microsoft.Missed</t:ItemClass>", 1);
    assert!(validate_envelope(&swapped).is_err());
    assert!(validate_envelope(&env.xml.replace("SendOnly", "SendNow")).is_err());
}

/// Length limits at their boundaries, each alone: ids in bytes, names in characters (multi-byte
/// characters count once), the item class in characters of ASCII.
#[test]
fn limits_at_their_boundaries() {
    use offline_im::ews::create_item::{MAX_ID_BYTES, MAX_NAME_CHARS};
    let code = |m: &OfflineMessage, o: &EnvelopeOptions| build_offline_message_envelope(m, o).err().map(|e| e.code());
    let d = EnvelopeOptions::default();
    assert_eq!(code(&OfflineMessage { id: "i".repeat(MAX_ID_BYTES), ..message("hi") }, &d), None);
    assert_eq!(code(&OfflineMessage { id: "i".repeat(MAX_ID_BYTES + 1), ..message("hi") }, &d), Some("InvalidInput"));
    let named = |n: String| OfflineMessage { to: MailboxAddress { email_address: "ana@contoso.com".into(), display_name: Some(n) }, ..message("hi") };
    assert_eq!(code(&named("é".repeat(MAX_NAME_CHARS)), &d), None, "255 characters, 510 bytes");
    assert_eq!(code(&named("é".repeat(MAX_NAME_CHARS + 1)), &d), Some("InvalidInput"));
    let class = |c: String| EnvelopeOptions { item_class: Some(c), ..EnvelopeOptions::default() };
    assert_eq!(code(&message("hi"), &class(["IPM.Note.", &"x".repeat(246)].concat())), None, "255 characters");
    assert_eq!(code(&message("hi"), &class(["IPM.Note.", &"x".repeat(247)].concat())), Some("InvalidInput"));
    assert_eq!(code(&message("hi"), &class("IPM.Note.A B".into())), Some("InvalidInput"), "white space");
    // A blank subject is no subject: it comes from the text's first line.
    let env = build_offline_message_envelope(&OfflineMessage { subject: Some("   ".into()), ..message("first line\nsecond") }, &d).unwrap();
    assert!(env.xml.contains("<t:Subject>first line</t:Subject>"), "{}", env.xml);
}

/// Issue 14: a batched CreateItem holds one `t:Message` per message, in order, each with its own
/// item class, and is valid against Microsoft's schema; 0 or more than 100 messages are refused.
#[test]
fn a_batch_envelope_is_schema_valid_and_keeps_order_and_classes() {
    let mut second = message("second <b>");
    second.id = "msg-0002".into();
    second.to.email_address = "bob@fabrikam.com".into();
    let third = OfflineMessage { id: "msg-0003".into(), ..message("third") };
    let items = [(&message("first"), None), (&second, Some("IPM.Note")), (&third, Some("IM.Note.MissedConversation"))];
    let env = build_batch_envelope(&items, &EnvelopeOptions { impersonate: Some("tony@contoso.com".into()), ..Default::default() }).expect("builds");
    if let Err(report) = validate_envelope(&env.xml) {
        panic!("schema rejects the batch envelope:\n{report}\n{}", env.xml);
    }
    assert_eq!(env.xml.matches("<t:Message>").count(), 3);
    assert_eq!(texts(&env.xml, T, "ItemClass"), ["IPM.Note.Microsoft.Missed", "IPM.Note", "IPM.Note.Microsoft.Missed"]);
    assert_eq!(texts(&env.xml, T, "Subject"), ["first", "second <b>", "third"]);
    assert_eq!(texts(&env.xml, T, "EmailAddress"), ["ana@contoso.com", "bob@fabrikam.com", "ana@contoso.com"]);
    assert_eq!(env.anchor_mailbox.as_deref(), Some("tony@contoso.com"));
    let one = message("x");
    assert!(matches!(build_batch_envelope(&[], &EnvelopeOptions::default()), Err(Error::InvalidInput { field: "items", .. })));
    let many = vec![(&one, None); 101];
    assert!(matches!(build_batch_envelope(&many, &EnvelopeOptions::default()), Err(Error::InvalidInput { field: "items", .. })));
    assert!(build_batch_envelope(&many[..100], &EnvelopeOptions::default()).is_ok());
}
