//! The seeds' PowerShell lines, read into a policy snapshot.
#![cfg(not(target_arch = "wasm32"))]

use offline_im::policy::*;
use offline_im::Error;

/// The admin lines of both seeds, as they appear there (including the mis-spaced Grant line,
/// corrected here; the uncorrected line is tested below).
const SEED_SCRIPT: &str = r#"
# Enable Offline IM in Skype for Business Server (seed 1)
Set-CsImConfiguration -EnableOfflineIM $True
Get-CsImConfiguration

# When using Teams PowerShell Module (seed 2)
Import-Module MicrosoftTeams
$userCredential = Get-Credential
Connect-MicrosoftTeams -Credential $userCredential

New-CsClientPolicy -Identity OfflineIM
Set-CsClientPolicy -Identity OfflineIM -EnableIMAutoArchiving $False
Grant-CsClientPolicy -Identity "Tony Smith" -PolicyName OfflineIM
"#;

fn script_error(text: &str) -> (usize, usize, String, Option<String>) {
    match parse_policy_script(text) {
        Err(Error::PolicyScript { line, column, message, hint }) => (line, column, message, hint),
        other => panic!("expected a script error for {text:?}, got {other:?}"),
    }
}

#[test]
fn seed_script_grants_tony_the_offline_im_tag_policy() {
    let snap = parse_policy_script(SEED_SCRIPT).unwrap();
    assert_eq!(snap.im_configurations, vec![ImConfiguration { identity: "Global".into(), enable_offline_im: Some(true) }]);
    assert_eq!(snap.client_policies[1], ClientPolicy { identity: "Tag:OfflineIM".into(), enable_im_auto_archiving: Some(false) });
    assert_eq!(snap.client_policy_grants, vec![ClientPolicyGrant { identity: "Tony Smith".into(), policy_name: Some("OfflineIM".into()) }]);

    // And the decision follows: Tony is blocked, Ana (no grant) is not.
    let decide = |name: &str| {
        evaluate(&PolicyInput {
            policy: snap.clone(),
            sender: SenderContext { display_name: Some(name.into()), email_address: Some("x@contoso.com".into()), ..Default::default() },
            recipient: RecipientContext { email_address: Some("y@contoso.com".into()), presence: Presence::Offline, ..Default::default() },
            organization_domains: vec![],
        })
        .unwrap()
    };
    let tony = decide("Tony Smith");
    assert_eq!((tony.delivery, tony.effective_client_policy.as_str()), (Delivery::Blocked, "Tag:OfflineIM"));
    assert!(tony.reasons.contains(&Reason::AutoArchivingDisabled));
    assert_eq!(decide("Ana Lopez").delivery, Delivery::Mailbox);
}

#[test]
fn global_switch_off_from_seed() {
    let snap = parse_policy_script("Set-CsClientPolicy -Identity Global -EnableIMAutoArchiving $False").unwrap();
    assert_eq!(snap.client_policies, vec![ClientPolicy { identity: "Global".into(), enable_im_auto_archiving: Some(false) }]);
    let snap = parse_policy_script("set-csimconfiguration -enableofflineim:$false").unwrap();
    assert_eq!(snap.im_configurations[0].enable_offline_im, Some(false));
}

#[test]
fn sites_positional_identity_null_grants_and_removal() {
    let snap = parse_policy_script(
        "New-CsImConfiguration -Identity site:Redmond -EnableOfflineIM $false\n\
         New-CsClientPolicy Site:Redmond -EnableIMAutoArchiving 0\n\
         New-CsClientPolicy -Identity 'Sales Policy'; Grant-CsClientPolicy 'sip:ana@contoso.com' 'Sales Policy'\n\
         Grant-CsClientPolicy -Identity \"Tony Smith\" -PolicyName 'Sales Policy'\n\
         Grant-CsClientPolicy -Identity \"Tony Smith\" -PolicyName $null\n\
         Set-CsClientPolicy -Identity Site:Redmond -EnableIMAutoArchiving $null",
    )
    .unwrap();
    assert_eq!(snap.im_configurations[1], ImConfiguration { identity: "Site:Redmond".into(), enable_offline_im: Some(false) });
    assert_eq!(snap.client_policies[1], ClientPolicy { identity: "Site:Redmond".into(), enable_im_auto_archiving: None });
    assert_eq!(snap.client_policy_grants.len(), 2);
    assert_eq!(snap.client_policy_grants[1], ClientPolicyGrant { identity: "Tony Smith".into(), policy_name: None });

    let removed = parse_policy_script("New-CsClientPolicy X\nGrant-CsClientPolicy u X\nRemove-CsClientPolicy -Identity Tag:X -Force").unwrap();
    assert_eq!(removed.client_policies.len(), 1);
    assert!(removed.client_policy_grants.is_empty(), "removing a tag policy drops its grants");
}

