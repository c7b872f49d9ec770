//! Messenger configuration and send planning, natively.
#![cfg(not(target_arch = "wasm32"))]

use offline_im::backend::Backend;
use offline_im::messenger::*;
use offline_im::policy::{Delivery, Reason};
use serde_json::json;

fn config(v: serde_json::Value) -> Result<Resolved, offline_im::Error> {
    serde_json::from_value::<MessengerConfig>(v).expect("shape").resolve("owner-1")
}

fn base() -> serde_json::Value {
    json!({ "ewsUrl": "/EWS/Exchange.asmx", "sender": { "displayName": "Tony Smith", "emailAddress": "tony@contoso.com" } })
}

#[test]
fn defaults_follow_the_seeds_two_minute_timer() {
    let c = config(base()).unwrap();
    assert_eq!(c.spool.retry.retry_interval_ms, 120_000);
    assert_eq!(c.spool.retry.lease_ms, 90_000, "lease outlives the 30 s request timeout");
    assert_eq!((c.db_name.as_str(), c.spool.concurrency, c.request_timeout_ms), ("offline-im", 4, 30_000));
    assert_eq!(c.spool.owner, "owner-1");
    assert!(matches!(&c.spool.mailbox, Backend::Ews(e) if e.options.impersonate.is_none()));
    assert_eq!(c.url, "/EWS/Exchange.asmx");
}

#[test]
fn the_backend_follows_the_config_or_the_mailbox_hosting() {
    let sender = json!({ "emailAddress": "tony@contoso.com" });
    // No ewsUrl, Exchange Online (the default hosting): Graph at the worldwide endpoint.
    let c = config(json!({ "sender": sender })).unwrap();
    assert_eq!(c.spool.mailbox.name(), "graph");
    assert_eq!(c.url, "https://graph.microsoft.com/v1.0");
    // On premises without ewsUrl: EWS is the only way, and its URL is missing.
    let e = config(json!({ "sender": { "emailAddress": "tony@contoso.com", "mailboxHosting": "exchangeOnPremises" } })).unwrap_err();
    assert_eq!((e.code(), e.to_string().as_str()), ("InvalidConfig", "invalid config ewsUrl: is required for a mailbox on Exchange Server (EWS)"));
    // Explicit graph, national cloud root with a trailing slash; impersonate acts on /users/{sender}.
    let c = config(json!({ "backend": "graph", "graphUrl": "https://graph.microsoft.us/v1.0/", "impersonate": true, "sender": sender })).unwrap();
    assert_eq!(c.url, "https://graph.microsoft.us/v1.0");
    assert!(matches!(&c.spool.mailbox, Backend::Graph(g) if g.user.as_deref() == Some("tony@contoso.com") && g.base_url == c.url));
    // Graph allows 4 concurrent requests per mailbox; EWS settings on a Graph messenger are refused.
    for (extra, field) in [(json!({ "concurrency": 5 }), "concurrency"), (json!({ "ewsUrl": "/EWS/Exchange.asmx" }), "ewsUrl"), (json!({ "serverVersion": "Exchange2013" }), "serverVersion"), (json!({ "graphUrl": "graph.microsoft.com" }), "graphUrl")] {
        let mut v = json!({ "backend": "graph", "sender": sender });
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        assert!(matches!(config(v), Err(offline_im::Error::InvalidConfig { field: f, .. }) if f == field), "{field}");
    }
    assert_eq!(config(json!({ "backend": "graph", "concurrency": 4, "sender": sender })).unwrap().spool.concurrency, 4);
    let e = config(json!({ "backend": "ews", "graphUrl": "https://graph.microsoft.com/v1.0", "ewsUrl": "/EWS/Exchange.asmx", "sender": sender })).unwrap_err();
    assert!(matches!(e, offline_im::Error::InvalidConfig { field: "graphUrl", .. }));
}

#[test]
fn lease_is_configurable_but_outlives_the_request() {
    let mut v = base();
    v["requestTimeoutMs"] = json!(2000);
    assert_eq!(config(v.clone()).unwrap().spool.retry.lease_ms, 62_000);
    v["leaseMs"] = json!(3000);
    assert_eq!(config(v).unwrap().spool.retry.lease_ms, 3_000);
}

