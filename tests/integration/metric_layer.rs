//! The metric layer end to end on a tiny pipeline: a version bump (a changed definition under
//! the same version is refused and nothing is written; after the bump the old version's rows
//! stay as history), and `touchstone compare` / `touchstone metrics` on its warehouse.

use std::path::Path;

use chrono::NaiveDate;
use touchstone_pipeline::{ErrorKind, Prepared, Run};

use crate::common::*;

/// Survey answers on two days: day 1 scores 5, 4, 3, 1; day 2 scores 5, 3.
const ANSWERS: &str = "Response ID,Metric,Score,Respondent Type,Responded At
r1,csat,5,customer,2026-09-01T10:00:00Z
r2,csat,4,customer,2026-09-01T11:00:00Z
r3,csat,3,customer,2026-09-01T12:00:00Z
r4,csat,1,customer,2026-09-01T13:00:00Z
r5,csat,5,customer,2026-09-02T10:00:00Z
r6,csat,3,customer,2026-09-02T11:00:00Z
";

fn metric_yaml(threshold: u32, version: u32) -> String {
    format!(
        "group: cx
metrics:
  - name: csat
    description: Share of CSAT answers at or above the threshold.
    version: {version}
    source: stg_survey_responses
    time: responded_at
    type: ratio
    filter: \"instrument = 'csat'\"
    numerator: {{ agg: count, filter: \"score >= {threshold}\" }}
    denominator: {{ agg: count }}
    scale: 100
    unit: percent
"
    )
}

fn setup(dir: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("raw")).unwrap();
    std::fs::create_dir_all(dir.join("sql/marts")).unwrap();
    std::fs::create_dir_all(dir.join("metrics")).unwrap();
    std::fs::write(dir.join("raw/responses.csv"), ANSWERS).unwrap();
    std::fs::write(
        dir.join("sql/marts/answers.sql"),
        "select count(*) as n from stg_survey_responses",
    )
    .unwrap();
    let file = dir.join("p.yaml");
    std::fs::write(
        &file,
        format!(
            "name: versions
warehouse: {root}/wh
models: {root}/sql
metrics: {root}/metrics
sources:
  - name: surveys
    type: survey_csv
    path: {root}/raw/responses.csv
",
            root = dir.display()
        ),
    )
    .unwrap();
    file
}

async fn run(file: &Path) -> Result<(), touchstone_pipeline::PipelineError> {
    let prepared = Prepared::load(file, &repo_root()).await?;
    Run::new(&prepared)
        .with_date(NaiveDate::from_ymd_opt(2026, 9, 2).unwrap())
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_definition_needs_a_version_bump_and_keeps_the_old_history() {
    let dir = tempfile::tempdir().unwrap();
    let file = setup(dir.path());
    let warehouse = dir.path().join("wh").to_string_lossy().to_string();
    let values = "select version, cast(period_start as varchar) as d, value, definition_hash
                  from metric_values order by version, d";

    std::fs::write(dir.path().join("metrics/m.yaml"), metric_yaml(4, 1)).unwrap();
    run(&file).await.unwrap();
    let ctx = session_without_truth(&warehouse).await;
    let v1 = rows(&ctx, values).await;
    let first = arrow::util::pretty::pretty_format_batches(&v1)
        .unwrap()
        .to_string();
    // Day 1: 2 of 4 at >= 4; day 2: 1 of 2.
    assert_eq!(
        pairs(
            &ctx,
            "select cast(period_start as varchar), value from metric_values"
        )
        .await,
        [
            ("2026-09-01".to_string(), 50.0),
            ("2026-09-02".to_string(), 50.0)
        ]
    );

    // The threshold changes but the version does not: refused, nothing written.
    std::fs::write(dir.path().join("metrics/m.yaml"), metric_yaml(3, 1)).unwrap();
    let err = run(&file).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let text = err.to_string();
    assert!(
        text.contains("error[E3009]: metric 'csat' (group 'cx') changed but is still version 1"),
        "{text}"
    );
    assert!(
        text.contains("numerator: count(*) where score >= 3"),
        "{text}"
    );
    assert!(text.contains("help: set 'version: 2'"), "{text}");
    let ctx = session_without_truth(&warehouse).await;
    let after_refusal = arrow::util::pretty::pretty_format_batches(&rows(&ctx, values).await)
        .unwrap()
        .to_string();
    assert_eq!(after_refusal, first, "the refused run wrote nothing");

    // Bumped: version 2 is computed, version 1's rows stay as they were.
    std::fs::write(dir.path().join("metrics/m.yaml"), metric_yaml(3, 2)).unwrap();
    run(&file).await.unwrap();
    let ctx = session_without_truth(&warehouse).await;
    let got = pairs(
        &ctx,
        "select cast(version as varchar) || ' ' || cast(period_start as varchar), value from metric_values",
    )
    .await;
    assert_eq!(
        got,
        [
            ("1 2026-09-01".to_string(), 50.0),
            ("1 2026-09-02".to_string(), 50.0),
            ("2 2026-09-01".to_string(), 75.0),
            ("2 2026-09-02".to_string(), 100.0),
        ]
    );
    let hashes = scalar(
        &ctx,
        "select count(distinct definition_hash) from metric_values",
    )
    .await;
    assert_eq!(hashes, 2.0);
    let recorded = scalar(
        &ctx,
        "select count(*) from metric_definitions where metric = 'csat'",
    )
    .await;
    assert_eq!(recorded, 2.0, "both versions recorded");

    // A third run with nothing changed keeps both versions and changes nothing.
    run(&file).await.unwrap();
    let ctx = session_without_truth(&warehouse).await;
    assert_eq!(
        scalar(&ctx, "select count(*) from metric_values").await,
        4.0
    );

    // The command line on the same warehouse.
    let out = touchstone()
        .args([
            "compare",
            "--metric",
            "csat",
            "--before",
            "2026-09-01..2026-09-01",
        ])
        .args(["--after", "2026-09-02..2026-09-02", "--pipeline"])
        .arg(&file)
        .output()
        .unwrap();
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("csat (group cx, version 2), two_proportion_z"),
        "{text}"
    );
    assert!(
        text.contains("before 2026-09-01..2026-09-01: 75.0000 percent (n = 4)"),
        "{text}"
    );
    assert!(text.contains("not significant"), "{text}");
    let out = touchstone()
        .args(["metrics", "list", "--pipeline"])
        .arg(&file)
        .output()
        .unwrap();
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("csat") && text.contains("ratio"), "{text}");
    let out = touchstone()
        .args(["metrics", "explain", "csat", "--pipeline"])
        .arg(&file)
        .output()
        .unwrap();
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("version 2, hash "), "{text}");
    assert!(text.contains("reads table stg_survey_responses"), "{text}");
    assert!(
        text.contains("plan:") && text.contains("Aggregate"),
        "{text}"
    );
}

