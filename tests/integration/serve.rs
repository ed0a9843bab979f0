//! `touchstone serve` with real PostgreSQL clients: `psql`, Python `psycopg`, the introspection
//! queries BI tools send when they connect, bad input, and 50 clients at once. Each server is
//! a `touchstone serve` process on a free 127.0.0.1 port, stopped by its process id.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::common::*;

const PASSWORD: &str = "s3cret pass";

/// A `touchstone serve` process, stopped by its pid when dropped; its log goes to a file.
struct Serve {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Serve {
    fn start(warehouse: &str, log: PathBuf, extra: &[&str]) -> Serve {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut child = touchstone()
            .args(["-v", "serve", "--warehouse", warehouse, "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start touchstone serve");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "touchstone serve exited with {status}:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "touchstone serve did not listen"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Serve { child, port, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is still running.
    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn psql(&self, user: &str, password: &str, args: &[&str]) -> Output {
        Command::new("psql")
            .arg(format!(
                "host=127.0.0.1 port={} dbname=touchstone user={user} sslmode=disable",
                self.port
            ))
            .args(["-X", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose"])
            .args(args)
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "30")
            .output()
            .expect("run psql (Debian postgresql-client; `make test-deps` installs it)")
    }

    /// psql `-c sql`, unaligned, tuples only, comma-separated; must succeed.
    fn rows(&self, sql: &str) -> Vec<String> {
        let output = self.psql("analyst", PASSWORD, &["-A", "-t", "-F", ",", "-c", sql]);
        assert_success(&output);
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn python(&self, script: &str, args: &[&str]) -> serde_json::Value {
        let output = Command::new(python())
            .args(["-c", script, &self.port.to_string(), PASSWORD])
            .args(args)
            .output()
            .expect("run python");
        assert!(
            output.status.success(),
            "python failed:\n{}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// A warehouse from a pipeline run on generated exports, and a users file with `analyst`.
fn warehouse(dir: &Path) -> (String, PathBuf, PathBuf) {
    let raw = dir.join("raw");
    generate(&raw, 150, 7, 13);
    let warehouse = dir.join("wh").to_string_lossy().to_string();
    assert_success(&run_pipeline(&raw, &warehouse, "2026-08-07", &[]));
    let users = dir.join("users");
    let mut add = touchstone()
        .args(["serve", "add-user", "analyst", "--users"])
        .arg(&users)
        .arg("--password-stdin")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("add-user");
    add.stdin
        .take()
        .expect("stdin")
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .expect("write password");
    assert_success(&add.wait_with_output().expect("add-user"));
    (warehouse, users, raw)
}

/// `touchstone query` as the reference answer.
fn reference(warehouse: &str, sql: &str) -> Vec<String> {
    let output = touchstone()
        .args(["query", "--warehouse", warehouse, "--format", "csv", sql])
        .output()
        .expect("query");
    assert_success(&output);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[test]
fn psql_lists_describes_and_queries_the_warehouse_and_bad_input_gets_postgres_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (warehouse, users, raw) = warehouse(dir.path());
    let users_arg = users.to_string_lossy().to_string();
    let mut server = Serve::start(
        &warehouse,
        dir.path().join("serve.log"),
        &["--users", &users_arg],
    );

    // \dt per schema: marts without the metric tables, which are in `metrics`; the ledger in
    // `ops`; staging not served without --staging.
    let output = server.psql("analyst", PASSWORD, &["-c", r"\dt marts.*"]);
    assert_success(&output);
    let text = String::from_utf8_lossy(&output.stdout);
    for table in [
        "fct_touchpoints",
        "fct_calls",
        "customer_value",
        "retention_curve",
    ] {
        assert!(
            text.contains(&format!(" marts  | {table} ")),
            "{table}:\n{text}"
        );
    }
    assert!(!text.contains("metric_values"), "{text}");
    let text = server.rows(r"select table_schema || '.' || table_name from information_schema.tables where table_schema in ('marts', 'metrics', 'ops', 'staging') order by 1");
    assert!(
        text.contains(&"metrics.metric_values".to_string()),
        "{text:?}"
    );
    assert!(text.contains(&"ops.runs".to_string()), "{text:?}");
    assert!(!text.iter().any(|t| t.starts_with("staging.")), "{text:?}");

    // \d: the columns with PostgreSQL types.
    let output = server.psql("analyst", PASSWORD, &["-c", r"\d marts.fct_touchpoints"]);
    assert_success(&output);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Table \"marts.fct_touchpoints\""), "{text}");
    for (column, kind) in [
        ("touchpoint_id", "text"),
        ("customer_key", "text"),
        ("started_at", "timestamp with time zone"),
        ("duration_secs", "double precision"),
    ] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(column) && l.contains(kind)),
            "{column} {kind}:\n{text}"
        );
    }

    // Descriptions: a mart's from the leading comment of its SQL model, the ledger's
    // built in; psql's `\dt+` reads them with obj_description, Metabase joins pg_description.
    let output = server.psql("analyst", PASSWORD, &["-c", r"\dt+ marts.fct_touchpoints"]);
    assert_success(&output);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("Every interaction of every channel"),
        "{text}"
    );
    assert_eq!(
        server.rows("select obj_description('marts.fct_calls'::regclass, 'pg_class') is not null"),
        ["t"]
    );
    let described = server.rows(
        "select c.relname from pg_catalog.pg_class c join pg_catalog.pg_description d \
         on d.objoid = c.oid and d.objsubid = 0 join pg_catalog.pg_namespace n \
         on n.oid = c.relnamespace where n.nspname = 'ops' order by 1",
    );
    assert!(described.contains(&"runs".to_string()), "{described:?}");
    // A mart column's description is the `comment` its Delta metadata got from
    // sql/marts/schema.yaml: col_description (as psql and BI tools look it up, through
    // pg_attribute) and pg_description (joined per column, as DBeaver does) show it.
    let docs = touchstone_transform::load_docs(&repo_root().join("sql"), &repo_root())
        .expect("model docs");
    let journeys = docs.columns("fct_journeys");
    assert_eq!(
        server.rows(
            "select col_description(a.attrelid, a.attnum) from pg_catalog.pg_attribute a \
             where a.attrelid = 'marts.fct_journeys'::regclass and a.attname = 'steps'"
        ),
        [journeys["steps"].clone()]
    );
    let described = server.rows(
        "select a.attname || '=' || d.description from pg_catalog.pg_attribute a \
         join pg_catalog.pg_description d on d.objoid = a.attrelid and d.objsubid = a.attnum \
         where a.attrelid = 'marts.fct_journeys'::regclass order by a.attname",
    );
    let expected: Vec<String> = journeys
        .iter()
        .map(|(column, text)| format!("{column}={text}"))
        .collect();
    assert_eq!(described, expected);

    // Analyst queries, checked against `touchstone query` on the same warehouse.
    let by_channel = "select channel, count(*) as n from marts.fct_touchpoints group by channel order by channel";
    let expected = reference(&warehouse, &by_channel.replace("marts.", ""));
    assert!(expected.len() >= 4, "{expected:?}");
    assert_eq!(server.rows(by_channel), expected);
    let csat = "select period_start, round(value, 2) from metrics.metric_values where metric = 'csat_pct' and dimensions = '' order by period_start";
    let expected = reference(&warehouse, &csat.replace("metrics.", ""));
    assert!(!expected.is_empty());
    assert_eq!(server.rows(csat), expected);
    // Unqualified names resolve in `marts`.
    assert_eq!(
        server.rows("select count(*) from fct_calls"),
        reference(&warehouse, "select count(*) from fct_calls")
    );

    // Bad input: each gets a PostgreSQL error with its SQLSTATE and the server goes on.
    let output = server.psql("analyst", "wrong password", &["-c", "select 1"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).to_lowercase().contains("password") || stderr(&output).contains("28P01"),
        "{}",
        stderr(&output)
    );
    let output = server.psql("nobody", PASSWORD, &["-c", "select 1"]);
    assert!(!output.status.success(), "an unknown user got in");
    for (sql, code) in [
        ("drop table marts.fct_calls", "25006"),
        (
            "insert into marts.fct_calls select * from marts.fct_calls",
            "25006",
        ),
        ("create table t as select 1", "25006"),
        (
            "copy (select 1) to '/tmp/touchstone-serve-test.csv'",
            "25006",
        ),
        (
            "create external table t stored as csv location '/etc/passwd'",
            "25006",
        ),
        ("select pg_read_file('/etc/passwd')", "42501"),
        ("select * from \"/etc/passwd\"", "42501"),
        ("set datafusion.execution.batch_size = 1", "42501"),
        ("selec * fro marts.fct_calls", "42601"),
        ("select * from marts.no_such_table", "42P01"),
    ] {
        let output = server.psql("analyst", PASSWORD, &["-c", sql]);
        assert!(!output.status.success(), "{sql} succeeded");
        let err = stderr(&output);
        assert!(err.contains(&format!("ERROR:  {code}:")), "{sql}: {err}");
    }
    assert!(!Path::new("/tmp/touchstone-serve-test.csv").exists());
    assert_eq!(server.rows("select 41 + 1"), ["42"]);

    // A client that disconnects in the middle of a large result.
    let mut reader = Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={} dbname=touchstone user=analyst sslmode=disable",
            server.port
        ))
        .args([
            "-X",
            "-A",
            "-t",
            "-c",
            "select v, repeat('x', 100) from generate_series(1, 20000000) as t(v)",
        ])
        .env("PGPASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql");
    let mut first = [0u8; 64];
    let _ = reader.stdout.as_mut().expect("stdout").read(&mut first);
    let _ = Command::new("kill")
        .args(["-9", &reader.id().to_string()])
        .status();
    let _ = reader.wait();
    assert!(server.alive(), "server died:\n{}", server.log());
    assert_eq!(server.rows("select 'still here'"), ["still here"]);

