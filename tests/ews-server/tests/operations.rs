//! The local EWS server's operations, without HTTP: requests are schema-valid EWS documents and
//! every reply is validated with xmllint against Microsoft's schema in shared/ews-schema.

use ews_server::handle;
use ews_server::state::State;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const HEAD: &str = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><soap:Header><t:RequestServerVersion Version="Exchange2013"/></soap:Header><soap:Body>"#;
const TAIL: &str = "</soap:Body></soap:Envelope>";
const SET: &str = "6b2b3c54-5e0f-4c1c-9a3e-0ff11e1e0a1d";

fn validate(xml: &str) {
    let schema = std::env::var_os("EWS_SCHEMA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ews-schema")).join("soap-envelope.xsd");
    let mut child = Command::new("xmllint").args(["--noout", "--nonet", "--schema"]).arg(&schema).arg("-").stdin(Stdio::piped()).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().expect("xmllint");
    child.stdin.take().unwrap().write_all(xml.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "schema rejects:\n{}\n{xml}", String::from_utf8_lossy(&out.stderr));
}

/// Sends `body` (validated first) as `token`; validates and returns the reply.
fn call(s: &mut State, token: &str, body: &str) -> (u16, String) {
    let request = [HEAD, body, TAIL].concat();
    validate(&request);
    let (status, reply) = handle(s, token, &request);
    validate(&reply);
    (status, reply)
}

