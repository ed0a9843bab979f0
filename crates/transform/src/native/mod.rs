//! Statistical models as table functions, so SQL models can use them like tables:
//!
//! | function | reads (columns) | returns |
//! |---|---|---|
//! | `customer_value_model('t')` | `customer_key, frequency, recency, "T", monetary_value` (days) | per customer: P(alive), expected purchases, expected spend, CLV, value decile, note |
//! | `value_model_fits('t')` | the same | one row per fitted parameter, with the fit's diagnostics |
//! | `kaplan_meier('t')` | `duration` (days), `observed` (churned), optional `cohort` | Kaplan-Meier survival with a 95% log-log band, per cohort |
//! | `sbg_projection('t')` | `cohort, period, survival` (fraction alive, period 0 = 1) | the shifted-beta-geometric fit per cohort, projected forward |
//!
//! The argument is the name of a table or model; [`crate::models`] counts it as a dependency.
//! The functions are lazy: planning checks the input's columns, and the input is read, the
//! model fitted and the rows computed only when the plan executes. Fits are cached for the
//! session, so `customer_value_model` and `value_model_fits` over the same input fit once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl};
use datafusion::common::{DataFusionError, Result, ScalarValue, plan_err};
use datafusion::datasource::TableProvider;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use touchstone_core::config::{PurchaseModelKind, ValueSettings};
use touchstone_value::{
    ClvConfig, Customers, Exclusion, FitOptions, FitReport, FittedValueModel, SbgParams,
    ScoreOptions, ScoreProblem, ValueModel, ValueModelOptions, clv_deciles, kaplan_meier,
};

use crate::udf::cast_to;

mod args;
pub mod identity;
pub mod sessions;

/// Days per month for CLV with daily data (the `lifetimes` convention).
pub const DAYS_PER_MONTH: f64 = 30.0;

/// The names of the table functions, in registration order.
pub const FUNCTIONS: [&str; 4] = [
    "customer_value_model",
    "value_model_fits",
    "kaplan_meier",
    "sbg_projection",
];

/// Registers the model table functions in `ctx`.
pub fn register(ctx: &SessionContext, settings: ValueSettings) {
    let cache = Arc::new(FitCache::default());
    for kind in [
        Kind::CustomerValue,
        Kind::ModelFits,
        Kind::KaplanMeier,
        Kind::SbgProjection,
    ] {
        ctx.register_udtf(
            kind.name(),
            Arc::new(ModelFunction {
                kind,
                settings,
                cache: Arc::clone(&cache),
            }),
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    CustomerValue,
    ModelFits,
    KaplanMeier,
    SbgProjection,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::CustomerValue => FUNCTIONS[0],
            Kind::ModelFits => FUNCTIONS[1],
            Kind::KaplanMeier => FUNCTIONS[2],
            Kind::SbgProjection => FUNCTIONS[3],
        }
    }

    /// Required input columns and whether each may be numeric (else text or boolean).
    fn inputs(self) -> &'static [(&'static str, InputType)] {
        match self {
            Kind::CustomerValue | Kind::ModelFits => &[
                ("customer_key", InputType::Text),
                ("frequency", InputType::Number),
                ("recency", InputType::Number),
                ("T", InputType::Number),
                ("monetary_value", InputType::Number),
            ],
            Kind::KaplanMeier => &[
                ("duration", InputType::Number),
                ("observed", InputType::Boolean),
            ],
            Kind::SbgProjection => &[
                ("cohort", InputType::Text),
                ("period", InputType::Number),
                ("survival", InputType::Number),
            ],
        }
    }

    fn schema(self) -> SchemaRef {
        static SCHEMAS: LazyLock<[SchemaRef; 4]> = LazyLock::new(|| {
            let f = |name: &str, t: DataType, nullable: bool| Field::new(name, t, nullable);
            use DataType::{Boolean, Float64, Int32, Int64, Utf8};
            [
                Arc::new(Schema::new(vec![
                    f("customer_key", Utf8, false),
                    f("model", Utf8, false),
                    f("frequency", Float64, true),
                    f("recency", Float64, true),
                    f("T", Float64, true),
                    f("monetary_value", Float64, true),
                    f("p_alive", Float64, true),
                    f("expected_purchases", Float64, true),
                    f("expected_purchases_clv_horizon", Float64, true),
                    f("expected_spend", Float64, true),
                    f("clv", Float64, true),
                    f("value_decile", Int32, true),
                    f("value_note", Utf8, true),
                ])),
                Arc::new(Schema::new(vec![
                    f("model", Utf8, false),
                    f("parameter", Utf8, false),
                    f("estimate", Float64, true),
                    f("log_likelihood", Float64, true),
                    f("iterations", Int64, true),
                    f("converged", Boolean, false),
                    f("customers", Float64, true),
                    f("message", Utf8, false),
                ])),
                Arc::new(Schema::new(vec![
                    f("cohort", Utf8, false),
                    f("time", Float64, false),
                    f("at_risk", Int64, false),
                    f("events", Int64, false),
                    f("censored", Int64, false),
                    f("survival", Float64, false),
                    f("ci_low", Float64, false),
                    f("ci_high", Float64, false),
                ])),
                Arc::new(Schema::new(vec![
                    f("cohort", Utf8, false),
                    f("period", Int64, false),
                    f("observed_survival", Float64, true),
                    f("projected_survival", Float64, true),
                    f("projected_retention_rate", Float64, true),
                    f("alpha", Float64, true),
                    f("beta", Float64, true),
                    f("is_projection", Boolean, false),
                    f("note", Utf8, true),
                ])),
            ]
        });
        let i = match self {
            Kind::CustomerValue => 0,
            Kind::ModelFits => 1,
            Kind::KaplanMeier => 2,
            Kind::SbgProjection => 3,
        };
        Arc::clone(&SCHEMAS[i])
    }
}

