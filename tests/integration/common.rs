//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use touchstone_load::Warehouse;

/// The repository root (where `sql/` and `pipelines/` are).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The `touchstone` binary under test.
pub fn touchstone() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_touchstone"));
    cmd.current_dir(repo_root())
        .env_remove("RUST_LOG")
        .arg("--no-progress");
    cmd
}

/// Writes generated exports into `dir`.
pub fn generate(
    dir: &Path,
    customers: u64,
    days: u32,
    seed: u64,
) -> touchstone_synth::GenerateSummary {
    let options = touchstone_synth::GenerateOptions {
        out: dir.to_path_buf(),
        customers,
        days,
        seed,
        ..touchstone_synth::GenerateOptions::default()
    };
    touchstone_synth::generate(&options, &|_| {}).expect("generate exports")
}

/// A copy of the default pipeline in `dir` that reads `raw` and writes `warehouse` (for
/// in-process runs, which cannot set `TOUCHSTONE_RAW` in a shared process environment).
pub fn pipeline_file(dir: &Path, raw: &Path, warehouse: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("pipeline dir");
    let file = dir.join("pipeline.yaml");
    let text = std::fs::read_to_string(repo_root().join("pipelines/customer_success.yaml"))
        .expect("default pipeline")
        .replace("${TOUCHSTONE_RAW:-data/raw}", &raw.to_string_lossy())
        .replace("${TOUCHSTONE_WAREHOUSE:-warehouse}", warehouse);
    std::fs::write(&file, text).expect("write pipeline");
    file
}

/// Checks and loads a pipeline file (relative paths from the repository root).
pub async fn prepare(file: &Path) -> touchstone_pipeline::Prepared {
    touchstone_pipeline::Prepared::load(file, &repo_root())
        .await
        .expect("valid pipeline")
}

/// Runs the default pipeline on `raw`, writing to `warehouse`, and returns the process output.
pub fn run_pipeline(raw: &Path, warehouse: &str, date: &str, extra: &[&str]) -> Output {
    touchstone()
        .args(["run", "pipelines/customer_success.yaml", "--date", date])
        .args(extra)
        .env("TOUCHSTONE_RAW", raw)
        .env("TOUCHSTONE_WAREHOUSE", warehouse)
        .output()
        .expect("run touchstone")
}

/// Asserts the process succeeded, showing its output when it did not.
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A session over every committed table of `warehouse` plus the truth tables of `raw`
/// (`truth_<name>`).
pub async fn session(warehouse: &str, raw: &Path) -> SessionContext {
    let ctx = SessionContext::new();
    let url = touchstone_core::store::resolve_url(warehouse, &repo_root()).expect("warehouse url");
    Warehouse::open(&url)
        .expect("open warehouse")
        .register_all(&ctx)
        .await
        .expect("register tables");
    for entry in std::fs::read_dir(raw.join("truth")).expect("truth dir") {
        let path = entry.expect("truth entry").path();
        let name = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .to_string();
        ctx.register_parquet(
            format!("truth_{name}"),
            path.to_string_lossy().as_ref(),
            Default::default(),
        )
        .await
        .expect("register truth");
    }
    ctx
}

/// Runs `sql` and returns the rows.
pub async fn rows(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    ctx.sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The single value of a one-row, one-column query, as f64.
pub async fn scalar(ctx: &SessionContext, sql: &str) -> f64 {
    let batches = rows(ctx, sql).await;
    let batch = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .unwrap_or_else(|| panic!("no rows: {sql}"));
    let column =
        arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Float64).expect("cast");
    let values = column
        .as_any()
        .downcast_ref::<arrow::array::Float64Array>()
        .expect("f64");
    values.value(0)
}

