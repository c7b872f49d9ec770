//! Core errors as JavaScript `Error` objects with a stable `code` property.

use crate::error::Error;
use js_sys::Reflect;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const ERROR_TS: &'static str = r#"
/** Stable codes on `OfflineImError.code`. */
export type OfflineImErrorCode =
  | "PolicyScriptError" | "InvalidPolicy" | "InvalidClientBuild" | "InvalidAddress"
  | "InvalidInput" | "MessageTooLarge" | "XmlWriteFailed" | "InvalidConfig" | "QuotaExceeded"
  | "StorageError" | "DatabaseBlocked" | "UnknownMessage" | "MessageInFlight" | "MessengerClosed"
  | "AuthRequired" | "EwsError";

/** Every error this package throws: an `Error` whose `name` is "OfflineImError". */
export interface OfflineImError extends Error {
  code: OfflineImErrorCode;
  /** PolicyScriptError only: 1-based line and column, and a hint where one helps. */
  line?: number;
  column?: number;
  hint?: string;
}
"#;

fn set(target: &JsValue, key: &str, value: JsValue) {
    // Reflect.set on a fresh Error object cannot fail; ignore the impossible error rather than panic.
    let _ = Reflect::set(target, &JsValue::from_str(key), &value);
}

/// An `Error` named `OfflineImError` with `code` (and, for script errors, `line`, `column`, `hint`).
pub fn to_js(error: &Error) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("OfflineImError");
    let value: JsValue = js.into();
    set(&value, "code", JsValue::from_str(error.code()));
    if let Error::PolicyScript { line, column, hint, .. } = error {
        set(&value, "line", JsValue::from_f64(*line as f64));
        set(&value, "column", JsValue::from_f64(*column as f64));
        if let Some(h) = hint {
            set(&value, "hint", JsValue::from_str(h));
        }
    }
    value
}

/// An `InvalidInput` error for a JavaScript argument that does not have the documented shape.
pub fn invalid(field: &'static str, reason: impl ToString) -> JsValue {
    to_js(&Error::InvalidInput { field, reason: reason.to_string() })
}
