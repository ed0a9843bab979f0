use std::sync::Arc;

use arrow::array::{Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use touchstone_core::config::MetricFile;
use touchstone_core::yaml;

use super::*;

/// Survey-like rows: day 1 has scores 5,4,2 (voice, voice, chat); day 2 has 1 (chat).
fn ctx() -> SessionContext {
    let day = 86_400_000_000i64;
    let schema = Arc::new(Schema::new(vec![
        Field::new("responded_at", timestamp_type(), false),
        Field::new("score", DataType::Float64, false),
        Field::new("channel", DataType::Utf8, true),
        Field::new("wait_secs", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(
                TimestampMicrosecondArray::from(vec![
                    day * 20_000 + 5,
                    day * 20_000 + 99,
                    day * 20_000 + 7,
                    day * 20_001,
                ])
                .with_timezone("UTC"),
            ),
            Arc::new(Float64Array::from(vec![5.0, 4.0, 2.0, 1.0])),
            Arc::new(StringArray::from(vec![
                Some("voice"),
                Some("voice"),
                Some("chat"),
                None,
            ])),
            Arc::new(Int64Array::from(vec![Some(10), Some(30), None, Some(50)])),
        ],
    )
    .unwrap();
    let ctx = SessionContext::new();
    ctx.register_table(
        "responses",
        Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap()),
    )
    .unwrap();
    ctx
}

fn metrics(text: &str) -> Vec<Metric> {
    let file: MetricFile = yaml::parse("m.yaml", text).unwrap();
    file.metrics
        .into_iter()
        .map(|def| Metric {
            file: "m.yaml".into(),
            group: "cx".into(),
            def,
            overlay: None,
        })
        .collect()
}

async fn rows(
    ctx: &SessionContext,
    text: &str,
) -> Vec<(String, String, Option<f64>, i64, Option<f64>, Option<f64>)> {
    let df = compile_all(ctx, &MetricLibrary::of(metrics(text)))
        .await
        .unwrap()
        .unwrap();
    let shape = |s: &Schema| {
        s.fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        shape(df.schema().as_arrow()),
        shape(&metric_values_schema())
    );
    let batches = df
        .sort_by(vec![
            Expr::Column(Column::from_name("period_start")),
            Expr::Column(Column::from_name("dimensions")),
        ])
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut out = Vec::new();
    for b in batches {
        let s = |i: usize| {
            b.column(i)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone()
        };
        let f = |i: usize| {
            b.column(i)
                .as_any()
                .downcast_ref::<Float64Array>()
                .unwrap()
                .clone()
        };
        let n = b
            .column(9)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .clone();
        let period = arrow::compute::cast(b.column(4), &DataType::Utf8).unwrap();
        let period = period
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .clone();
        for r in 0..b.num_rows() {
            let opt = |a: &Float64Array| (!a.is_null(r)).then(|| a.value(r));
            out.push((
                period.value(r).to_string(),
                s(5).value(r).to_string(),
                opt(&f(6)),
                n.value(r),
                opt(&f(10)),
                opt(&f(11)),
            ));
        }
    }
    out
}

const CSAT: &str = r#"
metrics:
  - name: csat_pct
    description: top-two-box share
    source: responses
    time: responded_at
    type: ratio
    numerator: { agg: count, filter: "score >= 4" }
    denominator: { agg: count }
    dimensions: [channel]
    scale: 100
    unit: percent
    target: { value: 50, direction: higher }
"#;

#[tokio::test]
async fn ratio_by_day_with_dimensions_and_total() {
    let got = rows(&ctx(), CSAT).await;
    let find = |p: &str, d: &str| got.iter().find(|r| r.0 == p && r.1 == d).cloned().unwrap();
    let total = find("2024-10-04", "");
    assert!((total.2.unwrap() - 200.0 / 3.0).abs() < 1e-9, "{got:?}");
    assert_eq!(total.3, 3);
    // Wilson interval for 2/3 at 95%.
    let (lo, hi) = (total.4.unwrap(), total.5.unwrap());
    assert!(
        (lo - 20.765).abs() < 0.01 && (hi - 93.851).abs() < 0.01,
        "{lo} {hi}"
    );
    assert_eq!(find("2024-10-04", "channel=voice").2, Some(100.0));
    assert_eq!(find("2024-10-04", "channel=chat").2, Some(0.0));
    assert_eq!(find("2024-10-05", "channel=(null)").2, Some(0.0));
    assert_eq!(got.len(), 5, "{got:?}");
}

#[tokio::test]
async fn simple_average_with_filter_and_normal_interval() {
    let text = r#"
metrics:
  - name: avg_wait
    description: mean wait
    source: responses
    time: responded_at
    grain: month
    type: simple
    filter: "channel IS NOT NULL"
    measure: { agg: avg, expr: wait_secs }
"#;
    let got = rows(&ctx(), text).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "2024-10-01");
    assert_eq!(got[0].2, Some(20.0));
    assert_eq!(got[0].3, 2);
    // sd of (10, 30) = 14.142; half width = 1.96 * 14.142 / sqrt(2) = 19.6
    assert!((got[0].4.unwrap() - 0.4).abs() < 0.01, "{got:?}");
}

#[tokio::test]
async fn nps_as_a_ratio_of_a_sum_to_a_count() {
    let text = r#"
metrics:
  - name: nps
    description: promoters minus detractors
    source: responses
    time: responded_at
    type: ratio
    numerator: { agg: sum, expr: "CASE WHEN score >= 5 THEN 1 WHEN score <= 2 THEN -1 ELSE 0 END" }
    denominator: { agg: count }
    scale: 100
"#;
    let got = rows(&ctx(), text).await;
    assert_eq!(got[0].2, Some(0.0), "{got:?}");
    assert_eq!(got[1].2, Some(-100.0), "{got:?}");
    assert!(got[0].4.is_some());
}

#[tokio::test]
async fn unknown_columns_and_sources_are_located_with_suggestions() {
    let text = r#"
metrics:
  - name: a
    description: d
    source: responses
    time: responded_att
    type: simple
    measure: { agg: avg, expr: scor }
  - name: b
    description: d
    source: responsess
    time: responded_at
    type: simple
    measure: { agg: count }
  - name: c
    description: d
    source: responses
    time: channel
    type: simple
    filter: "score >"
    measure: { agg: count }
"#;
    let err = compile_all(&ctx(), &MetricLibrary::of(metrics(text)))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("m.yaml:6:11: error[E3002]: metric 'a': time column names unknown column 'responded_att'"), "{text}");
    assert!(text.contains("did you mean 'responded_at'?"), "{text}");
    assert!(
        text.contains(
            "m.yaml:8:32: error[E3002]: metric 'a': expression names unknown column 'scor'"
        ),
        "{text}"
    );
    assert!(text.contains("did you mean 'score'?"), "{text}");
    assert!(
        text.contains("m.yaml:11:13: error[E3001]: metric 'b' reads 'responsess'"),
        "{text}"
    );
    assert!(text.contains("did you mean 'responses'?"), "{text}");
    assert!(
        text.contains("error[E3003]: metric 'c': filter 'score >' is not a valid SQL expression"),
        "{text}"
    );
    assert!(
        text.contains("error[E3003]: time column 'channel' of metric 'c' is Utf8"),
        "{text}"
    );
}