    // A new commit is seen by the next query, on the same server, without a restart.
    // A run writes a `running` row and its final row: count runs, not rows.
    let runs_before = server.rows("select count(distinct run_id) from ops.runs");
    assert_success(&run_pipeline(&raw, &warehouse, "2026-08-07", &[]));
    let runs_after = server.rows("select count(distinct run_id) from ops.runs");
    let count = |rows: &[String]| rows[0].parse::<u64>().expect("count");
    assert_eq!(count(&runs_after), count(&runs_before) + 1);
}

/// Typed results, parameters, BI tools' connect-time queries, and 50 clients for a few seconds
/// (the issue's 30 s soak belongs in a benchmark; the test keeps the machine shared).
const PSYCOPG: &str = r#"
import datetime, decimal, json, sys, threading, time
import psycopg

port, password = sys.argv[1], sys.argv[2]
expected = json.loads(sys.argv[3])
dsn = f"host=127.0.0.1 port={port} dbname=touchstone user=analyst password='{password}' sslmode=disable"
out = {}

with psycopg.connect(dsn, autocommit=True) as conn:
    # Parameterised, with typed results (the extended protocol with binary parameters).
    row = conn.execute(
        "select touchpoint_id, started_at, duration_secs, amount, channel = %s as is_voice, "
        "cast(started_at as date) as day, cast(null as bigint) as nothing, cast(1.25 as decimal(10, 2)) as price "
        "from marts.fct_touchpoints where channel = %s and started_at is not null order by touchpoint_id limit 1",
        ("voice", "voice"),
    ).fetchone()
    out["types"] = {
        "started_at": type(row[1]).__name__,
        "tz": str(row[1].tzinfo) if row[1] is not None else None,
        "duration": type(row[2]).__name__,
        "amount_null": row[3] is None,
        "is_voice": row[4],
        "day": type(row[5]).__name__,
        "nothing": row[6],
        "price": str(row[7]),
        "price_type": type(row[7]).__name__,
    }
    n = conn.execute("select count(*) from marts.fct_touchpoints where channel = %s", ("chat",)).fetchone()[0]
    out["chat_count"] = n
    ts = datetime.datetime(2026, 8, 3, tzinfo=datetime.timezone.utc)
    out["since"] = conn.execute(
        "select count(*) from marts.fct_touchpoints where started_at >= %s", (ts,)
    ).fetchone()[0]

    # Connect-time introspection of BI tools, as their sources send it.
    introspection = {
        # PgJDBC (Metabase, DBeaver, Tableau use it): PgDatabaseMetaData.getSchemas(),
        # pgjdbc/src/main/java/org/postgresql/jdbc/PgDatabaseMetaData.java
        "pgjdbc getSchemas": """SELECT nspname AS "TABLE_SCHEM", current_database() AS "TABLE_CATALOG" FROM pg_catalog.pg_namespace  WHERE nspname <> 'pg_toast' AND (nspname !~ '^pg_temp_'  OR nspname = (pg_catalog.current_schemas(true))[1]) AND (nspname !~ '^pg_toast_temp_'  OR nspname = replace((pg_catalog.current_schemas(true))[1], 'pg_temp_', 'pg_toast_temp_'))  ORDER BY "TABLE_SCHEM" """,
        # Metabase: get-tables-sql in src/metabase/driver/postgres.clj (describe-database),
        # github.com/metabase/metabase (AGPL-3.0), as HoneySQL renders it for schema marts.
        "metabase describe-database": """SELECT "n"."nspname" AS "schema", "c"."relname" AS "name", CASE "c"."relkind" WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS "type", "d"."description" AS "description", "stat"."n_live_tup" AS "estimated_row_count" FROM "pg_catalog"."pg_class" AS "c" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "c"."relnamespace" = "n"."oid" LEFT JOIN "pg_catalog"."pg_description" AS "d" ON ("c"."oid" = "d"."objoid") AND ("d"."objsubid" = 0) AND ("d"."classoid" = 'pg_class'::regclass) LEFT JOIN "pg_stat_user_tables" AS "stat" ON ("n"."nspname" = "stat"."schemaname") AND ("c"."relname" = "stat"."relname") WHERE ("c"."relnamespace" = "n"."oid") AND ("n"."nspname" !~ '^pg_') AND ("n"."nspname" <> 'information_schema') AND c.relkind in ('r', 'p', 'v', 'f', 'm') AND ("n"."nspname" IN ('marts')) ORDER BY "type" ASC, "schema" ASC, "name" ASC""",
        # Metabase: "show timezone;" in driver/db-default-timezone, src/metabase/driver/postgres.clj
        "metabase timezone": "show timezone;",
        # Grafana: showSchemas() and showTables(schema), github.com/grafana/grafana (AGPL-3.0),
        # public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts
        "grafana schemas": """SELECT schema_name AS "name"
    FROM information_schema.schemata
    WHERE schema_name NOT IN ('information_schema', 'pg_catalog', 'pg_toast', '_timescaledb_cache', '_timescaledb_catalog', '_timescaledb_internal', '_timescaledb_config', 'timescaledb_information', 'timescaledb_experimental')
    ORDER BY schema_name""",
        "grafana tables": """SELECT quote_ident(table_name) AS "table"
      FROM information_schema.tables
      WHERE quote_ident(table_schema) = 'marts'
      ORDER BY 1""",
        # Grafana: getSchema('marts.fct_calls') in the same file (the columns of a table).
        "grafana columns": """SELECT quote_ident(column_name) AS "column", data_type AS "type"
    FROM information_schema.columns
    WHERE
      CASE WHEN array_length(parse_ident('marts.fct_calls'),1) = 2
        THEN quote_ident(table_schema) = (parse_ident('marts.fct_calls'))[1]
          AND quote_ident(table_name) = (parse_ident('marts.fct_calls'))[2]
        ELSE quote_ident(table_name) = 'marts.fct_calls'
      END""",
        # Grafana: getVersion() in the same file.
        "grafana version": "SELECT current_setting('server_version_num')::int/100 as version",
    }
    # Not a client's probe: a setting the server does not have, with and without missing_ok.
    out["setting missing ok"] = conn.execute("select current_setting('no_such_setting', true) is null").fetchall()[0][0]
    try:
        conn.execute("select current_setting('no_such_setting')").fetchall()
        out["setting missing"] = "no error"
    except Exception as e:
        out["setting missing"] = str(e)
    results = {}
    for name, sql in introspection.items():
        try:
            rows = conn.execute(sql).fetchall()
            results[name] = [list(map(str, r)) for r in rows]
        except Exception as e:
            results[name] = f"ERROR {getattr(getattr(e, 'diag', None), 'sqlstate', None)}: {e}"
    out["introspection"] = results

    # PgJDBC's connect-time settings (QueryExecutorImpl / ConnectionFactoryImpl send these
    # as statements when the server version calls for it) and DBeaver's first query.
    for sql in ["SET extra_float_digits = 3", "SET application_name = 'PostgreSQL JDBC Driver'",
                "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
                "SELECT current_schema(), session_user"]:
        conn.execute(sql)

