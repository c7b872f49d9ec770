//! JSON batching: `POST /$batch` with up to 20 requests, each answered with its own status,
//! headers and body, in any order; one request's failure is its own ("Combine multiple requests
//! in one HTTP call using JSON batching"). A throttled request inside a batch carries its
//! `Retry-After` in the JSON, where a browser can read it (a cross-origin 429 hides the header).

use super::MAX_BATCH;
use crate::error::{Error, Result};
use crate::mailbox::Request;
use crate::transport::TransportReply;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::HashMap;

#[derive(Serialize)]
struct BatchRequest<'a> {
    id: String,
    method: &'a str,
    url: &'a str,
    #[serde(skip_serializing_if = "Headers::is_empty")]
    headers: Headers<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a RawValue>,
    #[serde(rename = "dependsOn", skip_serializing_if = "Option::is_none")]
    depends_on: Option<[String; 1]>,
}

/// A request's headers as a JSON object, in the request's order.
struct Headers<'a>(&'a [(&'static str, String)]);

impl Headers<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Headers<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (*k, v.as_str())))
    }
}

#[derive(Serialize)]
struct Batch<'a> {
    requests: Vec<BatchRequest<'a>>,
}

/// One `$batch` request holding `requests` (ids `"0"`, `"1"`, … in order). Each body must be
/// JSON (it is embedded as is). Errors: [`Error::InvalidInput`] for 0 or more than 20 requests
/// or a body that is not JSON.
pub fn batch_request(requests: &[Request]) -> Result<Request> {
    batch_request_linked(requests, &[])
}

/// [`batch_request`] where `after_previous[i]` makes request `i` depend on request `i - 1`
/// (`dependsOn`): Graph runs it only after that one succeeded, and answers it 424 Failed
/// Dependency otherwise ("Combine multiple requests in one HTTP call using JSON batching",
/// sequencing requests with the dependsOn property). Missing entries are false.
pub fn batch_request_linked(requests: &[Request], after_previous: &[bool]) -> Result<Request> {
    if requests.is_empty() || requests.len() > MAX_BATCH {
        return Err(Error::InvalidInput { field: "requests", reason: format!("{} requests; 1 to {MAX_BATCH} per $batch", requests.len()) });
    }
    let mut items = Vec::with_capacity(requests.len());
    let mut bodies = Vec::with_capacity(requests.len());
    for r in requests {
        bodies.push(match &r.body {
            Some(b) => Some(serde_json::from_str::<&RawValue>(b).map_err(|e| Error::InvalidInput { field: "body", reason: e.to_string() })?),
            None => None,
        });
    }
    for (i, (r, body)) in requests.iter().zip(bodies).enumerate() {
        let headers = Headers(&r.headers);
        let depends_on = (i > 0 && after_previous.get(i).copied().unwrap_or(false)).then(|| [(i - 1).to_string()]);
        items.push(BatchRequest { id: i.to_string(), method: r.method, url: &r.path, headers, body, depends_on });
    }
    let body = serde_json::to_string(&Batch { requests: items }).map_err(|e| Error::InvalidInput { field: "requests", reason: e.to_string() })?;
    Ok(Request { method: "POST", path: "/$batch".into(), headers: vec![("Content-Type", "application/json".into())], body: Some(body) })
}

#[derive(Deserialize)]
struct BatchReply<'a> {
    #[serde(borrow)]
    responses: Vec<BatchResponse<'a>>,
}

#[derive(Deserialize)]
struct BatchResponse<'a> {
    id: String,
    status: u16,
    #[serde(default)]
    headers: HashMap<String, String>,
    #[serde(default, borrow)]
    body: Option<&'a RawValue>,
}

/// The replies of a `$batch`, in request order, as the replies each request would have had on
/// its own (status, body, `Retry-After`). `n` is how many requests the batch held. Err: the
/// batch reply itself is not a 200 with one well-formed response per request (its
/// `TransportReply` is then classified as a whole).
pub fn parse_batch(reply: &TransportReply, n: usize) -> std::result::Result<Vec<TransportReply>, String> {
    if reply.status != 200 {
        return Err(format!("$batch answered HTTP {}", reply.status));
    }
    let parsed: BatchReply = serde_json::from_str(&reply.body).map_err(|e| ["the $batch reply is not JSON batching: ", &e.to_string()].concat())?;
    let mut out: Vec<Option<TransportReply>> = vec![None; n];
    for r in parsed.responses {
        let slot = r.id.parse::<usize>().ok().and_then(|i| out.get_mut(i)).ok_or_else(|| format!("the $batch reply has an unknown id {:?}", r.id))?;
        let retry_after = r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("retry-after")).map(|(_, v)| v.clone());
        *slot = Some(TransportReply { status: r.status, body: r.body.map(|b| b.get().to_string()).unwrap_or_default(), retry_after });
    }
    out.into_iter().enumerate().map(|(i, r)| r.ok_or_else(|| format!("the $batch reply has no response for request {i}"))).collect()
}
