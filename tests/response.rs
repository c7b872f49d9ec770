//! EWS replies of every class of outcome, from fixtures shaped like Exchange's.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::fixture;
use offline_im::ews::response::{PERMANENT_CODES, TRANSIENT_CODES};
use offline_im::ews::{parse_ews_response, EwsOutcome};

fn error_message(code: &str) -> String {
    fixture("responses/error-message.template.xml").replace("{CODE}", code)
}

#[test]
fn success_and_warning_are_delivered() {
    assert_eq!(parse_ews_response(200, &fixture("responses/success.xml")), EwsOutcome::Delivered { response_class: "Success".into() });
    assert_eq!(parse_ews_response(200, &fixture("responses/success-other-prefixes.xml")), EwsOutcome::Delivered { response_class: "Success".into() });
    assert_eq!(parse_ews_response(200, &fixture("responses/warning.xml")), EwsOutcome::Delivered { response_class: "Warning".into() });
}

#[test]
fn server_busy_fault_carries_back_off() {
    match parse_ews_response(500, &fixture("responses/server-busy-fault.xml")) {
        EwsOutcome::Retry { code, message, back_off_ms, http_status } => {
            assert_eq!((code.as_str(), back_off_ms, http_status), ("ErrorServerBusy", Some(297_749), 500));
            assert!(message.starts_with("The server cannot service this request"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn server_busy_response_message_carries_back_off() {
    let o = parse_ews_response(200, &fixture("responses/server-busy-message.xml"));
    assert!(matches!(o, EwsOutcome::Retry { ref code, back_off_ms: Some(5000), .. } if code == "ErrorServerBusy"), "{o:?}");
}

#[test]
fn transient_codes_retry_and_permanent_codes_fail() {
    for code in TRANSIENT_CODES {
        let o = parse_ews_response(200, &error_message(code));
        assert!(matches!(o, EwsOutcome::Retry { code: ref c, back_off_ms: None, .. } if c == code), "{code}: {o:?}");
    }
    for code in PERMANENT_CODES {
        match parse_ews_response(200, &error_message(code)) {
            EwsOutcome::PermanentFailure { code: c, message, http_status } => {
                assert_eq!((c.as_str(), http_status), (code, 200));
                assert_eq!(message, "Something & something <else> é", "entities and char refs decoded");
            }
            other => panic!("{code}: {other:?}"),
        }
    }
}

#[test]
fn unknown_codes_retry() {
    let o = parse_ews_response(200, &error_message("ErrorSomethingNew2030"));
    assert!(matches!(o, EwsOutcome::Retry { ref code, .. } if code == "ErrorSomethingNew2030"), "{o:?}");
}

#[test]
fn schema_validation_and_code_only_faults_are_permanent() {
    let o = parse_ews_response(500, &fixture("responses/schema-validation-fault.xml"));
    assert!(matches!(o, EwsOutcome::PermanentFailure { ref code, ref message, .. } if code == "ErrorSchemaValidation" && message == "The request failed schema validation."), "{o:?}");
    let o = parse_ews_response(500, &fixture("responses/fault-code-only.xml"));
    assert!(matches!(o, EwsOutcome::PermanentFailure { ref code, ref message, .. } if code == "ErrorInvalidServerVersion" && message.contains("server version")), "{o:?}");
}

#[test]
fn http_statuses() {
    assert!(matches!(parse_ews_response(401, ""), EwsOutcome::AuthRequired { http_status: 401, ref code, .. } if code == "Http401"));
    assert!(matches!(parse_ews_response(403, "<html>forbidden</html>"), EwsOutcome::AuthRequired { http_status: 403, ref code, .. } if code == "Http403"));
    // What an AD FS or reverse-proxy sign-in returns: a redirect, or the sign-in page itself
    // with 200. Both need credentials; neither is a broken reply that burns an attempt.
    for status in [301, 302, 303, 307, 308] {
        let o = parse_ews_response(status, "");
        assert!(matches!(o, EwsOutcome::AuthRequired { http_status, ref code, .. } if http_status == status && code == "Redirect"), "{o:?}");
    }
    for page in ["<!DOCTYPE html><html><head><title>Sign In</title></head><body><form>", "\u{feff}\r\n  <HTML lang=en><body>Sign in to your account", "<!doctype HTML>\n<title>AD FS</title>"] {
        let o = parse_ews_response(200, page);
        assert!(matches!(o, EwsOutcome::AuthRequired { http_status: 200, ref code, .. } if code == "LoginPage"), "{page:?}: {o:?}");
    }
    // Not every odd body is a login page: XML that is not SOAP stays InvalidResponse.
    let o = parse_ews_response(200, "<?xml version=\"1.0\"?><html/>");
    assert!(matches!(o, EwsOutcome::Retry { ref code, .. } if code == "InvalidResponse"), "{o:?}");
    for status in [429, 502, 503, 504, 500] {
        let o = parse_ews_response(status, "<html><body>Service Unavailable</body></html>");
        assert!(matches!(o, EwsOutcome::Retry { ref code, http_status, .. } if *code == format!("Http{status}") && http_status == status), "{o:?}");
    }
    // A 503 that carries an EWS fault is classified by the fault (and keeps its backoff).
    let o = parse_ews_response(503, &fixture("responses/server-busy-fault.xml"));
    assert!(matches!(o, EwsOutcome::Retry { back_off_ms: Some(297_749), .. }), "{o:?}");
    for status in [400, 404, 405, 413] {
        assert!(matches!(parse_ews_response(status, "nope"), EwsOutcome::PermanentFailure { .. }), "{status}");
    }
    assert!(matches!(parse_ews_response(0, ""), EwsOutcome::Retry { ref code, .. } if code == "NetworkError"));
}

#[test]
fn html_garbage_and_lookalikes_are_invalid_responses() {
    // A sign-in page with status 200 needs credentials (issue 11.4), it is not a broken reply.
    let o = parse_ews_response(200, &fixture("responses/login-page.html"));
    assert!(matches!(o, EwsOutcome::AuthRequired { ref code, http_status: 200, .. } if code == "LoginPage"), "{o:?}");
    let bodies = [
        fixture("responses/wrong-namespace.xml"),
        String::new(),
        "\u{0}\u{1}garbage<<<".into(),
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>".into(),
        fixture("responses/success.xml").replace("</s:Envelope>", ""),
    ];
    for body in bodies {
        let o = parse_ews_response(200, &body);
        assert!(matches!(o, EwsOutcome::Retry { ref code, .. } if code == "InvalidResponse"), "{body:?}: {o:?}");
    }
}

#[test]
fn outcome_json_shape_for_javascript() {
    let o = parse_ews_response(500, &fixture("responses/server-busy-fault.xml"));
    let v = serde_json::to_value(&o).unwrap();
    assert_eq!(v["kind"], "retry");
    assert_eq!(v["backOffMs"], 297_749);
    assert_eq!(v["httpStatus"], 500);
    assert_eq!(
        serde_json::to_value(parse_ews_response(401, "")).unwrap(),
        serde_json::json!({ "kind": "authRequired", "httpStatus": 401, "code": "Http401", "message": "EWS asked for credentials" })
    );
}
