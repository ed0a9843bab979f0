use arrow::array::Float64Array;
use datafusion::datasource::MemTable;

use super::*;
use crate::{SessionOptions, new_session};

const CDNOW_SUMMARY: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/cdnow/cdnow_customers_summary.csv"
));

fn session(settings: ValueSettings) -> SessionContext {
    new_session(&SessionOptions {
        value: settings,
        ..SessionOptions::default()
    })
    .unwrap()
}

fn register(ctx: &SessionContext, name: &str, batch: RecordBatch) {
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
    ctx.register_table(name, Arc::new(table)).unwrap();
}

/// The CDNOW summary (weeks) as an RFM table, plus one invalid row (recency > T).
fn cdnow_rfm() -> RecordBatch {
    let (mut key, mut x, mut tx, mut t, mut m) = (vec![], vec![], vec![], vec![], vec![]);
    for line in CDNOW_SUMMARY.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        key.push(f[0].to_string());
        x.push(f[1].parse::<f64>().unwrap());
        tx.push(f[2].parse::<f64>().unwrap());
        t.push(f[3].parse::<f64>().unwrap());
        m.push(if x.last() > Some(&0.0) {
            25.0 + (key.len() % 7) as f64
        } else {
            0.0
        });
    }
    key.push("broken".into());
    x.push(1.0);
    tx.push(50.0);
    t.push(10.0);
    m.push(10.0);
    let schema = Arc::new(Schema::new(vec![
        Field::new("customer_key", DataType::Utf8, false),
        Field::new("frequency", DataType::Int64, false),
        Field::new("recency", DataType::Float64, false),
        Field::new("T", DataType::Float64, false),
        Field::new("monetary_value", DataType::Float64, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(key)),
            Arc::new(Int64Array::from(
                x.iter().map(|v| *v as i64).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(tx)),
            Arc::new(Float64Array::from(t)),
            Arc::new(Float64Array::from(m)),
        ],
    )
    .unwrap()
}

async fn collect(ctx: &SessionContext, sql: &str) -> RecordBatch {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    concat_batches(&batches[0].schema(), &batches).unwrap()
}

fn f64_col(b: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    f64s(b, name).unwrap()
}

fn str_col(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    strings(b, name).unwrap()
}

#[tokio::test]
async fn value_model_fits_reproduce_cdnow_and_customer_value_explains_nulls() {
    let ctx = session(ValueSettings::default());
    register(&ctx, "rfm", cdnow_rfm());
    let fits = collect(&ctx, "select parameter, estimate from value_model_fits('rfm') where model = 'bgnbd' order by parameter").await;
    let est = f64_col(&fits, "estimate");
    let round = |v: Option<f64>| (v.unwrap() * 1000.0).round() / 1000.0;
    // a, alpha, b, r: the published BG/NBD estimates (the invalid row is left out of the fit).
    assert_eq!(
        [round(est[0]), round(est[1]), round(est[2]), round(est[3])],
        [0.793, 4.414, 2.426, 0.243]
    );

    let values = collect(&ctx, "select * from customer_value_model('rfm')").await;
    assert_eq!(values.num_rows(), 2358);
    let keys = str_col(&values, "customer_key");
    let p_alive = f64_col(&values, "p_alive");
    let clv = f64_col(&values, "clv");
    let notes = str_col(&values, "value_note");
    let broken = keys
        .iter()
        .position(|k| k.as_deref() == Some("broken"))
        .unwrap();
    assert_eq!(p_alive[broken], None);
    assert!(
        notes[broken]
            .as_deref()
            .unwrap_or_default()
            .contains("recency 50 must be between 0 and T (10)")
    );
    for i in (0..values.num_rows()).filter(|&i| i != broken) {
        let p = p_alive[i].unwrap();
        assert!((0.0..=1.0).contains(&p));
        assert!(clv[i].unwrap() >= 0.0, "row {i}");
        // Every null has an explanation; rows without repeat purchases say where spend came from.
        if f64_col(&values, "frequency")[i] == Some(0.0) {
            assert!(
                notes[i]
                    .as_deref()
                    .unwrap_or_default()
                    .contains("population mean")
            );
        }
    }
    // Customer 1 of CDNOW (x=2, t_x=30.43, T=38.86): P(alive) = 0.7266 under the fitted model.
    assert!(
        (p_alive[0].unwrap() - 0.7266).abs() < 5e-4,
        "{:?}",
        p_alive[0]
    );
}

#[tokio::test]
async fn pareto_is_selectable_and_too_little_data_is_explained_not_fatal() {
    let ctx = session(ValueSettings {
        model: PurchaseModelKind::ParetoNbd,
        ..ValueSettings::default()
    });
    register(&ctx, "rfm", cdnow_rfm());
    let fits = collect(&ctx, "select parameter, estimate from value_model_fits('rfm') where model = 'pareto_nbd' order by parameter").await;
    assert_eq!(
        str_col(&fits, "parameter"),
        ["alpha", "beta", "r", "s"].map(|s| Some(s.to_string()))
    );

    let tiny = cdnow_rfm().slice(0, 1);
    register(&ctx, "tiny", tiny);
    let values = collect(
        &ctx,
        "select p_alive, clv, value_note from customer_value_model('tiny')",
    )
    .await;
    assert_eq!(f64_col(&values, "clv"), [None]);
    let note = str_col(&values, "value_note")[0]
        .clone()
        .unwrap_or_default();
    assert!(note.contains("not fitted"), "{note}");
}

/// The CDNOW table with customer 0001's repeat purchases at 0 in total and 0002's below 0.
fn cdnow_rfm_with_non_positive_spend() -> RecordBatch {
    let batch = cdnow_rfm();
    let mut m = f64_col(&batch, "monetary_value");
    m[0] = Some(0.0);
    m[1] = Some(-4.0);
    let mut columns = batch.columns().to_vec();
    columns[4] = Arc::new(Float64Array::from(m));
    RecordBatch::try_new(batch.schema(), columns).unwrap()
}

/// One exclusion policy (touchstone_value's ValueModel): a repeat buyer whose spend is 0 or
/// less is left out of the Gamma-Gamma fit only, keeps P(alive) and expected purchases, and gets
/// no expected spend or CLV, with the reason; everyone else is valued as before.
#[tokio::test]
async fn non_positive_spend_is_left_out_of_the_spend_model_only() {
    let ctx = session(ValueSettings::default());
    register(&ctx, "rfm", cdnow_rfm_with_non_positive_spend());
    let fits = collect(
        &ctx,
        "select customers from value_model_fits('rfm') where model = 'gamma_gamma' limit 1",
    )
    .await;
    // 946 repeat buyers in CDNOW, two of them left out.
    assert_eq!(f64_col(&fits, "customers"), [Some(944.0)]);
    let values = collect(&ctx, "select * from customer_value_model('rfm')").await;
    let (p_alive, spend, clv) = (
        f64_col(&values, "p_alive"),
        f64_col(&values, "expected_spend"),
        f64_col(&values, "clv"),
    );
    let notes = str_col(&values, "value_note");
    for (i, why) in [
        (
            0,
            "repeat purchases add up to 0: left out of the spend model",
        ),
        (
            1,
            "repeat purchases add up to less than 0: left out of the spend model",
        ),
    ] {
        assert!(p_alive[i].is_some(), "row {i}");
        assert_eq!((spend[i], clv[i]), (None, None), "row {i}");
        assert!(
            notes[i].as_deref().unwrap_or_default().contains(why),
            "{:?}",
            notes[i]
        );
    }
    assert_eq!(f64_col(&values, "monetary_value")[1], Some(-4.0));
    let valued = clv.iter().filter(|v| v.is_some()).count();
    assert_eq!(
        valued,
        2357 - 2,
        "the broken row and the two above have no CLV"
    );
}

#[tokio::test]
async fn rows_without_a_key_or_with_recency_but_no_repeats_are_not_modelled() {
    let ctx = session(ValueSettings::default());
    let batch = cdnow_rfm();
    let mut key = str_col(&batch, "customer_key");
    key[5] = None;
    let mut tx = f64_col(&batch, "recency");
    // Customer 0003 has no repeat purchases.
    tx[2] = Some(4.0);
    let mut columns = batch.columns().to_vec();
    columns[0] = Arc::new(StringArray::from(key));
    columns[2] = Arc::new(Float64Array::from(tx));
    let schema = Arc::new(Schema::new(
        batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ));
    register(&ctx, "rfm", RecordBatch::try_new(schema, columns).unwrap());
    let values = collect(&ctx, "select * from customer_value_model('rfm')").await;
    let notes = str_col(&values, "value_note");
    let p_alive = f64_col(&values, "p_alive");
    assert!(
        notes[5]
            .as_deref()
            .unwrap_or_default()
            .starts_with("not modelled: customer_key is null;"),
        "{:?}",
        notes[5]
    );
    assert!(
        notes[2]
            .as_deref()
            .unwrap_or_default()
            .starts_with("not modelled: recency 4 without repeat purchases"),
        "{:?}",
        notes[2]
    );
    assert_eq!((p_alive[2], p_alive[5]), (None, None));
    // The other rows are fitted and scored.
    assert!(p_alive[0].is_some());
}

#[tokio::test]
async fn wrong_input_is_a_planning_error_naming_the_column() {
    let ctx = session(ValueSettings::default());
    let batch = cdnow_rfm();
    let without_t = batch.project(&[0, 1, 2, 4]).unwrap();
    register(&ctx, "bad", without_t);
    let err = ctx
        .sql("select * from customer_value_model('bad')")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("customer_value_model('bad'): the input has no column 'T'"),
        "{err}"
    );
    let err = ctx
        .sql("select * from customer_value_model(1)")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("takes one argument, the name of a table in quotes"),
        "{err}"
    );
    let err = ctx
        .sql("select * from kaplan_meier('nope')")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");
}

