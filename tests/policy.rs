//! Policy evaluation: every rule of the seeds, natively.
#![cfg(not(target_arch = "wasm32"))]

use offline_im::policy::*;
use offline_im::Error;
use serde_json::json;

fn input(v: serde_json::Value) -> PolicyInput {
    serde_json::from_value(v).expect("test input deserializes")
}

fn base() -> serde_json::Value {
    json!({
        "sender": { "displayName": "Tony Smith", "sipAddress": "sip:tony@contoso.com", "emailAddress": "tony@contoso.com" },
        "recipient": { "emailAddress": "ana@contoso.com", "presence": "offline" },
    })
}

fn with(mut v: serde_json::Value, path: &[&str], value: serde_json::Value) -> serde_json::Value {
    let mut cur = &mut v;
    for p in &path[..path.len() - 1] {
        cur = cur.as_object_mut().unwrap().entry(*p).or_insert(json!({}));
    }
    cur[path[path.len() - 1]] = value;
    v
}

fn decide(v: serde_json::Value) -> PolicyDecision {
    evaluate(&input(v)).expect("evaluates")
}

#[test]
fn defaults_deliver_offline_message_as_missed_conversation() {
    let d = decide(base());
    assert_eq!(d.delivery, Delivery::Mailbox);
    assert_eq!(d.item_class.as_deref(), Some("IPM.Note.Microsoft.Missed"));
    assert_eq!(d.effective_im_configuration, "Global");
    assert_eq!(d.effective_client_policy, "Global");
    assert_eq!(d.reasons, vec![Reason::RecipientOffline, Reason::ClientNotReported, Reason::SameOrganization]);
}

#[test]
fn unknown_presence_is_treated_as_offline() {
    let d = decide(with(base(), &["recipient", "presence"], json!("unknown")));
    assert_eq!(d.delivery, Delivery::Mailbox);
    assert_eq!(d.reasons[0], Reason::RecipientPresenceUnknown);
}

#[test]
fn online_presences_are_live_and_dnd_presenting_record_missed() {
    for p in ["available", "busy", "away", "beRightBack", "offWork", "inACall", "inAMeeting"] {
        let d = decide(with(base(), &["recipient", "presence"], json!(p)));
        assert_eq!((d.delivery, d.recipient_records_missed, d.reasons.clone()), (Delivery::Live, false, vec![Reason::RecipientOnline]), "{p}");
    }
    let d = decide(with(base(), &["recipient", "presence"], json!("doNotDisturb")));
    assert_eq!((d.delivery, d.recipient_records_missed, d.reasons), (Delivery::Live, true, vec![Reason::RecipientDoNotDisturb]));
    let d = decide(with(base(), &["recipient", "presence"], json!("presenting")));
    assert_eq!((d.delivery, d.recipient_records_missed, d.reasons), (Delivery::Live, true, vec![Reason::RecipientPresenting]));
}

#[test]
fn federated_recipient_gets_plain_mail() {
    let d = decide(with(base(), &["recipient", "emailAddress"], json!("bob@fabrikam.com")));
    assert_eq!(d.item_class.as_deref(), Some("IPM.Note"));
    assert!(d.reasons.contains(&Reason::Federated));
    // Configured organisation domains decide, not the sender's own domain.
    let v = with(with(base(), &["recipient", "emailAddress"], json!("bob@Fabrikam.com")), &["organizationDomains"], json!(["contoso.com", "fabrikam.com"]));
    assert_eq!(decide(v).item_class.as_deref(), Some("IPM.Note.Microsoft.Missed"));
}

#[test]
fn offline_im_disabled_globally_or_by_site() {
    let v = with(base(), &["policy"], json!({ "imConfigurations": [{ "identity": "Global", "enableOfflineIM": false }] }));
    let d = decide(v);
    assert_eq!(d.delivery, Delivery::Blocked);
    assert!(d.reasons.contains(&Reason::OfflineImDisabled));

    // A Site configuration wins over Global for senders of that site only.
    let policy = json!({ "imConfigurations": [{ "identity": "Global" }, { "identity": "site:Redmond", "enableOfflineIM": false }] });
    let v = with(base(), &["policy"], policy.clone());
    assert_eq!(decide(v.clone()).delivery, Delivery::Mailbox);
    let d = decide(with(v, &["sender", "site"], json!("redmond")));
    assert_eq!((d.delivery, d.effective_im_configuration.as_str()), (Delivery::Blocked, "Site:Redmond"));
}

#[test]
fn client_policy_precedence_tag_over_site_over_global() {
    let policy = json!({
        "clientPolicies": [
            { "identity": "Global", "enableIMAutoArchiving": false },
            { "identity": "Site:Redmond", "enableIMAutoArchiving": true },
            { "identity": "Tag:OfflineIM", "enableIMAutoArchiving": false },
        ],
        "clientPolicyGrants": [],
    });
    let v = with(base(), &["policy"], policy.clone());
    let d = decide(v.clone());
    assert_eq!((d.delivery, d.effective_client_policy.as_str()), (Delivery::Blocked, "Global"));
    assert!(d.reasons.contains(&Reason::AutoArchivingDisabled));

    let site = with(v, &["sender", "site"], json!("Redmond"));
    let d = decide(site.clone());
    assert_eq!((d.delivery, d.effective_client_policy.as_str()), (Delivery::Mailbox, "Site:Redmond"));

    // Granting the tag policy (by SIP address, any case) overrides the site policy.
    let granted = with(site.clone(), &["policy", "clientPolicyGrants"], json!([{ "identity": "SIP:Tony@contoso.com", "policyName": "OfflineIM" }]));
    let d = decide(granted);
    assert_eq!((d.delivery, d.effective_client_policy.as_str()), (Delivery::Blocked, "Tag:OfflineIM"));

    // A later grant of $null returns the user to the inherited (site) policy.
    let reset = with(site, &["policy", "clientPolicyGrants"], json!([
        { "identity": "Tony Smith", "policyName": "OfflineIM" },
        { "identity": "tony smith", "policyName": null },
    ]));
    assert_eq!(decide(reset).effective_client_policy, "Site:Redmond");
}

