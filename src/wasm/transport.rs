//! Sending mailbox requests (EWS or Graph) from the browser: `fetch` with a timeout
//! (AbortController), or the app's own `transport(request) => Promise<{status, body}>`. Only the
//! configured URL (EWS), or paths under it (Graph), is ever requested. An access token from `getAccessToken()` goes into the `Authorization` header of
//! that one request and nowhere else: replies and error texts are redacted of it before the
//! core sees them, so it never reaches IndexedDB, an event or a log.
//!
//! Bounds (issue 11): the token within `tokenTimeoutMs`, the request (fetch or custom transport,
//! body included) within `requestTimeoutMs`. A custom transport also gets `request.signal`, an
//! AbortSignal that fires at that timeout.

use super::bounded::within;
use crate::mailbox::Request;
use crate::transport::{check_token, redact};
use crate::spool::{Transport, TransportError, TransportReply};
use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, RequestInit, Response};

#[wasm_bindgen(typescript_custom_section)]
const TRANSPORT_TS: &'static str = r#"
/**
 * What a custom `transport` receives: one request. EWS: a POST of SOAP to `ewsUrl`, headers
 * `Content-Type`, `SOAPAction`, and `X-AnchorMailbox` when `impersonate` is on. Graph: GET,
 * POST, PATCH or DELETE under `graphUrl`, JSON bodies, `Prefer` on listings. `Authorization`
 * with `getAccessToken`. `signal` aborts at `requestTimeoutMs`. `body` is absent for GET and DELETE.
 */
export interface EwsRequest {
  url: string;
  method: "POST" | "GET" | "PATCH" | "DELETE";
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}
/**
 * What a custom `transport` resolves to: `status` a number (or numeric string) from 100 to 599,
 * `body` a string, `Uint8Array` or `ArrayBuffer` (UTF-8), and optionally `headers` (only
 * `Retry-After` is read). A fetch `Response` is accepted too. Reject, or resolve status 0, for
 * "no reply" (retried). Any other shape fails the message with code `TransportContract`.
 */
export interface EwsReply { status: number | string; body: string | Uint8Array | ArrayBuffer; headers?: Record<string, string>; }
/**
 * The two functions `OfflineMessenger.open` reads besides the JSON fields above (this declaration
 * merges into the generated `MessengerConfig`, so one type describes everything `open` accepts).
 */
export interface MessengerConfig {
  /**
   * Sends one request instead of `fetch` (a proxy, a test double, a native bridge): resolve the
   * reply, reject or resolve status 0 for "no reply". Bounded by `requestTimeoutMs`.
   */
  transport?: (request: EwsRequest) => Promise<EwsReply | Response>;
  /**
   * The OAuth access token for `Authorization: Bearer` (Graph; EWS with OAuth). Once given, it
   * must resolve a non-empty token within `tokenTimeoutMs`: anything else is `authrequired`, and
   * nothing is sent. Never stored or logged.
   */
  getAccessToken?: () => Promise<string>;
}
"#;

#[wasm_bindgen(module = "/src/wasm/shell.js")]
extern "C" {
    fn describe(v: &JsValue) -> String;
    #[wasm_bindgen(js_name = bytesToText)]
    fn bytes_to_text(v: &JsValue) -> JsValue;
    fn reason(e: &JsValue) -> String;
    #[wasm_bindgen(js_name = retryAfterOf)]
    fn retry_after_of(headers: &JsValue) -> Option<String>;
}

/// fetch or a JS function, plus an optional token source.
pub struct JsTransport {
    pub url: String,
    pub custom: Option<Function>,
    pub get_access_token: Option<Function>,
    pub timeout_ms: u32,
    pub token_timeout_ms: u32,
}

fn set(o: &JsValue, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(k), v);
}

async fn await_value(v: JsValue) -> Result<JsValue, JsValue> {
    match v.dyn_into::<Promise>() {
        Ok(p) => JsFuture::from(p).await,
        Err(v) => Ok(v),
    }
}

