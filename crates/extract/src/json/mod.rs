//! JSON: the one record framer of every JSON reader ([`frame`]), the record loop on top of it
//! ([`records`]: envelopes, webhooks, rejects with JSON pointers), and typed field access with
//! reject reasons that name the field.

pub(crate) mod frame;
pub(crate) mod records;

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::time::parse_instant;

/// Parses one JSON object from bytes, with a reject reason on failure. Bytes that are not valid
/// UTF-8 are replaced by U+FFFD first (see [`crate::text`]): inside a string the record is
/// staged (and counted as repaired by `Ctx`), elsewhere it is not valid JSON.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let (text, _) = crate::text::lossy(bytes);
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!(
            "a JSON {} where a JSON object was expected",
            kind(&other)
        )),
        Err(e) => Err(format!("invalid JSON ({e}); expected one JSON object")),
    }
}

/// The kind of a JSON value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The value at `key`, `None` when absent or `null`.
pub(crate) fn get<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// A text field: a string as it is; a number or boolean as its JSON text.
pub(crate) fn opt_str<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<Cow<'v, str>>, String> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(Cow::Borrowed(s))),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(Cow::Owned(v.to_string()))),
        Some(v) => Err(format!(
            "field '{path}': expected a string, got a JSON {}",
            kind(v)
        )),
    }
}

/// An instant: an RFC 3339 string with offset; an empty string is null.
pub(crate) fn opt_ts(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    example: &str,
) -> Result<Option<i64>, String> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => parse_instant(s).map(Some).ok_or_else(|| {
            format!(
                "field '{path}': expected an RFC 3339 timestamp like {example}, got {}",
                crate::input::shown(s)
            )
        }),
        Some(v) => Err(format!(
            "field '{path}': expected an RFC 3339 timestamp like {example}, got a JSON {}",
            kind(v)
        )),
    }
}

/// An instant written as Unix seconds (Intercom): a JSON integer, a whole float or a string of
/// digits; an RFC 3339 string is read too. 0 and negative values are null (unset).
pub(crate) fn opt_unix(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<i64>, String> {
    const MAX_SECS: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let bad =
        |got: String| format!("field '{path}': expected Unix seconds like 1722522151, got {got}");
    let secs = match get(obj, key) {
        None => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(n) => n,
            Err(_) => {
                return parse_instant(s.trim())
                    .map(Some)
                    .ok_or_else(|| bad(crate::input::shown(s)));
            }
        },
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => i,
            None => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => f as i64,
                _ => return Err(bad(n.to_string())),
            },
        },
        Some(v) => return Err(bad(format!("a JSON {}", kind(v)))),
    };
    if secs <= 0 {
        return Ok(None);
    }
    if secs > MAX_SECS {
        return Err(bad(secs.to_string()));
    }
    Ok(Some(secs * 1_000_000))
}

/// A whole number: a JSON integer, a float with no fraction, or a string of digits.
pub(crate) fn opt_int(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    what: &str,
) -> Result<Option<i64>, String> {
    let bad = |got: String| format!("field '{path}': expected {what}, got {got}");
    match get(obj, key) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else {
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
                    _ => Err(bad(n.to_string())),
                }
            }
        }
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| bad(crate::input::shown(s))),
        Some(v) => Err(bad(format!("a JSON {}", kind(v)))),
    }
}

/// A nested object; `None` when absent or `null`.
pub(crate) fn opt_obj<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'v Map<String, Value>>, String> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(v) => Err(format!(
            "field '{path}': expected an object, got a JSON {}",
            kind(v)
        )),
    }
}

/// A nested array; `None` when absent or `null`.
pub(crate) fn opt_arr<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'v Vec<Value>>, String> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(v) => Err(format!(
            "field '{path}': expected an array, got a JSON {}",
            kind(v)
        )),
    }
}

/// Compact JSON text of a value.
pub(crate) fn compact(v: &Value) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_access_names_the_field() {
        let obj = parse_object(br#"{"s":"x","n":3,"f":2.0,"g":2.5,"o":{},"t":"bad","z":null}"#)
            .unwrap_or_default();
        assert_eq!(opt_str(&obj, "n", "n"), Ok(Some(Cow::Borrowed("3"))));
        assert!(opt_str(&obj, "o", "X.o").is_err_and(|e| e.contains("'X.o'")));
        assert_eq!(opt_int(&obj, "f", "f", "seconds"), Ok(Some(2)));
        assert!(opt_int(&obj, "g", "g", "whole seconds").is_err_and(|e| e.contains("expected")));
        assert_eq!(opt_ts(&obj, "z", "z", "x"), Ok(None));
        assert!(
            opt_ts(&obj, "t", "t", "2026-08-01T14:22:31Z").is_err_and(|e| e.contains("RFC 3339"))
        );
        assert!(parse_object(b"[1]").is_err());
        assert!(parse_object(b"42").is_err_and(|e| e.contains("a JSON number")));
        assert_eq!(
            parse_object(b"{\"a\":\"\xff\"}")
                .ok()
                .and_then(|o| o.get("a").cloned()),
            Some(Value::String("\u{fffd}".into()))
        );
    }
}
