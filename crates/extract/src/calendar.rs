//! A calendar of holidays, promotions and product launches (YAML) → `stg_calendar`,
//! `source_system = 'calendar'`.
//!
//! ```yaml
//! holidays:
//!   - name: Labor Day
//!     date: 2026-09-07
//!     region: US
//! promotions:
//!   - name: Fall sale
//!     start: 2026-09-20
//!     end: 2026-09-27
//!     description: 20% off every order
//! launches:
//!   - name: Widget Pro
//!     date: 2026-10-06
//! events:                    # any kind, named by `kind:`
//!   - kind: promotion
//!     name: Black Friday
//!     start: 2026-11-27
//!     end: 2026-11-30
//! ```
//!
//! Each list entry is one event, one row read, reported at the line its entry starts on. Keys
//! of an event: `name` (required), `date` for a one-day event or `start` and `end` (inclusive;
//! `end` defaults to `start`), `region`, `description`, `id` (default
//! `<kind>:<start>:<name>`), and in `events:` the `kind` (`holiday`, `promotion`, `launch`).
//! Dates are `YYYY-MM-DD`. An event with an unknown key (with a did-you-mean), no name, a bad
//! date or an end before its start is a reject naming the key; so is every entry of a list other
//! than the four above. A file that is not YAML, or whose top level is not a map of lists, is a
//! file error with its line and column. An empty file is 0 events.

use std::collections::BTreeMap;
use std::io::{BufRead, Read};

use serde_json::Value;
use serde_saphyr::Spanned;
use touchstone_core::StagingTable;

use crate::input::shown;
use crate::time::parse_date;
use crate::{Ctx, ExtractError};

/// Largest calendar file read (they are hand-written lists).
const MAX_BYTES: u64 = 16 * 1024 * 1024;

const LISTS: [(&str, Option<&str>); 4] = [
    ("holidays", Some("holiday")),
    ("promotions", Some("promotion")),
    ("launches", Some("launch")),
    ("events", None),
];
const KINDS: [&str; 3] = ["holiday", "promotion", "launch"];
const KEYS: [&str; 8] = [
    "id",
    "kind",
    "name",
    "date",
    "start",
    "end",
    "region",
    "description",
];

type Event = Spanned<Value>;

