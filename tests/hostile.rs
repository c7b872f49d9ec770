//! Hostile input, property-based (proptest): the EWS response parser, the PowerShell policy reader
//! and the policy JSON never panic on anything, and every text field, whatever it holds, gives a
//! schema-valid envelope or a clear error. `cargo fuzz` needs nightly; these run on stable in
//! every `cargo test`.
//!
//! Case counts: `PROPTEST_CASES` for the in-process targets and `PROPTEST_XMLLINT_CASES` for the
//! envelope target, which starts xmllint once per case (defaults below per target). Long run,
//! for example: `PROPTEST_CASES=200000 PROPTEST_XMLLINT_CASES=2000 cargo test --release --test hostile`.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::validate_envelope;
use offline_im::ews::recipient::{record_missed_envelope, MissedInput as MissedMessage};
use offline_im::ews::soap::Header;
use offline_im::ews::{build_offline_message_envelope, parse_ews_response, EnvelopeOptions, EwsOutcome, MailboxAddress, OfflineMessage};
use offline_im::policy::{evaluate, parse_policy_script, PolicyInput, PolicySnapshot, Presence, RecipientContext, SenderContext};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases(var: &str, default: u32) -> u32 {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `test` on `cases` values of `strategy`; `cases` is (environment variable, default).
fn run<S: Strategy>(name: &str, cases_from: (&str, u32), strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let n = cases(cases_from.0, cases_from.1);
    let mut runner = TestRunner::new(Config { cases: n, failure_persistence: None, ..Config::default() });
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{name}: {e}");
    }
    println!("{name}: {n} cases");
}

fn fixtures() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/responses");
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect();
    v.sort();
    v
}

