//! The outputs open in the tools analysts use: the `deltalake` Python package, pyarrow and
//! DuckDB, and `touchstone query`; and the whole pipeline runs against real S3 (moto) and
//! Azure Blob (Azurite) servers.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};

use crate::common::*;

/// Counts of marts/fct_touchpoints and marts/metric_values as three readers see them.
const READ_BACK: &str = r#"
import json, os, sys
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
print(json.dumps(out), flush=True)
# deltalake's native threads can abort the interpreter's shutdown ("terminate called without an
# active exception", delta-io/delta-rs#2184) after all the work above is done: skip the teardown.
os._exit(0)
"#;

fn read_back(root: &str, options: &str) -> serde_json::Value {
    python_json(READ_BACK, &[root, options])
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

/// A server process on a loopback port, stopped by its process id when dropped.
struct LocalServer {
    child: Child,
    port: u16,
}

impl LocalServer {
    /// A free port on 127.0.0.1 for a server to bind.
    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port()
    }

    /// Starts `command` (which must listen on `port`) and waits until the port accepts a
    /// connection; a process that exits first fails the test with its output.
    fn start(what: &str, mut command: Command, port: u16) -> LocalServer {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("{what} exited with {status} before listening:\n{err}");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what} did not listen on 127.0.0.1:{port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        // Keep draining its log so a chatty server never blocks on a full pipe.
        if let Some(e) = child.stderr.take() {
            std::thread::spawn(move || std::io::copy(&mut { e }, &mut std::io::sink()));
        }
        LocalServer { child, port }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// A moto S3 server on a free loopback port.
pub(crate) struct Moto {
    _server: LocalServer,
    pub(crate) endpoint: String,
}

impl Moto {
    pub(crate) fn start() -> Moto {
        let port = LocalServer::free_port();
        let mut command = Command::new(python());
        command.args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ]);
        let server = LocalServer::start("moto", command, port);
        Moto {
            endpoint: server.endpoint(),
            _server: server,
        }
    }

    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
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
    // Every source found and read its files on S3 (a small sample's relationship survey export
    // can hold a header only), and the run staged rows.
    let sources = summary["sources"].as_array().expect("sources");
    for s in sources {
        assert!(s["files"].as_u64().unwrap_or(0) > 0, "{s}");
    }
    let staged: u64 = sources
        .iter()
        .map(|s| s["rows_staged"].as_u64().unwrap_or(0))
        .sum();
    assert!(staged > 0, "{summary}");

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

/// An Azurite blob server on a free loopback port.
pub(crate) struct Azurite {
    _server: LocalServer,
    pub(crate) endpoint: String,
    _data: tempfile::TempDir,
}

impl Azurite {
    pub(crate) fn start() -> Azurite {
        let bin = std::env::var_os("TOUCHSTONE_AZURITE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                let target = std::env::var_os("CARGO_TARGET_DIR")
                    .map(std::path::PathBuf::from)
                    .unwrap_or_else(|| repo_root().join("target"));
                target.join("node/node_modules/.bin/azurite-blob")
            });
        assert!(
            bin.exists(),
            "Azurite not found at {}; run `make test-deps` (or `make test`), or set TOUCHSTONE_AZURITE",
            bin.display()
        );
        let port = LocalServer::free_port();
        let data = tempfile::tempdir().expect("azurite dir");
        let mut command = Command::new(bin);
        command
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args([
                "--skipApiVersionCheck",
                "--loose",
                "--disableTelemetry",
                "--silent",
            ])
            .arg("--location")
            .arg(data.path());
        let server = LocalServer::start("azurite", command, port);
        Azurite {
            endpoint: server.endpoint(),
            _server: server,
            _data: data,
        }
    }

    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
            ("AZURE_STORAGE_ACCOUNT_NAME", AZURITE_ACCOUNT.into()),
            ("AZURE_STORAGE_ACCOUNT_KEY", AZURITE_KEY.into()),
            ("AZURITE_BLOB_STORAGE_URL", self.endpoint.clone()),
        ]
    }
}

/// Azurite's fixed development account (documented, public).
const AZURITE_ACCOUNT: &str = "devstoreaccount1";
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

pub(crate) const AZURE_SETUP: &str = r#"
import os
from azure.storage.blob import BlobServiceClient
account, key = os.environ["AZURE_STORAGE_ACCOUNT_NAME"], os.environ["AZURE_STORAGE_ACCOUNT_KEY"]
conn = ("DefaultEndpointsProtocol=http;AccountName=" + account + ";AccountKey=" + key +
        ";BlobEndpoint=" + os.environ["AZURITE_BLOB_STORAGE_URL"] + "/" + account + ";")
BlobServiceClient.from_connection_string(conn).create_container("touchstone")
"#;

#[test]
fn the_pipeline_writes_to_azure_blob_storage() {
    let azurite = Azurite::start();
    let env = azurite.env();
    let setup = Command::new(python())
        .args(["-c", AZURE_SETUP])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("python");
    assert!(
        setup.status.success(),
        "{}",
        String::from_utf8_lossy(&setup.stderr)
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 120, 7, 6);
    let warehouse = "az://touchstone/warehouse";
    let output = touchstone()
        .args([
            "run",
            "pipelines/customer_success.yaml",
            "--date",
            "2026-08-07",
        ])
        .env("TOUCHSTONE_RAW", &raw)
        .env("TOUCHSTONE_WAREHOUSE", warehouse)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run");
    assert_success(&output);
    let n = query_count(warehouse, "fct_touchpoints", &env);
    assert!(n > 0);
    let options = serde_json::json!({
        "azure_storage_use_emulator": "true",
        "azure_storage_account_name": AZURITE_ACCOUNT,
        "azure_storage_account_key": AZURITE_KEY,
        "azurite_blob_storage_url": azurite.endpoint,
    });
    let output = Command::new(python())
        .args(["-c", READ_BACK, warehouse, &options.to_string()])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("python");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(
        seen["fct_touchpoints"]["deltalake"].as_u64(),
        Some(n),
        "{seen}"
    );
}