#[test]
fn text_pasted_from_docs_en_dashes_and_curly_quotes() {
    let snap = parse_policy_script("New-CsClientPolicy \u{2013}Identity OfflineIM\nGrant-CsClientPolicy \u{2013}Identity \u{201C}Tony Smith\u{201D} \u{2013}PolicyName OfflineIM").unwrap();
    assert_eq!(snap.client_policy_grants[0].identity, "Tony Smith");
}

#[test]
fn seeds_mis_spaced_grant_line_gets_a_hint() {
    let text = "New-CsClientPolicy -Identity OfflineIM\nGrant -CsClientPolicy -Identity \"Tony Smith\" - PolicyName OfflineIM";
    let (line, column, message, hint) = script_error(text);
    assert_eq!((line, column), (2, 7));
    assert!(message.contains("`Grant` is not a cmdlet"), "{message}");
    assert!(hint.unwrap().contains("Grant-CsClientPolicy"));

    let (line, column, _, hint) = script_error("New-CsClientPolicy -Identity OfflineIM\nGrant-CsClientPolicy -Identity \"Tony Smith\" - PolicyName OfflineIM");
    assert_eq!((line, column), (2, 45));
    assert!(hint.unwrap().contains("-PolicyName"));
}

#[test]
fn errors_carry_line_and_column() {
    let cases: &[(&str, usize, usize, &str)] = &[
        ("Set-CsFooConfiguration -X 1", 1, 1, "unknown cmdlet"),
        ("\nSet-CsClientPolicy -EnableIMAutoArchiving $False -Bogus 1", 2, 50, "no parameter -Bogus"),
        ("Set-CsClientPolicy -EnableIMAutoArchiving True", 1, 43, "expected a boolean"),
        ("Set-CsClientPolicy -EnableIMAutoArchiving", 1, 20, "needs a value"),
        ("Set-CsClientPolicy -Identity Tag:Nope -EnableIMAutoArchiving $true", 1, 30, "does not exist"),
        ("Grant-CsClientPolicy -Identity Tony -PolicyName Nope", 1, 49, "does not exist"),
        ("New-CsClientPolicy -Identity Global", 1, 30, "already exists"),
        ("Set-CsImConfiguration -Identity Tag:X -EnableOfflineIM $true", 1, 33, "unknown scope \"Tag\""),
        ("Set-CsImConfiguration -Identity Global", 1, 1, "needs -EnableOfflineIM"),
        ("Set-CsImConfiguration -EnableOfflineIM $true -EnableOfflineIM $false", 1, 46, "given twice"),
        ("$x = Set-CsClientPolicy", 1, 1, "variable assignments"),
        ("Grant-CsClientPolicy -Identity 'Tony", 1, 32, "unterminated string"),
    ];
    for (text, line, column, needle) in cases {
        let (l, c, m, _) = script_error(text);
        assert_eq!((l, c), (*line, *column), "{text}: {m}");
        assert!(m.contains(needle), "{text}: {m:?} lacks {needle:?}");
    }
}

#[test]
fn error_code_and_display_for_javascript() {
    let e = parse_policy_script("Grant -CsClientPolicy").unwrap_err();
    assert_eq!(e.code(), "PolicyScriptError");
    assert!(e.to_string().starts_with("policy script, line 1, column 7:"), "{e}");
}

