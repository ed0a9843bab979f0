//! Operations: crash safety proven by killing `touchstone run` with SIGKILL at many points, the
//! pipeline lock on local disk, S3 (moto) and Azure Blob (Azurite), the ledger commands and
//! resumable backfills.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use touchstone_pipeline::{Run, RunEvent};

use crate::common::*;
use crate::interop::{AZURE_SETUP, Azurite, Moto};

const DATE: &str = "2026-08-10";

fn run_file(pipeline: &Path, extra: &[&str], env: &[(&str, String)]) -> Output {
    touchstone()
        .args(["run", &pipeline.to_string_lossy(), "--date", DATE])
        .args(extra)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run touchstone")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Which part of a run an event is in.
fn phase(events: &[RunEvent], i: usize) -> &'static str {
    match &events[i] {
        RunEvent::Started { .. } | RunEvent::FileRead { .. } => "staging",
        RunEvent::TableCommitted { table, .. }
            if table.starts_with("staging/") || table.starts_with("rejects/") =>
        {
            "staging"
        }
        RunEvent::ModelStarted { .. } | RunEvent::MetricsStarted => "transforming",
        // The last commit is followed by the ledger's final row.
        RunEvent::TableCommitted { .. } if i + 2 == events.len() => "ledger write",
        RunEvent::TableCommitted { .. } => "committing",
        RunEvent::Recorded { .. } => "ledger write",
    }
}