/// A status as a custom transport may give it: an integer, or a string of digits, 100 to 599.
fn status_of(v: &JsValue) -> Result<u16, TransportError> {
    // A digit string parsed as an integer (u16), not a float: float parsing alone is ~10 KB of wasm.
    let n = v.as_f64().or_else(|| v.as_string().filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).and_then(|s| s.parse::<u16>().ok()).map(f64::from));
    match n {
        Some(n) if n.fract() == 0.0 && (100.0..=599.0).contains(&n) => Ok(n as u16),
        // `describe` writes a number's value in JavaScript, so this path does not format an f64
        // in Rust (serde's "invalid type: floating point" message still keeps core's float
        // printing in the package).
        _ => Err(TransportError::Contract(["status is ", &describe(v), ", not an HTTP status from 100 to 599"].concat())),
    }
}

/// A body as a custom transport may give it: a string, or UTF-8 bytes.
fn body_of(v: &JsValue) -> Result<String, TransportError> {
    if let Some(s) = v.as_string() {
        return Ok(s);
    }
    if let Some(s) = bytes_to_text(v).as_string() {
        return Ok(s);
    }
    Err(TransportError::Contract(["body is ", &describe(v), ", not a string, Uint8Array or ArrayBuffer"].concat()))
}

impl JsTransport {
    /// The token, when the app gave a `getAccessToken`: `Ok(None)` without one (cookie auth).
    async fn token(&self) -> Result<Option<String>, TransportError> {
        let Some(f) = self.get_access_token.as_ref() else { return Ok(None) };
        let call = async {
            let v = f.call0(&JsValue::NULL)?;
            await_value(v).await
        };
        let v = match within(self.token_timeout_ms, call).await {
            None => return Err(TransportError::TokenTimeout(self.token_timeout_ms)),
            Some(Err(e)) => return Err(TransportError::TokenUnavailable(["it rejected: ", &reason(&e)].concat())),
            Some(Ok(v)) => v,
        };
        let token = v.as_string().ok_or_else(|| TransportError::TokenUnavailable(["it resolved ", &describe(&v), ", not a string"].concat()))?;
        if token.trim().is_empty() {
            return Err(TransportError::TokenUnavailable("it resolved an empty string".into()));
        }
        check_token(&token).map_err(TransportError::TokenUnsafe)?;
        Ok(Some(token))
    }

    async fn custom_post(&self, f: &Function, url: &str, r: &Request, headers: &Object, signal: &web_sys::AbortSignal) -> Result<TransportReply, TransportError> {
        let request: JsValue = Object::new().into();
        set(&request, "url", &url.into());
        set(&request, "method", &r.method.into());
        set(&request, "headers", headers);
        if let Some(body) = &r.body {
            set(&request, "body", &body.as_str().into());
        }
        set(&request, "signal", signal);
        let pending = f.call1(&JsValue::NULL, &request).map_err(|e| TransportError::NoReply(["the transport threw: ", &reason(&e)].concat()))?;
        let reply = await_value(pending).await.map_err(|e| TransportError::NoReply(["the transport rejected: ", &reason(&e)].concat()))?;
        if let Some(response) = reply.dyn_ref::<Response>() {
            return read_response(response).await;
        }
        if !reply.is_object() {
            return Err(TransportError::Contract(["it resolved ", &describe(&reply), ", not { status, body }"].concat()));
        }
        let status = Reflect::get(&reply, &"status".into()).unwrap_or(JsValue::UNDEFINED);
        // Status 0 is "no reply", as 0.1.0 documented it (and as fetch reports a network error).
        if status.as_f64() == Some(0.0) || status.as_string().as_deref() == Some("0") {
            return Err(TransportError::NoReply("the transport reported status 0".into()));
        }
        let status = status_of(&status)?;
        let body = body_of(&Reflect::get(&reply, &"body".into()).unwrap_or(JsValue::UNDEFINED))?;
        let retry_after = retry_after_of(&Reflect::get(&reply, &"headers".into()).unwrap_or(JsValue::UNDEFINED));
        Ok(TransportReply { status, body, retry_after })
    }

