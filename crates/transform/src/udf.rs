//! Native scalar functions the SQL models use.
//!
//! | function | does |
//! |---|---|
//! | `normalize_email(text)` | trimmed, lowercased address; NULL for blanks, placeholders and non-addresses |
//! | `normalize_phone(text)` | E.164 (`+13125550143`); national numbers are read as numbers of the pipeline's `identity.default_country` (default US); NULL for withheld/unknown/invalid |
//! | `kv_get(text, key)` | the value of `key` in `k1=v1;k2=v2` (Asterisk CDR userfield convention) |
//! | `json_get(text, key)` | the value of top-level `key` in a JSON object, as text |
//! | `seconds_between(start, end)` | `end - start` in seconds (fractional), NULL if either is NULL |
//! | `days_between(start, end)` | `end - start` in whole days, for dates |
//! | `string_agg_by(value, key, separator)` | aggregate: the values joined by `separator` in the order of the integer `key`, as `string_agg(value, separator ORDER BY key, value)` but without sorting the input first (see [`crate::string_agg_by`]) |
//! | `effort_index(ivr_steps, ivr_errors, wait_secs, duration_secs, transfers, channel_switches, repeat_contacts, web_clicks, web_errors, failed_searches)` | the 0-100 effort index of the pipeline's `effort:` settings ([`EffortSettings::index`]); a NULL factor counts as 0 |

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Date32Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use touchstone_core::config::{
    EFFORT_FACTORS, EffortSettings, JourneySettings, PHONE_COUNTRIES, PhoneCountry,
};
use touchstone_core::schema::timestamp_type;

/// Registers every function of this module in `ctx`, those that depend on the pipeline with
/// its `journeys` settings (the phone country of `normalize_phone`, the factors of
/// `effort_index`).
pub fn register(ctx: &SessionContext, journeys: &JourneySettings) {
    for udf in all() {
        ctx.register_udf(udf);
    }
    ctx.register_udaf(crate::string_agg_by::StringAggBy::udaf());
    register_phone(ctx, &journeys.identity.default_country);
    register_effort(ctx, &journeys.effort);
}

/// The functions of this module that do not depend on the pipeline's settings.
pub fn all() -> Vec<ScalarUDF> {
    let utf8 = || DataType::Utf8;
    let ts = timestamp_type;
    vec![
        create_udf(
            "normalize_email",
            vec![utf8()],
            utf8(),
            Volatility::Immutable,
            Arc::new(|args| map_strings(args, normalize_email)),
        ),
        create_udf(
            "kv_get",
            vec![utf8(), utf8()],
            utf8(),
            Volatility::Immutable,
            Arc::new(|args| map_string_pairs(args, kv_get)),
        ),
        create_udf(
            "json_get",
            vec![utf8(), utf8()],
            utf8(),
            Volatility::Immutable,
            Arc::new(|args| map_string_pairs(args, json_get)),
        ),
        create_udf(
            "seconds_between",
            vec![ts(), ts()],
            DataType::Float64,
            Volatility::Immutable,
            Arc::new(seconds_between),
        ),
        create_udf(
            "days_between",
            vec![DataType::Date32, DataType::Date32],
            DataType::Int64,
            Volatility::Immutable,
            Arc::new(days_between),
        ),
    ]
}

/// Normalizes an email address for matching: trimmed, lowercased, `mailto:` dropped.
/// Returns `None` for anything that is not `local@domain.tld` or is a known placeholder.
///
/// ```
/// use touchstone_transform::udf::normalize_email;
/// assert_eq!(normalize_email("  Jane.Doe@Example.COM "), Some("jane.doe@example.com".into()));
/// assert_eq!(normalize_email("test@test.com"), None);
/// assert_eq!(normalize_email("n/a"), None);
/// ```
pub fn normalize_email(raw: &str) -> Option<String> {
    let s = raw
        .trim()
        .trim_start_matches("mailto:")
        .trim()
        .to_lowercase();
    let (local, domain) = s.split_once('@')?;
    let valid = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace);
    const PLACEHOLDER_LOCALS: [&str; 7] = [
        "noreply", "no-reply", "none", "noemail", "unknown", "null", "na",
    ];
    const PLACEHOLDER_ADDRESSES: [&str; 3] =
        ["test@test.com", "test@example.com", "email@email.com"];
    if !valid || PLACEHOLDER_LOCALS.contains(&local) || PLACEHOLDER_ADDRESSES.contains(&s.as_str())
    {
        return None;
    }
    Some(s)
}

