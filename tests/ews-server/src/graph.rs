//! Microsoft Graph v1.0 over the same in-memory mailboxes as the EWS endpoint: the routes
//! offline-im uses, shaped like Graph's, strict where Graph is strict.
//!
//! - `POST {user}/sendMail` ("user: sendMail"): 202, no body; `saveToSentItems` (default true)
//!   puts a copy in Sent Items; delivery as Exchange transport does it (`ops::deliver`).
//! - `GET {user}/mailFolders/{folder}/messages` ("List messages"): query options in
//!   `graph_query`; newest first; `@odata.nextLink` (absolute, `$skip`) while more remain;
//!   `Prefer: outlook.body-content-type="text"` converts the body (and `Preference-Applied` says so).
//! - `POST {user}/mailFolders/{folder}/messages` ("Create message"): 201 with the message; a
//!   draft unless `Integer 0x0E07` (PR_MESSAGE_FLAGS) without MSGFLAG_UNSENT is set on create.
//! - `GET|PATCH|DELETE {user}/messages/{id}` ("Update message": `isRead` only here).
//! - `POST /$batch` (JSON batching): 1 to 20 requests, each answered on its own.
//!
//! `{user}` is `/me` or `/users/{address}`; another user's mailbox needs the app-only service
//! token (`svc-token`, as with Mail.Send application permission) in the same organisation.
//! Errors are `{"error": {"code", "message", "innerError": {"date", "request-id",
//! "client-request-id"}}}` ("Microsoft Graph error responses and resource types").

use crate::faults::{FaultSpec, Kind};
use crate::graph_query::{parse_expand, parse_filter, percent_decode, PropId};
use crate::ops::deliver;
use crate::shape::{property_tag, render_body};
use crate::state::{org_of, Addr, Ext, Item, State, User};
use crate::time::{iso, now_ms, parse_datetime};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// A Graph reply: status, JSON body (empty for 202/204) and headers beyond `Content-Type`.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphReply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl GraphReply {
    fn json(status: u16, v: &Value) -> GraphReply {
        GraphReply { status, body: v.to_string(), headers: Vec::new() }
    }
    fn empty(status: u16) -> GraphReply {
        GraphReply { status, body: String::new(), headers: Vec::new() }
    }
}

/// Graph's error reply.
pub fn error(status: u16, code: &str, message: &str) -> GraphReply {
    let request_id = format!("{:08x}-0000-4000-8000-{:012x}", now_ms() as u32, now_ms());
    GraphReply::json(status, &json!({ "error": { "code": code, "message": message, "innerError": { "date": iso(now_ms()), "request-id": request_id, "client-request-id": request_id } } }))
}

