//! FindItem restrictions ("Restriction", "SearchExpression" in the EWS reference): `And`, `Or`,
//! `Not`, `Exists`, the comparisons `IsEqualTo`, `IsNotEqualTo`, `IsGreaterThan`,
//! `IsGreaterThanOrEqualTo`, `IsLessThan`, `IsLessThanOrEqualTo` between a property and a
//! `Constant` (or another property), and `Contains` with its `ContainmentMode` and
//! `ContainmentComparison`. A property is a `FieldURI` or an `ExtendedFieldURI` (our named
//! properties). Values compare by the property's type: `xs:boolean` (true/false/1/0),
//! `xs:dateTime`, integers, and text (case-insensitively, as Exchange's default collation
//! does). An item without the property matches no comparison. Anything not modelled is
//! `ErrorInvalidRestriction`, never a silent match.

use crate::dom::{El, T};
use crate::ops::xs_boolean;
use crate::shape::ext_matches;
use crate::state::Item;
use crate::time::parse_datetime;
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    Bool(bool),
    Time(u64),
    Int(i64),
}

fn property(item: &Item, path: &El) -> Result<Option<Value>, String> {
    match path.name.as_str() {
        "FieldURI" => {
            let uri = path.attr("FieldURI").unwrap_or("");
            Ok(Some(match uri {
                "item:ItemClass" => Value::Text(item.item_class.clone()),
                "item:Subject" => Value::Text(item.subject.clone()),
                "message:IsRead" => Value::Bool(item.is_read),
                "item:IsDraft" => Value::Bool(item.is_draft),
                "item:DateTimeReceived" => Value::Time(item.received_ms),
                "message:From" | "message:Sender" => return Ok(item.from.as_ref().map(|f| Value::Text(f.email.clone()))),
                _ => return Err(format!("restrictions on {uri} are not supported by this test server")),
            }))
        }
        "ExtendedFieldURI" => Ok(item.extended.iter().find(|e| ext_matches(path, e)).map(|e| match e.property_type.as_str() {
            "Integer" | "Long" | "Short" => e.value.trim().parse().map(Value::Int).unwrap_or_else(|_| Value::Text(e.value.clone())),
            "Boolean" => xs_boolean(&e.value).map(Value::Bool).unwrap_or_else(|| Value::Text(e.value.clone())),
            _ => Value::Text(e.value.clone()),
        })),
        other => Err(format!("restrictions on {other} are not supported by this test server")),
    }
}

/// The constant's text read as the same type as `like`.
fn constant(like: &Value, text: &str) -> Result<Value, String> {
    match like {
        Value::Text(_) => Ok(Value::Text(text.to_string())),
        Value::Bool(_) => xs_boolean(text).map(Value::Bool).ok_or_else(|| format!("{text:?} is not an xs:boolean")),
        Value::Time(_) => parse_datetime(text).map(Value::Time).ok_or_else(|| format!("{text:?} is not an xs:dateTime")),
        Value::Int(_) => text.trim().parse().map(Value::Int).map_err(|_| format!("{text:?} is not an integer")),
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Text(x), Value::Text(y)) => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Time(x), Value::Time(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// The property path of a search expression: its first child other than the right-hand side.
fn path_of(r: &El) -> Result<&El, String> {
    r.children.iter().find(|c| c.ns == T && c.name != "FieldURIOrConstant" && c.name != "Constant").ok_or_else(|| format!("{} without a property", r.name))
}

/// Whether `item` satisfies restriction `r`.
pub fn matches(item: &Item, r: &El) -> Result<bool, String> {
    let op = r.name.as_str();
    match op {
        "And" => r.children.iter().try_fold(true, |acc, c| Ok(matches(item, c)? && acc)),
        "Or" => r.children.iter().try_fold(false, |acc, c| Ok(matches(item, c)? || acc)),
        "Not" => r.children.first().ok_or("Not without an expression".to_string()).and_then(|c| matches(item, c)).map(|b| !b),
        "Exists" => Ok(property(item, path_of(r)?)?.is_some()),
        "Contains" => {
            let Some(Value::Text(value)) = property(item, path_of(r)?)? else { return Ok(false) };
            let wanted = r.child(T, "Constant").and_then(|c| c.attr("Value")).ok_or("Contains without a Constant")?;
            let ignore_case = r.attr("ContainmentComparison").is_some_and(|c| c.contains("IgnoreCase") || c == "Loose");
            let (v, w) = if ignore_case { (value.to_lowercase(), wanted.to_lowercase()) } else { (value, wanted.to_string()) };
            Ok(match r.attr("ContainmentMode").unwrap_or("FullString") {
                "FullString" => v == w,
                "Prefixed" => v.starts_with(&w),
                "Substring" | "ExactPhrase" => v.contains(&w),
                "PrefixOnWords" => v.split_whitespace().any(|word| word.starts_with(&w)),
                other => return Err(format!("ContainmentMode {other} is not supported by this test server")),
            })
        }
        "IsEqualTo" | "IsNotEqualTo" | "IsGreaterThan" | "IsGreaterThanOrEqualTo" | "IsLessThan" | "IsLessThanOrEqualTo" => {
            let Some(left) = property(item, path_of(r)?)? else { return Ok(false) };
            let rhs = r.child(T, "FieldURIOrConstant").and_then(|c| c.children.first()).ok_or_else(|| format!("{op} without FieldURIOrConstant"))?;
            let right = match rhs.name.as_str() {
                "Constant" => constant(&left, rhs.attr("Value").unwrap_or(""))?,
                _ => match property(item, rhs)? {
                    Some(v) => v,
                    None => return Ok(false),
                },
            };
            let order = compare(&left, &right).ok_or_else(|| format!("{op} compares values of different types"))?;
            Ok(match op {
                "IsEqualTo" => order == Ordering::Equal,
                "IsNotEqualTo" => order != Ordering::Equal,
                "IsGreaterThan" => order == Ordering::Greater,
                "IsGreaterThanOrEqualTo" => order != Ordering::Less,
                "IsLessThan" => order == Ordering::Less,
                _ => order != Ordering::Greater,
            })
        }
        other => Err(format!("the restriction {other} is not supported by this test server")),
    }
}