# 50 clients for 30 s (the issue's bar): each asks for its own number and a channel's count, with its own
# application_name; every answer must be its own and correct.
channels = expected["channels"]
report = {"ok": 0, "errors": [], "wrong": []}
lock = threading.Lock()
stop = time.monotonic() + 30

def client(i):
    channel = list(channels)[i % len(channels)]
    try:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f"SET application_name = 'client-{i}'")
            while time.monotonic() < stop:
                got = c.execute(
                    "select %s::bigint as me, count(*) as n from marts.fct_touchpoints where channel = %s",
                    (i, channel),
                ).fetchone()
                name = c.execute("show application_name").fetchone()[0]
                with lock:
                    if got[0] != i or got[1] != channels[channel] or name != f"client-{i}":
                        report["wrong"].append([i, channel, got[0], got[1], name])
                    else:
                        report["ok"] += 1
    except Exception as e:
        with lock:
            report["errors"].append(f"{i}: {getattr(getattr(e, 'diag', None), 'sqlstate', None)} {e}")

threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
for t in threads: t.start()
for t in threads: t.join()
out["concurrent"] = report
print(json.dumps(out, default=str))
"#;

#[test]
fn psycopg_gets_typed_results_bi_tools_introspect_and_50_clients_get_their_own_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (warehouse, users, _raw) = warehouse(dir.path());
    let users_arg = users.to_string_lossy().to_string();
    let server = Serve::start(
        &warehouse,
        dir.path().join("serve.log"),
        &["--users", &users_arg, "--max-concurrent-queries", "4"],
    );
    let channels: serde_json::Map<String, serde_json::Value> = reference(
        &warehouse,
        "select channel, count(*) from fct_touchpoints group by channel",
    )
    .iter()
    .map(|line| {
        let (channel, n) = line.split_once(',').expect("channel,n");
        (channel.to_string(), n.parse::<u64>().expect("count").into())
    })
    .collect();
    let expected = serde_json::json!({ "channels": channels });
    let out = server.python(PSYCOPG, &[&expected.to_string()]);

    let types = &out["types"];
    assert_eq!(types["started_at"], "datetime", "{out}");
    // The session time zone: UTC, by whichever of its names the server's zone database gives.
    assert!(types["tz"] == "UTC" || types["tz"] == "Etc/UTC", "{out}");
    assert_eq!(types["duration"], "float", "{out}");
    assert_eq!(types["amount_null"], true, "{out}");
    assert_eq!(types["is_voice"], true, "{out}");
    assert_eq!(types["day"], "date", "{out}");
    assert_eq!(types["nothing"], serde_json::Value::Null, "{out}");
    assert_eq!(types["price"], "1.25", "{out}");
    assert_eq!(types["price_type"], "Decimal", "{out}");
    assert_eq!(out["chat_count"], channels["chat"], "{out}");
    let since = reference(
        &warehouse,
        "select count(*) from fct_touchpoints where started_at >= timestamp '2026-08-03T00:00:00Z'",
    );
    assert_eq!(out["since"].to_string(), since[0], "{out}");

    let introspection = &out["introspection"];
    for (name, result) in introspection.as_object().expect("introspection") {
        assert!(result.is_array(), "{name}: {result}");
    }
    assert_eq!(out["setting missing ok"], true, "{out}");
    assert!(
        out["setting missing"]
            .as_str()
            .is_some_and(|e| e.contains("unrecognized configuration parameter \"no_such_setting\"")),
        "{out}"
    );
    // Grafana reads the major version from current_setting('server_version_num').
    assert_eq!(
        introspection["grafana version"],
        serde_json::json!([["1600"]]),
        "{introspection}"
    );
    let schemas = introspection["pgjdbc getSchemas"].to_string();
    for schema in ["marts", "metrics", "ops"] {
        assert!(schemas.contains(schema), "{schemas}");
    }
    let tables = introspection["metabase describe-database"].to_string();
    assert!(tables.contains("fct_touchpoints"), "{tables}");
    assert!(
        introspection["grafana tables"]
            .to_string()
            .contains("fct_calls"),
        "{introspection}"
    );
    assert!(
        introspection["grafana columns"]
            .to_string()
            .contains("chain_id"),
        "{introspection}"
    );

    let concurrent = &out["concurrent"];
    assert_eq!(concurrent["wrong"], serde_json::json!([]), "{concurrent}");
    assert_eq!(concurrent["errors"], serde_json::json!([]), "{concurrent}");
    assert!(concurrent["ok"].as_u64().unwrap_or(0) >= 50, "{concurrent}");
}

