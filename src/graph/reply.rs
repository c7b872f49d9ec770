//! What a Graph reply means. Errors are JSON: `{"error": {"code", "message", "innerError":
//! {"request-id", "date", "client-request-id"}}}` ("Microsoft Graph error responses and resource
//! types"). Throttling (429) and unavailability (503, 504) carry `Retry-After`, in seconds or as
//! an HTTP date ("Microsoft Graph throttling guidance"; RFC 9110 §10.2.3), honoured the way EWS's
//! BackOffMilliseconds is.
//!
//! | reply | outcome |
//! |---|---|
//! | 200, 201, 202, 204 | delivered |
//! | 401 | `authrequired` (`InvalidAuthenticationToken`, …) |
//! | 3xx (a sign-in front end; Graph does not redirect API calls) | `authrequired` (`Redirect`) |
//! | 429, 503, 504 | retry after `Retry-After` (`ApplicationThrottled` `MailboxConcurrency` also lowers concurrency) |
//! | 408, 500, 502, other 5xx | retry (the outcome is unknown: de-duplication by message id) |
//! | 400, 403, 404, 413, other 4xx, `ErrorInvalidRecipients` | failed, permanent |

use crate::mailbox::Outcome;
use crate::transport::TransportReply;
use serde::Deserialize;

/// Graph's error object, as much of it as we read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "innerError")]
    pub inner_error: Option<InnerError>,
}

/// `innerError`: ids Microsoft support asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct InnerError {
    #[serde(default, rename = "request-id")]
    pub request_id: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: GraphError,
}

/// The error in a reply body, if it is Graph's JSON error; otherwise `Http<status>` with the
/// start of the body as the message.
pub fn graph_error(status: u16, body: &str) -> GraphError {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(b) if !b.error.code.is_empty() => b.error,
        _ => {
            let start: String = body.chars().take(200).collect();
            GraphError { code: ["Http", &status.to_string()].concat(), message: if start.trim().is_empty() { "no error body".into() } else { start }, inner_error: None }
        }
    }
}

impl GraphError {
    /// The message with the request id and date, which Microsoft support asks for.
    pub fn describe(&self) -> String {
        match &self.inner_error {
            Some(InnerError { request_id: Some(id), date }) => [&self.message, " (request-id ", id, ", date ", date.as_deref().unwrap_or("?"), ")"].concat(),
            _ => self.message.clone(),
        }
    }
}

/// `Retry-After` in ms: delay-seconds, or an HTTP date (IMF-fixdate, `Wed, 21 Oct 2015
/// 07:28:00 GMT`) less `now_ms`. None when absent or unreadable; a date in the past is 0.
pub fn retry_after_ms(value: Option<&str>, now_ms: u64) -> Option<u64> {
    let v = value?.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse::<u64>().ok().map(|s| s.saturating_mul(1000));
    }
    http_date_ms(v).map(|t| t.saturating_sub(now_ms))
}

/// An IMF-fixdate (RFC 9110 §5.6.7) in ms since the epoch.
fn http_date_ms(v: &str) -> Option<u64> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let rest = v.split_once(", ")?.1;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].iter().position(|m| m == month)? + 1;
    let iso = format!("{year}-{month:02}-{day}T{time}Z");
    if day.len() != 2 || year.len() != 4 || time.len() != 8 {
        return None;
    }
    crate::datetime::from_iso(&iso)
}

/// What the reply to a delivery (sendMail) or any single Graph request means (module table).
pub fn classify(reply: &TransportReply, now_ms: u64) -> Outcome {
    let status = reply.status;
    if (200..300).contains(&status) {
        return Outcome::Delivered;
    }
    if (300..400).contains(&status) {
        return Outcome::AuthRequired { code: "Redirect".into(), message: format!("HTTP {status}: Graph does not redirect API calls; a sign-in front end does"), http_status: status };
    }
    let e = graph_error(status, &reply.body);
    let message = e.describe();
    match status {
        401 => Outcome::AuthRequired { code: e.code, message, http_status: status },
        429 | 503 | 504 => Outcome::Retry { back_off_ms: retry_after_ms(reply.retry_after.as_deref(), now_ms), code: e.code, message, http_status: status },
        408 | 500..=599 => Outcome::Retry { code: e.code, message, back_off_ms: None, http_status: status },
        _ => Outcome::Failed { code: e.code, message, http_status: status, permanent: true },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(retry_after_ms(Some("120"), 0), Some(120_000));
        assert_eq!(retry_after_ms(Some(" 7 "), 0), Some(7_000));
        let t = crate::datetime::from_iso("1994-11-06T08:49:37Z").unwrap_or_default();
        assert_eq!(t, 784_111_777_000);
        assert_eq!(retry_after_ms(Some("Sun, 06 Nov 1994 08:49:37 GMT"), t - 5_000), Some(5_000));
        assert_eq!(retry_after_ms(Some("Sun, 06 Nov 1994 08:49:37 GMT"), t + 5_000), Some(0));
        for bad in ["", "-1", "1.5", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 6 Nov 1994 08:49:37 GMT"] {
            assert_eq!(retry_after_ms(Some(bad), 0), None, "{bad}");
        }
        assert_eq!(retry_after_ms(None, 0), None);
    }
}
