//! Turning any EWS reply into an outcome for the spool.
//!
//! Read by namespace URI (never by prefix): `*ResponseMessage` elements in the messages namespace
//! with their `ResponseClass`, `m:ResponseCode` and `m:MessageText`; SOAP 1.1 faults with the
//! errors-namespace `e:ResponseCode`/`e:Message` in `detail`; and `BackOffMilliseconds` from
//! `t:MessageXml/t:Value[@Name]` in either. Codes: EWS "ResponseCode" reference page; throttling:
//! "EWS throttling in Exchange" (ErrorServerBusy carries BackOffMilliseconds).

use super::{push_reference, NS_ERRORS, NS_MESSAGES, NS_SOAP, NS_TYPES};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use serde::{Deserialize, Serialize};

/// Codes that mean "try again later".
pub const TRANSIENT_CODES: [&str; 13] = [
    "ErrorServerBusy", "ErrorMailboxStoreUnavailable", "ErrorMailboxMoveInProgress", "ErrorInternalServerTransientError",
    "ErrorTimeoutExpired", "ErrorTooManyObjectsOpened", "ErrorADUnavailable", "ErrorConnectionFailed",
    "ErrorExceededConnectionCount", "ErrorSubmissionQuotaExceeded", "ErrorBatchProcessingStopped",
    "ErrorConnectionFailedTransientError", "ErrorInternalServerError",
];

/// Codes that will fail the same way however often they are retried.
pub const PERMANENT_CODES: [&str; 27] = [
    "ErrorAccessDenied", "ErrorNonExistentMailbox", "ErrorSendAsDenied", "ErrorQuotaExceeded", "ErrorMessageSizeExceeded",
    "ErrorInvalidRecipients", "ErrorSchemaValidation", "ErrorInvalidRequest", "ErrorInvalidSmtpAddress",
    "ErrorImpersonateUserDenied", "ErrorImpersonationDenied", "ErrorInvalidServerVersion", "ErrorIncorrectSchemaVersion",
    "ErrorInvalidPropertySet", "ErrorInvalidExtendedProperty", "ErrorInvalidExtendedPropertyValue", "ErrorMailRecipientNotFound",
    "ErrorMissingRecipients", "ErrorRecipientTypeNotSupported", "ErrorCorruptData", "ErrorNonPrimarySmtpAddress",
    "ErrorAccountDisabled", "ErrorMessageDispositionRequired", "ErrorInvalidSendItemSaveSettings", "ErrorInvalidOperation",
    "ErrorUnsupportedMimeConversion", "ErrorItemNotFound",
];

/// Codes after which the user must act before anything can work: the password expired or must be
/// changed first ("You must use a tool such as Outlook Web App to change your password", EWS
/// ResponseCode reference). They are [`EwsOutcome::AuthRequired`]: retrying cannot help, and
/// neither is the message at fault.
pub const AUTH_CODES: [&str; 2] = ["ErrorPasswordExpired", "ErrorPasswordChangeRequired"];

/// What a reply means for the message. JSON: `{ "kind": "delivered" | "retry" | "permanentFailure"
/// | "authRequired", … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum EwsOutcome {
    /// `ResponseClass` Success: Exchange accepted the message. (A `Warning` is not a delivery:
    /// Microsoft, CreateItemResponseMessage: "Describes a request that was not processed";
    /// it is classified by its ResponseCode, e.g. `ErrorBatchProcessingStopped`: retry.)
    Delivered { response_class: String },
    /// Try again; `back_off_ms` is Exchange's `BackOffMilliseconds` when it sent one.
    Retry {
        code: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        back_off_ms: Option<u64>,
        http_status: u16,
    },
    /// Will not succeed by retrying (code and text from Exchange, or `Http<status>`).
    PermanentFailure { code: String, message: String, http_status: u16 },
    /// The app must supply (new) credentials: HTTP 401/403 (`Http401`, `Http403`), a redirect
    /// (`Redirect`: a sign-in page or reverse proxy in front of EWS), or an HTML page where a SOAP
    /// reply was expected with a 2xx status (`LoginPage`: what an AD FS or proxy sign-in returns).
    AuthRequired { http_status: u16, code: String, message: String },
}

#[derive(Clone, Copy, PartialEq)]
enum Ns {
    Soap,
    Messages,
    Types,
    Errors,
    Other,
}

