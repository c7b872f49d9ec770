//! Posting EWS requests from the browser: `fetch` with a timeout (AbortController), or the app's
//! own `transport(request) => Promise<{status, body}>`. Only the configured EWS URL is ever
//! requested. An access token from `getAccessToken()` goes into the `Authorization` header of
//! that one request and nowhere else (never into IndexedDB or logs).

use crate::ews::Envelope;
use crate::spool::{Transport, TransportReply};
use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, RequestInit, Response};

#[wasm_bindgen(typescript_custom_section)]
const TRANSPORT_TS: &'static str = r#"
/** What a custom `transport` receives: one EWS POST. */
export interface EwsRequest {
  url: string;
  method: "POST";
  headers: Record<string, string>;
  body: string;
}
/** What a custom `transport` resolves to; reject (or status 0) for "no reply". */
export interface EwsReply { status: number; body: string; }
"#;

/// fetch or a JS function, plus an optional token source.
pub struct JsTransport {
    pub url: String,
    pub custom: Option<Function>,
    pub get_access_token: Option<Function>,
    pub timeout_ms: u32,
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

impl JsTransport {
    async fn token(&self) -> Option<String> {
        let f = self.get_access_token.as_ref()?;
        let v = await_value(f.call0(&JsValue::NULL).ok()?).await.ok()?;
        v.as_string().filter(|t| !t.is_empty())
    }

    async fn custom_post(&self, f: &Function, headers: &Object, body: &str) -> Result<TransportReply, JsValue> {
        let request: JsValue = Object::new().into();
        set(&request, "url", &self.url.as_str().into());
        set(&request, "method", &"POST".into());
        set(&request, "headers", headers);
        set(&request, "body", &body.into());
        let reply = await_value(f.call1(&JsValue::NULL, &request)?).await?;
        let status = Reflect::get(&reply, &"status".into())?.as_f64().unwrap_or(0.0);
        let body = Reflect::get(&reply, &"body".into())?.as_string().unwrap_or_default();
        Ok(TransportReply { status: if (0.0..=999.0).contains(&status) { status as u16 } else { 0 }, body })
    }

    async fn fetch_post(&self, headers: &Object, body: &str) -> Result<TransportReply, JsValue> {
        let controller = AbortController::new()?;
        let init = RequestInit::new();
        init.set_method("POST");
        init.set_body(&body.into());
        init.set_signal(Some(&controller.signal()));
        init.set_credentials(web_sys::RequestCredentials::SameOrigin);
        let h = Headers::new()?;
        for key in Object::keys(headers).iter() {
            if let (Some(k), Some(v)) = (key.as_string(), Reflect::get(headers, &key)?.as_string()) {
                h.set(&k, &v)?;
            }
        }
        init.set_headers(&h);
        let fetch: Function = Reflect::get(&js_sys::global(), &"fetch".into())?.dyn_into()?;
        let promise: Promise = fetch.call2(&JsValue::NULL, &self.url.as_str().into(), &init)?.dyn_into()?;
        let abort = controller.clone();
        let _timer = gloo_timers::callback::Timeout::new(self.timeout_ms, move || abort.abort());
        let response: Response = JsFuture::from(promise).await?.dyn_into()?;
        let text = JsFuture::from(response.text()?).await?.as_string().unwrap_or_default();
        Ok(TransportReply { status: response.status(), body: text })
    }
}

impl Transport for JsTransport {
    async fn post(&self, envelope: &Envelope) -> TransportReply {
        let headers: Object = Object::new();
        set(&headers, "Content-Type", &"text/xml; charset=utf-8".into());
        set(&headers, "SOAPAction", &envelope.soap_action.as_str().into());
        if let Some(token) = self.token().await {
            set(&headers, "Authorization", &["Bearer ", &token].concat().into());
        }
        let result = match &self.custom {
            Some(f) => self.custom_post(f, &headers, &envelope.xml).await,
            None => self.fetch_post(&headers, &envelope.xml).await,
        };
        // No reply (network error, timeout, rejected promise): status 0, retried by the spool.
        result.unwrap_or(TransportReply { status: 0, body: String::new() })
    }
}
