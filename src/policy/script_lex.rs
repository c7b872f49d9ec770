//! Tokens of the PowerShell subset used by the seeds' admin commands.
//!
//! Handles what pasting from documentation produces: `'…'` and `"…"` strings (also typographic
//! quotes, which PowerShell accepts), en/em dashes before parameter names (PowerShell accepts
//! them too), `-Name:value`, `#` comments, `;` between statements and a trailing backtick as
//! line continuation. Positions are 1-based lines and columns in Unicode scalar values.

use crate::error::{Error, Result};

/// One token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// Unquoted word: a cmdlet name, a bare value, `$True`, `$null`, `$var`.
    Word(String),
    /// A quoted string's content.
    Quoted(String),
    /// `-Name` or `-Name:value` (the value as written, unquoted).
    Param { name: String, inline: Option<String> },
    /// A dash with nothing attached (the seed's `- PolicyName`).
    Dash,
    Equals,
}

/// A statement: the tokens of one command, possibly spanning continued lines.
pub type Statement = Vec<Token>;

const DASHES: [char; 4] = ['-', '\u{2013}', '\u{2014}', '\u{2015}'];
const DOUBLE_QUOTES: [char; 4] = ['"', '\u{201C}', '\u{201D}', '\u{201E}'];
const SINGLE_QUOTES: [char; 4] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}'];

fn err(line: usize, column: usize, message: impl Into<String>) -> Error {
    Error::PolicyScript { line, column, message: message.into(), hint: None }
}

fn ends_word(c: char) -> bool {
    c.is_whitespace() || c == ';'
}

/// Splits a script into statements. Errors: unterminated strings.
pub fn statements(text: &str) -> Result<Vec<Statement>> {
    let mut out = Vec::new();
    let mut current: Statement = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let chars: Vec<char> = raw.chars().collect();
        let mut i = 0;
        let mut continued = false;
        while i < chars.len() {
            let c = chars[i];
            let column = i + 1;
            let at = |tok| Token { tok, line, column };
            if c.is_whitespace() {
                i += 1;
            } else if c == '#' {
                break;
            } else if c == ';' {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                i += 1;
            } else if c == '`' && chars[i + 1..].iter().all(|c| c.is_whitespace()) {
                continued = true;
                break;
            } else if DOUBLE_QUOTES.contains(&c) || SINGLE_QUOTES.contains(&c) {
                let (s, next) = quoted(&chars, i, line)?;
                current.push(at(Tok::Quoted(s)));
                i = next;
            } else if c == '=' {
                current.push(at(Tok::Equals));
                i += 1;
            } else if DASHES.contains(&c) && chars.get(i + 1).is_some_and(|n| n.is_alphabetic()) {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
                    end += 1;
                }
                let name: String = chars[start..end].iter().collect();
                let mut inline = None;
                if chars.get(end) == Some(&':') {
                    let vstart = end + 1;
                    end = vstart;
                    while end < chars.len() && !ends_word(chars[end]) {
                        end += 1;
                    }
                    inline = Some(chars[vstart..end].iter().collect());
                }
                current.push(at(Tok::Param { name, inline }));
                i = end;
            } else if DASHES.contains(&c) && chars.get(i + 1).is_none_or(|n| n.is_whitespace()) {
                current.push(at(Tok::Dash));
                i += 1;
            } else {
                let start = i;
                while i < chars.len() && !ends_word(chars[i]) {
                    i += 1;
                }
                current.push(at(Tok::Word(chars[start..i].iter().collect())));
            }
        }
        if !continued && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

/// Reads a quoted string starting at `chars[start]`; returns its content and the index after it.
fn quoted(chars: &[char], start: usize, line: usize) -> Result<(String, usize)> {
    let double = DOUBLE_QUOTES.contains(&chars[start]);
    let closes = |c: char| if double { DOUBLE_QUOTES.contains(&c) } else { SINGLE_QUOTES.contains(&c) };
    let mut s = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if double && c == '`' && i + 1 < chars.len() {
            s.push(chars[i + 1]);
            i += 2;
        } else if closes(c) {
            if chars.get(i + 1).is_some_and(|n| closes(*n)) {
                s.push(c);
                i += 2;
            } else {
                return Ok((s, i + 1));
            }
        } else {
            s.push(c);
            i += 1;
        }
    }
    Err(err(line, start + 1, "unterminated string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Result<Vec<Vec<Tok>>> {
        Ok(statements(text)?.into_iter().map(|s| s.into_iter().map(|t| t.tok).collect()).collect())
    }

    #[test]
    fn words_params_strings_and_comments() -> Result<()> {
        let w = |s: &str| Tok::Word(s.into());
        let p = |s: &str, v: Option<&str>| Tok::Param { name: s.into(), inline: v.map(Into::into) };
        assert_eq!(
            toks("Grant-CsClientPolicy -Identity \"Tony Smith\" -PolicyName:OfflineIM # note")?,
            vec![vec![w("Grant-CsClientPolicy"), p("Identity", None), Tok::Quoted("Tony Smith".into()), p("PolicyName", Some("OfflineIM"))]]
        );
        assert_eq!(toks("a 'it''s'; b \u{2013}X")?, vec![vec![w("a"), Tok::Quoted("it's".into())], vec![w("b"), p("X", None)]]);
        assert_eq!(toks("a `\n  -B 1\n\n# only a comment\nc")?, vec![vec![w("a"), p("B", None), w("1")], vec![w("c")]]);
        assert_eq!(toks("x - PolicyName")?, vec![vec![w("x"), Tok::Dash, w("PolicyName")]]);
        assert_eq!(toks("“curly” -1")?, vec![vec![Tok::Quoted("curly".into()), w("-1")]]);
        Ok(())
    }

    #[test]
    fn positions_and_unterminated_strings() -> Result<()> {
        let s = statements("\n  Set-X  -Y")?;
        assert_eq!((s[0][1].line, s[0][1].column), (2, 10));
        match statements("ok\nGrant -Identity \"Tony") {
            Err(Error::PolicyScript { line, column, .. }) => assert_eq!((line, column), (2, 17)),
            other => panic!("{other:?}"),
        }
        Ok(())
    }
}
