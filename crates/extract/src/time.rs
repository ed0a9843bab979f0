//! Fast, strict parsing of the timestamp shapes the vendors write, to microseconds since the
//! Unix epoch (UTC), and the resolution of local wall-clock times (Asterisk CDR) to UTC.
//!
//! Hand-written rather than `strptime`-style: these run several times per row on multi-GB files.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

const MICROS_PER_SEC: i64 = 1_000_000;
const SECS_PER_DAY: i64 = 86_400;
/// `NaiveDate::num_days_from_ce` of 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// A byte cursor over a timestamp.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let slice = self.bytes.get(self.pos..self.pos + n)?;
        let mut v = 0u32;
        for &b in slice {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(b - b'0');
        }
        self.pos += n;
        Some(v)
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.bytes.get(self.pos) == Some(&b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn done(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// Days since 1970-01-01 of a valid calendar date.
fn epoch_days(y: u32, m: u32, d: u32) -> Option<i64> {
    let date = NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)?;
    Some(i64::from(date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE))
}

fn date_part(c: &mut Cursor<'_>) -> Option<i64> {
    let y = c.digits(4)?;
    if !c.eat(b'-') {
        return None;
    }
    let m = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let d = c.digits(2)?;
    epoch_days(y, m, d)
}

/// `HH:MM:SS[.fraction]` as microseconds since midnight (a leap second 60 rolls over).
fn time_part(c: &mut Cursor<'_>) -> Option<i64> {
    let h = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let mi = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let s = c.digits(2)?;
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut micros = 0i64;
    if c.eat(b'.') || c.eat(b',') {
        let mut n = 0;
        while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
            if n < 6 {
                micros = micros * 10 + i64::from(b - b'0');
            }
            n += 1;
            c.pos += 1;
        }
        if n == 0 || n > 9 {
            return None;
        }
        for _ in n..6 {
            micros *= 10;
        }
    }
    Some((i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s)) * MICROS_PER_SEC + micros)
}

/// `Z`, `+HH:MM`, `+HHMM` or `+HH` (and `-`), as seconds east of UTC.
fn offset_part(c: &mut Cursor<'_>) -> Option<i64> {
    if c.eat(b'Z') || c.eat(b'z') {
        return Some(0);
    }
    let sign = if c.eat(b'+') {
        1
    } else if c.eat(b'-') {
        -1
    } else {
        return None;
    };
    let h = c.digits(2)?;
    let m = if c.eat(b':') {
        c.digits(2)?
    } else {
        c.digits(2).unwrap_or(0)
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * i64::from(h * 3600 + m * 60))
}

/// Parses an instant with an explicit offset — RFC 3339 / ISO 8601 as the vendors write it:
/// `2026-08-01T14:22:31Z`, `2026-08-01T14:22:31.000Z`, `2026-08-01T14:22:31.123456Z`,
/// `2026-08-01T09:22:31-05:00`, `2026-08-01T14:22:31.000+0000`; a space may replace the `T`.
/// Returns microseconds since the epoch (fractions beyond µs are truncated).
pub(crate) fn parse_instant(s: &str) -> Option<i64> {
    let mut c = Cursor {
        bytes: s.trim().as_bytes(),
        pos: 0,
    };
    let days = date_part(&mut c)?;
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let time = time_part(&mut c)?;
    let offset = offset_part(&mut c)?;
    if !c.done() {
        return None;
    }
    Some(days * SECS_PER_DAY * MICROS_PER_SEC + time - offset * MICROS_PER_SEC)
}

/// Parses a date `YYYY-MM-DD` to days since the epoch.
pub(crate) fn parse_date(s: &str) -> Option<i32> {
    let mut c = Cursor {
        bytes: s.trim().as_bytes(),
        pos: 0,
    };
    let days = date_part(&mut c)?;
    if !c.done() {
        return None;
    }
    i32::try_from(days).ok()
}