#[derive(Debug, Clone, Copy)]
enum InputType {
    Text,
    Number,
    Boolean,
}

#[derive(Debug)]
struct ModelFunction {
    kind: Kind,
    settings: ValueSettings,
    cache: Arc<FitCache>,
}

impl TableFunctionImpl for ModelFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let name = self.kind.name();
        let input = match args.exprs() {
            [
                Expr::Literal(
                    ScalarValue::Utf8(Some(t))
                    | ScalarValue::Utf8View(Some(t))
                    | ScalarValue::LargeUtf8(Some(t)),
                    _,
                ),
            ] => t.to_lowercase(),
            _ => {
                return plan_err!(
                    "{name}() takes one argument, the name of a table in quotes: {name}('customer_rfm')"
                );
            }
        };
        if let Some(state) = args.session().as_any().downcast_ref::<SessionState>() {
            check_input(state, self.kind, &input)?;
        }
        Ok(Arc::new(LazyModelTable {
            kind: self.kind,
            input,
            settings: self.settings,
            cache: Arc::clone(&self.cache),
        }))
    }
}

/// Checks at planning time that the input exists and has the columns the function reads.
fn check_input(state: &SessionState, kind: Kind, input: &str) -> Result<()> {
    let name = kind.name();
    let reference = datafusion::common::TableReference::from(input);
    let schema_provider = state.schema_for_ref(reference.clone())?;
    let provider = futures::executor::block_on(schema_provider.table(reference.table()))?;
    let Some(provider) = provider else {
        return plan_err!("{name}('{input}'): no table or model named '{input}'");
    };
    let schema = provider.schema();
    for (column, expected) in kind.inputs() {
        let Ok(field) = schema.field_with_name(column) else {
            let have: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            return plan_err!(
                "{name}('{input}'): the input has no column '{column}' (it has {}); {name} reads {}",
                have.join(", "),
                kind.inputs()
                    .iter()
                    .map(|(c, _)| *c)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let t = field.data_type();
        let ok = match expected {
            InputType::Text => {
                matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
            }
            InputType::Number => t.is_numeric(),
            InputType::Boolean => matches!(t, DataType::Boolean),
        };
        if !ok {
            return plan_err!("{name}('{input}'): column '{column}' is {t}, expected {expected:?}");
        }
    }
    Ok(())
}

#[derive(Debug)]
struct LazyModelTable {
    kind: Kind,
    input: String,
    settings: ValueSettings,
    cache: Arc<FitCache>,
}

#[async_trait]
impl TableProvider for LazyModelTable {
    fn schema(&self) -> SchemaRef {
        self.kind.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(state) = state.as_any().downcast_ref::<SessionState>() else {
            return plan_err!("{}: needs a DataFusion SessionState", self.kind.name());
        };
        let schema = self.kind.schema();
        let fitted = matches!(self.kind, Kind::CustomerValue | Kind::ModelFits)
            && self.cache.contains(&self.input);
        let input = if fitted {
            // The other value function fitted this input already, and the fit holds its rows.
            RecordBatch::new_empty(Arc::new(Schema::empty()))
        } else {
            let ctx = SessionContext::new_with_state(state.clone());
            let df = ctx.table(self.input.as_str()).await?;
            let input_schema = df.schema().inner().clone();
            let batches = df.collect().await?;
            if batches.is_empty() {
                RecordBatch::new_empty(input_schema)
            } else {
                concat_batches(&batches[0].schema(), &batches)?
            }
        };
        let (kind, settings, cache, key) = (
            self.kind,
            self.settings,
            Arc::clone(&self.cache),
            self.input.clone(),
        );
        let output =
            tokio::task::spawn_blocking(move || compute(kind, &input, &settings, &cache, &key))
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))??;
        let exec = MemorySourceConfig::try_new_exec(&[vec![output]], schema, projection.cloned())?;
        Ok(exec)
    }
}

