//! SMTP and SIP addresses: validation and domain extraction.
//!
//! Limits follow RFC 5321 §4.5.3.1: local part ≤ 64 octets, domain ≤ 255 octets, whole path
//! ≤ 320 octets here (254 is the practical SMTP path limit; we allow the RFC maximum).

use crate::error::{Error, Result};

/// Longest accepted address, in bytes.
pub const MAX_ADDRESS_BYTES: usize = 320;

/// Strips a `sip:` URI scheme (any case) from a SIP address.
pub fn strip_sip(address: &str) -> &str {
    let a = address.trim();
    match a.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("sip:") => &a[4..],
        _ => a,
    }
}

/// The lower-cased domain of `local@domain` (after stripping `sip:`), or None without an `@`.
pub fn domain_of(address: &str) -> Option<String> {
    let (_, domain) = strip_sip(address).rsplit_once('@')?;
    (!domain.is_empty()).then(|| domain.to_ascii_lowercase())
}

/// Validates an e-mail (or SIP, with `sip:` stripped) address and returns it trimmed.
/// `field` names the input in the error ([`Error::InvalidAddress`]).
pub fn validate(field: &'static str, address: &str) -> Result<String> {
    let bad = |reason: &str| Error::InvalidAddress { field, reason: reason.to_string() };
    let a = strip_sip(address);
    if a.is_empty() {
        return Err(bad("is empty"));
    }
    if a.len() > MAX_ADDRESS_BYTES {
        return Err(Error::InvalidAddress {
            field,
            reason: format!("is {} bytes; at most {MAX_ADDRESS_BYTES} are allowed", a.len()),
        });
    }
    if let Some(c) = a.chars().find(|c| c.is_control() || c.is_whitespace() || "<>\"(),;[]\\".contains(*c)) {
        return Err(Error::InvalidAddress { field, reason: format!("contains the character {c:?}") });
    }
    let Some((local, domain)) = a.rsplit_once('@') else {
        return Err(bad("is not of the form local@domain"));
    };
    if local.is_empty() || local.len() > 64 {
        return Err(bad("local part must be 1 to 64 bytes"));
    }
    if domain.is_empty() || domain.len() > 255 || domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return Err(bad("domain is not a valid host name"));
    }
    Ok(a.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_and_validation() -> Result<()> {
        assert_eq!(domain_of("sip:Tony@Contoso.com").as_deref(), Some("contoso.com"));
        assert_eq!(domain_of("no-at-sign"), None);
        assert_eq!(validate("to", " SIP:tony@contoso.com ")?, "tony@contoso.com");
        for bad in ["", "tony", "@contoso.com", "tony@", "to ny@contoso.com", "tony@contoso..com", "<x>@y.z", "a@b\u{0}c"] {
            assert!(validate("to", bad).is_err(), "{bad:?}");
        }
        for bad in ["a@.x.com", "a@x.com.", "a@x..com"] {
            assert_eq!(reason(bad), "domain is not a valid host name", "{bad:?}");
        }
        Ok(())
    }

    fn reason(address: &str) -> String {
        match validate("to", address) {
            Err(Error::InvalidAddress { field: "to", reason }) => reason,
            other => panic!("{address:?}: {other:?}"),
        }
    }

    /// RFC 5321 §4.5.3.1 limits, each at its boundary and each alone.
    #[test]
    fn length_limits_at_their_boundaries() -> Result<()> {
        let domain = |n: usize| format!("{}.com", "d".repeat(n - 4));
        // Local part: 64 bytes accepted, 65 rejected (domain short).
        validate("to", &format!("{}@x.com", "a".repeat(64)))?;
        assert_eq!(reason(&format!("{}@x.com", "a".repeat(65))), "local part must be 1 to 64 bytes");
        // Domain: 255 bytes accepted, 256 rejected (local part short, whole address under 320).
        validate("to", &format!("a@{}", domain(255)))?;
        assert_eq!(reason(&format!("a@{}", domain(256))), "domain is not a valid host name");
        // Whole address: 64 + 1 + 255 = 320 accepted; 321 rejected before any part is looked at.
        let max = format!("{}@{}", "a".repeat(64), domain(255));
        assert_eq!(max.len(), MAX_ADDRESS_BYTES);
        assert_eq!(validate("to", &max)?, max);
        assert_eq!(reason(&format!("{max}x")), "is 321 bytes; at most 320 are allowed");
        assert_eq!(reason("sip:"), "is empty");
        assert_eq!(reason("tony"), "is not of the form local@domain");
        Ok(())
    }
}
