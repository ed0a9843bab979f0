//! The marketing calendar (YAML): US public holidays in the window, a three-day sale every four
//! weeks, and a product launch each month. It describes the period; the simulated behaviour
//! does not react to it.

use std::fmt::Write as _;

use crate::time::{civil_from_days, date_of_day, day_number, days_from_civil};
use crate::world::World;

use super::Part;

/// The `n`-th (1-based) `weekday` (0 = Monday) of a month, as a day number; `n = 0` is the last.
fn nth_weekday(y: i64, m: u32, weekday: i64, n: i64) -> i64 {
    let first = days_from_civil(y, m, 1);
    // 1970-01-01 was a Thursday (weekday 3).
    let wd = |d: i64| (d + 3).rem_euclid(7);
    if n == 0 {
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let last = days_from_civil(ny, nm, 1) - 1;
        return last - (wd(last) - weekday).rem_euclid(7);
    }
    first + (weekday - wd(first)).rem_euclid(7) + 7 * (n - 1)
}

fn holidays(year: i64) -> Vec<(&'static str, i64)> {
    vec![
        ("New Year's Day", days_from_civil(year, 1, 1)),
        ("Martin Luther King Jr. Day", nth_weekday(year, 1, 0, 3)),
        ("Memorial Day", nth_weekday(year, 5, 0, 0)),
        ("Independence Day", days_from_civil(year, 7, 4)),
        ("Labor Day", nth_weekday(year, 9, 0, 1)),
        ("Columbus Day", nth_weekday(year, 10, 0, 2)),
        ("Veterans Day", days_from_civil(year, 11, 11)),
        ("Thanksgiving Day", nth_weekday(year, 11, 3, 4)),
        ("Christmas Day", days_from_civil(year, 12, 25)),
    ]
}

fn yaml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The calendar of the window; `records` counts its events.
pub(crate) fn calendar(world: &World) -> Part {
    let first = day_number(world.start_us);
    let last = day_number(world.end_us - 1);
    let mut text = String::from(
        "# Marketing calendar: holidays, promotions and product launches (dates inclusive).\n",
    );
    let mut records = 0u64;
    text.push_str("holidays:\n");
    let (y0, _, _) = civil_from_days(first);
    let (y1, _, _) = civil_from_days(last);
    for year in y0..=y1 {
        for (name, day) in holidays(year) {
            if (first..=last).contains(&day) {
                let _ = writeln!(
                    text,
                    "  - name: {}\n    date: {}\n    region: US",
                    yaml_str(name),
                    date_of_day(day)
                );
                records += 1;
            }
        }
    }
    text.push_str("promotions:\n");
    let mut day = first + 10;
    let mut k = 1;
    while day <= last {
        let end = (day + 2).min(last);
        let _ = writeln!(
            text,
            "  - name: \"Flash sale {k}\"\n    start: {}\n    end: {}\n    description: \"15% off every category\"",
            date_of_day(day),
            date_of_day(end)
        );
        records += 1;
        day += 28;
        k += 1;
    }
    text.push_str("launches:\n");
    let categories = ["Widgets Pro", "Gadgets 2", "Gizmo Home", "Doohickey Lite"];
    let mut day = first + 20;
    let mut k = 0;
    while day <= last {
        let _ = writeln!(
            text,
            "  - id: launch-{}\n    name: {}\n    date: {}",
            k + 1,
            yaml_str(&format!("Launch: {}", categories[k % categories.len()])),
            date_of_day(day)
        );
        records += 1;
        day += 30;
        k += 1;
    }
    Part {
        data: text.into_bytes(),
        records,
        duplicates: 0,
    }
}