/// Holds two connections (the server's --max-connections) and tries a third, then closes one
/// and connects again. Prints what each got, as JSON.
const HOLD_CONNECTIONS: &str = r#"
import json, sys
import psycopg
port = sys.argv[1]
dsn = f"host=127.0.0.1 port={port} dbname=touchstone user=whoever sslmode=disable connect_timeout=30"
held = [psycopg.connect(dsn, autocommit=True) for _ in range(2)]
out = {"held": [c.execute("select 1").fetchone()[0] for c in held]}
try:
    psycopg.connect(dsn).close()
    out["third"] = None
except psycopg.OperationalError as e:
    out["third"] = str(e)
held.pop().close()
for attempt in range(100):
    try:
        with psycopg.connect(dsn, autocommit=True) as c:
            out["after_close"] = c.execute("select 1").fetchone()[0]
        break
    except psycopg.OperationalError:
        import time; time.sleep(0.1)
print(json.dumps(out))
"#;

#[test]
fn limits_end_a_query_not_the_server_and_tls_and_auth_are_enforced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (warehouse, users, _raw) = warehouse(dir.path());

    // Anonymous access only with --insecure-no-auth, and it is logged.
    let mut open = Serve::start(
        &warehouse,
        dir.path().join("open.log"),
        &[
            "--insecure-no-auth",
            "--memory-limit-mb",
            "16",
            "--query-timeout-secs",
            "30",
            "--max-connections",
            "2",
        ],
    );
    assert!(open.log().contains("--insecure-no-auth"), "{}", open.log());
    let anyone = open.psql("whoever", "", &["-c", "select 1"]);
    assert_success(&anyone);
    // A query that needs more memory than the pool has.
    let output = open.psql(
        "whoever",
        "",
        &["-c", "select v % 1000003 as k, array_agg(repeat('x', 200)) from generate_series(1, 3000000) as t(v) group by 1 order by 1"],
    );
    // An oversized query gets an error, not a dead server: out of memory (53200) where the
    // pool sees the allocation, else the timeout (57014) ends it.
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("ERROR:  53200:") || stderr(&output).contains("ERROR:  57014:"),
        "{}",
        stderr(&output)
    );
    assert!(open.alive(), "server died:\n{}", open.log());
    // A query that runs longer than the timeout.
    let output = open.psql(
        "whoever",
        "",
        &["-c", "select count(*) from generate_series(1, 1000000) a(v) cross join generate_series(1, 1000000) b(w) where (a.v * b.w) % 7 = 3"],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("ERROR:  57014:"),
        "{}",
        stderr(&output)
    );
    // One connection over the limit is refused with its own code; the others go on, and a
    // connection closed makes room. (Two connections are held open while a third tries.)
    let held = open.python(HOLD_CONNECTIONS, &[]);
    assert_eq!(held["held"], serde_json::json!([1, 1]), "{held}");
    let refused = held["third"]
        .as_str()
        .expect("the third connection's error");
    assert!(refused.contains("too many clients"), "{held}");
    assert_eq!(held["after_close"], 1, "{held}");
    assert!(open.alive(), "{}", open.log());
    assert_success(&open.psql("whoever", "", &["-c", "select 1"]));
    drop(open);

    // TLS: with a certificate, clients connect over TLS and plain connections are refused.
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert_success(&made);
    let users_arg = users.to_string_lossy().to_string();
    let tls = Serve::start(
        &warehouse,
        dir.path().join("tls.log"),
        &[
            "--users",
            &users_arg,
            "--tls-cert",
            &cert.to_string_lossy(),
            "--tls-key",
            &key.to_string_lossy(),
        ],
    );
    let over_tls = Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={} dbname=touchstone user=analyst sslmode=require",
            tls.port
        ))
        .args([
            "-X",
            "-A",
            "-t",
            "-c",
            "select count(*) > 0 from marts.fct_calls",
        ])
        .env("PGPASSWORD", PASSWORD)
        .output()
        .expect("psql");
    assert_success(&over_tls);
    assert_eq!(String::from_utf8_lossy(&over_tls.stdout).trim(), "t");
    let plain = tls.psql("analyst", PASSWORD, &["-c", "select 1"]);
    assert!(!plain.status.success(), "a plain connection got in");
    assert!(stderr(&plain).contains("TLS"), "{}", stderr(&plain));

    // Without --users or --insecure-no-auth the server does not start.
    let output = touchstone()
        .args([
            "serve",
            "--warehouse",
            &warehouse,
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .expect("serve");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--users"), "{}", stderr(&output));
}
