//! Incremental runs: a daily run reads only new and changed files, and the warehouse it
//! leaves equals a full refresh of the same files.

use std::path::Path;

use serde_json::Value;

use crate::common::*;

fn source<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["sources"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no source {name} in {summary}"))
}

/// Moves the files of `day` (daily exports: web events, chat days, CTR hours) out of `raw`
/// into `aside`, keeping their relative paths; returns how many.
fn set_day_aside(raw: &Path, aside: &Path, day: &str) -> usize {
    let mut moved = 0;
    let mut stack = vec![raw.to_path_buf()];
    let compact = day.replace('-', "/");
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            let rel = path
                .strip_prefix(raw)
                .expect("relative")
                .to_string_lossy()
                .to_string();
            if rel.starts_with("truth") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if rel.contains(day) || rel.contains(&compact) {
                let to = aside.join(&rel);
                std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
                std::fs::rename(&path, &to).expect("move");
                moved += 1;
            }
        }
    }
    moved
}

fn run_json(raw: &Path, warehouse: &str, extra: &[&str]) -> Value {
    let output = run_pipeline(raw, warehouse, "2026-08-03", &[&["--json"], extra].concat());
    assert_success(&output);
    serde_json::from_slice(&output.stdout).expect("summary")
}

/// Day 1's exports, run; day 2's added and one cumulative export changed, run: only day 2's
/// files and the changed one are read, and every staging table and mart equals a full refresh
/// of the same files. `--full-refresh` reads everything again.
#[tokio::test(flavor = "multi_thread")]
async fn a_daily_run_reads_only_new_and_changed_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 300, 3, 21);
    let aside = dir.path().join("aside");
    // Day 3's files, and the next day's (events of day 3's evening delivered after midnight
    // UTC), which in real life arrive after day 3's.
    let day3 =
        set_day_aside(&raw, &aside, "2026-08-03") + set_day_aside(&raw, &aside, "2026-08-04");
    assert!(
        day3 >= 3,
        "the generator writes daily files ({day3} set aside)"
    );

    let wh = dir.path().join("wh").to_string_lossy().to_string();
    let first = run_json(&raw, &wh, &[]);
    let files_first: u64 = first["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| s["files"].as_u64().unwrap_or(0))
        .sum();

    // Day 3 arrives; the survey export is re-exported with one more answer at the end.
    let back =
        set_day_aside(&aside, &raw, "2026-08-03") + set_day_aside(&aside, &raw, "2026-08-04");
    assert_eq!(back, day3);
    let responses = raw.join("surveys/responses.csv");
    let text = std::fs::read_to_string(&responses).expect("responses");
    let last = text.lines().last().expect("a response").to_string();
    let mut fields: Vec<String> = last.split(',').map(str::to_string).collect();
    fields[0] = format!("{}-again", fields[0].trim_matches('"'));
    std::fs::write(&responses, format!("{text}{}\n", fields.join(","))).expect("append");

    // Firehose retries: a copy of a day-2 CTR file arrives with day 3. Its records were staged
    // by the first run; the second run, which reads only new files, must count them as
    // duplicates, as a full refresh does, not stage them again.
    let day2_ctr = std::fs::read_dir(raw.join("connect/ctr/2026/08/02"))
        .expect("day-2 CTR files")
        .map(|e| e.expect("entry").path())
        .min()
        .expect("a day-2 CTR file");
    let copied = ctr_records(&day2_ctr);
    assert!(copied > 0);
    let day3_dir = raw.join("connect/ctr/2026/08/03");
    std::fs::create_dir_all(&day3_dir).expect("day-3 dir");
    std::fs::copy(&day2_ctr, day3_dir.join("zz-redelivered.json")).expect("copy");

    let second = run_json(&raw, &wh, &[]);
    let ctr = source(&second, "connect_ctr");
    assert!(
        ctr["duplicates"].as_u64().unwrap_or(0) >= copied,
        "{copied} redelivered records are duplicates: {ctr}"
    );
    let ctx = session(&wh, &raw).await;
    let restaged = scalar(
        &ctx,
        "select count(*) from stg_calls where _source_file like '%zz-redelivered%'",
    )
    .await;
    assert_eq!(restaged, 0.0, "a redelivered CTR was staged again");
    let files_second: u64 = second["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| s["files"].as_u64().unwrap_or(0))
        .sum();
    let unchanged: u64 = second["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| s["files_unchanged"].as_u64().unwrap_or(0))
        .sum();
    // Day 3's files, the copy and the changed survey export.
    assert_eq!(files_second, day3 as u64 + 2, "{second}");
    assert_eq!(
        unchanged + files_second,
        files_first + day3 as u64 + 1,
        "{second}"
    );
    assert_eq!(source(&second, "surveys")["files"], 1);
    assert_eq!(source(&second, "salesforce")["files"], 0);
    assert_eq!(source(&second, "salesforce")["files_unchanged"], 5);

    // A full refresh of the same files into another warehouse gives the same tables (but for
    // the identity merge log and previous keys, which record this warehouse's history).
    let fresh = dir.path().join("fresh").to_string_lossy().to_string();
    run_json(&raw, &fresh, &[]);
    assert_same_tables(
        &without_history(snapshot(&wh).await),
        &without_history(snapshot(&fresh).await),
        1e-12,
    );

    // A third run with nothing new reads nothing; --full-refresh reads everything.
    let third = run_json(&raw, &wh, &[]);
    let files_third: u64 = third["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| s["files"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(files_third, 0, "{third}");
    let full = run_json(&raw, &wh, &["--full-refresh"]);
    let files_full: u64 = full["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| s["files"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(files_full, files_first + day3 as u64 + 1);
    assert_same_tables(
        &without_history(snapshot(&wh).await),
        &without_history(snapshot(&fresh).await),
        1e-12,
    );
}

/// Records in a Firehose CTR file: JSON values back to back, an array counting its elements.
fn ctr_records(path: &Path) -> u64 {
    let bytes = std::fs::read(path).expect("read");
    serde_json::Deserializer::from_slice(&bytes)
        .into_iter::<Value>()
        .map(|v| match v.expect("json") {
            Value::Array(items) => items.len() as u64,
            _ => 1,
        })
        .sum()
}