/// `touchstone run` is killed with SIGKILL right after the Nth progress event, for N spread
/// over staging, transforming, committing and the ledger write. Each time: every table the
/// killed run left is readable and holds only rows a clean run has (no partial or foreign
/// table), and a rerun (which takes over the dead run's lock at once, saying so) gives every
/// table of a clean run; the killed run shows as `interrupted` in `touchstone runs`, and the
/// work directory it could not remove (spill files, cached views) is removed by the rerun.
#[tokio::test(flavor = "multi_thread")]
async fn killed_at_every_point_a_rerun_equals_a_clean_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 150, 10, 11);
    let date = NaiveDate::parse_from_str(DATE, "%Y-%m-%d").expect("date");

    // A clean run, in process, records its events: the points to kill at.
    let clean_wh = dir.path().join("clean").to_string_lossy().to_string();
    let prepared = prepare(&pipeline_file(&dir.path().join("clean-p"), &raw, &clean_wh)).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    Run::new(&prepared)
        .with_date(date)
        .with_progress(Arc::new(move |e: &RunEvent| {
            seen.lock().unwrap().push(e.clone())
        }))
        .await
        .expect("clean run");
    let events = events.lock().unwrap().clone();
    // Identity history (merges, a rerun's previous keys) depends on what earlier runs left.
    let clean = without_history(snapshot(&clean_wh).await);
    let n = events.len();
    assert!(n >= 20, "only {n} events");

    // Evenly spread points, plus the first of each phase and the two around the ledger write.
    let mut points: Vec<usize> = (0..24).map(|k| 1 + k * (n - 1) / 23).collect();
    for p in ["staging", "transforming", "committing", "ledger write"] {
        if let Some(i) = (0..n).find(|&i| phase(&events, i) == p) {
            points.push(i + 1);
        }
    }
    points.push(n - 1);
    points.sort_unstable();
    points.dedup();

    let mut per_phase: HashMap<&str, usize> = HashMap::new();
    let mut left_behind = 0;
    for (trial, &point) in points.iter().enumerate() {
        let what = phase(&events, point - 1);
        *per_phase.entry(what).or_default() += 1;
        let wh = dir.path().join(format!("k{point}"));
        let wh_text = wh.to_string_lossy().to_string();
        let pipeline = pipeline_file(&dir.path().join(format!("k{point}-p")), &raw, &wh_text);
        // The run's work directory (spill files, cached views) goes to this trial's TMPDIR.
        let tmp = dir.path().join(format!("k{point}-tmp"));
        std::fs::create_dir_all(&tmp).expect("tmp");
        let tmp_env = ("TMPDIR", tmp.to_string_lossy().to_string());
        let killed = run_file(
            &pipeline,
            &[],
            &[
                ("TOUCHSTONE_KILL_AFTER_EVENT", point.to_string()),
                tmp_env.clone(),
            ],
        );
        assert_eq!(
            killed.status.signal(),
            Some(9),
            "point {point} ({what}, {:?}) was not killed: {}",
            events[point - 1],
            text(&killed.stderr)
        );

        // What a reader sees now: committed tables only, each with rows of the clean run.
        let left = without_history(snapshot(&wh_text).await);
        for (table, rows) in left.iter().filter(|(t, _)| !t.starts_with("_touchstone")) {
            let mut expected: HashMap<&str, usize> = HashMap::new();
            for row in clean.get(table).map(Vec::as_slice).unwrap_or_default() {
                *expected.entry(row.0.as_str()).or_default() += 1;
            }
            for row in rows {
                let left_over = expected.get_mut(row.0.as_str());
                assert!(
                    left_over.as_ref().is_some_and(|n| **n > 0),
                    "point {point} ({what}): {table} holds a row a clean run does not: {}",
                    row.0
                );
                if let Some(n) = left_over {
                    *n -= 1;
                }
            }
        }

        left_behind += work_dirs(&tmp).len();
        let rerun = run_file(&pipeline, &[], &[tmp_env]);
        assert_success(&rerun);
        // The rerun removed what the killed run left, and its own directory when it ended.
        assert_eq!(
            work_dirs(&tmp),
            Vec::<String>::new(),
            "point {point} ({what}): work directories left after the rerun"
        );
        let stderr = text(&rerun.stderr);
        assert!(
            stderr.contains("took over the lock"),
            "point {point}: the rerun did not say it took over the lock: {stderr}"
        );
        assert_same_tables(&clean, &without_history(snapshot(&wh_text).await), 1e-9);

        if trial == 0 {
            // The ledger shows the killed run as interrupted and the rerun as succeeded.
            let output = touchstone()
                .args(["runs", "--warehouse", &wh_text, "--json"])
                .output()
                .expect("runs");
            assert_success(&output);
            let runs: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
            let statuses: Vec<&str> = runs
                .as_array()
                .expect("runs")
                .iter()
                .filter_map(|r| r["status"].as_str())
                .collect();
            assert_eq!(statuses, ["succeeded", "interrupted"], "{runs}");
            let id = runs[0]["run_id"].as_str().expect("id").to_string();
            let show = touchstone()
                .args(["runs", "show", &id, "--warehouse", &wh_text])
                .output()
                .expect("runs show");
            assert_success(&show);
            let shown = text(&show.stdout);
            for expected in [
                "status    succeeded",
                "marts/fct_touchpoints",
                "stg_web_events",
                "model:fct_touchpoints",
            ] {
                assert!(shown.contains(expected), "{expected} not in\n{shown}");
            }
        }
    }
    eprintln!(
        "killed `touchstone run` at {} of its {n} progress events ({:?}); every rerun equalled a clean run",
        points.len(),
        per_phase
    );
    assert!(points.len() >= 20);
    assert!(
        left_behind > 0,
        "no killed run left a work directory: the clean-up of dead runs' directories was not exercised"
    );
    for p in ["staging", "transforming", "committing", "ledger write"] {
        assert!(per_phase.get(p).is_some_and(|&k| k > 0), "no point in {p}");
    }
}

/// A lease as another process would write it.
/// The run work directories (`touchstone-run-*`) in `tmp`.
fn work_dirs(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .expect("tmp")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("touchstone-run-"))
        .collect()
}

fn lease_json(run_id: &str, owner: &str, expires_at: &str, released: bool) -> String {
    serde_json::json!({
        "pipeline": "customer_success",
        "owner": owner,
        "run_id": run_id,
        "acquired_at": "2026-01-01T00:00:00Z",
        "expires_at": expires_at,
        "released": released,
    })
    .to_string()
}