/// Parses a wall-clock time without offset, `YYYY-MM-DD HH:MM:SS` (or with `T`).
pub(crate) fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    let mut c = Cursor {
        bytes: s.as_bytes(),
        pos: 0,
    };
    let days = date_part(&mut c)?;
    if !(c.eat(b' ') || c.eat(b'T')) {
        return None;
    }
    let time = time_part(&mut c)?;
    if !c.done() {
        return None;
    }
    let secs = days * SECS_PER_DAY + time.div_euclid(MICROS_PER_SEC);
    let nanos = u32::try_from(time.rem_euclid(MICROS_PER_SEC) * 1000).ok()?;
    chrono::DateTime::from_timestamp(secs, nanos).map(|dt| dt.naive_utc())
}

/// Parses Unix epoch seconds (`1722506062`, optionally with a fraction) to microseconds.
pub(crate) fn parse_epoch_secs(s: &str) -> Option<i64> {
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    let mut micros = 0i64;
    if let Some(frac) = frac {
        if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        for (i, b) in frac.bytes().enumerate().take(6) {
            micros += i64::from(b - b'0') * 10i64.pow(5 - u32::try_from(i).ok()?);
        }
    }
    secs.checked_mul(MICROS_PER_SEC)?.checked_add(micros)
}

/// How a datetime written without an offset was placed on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placed {
    /// It had an offset, or the wall-clock time happened exactly once.
    Exact,
    /// The wall-clock time falls in a daylight-saving gap (it never happened); read with the
    /// offset in force before the gap.
    Gap,
    /// The wall-clock time happened twice (clocks turned back); the earlier instant was taken.
    Overlap,
}

/// `H:MM[:SS[.fraction]]` with a one- or two-digit hour, as microseconds since midnight.
fn loose_time(c: &mut Cursor<'_>) -> Option<i64> {
    let h = match c.digits(2) {
        Some(h) => h,
        None => c.digits(1)?,
    };
    if !c.eat(b':') {
        return None;
    }
    let mi = c.digits(2)?;
    let mut micros = 0i64;
    let mut s = 0;
    if c.eat(b':') {
        s = c.digits(2)?;
        if c.eat(b'.') || c.eat(b',') {
            let mut n = 0;
            while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
                if n < 6 {
                    micros = micros * 10 + i64::from(b - b'0');
                }
                n += 1;
                c.pos += 1;
            }
            if n == 0 || n > 9 {
                return None;
            }
            for _ in n..6 {
                micros *= 10;
            }
        }
    }
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some((i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s)) * MICROS_PER_SEC + micros)
}

/// An optional zone after a time: `Z`, `+HH:MM`, `+HHMM`, `+HH`, ` UTC`, ` GMT` (seconds east
/// of UTC), `None` when the text ends there.
fn loose_zone(c: &mut Cursor<'_>) -> Option<Option<i64>> {
    if c.done() {
        return Some(None);
    }
    let rest = &c.bytes[c.pos..];
    let trimmed = rest.strip_prefix(b" ").unwrap_or(rest);
    if trimmed.eq_ignore_ascii_case(b"utc") || trimmed.eq_ignore_ascii_case(b"gmt") {
        c.pos = c.bytes.len();
        return Some(Some(0));
    }
    if rest.first() == Some(&b' ') {
        c.pos += 1;
    }
    let offset = offset_part(c)?;
    c.done().then_some(Some(offset))
}

/// `M/D/YYYY` (US month first, as SurveyMonkey writes it), as days since the epoch.
fn us_date(c: &mut Cursor<'_>) -> Option<i64> {
    let num = |c: &mut Cursor<'_>| c.digits(2).or_else(|| c.digits(1));
    let m = num(c)?;
    if !c.eat(b'/') {
        return None;
    }
    let d = num(c)?;
    if !c.eat(b'/') {
        return None;
    }
    let y = c.digits(4)?;
    epoch_days(y, m, d)
}

