//! `xs:dateTime` / ISO 8601 in UTC (EWS and Graph both write times this way) (`2026-11-25T06:36:24Z`) to and from milliseconds since the Unix epoch.
//! Days from/to civil dates after Howard Hinnant's algorithms ("chrono-Compatible Low-Level Date
//! Algorithms").

/// Formats milliseconds as `YYYY-MM-DDThh:mm:ssZ`.
pub fn to_iso(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Parses `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)` into milliseconds; None if malformed.
pub fn from_iso(s: &str) -> Option<u64> {
    let s = s.trim();
    let num = |a: usize, b: usize| s.get(a..b).filter(|t| t.bytes().all(|c| c.is_ascii_digit())).and_then(|t| t.parse::<i64>().ok());
    if s.len() < 19 || s.as_bytes()[4] != b'-' || s.as_bytes()[7] != b'-' || s.as_bytes()[10] != b'T' {
        return None;
    }
    let (y, m, d, hh, mm, ss) = (num(0, 4)?, num(5, 7)?, num(8, 10)?, num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(char::is_ascii_digit).collect();
        millis = format!("{:0<3}", &digits[..digits.len().min(3)]).parse().ok()?;
        rest = &frac[digits.len()..];
    }
    let offset_min = match rest {
        "Z" | "" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let h: i64 = o[1..3].parse().ok()?;
            let mi: i64 = o[4..6].parse().ok()?;
            let v = h * 60 + mi;
            if o.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = ((days * 86_400 + hh * 3600 + mm * 60 + ss - offset_min * 60) * 1000) + millis;
    u64::try_from(ms).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_offsets() {
        for ms in [0u64, 951_782_400_000, 1_795_000_000_000, 4_102_444_800_000] {
            assert_eq!(from_iso(&to_iso(ms)), Some(ms), "{}", to_iso(ms));
        }
        assert_eq!(to_iso(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(from_iso("2026-11-25T07:36:24.5+01:00"), from_iso("2026-11-25T06:36:24Z").map(|v| v + 500));
        for bad in ["", "2026-13-01T00:00:00Z", "2026-11-25 06:36:24Z", "2026-11-25T06:36:24X", "yyyy-11-25T06:36:24Z"] {
            assert_eq!(from_iso(bad), None, "{bad}");
        }
    }

    /// Century and era boundaries of the civil-date algorithm (eras start on 1 March 2000, 2400…),
    /// checked against Python's datetime.
    #[test]
    fn century_and_era_boundaries() {
        for (ms, text) in [
            (946_684_799_000u64, "1999-12-31T23:59:59Z"),
            (4_107_542_400_000, "2100-03-01T00:00:00Z"),
            (7_289_568_000_000, "2200-12-31T00:00:00Z"),
            (13_574_608_496_000, "2400-02-29T12:34:56Z"),
        ] {
            assert_eq!(to_iso(ms), text);
            assert_eq!(from_iso(text), Some(ms), "{text}");
        }
    }

    /// Each field's range on its own, and the separators at their places.
    #[test]
    fn field_ranges_and_separators() {
        assert_eq!(from_iso("2026-11-25T06:36:24"), from_iso("2026-11-25T06:36:24Z"), "no zone is UTC; 19 characters suffice");
        assert_eq!(from_iso("2026-11-25T23:59:60Z").map(|v| v % 1000), Some(0), "a leap second");
        // Offsets with minutes, both signs: all the same instant.
        let utc = from_iso("2026-11-25T06:36:24Z");
        assert_eq!(from_iso("2026-11-25T01:06:24-05:30"), utc);
        assert_eq!(from_iso("2026-11-25T12:21:24+05:45"), utc);
        assert_eq!(from_iso("2026-11-25T06:36:24+01:0"), None, "a short offset");
        for bad in ["2026-11-25T24:00:00Z", "2026-11-25T06:60:00Z", "2026-11-25T06:36:61Z", "2026-11-32T06:36:24Z", "2026-11-00T06:36:24Z", "2026-00-25T06:36:24Z", "2026x11-25T06:36:24Z", "2026-11x25T06:36:24Z", "2026-11-25T06:36:2"] {
            assert_eq!(from_iso(bad), None, "{bad}");
        }
    }
}
