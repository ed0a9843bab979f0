//! `make bench`: compile and plan time of a generated library of 100 metrics × 10 dimensions
//! (every metric type that reads a source, plus derived metrics over them) against an empty
//! table; nothing is executed. Prints the best of five runs.
//!
//! ```sh
//! cargo run --release -p touchstone-metrics --example bench_compile
//! ```

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use touchstone_core::config::{MetricFile, assemble};

fn library_yaml(metrics: usize, dims: usize) -> String {
    let dims: Vec<String> = (0..dims).map(|d| format!("d{d}")).collect();
    let dims = dims.join(", ");
    let mut y = String::from("metrics:\n");
    for i in 0..metrics {
        let body = match i % 5 {
            0 => "type: simple\n    measure: { agg: avg, expr: x }".to_string(),
            1 => "type: ratio\n    numerator: { agg: count, filter: \"x > 1\" }\n    denominator: { agg: count }".to_string(),
            2 => "type: distribution\n    distribution: { expr: x, positive: \"x >= 9\", negative: \"x <= 6\" }".to_string(),
            3 => "type: cumulative\n    window_days: 28\n    measure: { agg: sum, expr: x }".to_string(),
            _ => format!("type: derived\n    expr: \"m{} * 2\"", i - 1),
        };
        let source = if i % 5 == 4 {
            String::new()
        } else {
            format!("    source: facts\n    time: at\n    dimensions: [{dims}]\n")
        };
        let _ = write!(
            y,
            "  - name: m{i}\n    description: generated\n{source}    {body}\n"
        );
    }
    y
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (n_metrics, n_dims) = (100, 10);
    let mut fields = vec![
        Field::new("at", touchstone_core::schema::timestamp_type(), false),
        Field::new("x", DataType::Float64, true),
    ];
    fields.extend((0..n_dims).map(|d| Field::new(format!("d{d}"), DataType::Utf8, true)));
    let schema = Arc::new(Schema::new(fields));
    let ctx = SessionContext::new();
    ctx.register_table("facts", Arc::new(MemTable::try_new(schema, vec![vec![]])?))?;
    let text = library_yaml(n_metrics, n_dims);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let started = Instant::now();
        let file: MetricFile = touchstone_core::yaml::parse("bench.yaml", &text)?;
        let (library, problems) = assemble(vec![("bench.yaml".into(), "bench".into(), file)]);
        if !problems.is_empty() {
            return Err(format!("{problems:?}").into());
        }
        let plan = touchstone_metrics::compile_all(&ctx, &library)
            .await?
            .ok_or("no plan")?;
        let _physical = plan.create_physical_plan().await?;
        best = best.min(started.elapsed().as_secs_f64());
    }
    println!(
        "metric library: {n_metrics} metrics x {n_dims} dimensions parsed, compiled and planned in {best:.3} s (best of 5)"
    );
    Ok(())
}
