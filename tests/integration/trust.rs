//! Hostile but fair use: statements that would write through `touchstone query`, concurrent
//! runs, storage failures, bad files.

use std::future::IntoFuture as _;
use std::sync::Arc;

use arrow::array::{Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use touchstone_load::{TableKind, Warehouse, WriteMode};

use crate::common::*;

/// A small warehouse with a staging table, a mart and a ledger row.
async fn small_warehouse(dir: &std::path::Path) -> String {
    let url = url::Url::from_directory_path(dir).expect("dir url");
    let wh = Warehouse::open(&url).expect("open");
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("n", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringArray::from(vec!["a", "b", "c"])),
            Arc::new(Int64Array::from(vec![1, 2, 3])),
        ],
    )
    .expect("batch");
    for (kind, name) in [
        (TableKind::Staging, "stg_accounts"),
        (TableKind::Staging, "stg_contacts"),
        (TableKind::Mart, "fct_calls"),
        (TableKind::System, "runs"),
    ] {
        wh.write_batches(
            kind,
            name,
            Arc::clone(&schema),
            vec![batch.clone()],
            WriteMode::Overwrite,
        )
        .await
        .expect("write");
    }
    dir.to_string_lossy().to_string()
}

fn query(warehouse: &str, sql: &str) -> std::process::Output {
    touchstone()
        .args(["query", "--warehouse", warehouse, "--format", "csv", sql])
        .output()
        .expect("run touchstone query")
}

/// Every kind of statement that writes a table, writes a file or reads outside the warehouse
/// is refused with a clear error before planning, and nothing changes.
#[tokio::test(flavor = "multi_thread")]
async fn query_cannot_write_or_reach_outside_the_warehouse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh_dir = dir.path().join("wh");
    std::fs::create_dir_all(&wh_dir).expect("mkdir");
    let wh = small_warehouse(&wh_dir).await;
    let outside = dir.path().join("outside.csv");
    let target = outside.to_string_lossy();
    let inside = wh_dir.join("staging/stg_accounts/part.csv");
    let inside = inside.to_string_lossy();
    let statements = [
        "insert into stg_accounts select * from stg_accounts".to_string(),
        "insert overwrite stg_contacts select * from stg_contacts where false".to_string(),
        "insert into _touchstone_runs values ('forged', 1)".to_string(),
        "update stg_accounts set n = 0".to_string(),
        "delete from stg_accounts".to_string(),
        "drop table stg_accounts".to_string(),
        "create table t as select * from stg_accounts".to_string(),
        "create view v as select * from stg_accounts".to_string(),
        "select * into t2 from stg_accounts".to_string(),
        format!("copy (select * from stg_accounts) to '{target}'"),
        format!("copy stg_accounts to '{inside}' stored as csv"),
        "create external table etc stored as csv location '/etc/passwd'".to_string(),
        "explain analyze insert into stg_accounts select * from stg_accounts".to_string(),
        "set datafusion.execution.batch_size = 1".to_string(),
        "select 1; drop table stg_accounts".to_string(),
        "select * from '/etc/passwd'".to_string(),
    ];
    for sql in &statements {
        let output = query(&wh, sql);
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{sql} was not refused: {err}"
        );
        assert!(err.starts_with("error: "), "{sql}: {err}");
        assert!(!err.contains("panicked"), "{sql}: {err}");
    }
    // Read-only statements still work, and every table is as it was.
    for sql in [
        "select count(*) as n from stg_accounts",
        "explain select * from fct_calls",
        "show tables",
        "with t as (select n from stg_contacts) select sum(n) from t",
    ] {
        assert_success(&query(&wh, sql));
    }
    for table in [
        "stg_accounts",
        "stg_contacts",
        "fct_calls",
        "_touchstone_runs",
    ] {
        let output = query(&wh, &format!("select count(*) as n from {table}"));
        assert_success(&output);
        assert_eq!(String::from_utf8_lossy(&output.stdout), "n\n3\n", "{table}");
    }
    assert!(!outside.exists(), "COPY wrote {target}");
    assert!(
        !std::path::Path::new(inside.as_ref()).exists(),
        "COPY wrote into a table"
    );
}

/// Row counts of every table of a warehouse (a session over its committed tables).
async fn table_counts(warehouse: &str) -> std::collections::BTreeMap<String, u64> {
    let url = touchstone_core::store::resolve_url(warehouse, &repo_root()).expect("url");
    let reader = touchstone_pipeline::WarehouseReader::open(&url).expect("open");
    let (ctx, tables) = reader.session().await.expect("session");
    let mut counts = std::collections::BTreeMap::new();
    for t in tables {
        let name = t.sql_name();
        if name == "_touchstone_runs" {
            continue;
        }
        let n = scalar(&ctx, &format!("select count(*) from {name}")).await;
        counts.insert(name, n as u64);
    }
    counts
}

