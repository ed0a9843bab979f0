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
        })
        .collect()
}

async fn rows(
    ctx: &SessionContext,
    text: &str,
) -> Vec<(String, String, Option<f64>, i64, Option<f64>, Option<f64>)> {
    let df = compile_all(ctx, &metrics(text)).await.unwrap().unwrap();
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
    let err = compile_all(&ctx(), &metrics(text)).await.unwrap_err();
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