/// What New-/Remove- do at each scope, as the Skype for Business cmdlets do: Global always
/// exists (New is an error, Remove resets it), Site and Tag objects are created once and
/// removed; removing a Tag policy drops only its own grants.
#[test]
fn new_and_remove_at_each_scope() {
    let msg = |text: &str| script_error(text).2;
    assert_eq!(msg("New-CsImConfiguration -Identity Global"), "ImConfiguration Global already exists");
    assert_eq!(msg("New-CsClientPolicy -Identity Global"), "ClientPolicy Global already exists");
    assert_eq!(msg("New-CsImConfiguration -Identity Site:A\nNew-CsImConfiguration -Identity site:a"), "ImConfiguration Site:a already exists");
    assert_eq!(msg("Remove-CsImConfiguration -Identity Site:B"), "ImConfiguration Site:B does not exist (create it with New-CsImConfiguration)");
    assert_eq!(msg("Remove-CsImConfiguration"), "this cmdlet needs -Identity", "only Set defaults to Global");
    assert_eq!(msg("Remove-CsClientPolicy"), "this cmdlet needs -Identity");

    let snap = parse_policy_script("Set-CsImConfiguration -EnableOfflineIM $True\nNew-CsImConfiguration -Identity Site:A -EnableOfflineIM $False\nRemove-CsImConfiguration -Identity Site:A\nRemove-CsImConfiguration -Identity Global").unwrap();
    assert_eq!(snap.im_configurations, vec![ImConfiguration { identity: "Global".into(), enable_offline_im: None }], "Site:A removed; Global reset, not removed");
    let snap = parse_policy_script("Set-CsClientPolicy -EnableIMAutoArchiving $False\nRemove-CsClientPolicy -Identity Global").unwrap();
    assert_eq!(snap.client_policies, vec![ClientPolicy { identity: "Global".into(), enable_im_auto_archiving: None }]);

    let snap = parse_policy_script("New-CsClientPolicy X\nNew-CsClientPolicy Y\nGrant-CsClientPolicy u1 X\nGrant-CsClientPolicy u2 Y\nGrant-CsClientPolicy u3 'Tag:X'\nRemove-CsClientPolicy -Identity x").unwrap();
    let grants: Vec<(&str, Option<&str>)> = snap.client_policy_grants.iter().map(|g| (g.identity.as_str(), g.policy_name.as_deref())).collect();
    assert_eq!(grants, [("u2", Some("Y"))], "X's grants (named X or Tag:X, any case) go; Y's stay");
}

/// Lines that only look like cmdlets: the stray-space hint only for `<Verb> -Cs<Noun>`; `Get-`
/// alone is not a Get cmdlet.
#[test]
fn near_misses() {
    let (_, _, message, hint) = script_error("Set -CsImConfiguration -EnableOfflineIM $True");
    assert_eq!((message.as_str(), hint.as_deref()), ("`Set` is not a cmdlet", Some("remove the space: `Set-CsImConfiguration` (the seed's text has a stray space here)")));
    for text in ["Set -Cs", "Set -Identity x", "Grant -Other"] {
        let (_, _, message, hint) = script_error(text);
        assert!(message.starts_with("unknown cmdlet"), "{text}: {message}");
        assert_eq!(hint, None, "{text}");
    }
    assert!(script_error("Get-").2.starts_with("unknown cmdlet `Get-`"));
    assert!(parse_policy_script("Get-CsImConfiguration\n$x = Get-CsClientPolicy").is_ok());
}

/// PowerShell quoting: in double quotes a backtick escapes the next character and a doubled
/// quote is one quote; in single quotes only the doubled quote.
#[test]
fn quoting_and_escapes() {
    let snap = parse_policy_script("New-CsClientPolicy X\nGrant-CsClientPolicy -Identity \"Tony `\"T`\" Smith\" -PolicyName X\nGrant-CsClientPolicy \"A \"\"B\"\" C\" X\nGrant-CsClientPolicy 'O''Brien `x' X").unwrap();
    let users: Vec<&str> = snap.client_policy_grants.iter().map(|g| g.identity.as_str()).collect();
    assert_eq!(users, ["Tony \"T\" Smith", "A \"B\" C", "O'Brien `x"]);
    let (line, column, message, _) = script_error("New-CsClientPolicy X\nGrant-CsClientPolicy \"ends with an escaped quote`\" X");
    assert_eq!((line, column, message.as_str()), (2, 22, "unterminated string"));
    // A backtick as the very last character escapes nothing (and must not read past the end).
    assert_eq!(script_error("Grant-CsClientPolicy \"abc`").2, "unterminated string");
}
