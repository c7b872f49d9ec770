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
  | "AuthRequired" | "EwsError" | "GraphError" | "TransportContract" | "SpoolDeleted";

/** Every error this package throws: an `Error` whose `name` is "OfflineImError". */
export interface OfflineImError extends Error {
  code: OfflineImErrorCode;
  /** InvalidInput / InvalidConfig: the dotted path of the bad field (`input.to.emailAddress`). */
  field?: string;
  /** SpoolDeleted: how many of this sender's records the messenger last knew of. */
  records?: number;
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

/// An `Error` named `OfflineImError` with `message` and `code`.
fn error_object(message: &str, code: &str) -> JsValue {
    let js = js_sys::Error::new(message);
    js.set_name("OfflineImError");
    let value: JsValue = js.into();
    set(&value, "code", JsValue::from_str(code));
    value
}

/// An `Error` named `OfflineImError` with `code` (and, for script errors, `line`, `column`, `hint`).
pub fn to_js(error: &Error) -> JsValue {
    let value = error_object(&error.to_string(), error.code());
    match error {
        Error::InvalidInput { field, .. } | Error::InvalidConfig { field, .. } | Error::InvalidAddress { field, .. } => set(&value, "field", JsValue::from_str(field)),
        Error::SpoolDeleted { records, .. } => set(&value, "records", JsValue::from_f64(*records as f64)),
        _ => {}
    }
    if let Error::PolicyScript { line, column, hint, .. } = error {
        set(&value, "line", JsValue::from_f64(*line as f64));
        set(&value, "column", JsValue::from_f64(*column as f64));
        if let Some(h) = hint {
            set(&value, "hint", JsValue::from_str(h));
        }
    }
    value
}

/// An error (`code` `InvalidInput` or `InvalidConfig`) about `argument.path`: message
/// "invalid <argument.path>: <reason>", and `field` set to that dotted path.
pub fn at_path(code: &'static str, argument: &str, path: &str, reason: &str) -> JsValue {
    let field = if path.is_empty() { argument.to_string() } else { [argument, ".", path].concat() };
    let kind = if code == "InvalidConfig" { "invalid config " } else { "invalid " };
    let value = error_object(&[kind, &field, ": ", reason].concat(), code);
    set(&value, "field", JsValue::from_str(&field));
    value
}

/// An `InvalidInput` error for a JavaScript argument that does not have the documented shape.
pub fn invalid(field: &'static str, reason: impl ToString) -> JsValue {
    to_js(&Error::InvalidInput { field, reason: reason.to_string() })
}

// The test is plain JS (`instanceof`, two property reads): cheaper in the package than the same
// through js-sys.
#[wasm_bindgen(module = "/src/wasm/shell.js")]
extern "C" {
    #[wasm_bindgen(js_name = isOfflineImError)]
    fn shell_is_offline_im_error(value: &JsValue) -> bool;
}

/// Whether `value` is an error this package threw: an `Error` named `OfflineImError` with a
/// string `code` (issue 15: `catch (e) { if (isOfflineImError(e)) switch (e.code) … }`, typed,
/// without comparing names). False for anything else, `null` and `undefined` included.
#[wasm_bindgen(js_name = isOfflineImError, unchecked_return_type = "value is OfflineImError")]
pub fn is_offline_im_error(#[wasm_bindgen(unchecked_param_type = "unknown")] value: JsValue) -> bool {
    shell_is_offline_im_error(&value)
}