/// Row counts of a few tables, through `touchstone query`.
fn counts(warehouse: &str, env: &[(&str, String)]) -> String {
    let output = touchstone()
        .args(["query", "--warehouse", warehouse, "--format", "csv"])
        .arg(
            "select 'fct_touchpoints' as t, count(*) as n from fct_touchpoints \
             union all select 'stg_calls', count(*) from stg_calls \
             union all select 'stg_web_events', count(*) from stg_web_events \
             union all select 'metric_values', count(*) from metric_values order by 1",
        )
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("query");
    assert_success(&output);
    text(&output.stdout)
}

/// The lock on one warehouse: a live lease held elsewhere makes a run exit 5 naming the holder;
/// `--wait` waits until it is released and then runs; an expired lease is taken over with a log
/// line; two runs started together never both write (one commits, the other exits 5 or runs
/// after it) and no table holds a row twice.
fn lock_contention(
    warehouse: &str,
    env: &[(&str, String)],
    put_lease: &dyn Fn(&str),
    raw: &Path,
    dir: &Path,
) {
    let pipeline = pipeline_file(&dir.join("lock-p"), raw, warehouse);

    put_lease(&lease_json(
        "other-run",
        "elsewhere:1",
        "2999-01-01T00:00:00Z",
        false,
    ));
    let held = run_file(&pipeline, &[], env);
    let stderr = text(&held.stderr);
    assert_eq!(held.status.code(), Some(5), "{warehouse}: {stderr}");
    assert!(
        stderr.contains("is locked by run other-run (elsewhere:1)"),
        "{warehouse}: {stderr}"
    );

    // --wait: the run waits, the holder releases, the run goes on.
    let mut child = touchstone()
        .args(["run", &pipeline.to_string_lossy(), "--date", DATE, "--wait"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut log = String::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        log.push_str(&line);
        log.push('\n');
        if line.contains("waiting") {
            put_lease(&lease_json(
                "other-run",
                "elsewhere:1",
                "2999-01-01T00:00:00Z",
                true,
            ));
            break;
        }
    }
    for line in lines {
        log.push_str(&line.expect("line"));
        log.push('\n');
    }
    let status = child.wait().expect("wait");
    assert!(status.success(), "{warehouse}: {status}: {log}");
    assert!(log.contains("waiting"), "{warehouse}: never waited: {log}");
    let after_one = counts(warehouse, env);

    // A lease left by a crashed run elsewhere, expired: two runs race to take it over.
    put_lease(&lease_json(
        "crashed-run",
        "elsewhere:2",
        "2000-01-01T00:00:00Z",
        false,
    ));
    let spawn = || {
        touchstone()
            .args(["run", &pipeline.to_string_lossy(), "--date", DATE])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (a, b) = (spawn(), spawn());
    let outputs = [
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    ];
    let mut codes: Vec<i32> = outputs.iter().filter_map(|o| o.status.code()).collect();
    codes.sort_unstable();
    let logs: Vec<String> = outputs.iter().map(|o| text(&o.stderr)).collect();
    assert!(
        codes == [0, 5] || codes == [0, 0],
        "{warehouse}: exit codes {codes:?}: {logs:?}"
    );
    let took_over: Vec<&String> = logs
        .iter()
        .filter(|l| {
            l.contains("took over the lock of pipeline 'customer_success' from run crashed-run")
        })
        .collect();
    assert_eq!(took_over.len(), 1, "{warehouse}: {logs:?}");
    assert!(took_over[0].contains("expired"), "{}", took_over[0]);
    if codes == [0, 5] {
        assert!(
            logs.iter().any(|l| l.contains("is locked by run")),
            "{warehouse}: {logs:?}"
        );
    }
    assert_eq!(
        counts(warehouse, env),
        after_one,
        "{warehouse}: rows duplicated"
    );
    eprintln!("{warehouse}: concurrent runs exited {codes:?}");
}

#[test]
fn the_lock_on_local_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 150, 7, 5);
    let wh = dir.path().join("wh");
    let lease = wh.join("_touchstone/lock/customer_success.json");
    let put = |json: &str| {
        std::fs::create_dir_all(lease.parent().expect("dir")).expect("mkdir");
        // Written aside and renamed, as a store would replace it.
        let tmp = lease.with_extension("tmp");
        std::fs::write(&tmp, json).expect("write lease");
        std::fs::rename(&tmp, &lease).expect("rename lease");
    };
    lock_contention(&wh.to_string_lossy(), &[], &put, &raw, dir.path());
}

