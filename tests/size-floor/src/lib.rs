//! Size reference for issue 6's budget, not shipped and not tested: the smallest module built on
//! the stack offline-im is required to use, doing one of each kind of work the crate does and
//! nothing else. Values in and out through serde (derived types with enums, options, numbers),
//! with serde_json and `JSON.stringify`/`JSON.parse` (feature `json`, the default, as the crate)
//! or with serde-wasm-bindgen (feature `serde-wasm-bindgen`, no `json`),
//! an element with an attribute and escaped text written with quick-xml's `Writer`, a response
//! read by namespace URI with `NsReader`, an IndexedDB put awaited through web-sys and
//! wasm-bindgen-futures, typed errors (thiserror) reaching JavaScript as `Error`s, and the panic
//! hook. Built with the crate's release profile and wasm-opt flags (`wasm_opt_release` in
//! `pkg-scripts/env.sh`); `pkg-scripts/bench` prints
//! its size next to the crate's. Whatever this costs, no feature of offline-im is in it yet.

use quick_xml::events::{BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use quick_xml::writer::Writer;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

const NS_MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("XML: {0}")]
    Xml(String),
}

impl From<Error> for JsValue {
    fn from(e: Error) -> JsValue {
        js_sys::Error::new(&e.to_string()).into()
    }
}

fn xml(e: impl std::fmt::Display) -> Error {
    Error::Xml(e.to_string())
}

fn invalid(e: impl std::fmt::Display) -> Error {
    Error::Invalid(e.to_string())
}

#[cfg(not(any(feature = "json", feature = "serde-wasm-bindgen")))]
compile_error!("size-floor needs a serde back end: feature `json` or `serde-wasm-bindgen`");

#[cfg(feature = "json")]
fn from_js<T: serde::de::DeserializeOwned>(value: &JsValue) -> Result<T, JsValue> {
    let text = js_sys::JSON::stringify(value)?.as_string().ok_or("not JSON")?;
    Ok(serde_json::from_str(&text).map_err(invalid)?)
}

#[cfg(feature = "json")]
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    js_sys::JSON::parse(&serde_json::to_string(value).map_err(invalid)?)
}

#[cfg(all(feature = "serde-wasm-bindgen", not(feature = "json")))]
fn from_js<T: serde::de::DeserializeOwned>(value: &JsValue) -> Result<T, JsValue> {
    Ok(serde_wasm_bindgen::from_value(value.clone()).map_err(invalid)?)
}

#[cfg(all(feature = "serde-wasm-bindgen", not(feature = "json")))]
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    Ok(serde_wasm_bindgen::to_value(value).map_err(invalid)?)
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, Default)]
#[serde(rename_all = "camelCase")]
pub enum Presence {
    #[default]
    Offline,
    Available,
    Busy,
    DoNotDisturb,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct To {
    pub email_address: String,
    pub display_name: Option<String>,
    pub sip_address: Option<String>,
    #[serde(default)]
    pub presence: Presence,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Input {
    pub to: To,
    pub text: String,
    pub id: Option<String>,
    pub conversation_id: Option<String>,
    pub subject: Option<String>,
    pub attempts: u32,
    pub created_at: f64,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub id: String,
    pub state: Presence,
    pub reasons: Vec<Presence>,
    pub duplicate: bool,
    pub at: u64,
}

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// An `Input` object in, a SOAP-like XML text out.
#[wasm_bindgen]
pub fn build(input: JsValue) -> Result<String, JsValue> {
    let i: Input = from_js(&input)?;
    let mut w = Writer::new(Vec::new());
    let mut envelope = BytesStart::new("soap:Envelope");
    envelope.push_attribute(("xmlns:soap", "http://schemas.xmlsoap.org/soap/envelope/"));
    let mut message = BytesStart::new("t:Message");
    message.push_attribute(("Id", i.id.as_deref().unwrap_or("")));
    for event in [
        Event::Start(envelope.borrow()),
        Event::Start(message.borrow()),
        Event::Text(BytesText::new(&i.text)),
        Event::Text(BytesText::new(&i.to.email_address)),
        Event::End(message.to_end()),
        Event::End(envelope.to_end()),
    ] {
        w.write_event(event).map_err(xml)?;
    }
    Ok(String::from_utf8(w.into_inner()).map_err(xml)?)
}

/// The text of the first `m:ResponseCode` (by namespace URI), as a `Receipt` object.
#[wasm_bindgen]
pub fn parse(text: &str) -> Result<JsValue, JsValue> {
    let mut reader = NsReader::from_str(text);
    let mut in_code = false;
    loop {
        match reader.read_resolved_event().map_err(xml)? {
            (ResolveResult::Bound(ns), Event::Start(e)) if ns.0 == NS_MESSAGES && e.local_name().as_ref() == "ResponseCode" => in_code = true,
            (_, Event::Text(t)) if in_code => {
                let receipt = Receipt { id: t.xml10_content().into_owned(), state: Presence::Busy, reasons: vec![Presence::Offline], duplicate: false, at: 5 };
                return to_js(&receipt);
            }
            (_, Event::Eof) => return Err(xml("no ResponseCode").into()),
            _ => {}
        }
    }
}

/// Puts the `Input` object into object store `s` of database `name`; resolves to it read back
/// through serde.
#[wasm_bindgen]
pub async fn store(name: String, input: JsValue) -> Result<JsValue, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let factory = window.indexed_db()?.ok_or("no IndexedDB")?;
    let request = factory.open(&name)?;
    JsFuture::from(js_sys::Promise::new(&mut |resolve, _| request.set_onsuccess(Some(&resolve)))).await?;
    let db: web_sys::IdbDatabase = request.result()?.dyn_into()?;
    let tx = db.transaction_with_str_and_mode("s", web_sys::IdbTransactionMode::Readwrite)?;
    tx.object_store("s")?.put(&input)?;
    let input: Input = from_js(&input)?;
    to_js(&input)
}