#[test]
fn tag_policy_with_setting_unset_defaults_to_true() {
    let v = with(base(), &["policy"], json!({
        "clientPolicies": [{ "identity": "Global", "enableIMAutoArchiving": false }, { "identity": "OfflineIM" }],
        "clientPolicyGrants": [{ "identity": "Tony Smith", "policyName": "Tag:OfflineIM" }],
    }));
    let d = decide(v);
    assert_eq!((d.delivery, d.effective_client_policy.as_str()), (Delivery::Mailbox, "Tag:OfflineIM"));
}

#[test]
fn client_gates() {
    let client = |build: &str, install: &str| with(base(), &["sender", "client"], json!({ "build": build, "installType": install }));
    assert_eq!(decide(client("16.0.6701.1000", "clickToRun")).delivery, Delivery::Mailbox);
    let d = decide(client("16.0.6700.9999", "clickToRun"));
    assert_eq!((d.delivery, d.reasons.contains(&Reason::ClientBuildTooOld)), (Delivery::Blocked, true));
    let d = decide(client("16.0.9999.1", "msi"));
    assert_eq!(d.reasons, vec![Reason::RecipientOffline, Reason::MsiInstallUnsupported]);

    let on_prem = |build: &str| with(client(build, "clickToRun"), &["sender", "mailboxHosting"], json!("exchangeOnPremises"));
    let d = decide(on_prem("16.0.6900.1000"));
    assert_eq!(d.reasons, vec![Reason::RecipientOffline, Reason::OnPremisesNeedsNewerBuild]);
    assert_eq!(decide(on_prem("16.0.6920.1000")).delivery, Delivery::Mailbox);
    // Numeric, not lexical: 16.0.10000 is newer than 16.0.6920.
    assert_eq!(decide(on_prem("16.0.10000.1")).delivery, Delivery::Mailbox);
    let d = decide(on_prem("16.0.6000.0"));
    assert_eq!(d.reasons, vec![Reason::RecipientOffline, Reason::ClientBuildTooOld, Reason::OnPremisesNeedsNewerBuild]);
}

#[test]
fn gates_do_not_block_live_delivery() {
    let v = with(with(base(), &["sender", "client"], json!({ "build": "15.0.1.1", "installType": "msi" })), &["recipient", "presence"], json!("available"));
    assert_eq!(decide(v).delivery, Delivery::Live);
}

#[test]
fn several_rules_each_give_a_reason() {
    let v = with(with(base(), &["policy"], json!({
        "imConfigurations": [{ "identity": "Global", "enableOfflineIM": false }],
        "clientPolicies": [{ "identity": "Global", "enableIMAutoArchiving": false }],
    })), &["sender", "client"], json!({ "build": "16.0.1.1" }));
    let d = decide(v);
    assert_eq!(d.reasons, vec![Reason::RecipientOffline, Reason::OfflineImDisabled, Reason::AutoArchivingDisabled, Reason::ClientBuildTooOld]);
}

#[test]
fn bad_input_is_a_clear_error() {
    let v = with(base(), &["sender", "client"], json!({ "build": "sixteen" }));
    assert_eq!(evaluate(&input(v)).unwrap_err().code(), "InvalidClientBuild");
    let v = with(base(), &["policy"], json!({ "clientPolicyGrants": [{ "identity": "Tony Smith", "policyName": "Missing" }] }));
    let e = evaluate(&input(v)).unwrap_err();
    assert_eq!(e.code(), "InvalidPolicy");
    assert!(e.to_string().contains("Tag:Missing does not exist"), "{e}");
    let v = with(base(), &["policy"], json!({ "imConfigurations": [{ "identity": "Tag:X" }] }));
    assert_eq!(evaluate(&input(v)).unwrap_err().code(), "InvalidPolicy");
    let v = with(base(), &["recipient"], json!({ "presence": "offline" }));
    assert!(matches!(evaluate(&input(v)), Err(Error::InvalidInput { field: "recipient", .. })));
    // Typos in the snapshot are not silently ignored.
    let typo: Result<PolicySnapshot, _> = serde_json::from_value(json!({ "clientPolicies": [{ "identity": "Global", "enableIMAutoArchive": false }] }));
    assert!(typo.unwrap_err().to_string().contains("unknown field"));
}

#[test]
fn snapshot_json_round_trips_with_cmdlet_property_names() {
    let text = r#"{"imConfigurations":[{"identity":"Global","enableOfflineIM":false}],"clientPolicies":[{"identity":"Tag:OfflineIM","enableIMAutoArchiving":true}],"clientPolicyGrants":[{"identity":"Tony Smith","policyName":null}]}"#;
    let snap: PolicySnapshot = serde_json::from_str(text).unwrap();
    assert_eq!(snap.im_configurations[0].enable_offline_im, Some(false));
    assert_eq!(serde_json::to_string(&snap).unwrap(), text);
}