/// The default pipeline on 3,000 generated customers: the planted IVR menu redesign (day 45,
/// 2026-09-15: half the no-input / no-match chance) comes out significant in
/// metric_comparisons, the placebo baseline (no change on 2026-08-31) does not.
#[tokio::test(flavor = "multi_thread")]
async fn planted_ivr_redesign_is_significant_and_the_placebo_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    let warehouse = dir.path().join("wh").to_string_lossy().to_string();
    generate(&raw, 3_000, 75, 11);
    assert_success(&run_pipeline(&raw, &warehouse, "2026-10-14", &[]));
    let ctx = session_without_truth(&warehouse).await;
    let got = pairs(
        &ctx,
        "select baseline || '/' || cast(significant as varchar), p_value from metric_comparisons
         where metric = 'ivr_error_rate' order by 1",
    )
    .await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, "ivr_menu_redesign/true", "{got:?}");
    assert!(got[0].1 < 0.001, "{got:?}");
    assert_eq!(got[1].0, "placebo_2026_08_31/false", "{got:?}");
    let test = pairs(
        &ctx,
        "select test, rel_change from metric_comparisons
         where baseline = 'ivr_menu_redesign' and metric = 'ivr_error_rate'",
    )
    .await;
    assert_eq!(test.len(), 1);
    assert_eq!(test[0].0, "two_proportion_z");
    // Half the per-attempt error chance; a call meets up to two menus, with retries, so the
    // share of calls with an error drops by somewhat less than half.
    assert!(
        (-0.7..-0.25).contains(&test[0].1),
        "relative change {}",
        test[0].1
    );
}

/// A session over every committed table of `warehouse`.
async fn session_without_truth(warehouse: &str) -> datafusion::prelude::SessionContext {
    let ctx = datafusion::prelude::SessionContext::new();
    let url = touchstone_core::store::resolve_url(warehouse, &repo_root()).unwrap();
    touchstone_load::Warehouse::open(&url)
        .unwrap()
        .register_all(&ctx)
        .await
        .unwrap();
    ctx
}