#[test]
fn script_policy_client_and_impersonation() {
    let mut v = base();
    v["policy"] = json!("Set-CsImConfiguration -EnableOfflineIM $False");
    v["client"] = json!({ "build": "16.0.6701.1000" });
    v["impersonate"] = json!(true);
    let c = config(v).unwrap();
    assert_eq!(c.policy.im_configurations[0].enable_offline_im, Some(false));
    assert!(c.sender.client.is_some());
    assert!(matches!(&c.spool.mailbox, Backend::Ews(e) if e.options.impersonate.as_deref() == Some("tony@contoso.com")));
}

#[test]
fn bad_config_is_rejected_with_the_field_named() {
    let cases = [
        (json!({ "ewsUrl": "javascript:alert(1)" }), "ewsUrl"),
        (json!({ "retryIntervalMs": 0 }), "retryIntervalMs"),
        (json!({ "concurrency": 64 }), "concurrency"),
        (json!({ "requestTimeoutMs": 10 }), "requestTimeoutMs"),
        (json!({ "serverVersion": "Exchange2099" }), "serverVersion"),
        (json!({ "dbName": " " }), "dbName"),
        (json!({ "requestTimeoutMs": 5000, "leaseMs": 5000 }), "leaseMs"),
        (json!({ "sender": { "displayName": "x" } }), "sender.emailAddress"),
        (json!({ "tokenTimeoutMs": 50 }), "tokenTimeoutMs"),
        (json!({ "maxAttempts": 0 }), "maxAttempts"),
        (json!({ "maxAgeMs": 0 }), "maxAgeMs"),
    ];
    for (patch, field) in cases {
        let mut v = base();
        for (k, val) in patch.as_object().unwrap() {
            v[k] = val.clone();
        }
        // The code and the field exactly, not a substring of the message.
        match config(v).unwrap_err() {
            offline_im::Error::InvalidConfig { field: f, reason } => assert_eq!(f, field, "{reason}"),
            other => panic!("{field}: expected InvalidConfig, got {} {other}", other.code()),
        }
    }
    // A sender address that is there but malformed is InvalidAddress, naming the field.
    let mut v = base();
    v["sender"] = json!({ "emailAddress": "tony" });
    assert!(matches!(config(v).unwrap_err(), offline_im::Error::InvalidAddress { field: "sender.emailAddress", .. }));
    let mut v = base();
    v["policy"] = json!("Grant -CsClientPolicy -Identity x");
    assert_eq!(config(v).unwrap_err().code(), "PolicyScriptError");
}

fn input(presence: &str, email: &str) -> SendInput {
    serde_json::from_value(json!({ "text": "hi", "to": { "emailAddress": email, "presence": presence } })).unwrap()
}

