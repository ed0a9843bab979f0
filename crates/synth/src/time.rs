//! Instants and their vendor spellings. Every instant inside the generator is an `i64` count of
//! microseconds since the Unix epoch, UTC; formatting is done here, by hand, because it is on the
//! hot path (millions of web events) and must be byte-stable.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Offset, TimeZone};
use chrono_tz::America::Chicago;

/// Microseconds per second.
pub(crate) const SEC: i64 = 1_000_000;
/// Microseconds per minute.
pub(crate) const MIN: i64 = 60 * SEC;
/// Microseconds per hour.
pub(crate) const HOUR: i64 = 60 * MIN;
/// Microseconds per day.
pub(crate) const DAY: i64 = 24 * HOUR;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Microseconds since the epoch of midnight UTC of `date`.
pub(crate) fn date_start_us(date: NaiveDate) -> i64 {
    use chrono::Datelike;
    days_from_civil(i64::from(date.year()), date.month(), date.day()) * DAY
}

/// The UTC day number (days since the epoch) of an instant.
pub(crate) fn day_number(us: i64) -> i64 {
    us.div_euclid(DAY)
}

/// Sub-second precision of a formatted instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frac {
    /// Whole seconds.
    Secs,
    /// Milliseconds (Segment, Salesforce).
    Millis,
    /// Microseconds (LiveChat).
    Micros,
}

fn push_date(out: &mut String, days: i64) {
    let (y, m, d) = civil_from_days(days);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}");
}

fn push_clock(out: &mut String, us_of_day: i64) {
    let s = us_of_day / SEC;
    let _ = write!(out, "{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
}

fn push_frac(out: &mut String, us_of_day: i64, frac: Frac) {
    let sub = us_of_day % SEC;
    match frac {
        Frac::Secs => {}
        Frac::Millis => {
            let _ = write!(out, ".{:03}", sub / 1000);
        }
        Frac::Micros => {
            let _ = write!(out, ".{sub:06}");
        }
    }
}

/// `2026-08-01T14:22:31Z`, with `.123` or `.123456` before the `Z` as asked (truncating).
pub(crate) fn push_iso_utc(out: &mut String, us: i64, frac: Frac) {
    let days = us.div_euclid(DAY);
    let rem = us.rem_euclid(DAY);
    push_date(out, days);
    out.push('T');
    push_clock(out, rem);
    push_frac(out, rem, frac);
    out.push('Z');
}

/// [`push_iso_utc`] into a new string.
pub(crate) fn iso_utc(us: i64, frac: Frac) -> String {
    let mut s = String::with_capacity(28);
    push_iso_utc(&mut s, us, frac);
    s
}

/// Salesforce datetime: `2026-08-01T14:22:31.000Z` (Salesforce stores whole seconds).
pub(crate) fn sf_datetime(us: i64) -> String {
    let secs = us.div_euclid(SEC) * SEC;
    iso_utc(secs, Frac::Millis)
}

/// Salesforce weekly Data Export datetime: `2026-08-01 14:22:31` (UTC, no `T`, no zone).
pub(crate) fn sf_export_datetime(us: i64) -> String {
    let secs = us.div_euclid(SEC) * SEC;
    let mut s = String::with_capacity(19);
    push_date(&mut s, secs.div_euclid(DAY));
    s.push(' ');
    push_clock(&mut s, secs.rem_euclid(DAY));
    s
}

/// `2026-08-01 09:22` in America/Chicago (HubSpot's UI export: the portal's time zone, no
/// seconds).
pub(crate) fn hubspot_local(us: i64) -> String {
    let mut s = asterisk_local(us);
    s.truncate(16);
    s
}

/// `2026-08-01` (the UTC date).
pub(crate) fn date_utc(us: i64) -> String {
    date_of_day(day_number(us))
}

/// `YYYY/MM/DD` of the UTC date (Firehose prefix).
pub(crate) fn date_path_utc(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}/{m:02}/{d:02}")
}

/// `YYYY-MM-DD` of a UTC day number.
pub(crate) fn date_of_day(day: i64) -> String {
    let mut s = String::with_capacity(10);
    push_date(&mut s, day);
    s
}