/// Normalizes a phone number to E.164, reading national numbers as North American: see
/// [`normalize_phone_in`].
///
/// ```
/// use touchstone_transform::udf::normalize_phone;
/// assert_eq!(normalize_phone("(312) 555-0143"), Some("+13125550143".into()));
/// assert_eq!(normalize_phone("+1 312 555 0143"), Some("+13125550143".into()));
/// assert_eq!(normalize_phone("312.555.0143 x12"), Some("+13125550143".into()));
/// assert_eq!(normalize_phone("+44 20 7946 0958"), Some("+442079460958".into()));
/// assert_eq!(normalize_phone("anonymous"), None);
/// ```
pub fn normalize_phone(raw: &str) -> Option<String> {
    normalize_phone_in(raw, &PHONE_COUNTRIES[0])
}

/// Normalizes a phone number to E.164. Numbers written with `+` or a `00` international
/// prefix keep their country code; national numbers are read as numbers of `country` (the
/// pipeline's `identity.default_country`): its trunk prefix (`0` in most of Europe) dropped and
/// its calling code added when the rest has a length the country uses. In North America
/// (calling code 1) 10-digit numbers not starting with 0 or 1, and 11-digit numbers starting
/// with `1`, are national. Withheld or placeholder values (`anonymous`, `0000000000`) and
/// anything else ambiguous give `None`. An extension (`x12`, `ext. 12`) is dropped.
///
/// ```
/// use touchstone_core::config::PHONE_COUNTRIES;
/// use touchstone_transform::udf::normalize_phone_in;
/// let gb = PHONE_COUNTRIES.iter().find(|c| c.code == "GB").unwrap();
/// assert_eq!(normalize_phone_in("020 7946 0958", gb), Some("+442079460958".into()));
/// assert_eq!(normalize_phone_in("07700 900123", gb), Some("+447700900123".into()));
/// assert_eq!(normalize_phone_in("+1 312 555 0143", gb), Some("+13125550143".into()));
/// assert_eq!(normalize_phone_in("(312) 555-0143", gb), None);
/// ```
pub fn normalize_phone_in(raw: &str, country: &PhoneCountry) -> Option<String> {
    let s = raw.trim();
    // Caller ID as Asterisk writes it: `"Jane" <5551234>` — take what is inside the brackets.
    let s = match (s.rfind('<'), s.rfind('>')) {
        (Some(open), Some(close)) if open < close => &s[open + 1..close],
        _ => s,
    };
    let s = s.trim();
    let international = s.starts_with('+');
    let mut digits = String::with_capacity(16);
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if c.is_alphabetic() {
            if digits.is_empty() {
                // "anonymous", "unknown", "restricted": no number at all.
                return None;
            }
            // An extension starts: "x12", "ext 12".
            break;
        }
    }
    if digits.is_empty() || digits.bytes().all(|b| b == b'0') {
        return None;
    }
    let e164 = if international {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else if country.calling_code == "1" {
        if digits.len() == 10 && !digits.starts_with('0') && !digits.starts_with('1') {
            format!("1{digits}")
        } else if digits.len() == 11 && digits.starts_with('1') {
            digits
        } else {
            return None;
        }
    } else {
        let national = match country.trunk_prefix {
            Some(p) => digits.strip_prefix(p)?,
            None => digits.as_str(),
        };
        let (shortest, longest) = country.lengths;
        if !(shortest..=longest).contains(&national.len()) || national.starts_with('0') {
            return None;
        }
        format!("{}{national}", country.calling_code)
    };
    ((8..=15).contains(&e164.len()) && !e164.starts_with('0')).then(|| format!("+{e164}"))
}

/// Registers `normalize_phone` reading national numbers as numbers of `country`.
fn register_phone(ctx: &SessionContext, country: &PhoneCountry) {
    let country = *country;
    ctx.register_udf(create_udf(
        "normalize_phone",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args| map_strings(args, |raw| normalize_phone_in(raw, &country))),
    ));
}