/// Two runs started together on a new warehouse, 20 times: each either commits or fails with
/// a clear concurrent-write error, and no table ever holds a row twice.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_runs_on_a_new_warehouse_never_duplicate_rows() {
    use chrono::NaiveDate;
    use touchstone_pipeline::Run;

    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 150, 10, 11);
    let date = NaiveDate::from_ymd_opt(2026, 8, 10).expect("date");

    // A run alone gives each table's row count.
    let solo = dir.path().join("solo").to_string_lossy().to_string();
    let prepared = prepare(&pipeline_file(&dir.path().join("solo-p"), &raw, &solo)).await;
    Run::new(&prepared).with_date(date).await.expect("solo run");
    let expected = table_counts(&solo).await;

    let mut losers = 0;
    for trial in 0..20 {
        let wh = dir
            .path()
            .join(format!("wh{trial}"))
            .to_string_lossy()
            .to_string();
        let p = dir.path().join(format!("p{trial}"));
        std::fs::create_dir_all(&p).expect("mkdir");
        let prepared = prepare(&pipeline_file(&p, &raw, &wh)).await;
        let (a, b) = tokio::join!(
            Run::new(&prepared).with_date(date).into_future(),
            Run::new(&prepared).with_date(date).into_future()
        );
        for result in [a, b] {
            if let Err(e) = result {
                losers += 1;
                let message = e.to_string();
                // The pipeline lock stops the second run before it writes; the Delta commit
                // check stays as the last line of defence.
                assert!(
                    message.contains("is locked by run")
                        || message.contains("another writer committed"),
                    "trial {trial}: unclear failure: {message}"
                );
            }
        }
        let counts = table_counts(&wh).await;
        for (table, n) in &counts {
            assert_eq!(Some(n), expected.get(table), "trial {trial}: {table}");
        }
    }
    eprintln!("{losers} of 40 runs lost a race and said so");
}

/// A tmpfs mounted for one test (root only; `None` where mounting is not permitted), unmounted
/// when dropped.
pub(crate) struct Tmpfs(pub(crate) std::path::PathBuf);

impl Tmpfs {
    pub(crate) fn mount(dir: &std::path::Path, options: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// An unwritable warehouse (under /proc, a path through a file, a read-only and a full file
/// system) fails the run with exit 2 and one error line naming the path and the cause: no
/// panic, no backtrace.
#[test]
fn storage_failures_are_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 150, 10, 11);
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").expect("write file");
    let mut cases: Vec<(String, &str)> = vec![
        (
            "/proc/touchstone-warehouse".into(),
            "No such file or directory",
        ),
        (
            file.join("wh").to_string_lossy().into(),
            "is a file, not a directory",
        ),
        (file.to_string_lossy().into(), "is a file, not a directory"),
    ];
    let read_only = Tmpfs::mount(&dir.path().join("ro"), "ro,size=1m");
    let full = Tmpfs::mount(&dir.path().join("full"), "size=64k");
    match (&read_only, &full) {
        (Some(ro), Some(full)) => {
            cases.push((
                ro.0.join("wh").to_string_lossy().into(),
                "Read-only file system",
            ));
            cases.push((
                full.0.join("wh").to_string_lossy().into(),
                "No space left on device",
            ));
        }
        _ => eprintln!(
            "mounting a tmpfs is not permitted here: read-only and full-disk cases not run"
        ),
    }
    for (warehouse, cause) in &cases {
        let output = run_pipeline(&raw, warehouse, "2026-08-10", &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{warehouse}: {stderr}");
        for bad in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
            assert!(!stderr.contains(bad), "{warehouse}: {stderr}");
        }
        let error = stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("{warehouse}: no error line: {stderr}"));
        assert!(
            error.contains(cause),
            "{warehouse}: expected '{cause}' in {error}"
        );
        let shown = warehouse.trim_end_matches('/');
        assert!(
            error.contains(shown) || error.contains(&file.to_string_lossy().to_string()),
            "{warehouse}: path not named: {error}"
        );
    }
}

fn source<'a>(summary: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    summary["sources"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no source {name} in {summary}"))
}