pub(crate) fn read(ctx: &mut Ctx<'_, '_>, input: &mut dyn BufRead) -> Result<(), ExtractError> {
    let file = ctx.lineage.file;
    let mut text = String::new();
    let mut bytes = Vec::new();
    input
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ctx.io(e))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(ExtractError::BadYaml {
            file: file.to_owned(),
            line: 1,
            column: 1,
            detail: format!(
                "the calendar is larger than {} MiB; expected a list of events",
                MAX_BYTES >> 20
            ),
        });
    }
    let (decoded, _) = crate::text::lossy(&bytes);
    text.push_str(&decoded);
    if text.trim().is_empty() {
        return Ok(());
    }
    let doc: BTreeMap<String, Option<Vec<Event>>> = touchstone_core::yaml::parse(file, &text)
        .map_err(|d| {
            let (line, column) = d.span.as_ref().map_or((1, 1), |s| (s.line, s.column));
            ExtractError::BadYaml {
                file: file.to_owned(),
                line,
                column,
                detail: format!(
                    "{}; expected a map of lists: holidays, promotions, launches, events{}",
                    d.message,
                    d.help.map(|h| format!(" ({h})")).unwrap_or_default()
                ),
            }
        })?;
    let mut events: Vec<(u64, &str, Option<&str>, &Event)> = Vec::new();
    for (list, entries) in &doc {
        for e in entries.iter().flatten() {
            let line = e.referenced.line().max(1);
            let kind = LISTS.iter().find(|(name, _)| name == list);
            match kind {
                Some((_, kind)) => events.push((line, list.as_str(), *kind, e)),
                None => events.push((line, list.as_str(), Some(""), e)),
            }
        }
    }
    events.sort_by_key(|(line, ..)| *line);
    let mut tb = ctx.builder(StagingTable::Calendar)?;
    for (line, list, kind, e) in events {
        ctx.read();
        let raw = serde_json::to_string(&e.value).unwrap_or_default();
        let outcome = if kind == Some("") {
            let names: Vec<&str> = LISTS.iter().map(|(n, _)| *n).collect();
            let hint = touchstone_core::diagnostic::did_you_mean(list, names.iter().copied())
                .map(|b| format!(" (did you mean '{b}'?)"))
                .unwrap_or_default();
            Err(format!(
                "in an unknown list '{list}'; expected holidays, promotions, launches or \
                 events{hint}"
            ))
        } else {
            match &e.value {
                Value::Object(map) => event(map, kind, &mut tb),
                other => Err(format!(
                    "a {} where an event was expected; expected a map with name and date",
                    crate::json::kind(other)
                )),
            }
        };
        ctx.settle(&mut tb, line, outcome, raw.as_bytes())?;
    }
    tb.flush(ctx.sink)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn event(
    e: &serde_json::Map<String, Value>,
    list_kind: Option<&str>,
    tb: &mut crate::table::TableBuilder,
) -> Result<(), String> {
    for key in e.keys() {
        if !KEYS.contains(&key.as_str()) || (key == "kind" && list_kind.is_some()) {
            let hint = touchstone_core::diagnostic::did_you_mean(key, KEYS)
                .filter(|b| *b != key)
                .map(|b| format!(" (did you mean '{b}'?)"))
                .unwrap_or_default();
            return Err(format!(
                "unknown key '{key}'; expected name, date or start/end, region, description, \
                 id{}{hint}",
                if list_kind.is_none() { ", kind" } else { "" }
            ));
        }
    }
    let get = |key: &str| -> Result<Option<String>, String> {
        match e.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => scalar(v)
                .map(|s| Some(s.trim().to_owned()).filter(|s| !s.is_empty()))
                .ok_or_else(|| format!("'{key}': expected text, got a list or map")),
        }
    };
    let kind = match list_kind {
        Some(k) => k.to_owned(),
        None => {
            let k = get("kind")?.ok_or("'kind': missing; expected holiday, promotion or launch")?;
            let k = k.to_lowercase();
            if !KINDS.contains(&k.as_str()) {
                return Err(format!(
                    "'kind': expected holiday, promotion or launch, got {}",
                    shown(&k)
                ));
            }
            k
        }
    };
    let name = get("name")?.ok_or("'name': missing; expected the event's name")?;
    let date = |key: &str| -> Result<Option<i32>, String> {
        match get(key)? {
            None => Ok(None),
            Some(v) => parse_date(&v).map(Some).ok_or_else(|| {
                format!(
                    "'{key}': expected a date like 2026-09-07, got {}",
                    shown(&v)
                )
            }),
        }
    };
    let (start, end) = match (date("date")?, date("start")?, date("end")?) {
        (Some(d), None, None) => (d, d),
        (Some(_), _, _) => {
            return Err("'date' and 'start'/'end' both given; expected one or the other".into());
        }
        (None, Some(s), e) => (s, e.unwrap_or(s)),
        (None, None, _) => {
            return Err("'date' or 'start': missing; expected when the event happens".into());
        }
    };
    if end < start {
        return Err(format!(
            "'end' is before 'start'; expected an end on or after {}",
            get("start")?.unwrap_or_default()
        ));
    }
    let start_text = get("start")?.or(get("date")?).unwrap_or_default();
    let id = get("id")?.unwrap_or_else(|| format!("{kind}:{start_text}:{name}"));
    tb.str("source_system", Some("calendar"));
    tb.str("event_id", Some(&id));
    tb.str("kind", Some(&kind));
    tb.str("name", Some(&name));
    tb.date("start_date", Some(start));
    tb.date("end_date", Some(end));
    tb.str("region", get("region")?.as_deref());
    tb.str("description", get("description")?.as_deref());
    Ok(())
}

#[cfg(test)]
mod tests {
    use touchstone_core::SourceFormat;

    use super::*;
    use crate::testutil::*;