/// The reply a fault stands for, Graph-shaped: `serverBusy` and `http429` are 429
/// `ApplicationThrottled` with `Retry-After` in seconds ("Microsoft Graph throttling guidance");
/// `http503`/`http504` carry `Retry-After` too. `drop` and `slow` are the HTTP layer's.
pub fn fault_reply(spec: &FaultSpec) -> Option<GraphReply> {
    let retry_after = spec.back_off_ms.unwrap_or(1_000).div_ceil(1000).to_string();
    let mut r = match spec.kind {
        Kind::ServerBusy | Kind::Http429 => error(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
        Kind::Http503 => error(503, "ServiceNotAvailable", "Service is temporarily unavailable. Please try again later."),
        Kind::Http504 => error(504, "GatewayTimeout", "The gateway did not receive a timely response."),
        Kind::Http500Fault => return Some(error(500, "generalException", "An internal server error occurred. The operation failed.")),
        Kind::Http401 => return Some(unauthorized()),
        Kind::Drop | Kind::Slow | Kind::ItemServerBusy | Kind::ItemStoreUnavailable | Kind::ItemTooLarge => return None,
    };
    r.headers.push(("Retry-After".into(), retry_after));
    Some(r)
}

pub fn unauthorized() -> GraphReply {
    let mut r = error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.");
    r.headers.push(("WWW-Authenticate".into(), "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\"".into()));
    r
}

/// One request to the Graph endpoint. `target`: path and query after `/v1.0`; `base`: the
/// absolute URL of `/v1.0` (for `@odata.nextLink`); `faults`: per request of a `$batch`.
pub fn handle(state: &mut State, token: &str, method: &str, target: &str, content_type: Option<&str>, prefer: Option<&str>, body: &str, base: &str, faults: &mut dyn FnMut() -> Option<FaultSpec>) -> GraphReply {
    let Some(caller) = state.user_by_token(token).cloned() else { return unauthorized() };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path == "/$batch" {
        return if method == "POST" { batch(state, token, body, base, faults) } else { error(405, "BadRequest", "$batch takes POST") };
    }
    let segments: Vec<String> = path.trim_start_matches('/').split('/').map(percent_decode).collect();
    let (owner, rest) = match segments.first().map(String::as_str) {
        Some("me") => (caller.clone(), &segments[1..]),
        Some("users") if segments.len() > 1 => match mailbox_of(state, &caller, &segments[1]) {
            Ok(u) => (u, &segments[2..]),
            Err(r) => return r,
        },
        _ => return error(400, "BadRequest", &format!("Resource not found for the segment '{}'.", segments.first().map_or("", String::as_str))),
    };
    let needs_json = matches!(method, "POST" | "PATCH");
    if needs_json && !content_type.is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json")) {
        return error(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.");
    }
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    match (method, rest.as_slice()) {
        ("POST", ["sendMail"]) => send_mail(state, &owner, body),
        ("GET", ["mailFolders", folder, "messages"]) => match well_known(folder) {
            Some(f) => list(state, &owner, f, path, query, prefer, base),
            None => error(400, "ErrorInvalidIdMalformed", "Id is malformed."),
        },
        ("POST", ["mailFolders", folder, "messages"]) => match well_known(folder) {
            Some(f) => create(state, &owner, f, body),
            None => error(400, "ErrorInvalidIdMalformed", "Id is malformed."),
        },
        (m, ["messages", id]) => one_message(state, &owner, m, id, body, prefer),
        _ => error(400, "BadRequest", &format!("Resource not found for the segment '{}'.", rest.first().copied().unwrap_or(""))),
    }
}

/// `/users/{address}`: the caller itself, or with the app-only service token a user of its
/// organisation. Graph answers an address it does not know with 404 `ErrorInvalidUser` and a
/// mailbox the token may not touch with 403 `ErrorAccessDenied`.
fn mailbox_of(state: &State, caller: &User, address: &str) -> Result<User, GraphReply> {
    let Some(u) = state.user(address) else { return Err(error(404, "ErrorInvalidUser", &format!("The requested user '{address}' is invalid."))) };
    if u.email == caller.email || (caller.can_impersonate && org_of(&u.email) == org_of(&caller.email)) {
        return Ok(u.clone());
    }
    Err(error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."))
}

fn well_known(folder: &str) -> Option<&'static str> {
    ["inbox", "conversationhistory", "drafts", "sentitems", "deleteditems"].into_iter().find(|f| f.eq_ignore_ascii_case(folder))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Recipient {
    email_address: Address,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Address {
    address: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(rename = "contentType")]
    content_type: String,
    content: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Property {
    id: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Message {
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    body: Option<Body>,
    #[serde(default)]
    to_recipients: Vec<Recipient>,
    #[serde(default)]
    from: Option<Recipient>,
    #[serde(default)]
    is_read: Option<bool>,
    #[serde(default)]
    single_value_extended_properties: Vec<Property>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SendMail {
    message: Message,
    #[serde(default)]
    save_to_sent_items: Option<bool>,
}

fn bad_body(e: serde_json::Error) -> GraphReply {
    error(400, "RequestBodyRead", &format!("Invalid JSON request payload: {e}"))
}

fn addr(r: &Recipient) -> Addr {
    Addr { name: r.email_address.name.clone().unwrap_or_default(), email: r.email_address.address.clone().unwrap_or_default().trim().to_string() }
}

/// The item a Graph message describes, for `user`; PR_MESSAGE_CLASS sets the class. Err: an
/// extended property id Graph would not accept.
fn item_of(m: &Message, user: &User) -> Result<Item, GraphReply> {
    let mut item = Item { change_key: 1, item_class: "IPM.Note".into(), from: Some(Addr { name: user.name.clone(), email: user.email.clone() }), received_ms: now_ms(), ..Default::default() };
    for p in &m.single_value_extended_properties {
        match PropId::parse(&p.id) {
            Some(PropId::Tag { tag: 0x001A, .. }) => item.item_class = p.value.trim().to_string(),
            Some(PropId::Tag { kind, tag }) => item.extended.push(Ext { property_set_id: None, property_name: None, property_tag: Some(format!("{tag:#06x}")), property_type: kind, value: p.value.clone() }),
            Some(PropId::Named { kind, set, name }) => item.extended.push(Ext { property_set_id: Some(set), property_name: Some(name), property_tag: None, property_type: kind, value: p.value.clone() }),
            None => return Err(error(400, "ErrorInvalidProperty", &format!("The extended property id '{}' is not valid.", p.id))),
        }
    }
    item.subject = m.subject.clone().unwrap_or_default();
    if let Some(b) = &m.body {
        item.body_type = if b.content_type.eq_ignore_ascii_case("html") { "HTML".into() } else { "Text".into() };
        item.body = b.content.clone();
    }
    item.to = m.to_recipients.iter().map(addr).collect();
    item.is_read = m.is_read.unwrap_or(false);
    Ok(item)
}

fn send_mail(state: &mut State, user: &User, body: &str) -> GraphReply {
    let req: SendMail = match serde_json::from_str(body) {
        Ok(r) => r,
        Err(e) => return bad_body(e),
    };
    if let Some(from) = req.message.from.as_ref().map(addr).filter(|f| !f.email.eq_ignore_ascii_case(&user.email)) {
        return error(403, "ErrorSendAsDenied", &format!("The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account {}.", from.email));
    }
    let template = match item_of(&req.message, user) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if template.to.is_empty() || template.to.iter().any(|a| !a.email.contains('@')) {
        return error(400, "ErrorInvalidRecipients", "At least one recipient is not valid.");
    }
    deliver(state, user, &template, &template.to.clone());
    if req.save_to_sent_items != Some(false) {
        let mut copy = template;
        copy.id = state.new_id();
        copy.mailbox = user.email.clone();
        copy.folder = "sentitems".into();
        copy.is_read = true;
        state.items.push(copy);
    }
    GraphReply::empty(202)
}

fn create(state: &mut State, user: &User, folder: &str, body: &str) -> GraphReply {
    let m: Message = match serde_json::from_str(body) {
        Ok(r) => r,
        Err(e) => return bad_body(e),
    };
    let mut item = match item_of(&m, user) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let flags = item.extended.iter().find(|e| e.property_tag.as_deref().and_then(property_tag) == Some(0x0E07)).and_then(|e| e.value.parse::<i64>().ok());
    item.is_draft = flags.is_none_or(|f| f & 8 != 0);
    if let Some(f) = flags {
        item.is_read = m.is_read.unwrap_or(f & 1 != 0);
    }
    if let Some(t) = item.extended.iter().find(|e| e.property_tag.as_deref().and_then(property_tag) == Some(0x0E06)).and_then(|e| parse_datetime(&e.value)) {
        item.received_ms = t;
    }
    if let Some(f) = m.from.as_ref().map(addr) {
        item.from = Some(f);
    }
    item.id = state.new_id();
    item.mailbox = user.email.clone();
    item.folder = folder.into();
    let reply = GraphReply::json(201, &message_json(&item, None, &[], false));
    state.items.push(item);
    reply
}

fn one_message(state: &mut State, user: &User, method: &str, id: &str, body: &str, prefer: Option<&str>) -> GraphReply {
    let Some(i) = state.items.iter().position(|it| it.id == id && it.mailbox == user.email) else {
        return error(404, "ErrorItemNotFound", "The specified object was not found in the store.");
    };
    match method {
        "GET" => GraphReply::json(200, &message_json(&state.items[i], None, &[], text_wanted(prefer))),
        "DELETE" => {
            state.items.remove(i);
            GraphReply::empty(204)
        }
        "PATCH" => {
            let v: Map<String, Value> = match serde_json::from_str(body) {
                Ok(v) => v,
                Err(e) => return bad_body(e),
            };
            for (k, val) in &v {
                match (k.as_str(), val) {
                    ("isRead", Value::Bool(b)) => state.items[i].is_read = *b,
                    _ => return error(400, "ErrorInvalidProperty", &format!("Updating '{k}' is not modelled by this test server (only isRead).")),
                }
            }
            state.items[i].change_key += 1;
            GraphReply::json(200, &message_json(&state.items[i], None, &[], false))
        }
        _ => error(405, "BadRequest", &format!("{method} is not allowed on a message")),
    }
}

fn text_wanted(prefer: Option<&str>) -> bool {
    prefer.is_some_and(|p| p.replace(' ', "").to_ascii_lowercase().contains("outlook.body-content-type=\"text\""))
}

const SELECTABLE: [&str; 9] = ["id", "subject", "body", "from", "toRecipients", "receivedDateTime", "isRead", "isDraft", "parentFolderId"];

/// A message as Graph returns it: `select` (None: all of [`SELECTABLE`]); `expand`: the
/// extended properties asked for that the item has.
fn message_json(item: &Item, select: Option<&[String]>, expand: &[PropId], text: bool) -> Value {
    let person = |a: &Addr| json!({ "emailAddress": { "name": a.name, "address": a.email } });
    let mut m = Map::new();
    m.insert("@odata.etag".into(), json!(format!("W/\"{}\"", item.change_key_text())));
    m.insert("id".into(), json!(item.id));
    let wanted = |f: &str| select.is_none_or(|s| s.iter().any(|x| x == f));
    let (content_type, content) = if text { ("text", render_body(item, "Text").1) } else { ("html", render_body(item, "HTML").1) };
    for f in SELECTABLE.iter().filter(|f| **f != "id" && wanted(f)) {
        let v = match *f {
            "subject" => json!(item.subject),
            "body" => json!({ "contentType": content_type, "content": content }),
            "from" => item.from.as_ref().map_or(Value::Null, person),
            "toRecipients" => Value::Array(item.to.iter().map(person).collect()),
            "receivedDateTime" => json!(iso(item.received_ms)),
            "isRead" => json!(item.is_read),
            "isDraft" => json!(item.is_draft),
            _ => json!(crate::folders::folder_id(&item.mailbox, &item.folder)),
        };
        m.insert((*f).into(), v);
    }
    if !expand.is_empty() {
        let props: Vec<Value> = expand.iter().filter_map(|id| id.value_on(item).map(|v| json!({ "id": id.canonical(), "value": v }))).collect();
        m.insert("singleValueExtendedProperties".into(), Value::Array(props));
    }
    Value::Object(m)
}

fn list(state: &State, user: &User, folder: &str, path: &str, query: &str, prefer: Option<&str>, base: &str) -> GraphReply {
    let (mut filter, mut expand, mut select, mut top, mut skip) = (Vec::new(), Vec::new(), None, 10usize, 0usize);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        let parsed = match percent_decode(k).as_str() {
            "$filter" => parse_filter(&v).map(|f| filter = f),
            "$expand" => parse_expand(&v).map(|e| expand = e),
            "$select" => {
                let fields: Vec<String> = v.split(',').map(|s| s.trim().to_string()).collect();
                match fields.iter().find(|f| !SELECTABLE.contains(&f.as_str())) {
                    Some(bad) => Err(format!("Could not find a property named '{bad}' on type 'microsoft.graph.message'.")),
                    None => Ok(select = Some(fields)),
                }
            }
            "$top" => v.parse::<usize>().ok().filter(|n| (1..=1000).contains(n)).map(|n| top = n).ok_or_else(|| format!("Invalid $top value {v}")),
            "$skip" => v.parse::<usize>().map(|n| skip = n).map_err(|_| format!("Invalid $skip value {v}")),
            other => Err(format!("Query option '{other}' is not modelled by this test server.")),
        };
        if let Err(why) = parsed {
            return error(400, "BadRequest", &why);
        }
    }
    let mut items: Vec<&Item> = state.items.iter().filter(|i| i.mailbox == user.email && i.folder == folder && filter.iter().all(|c| c.matches(i))).collect();
    // Newest first (Graph's default order for messages); ties in creation order.
    items.sort_by(|a, b| b.received_ms.cmp(&a.received_ms));
    let page: Vec<Value> = items.iter().skip(skip).take(top).map(|i| message_json(i, select.as_deref(), &expand, text_wanted(prefer))).collect();
    let mut out = json!({ "@odata.context": format!("{base}/$metadata#users('{}')/mailFolders('{folder}')/messages", user.email), "value": page });
    if skip + top < items.len() {
        let kept: Vec<&str> = query.split('&').filter(|p| !p.starts_with("$skip=") && !p.starts_with("%24skip=")).collect();
        out["@odata.nextLink"] = json!(format!("{base}{path}?{}&$skip={}", kept.join("&"), skip + top));
    }
    let mut reply = GraphReply::json(200, &out);
    if text_wanted(prefer) {
        reply.headers.push(("Preference-Applied".into(), "outlook.body-content-type=\"text\"".into()));
    }
    reply
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    id: String,
    method: String,
    url: String,
    #[serde(default)]
    headers: Map<String, Value>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default, rename = "dependsOn")]
    depends_on: Vec<String>,
}

/// The mailbox a batch request's URL addresses: `/me/…` the caller's, `/users/{x}/…` x's.
fn target_mailbox(url: &str, caller: &str) -> String {
    match url.trim_start_matches('/').split('/').collect::<Vec<_>>().as_slice() {
        ["users", who, ..] => percent_decode(who).to_ascii_lowercase(),
        _ => caller.to_ascii_lowercase(),
    }
}

/// JSON batching: 1 to 20 requests, relative URLs, unique ids; each runs as on its own (with
/// its own roll of fault injection) and is answered `{id, status, headers, body}`. Graph
/// dispatches a batch's requests to Outlook in parallel, so requests without `dependsOn` count
/// against the mailbox's 4 concurrent requests: the fifth and later to one mailbox get 429
/// `ApplicationThrottled` `MailboxConcurrency` (Microsoft's answer on Q&A 1660054). A request
/// with `dependsOn` runs after the requests it names (earlier in the batch) and gets 424 Failed
/// Dependency when one of them did not succeed.
fn batch(state: &mut State, token: &str, body: &str, base: &str, faults: &mut dyn FnMut() -> Option<FaultSpec>) -> GraphReply {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        requests: Vec<BatchRequest>,
    }
    let b: Batch = match serde_json::from_str(body) {
        Ok(b) => b,
        Err(e) => return bad_body(e),
    };
    if b.requests.is_empty() || b.requests.len() > 20 {
        return error(400, "BadRequest", &format!("Invalid batch payload format: {} requests; a batch holds 1 to 20.", b.requests.len()));
    }
    let mut ids = std::collections::BTreeSet::new();
    if let Some(dup) = b.requests.iter().find(|r| !ids.insert(r.id.clone())) {
        return error(400, "BadRequest", &format!("Batch request id '{}' is used more than once.", dup.id));
    }
    let caller = state.user_by_token(token).map(|u| u.email.clone()).unwrap_or_default();
    let mut responses = Vec::new();
    let mut statuses: std::collections::BTreeMap<String, u16> = std::collections::BTreeMap::new();
    let mut parallel: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for r in b.requests {
        if !r.url.starts_with('/') || r.url.starts_with("/$batch") {
            return error(400, "BadRequest", &format!("Invalid request URL '{}' in a batch: it must be relative to the version root.", r.url));
        }
        let header = |name: &str| r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_str().map(str::to_string));
        if r.body.is_some() && header("Content-Type").is_none() {
            return error(400, "BadRequest", &format!("Batch request '{}' has a body and no Content-Type header.", r.id));
        }
        if let Some(unknown) = r.depends_on.iter().find(|d| !statuses.contains_key(*d)) {
            return error(400, "BadRequest", &format!("Batch request '{}' depends on '{unknown}', which is not an earlier request of the batch.", r.id));
        }
        let body = r.body.as_ref().map(Value::to_string).unwrap_or_default();
        let in_parallel = if r.depends_on.is_empty() {
            let n = parallel.entry(target_mailbox(&r.url, &caller)).or_default();
            *n += 1;
            *n
        } else {
            0
        };
        let reply = if r.depends_on.iter().any(|d| !statuses.get(d).is_some_and(|s| (200..300).contains(s))) {
            error(424, "FailedDependency", "A request this one depends on did not succeed.")
        } else if in_parallel > 4 {
            let mut t = error(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.");
            t.headers.push(("Retry-After".into(), "1".into()));
            t
        } else {
            match faults().and_then(|f| fault_reply(&f)) {
                Some(f) => f,
                None => handle(state, token, &r.method.to_ascii_uppercase(), &r.url, header("Content-Type").as_deref(), header("Prefer").as_deref(), &body, base, &mut || None),
            }
        };
        statuses.insert(r.id.clone(), reply.status);
        let mut headers = Map::new();
        if !reply.body.is_empty() {
            headers.insert("Content-Type".into(), json!("application/json"));
        }
        for (k, v) in &reply.headers {
            headers.insert(k.clone(), json!(v));
        }
        let body: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
        let mut item = json!({ "id": r.id, "status": reply.status, "headers": headers });
        if !body.is_null() {
            item["body"] = body;
        }
        responses.push(item);
    }
    GraphReply::json(200, &json!({ "responses": responses }))
}