/// A library assembled from several files' text, as `load_metrics` does.
fn library(files: &[(&str, &str)]) -> (MetricLibrary, Vec<Diagnostic>) {
    let parsed = files
        .iter()
        .map(|(name, text)| {
            let file: MetricFile = yaml::parse(name, text).unwrap();
            (name.to_string(), "stem".to_string(), file)
        })
        .collect();
    touchstone_core::config::assemble(parsed)
}

async fn all_rows(
    ctx: &SessionContext,
    lib: &MetricLibrary,
) -> Vec<(String, String, String, String, Option<f64>)> {
    let df = compile_all(ctx, lib).await.unwrap().unwrap();
    let df = df
        .select(vec![
            Expr::Column(Column::from_name("metric")),
            Expr::Column(Column::from_name("group")),
            cast(
                Expr::Column(Column::from_name("period_start")),
                DataType::Utf8,
            ),
            Expr::Column(Column::from_name("dimensions")),
            Expr::Column(Column::from_name("value")),
        ])
        .unwrap();
    let mut out = Vec::new();
    for b in df.collect().await.unwrap() {
        let s = |i: usize| b.column(i).as_any().downcast_ref::<StringArray>().unwrap();
        let v = b.column(4).as_any().downcast_ref::<Float64Array>().unwrap();
        for r in 0..b.num_rows() {
            out.push((
                s(0).value(r).to_string(),
                s(1).value(r).to_string(),
                s(2).value(r).to_string(),
                s(3).value(r).to_string(),
                (!v.is_null(r)).then(|| v.value(r)),
            ));
        }
    }
    out.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    out
}

