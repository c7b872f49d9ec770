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
            Some(body) => match check_server_version(&root) {
                Ok(()) => ops::dispatch(state, &user, body),
                Err(e) => (500, ops::fault("ErrorSchemaValidation", &e, None)),
            },
            None => (500, ops::fault("ErrorSchemaValidation", "The request failed schema validation: no SOAP Body.", None)),
        },
        Ok(_) => (500, ops::fault("ErrorSchemaValidation", "The request failed schema validation: the root element is not a SOAP 1.1 Envelope.", None)),
        Err(e) => (500, ops::fault("ErrorSchemaValidation", &format!("The request failed schema validation: {e}"), None)),
    }
}

/// `RequestServerVersion/@Version` must be one of the schema's `ExchangeVersionType` values
/// (types.xsd); Exchange validates requests against its schema before running them, so anything
/// else is `ErrorSchemaValidation`. An absent header is allowed (the schema makes it optional).
fn check_server_version(root: &dom::El) -> Result<(), String> {
    const VERSIONS: [&str; 16] = [
        "Exchange2007", "Exchange2007_SP1", "Exchange2009", "Exchange2010", "Exchange2010_SP1", "Exchange2010_SP2", "Exchange2012", "Exchange2013",
        "Exchange2013_SP1", "Exchange2015", "Exchange2016", "V2015_10_05", "V2016_01_06", "V2016_04_13", "V2016_07_13", "V2016_10_10",
    ];
    let Some(v) = root.path(&[(dom::SOAP, "Header"), (dom::T, "RequestServerVersion")]) else { return Ok(()) };
    match v.attr("Version") {
        Some(version) if VERSIONS.contains(&version) => Ok(()),
        other => Err(format!("The request failed schema validation: The 'Version' attribute is invalid - The value '{}' is invalid according to its datatype 'ExchangeVersionType'.", other.unwrap_or(""))),
    }
}

/// Whether a request's `Content-Type` is what EWS accepts: `text/xml` with charset UTF-8 (any
/// case, any spacing). Exchange answers anything else with HTTP 415.
pub fn content_type_ok(value: Option<&str>) -> bool {
    let Some(v) = value else { return false };
    let mut parts = v.split(';').map(|p| p.trim().to_ascii_lowercase());
    parts.next().as_deref() == Some("text/xml") && parts.any(|p| p.replace(' ', "") == "charset=utf-8")
}
