//! Browser tests of the JavaScript API (wasm-pack test --headless --chrome / --firefox).
//! Each exported function is called with JavaScript values, as a chat app would.
#![cfg(target_arch = "wasm32")]

use js_sys::{JSON, Reflect};
use offline_im::wasm::{build_offline_message_envelope, evaluate_policy, parse_ews_response, parse_policy_script};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn js(json: &str) -> JsValue {
    JSON::parse(json).expect("test JSON parses")
}

fn get(v: &JsValue, path: &str) -> JsValue {
    path.split('.').fold(v.clone(), |v, k| Reflect::get(&v, &JsValue::from_str(k)).unwrap())
}

fn error_code(e: &JsValue) -> String {
    assert!(e.is_instance_of::<js_sys::Error>(), "thrown value is an Error");
    assert_eq!(get(e, "name").as_string().as_deref(), Some("OfflineImError"));
    get(e, "code").as_string().expect("error has a string code")
}

#[wasm_bindgen_test]
fn evaluate_policy_from_js_object() {
    let d = evaluate_policy(js(r#"{
        "policy": { "clientPolicies": [{ "identity": "Tag:OfflineIM", "enableIMAutoArchiving": false }],
                    "clientPolicyGrants": [{ "identity": "Tony Smith", "policyName": "OfflineIM" }] },
        "sender": { "displayName": "Ana", "emailAddress": "ana@contoso.com" },
        "recipient": { "emailAddress": "bob@fabrikam.com", "presence": "offline" } }"#))
    .unwrap();
    assert_eq!(get(&d, "delivery").as_string().as_deref(), Some("mailbox"));
    assert_eq!(get(&d, "itemClass").as_string().as_deref(), Some("IPM.Note"));
    assert_eq!(JSON::stringify(&get(&d, "reasons")).unwrap(), r#"["RecipientOffline","ClientNotReported","Federated"]"#);

    let e = evaluate_policy(js(r#"{ "sender": {}, "recipient": { "presence": "sleeping" } }"#)).unwrap_err();
    assert_eq!(error_code(&e), "InvalidInput");
    assert!(get(&e, "message").as_string().unwrap().contains("sleeping"));
    assert_eq!(error_code(&evaluate_policy(JsValue::UNDEFINED).unwrap_err()), "InvalidInput");
    // A misspelled field is reported, not silently ignored.
    let e = evaluate_policy(js(r#"{ "sender": { "emailAdress": "a@contoso.com" }, "recipient": {} }"#)).unwrap_err();
    assert!(get(&e, "message").as_string().unwrap().contains("unknown field `emailAdress`"));
}

#[wasm_bindgen_test]
fn parse_policy_script_and_script_errors() {
    let snap = parse_policy_script(JsValue::from_str("Set-CsClientPolicy -Identity Global -EnableIMAutoArchiving $False")).unwrap();
    assert_eq!(get(&snap, "clientPolicies.0.enableIMAutoArchiving").as_bool(), Some(false));

    let e = parse_policy_script(JsValue::from_str("New-CsClientPolicy -Identity OfflineIM\nGrant -CsClientPolicy -Identity \"Tony Smith\" - PolicyName OfflineIM")).unwrap_err();
    assert_eq!(error_code(&e), "PolicyScriptError");
    assert_eq!(get(&e, "line").as_f64(), Some(2.0));
    assert_eq!(get(&e, "column").as_f64(), Some(7.0));
    assert!(get(&e, "hint").as_string().unwrap().contains("Grant-CsClientPolicy"));
    assert_eq!(error_code(&parse_policy_script(JsValue::from_f64(3.0)).unwrap_err()), "InvalidInput");
}

#[wasm_bindgen_test]
fn build_envelope_in_the_browser_parses_with_domparser() {
    let env = build_offline_message_envelope(
        js(r#"{ "id": "m1", "to": { "emailAddress": "ana@contoso.com", "displayName": "Ana" }, "text": "hi </t:Body><t:Bogus>\u0000" }"#),
        None,
    )
    .unwrap();
    let xml = get(&env, "xml").as_string().unwrap();
    // The public field names, literally (they are the API), and the same XML the core builds.
    let keys = js_sys::Object::keys(env.unchecked_ref::<js_sys::Object>()).iter().filter_map(|k| k.as_string()).collect::<Vec<_>>();
    assert_eq!(keys, ["xml", "soapAction", "replacedCharacters"]);
    assert_eq!(get(&env, "soapAction").as_string().as_deref(), Some("http://schemas.microsoft.com/exchange/services/2006/messages/CreateItem"));
    let core = offline_im::ews::build_offline_message_envelope(
        &serde_json::from_str(r#"{ "id": "m1", "to": { "emailAddress": "ana@contoso.com", "displayName": "Ana" }, "text": "hi </t:Body><t:Bogus>\u0000" }"#).unwrap(),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(xml, core.xml);
    // The NUL is replaced in the body and in the subject taken from the first line.
    assert_eq!(get(&env, "replacedCharacters").as_f64(), Some(2.0));
    // The browser's own XML parser accepts the document and finds exactly one item class.
    let doc = web_parse(&xml);
    assert_eq!(doc, "IPM.Note.Microsoft.Missed|1|0|0");

    let e = build_offline_message_envelope(js(r#"{ "id": "m1", "to": { "emailAddress": "ana@contoso.com" }, "text": "hello" }"#), Some(js(r#"{ "maxMessageBytes": 3 }"#))).unwrap_err();
    assert_eq!(error_code(&e), "MessageTooLarge");
    let e = build_offline_message_envelope(js(r#"{ "id": "m1", "to": { "emailAddress": "nobody" }, "text": "hello" }"#), None).unwrap_err();
    assert_eq!(error_code(&e), "InvalidAddress");
}

/// Parses with the browser's DOMParser: "<ItemClass text>|<count of ItemClass>|<count of parsererror>|<count of injected Bogus>".
fn web_parse(xml: &str) -> String {
    let f = js_sys::Function::new_with_args(
        "xml",
        "const d = new DOMParser().parseFromString(xml, 'application/xml');\
         const t = 'http://schemas.microsoft.com/exchange/services/2006/types';\
         const c = d.getElementsByTagNameNS(t, 'ItemClass');\
         return (c[0] ? c[0].textContent : '') + '|' + c.length + '|' + d.getElementsByTagName('parsererror').length + '|' + d.getElementsByTagNameNS(t, 'Bogus').length;",
    );
    f.call1(&JsValue::NULL, &JsValue::from_str(xml)).unwrap().as_string().unwrap()
}

#[wasm_bindgen_test]
fn parse_ews_response_outcomes() {
    let busy = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>a:ErrorServerBusy</faultcode><faultstring>busy</faultstring><detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">ErrorServerBusy</e:ResponseCode><t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="BackOffMilliseconds">1500</t:Value></t:MessageXml></detail></s:Fault></s:Body></s:Envelope>"#;
    let o = parse_ews_response(JsValue::from_f64(500.0), JsValue::from_str(busy)).unwrap();
    assert_eq!(JSON::stringify(&o).unwrap(), r#"{"kind":"retry","code":"ErrorServerBusy","message":"busy","backOffMs":1500,"httpStatus":500}"#);
    // The fast path for `delivered`: the documented shape, written out.
    let ok = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:CreateItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages><m:CreateItemResponseMessage ResponseClass="CLASS"><m:ResponseCode>NoError</m:ResponseCode></m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>"#;
    let o = parse_ews_response(JsValue::from_f64(200.0), JsValue::from_str(&ok.replace("CLASS", "Success"))).unwrap();
    assert_eq!(JSON::stringify(&o).unwrap(), r#"{"kind":"delivered","responseClass":"Success"}"#);
    let o = parse_ews_response(JsValue::from_f64(200.0), JsValue::from_str(&ok.replace("CLASS", "Warning"))).unwrap();
    assert_eq!(get(&o, "kind").as_string().as_deref(), Some("retry"), "a Warning was not processed");
    let o = parse_ews_response(JsValue::from_f64(401.0), JsValue::from_str("")).unwrap();
    assert_eq!(get(&o, "kind").as_string().as_deref(), Some("authRequired"));
    assert_eq!(error_code(&parse_ews_response(JsValue::from_f64(200.5), JsValue::from_str("")).unwrap_err()), "InvalidInput");
    assert_eq!(error_code(&parse_ews_response(JsValue::from_f64(200.0), JsValue::NULL).unwrap_err()), "InvalidInput");
}

/// `isOfflineImError` (issue 15): true for what the package throws, false for look-alikes.
#[wasm_bindgen_test]
fn is_offline_im_error_tells_our_errors_apart() {
    use offline_im::wasm::is_offline_im_error;
    let ours = evaluate_policy(JsValue::UNDEFINED).unwrap_err();
    assert!(is_offline_im_error(ours.clone()));
    let plain: JsValue = js_sys::Error::new("other").into();
    assert!(!is_offline_im_error(plain.clone()), "another Error");
    Reflect::set(&plain, &"code".into(), &"InvalidInput".into()).unwrap();
    assert!(!is_offline_im_error(plain), "an Error with a code but another name");
    let named: JsValue = js_sys::Error::new("x").into();
    Reflect::set(&named, &"name".into(), &"OfflineImError".into()).unwrap();
    assert!(!is_offline_im_error(named), "no code");
    let copy = js(&JSON::stringify(&ours).unwrap().as_string().unwrap());
    Reflect::set(&copy, &"name".into(), &"OfflineImError".into()).unwrap();
    Reflect::set(&copy, &"code".into(), &"InvalidInput".into()).unwrap();
    assert!(!is_offline_im_error(copy), "a plain object with the same fields");
    assert!(!is_offline_im_error(JsValue::NULL) && !is_offline_im_error(JsValue::UNDEFINED) && !is_offline_im_error("OfflineImError".into()));
}