/// What the reply said, before classification.
#[derive(Debug, Default)]
struct Reply {
    envelope: bool,
    fault: bool,
    fault_code: Option<String>,
    fault_string: Option<String>,
    response_classes: Vec<String>,
    error_code: Option<String>,
    error_text: Option<String>,
    back_off_ms: Option<u64>,
}

/// The elements the reader acts on; everything else is `Other`. Only the captured ones (see
/// [`Tag::captures`]) have their text collected, so most of a reply costs no allocation.
#[derive(Clone, Copy, PartialEq)]
enum Tag {
    Envelope,
    Fault,
    /// `m:*ResponseMessage`.
    ResponseMessage,
    /// `m:ResponseCode` / `m:MessageText`.
    MessageCode,
    MessageText,
    /// `e:ResponseCode` / `e:Message` (fault detail).
    FaultDetailCode,
    FaultDetailMessage,
    /// `t:Value Name="BackOffMilliseconds"`.
    BackOff,
    /// Unqualified `faultcode` / `faultstring`.
    FaultCode,
    FaultString,
    Other,
}

impl Tag {
    fn captures(self) -> bool {
        !matches!(self, Tag::Envelope | Tag::Fault | Tag::ResponseMessage | Tag::Other)
    }
}

fn attribute(e: &quick_xml::events::BytesStart, key: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == key)
        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
        .map(|v| v.into_owned())
}

fn read(body: &str) -> Option<Reply> {
    let mut reader = NsReader::from_str(body);
    let mut reply = Reply::default();
    let mut stack: Vec<Tag> = Vec::with_capacity(16);
    let mut text = String::new();
    let mut in_error_message = false;
    loop {
        let (ns, event) = reader.read_resolved_event().ok()?;
        let ns = match ns {
            ResolveResult::Bound(n) if n.0 == NS_SOAP => Ns::Soap,
            ResolveResult::Bound(n) if n.0 == NS_MESSAGES => Ns::Messages,
            ResolveResult::Bound(n) if n.0 == NS_TYPES => Ns::Types,
            ResolveResult::Bound(n) if n.0 == NS_ERRORS => Ns::Errors,
            _ => Ns::Other,
        };
        let capturing = stack.last().is_some_and(|t| t.captures());
        match event {
            Event::Start(e) | Event::Empty(e) if stack.is_empty() && !(ns == Ns::Soap && e.local_name().as_ref() == "Envelope") => return None,
            Event::Start(e) => {
                let name = e.local_name();
                let name = name.as_ref();
                let tag = match (ns, name) {
                    (Ns::Soap, "Envelope") => Tag::Envelope,
                    (Ns::Soap, "Fault") => Tag::Fault,
                    (Ns::Messages, n) if n.ends_with("ResponseMessage") => Tag::ResponseMessage,
                    (Ns::Messages, "ResponseCode") => Tag::MessageCode,
                    (Ns::Messages, "MessageText") => Tag::MessageText,
                    (Ns::Errors, "ResponseCode") => Tag::FaultDetailCode,
                    (Ns::Errors, "Message") => Tag::FaultDetailMessage,
                    (Ns::Types, "Value") if attribute(&e, "Name").as_deref() == Some("BackOffMilliseconds") => Tag::BackOff,
                    (Ns::Other, "faultcode") => Tag::FaultCode,
                    (Ns::Other, "faultstring") => Tag::FaultString,
                    _ => Tag::Other,
                };
                match tag {
                    Tag::ResponseMessage => {
                        let class = attribute(&e, "ResponseClass").unwrap_or_default();
                        // Error and Warning messages both carry the code that says what happened.
                        in_error_message = class == "Error" || class == "Warning";
                        reply.response_classes.push(class);
                    }
                    Tag::Envelope => reply.envelope = true,
                    Tag::Fault => reply.fault = true,
                    _ => {}
                }
                stack.push(tag);
                text.clear();
            }
            Event::Text(t) if capturing => text.push_str(&t.xml10_content()),
            Event::CData(t) if capturing => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if capturing => push_reference(&mut text, &r),
            Event::End(_) => {
                let tag = stack.pop()?;
                let value = || text.trim().to_string();
                match tag {
                    Tag::MessageCode if in_error_message && reply.error_code.is_none() => reply.error_code = Some(value()),
                    Tag::MessageText if in_error_message && reply.error_text.is_none() => reply.error_text = Some(value()),
                    // The errors namespace and the unqualified faultcode/faultstring occur only in
                    // a SOAP fault in a schema-valid reply.
                    Tag::FaultDetailCode => reply.error_code = Some(value()),
                    Tag::FaultDetailMessage => reply.error_text = Some(value()),
                    Tag::BackOff => reply.back_off_ms = text.trim().parse().ok(),
                    Tag::FaultCode => reply.fault_code = Some(value()),
                    Tag::FaultString => reply.fault_string = Some(value()),
                    Tag::ResponseMessage => in_error_message = false,
                    _ => {}
                }
                text.clear();
            }
            Event::Eof => return (reply.envelope && stack.is_empty()).then_some(reply),
            _ => {}
        }
    }
}