fn create(disposition: &str, folder: Option<&str>, class: &str, to: &str, id: &str, flags: Option<&str>) -> String {
    let saved = folder.map(|f| format!(r#"<m:SavedItemFolderId><t:DistinguishedFolderId Id="{f}"/></m:SavedItemFolderId>"#)).unwrap_or_default();
    let flags = flags.map(|v| format!(r#"<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x0E07" PropertyType="Integer"/><t:Value>{v}</t:Value></t:ExtendedProperty>"#)).unwrap_or_default();
    format!(
        r#"<m:CreateItem MessageDisposition="{disposition}">{saved}<m:Items><t:Message><t:ItemClass>{class}</t:ItemClass><t:Subject>hi {id}</t:Subject><t:Body BodyType="HTML">&lt;div&gt;hi&lt;/div&gt;</t:Body><t:ExtendedProperty><t:ExtendedFieldURI PropertySetId="{SET}" PropertyName="OfflineImMessageId" PropertyType="String"/><t:Value>{id}</t:Value></t:ExtendedProperty>{flags}<t:ToRecipients><t:Mailbox><t:EmailAddress>{to}</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>"#
    )
}

fn find(folder: &str, class: &str, max: u32, offset: u32) -> String {
    format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:ItemClass"/><t:ExtendedFieldURI PropertySetId="{SET}" PropertyName="OfflineImMessageId" PropertyType="String"/></t:AdditionalProperties></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="{max}" Offset="{offset}" BasePoint="Beginning"/><m:Restriction><t:And><t:IsEqualTo><t:FieldURI FieldURI="item:ItemClass"/><t:FieldURIOrConstant><t:Constant Value="{class}"/></t:FieldURIOrConstant></t:IsEqualTo><t:IsEqualTo><t:FieldURI FieldURI="message:IsRead"/><t:FieldURIOrConstant><t:Constant Value="false"/></t:FieldURIOrConstant></t:IsEqualTo></t:And></m:Restriction><m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/></m:ParentFolderIds></m:FindItem>"#
    )
}

fn ids_of(reply: &str) -> Vec<String> {
    reply.split("<t:ItemId Id=\"").skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect()
}

#[test]
fn send_only_delivers_to_inbox_and_leaves_nothing_with_the_sender() {
    let mut s = State::new();
    let (status, reply) = call(&mut s, "tony-token", &create("SendOnly", None, "IPM.Note.Microsoft.Missed", "ana@contoso.com", "m1", None));
    assert_eq!(status, 200);
    assert!(reply.contains(r#"ResponseClass="Success""#));
    assert_eq!(s.items.len(), 1);
    let item = &s.items[0];
    assert_eq!((item.mailbox.as_str(), item.folder.as_str(), item.item_class.as_str(), item.is_draft), ("ana@contoso.com", "inbox", "IPM.Note.Microsoft.Missed", false));
    assert_eq!(item.from.as_ref().unwrap().email, "tony@contoso.com");
}

#[test]
fn federated_delivery_drops_the_missed_class_and_mapi_properties() {
    let mut s = State::new();
    call(&mut s, "tony-token", &create("SendOnly", None, "IPM.Note.Microsoft.Missed", "bob@fabrikam.com", "f1", None));
    call(&mut s, "bob-token", &create("SendOnly", None, "IM.Note.MissedConversation", "ana@contoso.com", "f2", None));
    assert!(s.items.iter().all(|i| i.item_class == "IPM.Note"), "{:?}", s.items.iter().map(|i| &i.item_class).collect::<Vec<_>>());
    assert!(s.items.iter().all(|i| i.extended.is_empty()), "named properties do not cross SMTP between organisations");
    // Inside one organisation they are kept.
    call(&mut s, "tony-token", &create("SendOnly", None, "IPM.Note.Microsoft.Missed", "ana@contoso.com", "i1", None));
    assert_eq!(s.items.last().unwrap().extended[0].value, "i1");
}

#[test]
fn save_only_and_send_and_save_copy() {
    let mut s = State::new();
    call(&mut s, "ana-token", &create("SaveOnly", None, "IPM.Note", "ana@contoso.com", "d1", None));
    assert_eq!((s.items[0].folder.as_str(), s.items[0].is_draft), ("drafts", true), "SaveOnly without flags is a draft");
    let (_, reply) = call(&mut s, "ana-token", &create("SaveOnly", Some("inbox"), "IPM.Note.Microsoft.Missed", "ana@contoso.com", "d2", Some("1")));
    assert_eq!(ids_of(&reply).len(), 1);
    assert_eq!((s.items[1].folder.as_str(), s.items[1].is_draft, s.items[1].is_read), ("inbox", false, true), "MSGFLAG_READ without MSGFLAG_UNSENT");
    call(&mut s, "tony-token", &create("SendAndSaveCopy", None, "IPM.Note", "ana@contoso.com", "c1", None));
    assert!(s.items.iter().any(|i| i.mailbox == "tony@contoso.com" && i.folder == "sentitems"));
}

#[test]
fn unknown_recipients_get_an_ndr_and_malformed_requests_a_fault() {
    let mut s = State::new();
    // Accepted, then a non-delivery report in the sender's Inbox (as Exchange transport does).
    let (status, reply) = call(&mut s, "tony-token", &create("SendOnly", None, "IPM.Note", "nobody@contoso.com", "x", None));
    assert!(status == 200 && reply.contains("NoError"), "{reply}");
    let ndr = s.items.iter().find(|i| i.item_class == "REPORT.IPM.Note.NDR").expect("an NDR");
    assert_eq!((ndr.mailbox.as_str(), ndr.folder.as_str(), ndr.subject.as_str()), ("tony@contoso.com", "inbox", "Undeliverable: hi x"));
    assert!(ndr.body.contains("nobody@contoso.com") && ndr.body.contains("5.1.10"));
    assert_eq!(s.items.len(), 1, "nothing delivered to anyone else");
    let (_, reply) = call(&mut s, "tony-token", &create("SendOnly", None, "IPM.Note", "not-an-address", "y", None));
    assert!(reply.contains("ErrorInvalidRecipients"), "a malformed address is refused at once: {reply}");
    let (status, reply) = handle(&mut s, "tony-token", "<not xml");
    assert_eq!(status, 500);
    // shared/ews-schema/soap-envelope.xsd admits only EWS elements in the Body, so a soap:Fault
    // cannot be validated with it; its content is checked instead.
    assert!(reply.contains("<s:Fault><faultcode") && reply.contains("<e:ResponseCode xmlns:e=\"http://schemas.microsoft.com/exchange/services/2006/errors\">ErrorSchemaValidation</e:ResponseCode>"), "{reply}");
    let (status, _) = handle(&mut s, "wrong-token", &[HEAD, TAIL].concat());
    assert_eq!(status, 401);
}

#[test]
fn find_get_update_delete() {
    let mut s = State::new();
    for i in 0..5 {
        call(&mut s, "tony-token", &create("SendOnly", None, "IPM.Note.Microsoft.Missed", "ana@contoso.com", &format!("m{i}"), None));
    }
    call(&mut s, "tony-token", &create("SendOnly", None, "IPM.Note", "ana@contoso.com", "plain", None));
    // The seed's class name finds the same items (Exchange compares classes case-insensitively; the alias is the crate's job).
    let (_, page1) = call(&mut s, "ana-token", &find("inbox", "IPM.Note.Microsoft.Missed", 3, 0));
    assert!(page1.contains(r#"TotalItemsInView="5""#) && page1.contains(r#"IncludesLastItemInRange="false""#), "{page1}");
    assert!(page1.contains("<t:Value>m4</t:Value>"), "newest first, with the requested extended property");
    let (_, page2) = call(&mut s, "ana-token", &find("inbox", "ipm.note.microsoft.missed", 3, 3));
    assert!(page2.contains(r#"IncludesLastItemInRange="true""#));
    let ids: Vec<String> = ids_of(&page1).into_iter().chain(ids_of(&page2)).collect();
    assert_eq!(ids.len(), 5);

    let get = format!(r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{}"/><t:ItemId Id="missing"/></m:ItemIds></m:GetItem>"#, ids[0]);
    let (_, reply) = call(&mut s, "ana-token", &get);
    assert!(reply.contains("&lt;div&gt;hi&lt;/div&gt;") && reply.contains("ErrorItemNotFound"));

    let update = format!(r#"<m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="{}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="message:IsRead"/><t:Message><t:IsRead>true</t:IsRead></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#, ids[0]);
    call(&mut s, "ana-token", &update);
    let (_, reply) = call(&mut s, "ana-token", &find("inbox", "IPM.Note.Microsoft.Missed", 10, 0));
    assert!(reply.contains(r#"TotalItemsInView="4""#), "read items no longer match IsRead=false");

    let delete = format!(r#"<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="{}"/></m:ItemIds></m:DeleteItem>"#, ids[1]);
    call(&mut s, "ana-token", &delete);
    assert!(!s.items.iter().any(|i| i.id == ids[1]));
    // Another user cannot see Ana's items.
    let (_, reply) = call(&mut s, "tony-token", &find("inbox", "IPM.Note.Microsoft.Missed", 10, 0));
    assert!(reply.contains(r#"TotalItemsInView="0""#));
}

/// Items come back as Exchange shapes them (shape.rs): IdOnly gives only what is asked for,
/// extended properties only when asked for even with AllProperties, the body per BodyType
/// (re-rendered HTML or Exchange's text conversion), and a class outside IPM.Note as a t:Item.
#[test]
fn items_are_shaped_as_exchange_shapes_them() {
    let mut s = State::new();
    call(&mut s, "tony-token", &create("SendOnly", None, "IPM.Note.Microsoft.Missed", "ana@contoso.com", "m1", None));
    call(&mut s, "ana-token", &create("SaveOnly", Some("conversationhistory"), "IM.Note.MissedConversation", "ana@contoso.com", "seed", Some("0")));
    let (_, page) = call(&mut s, "ana-token", &find("inbox", "IPM.Note.Microsoft.Missed", 10, 0));
    assert!(page.contains("<t:ItemClass>") && page.contains("<t:Value>m1</t:Value>"), "what was asked for: {page}");
    for absent in ["<t:Subject>", "<t:IsRead>", "<t:From>", "<t:DateTimeReceived>", "<t:Body"] {
        assert!(!page.contains(absent), "IdOnly returned {absent}: {page}");
    }
    let id = &ids_of(&page)[0];
    let get = |shape: &str| format!(r#"<m:GetItem><m:ItemShape>{shape}</m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#);
    let (_, all) = call(&mut s, "ana-token", &get("<t:BaseShape>AllProperties</t:BaseShape>"));
    assert!(all.contains("<t:IsRead>false</t:IsRead>") && all.contains("<t:Subject>hi m1</t:Subject>"));
    assert!(!all.contains("ExtendedProperty"), "extended properties only when asked for: {all}");
    assert!(all.contains(r#"<t:Body BodyType="HTML" IsTruncated="false">&lt;html&gt;"#) && all.contains("charset=utf-8") && all.contains("&lt;div&gt;hi&lt;/div&gt;"), "{all}");
    let (_, text) = call(&mut s, "ana-token", &get("<t:BaseShape>IdOnly</t:BaseShape><t:BodyType>Text</t:BodyType><t:AdditionalProperties><t:FieldURI FieldURI=\"item:Body\"/></t:AdditionalProperties>"));
    assert!(text.contains("<t:Body BodyType=\"Text\" IsTruncated=\"false\">hi&#13;\n</t:Body>"), "CRLF kept (the CR as a reference): {text}");
    assert!(!text.contains("<t:Subject>"));

    let seed_id = s.items.iter().find(|i| i.item_class == "IM.Note.MissedConversation").map(|i| i.id.clone()).unwrap();
    let (_, seed) = call(&mut s, "ana-token", &format!(r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{seed_id}"/></m:ItemIds></m:GetItem>"#));
    assert!(seed.contains("<t:Item>") && !seed.contains("<t:Message>") && !seed.contains("<t:IsRead>"), "a generic item: {seed}");
}

/// xs:boolean has four spellings (true/false/1/0); restrictions and updates accept them all.
#[test]
fn booleans_are_xs_boolean() {
    let mut s = State::new();
    call(&mut s, "tony-token", &create("SendOnly", None, "IPM.Note.Microsoft.Missed", "ana@contoso.com", "b1", None));
    let unread = |s: &mut State, constant: &str| call(s, "ana-token", &find("inbox", "IPM.Note.Microsoft.Missed", 10, 0).replace(r#"<t:Constant Value="false"/>"#, &format!(r#"<t:Constant Value="{constant}"/>"#))).1;
    assert!(unread(&mut s, "0").contains(r#"TotalItemsInView="1""#));
    assert!(unread(&mut s, "1").contains(r#"TotalItemsInView="0""#));
    let id = s.items[0].id.clone();
    let update = format!(r#"<m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="message:IsRead"/><t:Message><t:IsRead> 1 </t:IsRead></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#);
    call(&mut s, "ana-token", &update);
    assert!(s.items[0].is_read, "IsRead 1 is true");
    assert!(unread(&mut s, "true").contains(r#"TotalItemsInView="1""#));
}

/// UpdateItem: ConflictResults and the new ChangeKey in every success, a stale ChangeKey with
/// NeverOverwrite refused, Subject applied, and an update the server cannot do refused rather
/// than reported as done.
#[test]
fn update_item_as_exchange_runs_it() {
    let mut s = State::new();
    call(&mut s, "tony-token", &create("SendOnly", None, "IPM.Note.Microsoft.Missed", "ana@contoso.com", "u1", None));
    let id = s.items[0].id.clone();
    let update = |resolution: &str, key: &str, updates: &str| format!(r#"<m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="{resolution}"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}" ChangeKey="{key}"/><t:Updates>{updates}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#);
    let subject = r#"<t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>new subject</t:Subject></t:Message></t:SetItemField>"#;
    let (_, reply) = call(&mut s, "ana-token", &update("NeverOverwrite", "CQAAAB1", subject));
    assert!(reply.contains(r#"ChangeKey="CQAAAB2""#) && reply.contains("<m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>"), "{reply}");
    assert_eq!(s.items[0].subject, "new subject");
    let (_, reply) = call(&mut s, "ana-token", &update("NeverOverwrite", "CQAAAB1", subject));
    assert!(reply.contains("ErrorIrresolvableConflict"), "stale key: {reply}");
    let (_, reply) = call(&mut s, "ana-token", &update("AutoResolve", "CQAAAB1", subject));
    assert!(reply.contains("<t:Count>1</t:Count>") && reply.contains(r#"ChangeKey="CQAAAB3""#), "{reply}");
    let (_, reply) = call(&mut s, "ana-token", &update("AlwaysOverwrite", "CQAAAB3", r#"<t:DeleteItemField><t:FieldURI FieldURI="item:Subject"/></t:DeleteItemField>"#));
    assert!(reply.contains("ErrorInvalidPropertyRequest"), "{reply}");
    assert_eq!((s.items[0].subject.as_str(), s.items[0].change_key), ("new subject", 3), "nothing changed");
}

/// RequestServerVersion outside the schema's ExchangeVersionType is a schema validation fault
/// (sent without the test's own schema check, which would reject it first).
#[test]
fn request_server_version_is_checked() {
    let mut s = State::new();
    let request = [HEAD, &create("SendOnly", None, "IPM.Note", "ana@contoso.com", "v1", None), TAIL].concat();
    for (version, ok) in [("Exchange2013", true), ("Exchange2099", false), ("exchange2013", false)] {
        let (status, reply) = handle(&mut s, "tony-token", &request.replace(r#"Version="Exchange2013""#, &format!(r#"Version="{version}""#)));
        assert_eq!((status == 200, reply.contains("ErrorSchemaValidation")), (ok, !ok), "{version}: {reply}");
    }
    assert!(ews_server::content_type_ok(Some("text/xml; charset=utf-8")) && ews_server::content_type_ok(Some("Text/XML;Charset=UTF-8")));
    for bad in [None, Some("application/soap+xml; charset=utf-8"), Some("text/xml"), Some("text/plain; charset=utf-8"), Some("text/xml; charset=iso-8859-1")] {
        assert!(!ews_server::content_type_ok(bad), "{bad:?}");
    }
}

/// Impersonation: only an account with ApplicationImpersonation, only inside its organisation,
/// and only with X-AnchorMailbox naming the impersonated mailbox; the mail is then from that user.
#[test]
fn impersonation_needs_the_right_and_the_anchor_mailbox() {
    let mut s = State::new();
    let request = [HEAD, &create("SendOnly", None, "IPM.Note.Microsoft.Missed", "ana@contoso.com", "i1", None), TAIL].concat();
    let as_user = |who: &str| request.replace("</soap:Header>", &format!("<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{who}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation></soap:Header>"));
    validate(&as_user("tony@contoso.com"));
    let (status, reply) = ews_server::handle_with(&mut s, "sam-token", Some("tony@contoso.com"), &as_user("tony@contoso.com"));
    assert!(status == 500 && reply.contains("ErrorImpersonateUserDenied"), "{reply}");
    let (_, reply) = ews_server::handle_with(&mut s, "svc-token", None, &as_user("tony@contoso.com"));
    assert!(reply.contains("ErrorInvalidRequest") && reply.contains("X-AnchorMailbox"), "{reply}");
    let (_, reply) = ews_server::handle_with(&mut s, "svc-token", Some("ana@contoso.com"), &as_user("tony@contoso.com"));
    assert!(reply.contains("ErrorInvalidRequest"), "anchor of another mailbox: {reply}");
    let (_, reply) = ews_server::handle_with(&mut s, "svc-token", Some("bob@fabrikam.com"), &as_user("bob@fabrikam.com"));
    assert!(reply.contains("ErrorNonExistentMailbox"), "another organisation: {reply}");
    assert!(s.items.is_empty(), "nothing delivered so far");
    let (status, reply) = ews_server::handle_with(&mut s, "svc-token", Some("Tony@Contoso.com"), &as_user("tony@contoso.com"));
    assert!(status == 200 && reply.contains("NoError"), "{reply}");
    assert_eq!(s.items[0].from.as_ref().map(|f| f.email.as_str()), Some("tony@contoso.com"), "from the impersonated user, not the service account");
    // Sending with another user's From is Send As, which nobody here has.
    let spoofed = create("SendOnly", None, "IPM.Note", "ana@contoso.com", "i2", None).replace("<t:ToRecipients><t:Mailbox><t:EmailAddress>ana@contoso.com</t:EmailAddress></t:Mailbox></t:ToRecipients>", "<t:ToRecipients><t:Mailbox><t:EmailAddress>ana@contoso.com</t:EmailAddress></t:Mailbox></t:ToRecipients><t:From><t:Mailbox><t:EmailAddress>sam@contoso.com</t:EmailAddress></t:Mailbox></t:From>");
    let (_, reply) = call(&mut s, "tony-token", &spoofed);
    assert!(reply.contains("ErrorSendAsDenied"), "{reply}");
    assert_eq!(s.items.len(), 1);
}

/// Requests Exchange's schema check refuses are refused here too, with ErrorSchemaValidation and
/// libxml2's reason, before anything runs (sent without the test's own xmllint check).
#[test]
fn schema_invalid_requests_are_refused() {
    let mut s = State::new();
    let good = create("SendOnly", None, "IPM.Note", "ana@contoso.com", "s1", None);
    let cases = [
        ("BodyType=\"HTML\"", "BodyType=\"Markdown\"", "Markdown"),
        ("PropertyType=\"String\"", "PropertyType=\"Strin\"", "Strin"),
        ("<t:ItemClass>IPM.Note</t:ItemClass><t:Subject>hi s1</t:Subject>", "<t:Subject>hi s1</t:Subject><t:ItemClass>IPM.Note</t:ItemClass>", "ItemClass"),
        ("<t:Subject>", "<t:Colour>red</t:Colour><t:Subject>", "Colour"),
    ];
    for (from, to, named) in cases {
        let bad = [HEAD, &good.replacen(from, to, 1), TAIL].concat();
        let (status, reply) = handle(&mut s, "tony-token", &bad);
        assert!(status == 500 && reply.contains("ErrorSchemaValidation") && reply.contains(named), "{to}: {reply}");
    }
    assert!(s.items.is_empty(), "nothing ran");
    let (status, _) = call(&mut s, "tony-token", &good);
    assert_eq!((status, s.items.len()), (200, 1), "the valid request runs");
}

/// GetFolder by name and by the FolderId it returned, ConvertId's per-id error for a malformed
/// id, SortOrder, and the restrictions exchangelib writes (Contains, IsGreaterThan, Exists,
/// ExtendedFieldURI); every reply schema-valid.
#[test]
fn folders_convert_id_sorting_and_restrictions() {
    let mut s = State::new();
    for i in 0..3 {
        call(&mut s, "tony-token", &create("SendOnly", None, "IPM.Note.Microsoft.Missed", "ana@contoso.com", &format!("r{i}"), None));
    }
    s.items[0].received_ms -= 5_000;
    let shape = r#"<m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="folder:DisplayName"/><t:FieldURI FieldURI="folder:TotalCount"/><t:FieldURI FieldURI="folder:UnreadCount"/></t:AdditionalProperties></m:FolderShape>"#;
    let (_, reply) = call(&mut s, "ana-token", &format!(r#"<m:GetFolder>{shape}<m:FolderIds><t:DistinguishedFolderId Id="inbox"/><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder>"#));
    assert!(reply.contains("<t:DisplayName>Inbox</t:DisplayName><t:TotalCount>3</t:TotalCount><t:UnreadCount>3</t:UnreadCount>"), "{reply}");
    assert!(reply.contains("ErrorFolderNotFound"), "no calendar here: {reply}");
    let folder_id = reply.split("<t:FolderId Id=\"").nth(1).and_then(|r| r.split('"').next()).unwrap().to_string();
    let by_id = |restriction: &str, order: &str| format!(r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:Restriction>{restriction}</m:Restriction><m:SortOrder><t:FieldOrder Order="{order}"><t:FieldURI FieldURI="item:DateTimeReceived"/></t:FieldOrder></m:SortOrder><m:ParentFolderIds><t:FolderId Id="{folder_id}"/></m:ParentFolderIds></m:FindItem>"#);
    let subjects = |reply: &str| reply.split("<t:Subject>").skip(1).map(|x| x.split('<').next().unwrap().to_string()).collect::<Vec<_>>();
    let contains = r#"<t:Contains ContainmentMode="Substring" ContainmentComparison="IgnoreCase"><t:FieldURI FieldURI="item:Subject"/><t:Constant Value="HI R"/></t:Contains>"#;
    assert_eq!(subjects(&call(&mut s, "ana-token", &by_id(contains, "Ascending")).1), ["hi r0", "hi r1", "hi r2"]);
    assert_eq!(subjects(&call(&mut s, "ana-token", &by_id(contains, "Descending")).1), ["hi r2", "hi r1", "hi r0"]);
    let newer = format!(r#"<t:IsGreaterThan><t:FieldURI FieldURI="item:DateTimeReceived"/><t:FieldURIOrConstant><t:Constant Value="{}"/></t:FieldURIOrConstant></t:IsGreaterThan>"#, "2000-01-01T00:00:00Z");
    assert_eq!(subjects(&call(&mut s, "ana-token", &by_id(&newer, "Ascending")).1).len(), 3);
    let ext = format!(r#"<t:IsEqualTo><t:ExtendedFieldURI PropertySetId="{SET}" PropertyName="OfflineImMessageId" PropertyType="String"/><t:FieldURIOrConstant><t:Constant Value="r1"/></t:FieldURIOrConstant></t:IsEqualTo>"#);
    assert_eq!(subjects(&call(&mut s, "ana-token", &by_id(&ext, "Ascending")).1), ["hi r1"]);
    let exists = r#"<t:Exists><t:ExtendedFieldURI PropertyTag="0x0E07" PropertyType="Integer"/></t:Exists>"#;
    assert!(subjects(&call(&mut s, "ana-token", &by_id(exists, "Ascending")).1).is_empty(), "no item has PR_MESSAGE_FLAGS set by the sender");
    // A tag is matched by value, however it is written (0x0E07 = 0xe07 = 3591).
    call(&mut s, "ana-token", &create("SaveOnly", Some("inbox"), "IPM.Note", "ana@contoso.com", "hi r9", Some("0")));
    for tag in ["0x0E07", "0xe07", "3591"] {
        let exists = format!(r#"<t:Exists><t:ExtendedFieldURI PropertyTag="{tag}" PropertyType="Integer"/></t:Exists>"#);
        assert_eq!(subjects(&call(&mut s, "ana-token", &by_id(&exists, "Ascending")).1), ["hi hi r9"], "{tag}");
    }
    // Tony cannot use Ana's folder id.
    assert!(call(&mut s, "tony-token", &by_id(contains, "Ascending")).1.contains("ErrorFolderNotFound"));

    let (status, reply) = call(&mut s, "ana-token", r#"<m:ConvertId DestinationFormat="EntryId"><m:SourceIds><t:AlternateId Id="DUMMY" Format="EwsId" Mailbox="DUMMY"/></m:SourceIds></m:ConvertId>"#);
    assert!(status == 200 && reply.contains("ErrorInvalidIdMalformed"), "{reply}");
}

/// ResolveNames: one match Success, several a Warning listing them, none an Error.
#[test]
fn resolve_names() {
    let mut s = State::new();
    let resolve = |s: &mut State, entry: &str| call(s, "tony-token", &format!(r#"<m:ResolveNames ReturnFullContactData="false"><m:UnresolvedEntry>{entry}</m:UnresolvedEntry></m:ResolveNames>"#)).1;
    let one = resolve(&mut s, "ana");
    assert!(one.contains(r#"ResponseClass="Success""#) && one.contains("<t:EmailAddress>ana@contoso.com</t:EmailAddress>"), "{one}");
    assert!(resolve(&mut s, "SMTP:Tony@Contoso.com").contains("<t:Name>Tony Smith</t:Name>"));
    let many = resolve(&mut s, "s");
    assert!(many.contains(r#"ResponseClass="Warning""#) && many.contains("ErrorNameResolutionMultipleResults") && many.contains(r#"TotalItemsInView="3""#), "sam, svc-offline-im, Tony Smith: {many}");
    assert!(resolve(&mut s, "zzz").contains("ErrorNameResolutionNoResults"));
}