/// Rows of a two-column (key, value) query.
pub async fn pairs(ctx: &SessionContext, sql: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for batch in rows(ctx, sql).await {
        let keys = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)
            .expect("cast key");
        let keys = keys
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .expect("utf8");
        let values = arrow::compute::cast(batch.column(1), &arrow::datatypes::DataType::Float64)
            .expect("cast value");
        let values = values
            .as_any()
            .downcast_ref::<arrow::array::Float64Array>()
            .expect("f64");
        for i in 0..batch.num_rows() {
            out.push((keys.value(i).to_string(), values.value(i)));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Runs `script` (`python -c`) with `args` in the test venv and parses what it prints as JSON;
/// a failing script fails the test with its stderr.
pub fn python_json(script: &str, args: &[&str]) -> serde_json::Value {
    let output = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("python JSON")
}

/// The Python interpreter of the test venv (`make test` sets TOUCHSTONE_PYTHON).
pub fn python() -> PathBuf {
    let path = std::env::var_os("TOUCHSTONE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| repo_root().join("target"));
            target.join("venv/bin/python")
        });
    assert!(
        path.exists(),
        "Python with pyarrow/deltalake/duckdb not found at {}; run `make test-deps` (or `make test`), or set TOUCHSTONE_PYTHON",
        path.display()
    );
    path
}

/// One row: its non-float cells as text, and its floats.
pub type Row = (String, Vec<Option<f64>>);

/// Every row of every table of a warehouse, each table's rows sorted.
pub async fn snapshot(warehouse: &str) -> std::collections::BTreeMap<String, Vec<Row>> {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let url = touchstone_core::store::resolve_url(warehouse, &repo_root()).expect("url");
    let reader = touchstone_pipeline::WarehouseReader::open(&url).expect("open");
    let (ctx, tables) = reader.session().await.expect("session");
    let mut out = std::collections::BTreeMap::new();
    for t in tables {
        let name = t.sql_name();
        let mut table_rows: Vec<Row> = Vec::new();
        for batch in rows(&ctx, &format!("select * from {name}")).await {
            let options = FormatOptions::default().with_null("∅");
            let mut texts = Vec::new();
            let mut floats = Vec::new();
            for c in batch.columns() {
                match c.as_any().downcast_ref::<arrow::array::Float64Array>() {
                    Some(f) => floats.push(f),
                    None => texts
                        .push(ArrayFormatter::try_new(c.as_ref(), &options).expect("formatter")),
                }
            }
            for row in 0..batch.num_rows() {
                let cells: Vec<String> = texts.iter().map(|f| f.value(row).to_string()).collect();
                let values = floats
                    .iter()
                    .map(|f| (!arrow::array::Array::is_null(*f, row)).then(|| f.value(row)))
                    .collect();
                table_rows.push((cells.join("|"), values));
            }
        }
        table_rows.sort_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| {
                let bits = |v: &Vec<Option<f64>>| {
                    v.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>()
                };
                bits(&a.1).cmp(&bits(&b.1))
            })
        });
        out.insert(name, table_rows);
    }
    out
}

/// Asserts two snapshots hold the same tables and rows: every key, count, text and date
/// exactly, floats to `tolerance` (relative). `_touchstone_*` tables are left out (they
/// describe runs, not data).
pub fn assert_same_tables(
    a: &std::collections::BTreeMap<String, Vec<Row>>,
    b: &std::collections::BTreeMap<String, Vec<Row>>,
    tolerance: f64,
) {
    let data = |m: &std::collections::BTreeMap<String, Vec<Row>>| {
        m.keys()
            .filter(|k| !k.starts_with("_touchstone"))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(data(a), data(b));
    for table in data(a) {
        let (rows_a, rows_b) = (&a[&table], &b[&table]);
        assert_eq!(rows_a.len(), rows_b.len(), "{table}");
        for (x, y) in rows_a.iter().zip(rows_b) {
            assert_eq!(x.0, y.0, "{table}: rows differ");
            for (u, v) in x.1.iter().zip(&y.1) {
                let same = match (u, v) {
                    (Some(u), Some(v)) => {
                        u.to_bits() == v.to_bits()
                            || (u - v).abs() <= tolerance * u.abs().max(v.abs())
                    }
                    (None, None) => true,
                    _ => false,
                };
                assert!(same, "{table}: {u:?} != {v:?} in row {}", x.0);
            }
        }
    }
}

/// A snapshot without what depends on the warehouse's history rather than on the inputs: the
/// identity merge log, each identifier's key in the previous run (the last column of
/// customer_identity), and the names of anonymous customers (`anon:<hash>`), which a warehouse
/// keeps from the run that first saw the customer while a fresh one names them after the
/// earliest identifier it sees (data arriving out of order can make those differ). Anonymous
/// keys are renamed after the customer's smallest identifier, everywhere, also where they
/// begin a journey id (`<customer_key>#<n>`).
pub fn without_history(
    mut snapshot: std::collections::BTreeMap<String, Vec<Row>>,
) -> std::collections::BTreeMap<String, Vec<Row>> {
    snapshot.retain(|name, _| !name.ends_with("identity_merges"));
    let mut names: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for (name, rows) in snapshot.iter_mut() {
        if name.ends_with("customer_identity") {
            for row in rows.iter_mut() {
                if let Some(cut) = row.0.rfind('|') {
                    row.0.truncate(cut);
                }
                let cells: Vec<&str> = row.0.splitn(4, '|').collect();
                if let [id_type, id_value, key, _] = cells[..]
                    && key.starts_with("anon:")
                {
                    let canonical = format!("anon({id_type}:{id_value})");
                    let entry = names.entry(key.to_string()).or_insert(canonical.clone());
                    if canonical < *entry {
                        *entry = canonical;
                    }
                }
            }
        }
    }
    for rows in snapshot.values_mut() {
        for row in rows.iter_mut() {
            if row.0.contains("anon:") {
                row.0 = row
                    .0
                    .split('|')
                    .map(|cell| match names.get(cell) {
                        Some(name) => name.clone(),
                        // A journey id: `<customer_key>#<n>`.
                        None => match cell.rsplit_once('#') {
                            Some((key, n)) if names.contains_key(key) => {
                                format!("{}#{n}", names[key])
                            }
                            _ => cell.to_string(),
                        },
                    })
                    .collect::<Vec<_>>()
                    .join("|");
            }
        }
        rows.sort_by(|a, b| {
            let bits =
                |v: &Vec<Option<f64>>| v.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>();
            a.0.cmp(&b.0).then_with(|| bits(&a.1).cmp(&bits(&b.1)))
        });
    }
    snapshot
}