/// The rows sorted by every column, first to last: a scan returns them in whatever order its
/// partitions finish, and the models' sums and their tie-breaks (deciles of equal CLVs) must not
/// depend on that. Same input rows, same output, bit for bit.
fn in_canonical_order(
    batch: &RecordBatch,
) -> Result<(RecordBatch, Option<arrow::array::UInt32Array>)> {
    use arrow::compute::{SortColumn, lexsort_to_indices, take_record_batch};
    if batch.num_rows() < 2 {
        return Ok((batch.clone(), None));
    }
    let columns: Vec<SortColumn> = batch
        .columns()
        .iter()
        .map(|values| SortColumn {
            values: Arc::clone(values),
            options: None,
        })
        .collect();
    let order = lexsort_to_indices(&columns, None)?;
    Ok((take_record_batch(batch, &order)?, Some(order)))
}

fn compute(
    kind: Kind,
    input: &RecordBatch,
    settings: &ValueSettings,
    cache: &FitCache,
    key: &str,
) -> Result<RecordBatch> {
    match kind {
        // One output row per input row, back in the order the rows came in.
        Kind::CustomerValue => {
            let fits = cache.get(key, input, settings)?;
            let output = customer_value(settings, fits.as_ref())?;
            match &fits.order {
                Some(order) if output.num_rows() == order.len() => {
                    let mut back = vec![0u32; order.len()];
                    for (sorted, &original) in order.values().iter().enumerate() {
                        back[original as usize] = sorted as u32;
                    }
                    let back = arrow::array::UInt32Array::from(back);
                    Ok(arrow::compute::take_record_batch(&output, &back)?)
                }
                _ => Ok(output),
            }
        }
        Kind::ModelFits => model_fits(cache.get(key, input, settings)?.as_ref()),
        Kind::KaplanMeier => survival_curves(&in_canonical_order(input)?.0),
        Kind::SbgProjection => sbg_projection(&in_canonical_order(input)?.0, settings),
    }
}

// ---------------------------------------------------------------------------------------------
// Customer value

/// The input's rows and both fits over them: the purchase model and Gamma-Gamma, fitted and
/// scored through `touchstone_value`'s one API, so the customers it leaves out and why are
/// those of `touchstone value fit`.
#[derive(Debug, Clone)]
struct Fits {
    model: PurchaseModelKind,
    /// The input rows in canonical order (sorted by every column).
    rows: Rows,
    fitted: FittedValueModel,
    /// Where each canonical row came from in the input (`None`: already in order).
    order: Option<arrow::array::UInt32Array>,
}

/// The input columns (NaN where null). Rows without a customer key are not modelled; the
/// others are given to the value model, which decides what it can model.
#[derive(Debug, Clone)]
struct Rows {
    key: Vec<Option<String>>,
    x: Vec<f64>,
    tx: Vec<f64>,
    t: Vec<f64>,
    m: Vec<f64>,
}

/// The columns of the rows with a customer key, as the value model reads them.
struct Keyed {
    idx: Vec<usize>,
    x: Vec<f64>,
    tx: Vec<f64>,
    t: Vec<f64>,
    m: Vec<f64>,
}

impl Keyed {
    fn customers(&self) -> Customers<'_> {
        Customers {
            frequency: &self.x,
            recency: &self.tx,
            t: &self.t,
            monetary_value: &self.m,
        }
    }
}

