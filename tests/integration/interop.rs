//! The outputs open in the tools analysts use: the `deltalake` Python package, pyarrow and
//! DuckDB, and `touchstone query`; and the whole pipeline runs against a real S3 server (moto).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use crate::common::*;

/// Counts of marts/fct_touchpoints and marts/metric_values as three readers see them.
const READ_BACK: &str = r#"
import json, sys
import deltalake, duckdb, pyarrow.parquet as pq

root, options = sys.argv[1], json.loads(sys.argv[2])
out = {}
for name in ["fct_touchpoints", "metric_values", "customer_rfm"]:
    table = deltalake.DeltaTable(f"{root}/marts/{name}", storage_options=options or None)
    arrow_table = table.to_pyarrow_table()
    out[name] = {"deltalake": arrow_table.num_rows, "version": table.version()}
    if not options:
        # Plain pyarrow over the data files the Delta log lists.
        files = table.file_uris()
        out[name]["pyarrow"] = sum(pq.ParquetFile(f.removeprefix("file://")).metadata.num_rows for f in files)
    con = duckdb.connect()
    con.register("t", table.to_pyarrow_dataset())
    out[name]["duckdb"] = con.execute("select count(*) from t").fetchone()[0]
csat = duckdb.connect()
csat.register("m", deltalake.DeltaTable(f"{root}/marts/metric_values", storage_options=options or None).to_pyarrow_dataset())
out["csat_days"] = csat.execute(
    "select count(*) from m where metric = 'csat_pct' and dimensions = '' and value between 0 and 100"
).fetchone()[0]
print(json.dumps(out))
"#;

fn read_back(root: &str, options: &str) -> serde_json::Value {
    let output = Command::new(python())
        .args(["-c", READ_BACK, root, options])
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("python JSON")
}

fn query_count(warehouse: &str, table: &str, env: &[(&str, String)]) -> u64 {
    let output = touchstone()
        .args(["query", "--warehouse", warehouse, "--format", "json"])
        .arg(format!("select count(*) as n from {table}"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("query");
    assert_success(&output);
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json rows");
    rows[0]["n"].as_u64().expect("count")
}

#[test]
fn outputs_open_in_deltalake_pyarrow_duckdb_and_touchstone_query() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 300, 14, 11);
    let warehouse = dir.path().join("wh").to_string_lossy().to_string();
    assert_success(&run_pipeline(&raw, &warehouse, "2026-08-14", &[]));

    let seen = read_back(&warehouse, "{}");
    for table in ["fct_touchpoints", "metric_values", "customer_rfm"] {
        let expected = query_count(&warehouse, table, &[]);
        assert!(expected > 0, "{table} is empty");
        for reader in ["deltalake", "pyarrow", "duckdb"] {
            assert_eq!(
                seen[table][reader].as_u64(),
                Some(expected),
                "{reader} reading {table}: {seen}"
            );
        }
    }
    assert!(seen["csat_days"].as_u64().unwrap_or(0) > 0, "{seen}");

    // CSV output has a header and one line per row.
    let output = touchstone()
        .args(["query", "--warehouse", &warehouse, "--format", "csv"])
        .arg("select channel, count(*) as n from fct_touchpoints group by channel order by channel")
        .output()
        .expect("query");
    assert_success(&output);
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("channel,n"));
    assert_eq!(lines.count(), 6, "{text}");

    // A query error names the problem and lists the tables.
    let output = touchstone()
        .args([
            "query",
            "--warehouse",
            &warehouse,
            "select * from fct_touchpoint",
        ])
        .output()
        .expect("query");
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("fct_touchpoint") && err.contains("tables: "),
        "{err}"
    );
}

/// A moto S3 server on a free loopback port, stopped by its process id when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut child = Command::new(python())
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start moto");
        // moto logs "Running on http://127.0.0.1:PORT" once it listens.
        let stderr = child.stderr.take().expect("moto stderr");
        let mut lines = BufReader::new(stderr).lines();
        let ready = lines
            .by_ref()
            .take(50)
            .any(|l| l.map(|l| l.contains("Running on")).unwrap_or(false));
        assert!(ready, "moto did not start");
        std::thread::spawn(move || for _ in lines {});
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

const S3_SETUP: &str = r#"
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3.create_bucket(Bucket="touchstone")
raw = sys.argv[1]
for folder, _, files in os.walk(raw):
    for name in files:
        path = os.path.join(folder, name)
        key = "raw/" + os.path.relpath(path, raw)
        if not key.startswith("raw/truth/"):
            s3.upload_file(path, "touchstone", key)
"#;

#[test]
fn the_pipeline_runs_on_s3() {
    let moto = Moto::start();
    let env = moto.env();
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 150, 7, 5);
    let setup = Command::new(python())
        .args(["-c", S3_SETUP])
        .arg(&raw)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("python");
    assert!(
        setup.status.success(),
        "{}",
        String::from_utf8_lossy(&setup.stderr)
    );

    let warehouse = "s3://touchstone/warehouse";
    let output = touchstone()
        .args([
            "run",
            "pipelines/customer_success.yaml",
            "--date",
            "2026-08-07",
            "--json",
        ])
        .env("TOUCHSTONE_RAW", "s3://touchstone/raw")
        .env("TOUCHSTONE_WAREHOUSE", warehouse)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run");
    assert_success(&output);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    for s in summary["sources"].as_array().expect("sources") {
        assert!(s["rows_staged"].as_u64().unwrap_or(0) > 0, "{s}");
    }

    let n = query_count(warehouse, "fct_touchpoints", &env);
    assert!(n > 0);
    let options = serde_json::json!({
        "AWS_ENDPOINT_URL": moto.endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
    });
    let seen = read_back(warehouse, &options.to_string());
    assert_eq!(
        seen["fct_touchpoints"]["deltalake"].as_u64(),
        Some(n),
        "{seen}"
    );
    assert_eq!(
        seen["fct_touchpoints"]["duckdb"].as_u64(),
        Some(n),
        "{seen}"
    );
}