/// ` AM` / ` PM` after a US 12-hour time: the time on the 24-hour clock.
fn am_pm(c: &mut Cursor<'_>, time: i64) -> Option<i64> {
    let rest = &c.bytes[c.pos..];
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    let hour_us = 3600 * MICROS_PER_SEC;
    let hour = time / hour_us;
    if !(1..=12).contains(&hour) {
        return None;
    }
    let noon = if hour == 12 { 12 * hour_us } else { 0 };
    let adjusted = if rest.eq_ignore_ascii_case(b"am") {
        time - noon
    } else if rest.eq_ignore_ascii_case(b"pm") {
        time - noon + 12 * hour_us
    } else {
        return None;
    };
    c.pos = c.bytes.len();
    Some(adjusted)
}

/// Parses a datetime the way CSV exports write it, to microseconds since the epoch:
///
/// - ISO 8601 with `T` or a space, with or without seconds and fraction, with a zone (`Z`,
///   `+0000`, `+00:00`, ` UTC`) or without one: `2026-08-01T14:22:31.000Z`,
///   `2026-08-01T14:22:31.000+0000`, `2018-10-13 17:16:45`, `2020-12-30 3:15:52`,
///   `2024-01-15 10:23`;
/// - a date alone, `2026-08-01`, read as local midnight;
/// - US month-first dates, `11/12/2021 10:32:11 AM` or `11/12/2021`;
/// - Unix epoch seconds (10 digits) or milliseconds (13 digits).
///
/// A datetime without a zone is a wall-clock time in `tz`; [`Placed`] says whether it fell in
/// a daylight-saving gap or overlap.
pub(crate) fn parse_datetime(s: &str, tz: Tz) -> Option<(i64, Placed)> {
    let s = s.trim();
    let bytes = s.as_bytes();
    if !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit) {
        let n: i64 = s.parse().ok()?;
        return match bytes.len() {
            10 => Some((n.checked_mul(MICROS_PER_SEC)?, Placed::Exact)),
            13 => Some((n.checked_mul(1_000)?, Placed::Exact)),
            _ => None,
        };
    }
    let mut c = Cursor { bytes, pos: 0 };
    let (days, time, offset) = if bytes.get(4) == Some(&b'-') {
        let days = date_part(&mut c)?;
        if c.done() {
            (days, 0, None)
        } else {
            if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
                return None;
            }
            let time = loose_time(&mut c)?;
            let offset = loose_zone(&mut c)?;
            (days, time, offset)
        }
    } else {
        let days = us_date(&mut c)?;
        if c.done() {
            (days, 0, None)
        } else {
            if !c.eat(b' ') {
                return None;
            }
            let time = loose_time(&mut c)?;
            let time = if c.done() { time } else { am_pm(&mut c, time)? };
            (days, time, None)
        }
    };
    if !c.done() {
        return None;
    }
    let wall = days * SECS_PER_DAY * MICROS_PER_SEC + time;
    if let Some(offset) = offset {
        return Some((wall - offset * MICROS_PER_SEC, Placed::Exact));
    }
    if tz == chrono_tz::UTC {
        return Some((wall, Placed::Exact));
    }
    let naive = chrono::DateTime::from_timestamp_micros(wall)?.naive_utc();
    match resolve_local(tz, naive)? {
        Local::One(t) => {
            let placed = if tz.from_local_datetime(&naive).single().is_some() {
                Placed::Exact
            } else {
                Placed::Gap
            };
            Some((t, placed))
        }
        Local::Two(a, _) => Some((a, Placed::Overlap)),
    }
}

/// Parses a date the way CSV exports write it: `2026-08-01`, a datetime whose date part is
/// taken as written (`2018-12-19 00:00:00`, `2026-08-01T00:00:00.000Z`), or US `8/1/2026`.
pub(crate) fn parse_date_loose(s: &str) -> Option<i32> {
    let s = s.trim();
    let bytes = s.as_bytes();
    let mut c = Cursor { bytes, pos: 0 };
    let days = if bytes.get(4) == Some(&b'-') {
        date_part(&mut c)?
    } else {
        us_date(&mut c)?
    };
    if !c.done() {
        // A time must follow, and must itself be valid.
        parse_datetime(s, chrono_tz::UTC)?;
    }
    i32::try_from(days).ok()
}