impl Rows {
    fn read(input: &RecordBatch) -> Result<Rows> {
        let nan = |v: Vec<Option<f64>>| v.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect();
        Ok(Rows {
            key: strings(input, "customer_key")?,
            x: nan(f64s(input, "frequency")?),
            tx: nan(f64s(input, "recency")?),
            t: nan(f64s(input, "T")?),
            m: nan(f64s(input, "monetary_value")?),
        })
    }

    fn keyed(&self) -> Keyed {
        let idx: Vec<usize> = (0..self.key.len())
            .filter(|&i| self.key[i].is_some())
            .collect();
        let pick = |v: &[f64]| idx.iter().map(|&i| v[i]).collect();
        Keyed {
            x: pick(&self.x),
            tx: pick(&self.tx),
            t: pick(&self.t),
            m: pick(&self.m),
            idx,
        }
    }

    /// Why row `i` is not modelled, if it is not: the value model's reason first.
    fn not_modelled(&self, i: usize) -> Option<String> {
        match Exclusion::of(self.x[i], self.tx[i], self.t[i], self.m[i]) {
            Some(e @ Exclusion::Invalid(_)) => Some(e.to_string()),
            _ => self.key[i]
                .is_none()
                .then(|| "customer_key is null".to_string()),
        }
    }
}

#[derive(Debug, Default)]
struct FitCache {
    fits: Mutex<HashMap<String, Arc<Fits>>>,
}

impl FitCache {
    fn contains(&self, key: &str) -> bool {
        let fits = self.fits.lock().unwrap_or_else(|e| e.into_inner());
        fits.contains_key(key)
    }

    fn get(&self, key: &str, input: &RecordBatch, settings: &ValueSettings) -> Result<Arc<Fits>> {
        let mut fits = self.fits.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = fits.get(key) {
            return Ok(Arc::clone(f));
        }
        let fitted = Arc::new(fit(input, settings)?);
        fits.insert(key.to_string(), Arc::clone(&fitted));
        Ok(fitted)
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| DataFusionError::Plan(format!("input has no column '{name}'")))
}

fn f64s(batch: &RecordBatch, name: &str) -> Result<Vec<Option<f64>>> {
    let a: Float64Array = cast_to(column(batch, name)?, &DataType::Float64)?;
    Ok(a.iter().collect())
}

fn strings(batch: &RecordBatch, name: &str) -> Result<Vec<Option<String>>> {
    let a: StringArray = cast_to(column(batch, name)?, &DataType::Utf8)?;
    Ok(a.iter().map(|v| v.map(str::to_string)).collect())
}

fn fit(input: &RecordBatch, settings: &ValueSettings) -> Result<Fits> {
    let (input, order) = in_canonical_order(input)?;
    let rows = Rows::read(&input)?;
    let options = ValueModelOptions {
        purchase_model: match settings.model {
            PurchaseModelKind::Bgnbd => touchstone_value::PurchaseModelKind::BgNbd,
            PurchaseModelKind::ParetoNbd => touchstone_value::PurchaseModelKind::ParetoNbd,
        },
        fit: FitOptions::default(),
    };
    let fitted = ValueModel::fit(rows.keyed().customers(), &options).map_err(ext)?;
    Ok(Fits {
        model: settings.model,
        rows,
        fitted,
        order,
    })
}