const S3_LEASE: &str = r#"
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
if sys.argv[1] == "setup":
    s3.create_bucket(Bucket="touchstone")
else:
    s3.put_object(Bucket="touchstone", Key=sys.argv[1], Body=sys.argv[2].encode())
"#;

fn python_ok(script: &str, args: &[&str], env: &[(&str, String)]) {
    let output = Command::new(python())
        .args(["-c", script])
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("python");
    assert!(output.status.success(), "{}", text(&output.stderr));
}

#[test]
fn the_lock_on_s3() {
    let moto = Moto::start();
    let env = moto.env();
    python_ok(S3_LEASE, &["setup"], &env);
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 150, 7, 5);
    let put = |json: &str| {
        python_ok(
            S3_LEASE,
            &["warehouse/_touchstone/lock/customer_success.json", json],
            &env,
        )
    };
    lock_contention("s3://touchstone/warehouse", &env, &put, &raw, dir.path());
}

const AZURE_LEASE: &str = r#"
import os, sys
from azure.storage.blob import BlobServiceClient
account, key = os.environ["AZURE_STORAGE_ACCOUNT_NAME"], os.environ["AZURE_STORAGE_ACCOUNT_KEY"]
conn = ("DefaultEndpointsProtocol=http;AccountName=" + account + ";AccountKey=" + key +
        ";BlobEndpoint=" + os.environ["AZURITE_BLOB_STORAGE_URL"] + "/" + account + ";")
client = BlobServiceClient.from_connection_string(conn)
client.get_blob_client("touchstone", sys.argv[1]).upload_blob(sys.argv[2].encode(), overwrite=True)
"#;

#[test]
fn the_lock_on_azure_blob_storage() {
    let azurite = Azurite::start();
    let env = azurite.env();
    python_ok(AZURE_SETUP, &[], &env);
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 150, 7, 5);
    let put = |json: &str| {
        python_ok(
            AZURE_LEASE,
            &["warehouse/_touchstone/lock/customer_success.json", json],
            &env,
        )
    };
    lock_contention("az://touchstone/warehouse", &env, &put, &raw, dir.path());
}

/// A backfill killed in the middle of its second date resumes: the date it committed is
/// skipped, the interrupted date and the rest run, each date is committed exactly once.
#[test]
fn an_interrupted_backfill_resumes_without_rerunning_committed_dates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 150, 10, 11);
    let wh = dir.path().join("wh").to_string_lossy().to_string();
    let pipeline = pipeline_file(&dir.path().join("p"), &raw, &wh);
    let backfill = |from: &str, to: &str, env: &[(&str, &str)]| {
        touchstone()
            .args([
                "backfill",
                &pipeline.to_string_lossy(),
                "--from",
                from,
                "--to",
                to,
            ])
            .envs(env.iter().copied())
            .output()
            .expect("backfill")
    };
    let first = backfill("2026-08-08", "2026-08-08", &[]);
    assert_success(&first);
    // 08 is skipped (no events), 09 is killed after its third event.
    let killed = backfill(
        "2026-08-08",
        "2026-08-10",
        &[("TOUCHSTONE_KILL_AFTER_EVENT", "3")],
    );
    assert_eq!(killed.status.signal(), Some(9), "{}", text(&killed.stderr));
    let out = text(&killed.stdout);
    assert!(out.contains("2026-08-08  skipped"), "{out}");
    assert!(!out.contains("2026-08-09"), "{out}");

    let resumed = backfill("2026-08-08", "2026-08-10", &[]);
    assert_success(&resumed);
    let out = text(&resumed.stdout);
    for line in ["2026-08-08  skipped", "2026-08-09  ran", "2026-08-10  ran"] {
        assert!(out.contains(line), "{line} not in\n{out}");
    }
    assert!(out.contains("3 dates, 2 run, 1 already committed"), "{out}");

    let ledger = touchstone()
        .args(["query", "--warehouse", &wh, "--format", "csv"])
        .arg(
            "select cast(logical_date as varchar) as d, count(*) as n from _touchstone_runs \
             where status = 'succeeded' group by 1 order by 1",
        )
        .output()
        .expect("query");
    assert_success(&ledger);
    assert_eq!(
        text(&ledger.stdout),
        "d,n\n2026-08-08,1\n2026-08-09,1\n2026-08-10,1\n"
    );
    // A third pass has nothing to do.
    let again = backfill("2026-08-08", "2026-08-10", &[]);
    assert_success(&again);
    assert!(text(&again.stdout).contains("3 dates, 0 run, 3 already committed"));

    // Housekeeping compacts and vacuums without changing a row.
    let before = counts(&wh, &[]);
    let maintain = touchstone()
        .args(["maintain", &pipeline.to_string_lossy()])
        .output()
        .expect("maintain");
    assert_success(&maintain);
    let out = text(&maintain.stdout);
    assert!(
        out.contains("tables maintained; versions of the last 7 days kept"),
        "{out}"
    );
    assert!(out.contains("staging/stg_web_events"), "{out}");
    assert_eq!(counts(&wh, &[]), before);
}

