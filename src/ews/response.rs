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
    /// `e:ResponseCode` / `e:Message` / BackOffMilliseconds of a SOAP fault's detail.
    fault_error: ItemReply,
    /// One per `*ResponseMessage`, in document order.
    messages: Vec<ItemReply>,
}

/// One `*ResponseMessage` (or a fault's detail): its class, code, text and back-off.
#[derive(Debug, Default, Clone)]
struct ItemReply {
    class: String,
    code: Option<String>,
    text: Option<String>,
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
    let mut in_message = false;
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
                        in_message = true;
                        reply.messages.push(ItemReply { class: attribute(&e, "ResponseClass").unwrap_or_default(), ..ItemReply::default() });
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
                let current = match reply.messages.last_mut() {
                    Some(m) if in_message => m,
                    _ => &mut reply.fault_error,
                };
                match tag {
                    Tag::MessageCode if current.code.is_none() => current.code = Some(value()),
                    Tag::MessageText if current.text.is_none() => current.text = Some(value()),
                    // The errors namespace and the unqualified faultcode/faultstring occur only in
                    // a SOAP fault in a schema-valid reply.
                    Tag::FaultDetailCode => reply.fault_error.code = Some(value()),
                    Tag::FaultDetailMessage => reply.fault_error.text = Some(value()),
                    Tag::BackOff => current.back_off_ms = text.trim().parse().ok(),
                    Tag::FaultCode => reply.fault_code = Some(value()),
                    Tag::FaultString => reply.fault_string = Some(value()),
                    Tag::ResponseMessage => in_message = false,
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
/// sign-in front end does), and an HTML page with a 2xx status. A reply with several response
/// messages is delivered only if every one is Success; otherwise the first that is not decides.
pub fn parse_ews_response(http_status: u16, body: &str) -> EwsOutcome {
    let outcomes = outcomes(http_status, body, None);
    let first_failure = outcomes.iter().position(|o| !matches!(o, EwsOutcome::Delivered { .. }));
    outcomes.into_iter().nth(first_failure.unwrap_or(0)).unwrap_or_else(|| invalid(http_status, body))
}

/// Classifies the reply to a batched `CreateItem` of `items` messages item by item, in request
/// order (EWS answers each item with its own `CreateItemResponseMessage`, in order: "Process
/// email messages in batches by using EWS in Exchange"). What does not answer item by item
/// applies to every item: a SOAP fault (ErrorServerBusy with BackOffMilliseconds, schema
/// errors), an HTTP error, credentials problems, no reply. A reply with another number of
/// response messages cannot be matched to the items: every item retries (`InvalidResponse`;
/// a copy delivered twice is merged by message id on the recipient's side).
pub fn parse_ews_batch_response(http_status: u16, body: &str, items: usize) -> Vec<EwsOutcome> {
    outcomes(http_status, body, Some(items))
}

fn invalid(http_status: u16, body: &str) -> EwsOutcome {
    EwsOutcome::Retry { code: "InvalidResponse".into(), message: ["not an EWS SOAP reply: ", &snippet(body)].concat(), back_off_ms: None, http_status }
}

fn item_outcome(m: ItemReply, http_status: u16) -> EwsOutcome {
    match (m.class.as_str(), m.code) {
        ("Success", _) => EwsOutcome::Delivered { response_class: "Success".into() },
        // Error and Warning messages both carry the code that says what happened.
        ("Error" | "Warning", Some(code)) if !code.is_empty() => classify(code, m.text.unwrap_or_default(), m.back_off_ms, http_status),
        // Not processed (see EwsOutcome::Delivered); a warning without a code retries.
        ("Warning", _) => EwsOutcome::Retry {
            code: "ResponseClassWarning".into(),
            message: "Exchange did not process the item (ResponseClass Warning)".into(),
            back_off_ms: m.back_off_ms,
            http_status,
        },
        (class, _) => EwsOutcome::Retry { code: "InvalidResponse".into(), message: ["a response message of class ", class, " without a ResponseCode"].concat(), back_off_ms: None, http_status },
    }
}

/// The outcome of each response message (`expected`: how many there must be), or of the whole
/// reply repeated `expected` times (once when `None`).
fn outcomes(http_status: u16, body: &str, expected: Option<usize>) -> Vec<EwsOutcome> {
    let all = |o: EwsOutcome| vec![o; expected.unwrap_or(1)];
    let http_code = || ["Http", &http_status.to_string()].concat();
    if matches!(http_status, 401 | 403) {
        return all(EwsOutcome::AuthRequired { http_status, code: http_code(), message: "EWS asked for credentials".into() });
    }
    if (300..=399).contains(&http_status) {
        let message = ["EWS redirected the request (HTTP ", &http_status.to_string(), "): a sign-in page or proxy is in front of it"].concat();
        return all(EwsOutcome::AuthRequired { http_status, code: "Redirect".into(), message });
    }
    if (200..=299).contains(&http_status) && is_html_page(body) {
        return all(EwsOutcome::AuthRequired { http_status, code: "LoginPage".into(), message: "EWS answered with an HTML page (a sign-in page?) instead of SOAP".into() });
    }
    if http_status == 0 {
        return all(EwsOutcome::Retry { code: "NetworkError".into(), message: "no response from the EWS endpoint".into(), back_off_ms: None, http_status });
    }
    if let Some(r) = read(body) {
        let fault_code = r.fault_error.code.clone().filter(|c| !c.is_empty()).or_else(|| r.fault_code.as_ref().map(|c| c.rsplit(':').next().unwrap_or_default().to_string())).filter(|c| !c.is_empty());
        if r.fault {
            if let Some(code) = fault_code {
                let message = r.fault_error.text.or(r.fault_string).unwrap_or_default();
                return all(classify(code, message, r.fault_error.back_off_ms, http_status));
            }
        } else if http_status != 200 {
            // Not a normal reply, but a response message names the error: it applies to all.
            if let Some(m) = r.messages.into_iter().find(|m| matches!(m.class.as_str(), "Error" | "Warning") && m.code.as_ref().is_some_and(|c| !c.is_empty())) {
                return all(item_outcome(m, http_status));
            }
        } else if !r.messages.is_empty() {
            let n = r.messages.len();
            if expected.is_some_and(|e| e != n) {
                let message = [&n.to_string(), " response messages for ", &expected.unwrap_or(0).to_string(), " items"].concat();
                return all(EwsOutcome::Retry { code: "InvalidResponse".into(), message, back_off_ms: None, http_status });
            }
            return r.messages.into_iter().map(|m| item_outcome(m, http_status)).collect();
        }
    }
    all(match http_status {
        429 | 500..=599 => EwsOutcome::Retry { code: http_code(), message: snippet(body), back_off_ms: None, http_status },
        400..=499 => EwsOutcome::PermanentFailure { code: http_code(), message: snippet(body), http_status },
        _ => invalid(http_status, body),
    })
}