fn customer_value(settings: &ValueSettings, fits: &Fits) -> Result<RecordBatch> {
    let rows = &fits.rows;
    let n = rows.key.len();
    let keyed = rows.keyed();
    let options = ScoreOptions {
        horizon: f64::from(settings.horizon_days),
        clv: ClvConfig {
            months: settings.clv_months,
            monthly_discount_rate: settings.monthly_discount,
            time_units_per_month: DAYS_PER_MONTH,
            margin: settings.margin,
        },
        clv_horizon_purchases: true,
    };
    // Row by row: one row the model cannot score (a series that does not converge at extreme
    // parameters) is a null with its reason instead of a failed run.
    let scores = fits
        .fitted
        .score(keyed.customers(), &options)
        .map_err(ext)?;

    // Notes that hold for every row: a model not fitted, or not converged.
    let name = fits.model.name();
    let mut general = Vec::new();
    match fits.fitted.purchase() {
        Err(e) => general.push(format!("{name} not fitted: {e}")),
        Ok(f) if !f.report.converged => general.push(format!(
            "{name} fit did not converge ({}); values use its last good parameters",
            f.report.message
        )),
        Ok(_) => {}
    }
    let spend_fitted = match fits.fitted.spend() {
        Err(e) => {
            general.push(format!(
                "gamma_gamma spend model not fitted: {e}; expected_spend and clv are null"
            ));
            false
        }
        Ok(f) => {
            if !f.report.converged {
                general.push(format!(
                    "gamma_gamma fit did not converge ({})",
                    f.report.message
                ));
            }
            true
        }
    };

    let mut p_alive = vec![None; n];
    let mut expected = vec![None; n];
    let mut expected_clv_horizon = vec![None; n];
    let mut spend = vec![None; n];
    let mut clv = vec![None; n];
    let mut notes: Vec<Vec<String>> = (0..n)
        .map(|i| {
            rows.not_modelled(i)
                .map(|why| format!("not modelled: {why}"))
                .into_iter()
                .collect()
        })
        .collect();
    for (j, &i) in keyed.idx.iter().enumerate() {
        p_alive[i] = scores.p_alive[j];
        expected[i] = scores.expected_purchases[j];
        expected_clv_horizon[i] = scores
            .expected_purchases_clv_horizon
            .as_ref()
            .and_then(|v| v[j]);
        spend[i] = scores.expected_spend[j];
        clv[i] = scores.clv[j];
        for problem in &scores.problems[j] {
            notes[i].push(match problem {
                ScoreProblem::Purchases(e) => format!("not scored: {e}"),
                ScoreProblem::Spend(e) => format!("expected_spend not computed: {e}"),
                ScoreProblem::Clv(e) => format!("clv not computed: {e}"),
            });
        }
        match scores.exclusion[j] {
            Some(e @ Exclusion::NonPositiveSpend { .. }) => notes[i].push(format!(
                "{e}: left out of the spend model; expected_spend and clv are null"
            )),
            Some(e @ Exclusion::NoRepeatPurchases) if spend_fitted => {
                notes[i].push(format!("{e}: expected_spend is the population mean"));
            }
            _ => {}
        }
    }
    // Deciles rank the customers that have a value, in row order.
    let valued: Vec<f64> = clv.iter().flatten().copied().collect();
    let mut deciles = if valued.is_empty() {
        Vec::new()
    } else {
        clv_deciles(&valued).map_err(ext)?
    }
    .into_iter();
    let decile: Vec<Option<i32>> = clv
        .iter()
        .map(|v| v.and_then(|_| deciles.next().map(i32::from)))
        .collect();

    let note: StringArray = notes
        .into_iter()
        .map(|mut v| {
            v.extend(general.iter().cloned());
            (!v.is_empty()).then(|| v.join("; "))
        })
        .collect();
    let schema = Kind::CustomerValue.schema();
    let modelled: Vec<bool> = (0..n).map(|i| rows.not_modelled(i).is_none()).collect();
    let input = |values: &[f64]| -> ArrayRef {
        Arc::new(
            (0..n)
                .map(|i| modelled[i].then(|| values[i]))
                .collect::<Float64Array>(),
        )
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            rows.key
                .iter()
                .map(|k| Some(k.clone().unwrap_or_default()))
                .collect::<StringArray>(),
        ),
        Arc::new(StringArray::from(vec![name; n])),
        input(&rows.x),
        input(&rows.tx),
        input(&rows.t),
        input(&rows.m),
        Arc::new(Float64Array::from(p_alive)),
        Arc::new(Float64Array::from(expected)),
        Arc::new(Float64Array::from(expected_clv_horizon)),
        Arc::new(Float64Array::from(spend)),
        Arc::new(Float64Array::from(clv)),
        Arc::new(Int32Array::from(decile)),
        Arc::new(note),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

fn model_fits(fits: &Fits) -> Result<RecordBatch> {
    let mut model = Vec::new();
    let mut parameter = Vec::new();
    let mut estimate = Vec::new();
    let mut ll = Vec::new();
    let mut iterations = Vec::new();
    let mut converged = Vec::new();
    let mut customers = Vec::new();
    let mut message = Vec::new();
    let mut push = |m: &str, p: &str, e: Option<f64>, r: Option<&FitReport>, msg: String| {
        model.push(m.to_string());
        parameter.push(p.to_string());
        estimate.push(e);
        ll.push(r.map(|r| r.log_likelihood));
        iterations.push(r.map(|r| r.iterations as i64));
        converged.push(r.is_some_and(|r| r.converged));
        customers.push(r.map(|r| r.customers));
        message.push(msg);
    };
    match fits.fitted.purchase() {
        Ok(fit) => {
            for (name, value) in fit.params.values() {
                push(
                    fits.model.name(),
                    name,
                    Some(value),
                    Some(&fit.report),
                    fit.report.message.to_string(),
                );
            }
        }
        Err(e) => push(
            fits.model.name(),
            "(none)",
            None,
            None,
            format!("not fitted: {e}"),
        ),
    }
    match fits.fitted.spend() {
        Ok(fit) => {
            let p = fit.params;
            for (name, value) in [("p", p.p), ("q", p.q), ("gamma", p.gamma)] {
                push(
                    "gamma_gamma",
                    name,
                    Some(value),
                    Some(&fit.report),
                    fit.report.message.to_string(),
                );
            }
        }
        Err(e) => push(
            "gamma_gamma",
            "(none)",
            None,
            None,
            format!("not fitted: {e}"),
        ),
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(model)),
        Arc::new(StringArray::from(parameter)),
        Arc::new(Float64Array::from(estimate)),
        Arc::new(Float64Array::from(ll)),
        Arc::new(Int64Array::from(iterations)),
        Arc::new(BooleanArray::from(converged)),
        Arc::new(Float64Array::from(customers)),
        Arc::new(StringArray::from(message)),
    ];
    Ok(RecordBatch::try_new(Kind::ModelFits.schema(), columns)?)
}

