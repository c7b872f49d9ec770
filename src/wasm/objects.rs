//! Results of the hot paths as object literals made in JS: one call per result instead of a
//! `Reflect.set` (and a decoded key string) per field, or a serde_json text parsed again with
//! `JSON.parse`. Each shape is the one serde gives the same type (tests/web.rs and
//! tests/web_messenger.rs compare `JSON.stringify` of both); a receipt's `decision` is made by
//! serde itself and copied.

use super::to_js;
use crate::ews;
use crate::messenger::SendReceipt;
use crate::policy::PolicyDecision;
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/wasm/shell.js")]
extern "C" {
    #[wasm_bindgen(js_name = envelopeObject)]
    fn envelope_object(xml: &str, soap_action: &str, replaced_characters: u32, anchor_mailbox: Option<&str>) -> JsValue;
    #[wasm_bindgen(js_name = deliveredObject)]
    fn delivered_object() -> JsValue;
    #[wasm_bindgen(js_name = receiptObject)]
    fn receipt_object(id: &str, state: &str, decision: &JsValue, duplicate: bool, replaced_characters: u32) -> JsValue;
}

/// `Envelope` as a JS object: the XML crosses the boundary once, as a string, instead of being
/// escaped into JSON and parsed again (the hot path of every send).
pub(crate) fn envelope_to_js(envelope: &ews::Envelope) -> JsValue {
    envelope_object(&envelope.xml, &envelope.soap_action, envelope.replaced_characters, envelope.anchor_mailbox.as_deref())
}

/// `EwsOutcome` as a JS object; the common `delivered` without a JSON round trip.
pub(crate) fn outcome_to_js(outcome: &ews::EwsOutcome) -> Result<JsValue, JsValue> {
    match outcome {
        ews::EwsOutcome::Delivered { response_class } if response_class == "Success" => {
            Ok(delivered_object())
        }
        other => to_js(other),
    }
}

/// The serde name of a unit enum variant (`"queued"`): the same spelling as the serialized
/// types, from the derive itself.
fn variant_name<T: Serialize>(value: &T) -> String {
    // serde_json text of a unit variant is the quoted name; no serde_json::Value (and its map).
    let text = serde_json::to_string(value).unwrap_or_default();
    text.trim_matches('"').to_string()
}

/// Makes `SendReceipt`s as JS objects (every `send` resolves one, 1000 at a time in a burst).
/// The `decision` is made by serde once and reused while the next send's decision is equal
/// (a burst to one kind of recipient); each receipt gets its own copy of it.
#[derive(Default)]
pub(crate) struct Receipts {
    last: std::cell::RefCell<Option<(PolicyDecision, JsValue)>>,
}

impl Receipts {
    pub(crate) fn to_js(&self, receipt: SendReceipt) -> Result<JsValue, JsValue> {
        let mut last = self.last.borrow_mut();
        let decision = match last.as_ref() {
            Some((d, js)) if *d == receipt.decision => js.clone(),
            _ => {
                let js = to_js(&receipt.decision)?;
                *last = Some((receipt.decision, js.clone()));
                js
            }
        };
        Ok(receipt_object(&receipt.id, &variant_name(&receipt.state), &decision, receipt.duplicate, receipt.replaced_characters))
    }
}