fn classify(code: String, message: String, back_off_ms: Option<u64>, http_status: u16) -> EwsOutcome {
    if AUTH_CODES.contains(&code.as_str()) {
        EwsOutcome::AuthRequired { http_status, code, message }
    } else if PERMANENT_CODES.contains(&code.as_str()) {
        EwsOutcome::PermanentFailure { code, message, http_status }
    } else {
        // Transient and unknown codes both retry (with backoff, up to the attempt limit).
        EwsOutcome::Retry { code, message, back_off_ms, http_status }
    }
}

fn snippet(body: &str) -> String {
    let s: String = body.chars().filter(|c| !c.is_control()).take(120).collect();
    s.trim().to_string()
}

/// Whether `body` is an HTML document (what a sign-in page returns), judged by its start:
/// `<!DOCTYPE html` or `<html`, in any case, after white space and a byte order mark.
pub fn is_html_page(body: &str) -> bool {
    let head = body.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let head = head.get(..14).unwrap_or(head).to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// Classifies a reply from its HTTP status and body. Never fails: a body that is not an EWS SOAP
/// envelope (garbage, empty) is a retry with code `InvalidResponse`; status 0 (no response:
/// network error, timeout) is a retry with code `NetworkError`. Credentials problems are
/// [`EwsOutcome::AuthRequired`]: 401 and 403, any 3xx (EWS itself never redirects a POST; a
/// sign-in front end does), and an HTML page with a 2xx status.
pub fn parse_ews_response(http_status: u16, body: &str) -> EwsOutcome {
    let http_code = || ["Http", &http_status.to_string()].concat();
    if matches!(http_status, 401 | 403) {
        return EwsOutcome::AuthRequired { http_status, code: http_code(), message: "EWS asked for credentials".into() };
    }
    if (300..=399).contains(&http_status) {
        let message = ["EWS redirected the request (HTTP ", &http_status.to_string(), "): a sign-in page or proxy is in front of it"].concat();
        return EwsOutcome::AuthRequired { http_status, code: "Redirect".into(), message };
    }
    if (200..=299).contains(&http_status) && is_html_page(body) {
        return EwsOutcome::AuthRequired { http_status, code: "LoginPage".into(), message: "EWS answered with an HTML page (a sign-in page?) instead of SOAP".into() };
    }
    if http_status == 0 {
        return EwsOutcome::Retry { code: "NetworkError".into(), message: "no response from the EWS endpoint".into(), back_off_ms: None, http_status };
    }
    let reply = read(body);
    if let Some(r) = reply {
        let back_off = r.back_off_ms;
        if r.fault || r.error_code.is_some() {
            let code = r.error_code.or_else(|| r.fault_code.map(|c| c.rsplit(':').next().unwrap_or_default().to_string())).unwrap_or_default();
            let message = r.error_text.or(r.fault_string).unwrap_or_default();
            if !code.is_empty() {
                return classify(code, message, back_off, http_status);
            }
        } else if http_status == 200 && !r.response_classes.is_empty() {
            if r.response_classes.iter().all(|c| c == "Success") {
                return EwsOutcome::Delivered { response_class: "Success".into() };
            }
            if r.response_classes.iter().any(|c| c == "Warning") {
                // Not processed (see EwsOutcome::Delivered); a warning without a code retries.
                return EwsOutcome::Retry { code: "ResponseClassWarning".into(), message: "Exchange did not process the item (ResponseClass Warning)".into(), back_off_ms: back_off, http_status };
            }
        }
    }
    match http_status {
        429 | 500..=599 => EwsOutcome::Retry { code: http_code(), message: snippet(body), back_off_ms: None, http_status },
        400..=499 => EwsOutcome::PermanentFailure { code: http_code(), message: snippet(body), http_status },
        _ => EwsOutcome::Retry {
            code: "InvalidResponse".into(),
            message: ["not an EWS SOAP reply: ", &snippet(body)].concat(),
            back_off_ms: None,
            http_status,
        },
    }
}