/// A fixture with byte-level edits: (position, action, byte) applied in order; the result is cut
/// back to valid UTF-8 (the parser takes `&str`).
fn mutate(base: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut b = base.as_bytes().to_vec();
    for &(pos, action, byte) in edits {
        let at = if b.is_empty() { 0 } else { pos % (b.len() + 1) };
        match action % 4 {
            0 => b.insert(at, byte),
            1 if at < b.len() => {
                b.remove(at);
            }
            2 if at < b.len() => b[at] = byte,
            _ => {
                // Splice in a piece of XML syntax.
                let piece: &[u8] = [b"<".as_slice(), b"</", b"/>", b"&amp;", b"&#0;", b"<![CDATA[", b"]]>", b"xmlns:m=\"x\"", b"\"", b"<?xml?>"][byte as usize % 10];
                b.splice(at..at, piece.iter().copied());
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn ews_response_parser_never_panics_and_never_invents_a_delivery() {
    let fixtures = fixtures();
    let n = fixtures.len();
    let strategy = (0u16..1000, 0..n, prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..12), "\\PC{0,200}", any::<bool>());
    run("ews response parser", ("PROPTEST_CASES", 3000), strategy, |(status, which, edits, junk, use_junk)| {
        let body = if use_junk { junk } else { mutate(&fixtures[which], &edits) };
        let outcome = parse_ews_response(status, &body);
        match &outcome {
            EwsOutcome::AuthRequired { code, .. } => prop_assert!(
                matches!((status, code.as_str()), (401, "Http401") | (403, "Http403") | (300..=399, "Redirect"))
                    || (code == "LoginPage" && (200..=299).contains(&status) && offline_im::ews::response::is_html_page(&body)),
                "auth required from status {} code {}", status, code
            ),
            EwsOutcome::Delivered { .. } => {
                prop_assert_eq!(status, 200);
                prop_assert!(body.contains("Success") || body.contains("Warning"), "delivered from {:?}", body);
            }
            EwsOutcome::Retry { code, .. } | EwsOutcome::PermanentFailure { code, .. } => prop_assert!(!code.is_empty()),
        }
        Ok(())
    });
}

/// Words the policy reader knows, and the characters that trip readers up.
const WORDS: &[&str] = &[
    "Set-CsImConfiguration", "New-CsClientPolicy", "Set-CsClientPolicy", "Grant-CsClientPolicy", "Remove-CsClientPolicy",
    "Remove-CsImConfiguration", "Grant", "-CsClientPolicy", "Get-CsClientPolicy", "-Identity", "-EnableOfflineIM",
    "-EnableIMAutoArchiving", "-PolicyName", "- PolicyName", "$True", "$False", "$null", "Global", "Site:Redmond",
    "Tag:OfflineIM", "OfflineIM", "\"Tony Smith\"", "\u{201C}Ken Myer\u{201D}", "'x'", "\"", "'", "`", "`\n", "\n", "\r\n",
    " ", "\t", "\u{2013}", "\u{2014}", "#", ";", "$cred = Get-Credential", "Import-Module", "=", "{", "}", "(", ")", "\u{0}",
];

#[test]
fn policy_script_reader_never_panics_and_points_at_a_token() {
    let soup = prop::collection::vec(prop::sample::select(WORDS), 0..40).prop_map(|w| w.join(" "));
    let strategy = prop_oneof![soup, "\\PC{0,300}", ".{0,100}"];
    run("policy script reader", ("PROPTEST_CASES", 3000), strategy, |text| {
        match parse_policy_script(&text) {
            Ok(snapshot) => {
                // Whatever it read must be usable.
                let _ = evaluate(&input(snapshot));
            }
            Err(offline_im::Error::PolicyScript { line, column, .. }) => {
                // The position names a character of the text, or the end of a line (1-based,
                // columns in Unicode scalar values, as documented).
                let lines: Vec<&str> = text.split('\n').collect();
                prop_assert!(line >= 1 && line <= lines.len(), "line {} of {:?}", line, text);
                let width = lines[line - 1].trim_end_matches('\r').chars().count();
                prop_assert!(column >= 1 && column <= width + 1, "column {} of line {} ({} chars) in {:?}", column, line, width, text);
                // Errors point at a token, and every token starts with a non-blank character.
                if let Some(c) = lines[line - 1].chars().nth(column - 1) {
                    prop_assert!(!c.is_whitespace(), "column {} of line {} is blank in {:?}", column, line, text);
                }
            }
            Err(e) => prop_assert!(false, "unexpected error kind {:?}", e),
        }
        Ok(())
    });
}

fn input(policy: PolicySnapshot) -> PolicyInput {
    PolicyInput {
        policy,
        sender: SenderContext { display_name: Some("Tony Smith".into()), email_address: Some("tony@contoso.com".into()), ..Default::default() },
        recipient: RecipientContext { email_address: Some("ana@contoso.com".into()), presence: Presence::Offline, ..Default::default() },
        organization_domains: vec![],
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{json, Value};
    let keys = prop::sample::select(vec![
        "imConfigurations", "clientPolicies", "clientPolicyGrants", "identity", "enableOfflineIM", "enableIMAutoArchiving",
        "policyName", "user", "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(vec!["Global", "Site:Redmond", "Tag:OfflineIM", "Site:", "Tag:", "Tony Smith", "", "Nope:x"]).prop_map(|s| json!(s)),
        "\\PC{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..5).prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

#[test]
fn policy_json_never_panics() {
    run("policy JSON", ("PROPTEST_CASES", 3000), json_value(), |value| {
        let text = value.to_string();
        if let Ok(snapshot) = serde_json::from_str::<PolicySnapshot>(&text) {
            match evaluate(&input(snapshot)) {
                Ok(_) => {}
                Err(e) => prop_assert!(matches!(e.code(), "InvalidPolicy" | "InvalidClientBuild"), "{:?}", e),
            }
        }
        Ok(())
    });
}

/// A real policy: Global / Site:Redmond ImConfigurations and Global / Site:Redmond /
/// Tag:OfflineIM ClientPolicies, each present or not and with the switch true, false or unset,
/// a grant of the Tag policy to Tony or not, Tony at site Redmond or not.
#[derive(Debug, Clone)]
struct GeneratedPolicy {
    im: [Option<Option<bool>>; 2],
    cp: [Option<Option<bool>>; 3],
    granted: bool,
    at_redmond: bool,
}

fn generated_policy() -> impl Strategy<Value = GeneratedPolicy> {
    let switch = || prop::option::of(prop::option::of(any::<bool>()));
    ((switch(), switch()), (switch(), switch(), switch()), any::<bool>(), any::<bool>())
        .prop_map(|((g, s), (cg, cs, ct), granted, at_redmond)| GeneratedPolicy { im: [g, s], cp: [cg, cs, ct], granted, at_redmond })
}

impl GeneratedPolicy {
    fn snapshot(&self) -> PolicySnapshot {
        use serde_json::json;
        let scoped = |ids: &[&str], values: &[Option<Option<bool>>], key: &str| -> Vec<serde_json::Value> {
            ids.iter().zip(values).filter_map(|(id, v)| v.map(|on| json!({ "identity": id, key: on }))).collect()
        };
        let mut grants = vec![];
        if self.granted {
            grants.push(json!({ "identity": "Tony Smith", "policyName": "OfflineIM" }));
        }
        let v = json!({
            "imConfigurations": scoped(&["Global", "Site:Redmond"], &self.im, "enableOfflineIM"),
            "clientPolicies": scoped(&["Global", "Site:Redmond", "Tag:OfflineIM"], &self.cp, "enableIMAutoArchiving"),
            "clientPolicyGrants": grants,
        });
        serde_json::from_value(v).expect("a generated snapshot is well-formed")
    }

    /// The seeds' rule, written here independently of the module: the most specific scope that
    /// exists applies (Tag by grant, then the sender's Site, then Global); an unset switch in it
    /// is the cmdlet default, true.
    fn expected(&self) -> (&'static str, bool, &'static str, bool) {
        let (im_scope, im) = match (self.at_redmond, self.im[1], self.im[0]) {
            (true, Some(v), _) => ("Site:Redmond", v),
            (_, _, Some(v)) => ("Global", v),
            _ => ("Global", None),
        };
        let (cp_scope, cp) = match (self.granted, self.cp[2], self.at_redmond, self.cp[1], self.cp[0]) {
            (true, Some(v), ..) => ("Tag:OfflineIM", v),
            (_, _, true, Some(v), _) => ("Site:Redmond", v),
            (.., Some(v)) => ("Global", v),
            _ => ("Global", None),
        };
        (im_scope, im.unwrap_or(true), cp_scope, cp.unwrap_or(true))
    }
}

#[test]
fn generated_policies_decide_by_scope_and_explain_every_block() {
    use offline_im::policy::{Delivery, Reason};
    run("generated policies", ("PROPTEST_CASES", 3000), generated_policy(), |g| {
        let mut input = input(g.snapshot());
        if g.at_redmond {
            input.sender.site = Some("Redmond".into());
        }
        let result = evaluate(&input);
        if g.granted && g.cp[2].is_none() {
            // A grant of a policy that does not exist is an inconsistent snapshot.
            prop_assert!(matches!(&result, Err(e) if e.code() == "InvalidPolicy"), "{:?}", result);
            return Ok(());
        }
        let d = result.map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let (im_scope, offline_im, cp_scope, archiving) = g.expected();
        prop_assert_eq!(d.effective_im_configuration.as_str(), im_scope);
        prop_assert_eq!(d.effective_client_policy.as_str(), cp_scope);
        prop_assert_eq!(d.reasons.contains(&Reason::OfflineImDisabled), !offline_im);
        prop_assert_eq!(d.reasons.contains(&Reason::AutoArchivingDisabled), !archiving);
        // Blocked exactly when a rule blocked it, and then the reason is there.
        let blocking = d.reasons.iter().any(|r| matches!(r, Reason::OfflineImDisabled | Reason::AutoArchivingDisabled | Reason::ClientBuildTooOld | Reason::OnPremisesNeedsNewerBuild | Reason::MsiInstallUnsupported));
        prop_assert_eq!(d.delivery == Delivery::Blocked, blocking, "{:?}", d);
        prop_assert_eq!(d.delivery == Delivery::Mailbox, offline_im && archiving);
        prop_assert_eq!(d.item_class.is_some(), d.delivery == Delivery::Mailbox);
        Ok(())
    });
}

/// Text with everything XML and HTML care about, and characters XML 1.0 cannot carry.
fn hostile_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "<", ">", "&", "\"", "'", "]]>", "<![CDATA[", "</t:Body>", "<script>", "&amp;", "&#x0;", "\u{0}", "\u{1b}", "\u{7}",
        "\u{FFFE}", "\u{FFFF}", "\u{D7FF}", "\u{E000}", "😀", "\r\n", "\r", "\n", " ", "x", "é", "\u{202E}",
    ]);
    prop_oneof![prop::collection::vec(pieces, 1..30).prop_map(|p| p.concat()), "\\PC{1,80}"]
}

#[test]
fn every_text_field_gives_a_schema_valid_envelope_or_a_clear_error() {
    let strategy = (hostile_text(), hostile_text(), hostile_text(), hostile_text(), hostile_text());
    run("envelopes with hostile text (xmllint)", ("PROPTEST_XMLLINT_CASES", 40), strategy, |(text, subject, name, id, conversation)| {
        let m = OfflineMessage {
            id: id.clone(),
            conversation_id: Some(conversation.clone()),
            to: MailboxAddress { email_address: "ana@contoso.com".into(), display_name: Some(name.clone()) },
            text: text.clone(),
            subject: Some(subject),
        };
        match build_offline_message_envelope(&m, &EnvelopeOptions::default()) {
            Ok(env) => prop_assert!(validate_envelope(&env.xml).is_ok(), "{:?}", validate_envelope(&env.xml)),
            Err(e) => prop_assert!(matches!(e.code(), "InvalidInput" | "MessageTooLarge"), "{:?}", e),
        }
        let missed = MissedMessage { id, conversation_id: conversation, from: MailboxAddress { email_address: "tony@contoso.com".into(), display_name: Some(name) }, text, received_at: 1_764_000_000_000 };
        match record_missed_envelope(&missed, &Header::default()) {
            Ok(env) => prop_assert!(validate_envelope(&env.xml).is_ok(), "{:?}", validate_envelope(&env.xml)),
            Err(e) => prop_assert!(matches!(e.code(), "InvalidInput" | "MessageTooLarge"), "{:?}", e),
        }
        Ok(())
    });
}

#[test]
fn huge_messages_and_addresses_are_rejected_with_clear_errors() {
    let big = "x".repeat(10 * 1024 * 1024);
    let m = OfflineMessage { id: "a".into(), conversation_id: None, to: MailboxAddress { email_address: "ana@contoso.com".into(), display_name: None }, text: big.clone(), subject: None };
    let e = build_offline_message_envelope(&m, &EnvelopeOptions::default()).unwrap_err();
    assert_eq!(e.code(), "MessageTooLarge");
    assert!(e.to_string().contains("10485760"), "{e}");
    for address in [format!("{}@contoso.com", "a".repeat(100_000)), format!("ana@{}.com", "b".repeat(100_000)), "ana@contoso.com\n".repeat(1000)] {
        let m = OfflineMessage { to: MailboxAddress { email_address: address, display_name: None }, text: "hi".into(), ..m.clone() };
        let e = build_offline_message_envelope(&m, &EnvelopeOptions::default()).unwrap_err();
        assert_eq!(e.code(), "InvalidAddress");
        assert!(e.to_string().len() < 300, "the error does not echo the huge input: {} bytes", e.to_string().len());
    }
    let policy = format!("Set-CsImConfiguration -Identity \"{}\" -EnableOfflineIM $True", "x".repeat(1_000_000));
    let e = parse_policy_script(&policy).unwrap_err();
    assert!(matches!(e.code(), "PolicyScriptError" | "InvalidPolicy"), "{e:?}");
    assert!(e.to_string().len() < 300, "the error does not echo the huge input: {} bytes", e.to_string().len());
}

/// Found by the reader's property test: cmdlet and parameter names whose first bytes fall
/// inside a multi-byte character used to panic when sliced (a wasm trap in the browser).
#[test]
fn regression_multibyte_cmdlet_and_parameter_names() {
    for text in ["ૉឿd", "V𐕆><", "Set -𐕆cs x", "Grant -ૉClientPolicy"] {
        let e = parse_policy_script(text).unwrap_err();
        assert_eq!(e.code(), "PolicyScriptError", "{text}: {e}");
    }
}