// ---------------------------------------------------------------------------------------------
// Survival

fn survival_curves(input: &RecordBatch) -> Result<RecordBatch> {
    let duration = f64s(input, "duration")?;
    let observed: BooleanArray = cast_to(column(input, "observed")?, &DataType::Boolean)?;
    let cohort = match input.column_by_name("cohort") {
        Some(_) => strings(input, "cohort")?,
        None => vec![None; input.num_rows()],
    };
    // Every row is in its cohort and in "all"; rows with no duration are skipped.
    let mut groups: BTreeMap<String, (Vec<f64>, Vec<bool>)> = BTreeMap::new();
    for i in 0..input.num_rows() {
        let (Some(d), false) = (duration[i], observed.is_null(i)) else {
            continue;
        };
        if !d.is_finite() || d < 0.0 {
            continue;
        }
        let event = observed.value(i);
        for g in [Some("all".to_string()), cohort[i].clone()]
            .into_iter()
            .flatten()
        {
            let entry = groups.entry(g).or_default();
            entry.0.push(d);
            entry.1.push(event);
        }
    }
    let mut out = KmColumns::default();
    for (group, (d, e)) in &groups {
        let km = kaplan_meier(d, e, 0.95).map_err(ext)?;
        out.push(group, 0.0, d.len() as i64, 0, 0, 1.0, 1.0, 1.0);
        for i in 0..km.time.len() {
            out.push(
                group,
                km.time[i],
                km.at_risk[i] as i64,
                km.events[i] as i64,
                km.censored[i] as i64,
                km.survival[i],
                km.lower[i],
                km.upper[i],
            );
        }
    }
    out.finish()
}

#[derive(Default)]
struct KmColumns {
    cohort: Vec<String>,
    time: Vec<f64>,
    at_risk: Vec<i64>,
    events: Vec<i64>,
    censored: Vec<i64>,
    survival: Vec<f64>,
    low: Vec<f64>,
    high: Vec<f64>,
}

impl KmColumns {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        cohort: &str,
        time: f64,
        at_risk: i64,
        events: i64,
        censored: i64,
        s: f64,
        low: f64,
        high: f64,
    ) {
        self.cohort.push(cohort.to_string());
        self.time.push(time);
        self.at_risk.push(at_risk);
        self.events.push(events);
        self.censored.push(censored);
        self.survival.push(s);
        self.low.push(low);
        self.high.push(high);
    }

    fn finish(self) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(self.cohort)),
            Arc::new(Float64Array::from(self.time)),
            Arc::new(Int64Array::from(self.at_risk)),
            Arc::new(Int64Array::from(self.events)),
            Arc::new(Int64Array::from(self.censored)),
            Arc::new(Float64Array::from(self.survival)),
            Arc::new(Float64Array::from(self.low)),
            Arc::new(Float64Array::from(self.high)),
        ];
        Ok(RecordBatch::try_new(Kind::KaplanMeier.schema(), columns)?)
    }
}