#[tokio::test]
async fn grains_week_start_quarter_null_handling_and_percentile() {
    // Rows: 2024-10-04 (a Friday) scores 5, 4, 2 waits 10, 30, NULL; 2024-10-05 score 1 wait 50.
    let text = r#"
metrics:
  - name: by_sunday_week
    description: d
    source: responses
    time: responded_at
    grain: week
    week_start: sunday
    type: simple
    measure: { agg: count }
  - name: by_iso_week
    description: d
    source: responses
    time: responded_at
    grain: week
    type: simple
    measure: { agg: count }
  - name: by_quarter
    description: d
    source: responses
    time: responded_at
    grain: quarter
    type: simple
    measure: { agg: sum, expr: wait_secs }
  - name: wait_zero
    description: d
    source: responses
    time: responded_at
    type: simple
    null_handling: zero
    measure: { agg: avg, expr: wait_secs }
  - name: wait_skip
    description: d
    source: responses
    time: responded_at
    type: simple
    measure: { agg: avg, expr: wait_secs }
  - name: p90_score
    description: d
    source: responses
    time: responded_at
    grain: month
    type: simple
    measure: { agg: percentile, expr: score, percentile: 1.0 }
"#;
    let rows = all_rows(&ctx(), &MetricLibrary::of(metrics(text))).await;
    let get = |m: &str, p: &str| {
        rows.iter()
            .find(|r| r.0 == m && r.2 == p && r.3.is_empty())
            .unwrap_or_else(|| panic!("{m} {p}: {rows:?}"))
            .4
    };
    // Friday 4 and Saturday 5 October 2024: the Sunday week starts 29 September; the ISO week
    // starts Monday 30 September.
    assert_eq!(get("by_sunday_week", "2024-09-29"), Some(4.0));
    assert_eq!(get("by_iso_week", "2024-09-30"), Some(4.0));
    assert_eq!(get("by_quarter", "2024-10-01"), Some(90.0));
    // NULL wait as 0: (10 + 30 + 0) / 3; skipped: (10 + 30) / 2.
    assert_eq!(get("wait_zero", "2024-10-04"), Some(40.0 / 3.0));
    assert_eq!(get("wait_skip", "2024-10-04"), Some(20.0));
    assert_eq!(get("p90_score", "2024-10-01"), Some(5.0));
}

#[tokio::test]
async fn group_overlays_filter_and_retarget_without_touching_the_shared_metric() {
    let (lib, problems) = library(&[(
        "m.yaml",
        r#"
groups:
  - { name: voice_only, filter: "channel = 'voice'" }
overlays:
  - metric: csat
    group: voice_only
    target: { value: 99 }
    filter: "wait_secs > 15"
metrics:
  - name: csat
    description: d
    source: responses
    time: responded_at
    type: ratio
    numerator: { agg: count, filter: "score >= 4" }
    denominator: { agg: count }
    scale: 100
    target: { value: 50, direction: higher }
"#,
    )]);
    assert!(problems.is_empty(), "{problems:?}");
    let rows = all_rows(&ctx(), &lib).await;
    let day: Vec<_> = rows.iter().filter(|r| r.2 == "2024-10-04").collect();
    // Shared: 2 of 3; voice with wait > 15: the one answer with wait 30 (score 4).
    assert_eq!(day.len(), 2, "{rows:?}");
    assert_eq!(day[0].1, "stem");
    assert!((day[0].4.unwrap() - 200.0 / 3.0).abs() < 1e-9, "{day:?}");
    assert_eq!((day[1].1.as_str(), day[1].4), ("voice_only", Some(100.0)));
}

