//! Bad configuration gets a located error and writes nothing; bad rows are rejected with file,
//! line and reason while the run goes on, and no row is lost.

use std::path::Path;

use crate::common::*;

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A pipeline file in `dir` reading the default models and metrics unless told otherwise.
/// `touchstone validate FILE`.
fn validate(file: &Path) -> std::process::Output {
    touchstone()
        .arg("validate")
        .arg(file)
        .output()
        .expect("run")
}

fn write_pipeline(dir: &Path, body: &str) -> std::path::PathBuf {
    let root = repo_root();
    let text = body
        .replace("{SQL}", &root.join("sql").to_string_lossy())
        .replace(
            "{METRICS}",
            &root.join("pipelines/metrics").to_string_lossy(),
        );
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, text).expect("write pipeline");
    path
}

#[test]
fn the_default_pipeline_validates() {
    let output = touchstone()
        .args(["validate", "pipelines/customer_success.yaml"])
        .output()
        .expect("run");
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("valid — 14 sources"), "{stdout}");
}

#[test]
fn yaml_typos_are_located_with_a_suggestion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_pipeline(
        dir.path(),
        "name: p\nwarehouse: wh\nmodels: {SQL}\nmetrics: {METRICS}\nsources:\n  - name: web\n    type: segment_events\n    pathh: raw/*.ndjson\n",
    );
    let output = validate(&file);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    let want = format!(
        "{}:8:5: error[E1002]: unknown field `pathh`",
        file.display()
    );
    assert!(err.contains(&want), "{err}");
    assert!(err.contains("help: did you mean 'path'?"), "{err}");

    let file = write_pipeline(
        dir.path(),
        "name: p\nwarehouse: wh\nsources:\n  - name: web\n    type: segment_event\n    path: raw\n",
    );
    let output = validate(&file);
    let err = stderr(&output);
    assert!(
        err.contains(":5:11: error[E1005]: unknown variant `segment_event`"),
        "{err}"
    );
    assert!(
        err.contains("help: did you mean 'segment_events'?"),
        "{err}"
    );

    let file = write_pipeline(
        dir.path(),
        "name: p\nwarehouse: ${TOUCHSTONE_TEST_UNSET_VARIABLE}\nsources:\n  - name: web\n    type: segment_events\n    path: raw\n",
    );
    let output = validate(&file);
    let err = stderr(&output);
    assert!(
        err.contains(
            ":2:12: error[E1006]: environment variable 'TOUCHSTONE_TEST_UNSET_VARIABLE' is not set"
        ),
        "{err}"
    );
}

#[test]
fn unknown_metric_columns_and_bad_models_are_all_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = dir.path().join("metrics");
    std::fs::create_dir_all(&metrics).expect("mkdir");
    std::fs::write(
        metrics.join("chat.yaml"),
        "metrics:\n  - name: frt\n    description: d\n    source: fct_chats\n    time: started_at\n    type: simple\n    measure: { agg: avg, expr: frst_response_secs }\n",
    )
    .expect("write metric");
    let file = write_pipeline(
        dir.path(),
        &format!(
            "name: p\nwarehouse: wh\nmodels: {{SQL}}\nmetrics: {}\nsources:\n  - name: web\n    type: segment_events\n    path: raw\n",
            metrics.display()
        ),
    );
    let output = validate(&file);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("chat.yaml:7:32: error[E3002]: metric 'frt': expression names unknown column 'frst_response_secs'"), "{err}");
    assert!(
        err.contains("help: did you mean 'first_response_secs'?"),
        "{err}"
    );

    // A model that reads a misspelt column: located in the SQL file, with a suggestion.
    let sql = dir.path().join("sql");
    std::fs::create_dir_all(sql.join("marts")).expect("mkdir");
    std::fs::write(
        sql.join("marts/broken.sql"),
        "select contact_id,\n       emial\nfrom stg_contacts\n",
    )
    .expect("write");
    std::fs::write(sql.join("marts/orphan.sql"), "select * from stg_contact\n").expect("write");
    let file = write_pipeline(
        dir.path(),
        &format!(
            "name: p\nwarehouse: wh\nmodels: {}\nmetrics: {}\nsources:\n  - name: web\n    type: segment_events\n    path: raw\n",
            sql.display(),
            dir.path().join("none").display()
        ),
    );
    std::fs::create_dir_all(dir.path().join("none")).expect("mkdir");
    let output = validate(&file);
    let err = stderr(&output);
    assert!(
        err.contains("orphan.sql:1:15: error[E2002]: model 'orphan' reads table 'stg_contact'"),
        "{err}"
    );
    assert!(err.contains("did you mean 'stg_contacts'?"), "{err}");
    // Unknown tables stop before planning; fix it and the plan error shows.
    std::fs::remove_file(sql.join("marts/orphan.sql")).expect("rm");
    let output = validate(&file);
    let err = stderr(&output);
    assert!(
        err.contains("broken.sql:2:8: error[E2004]: model 'broken'"),
        "{err}"
    );
    assert!(err.contains("did you mean 'email'?"), "{err}");
}