fn sbg_projection(input: &RecordBatch, settings: &ValueSettings) -> Result<RecordBatch> {
    let cohort = strings(input, "cohort")?;
    let period = f64s(input, "period")?;
    let survival = f64s(input, "survival")?;
    let mut curves: BTreeMap<String, BTreeMap<i64, f64>> = BTreeMap::new();
    for i in 0..input.num_rows() {
        if let (Some(c), Some(p), Some(s)) = (&cohort[i], period[i], survival[i])
            && p.is_finite()
            && p >= 0.0
            && s.is_finite()
        {
            curves.entry(c.clone()).or_default().insert(p as i64, s);
        }
    }
    let mut cols = SbgColumns::default();
    for (c, curve) in &curves {
        let last = curve.keys().next_back().copied().unwrap_or(0);
        // Periods 0..=last in order; a gap stops the observed curve there.
        let observed: Vec<f64> = (0..=last).map_while(|p| curve.get(&p).copied()).collect();
        let horizon = last.max(0) + i64::from(settings.projection_periods);
        let fitted = if observed.first().is_none_or(|s0| *s0 <= 0.0) {
            Err("the curve does not start with a positive period 0".to_string())
        } else {
            SbgParams::fit(&observed, &FitOptions::default()).map_err(|e| e.to_string())
        };
        for p in 0..=horizon {
            let seen = usize::try_from(p)
                .ok()
                .and_then(|p| observed.get(p))
                .copied();
            let s0 = observed.first().copied().unwrap_or(1.0);
            match &fitted {
                Ok(fit) => {
                    let t = u32::try_from(p).unwrap_or(u32::MAX);
                    let note = (!fit.report.converged)
                        .then(|| format!("sBG fit did not converge ({})", fit.report.message));
                    cols.push(
                        c,
                        p,
                        seen.map(|s| s / s0),
                        Some(fit.params.survival(t)),
                        (t > 0).then(|| fit.params.retention_rate(t)),
                        Some(fit.params.alpha),
                        Some(fit.params.beta),
                        seen.is_none(),
                        note,
                    );
                }
                Err(e) => {
                    if seen.is_some() {
                        cols.push(
                            c,
                            p,
                            seen.map(|s| s / s0),
                            None,
                            None,
                            None,
                            None,
                            false,
                            Some(format!("not projected: {e}")),
                        );
                    }
                }
            }
        }
    }
    cols.finish()
}

#[derive(Default)]
struct SbgColumns {
    cohort: Vec<String>,
    period: Vec<i64>,
    observed: Vec<Option<f64>>,
    projected: Vec<Option<f64>>,
    retention: Vec<Option<f64>>,
    alpha: Vec<Option<f64>>,
    beta: Vec<Option<f64>>,
    is_projection: Vec<bool>,
    note: Vec<Option<String>>,
}

impl SbgColumns {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        cohort: &str,
        period: i64,
        observed: Option<f64>,
        projected: Option<f64>,
        retention: Option<f64>,
        alpha: Option<f64>,
        beta: Option<f64>,
        is_projection: bool,
        note: Option<String>,
    ) {
        self.cohort.push(cohort.to_string());
        self.period.push(period);
        self.observed.push(observed);
        self.projected.push(projected);
        self.retention.push(retention);
        self.alpha.push(alpha);
        self.beta.push(beta);
        self.is_projection.push(is_projection);
        self.note.push(note);
    }

    fn finish(self) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(self.cohort)),
            Arc::new(Int64Array::from(self.period)),
            Arc::new(Float64Array::from(self.observed)),
            Arc::new(Float64Array::from(self.projected)),
            Arc::new(Float64Array::from(self.retention)),
            Arc::new(Float64Array::from(self.alpha)),
            Arc::new(Float64Array::from(self.beta)),
            Arc::new(BooleanArray::from(self.is_projection)),
            Arc::new(StringArray::from(self.note)),
        ];
        Ok(RecordBatch::try_new(Kind::SbgProjection.schema(), columns)?)
    }
}

fn ext(e: touchstone_value::ValueError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

#[cfg(test)]
mod tests;