#[tokio::test]
async fn kaplan_meier_by_cohort_with_an_all_curve() {
    let ctx = session(ValueSettings::default());
    let schema = Arc::new(Schema::new(vec![
        Field::new("duration", DataType::Float64, false),
        Field::new("observed", DataType::Boolean, false),
        Field::new("cohort", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Float64Array::from(vec![1.0, 2.0, 2.0, 3.0, 4.0])),
            Arc::new(BooleanArray::from(vec![true, true, false, true, false])),
            Arc::new(StringArray::from(vec!["a", "a", "a", "b", "b"])),
        ],
    )
    .unwrap();
    register(&ctx, "lives", batch);
    let km = collect(&ctx, "select cohort, time, survival from kaplan_meier('lives') where cohort = 'all' order by time").await;
    let s = f64_col(&km, "survival");
    // 5 at risk: t=1 one event (4/5), t=2 one event and one censored (4/5 * 3/4), t=3 one event of 2.
    let want = [1.0, 0.8, 0.6, 0.3, 0.3];
    for (got, want) in s.iter().zip(want) {
        assert!((got.unwrap() - want).abs() < 1e-12, "{s:?}");
    }
    let cohorts = collect(
        &ctx,
        "select distinct cohort from kaplan_meier('lives') order by cohort",
    )
    .await;
    assert_eq!(
        str_col(&cohorts, "cohort"),
        ["a", "all", "b"].map(|s| Some(s.to_string()))
    );
}

#[tokio::test]
async fn sbg_projection_reproduces_the_published_cohort_fit() {
    let ctx = session(ValueSettings {
        projection_periods: 5,
        ..ValueSettings::default()
    });
    // Fader & Hardie (2007), regular customers: percent alive at years 0-7.
    let alive = [100.0, 63.1, 46.8, 38.2, 32.6, 28.9, 26.2, 24.1];
    let schema = Arc::new(Schema::new(vec![
        Field::new("cohort", DataType::Utf8, false),
        Field::new("period", DataType::Int64, false),
        Field::new("survival", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec!["regular"; 8])),
            Arc::new(Int64Array::from((0..8).collect::<Vec<i64>>())),
            Arc::new(Float64Array::from(
                alive.iter().map(|a| a / 100.0).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap();
    register(&ctx, "curve", batch);
    let out = collect(
        &ctx,
        "select * from sbg_projection('curve') order by period",
    )
    .await;
    assert_eq!(out.num_rows(), 8 + 5);
    let alpha = f64_col(&out, "alpha")[0].unwrap();
    let beta = f64_col(&out, "beta")[0].unwrap();
    assert_eq!(
        (
            (alpha * 1000.0).round() / 1000.0,
            (beta * 1000.0).round() / 1000.0
        ),
        (0.704, 1.182)
    );
    let observed = f64_col(&out, "observed_survival");
    assert_eq!(observed[8], None, "periods past the data are projections");
    let projected = f64_col(&out, "projected_survival");
    assert!(projected.windows(2).all(|w| w[1].unwrap() < w[0].unwrap()));
}

#[test]
fn table_function_arguments_are_model_dependencies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marts/v.sql");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "select v.*, s.margin from customer_value_model('customer_rfm') v cross join pipeline_settings s").unwrap();
    let ctx = session(ValueSettings::default());
    let models = crate::load_models(dir.path(), dir.path(), &ctx.state()).unwrap();
    assert_eq!(models[0].references, ["customer_rfm", "pipeline_settings"]);
}