#[test]
fn a_missing_source_path_stops_the_run_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warehouse = dir.path().join("wh");
    let output = run_pipeline(
        &dir.path().join("no-such-exports"),
        &warehouse.to_string_lossy(),
        "2026-08-01",
        &[],
    );
    // Exit 3: a source with no files (a scheduler can retry later, unlike bad config, 1).
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    assert!(
        err.contains("pipelines/customer_success.yaml:17:11: error[E1009]: source 'salesforce': no file matches"),
        "{err}"
    );
    assert!(err.contains("14 errors; nothing was written"), "{err}");
    assert!(!warehouse.exists(), "the warehouse must not be created");
}

/// Corrupt records in several formats: each is rejected with its file, line and reason, the
/// rest is staged, and read = staged + rejected for every source.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_rows_are_rejected_and_nothing_is_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 200, 10, 3);
    let append = |rel: &str, text: &str| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(raw.join(rel))
            .expect("open");
        f.write_all(text.as_bytes()).expect("append");
    };
    let cdr_lines = std::fs::read_to_string(raw.join("asterisk/Master.csv"))
        .expect("cdr")
        .lines()
        .count();
    append("asterisk/Master.csv", "\"\",\"3125550143\",\"7001\"\n");
    append(
        "asterisk/queue_log",
        "yesterday|1.2|billing|NONE|ENTERQUEUE||3125550143|1\n",
    );
    let survey_lines = std::fs::read_to_string(raw.join("surveys/responses.csv"))
        .expect("survey")
        .lines()
        .count();
    append(
        "surveys/responses.csv",
        "R_bad,Post-contact CSAT,csat,1,5,9,too high,customer,a@example.com,a@example.com,,,voice,X,,2026-08-02T10:00:00-05:00\r\n",
    );
    // A plain NDJSON day (the generator also writes gzipped days and /v1/batch payloads).
    let web_file = std::fs::read_dir(raw.join("web"))
        .expect("web")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".ndjson"))
        .min()
        .expect("an NDJSON web file");
    let web_name = web_file
        .file_name()
        .expect("name")
        .to_string_lossy()
        .to_string();
    append(
        &format!("web/{web_name}"),
        "{\"type\": \"page\", \"timestamp\": \n",
    );

    let warehouse = dir.path().join("wh").to_string_lossy().to_string();
    let output = run_pipeline(&raw, &warehouse, "2026-08-10", &["--json"]);
    assert_success(&output);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let mut rejected_by_source = std::collections::BTreeMap::new();
    for s in summary["sources"].as_array().expect("sources") {
        let (read, staged, rejected, duplicates) = (
            s["rows_read"].as_u64().expect("read"),
            s["rows_staged"].as_u64().expect("staged"),
            s["rows_rejected"].as_u64().expect("rejected"),
            s["duplicates"].as_u64().unwrap_or(0),
        );
        assert_eq!(read, staged + rejected + duplicates, "{s}");
        rejected_by_source.insert(s["name"].as_str().expect("name").to_string(), rejected);
    }
    for source in ["asterisk_cdr", "asterisk_queue_log", "surveys", "web"] {
        assert_eq!(
            rejected_by_source[source], 1,
            "{source}: {rejected_by_source:?}"
        );
    }
    let ctx = session(&warehouse, &raw).await;
    let cdr = rows(
        &ctx,
        "select _source_line, reason from rejects_asterisk_cdr",
    )
    .await;
    let text = arrow::util::pretty::pretty_format_batches(&cdr)
        .expect("format")
        .to_string();
    assert!(
        text.contains(&format!("| {} ", cdr_lines + 1)),
        "the CDR reject names its line\n{text}"
    );
    assert!(
        text.contains("found 3") || text.contains(": 3 fields"),
        "the reason says what was wrong\n{text}"
    );
    let survey = rows(
        &ctx,
        "select _source_file, _source_line, reason, raw from rejects_surveys",
    )
    .await;
    let text = arrow::util::pretty::pretty_format_batches(&survey)
        .expect("format")
        .to_string();
    assert!(text.contains("responses.csv"), "{text}");
    assert!(text.contains(&format!("| {} ", survey_lines + 1)), "{text}");
    assert!(text.contains("R_bad"), "the raw record is kept\n{text}");
    let web = scalar(
        &ctx,
        &format!("select count(*) from rejects_web where _source_file like '%{web_name}'"),
    )
    .await;
    assert_eq!(web, 1.0);
}