/// A compressed day of web events is read through the source's `*.ndjson` pattern; a file the
/// pattern does not match is reported; a README in the Salesforce directory, a corrupt `.gz`
/// and a file missing a required column are each rejected as a file while the run goes on;
/// every file-level reject names its file.
#[test]
fn one_bad_file_never_sinks_a_run_and_nothing_is_lost_silently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    let generated = generate(&raw, 150, 10, 11);
    let web = raw.join("web");
    // The plain NDJSON days (the generator also writes gzipped days and batch payloads).
    let mut days: Vec<_> = std::fs::read_dir(&web)
        .expect("web dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .collect();
    days.sort();
    let events = generated.total("web");
    // Day 1 compressed in place, a stray file beside the days, a corrupt .gz day.
    let plain = std::fs::read(&days[0]).expect("day 1");
    let gz = days[0].with_extension("ndjson.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, &plain).expect("gzip");
    std::fs::write(&gz, encoder.finish().expect("gzip")).expect("write gz");
    std::fs::remove_file(&days[0]).expect("remove day 1");
    std::fs::write(web.join("notes.txt"), "{}").expect("stray file");
    std::fs::write(
        web.join("broken.ndjson.gz"),
        b"\x1f\x8b\x08\x00 not really gzip",
    )
    .expect("corrupt gz");
    std::fs::write(raw.join("salesforce/README.txt"), "Exported weekly.\n").expect("readme");
    // A Case export whose CreatedDate column was renamed.
    let case = raw.join("salesforce/Case.csv");
    let text = std::fs::read_to_string(&case).expect("Case.csv");
    std::fs::write(
        raw.join("salesforce/Case-2.csv"),
        text.replacen("\"CreatedDate\"", "\"Created\"", 1),
    )
    .expect("renamed");

    let wh = dir.path().join("wh").to_string_lossy().to_string();
    let output = run_pipeline(&raw, &wh, "2026-08-10", &["--json"]);
    assert_success(&output);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("summary");
    let web_source = source(&summary, "web");
    assert_eq!(web_source["rows_read"], events, "{web_source}");
    assert_eq!(web_source["files_rejected"], 1, "{web_source}");
    let ignored = web_source["files_ignored"].to_string();
    assert!(ignored.contains("notes.txt"), "{web_source}");
    let salesforce = source(&summary, "salesforce");
    assert_eq!(salesforce["files_rejected"], 2, "{salesforce}");
    for s in summary["sources"].as_array().expect("sources") {
        assert_eq!(
            s["rows_read"].as_u64(),
            Some(
                s["rows_staged"].as_u64().unwrap_or(0)
                    + s["rows_rejected"].as_u64().unwrap_or(0)
                    + s["duplicates"].as_u64().unwrap_or(0)
            ),
            "{s}"
        );
    }
    let rejects = touchstone()
        .args(["query", "--warehouse", &wh, "--format", "csv"])
        .arg("select _source_file, reason from rejects_salesforce where _source_line = 0 union all select _source_file, reason from rejects_web where _source_line = 0 order by 1")
        .output()
        .expect("query");
    assert_success(&rejects);
    let text = String::from_utf8_lossy(&rejects.stdout);
    for file in ["README.txt", "Case-2.csv", "broken.ndjson.gz"] {
        assert!(
            text.contains(file),
            "{file} not rejected as a file:\n{text}"
        );
    }
    assert!(text.contains("CreatedDate"), "{text}");
    // The ledger has the run's `running` row and its final row.
    let ledger = touchstone()
        .args(["query", "--warehouse", &wh, "--format", "csv"])
        .arg("select status from _touchstone_runs order by started_at, finished_at")
        .output()
        .expect("query");
    assert_eq!(
        String::from_utf8_lossy(&ledger.stdout),
        "status\nrunning\nsucceeded\n"
    );

    // With max_bad_files: 0 the same files fail the run (exit 4), and the source's staging is
    // left as it was.
    let strict = dir.path().join("strict");
    let pipeline = pipeline_file(&strict, &raw, &wh);
    let text = std::fs::read_to_string(&pipeline).expect("pipeline");
    std::fs::write(
        &pipeline,
        text.replace(
            "    type: salesforce_csv\n",
            "    type: salesforce_csv\n    max_bad_files: 0\n",
        ),
    )
    .expect("strict pipeline");
    let before = touchstone()
        .args([
            "query",
            "--warehouse",
            &wh,
            "--format",
            "csv",
            "select count(*) as n from stg_cases",
        ])
        .output()
        .expect("query");
    let output = touchstone()
        .args(["run", &pipeline.to_string_lossy(), "--date", "2026-08-10"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("max_bad_files"), "{stderr}");
    let after = touchstone()
        .args([
            "query",
            "--warehouse",
            &wh,
            "--format",
            "csv",
            "select count(*) as n from stg_cases",
        ])
        .output()
        .expect("query");
    assert_eq!(before.stdout, after.stdout);
}

/// The same exports run twice for the same date give the same tables: every key, count, text,
/// date, decile and segment exactly; floating-point values to 1e-12, relative, because SQL sums
/// and averages add up partitions in the order they finish and can differ in the last bits.
#[tokio::test(flavor = "multi_thread")]
async fn the_same_inputs_give_the_same_outputs() {
    use chrono::NaiveDate;
    use touchstone_core::clock::FixedClock;
    use touchstone_pipeline::Run;

    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 2_000, 45, 5);
    let date = NaiveDate::from_ymd_opt(2026, 9, 14).expect("date");
    let clock = Arc::new(FixedClock(
        chrono::DateTime::parse_from_rfc3339("2026-09-15T02:00:00Z")
            .expect("time")
            .to_utc(),
    ));
    let mut snapshots = Vec::new();
    for attempt in ["a", "b"] {
        let wh = dir
            .path()
            .join(format!("wh-{attempt}"))
            .to_string_lossy()
            .to_string();
        let prepared = prepare(&pipeline_file(&dir.path().join(attempt), &raw, &wh)).await;
        Run::new(&prepared)
            .with_date(date)
            .with_clock(clock.clone())
            .await
            .expect("run");
        snapshots.push(snapshot(&wh).await);
    }
    // Keys, counts, texts, dates, deciles and segments exactly; floats to 1e-12.
    assert_same_tables(&snapshots[0], &snapshots[1], 1e-12);
}