    async fn fetch_post(&self, url: &str, r: &Request, headers: &Object, signal: &web_sys::AbortSignal) -> Result<TransportReply, TransportError> {
        let no_reply = |e: JsValue| TransportError::NoReply(reason(&e));
        let init = RequestInit::new();
        init.set_method(r.method);
        if let Some(body) = &r.body {
            init.set_body(&body.as_str().into());
        }
        init.set_signal(Some(signal));
        // Cookies go to a same-origin EWS proxy only; Graph authenticates by bearer token alone.
        init.set_credentials(web_sys::RequestCredentials::SameOrigin);
        // EWS never redirects a POST; a sign-in front end does. Seeing the redirect (as an
        // opaque one) instead of following it to a sign-in page makes it `authrequired`.
        init.set_redirect(web_sys::RequestRedirect::Manual);
        let h = Headers::new().map_err(no_reply)?;
        for key in Object::keys(headers).iter() {
            if let (Some(k), Some(v)) = (key.as_string(), Reflect::get(headers, &key).ok().and_then(|v| v.as_string())) {
                h.set(&k, &v).map_err(no_reply)?;
            }
        }
        init.set_headers(&h);
        let fetch: Function = Reflect::get(&js_sys::global(), &"fetch".into()).map_err(no_reply)?.dyn_into().map_err(no_reply)?;
        let promise: Promise = fetch.call2(&JsValue::NULL, &url.into(), &init).map_err(no_reply)?.dyn_into().map_err(no_reply)?;
        let response: Response = JsFuture::from(promise).await.map_err(no_reply)?.dyn_into().map_err(no_reply)?;
        read_response(&response).await
    }
}

/// Status, text and `Retry-After` of a fetch `Response`; an opaque redirect (redirect "manual")
/// reads as 302. Cross-origin, `Retry-After` is visible only if the server exposes it
/// (`Access-Control-Expose-Headers`); Graph does not, so a 429 there waits our own backoff.
async fn read_response(response: &Response) -> Result<TransportReply, TransportError> {
    if response.type_() == web_sys::ResponseType::Opaqueredirect {
        return Ok(TransportReply::new(302, ""));
    }
    let no_reply = |e: JsValue| TransportError::NoReply(reason(&e));
    let retry_after = response.headers().get("Retry-After").ok().flatten();
    let text = JsFuture::from(response.text().map_err(no_reply)?).await.map_err(no_reply)?.as_string().unwrap_or_default();
    Ok(TransportReply { status: response.status(), body: text, retry_after })
}

fn redact_error(e: TransportError, token: Option<&str>) -> TransportError {
    match e {
        TransportError::NoReply(m) => TransportError::NoReply(redact(&m, token)),
        TransportError::Contract(m) => TransportError::Contract(redact(&m, token)),
        TransportError::TokenUnavailable(m) => TransportError::TokenUnavailable(redact(&m, token)),
        other => other,
    }
}

impl Transport for JsTransport {
    async fn send(&self, request: &Request) -> Result<TransportReply, TransportError> {
        let token = self.token().await?;
        let headers: Object = Object::new();
        for (k, v) in &request.headers {
            set(&headers, k, &v.as_str().into());
        }
        let url = [self.url.as_str(), &request.path].concat();
        if let Some(token) = token.as_deref() {
            set(&headers, "Authorization", &["Bearer ", token].concat().into());
        }
        let controller = AbortController::new().map_err(|e| TransportError::NoReply(reason(&e)))?;
        let signal = controller.signal();
        let sent = async {
            match &self.custom {
                Some(f) => self.custom_post(f, &url, request, &headers, &signal).await,
                None => self.fetch_post(&url, request, &headers, &signal).await,
            }
        };
        let result = match within(self.timeout_ms, sent).await {
            Some(r) => r,
            None => {
                controller.abort();
                Err(TransportError::Timeout(self.timeout_ms))
            }
        };
        match result {
            Ok(reply) => Ok(TransportReply { body: redact(&reply.body, token.as_deref()), ..reply }),
            Err(e) => Err(redact_error(e, token.as_deref())),
        }
    }
}