/// A run that fails after it started writing (here: a model that cannot cast a column at run
/// time) exits 2 with the model named, leaves every committed table readable, and is recorded
/// in the ledger as failed with the error.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_run_is_recorded_in_the_ledger() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 100, 7, 9);
    let sql = dir.path().join("sql");
    for layer in ["intermediate", "marts"] {
        std::fs::create_dir_all(sql.join(layer)).expect("mkdir");
        for entry in std::fs::read_dir(repo_root().join("sql").join(layer)).expect("sql dir") {
            let path = entry.expect("entry").path();
            std::fs::copy(&path, sql.join(layer).join(path.file_name().expect("name")))
                .expect("copy");
        }
    }
    std::fs::write(
        sql.join("marts/zz_boom.sql"),
        "-- Fails at run time.\nselect cast(first_name as int) as n from stg_contacts\n",
    )
    .expect("write");
    let pipeline = std::fs::read_to_string(repo_root().join("pipelines/customer_success.yaml"))
        .expect("pipeline")
        .replace("models: sql", &format!("models: {}", sql.display()))
        .replace(
            "metrics: pipelines/metrics",
            &format!(
                "metrics: {}",
                repo_root().join("pipelines/metrics").display()
            ),
        );
    let file = dir.path().join("pipeline.yaml");
    std::fs::write(&file, pipeline).expect("write pipeline");
    let warehouse = dir.path().join("wh").to_string_lossy().to_string();
    let output = touchstone()
        .arg("run")
        .arg(&file)
        .args(["--date", "2026-08-07"])
        .env("TOUCHSTONE_RAW", &raw)
        .env("TOUCHSTONE_WAREHOUSE", &warehouse)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("marts/zz_boom"), "{err}");

    let ctx = session(&warehouse, &raw).await;
    // The failed run's ledger row names every table version it committed before failing: each
    // staging table's current version is the one the failed run reports.
    let detail = rows(
        &ctx,
        "select detail from _touchstone_runs where status = 'failed'",
    )
    .await;
    let detail =
        arrow::util::display::array_value_to_string(detail[0].column(0), 0).expect("detail");
    let detail: serde_json::Value = serde_json::from_str(&detail).expect("detail JSON");
    let reported = detail["summary"]["tables"]
        .as_array()
        .expect("tables")
        .clone();
    let url = touchstone_core::store::resolve_url(&warehouse, &repo_root()).expect("url");
    let wh = touchstone_load::Warehouse::open(&url).expect("open");
    for entry in wh.list_tables().await.expect("tables") {
        if entry.kind != touchstone_load::TableKind::Staging {
            continue;
        }
        let table = wh
            .open_table(entry.kind, &entry.name)
            .await
            .expect("open")
            .expect("table");
        let version = table.version().expect("version") as u64;
        let name = format!("staging/{}", entry.name);
        let by_run = reported
            .iter()
            .find(|t| t["table"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} not in the failed run's detail: {detail}"));
        assert_eq!(by_run["version"], version, "{name}");
    }
    let failed = rows(&ctx, "select status, detail from _touchstone_runs").await;
    let text = arrow::util::pretty::pretty_format_batches(&failed)
        .expect("format")
        .to_string();
    assert!(
        text.contains("failed") && text.contains("zz_boom"),
        "{text}"
    );
    // What was committed before the failure is intact and readable.
    let contacts = scalar(&ctx, "select count(*) from stg_contacts").await;
    assert!(contacts > 0.0);
}

/// `--log-format json` writes one JSON object per line on stderr, with the run's events.
#[test]
fn structured_logs_are_json_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 60, 5, 4);
    let output = touchstone()
        .args([
            "--log-format",
            "json",
            "run",
            "pipelines/customer_success.yaml",
            "--date",
            "2026-08-05",
        ])
        .env("TOUCHSTONE_RAW", &raw)
        .env("TOUCHSTONE_WAREHOUSE", dir.path().join("wh"))
        .output()
        .expect("run");
    assert_success(&output);
    let mut messages = std::collections::BTreeSet::new();
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            event["timestamp"].is_string() && event["level"].is_string(),
            "{line}"
        );
        if let Some(m) = event["fields"]["message"].as_str() {
            messages.insert(m.to_string());
        }
    }
    for expected in ["run started", "file read", "mart committed", "run finished"] {
        assert!(
            messages.contains(expected),
            "missing '{expected}' in {messages:?}"
        );
    }
}