/// The value of `key` in `k1=v1;k2=v2`.
///
/// ```
/// use touchstone_transform::udf::kv_get;
/// assert_eq!(kv_get("ivr_path=main>billing;ivr_errors=1", "ivr_errors"), Some("1".into()));
/// assert_eq!(kv_get("csat:4", "csat"), None);
/// ```
pub fn kv_get(text: &str, key: &str) -> Option<String> {
    text.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// The value of top-level `key` in a JSON object, as text (strings unquoted, other values as
/// compact JSON); `None` when absent, null or not an object.
///
/// ```
/// use touchstone_transform::udf::json_get;
/// assert_eq!(json_get(r#"{"csat":"4","n":2}"#, "csat"), Some("4".into()));
/// assert_eq!(json_get(r#"{"csat":"4","n":2}"#, "n"), Some("2".into()));
/// assert_eq!(json_get("not json", "csat"), None);
/// ```
pub fn json_get(text: &str, key: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    match value.get(key)? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn to_arrays(args: &[ColumnarValue]) -> Result<(Vec<ArrayRef>, bool)> {
    let scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    Ok((ColumnarValue::values_to_arrays(args)?, scalar))
}

fn finish(array: ArrayRef, scalar: bool) -> Result<ColumnarValue> {
    if scalar {
        Ok(ColumnarValue::Scalar(
            datafusion::scalar::ScalarValue::try_from_array(&array, 0)?,
        ))
    } else {
        Ok(ColumnarValue::Array(array))
    }
}

/// `array` cast to `to`, as the concrete array type of `to`.
pub(crate) fn cast_to<T: Array + Clone + 'static>(array: &ArrayRef, to: &DataType) -> Result<T> {
    let cast_array = cast(array, to)?;
    cast_array
        .as_any()
        .downcast_ref::<T>()
        .cloned()
        .ok_or_else(|| {
            DataFusionError::Internal(format!("{} did not cast to {to}", array.data_type()))
        })
}

fn strings(array: &ArrayRef) -> Result<StringArray> {
    cast_to(array, &DataType::Utf8)
}

fn map_strings(
    args: &[ColumnarValue],
    f: impl Fn(&str) -> Option<String>,
) -> Result<ColumnarValue> {
    let (arrays, scalar) = to_arrays(args)?;
    let input = strings(&arrays[0])?;
    let out: StringArray = input.iter().map(|v| v.and_then(&f)).collect();
    finish(Arc::new(out), scalar)
}

fn map_string_pairs(
    args: &[ColumnarValue],
    f: impl Fn(&str, &str) -> Option<String>,
) -> Result<ColumnarValue> {
    let (arrays, scalar) = to_arrays(args)?;
    let left = strings(&arrays[0])?;
    let right = strings(&arrays[1])?;
    let out: StringArray = left
        .iter()
        .zip(right.iter())
        .map(|(a, b)| match (a, b) {
            (Some(a), Some(b)) => f(a, b),
            _ => None,
        })
        .collect();
    finish(Arc::new(out), scalar)
}

/// Registers `effort_index` with the pipeline's effort factors.
fn register_effort(ctx: &SessionContext, effort: &EffortSettings) {
    let effort = *effort;
    ctx.register_udf(create_udf(
        "effort_index",
        vec![DataType::Float64; EFFORT_FACTORS.len()],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(move |args| effort_index(&effort, args)),
    ));
}

fn effort_index(effort: &EffortSettings, args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let (arrays, scalar) = to_arrays(args)?;
    let factors = arrays
        .iter()
        .map(|a| cast_to::<Float64Array>(a, &DataType::Float64))
        .collect::<Result<Vec<_>>>()?;
    let rows = factors.first().map_or(0, Array::len);
    let out: Float64Array = (0..rows)
        .map(|row| {
            let mut values = [0.0; EFFORT_FACTORS.len()];
            for (v, f) in values.iter_mut().zip(&factors) {
                if f.is_valid(row) {
                    *v = f.value(row);
                }
            }
            Some(effort.index(&values))
        })
        .collect();
    finish(Arc::new(out), scalar)
}

fn seconds_between(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let (arrays, scalar) = to_arrays(args)?;
    let start: TimestampMicrosecondArray = cast_to(&arrays[0], &timestamp_type())?;
    let end: TimestampMicrosecondArray = cast_to(&arrays[1], &timestamp_type())?;
    let out: Float64Array = start
        .iter()
        .zip(end.iter())
        .map(|(a, b)| Some((b? - a?) as f64 / 1e6))
        .collect();
    finish(Arc::new(out), scalar)
}

fn days_between(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let (arrays, scalar) = to_arrays(args)?;
    let start: Date32Array = cast_to(&arrays[0], &DataType::Date32)?;
    let end: Date32Array = cast_to(&arrays[1], &DataType::Date32)?;
    let out: Int64Array = start
        .iter()
        .zip(end.iter())
        .map(|(a, b)| Some(i64::from(b?) - i64::from(a?)))
        .collect();
    let out: ArrayRef = Arc::new(out);
    debug_assert_eq!(out.len(), start.len());
    finish(out, scalar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        for (raw, want) in [
            ("3125550143", Some("+13125550143")),
            ("1-312-555-0143", Some("+13125550143")),
            ("\"Jane Doe\" <3125550143>", Some("+13125550143")),
            ("0044 20 7946 0958", Some("+442079460958")),
            ("0000000000", None),
            ("", None),
            ("555-0143", None),
            ("Restricted", None),
            ("+1 (312) 555-0143 ext. 9", Some("+13125550143")),
        ] {
            assert_eq!(normalize_phone(raw).as_deref(), want, "{raw}");
        }
    }

    #[test]
    fn emails() {
        for (raw, want) in [
            ("mailto:A@B.co", Some("a@b.co")),
            ("a@b", None),
            ("a b@c.com", None),
            ("@c.com", None),
            ("no-reply@shop.example.com", None),
        ] {
            assert_eq!(normalize_email(raw).as_deref(), want, "{raw}");
        }
    }

    #[tokio::test]
    async fn functions_run_in_sql() {
        let ctx = SessionContext::new();
        register(&ctx, &JourneySettings::default());
        let df = ctx
            .sql(
                "select normalize_phone('(312) 555-0143') p, normalize_email(' X@Y.COM ') e, \
                 kv_get('a=1;b=2', 'b') k, json_get('{\"csat\":\"5\"}', 'csat') j, \
                 seconds_between(to_timestamp_micros('2026-08-01T00:00:00Z'), to_timestamp_micros('2026-08-01T00:00:01.5Z')) s, \
                 days_between(DATE '2026-08-01', DATE '2026-08-11') d",
            )
            .await
            .unwrap();
        let batches = df.collect().await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(text.contains("+13125550143"), "{text}");
        assert!(text.contains("x@y.com"), "{text}");
        assert!(text.contains("| 2 "), "{text}");
        assert!(text.contains("| 5 "), "{text}");
        assert!(text.contains("1.5"), "{text}");
        assert!(text.contains("| 10 "), "{text}");
    }

    #[tokio::test]
    async fn effort_index_follows_the_pipelines_effort_settings() {
        let ctx = SessionContext::new();
        let sql = "select effort_index(0, 3, 0, 0, 0, 0, 0, 0, 0, cast(null as double)) as i, \
                   effort_index(c, 0, 0, 0, 0, 0, 0, 0, 0, 0) as j \
                   from (values (0.0), (6.0)) as t(c) order by j";
        let run = |ctx: SessionContext| async move {
            let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
            let col = |n: usize| -> Vec<f64> {
                let a = batches[0]
                    .column(n)
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .unwrap();
                a.values().to_vec()
            };
            (col(0), col(1))
        };
        // Defaults: 3 IVR errors count fully (weight 2 of 13.5); 6 IVR steps are 3 over the
        // free 3, fully counted (weight 1).
        register_effort(&ctx, &EffortSettings::default());
        let (i, j) = run(ctx).await;
        assert_eq!(i, [100.0 * 2.0 / 13.5; 2]);
        assert_eq!(j, [0.0, 100.0 / 13.5]);
        // Only IVR errors weigh: their index is all of it; IVR steps add nothing.
        let mut only_errors = EffortSettings::default();
        for (f, name) in only_errors.factors.iter_mut().zip(EFFORT_FACTORS) {
            f.weight = if name == "ivr_errors" { 1.0 } else { 0.0 };
        }
        let ctx = SessionContext::new();
        register_effort(&ctx, &only_errors);
        let (i, j) = run(ctx).await;
        assert_eq!(i, [100.0; 2]);
        assert_eq!(j, [0.0, 0.0]);
    }

    #[tokio::test]
    async fn sessions_read_national_numbers_in_the_pipelines_default_country() {
        let gb = *PHONE_COUNTRIES.iter().find(|c| c.code == "GB").unwrap();
        let mut options = crate::SessionOptions::default();
        options.journeys.identity.default_country = gb;
        let sql = "select normalize_phone('020 7946 0958') as national, \
                   normalize_phone('+1 312 555 0143') as international, \
                   normalize_phone('(312) 555-0143') as american";
        let ctx = crate::new_session(&options).unwrap();
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(text.contains("| +442079460958 | +13125550143  |"), "{text}");
        // A US session reads the same national number as nobody's, the American one as +1.
        let ctx = crate::new_session(&crate::SessionOptions::default()).unwrap();
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(
            text.contains("|          | +13125550143  | +13125550143 |"),
            "{text}"
        );
    }
}
