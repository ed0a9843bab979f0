//! Real exports through the whole pipeline (issue 8 and the reader items of issue 14): public
//! files that Touchstone did not write, under `tests/fixtures/public/` (each directory's README
//! names the repository, commit and licence of every file).

use std::path::Path;

use crate::common::{assert_success, repo_root, rows, scalar, touchstone};

fn fixture(path: &str) -> std::path::PathBuf {
    repo_root().join("tests/fixtures/public").join(path)
}

fn write_pipeline(dir: &Path, sources: &str) -> std::path::PathBuf {
    let file = dir.join("pipeline.yaml");
    let root = repo_root();
    let text = format!(
        "name: readers\nwarehouse: {}\nmodels: {}\nmetrics: {}\nsources:\n{sources}",
        dir.join("wh").display(),
        root.join("sql").display(),
        root.join("pipelines/metrics").display(),
    );
    std::fs::write(&file, text).expect("write pipeline");
    file
}

fn run(file: &Path) -> std::process::Output {
    touchstone()
        .args(["run"])
        .arg(file)
        .args(["--date", "2026-07-04", "--json"])
        .output()
        .expect("run touchstone")
}

async fn session(dir: &Path) -> datafusion::prelude::SessionContext {
    let ctx = datafusion::prelude::SessionContext::new();
    let url = touchstone_core::store::resolve_url(&dir.join("wh").to_string_lossy(), &repo_root())
        .expect("warehouse url");
    touchstone_load::Warehouse::open(&url)
        .expect("open warehouse")
        .register_all(&ctx)
        .await
        .expect("register tables");
    ctx
}

/// Class 4 on a real site that ships only `Master.csv` (a Grandstream UCM export,
/// `Davronkhuja/call24-get-recordings:data/Master.csv`, no licence stated; see
/// tests/fixtures/public/asterisk/README.md): calls an agent answered in the Queue application
/// come out answered, from CDR evidence, never all `abandoned_ivr`.
#[tokio::test(flavor = "multi_thread")]
async fn an_asterisk_site_without_queue_log_gets_outcomes_from_the_cdr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let columns = "[accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start, answer, end, duration, billsec, disposition, amaflags, uniqueid, userfield, ignore, ignore, ignore, ignore, ignore, ignore, ignore, ignore]";
    let file = write_pipeline(
        dir.path(),
        &format!(
            "  - name: ucm\n    type: asterisk_cdr\n    path: {}\n    timezone: Asia/Tashkent\n    columns: {columns}\n",
            fixture("asterisk/call24_grandstream_ucm_Master_head.csv").display()
        ),
    );
    let output = run(&file);
    assert_success(&output);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let ucm = &summary["sources"][0];
    assert_eq!(ucm["rows_read"], 304);
    assert_eq!(ucm["rows_staged"], 304);

    let ctx = session(dir.path()).await;
    // Every call rests on CDR evidence, and the Queue calls an agent took are answered.
    let evidence = scalar(
        &ctx,
        "select count(*) from fct_calls where outcome_evidence <> 'cdr'",
    )
    .await;
    assert_eq!(evidence, 0.0);
    let answered = scalar(
        &ctx,
        "select count(*) from fct_calls where queued and answered and outcome = 'answered'",
    )
    .await;
    assert!(answered >= 20.0, "answered calls: {answered}");
    let agents = rows(
        &ctx,
        "select distinct agent_id from fct_calls where answered and agent_id is not null order by 1",
    )
    .await;
    let text = arrow::util::pretty::pretty_format_batches(&agents)
        .expect("format")
        .to_string();
    for agent in ["173", "177", "194"] {
        assert!(text.contains(agent), "{text}");
    }
    // The call whose Queue row has no agent (src 973343409, NO ANSWER) was abandoned in the
    // queue, and nothing queued is counted as abandoned in the IVR.
    let queue_abandon = scalar(
        &ctx,
        "select count(*) from fct_calls where outcome = 'abandoned_queue' and queued",
    )
    .await;
    assert!(queue_abandon >= 1.0);
    let wrong = scalar(
        &ctx,
        "select count(*) from fct_calls where queued and outcome = 'abandoned_ivr'",
    )
    .await;
    assert_eq!(wrong, 0.0);
}

/// Issue 14 item 5: a renamed optional column is a warning naming it in the summary, and
/// `max_null_ratio` turns it into a failed source (exit 4) with the column and the ratio.
/// The file is a real org export (SFDC-Assets/data-cloud-workshop `data/Account.csv`,
/// BSD-3-Clause) with its `Phone` header renamed to `PhoneNumber`.
#[test]
fn a_renamed_optional_column_warns_and_max_null_ratio_fails_the_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    std::fs::create_dir_all(&raw).expect("mkdir");
    let original =
        std::fs::read_to_string(fixture("salesforce/sfdc_assets_dcw_Account.csv")).expect("read");
    let (header, body) = original.split_once('\n').expect("header line");
    assert!(header.split(',').any(|c| c == "Phone"), "{header}");
    let renamed = header
        .split(',')
        .map(|c| if c == "Phone" { "PhoneNumber" } else { c })
        .collect::<Vec<_>>()
        .join(",");
    std::fs::write(raw.join("Account.csv"), format!("{renamed}\n{body}")).expect("write");
    let source = format!(
        "  - name: sf\n    type: salesforce_csv\n    path: {}/\n",
        raw.display()
    );
    let output = run(&write_pipeline(dir.path(), &source));
    assert_success(&output);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let warnings = summary["sources"][0]["warnings"].to_string();
    // The renamed column is named; the 47 unread ones are listed (the first ten by name).
    assert!(
        warnings.contains("optional column 'Phone' is missing"),
        "{warnings}"
    );
    assert!(warnings.contains("not staged"), "{warnings}");

    let dir = tempfile::tempdir().expect("tempdir");
    let strict = format!("{source}    max_null_ratio:\n      stg_accounts.phone: 0.5\n");
    let output = run(&write_pipeline(dir.path(), &strict));
    assert_eq!(output.status.code(), Some(4), "{output:?}");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("stg_accounts.phone is null in"), "{err}");
    assert!(err.contains("max_null_ratio"), "{err}");
}