#[test]
fn library_problems_are_all_reported_with_codes_places_and_suggestions() {
    let (_, problems) = library(&[
        (
            "a.yaml",
            r#"
north_star: csat_pctt
metrics:
  - name: csat_pct
    description: d
    source: responses
    time: responded_at
    type: ratio
    numerator: { agg: avg, expr: score }
    denominator: { agg: count }
  - name: loop_a
    description: d
    type: derived
    expr: "loop_b + 1"
  - name: loop_b
    description: d
    type: derived
    expr: "loop_a * 2"
  - name: idx
    description: d
    type: index
    factors:
      - { metric: csat_pcct, weight: 1, min: 0, max: 100 }
  - name: csat_pct
    description: d
    source: responses
    time: responded_at
    type: simple
    measure: { agg: count }
"#,
        ),
        (
            "b.yaml",
            r#"
groups:
  - { name: retail, filter: "channel = 'web'" }
overlays:
  - { metric: csat_pct, group: retail }
  - { metric: csat_pct, group: retail, target: { value: 90, direction: higher } }
  - { metric: nps, group: retail }
  - { metric: csat_pct, group: retial }
baselines:
  - name: b
    before: 2024-10-01..2024-10-03
    after: 2024-10-04..nope
    metrics: [csat_pct]
  - name: c
    before: 2024-10-01..2024-10-03
    after: 2024-10-04..2024-10-05
    metrics: [csat]
"#,
        ),
    ]);
    let text = problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let has = |needle: &str| assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    has("a.yaml:2:13: error[E3005]: north_star names unknown metric 'csat_pctt'");
    has("did you mean 'csat_pct'?");
    has("a.yaml:9:23: error[E3007]: ratio metric 'csat_pct' aggregates with 'avg'");
    has("error[E3006]: metric 'loop_a' depends on itself: loop_a -> loop_b -> loop_a");
    has("error[E3006]: metric 'loop_b' depends on itself");
    has("a.yaml:23:19: error[E3005]: metric 'idx' reads unknown metric 'csat_pcct'");
    has("a.yaml:24:11: error[E1007]: metric 'csat_pct' is defined twice");
    has("b.yaml:6:15: error[E3010]: a second overlay of 'csat_pct' for group 'retail'");
    has("b.yaml:7:15: error[E3005]: overlay names unknown metric 'nps'");
    has("b.yaml:8:32: error[E3005]: overlay names undeclared group 'retial'");
    has("did you mean 'retail'?");
    has("b.yaml:12:12: error[E1004]: '2024-10-04..nope' is not a date window");
    has("b.yaml:17:15: error[E3005]: baseline names unknown metric 'csat'");
}

#[tokio::test]
async fn schema_problems_of_new_types_are_located() {
    let text = r#"
metrics:
  - name: dist
    description: d
    source: responses
    time: responded_at
    type: distribution
    distribution: { expr: scor, positive: "score + 1", negative: "score <= 6" }
  - name: daily
    description: d
    source: responses
    time: responded_at
    type: simple
    measure: { agg: count }
  - name: monthly_of_daily
    description: d
    type: derived
    grain: month
    expr: "daily * 2"
  - name: conv
    description: d
    source: responses
    time: responded_at
    type: conversion
    conversion: { entity: chanel, from: "true", to: "true", window_days: 7 }
"#;
    let err = compile_all(&ctx(), &MetricLibrary::of(metrics(text)))
        .await
        .unwrap_err()
        .to_string();
    let has = |needle: &str| assert!(err.contains(needle), "missing {needle:?} in\n{err}");
    has(
        "m.yaml:8:27: error[E3002]: metric 'dist': distribution expression names unknown column 'scor'",
    );
    has(
        "m.yaml:8:43: error[E3003]: metric 'dist': condition 'score + 1' is Float64, not true/false",
    );
    has("error[E3004]: metric 'monthly_of_daily' is by month but its input 'daily' is by day");
    has(
        "m.yaml:25:27: error[E3002]: metric 'conv': conversion entity names unknown column 'chanel'",
    );
    has("did you mean 'channel'?");
}

#[tokio::test]
async fn grain_finer_than_an_input_is_e3008() {
    let text = r#"
metrics:
  - name: monthly
    description: d
    source: responses
    time: responded_at
    grain: month
    type: simple
    measure: { agg: count }
  - name: daily_of_monthly
    description: d
    type: derived
    expr: "monthly / 30"
"#;
    let err = compile_all(&ctx(), &MetricLibrary::of(metrics(text)))
        .await
        .unwrap_err();
    assert_eq!(err.codes(), [ErrorCode::GrainTooFine], "{err}");
    assert!(
        err.to_string().contains("help: set 'grain: month'"),
        "{err}"
    );
}