    const CALENDAR: &str = r#"# Marketing calendar
holidays:
  - name: Labor Day
    date: 2026-09-07
    region: US
promotions:
  - name: Fall sale
    start: 2026-09-20
    end: 2026-09-27
    description: "20% off"
launches:
  - name: Widget Pro
    date: 2026-10-06
events:
  - kind: Promotion
    name: Black Friday
    start: 2026-11-27
    end: 2026-11-30
    id: bf-2026
"#;

    #[test]
    fn every_list_and_key_is_read() {
        let (stats, sink) = run_ok(SourceFormat::Calendar, CALENDAR.as_bytes());
        assert_eq!((stats.rows_read, stats.rows_staged), (4, 4));
        let t = sink.table(StagingTable::Calendar);
        assert_eq!(s(&t, "kind", 0).as_deref(), Some("holiday"));
        assert_eq!(
            s(&t, "event_id", 0).as_deref(),
            Some("holiday:2026-09-07:Labor Day")
        );
        assert_eq!(i(&t, "start_date", 0), i(&t, "end_date", 0));
        assert_eq!(s(&t, "region", 0).as_deref(), Some("US"));
        assert_eq!(i(&t, "_source_line", 0), Some(3));
        assert_eq!(s(&t, "kind", 1).as_deref(), Some("promotion"));
        assert_eq!(
            i(&t, "end_date", 1)
                .zip(i(&t, "start_date", 1))
                .map(|(e, s)| e - s),
            Some(7)
        );
        assert_eq!(s(&t, "description", 1).as_deref(), Some("20% off"));
        assert_eq!(s(&t, "kind", 2).as_deref(), Some("launch"));
        assert_eq!(s(&t, "event_id", 3).as_deref(), Some("bf-2026"));
        assert_eq!(s(&t, "kind", 3).as_deref(), Some("promotion"));
        assert_eq!(i(&t, "_source_line", 3), Some(15));
    }

    #[test]
    fn bad_events_are_rejects_at_their_line() {
        let input = r#"holidays:
  - name: ok
    date: 2026-09-07
  - name: typo
    dat: 2026-09-07
  - date: 2026-09-07
  - name: backwards
    start: 2026-09-07
    end: 2026-09-01
  - name: bad date
    date: 07/09/2026
  - just a string
holidayz:
  - name: lost?
    date: 2026-12-25
events:
  - name: no kind
    date: 2026-12-25
"#;
        let (stats, sink) = run_ok(SourceFormat::Calendar, input.as_bytes());
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (8, 1, 7)
        );
        let r: Vec<_> = sink
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(r[0].0, 4);
        assert!(
            r[0].1.contains("unknown key 'dat'") && r[0].1.contains("did you mean 'date'"),
            "{}",
            r[0].1
        );
        assert!(r[1].1.contains("'name': missing"));
        assert!(r[2].1.contains("'end' is before 'start'"));
        assert!(r[3].1.contains("'date': expected a date like 2026-09-07"));
        assert!(
            r[4].1.contains("a string where an event was expected"),
            "{}",
            r[4].1
        );
        assert!(
            r[5].1.contains("unknown list 'holidayz'")
                && r[5].1.contains("did you mean 'holidays'"),
            "{}",
            r[5].1
        );
        assert!(r[6].1.contains("'kind': missing"));
        assert_eq!(
            r.iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![4, 6, 7, 10, 12, 14, 17]
        );
    }

    #[test]
    fn not_yaml_is_a_file_error_with_its_place_and_empty_is_nothing() {
        let (res, _) = run(
            SourceFormat::Calendar,
            &crate::ReadOptions::default(),
            "calendar.yaml",
            b"holidays:\n  - name: [x\n",
        );
        let msg = res.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.starts_with("calendar.yaml:"), "{msg}");
        assert!(msg.contains("expected a map of lists"), "{msg}");
        let (res, _) = run(
            SourceFormat::Calendar,
            &crate::ReadOptions::default(),
            "calendar.yaml",
            b"- just\n- a list\n",
        );
        assert!(matches!(res, Err(ExtractError::BadYaml { .. })), "{res:?}");
        let (stats, _) = run_ok(SourceFormat::Calendar, b"\n# nothing yet\n");
        assert_eq!(stats.rows_read, 0);
    }
}
