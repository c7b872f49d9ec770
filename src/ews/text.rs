//! Text that XML 1.0 can carry, and the HTML body of a chat message.
//!
//! XML 1.0 §2.2 allows `#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]`.
//! Rust strings hold no surrogates, so what must go is the C0 controls other than tab, LF and CR,
//! and U+FFFE / U+FFFF. Each is replaced with U+FFFD and counted; nothing is emitted raw.

use std::borrow::Cow;

/// The replacement for characters XML 1.0 cannot carry.
pub const REPLACEMENT: char = '\u{FFFD}';

fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Returns `text` with every character XML 1.0 cannot carry replaced by U+FFFD, and adds the
/// number replaced to `count`. Borrows when nothing needs replacing.
pub fn xml_safe<'a>(text: &'a str, count: &mut u32) -> Cow<'a, str> {
    if text.chars().all(allowed) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if allowed(c) {
                    c
                } else {
                    *count += 1;
                    REPLACEMENT
                }
            })
            .collect(),
    )
}

pub use crate::message::{html_body, subject_from};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_counts_what_xml_cannot_carry() {
        let mut n = 0;
        assert!(matches!(xml_safe("tab\tok\r\n", &mut n), Cow::Borrowed(_)));
        assert_eq!(xml_safe("a\u{0}b\u{1b}c\u{FFFE}\u{FFFF}d\u{7f}", &mut n), "a\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}d\u{7f}");
        assert_eq!(n, 4);
        assert_eq!(xml_safe("😀 \u{10FFFF}", &mut n), "😀 \u{10FFFF}");
        assert_eq!(n, 4);
    }

    #[test]
    fn characters_at_the_edges_of_what_xml_allows() {
        // U+F000..U+FFFD stay as they are, U+FFFE/U+FFFF go; every C0 control but tab, LF, CR goes.
        let mut n = 0;
        assert!(matches!(xml_safe("ｆｕｌｌ\u{F000}\u{FFFD}\u{E000}", &mut n), Cow::Borrowed(_)));
        assert_eq!(n, 0);
        for c in (0u32..0x20).chain([0xFFFE, 0xFFFF]).filter_map(char::from_u32).filter(|c| !matches!(c, '\t' | '\n' | '\r')) {
            let text = format!("a{c}ｂ");
            let mut n = 0;
            assert_eq!(xml_safe(&text, &mut n), "a\u{FFFD}ｂ", "U+{:04X}", c as u32);
            assert_eq!(n, 1);
        }
    }

    #[test]
    fn html_body_of_one_line_is_one_div() {
        assert_eq!(html_body("one"), "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body><div>one</div></body></html>");
    }

    #[test]
    fn html_body_escapes_and_keeps_line_breaks() {
        let b = html_body("<b>hi</b> & \"bye\"\r\nline2\rline3");
        assert!(b.contains("&lt;b&gt;hi&lt;/b&gt; &amp; \"bye\"<br>\nline2<br>\nline3"), "{b}");
    }

    #[test]
    fn subjects() {
        assert_eq!(subject_from("\n  hello there \nsecond", 255, "x"), "hello there");
        assert_eq!(subject_from("   ", 255, "Missed conversation"), "Missed conversation");
        assert_eq!(subject_from("abcdef", 4, "x"), "abc…");
    }
}
