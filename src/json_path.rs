//! The field an input error is about, from a parser's error position (byte offset) in compact
//! JSON text, such as the text the wasm shell makes with `JSON.stringify`: so an error names `to.emailAddress` instead of
//! "line 1 column 84" of text the caller never wrote. (serde_path_to_error does this by wrapping
//! every visitor; measured, that doubled the input-deserialization code, about 50 KB gzip of the
//! package.)

enum Frame {
    /// An object: its last key read, and whether the scanner is between that key and its value.
    Object(Option<String>),
    /// An array: the index of the current element.
    Array(usize),
}

/// The dotted path (`to.emailAddress`, `clientPolicies[2].identity`) of the innermost value that
/// `json` (compact JSON, one line) is inside of at byte `offset`; "" for the top level. Where
/// serde_json reports errors: after an unknown or bad key (that key), after a value of the wrong
/// type (its key), at the end of an object missing a field (that object).
pub fn path_at(json: &str, offset: usize) -> String {
    let bytes = json.as_bytes();
    let end = offset.min(bytes.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < end {
        match bytes[i] {
            b'{' => stack.push(Frame::Object(None)),
            b'[' => stack.push(Frame::Array(0)),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array(n)) => *n += 1,
                Some(Frame::Object(key)) => *key = None,
                None => {}
            },
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                // A string right after `{` or `,` in an object is a key.
                if let Some(Frame::Object(key @ None)) = stack.last_mut() {
                    // Raw key text: the crate's field names need no unescaping.
                    *key = Some(json.get(start..i.min(bytes.len())).unwrap_or_default().to_string());
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for frame in &stack {
        match frame {
            Frame::Object(Some(key)) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Frame::Object(None) => {}
            Frame::Array(n) => {
                path.push('[');
                path.push_str(&n.to_string());
                path.push(']');
            }
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::path_at;

    fn at_end_of(json: &str, token: &str) -> String {
        let i = json.find(token).map(|i| i + token.len()).unwrap_or(json.len());
        path_at(json, i)
    }

    #[test]
    fn paths_where_serde_json_reports_errors() {
        let j = r#"{"to":{"emailAddress":42},"text":"x"}"#;
        assert_eq!(at_end_of(j, "42"), "to.emailAddress", "after a value of the wrong type");
        assert_eq!(at_end_of(j, r#""to":{"#), "to", "inside an object");
        assert_eq!(at_end_of(j, r#"{"emailAddress":42}"#), "to", "at the end of an object missing a field");
        assert_eq!(at_end_of(r#"{"retryIntervalMS":5}"#, r#""retryIntervalMS""#), "retryIntervalMS", "after an unknown key");
        let policies = r#"{"policy":{"clientPolicies":[{"identity":"Global"},{"identity":7}]}}"#;
        assert_eq!(at_end_of(policies, "7"), "policy.clientPolicies[1].identity");
        assert_eq!(at_end_of(r#"{"a":"x,\"}{[","b":1}"#, "1"), "b", "brackets and an escaped quote inside a string");
        assert_eq!(path_at("{}", 0), "");
        assert_eq!(path_at(r#"{"a":1}"#, 999), "", "past the end: the top level");
    }
}