/// `validate` warns (and still passes) when a credential is written in the pipeline file.
#[test]
fn validate_warns_on_a_literal_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipeline = pipeline_file(dir.path(), &dir.path().join("raw"), "warehouse");
    let yaml = std::fs::read_to_string(&pipeline).expect("read");
    std::fs::write(
        &pipeline,
        yaml.replacen(
            "description: Cross-channel",
            "description: (key AKIAIOSFODNN7EXAMPLE) Cross-channel",
            1,
        ),
    )
    .expect("write");
    let output = touchstone()
        .args(["validate", &pipeline.to_string_lossy()])
        .output()
        .expect("validate");
    assert_success(&output);
    let err = text(&output.stderr);
    assert!(
        err.contains(":8: warning: an AWS access key id is written in the file"),
        "{err}"
    );
}

/// `--help` lists the exit codes a scheduler acts on.
#[test]
fn help_lists_the_exit_codes() {
    let output = touchstone().arg("--help").output().expect("help");
    assert_success(&output);
    let help = text(&output.stdout);
    for line in [
        "0  success",
        "1  invalid configuration",
        "2  the run or query failed",
        "3  a source matched no file",
        "4  a source rejected more than",
        "5  another run of the pipeline holds its lock",
    ] {
        assert!(help.contains(line), "{line} not in\n{help}");
    }
}

/// The scheduler binary, idle between due times, serves `/healthz` and stops cleanly on
/// SIGTERM (the in-process tests cover a run in progress through the same stop channel).
#[test]
fn the_scheduler_binary_serves_health_and_stops_on_sigterm() {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 50, 5, 3);
    let wh = dir.path().join("wh").to_string_lossy().to_string();
    let pipeline = pipeline_file(&dir.path().join("p"), &raw, &wh);
    let mut yaml = std::fs::read_to_string(&pipeline).expect("pipeline");
    // Due once a year, nothing to catch up: the scheduler waits.
    yaml.push_str("\nschedule:\n  cron: \"0 3 1 1 *\"\n  catch_up_days: 0\n");
    std::fs::write(&pipeline, yaml).expect("write pipeline");
    let mut child = touchstone()
        .args([
            "schedule",
            &pipeline.to_string_lossy(),
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the scheduler");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The address it listens on is in its start line.
    let mut log = Vec::new();
    let addr = loop {
        let line = match rx.recv_timeout(std::time::Duration::from_secs(120)) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                panic!("no start line ({e}): {log:?}");
            }
        };
        log.push(line.clone());
        if let Some(rest) = line.split("health on http://").nth(1) {
            break rest.split('/').next().expect("address").to_string();
        }
    };
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect to /healthz");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.ends_with("ok") || response.contains("\r\n\r\nok"),
        "{response}"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let exit = child.wait().expect("wait for the scheduler");
    log.extend(rx.try_iter());
    assert!(exit.success(), "{exit:?}: {log:?}");
    assert!(
        log.iter()
            .any(|l| l.contains("stopping after the current run")),
        "{log:?}"
    );
}
