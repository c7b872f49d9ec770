//! The OData query options of a Graph message listing, as far as this server models them:
//! `$filter` with `isRead eq true|false` and `singleValueExtendedProperties/any(ep: ep/id eq
//! '<id>' and ep/value eq '<value>')` joined by `and`; `$expand=singleValueExtendedProperties(
//! $filter=id eq '<id>' or …)`; `$select`; `$top` (1 to 1000, default 10) and `$skip`. Anything
//! else is refused with 400, as Graph refuses a clause it cannot read: a filter this server does
//! not understand must never match everything. Reference: "Use query parameters to customize
//! responses", "Get singleValueLegacyExtendedProperty" (extended property ids, `eq` on `value`
//! compares case-insensitively; the `Name` in an id is case-sensitive).

use crate::shape::property_tag;
use crate::state::{Ext, Item};

/// An extended property id: `String 0x001A`, or `String {guid} Name OfflineImMessageId`.
#[derive(Debug, Clone, PartialEq)]
pub enum PropId {
    Tag { kind: String, tag: u32 },
    Named { kind: String, set: String, name: String },
}

impl PropId {
    pub fn parse(id: &str) -> Option<PropId> {
        let (kind, rest) = id.trim().split_once(' ')?;
        if !["String", "Integer", "SystemTime", "Boolean", "Long"].iter().any(|k| k.eq_ignore_ascii_case(kind)) {
            return None;
        }
        if let Some(inner) = rest.strip_prefix('{') {
            let (set, tail) = inner.split_once('}')?;
            let name = tail.strip_prefix(" Name ")?;
            return (set.len() == 36 && !name.is_empty()).then(|| PropId::Named { kind: kind.into(), set: set.to_ascii_lowercase(), name: name.into() });
        }
        rest.get(..2).filter(|p| p.eq_ignore_ascii_case("0x"))?;
        Some(PropId::Tag { kind: kind.into(), tag: property_tag(rest)? })
    }

    /// The id as Graph writes it in replies: tags in their shortest lower-case hex form
    /// (`String 0x1a`), GUIDs in lower case.
    pub fn canonical(&self) -> String {
        match self {
            PropId::Tag { kind, tag } => format!("{kind} {tag:#x}"),
            PropId::Named { kind, set, name } => format!("{kind} {{{set}}} Name {name}"),
        }
    }

    /// The value of this property on `item`; PR_MESSAGE_CLASS is the item class itself.
    pub fn value_on(&self, item: &Item) -> Option<String> {
        match self {
            PropId::Tag { tag: 0x001A, .. } => Some(item.item_class.clone()),
            PropId::Tag { tag, .. } => item.extended.iter().find(|e| e.property_tag.as_deref().and_then(property_tag) == Some(*tag)).map(|e| e.value.clone()),
            PropId::Named { set, name, .. } => item
                .extended
                .iter()
                .find(|e: &&Ext| e.property_set_id.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(set)) && e.property_name.as_deref() == Some(name.as_str()))
                .map(|e| e.value.clone()),
        }
    }
}

/// One condition of a `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    IsRead(bool),
    Ext { id: PropId, value: String },
}

impl Cond {
    pub fn matches(&self, item: &Item) -> bool {
        match self {
            Cond::IsRead(b) => item.is_read == *b,
            Cond::Ext { id, value } => id.value_on(item).is_some_and(|v| v.eq_ignore_ascii_case(value)),
        }
    }
}

/// A quoted OData string at the start of `s`: its value ('' is one quote) and the rest.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut rest = s.trim_start().strip_prefix('\'')?;
    let mut out = String::new();
    loop {
        let i = rest.find('\'')?;
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        match rest.strip_prefix('\'') {
            Some(r) => {
                out.push('\'');
                rest = r;
            }
            None => return Some((out, rest)),
        }
    }
}

fn keyword<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let s = s.trim_start();
    s.get(..word.len()).filter(|w| w.eq_ignore_ascii_case(word)).map(|_| &s[word.len()..])
}

fn ext_condition(s: &str) -> Option<(Cond, &str)> {
    let s = keyword(s, "singleValueExtendedProperties/any(")?;
    let s = keyword(s, "ep:")?;
    let s = keyword(s, "ep/id eq")?;
    let (id, s) = quoted(s)?;
    let s = keyword(s, "and")?;
    let s = keyword(s, "ep/value eq")?;
    let (value, s) = quoted(s)?;
    let s = keyword(s, ")")?;
    Some((Cond::Ext { id: PropId::parse(&id)?, value }, s))
}

/// Parses a `$filter`. Err: the clause is not one this server models (a 400 "Invalid filter clause").
pub fn parse_filter(text: &str) -> Result<Vec<Cond>, String> {
    let mut conds = Vec::new();
    let mut rest = text;
    loop {
        let (cond, after) = if let Some(r) = keyword(rest, "isRead eq") {
            match (keyword(r, "true"), keyword(r, "false")) {
                (Some(a), _) => (Cond::IsRead(true), a),
                (_, Some(a)) => (Cond::IsRead(false), a),
                _ => return Err(format!("Invalid filter clause: {text}")),
            }
        } else {
            ext_condition(rest).ok_or_else(|| format!("Invalid filter clause: {text}"))?
        };
        conds.push(cond);
        if after.trim().is_empty() {
            return Ok(conds);
        }
        rest = keyword(after, "and ").ok_or_else(|| format!("Invalid filter clause: {text}"))?;
    }
}

/// The property ids of `$expand=singleValueExtendedProperties($filter=id eq '…' or …)`.
pub fn parse_expand(text: &str) -> Result<Vec<PropId>, String> {
    let bad = || format!("Parsing OData Select and Expand failed: {text}");
    let inner = keyword(text, "singleValueExtendedProperties($filter=").and_then(|r| r.trim_end().strip_suffix(')')).ok_or_else(bad)?;
    let mut ids = Vec::new();
    let mut rest = inner;
    loop {
        let r = keyword(rest, "id eq").ok_or_else(bad)?;
        let (id, after) = quoted(r).ok_or_else(bad)?;
        ids.push(PropId::parse(&id).ok_or_else(bad)?);
        if after.trim().is_empty() {
            return Ok(ids);
        }
        rest = keyword(after, "or ").ok_or_else(bad)?;
    }
}

/// `%XX` decoded (invalid escapes kept as written).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_this_server_reads_and_ones_it_refuses() {
        let f = parse_filter("singleValueExtendedProperties/any(ep: ep/id eq 'String 0x001A' and ep/value eq 'IPM.Note.Microsoft.Missed') and isRead eq false").unwrap();
        assert_eq!(f, vec![Cond::Ext { id: PropId::Tag { kind: "String".into(), tag: 0x1a }, value: "IPM.Note.Microsoft.Missed".into() }, Cond::IsRead(false)]);
        for bad in ["isRead eq maybe", "subject eq 'x'", "isRead eq false or isRead eq true", "singleValueExtendedProperties/any(ep: ep/id eq 'Bogus 0x1' and ep/value eq 'x')"] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
        assert_eq!(PropId::parse("String {6B2B3C54-5E0F-4C1C-9A3E-0FF11E1E0A1D} Name OfflineImMessageId").unwrap().canonical(), "String {6b2b3c54-5e0f-4c1c-9a3e-0ff11e1e0a1d} Name OfflineImMessageId");
        assert_eq!(PropId::parse("Integer 0x0E07").unwrap().canonical(), "Integer 0xe07");
        assert_eq!(percent_decode("id%20eq%20%27x%27%2"), "id eq 'x'%2");
    }
}