/// A local wall-clock time resolved in a time zone: one instant, or two when the clocks were
/// turned back and the time happened twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Local {
    /// The time maps to one instant (µs since the epoch). A time that never happened (in the
    /// spring-forward gap) is read with the offset in force just before the gap, so
    /// `02:30` on the night the clocks go from 02:00 to 03:00 is `03:30` daylight time.
    One(i64),
    /// The time happened twice (fall back): the earlier and the later instant.
    Two(i64, i64),
}

impl Local {
    /// The instant closest to `target`; on a tie, the earlier.
    pub(crate) fn closest_to(self, target: i64) -> i64 {
        match self {
            Local::One(t) => t,
            Local::Two(a, b) => {
                if b.abs_diff(target) < a.abs_diff(target) {
                    b
                } else {
                    a
                }
            }
        }
    }

    /// The earlier instant.
    pub(crate) fn earliest(self) -> i64 {
        match self {
            Local::One(t) | Local::Two(t, _) => t,
        }
    }
}

/// Resolves a wall-clock time in `tz` to UTC instants.
pub(crate) fn resolve_local(tz: Tz, local: NaiveDateTime) -> Option<Local> {
    let micros = |dt: chrono::DateTime<Tz>| dt.timestamp_micros();
    match tz.from_local_datetime(&local) {
        chrono::MappedLocalTime::Single(dt) => Some(Local::One(micros(dt))),
        chrono::MappedLocalTime::Ambiguous(a, b) => {
            let (a, b) = (micros(a), micros(b));
            Some(Local::Two(a.min(b), a.max(b)))
        }
        chrono::MappedLocalTime::None => {
            // In a gap: use the offset in force a day before (no zone changes offset twice in a
            // day), i.e. the offset just before the transition.
            let before = local.checked_sub_signed(chrono::TimeDelta::days(1))?;
            let offset = tz.offset_from_utc_datetime(&before).fix().local_minus_utc();
            let utc = local.and_utc().timestamp_micros() - i64::from(offset) * MICROS_PER_SEC;
            Some(Local::One(utc))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> i64 {
        parse_instant(s).unwrap_or(i64::MIN)
    }

    #[test]
    fn instants_in_every_vendor_shape() {
        let base = 1_785_594_151_000_000; // 2026-08-01T14:22:31Z
        assert_eq!(utc("2026-08-01T14:22:31Z"), base);
        assert_eq!(utc("2026-08-01T14:22:31.000Z"), base);
        assert_eq!(utc("2026-08-01T14:22:31.000+0000"), base);
        assert_eq!(utc("2026-08-01T14:22:31+00:00"), base);
        assert_eq!(utc("2026-08-01 14:22:31Z"), base);
        assert_eq!(utc("2026-08-01T09:22:31-05:00"), base);
        assert_eq!(utc("2026-08-01T14:22:31.123456Z"), base + 123_456);
        assert_eq!(utc("2026-08-01T14:22:31.1234567Z"), base + 123_456);
        assert_eq!(utc("2026-08-01T14:22:31.5Z"), base + 500_000);
        for bad in [
            "",
            "2026-08-01",
            "2026-08-01T14:22:31",
            "2026-02-30T00:00:00Z",
            "2026-08-01T24:00:00Z",
            "2026-08-01T14:22:31.Z",
            "2026-08-01T14:22:31Zjunk",
            "yesterday",
            "2026-8-1T14:22:31Z",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_and_epochs() {
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_epoch_secs("1"), Some(1_000_000));
        assert_eq!(parse_epoch_secs("1.25"), Some(1_250_000));
        assert_eq!(parse_epoch_secs("-1"), None);
        assert_eq!(parse_epoch_secs("12a"), None);
        assert_eq!(parse_epoch_secs(""), None);
    }

    #[test]
    fn csv_datetimes_in_every_tool_shape() {
        let base = utc("2018-10-13T17:16:45Z");
        let at = |s: &str| parse_datetime(s, chrono_tz::UTC).map(|(t, _)| t);
        for form in [
            "2018-10-13 17:16:45",
            "2018-10-13T17:16:45",
            "2018-10-13T17:16:45.000Z",
            "2018-10-13T17:16:45.000+0000",
            "2018-10-13T17:16:45+00:00",
            "2018-10-13 17:16:45 UTC",
            "2018-10-13T12:16:45-05:00",
            "10/13/2018 5:16:45 PM",
            "1539451005",
            "1539451005000",
        ] {
            assert_eq!(at(form), Some(base), "{form}");
        }
        assert_eq!(
            at("2018-12-18 18:20:30.829"),
            Some(utc("2018-12-18T18:20:30.829Z"))
        );
        assert_eq!(at("2020-12-30 3:15:52"), Some(utc("2020-12-30T03:15:52Z")));
        assert_eq!(at("2024-01-15 10:23"), Some(utc("2024-01-15T10:23:00Z")));
        assert_eq!(at("2026-08-01"), Some(utc("2026-08-01T00:00:00Z")));
        assert_eq!(
            at("12/01/2021 12:05:00 AM"),
            Some(utc("2021-12-01T00:05:00Z"))
        );
        assert_eq!(
            at("12/01/2021 12:05:00 PM"),
            Some(utc("2021-12-01T12:05:00Z"))
        );
        for bad in [
            "",
            "2018-10-13 25:00:00",
            "2018-10-13 17:16:45 CEST",
            "13/13/2018",
            "2018-10-13 5:16:45 PM",
            "10/13/2018 13:16:45 PM",
            "20181013",
            "yesterday",
            "2018-02-30",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
        // Zone-less is local in the source's zone; an explicit zone wins.
        let chicago = chrono_tz::America::Chicago;
        assert_eq!(
            parse_datetime("2026-08-01 09:22:31", chicago),
            Some((utc("2026-08-01T14:22:31Z"), Placed::Exact))
        );
        assert_eq!(
            parse_datetime("2026-08-01T14:22:31Z", chicago),
            Some((utc("2026-08-01T14:22:31Z"), Placed::Exact))
        );
        assert_eq!(
            parse_datetime("2026-03-08 02:30:00", chicago),
            Some((utc("2026-03-08T08:30:00Z"), Placed::Gap))
        );
        assert_eq!(
            parse_datetime("2026-11-01 01:30:00", chicago),
            Some((utc("2026-11-01T06:30:00Z"), Placed::Overlap))
        );
        assert_eq!(parse_date_loose("2018-12-19 00:00:00"), Some(17884));
        assert_eq!(parse_date_loose("2018-12-19"), Some(17884));
        assert_eq!(parse_date_loose("12/19/2018"), Some(17884));
        assert_eq!(parse_date_loose("2018-12-19 xx"), None);
    }

    #[test]
    fn local_times_across_dst() {
        let tz: Tz = chrono_tz::America::Chicago;
        let at = |s: &str| parse_naive(s).and_then(|n| resolve_local(tz, n));
        // Summer: CDT, UTC-5.
        assert_eq!(
            at("2026-08-01 09:22:31"),
            Some(Local::One(utc("2026-08-01T14:22:31Z")))
        );
        // Spring forward 2026-03-08 02:00 CST -> 03:00 CDT: 02:30 does not exist, read as CST.
        assert_eq!(
            at("2026-03-08 02:30:00"),
            Some(Local::One(utc("2026-03-08T08:30:00Z")))
        );
        // Fall back 2026-11-01 02:00 CDT -> 01:00 CST: 01:30 happens twice.
        let two = at("2026-11-01 01:30:00");
        assert_eq!(
            two,
            Some(Local::Two(
                utc("2026-11-01T06:30:00Z"),
                utc("2026-11-01T07:30:00Z")
            ))
        );
        let two = two.unwrap_or(Local::One(0));
        assert!(matches!(two, Local::Two(..)));
        assert_eq!(two.earliest(), utc("2026-11-01T06:30:00Z"));
        assert_eq!(
            two.closest_to(utc("2026-11-01T07:29:00Z")),
            utc("2026-11-01T07:30:00Z")
        );
        assert_eq!(parse_naive("2026-11-01 1:30:00"), None);
    }
}