#[test]
fn definition_hash_ignores_labels_and_changes_with_the_formula() {
    let base = r#"
metrics:
  - name: csat
    description: d
    source: responses
    time: responded_at
    type: ratio
    numerator: { agg: count, filter: "score >= 4" }
    denominator: { agg: count }
"#;
    let hash = |text: &str| definition_hashes(&MetricLibrary::of(metrics(text)))[0].clone();
    let relabelled = base.replace("description: d", "description: other words\n    label: L");
    let changed = base.replace("score >= 4", "score >= 3");
    assert_eq!(hash(base), hash(&relabelled));
    assert_ne!(hash(base), hash(&changed));
    assert_eq!(hash(base).len(), 16);

    // A recorded version 1 with the old hash: the changed definition under version 1 fails...
    let lib = MetricLibrary::of(metrics(&changed));
    let old = &MetricLibrary::of(metrics(base));
    let recorded = vec![(
        "csat".to_string(),
        "cx".to_string(),
        1,
        hash(base),
        definition_text(&old.metrics[0], old),
    )];
    let problems = check_versions(&lib, &recorded);
    assert_eq!(problems.len(), 1);
    let text = problems[0].to_string();
    assert!(
        text.starts_with(
            "m.yaml:3:11: error[E3009]: metric 'csat' (group 'cx') changed but is still version 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("numerator: count(*) where score >= 3"),
        "{text}"
    );
    assert!(text.contains("help: set 'version: 2'"), "{text}");
    // ...and passes once bumped.
    let bumped = changed.replace("type: ratio", "type: ratio\n    version: 2");
    assert!(check_versions(&MetricLibrary::of(metrics(&bumped)), &recorded).is_empty());
}

#[tokio::test]
async fn context_dimensions_slice_any_metric_by_when_it_happened() {
    let text = r#"
metrics:
  - name: answers
    description: d
    source: responses
    time: responded_at
    type: simple
    measure: { agg: count }
    dimensions: [day_of_week, hour_of_day]
"#;
    let ctx = ctx();
    let df = compile_all(&ctx, &MetricLibrary::of(metrics(text)))
        .await
        .unwrap()
        .unwrap();
    let mut rows = Vec::new();
    for b in df.collect().await.unwrap() {
        let period = cast_to_strings(b.column_by_name("period_start").unwrap());
        let dims = cast_to_strings(b.column_by_name("dimensions").unwrap());
        let values = b
            .column_by_name("value")
            .unwrap()
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .clone();
        for r in 0..b.num_rows() {
            rows.push((period[r].clone(), dims[r].clone(), values.value(r)));
        }
    }
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
    // Day 20,000 after 1970-01-01 is Friday 2024-10-04; its three answers are in the first
    // hour, the fourth the next day (a Saturday) at midnight.
    assert_eq!(
        rows,
        [
            ("2024-10-04".into(), "".into(), 3.0),
            (
                "2024-10-04".into(),
                "day_of_week=friday;hour_of_day=0".into(),
                3.0
            ),
            ("2024-10-05".into(), "".into(), 1.0),
            (
                "2024-10-05".into(),
                "day_of_week=saturday;hour_of_day=0".into(),
                1.0
            ),
        ]
    );
}

#[tokio::test]
async fn a_calendar_dimension_without_a_calendar_model_is_a_located_error_naming_the_fix() {
    let text = r#"
metrics:
  - name: answers
    description: d
    source: responses
    time: responded_at
    type: simple
    measure: { agg: count }
    dimensions: [channel, calendar]
"#;
    let err = compile_all(&ctx(), &MetricLibrary::of(metrics(text)))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("m.yaml:9:27: error[E3002]: metric 'answers': dimension 'calendar' needs the model dim_calendar"),
        "{err}"
    );
    assert!(err.contains("add a source of type calendar"), "{err}");
}

fn cast_to_strings(a: &arrow::array::ArrayRef) -> Vec<String> {
    let s = arrow::compute::cast(a, &DataType::Utf8).unwrap();
    let s = s.as_any().downcast_ref::<StringArray>().unwrap();
    (0..s.len()).map(|i| s.value(i).to_string()).collect()
}