#[test]
fn plan_send_queues_offline_and_not_live_or_blocked() {
    let c = config(base()).unwrap();
    match plan_send(&c, input("offline", "ana@contoso.com"), || "gen-1".into()).unwrap() {
        Plan::Queue(d, m) => {
            assert_eq!(d.delivery, Delivery::Mailbox);
            assert_eq!((m.id.as_str(), m.item_class.as_str()), ("gen-1", "IPM.Note.Microsoft.Missed"));
        }
        other => panic!("{other:?}"),
    }
    match plan_send(&c, input("offline", "bob@fabrikam.com"), || "gen-2".into()).unwrap() {
        Plan::Queue(_, m) => assert_eq!(m.item_class, "IPM.Note"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(plan_send(&c, input("available", "ana@contoso.com"), || "x".into()).unwrap(), Plan::NotQueued(d, id) if d.delivery == Delivery::Live && id == "x"));
    let mut v = base();
    v["policy"] = json!("Set-CsClientPolicy -EnableIMAutoArchiving $False");
    let blocked = config(v).unwrap();
    assert!(matches!(plan_send(&blocked, input("offline", "ana@contoso.com"), || "x".into()).unwrap(), Plan::NotQueued(d, id) if d.reasons.contains(&Reason::AutoArchivingDisabled) && id == "x"));
    assert_eq!(plan_send(&c, input("offline", "ana"), || "x".into()).unwrap_err().code(), "InvalidAddress");
}

/// Every send has an id (a chat UI keys its bubbles by it, live and blocked ones too); one is
/// made only when the input has none.
#[test]
fn plan_send_makes_an_id_only_when_the_input_has_none() {
    let c = config(base()).unwrap();
    let calls = std::cell::Cell::new(0);
    let new_id = || {
        calls.set(calls.get() + 1);
        format!("gen-{}", calls.get())
    };
    let Plan::NotQueued(_, id) = plan_send(&c, input("available", "ana@contoso.com"), new_id).unwrap() else { panic!("queued") };
    assert_eq!((id.as_str(), calls.get()), ("gen-1", 1), "a live message gets an id too");
    let mut with_id = input("offline", "ana@contoso.com");
    with_id.id = Some("app-1".into());
    let Plan::Queue(_, m) = plan_send(&c, with_id, new_id).unwrap() else { panic!("not queued") };
    assert_eq!((m.id.as_str(), calls.get()), ("app-1", 1), "the input's id, none made");
    let Plan::Queue(_, m) = plan_send(&c, input("offline", "ana@contoso.com"), new_id).unwrap() else { panic!("not queued") };
    assert_eq!((m.id.as_str(), calls.get()), ("gen-2", 2));
    let mut live_with_id = input("available", "ana@contoso.com");
    live_with_id.id = Some("app-2".into());
    let Plan::NotQueued(_, id) = plan_send(&c, live_with_id, new_id).unwrap() else { panic!("queued") };
    assert_eq!((id.as_str(), calls.get()), ("app-2", 2));
}

#[test]
fn a_policy_is_a_script_or_a_snapshot_and_a_bad_snapshot_field_is_named() {
    let mut v = base();
    v["policy"] = json!({ "imConfigurations": [{ "identity": "Global", "enableOfflineIM": false }] });
    assert_eq!(config(v.clone()).unwrap().policy.im_configurations[0].enable_offline_im, Some(false));
    v["policy"] = json!({ "imConfigurations": [{ "identity": "Global", "enableOffline": false }] });
    let e = serde_json::from_value::<MessengerConfig>(v.clone()).unwrap_err().to_string();
    assert!(e.contains("unknown field `enableOffline`"), "{e}");
    v["policy"] = json!(42);
    let e = serde_json::from_value::<MessengerConfig>(v).unwrap_err().to_string();
    assert!(e.contains("PowerShell policy lines (a string) or a PolicySnapshot (an object)"), "{e}");
}

/// Issue 14: `batchSize` defaults to 10 messages per CreateItem on EWS and a full `$batch` (20)
/// on Graph; outside 1..=100 (EWS) or 1..=20 (Graph) it is refused, named.
#[test]
fn batch_size_defaults_and_limits_per_back_end() {
    use offline_im::mailbox::{BatchShape, Mailbox};
    let ews = |extra: serde_json::Value| {
        let mut v = base();
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        config(v)
    };
    let graph = |extra: serde_json::Value| {
        let mut v = json!({ "backend": "graph", "sender": { "emailAddress": "tony@contoso.com" } });
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        config(v)
    };
    assert_eq!(ews(json!({})).unwrap().spool.mailbox.batch_shape(), BatchShape { items: 10, lanes: 10, chained: false, lanes_run_in_parallel: false });
    assert_eq!(graph(json!({})).unwrap().spool.mailbox.batch_shape(), BatchShape { items: 20, lanes: 4, chained: true, lanes_run_in_parallel: true });
    assert_eq!(ews(json!({ "batchSize": 100 })).unwrap().spool.mailbox.batch_shape().items, 100);
    assert_eq!(graph(json!({ "batchSize": 1 })).unwrap().spool.mailbox.batch_shape(), BatchShape { items: 1, lanes: 1, chained: true, lanes_run_in_parallel: true });
    for bad in [ews(json!({ "batchSize": 0 })), ews(json!({ "batchSize": 101 })), graph(json!({ "batchSize": 21 }))] {
        assert!(matches!(bad, Err(offline_im::Error::InvalidConfig { field: "batchSize", .. })), "{bad:?}");
    }
}