/// UTC offset of America/Chicago at an instant, in microseconds (local − UTC).
pub(crate) fn chicago_offset(us: i64) -> i64 {
    let secs = us.div_euclid(SEC);
    match DateTime::from_timestamp(secs, 0) {
        Some(dt) => {
            let off = Chicago.offset_from_utc_datetime(&dt.naive_utc()).fix();
            i64::from(off.local_minus_utc()) * SEC
        }
        None => -6 * HOUR,
    }
}

/// Local wall-clock microseconds of an instant in America/Chicago ("local epoch").
pub(crate) fn chicago_local(us: i64) -> i64 {
    us + chicago_offset(us)
}

/// The UTC instant of a Chicago wall-clock time given as "local epoch" microseconds. Only used
/// for daytime hours (never inside a DST transition), where the answer is unique.
pub(crate) fn chicago_to_utc(local_us: i64) -> i64 {
    let guess = local_us - chicago_offset(local_us - 6 * HOUR);
    local_us - chicago_offset(guess)
}

/// Asterisk `cdr_csv` time: `2026-08-01 09:22:31`, America/Chicago wall clock.
pub(crate) fn asterisk_local(us: i64) -> String {
    let local = chicago_local(us);
    let mut s = String::with_capacity(19);
    push_date(&mut s, local.div_euclid(DAY));
    s.push(' ');
    push_clock(&mut s, local.rem_euclid(DAY));
    s
}

/// ISO 8601 with the Chicago offset: `2026-08-01T09:22:31-05:00`.
pub(crate) fn iso_chicago(us: i64) -> String {
    let off = chicago_offset(us);
    let local = us + off;
    let mut s = String::with_capacity(25);
    push_date(&mut s, local.div_euclid(DAY));
    s.push('T');
    push_clock(&mut s, local.rem_euclid(DAY));
    let off_min = off / MIN;
    let sign = if off_min < 0 { '-' } else { '+' };
    let a = off_min.abs();
    let _ = write!(s, "{sign}{:02}:{:02}", a / 60, a % 60);
    s
}

/// Chicago local hour of day as a fraction (9.5 = 09:30) and weekday (0 = Monday).
pub(crate) fn chicago_hour_weekday(us: i64) -> (f64, u32) {
    let local = chicago_local(us);
    let day = local.div_euclid(DAY);
    let hour = local.rem_euclid(DAY) as f64 / HOUR as f64;
    // 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
    let wd = (day + 3).rem_euclid(7) as u32;
    (hour, wd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips() {
        for d in [-1000i64, 0, 1, 365, 20_000, 20_666, 30_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        assert_eq!(days_from_civil(2026, 8, 1), 20_666);
    }

    #[test]
    fn formats_match_the_vendors() {
        let t = days_from_civil(2026, 8, 1) * DAY + 14 * HOUR + 22 * MIN + 31 * SEC + 123_456;
        assert_eq!(iso_utc(t, Frac::Secs), "2026-08-01T14:22:31Z");
        assert_eq!(iso_utc(t, Frac::Millis), "2026-08-01T14:22:31.123Z");
        assert_eq!(iso_utc(t, Frac::Micros), "2026-08-01T14:22:31.123456Z");
        assert_eq!(sf_datetime(t), "2026-08-01T14:22:31.000Z");
        assert_eq!(asterisk_local(t), "2026-08-01 09:22:31");
        assert_eq!(iso_chicago(t), "2026-08-01T09:22:31-05:00");
        assert_eq!(date_utc(t), "2026-08-01");
        assert_eq!(date_path_utc(day_number(t)), "2026/08/01");
        // Winter: CST is UTC-6.
        let w = days_from_civil(2026, 12, 1) * DAY + 15 * HOUR;
        assert_eq!(iso_chicago(w), "2026-12-01T09:00:00-06:00");
        let local = chicago_local(w);
        assert_eq!(chicago_to_utc(local), w);
        let (h, wd) = chicago_hour_weekday(t);
        assert!((h - 9.375).abs() < 0.01);
        assert_eq!(wd, 5); // 2026-08-01 is a Saturday
    }
}
