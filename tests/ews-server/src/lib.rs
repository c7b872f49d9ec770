//! Local EWS test server for offline-im: the parts, as a library so tests can drive them
//! without HTTP. The binary (`main.rs`) puts them behind axum.

pub mod cli;
pub mod dom;
pub mod faults;
pub mod folders;
pub mod graph;
pub mod graph_query;
pub mod ops;
pub mod restriction;
pub mod schema;
pub mod shape;
pub mod state;
pub mod time;

/// Parses a SOAP request and runs it for the user with `token`, as the HTTP handler does
/// (without fault injection and without an `X-AnchorMailbox` header). Returns (HTTP status, reply).
pub fn handle(state: &mut state::State, token: &str, request: &str) -> (u16, String) {
    handle_with(state, token, None, request)
}

/// [`handle`] with the request's `X-AnchorMailbox` header.
pub fn handle_with(state: &mut state::State, token: &str, anchor_mailbox: Option<&str>, request: &str) -> (u16, String) {
    handle_with_faults(state, token, anchor_mailbox, request, &mut || None)
}

/// [`handle_with`] with per-item fault injection: `item_fault` is rolled for each message of a
/// CreateItem (`faults::Faults::take_item`).
pub fn handle_with_faults(state: &mut state::State, token: &str, anchor_mailbox: Option<&str>, request: &str, item_fault: &mut dyn FnMut() -> Option<faults::FaultSpec>) -> (u16, String) {
    let Some(caller) = state.user_by_token(token).cloned() else {
        return (401, String::new());
    };
    let root = match dom::parse(request) {
        Ok(root) if root.ns == dom::SOAP && root.name == "Envelope" => root,
        Ok(_) => return (500, ops::fault("ErrorSchemaValidation", "The request failed schema validation: the root element is not a SOAP 1.1 Envelope.", None)),
        Err(e) => return (500, ops::fault("ErrorSchemaValidation", &format!("The request failed schema validation: {e}"), None)),
    };
    if let Err(e) = schema::check(request) {
        return (500, ops::fault("ErrorSchemaValidation", &["The request failed schema validation: ", &e].concat(), None));
    }
    let Some(body) = root.child(dom::SOAP, "Body") else {
        return (500, ops::fault("ErrorSchemaValidation", "The request failed schema validation: no SOAP Body.", None));
    };
    match acting_user(state, &caller, &root, anchor_mailbox) {
        Ok(user) => ops::dispatch(state, &user, body, item_fault),
        Err((code, text)) => (500, ops::fault(code, &text, None)),
    }
}

/// Who the request acts as: the caller, or with `ExchangeImpersonation` the impersonated user.
/// Modelled on "Impersonation and EWS in Exchange" and "Configure impersonation": only an
/// account with the ApplicationImpersonation role may impersonate (`ErrorImpersonateUserDenied`
/// otherwise), only users of its organisation, an unknown address is `ErrorNonExistentMailbox`;
/// and "When using impersonation you must always use the X-AnchorMailbox request header, which
/// should be set to the SMTP address of the impersonated mailbox" ("Authenticate an EWS
/// application by using OAuth"): without it, or with another address, the request is refused
/// (`ErrorInvalidRequest`; Microsoft documents the rule, not the code).
fn acting_user(state: &state::State, caller: &state::User, root: &dom::El, anchor: Option<&str>) -> Result<state::User, (&'static str, String)> {
    let Some(target) = root.path(&[(dom::SOAP, "Header"), (dom::T, "ExchangeImpersonation"), (dom::T, "ConnectingSID"), (dom::T, "PrimarySmtpAddress")]) else {
        return Ok(caller.clone());
    };
    let target = target.text.trim();
    if !caller.can_impersonate {
        return Err(("ErrorImpersonateUserDenied", format!("The account does not have permission to impersonate the requested user {target}.")));
    }
    let Some(user) = state.user(target).filter(|u| state::org_of(&u.email) == state::org_of(&caller.email)) else {
        return Err(("ErrorNonExistentMailbox", format!("The SMTP address {target} has no mailbox associated with it.")));
    };
    if !anchor.is_some_and(|a| a.trim().eq_ignore_ascii_case(target)) {
        return Err(("ErrorInvalidRequest", format!("Impersonating {target} requires the X-AnchorMailbox header set to that address (got {:?}).", anchor.unwrap_or(""))));
    }
    Ok(user.clone())
}

/// Whether a request's `Content-Type` is what EWS accepts: `text/xml` with charset UTF-8 (any
/// case, any spacing). Exchange answers anything else with HTTP 415.
pub fn content_type_ok(value: Option<&str>) -> bool {
    let Some(v) = value else { return false };
    let mut parts = v.split(';').map(|p| p.trim().to_ascii_lowercase());
    parts.next().as_deref() == Some("text/xml") && parts.any(|p| p.replace(' ', "") == "charset=utf-8")
}
