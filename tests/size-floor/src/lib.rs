//! Size reference for issue 6's budget, not shipped and not tested: the smallest module built on
//! the stack offline-im is required to use, doing one of each kind of work the crate does and
//! nothing else. JSON in and out with serde_json (derived types with enums, options, numbers),
//! an element with an attribute and escaped text written with quick-xml's `Writer`, a response
//! read by namespace URI with `NsReader`, an IndexedDB put awaited through web-sys and
//! wasm-bindgen-futures, typed errors (thiserror) reaching JavaScript as `Error`s, and the panic
//! hook. Built with the crate's release profile and `wasm-opt -Oz`; `pkg-scripts/bench` prints
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

/// JSON `Input` in, a SOAP-like XML text out.
#[wasm_bindgen]
pub fn build(input: &str) -> Result<String, JsValue> {
    let i: Input = serde_json::from_str(input).map_err(invalid)?;
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

/// The text of the first `m:ResponseCode` (by namespace URI), as a JSON `Receipt`.
#[wasm_bindgen]
pub fn parse(text: &str) -> Result<String, JsValue> {
    let mut reader = NsReader::from_str(text);
    let mut in_code = false;
    loop {
        match reader.read_resolved_event().map_err(xml)? {
            (ResolveResult::Bound(ns), Event::Start(e)) if ns.0 == NS_MESSAGES && e.local_name().as_ref() == "ResponseCode" => in_code = true,
            (_, Event::Text(t)) if in_code => {
                let receipt = Receipt { id: t.xml10_content().into_owned(), state: Presence::Busy, reasons: vec![Presence::Offline], duplicate: false, at: 5 };
                return Ok(serde_json::to_string(&receipt).map_err(invalid)?);
            }
            (_, Event::Eof) => return Err(xml("no ResponseCode").into()),
            _ => {}
        }
    }
}

/// Puts the JSON `Input` into object store `s` of database `name`; resolves to it re-serialized.
#[wasm_bindgen]
pub async fn store(name: String, json: String) -> Result<JsValue, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let factory = window.indexed_db()?.ok_or("no IndexedDB")?;
    let request = factory.open(&name)?;
    JsFuture::from(js_sys::Promise::new(&mut |resolve, _| request.set_onsuccess(Some(&resolve)))).await?;
    let db: web_sys::IdbDatabase = request.result()?.dyn_into()?;
    let tx = db.transaction_with_str_and_mode("s", web_sys::IdbTransactionMode::Readwrite)?;
    tx.object_store("s")?.put(&js_sys::JSON::parse(&json)?)?;
    let input: Input = serde_json::from_str(&json).map_err(invalid)?;
    Ok(JsValue::from_str(&serde_json::to_string(&input).map_err(invalid)?))
}
