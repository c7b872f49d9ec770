//! Local EWS test server for offline-im: the parts, as a library so tests can drive them
//! without HTTP. The binary (`main.rs`) puts them behind axum.

pub mod dom;
pub mod faults;
pub mod ops;
pub mod shape;
pub mod state;

/// Parses a SOAP request and runs it for the user with `token`, as the HTTP handler does
/// (without fault injection). Returns (HTTP status, reply).
pub fn handle(state: &mut state::State, token: &str, request: &str) -> (u16, String) {
    let Some(user) = state.user_by_token(token).cloned() else {
        return (401, String::new());
    };
    match dom::parse(request) {
        Ok(root) if root.ns == dom::SOAP && root.name == "Envelope" => match root.child(dom::SOAP, "Body") {
            Some(body) => ops::dispatch(state, &user, body),
            None => (500, ops::fault("ErrorSchemaValidation", "The request failed schema validation: no SOAP Body.", None)),
        },
        Ok(_) => (500, ops::fault("ErrorSchemaValidation", "The request failed schema validation: the root element is not a SOAP 1.1 Envelope.", None)),
        Err(e) => (500, ops::fault("ErrorSchemaValidation", &format!("The request failed schema validation: {e}"), None)),
    }
}
