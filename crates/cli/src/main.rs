//! `touchstone`: the customer-success warehouse pipeline.
//!
//! Exit codes ([`EXIT_CODES`], decided by `touchstone_pipeline::ErrorKind::exit_code`):
//! 0 success; 1 invalid configuration, models or metrics (every problem printed as
//! `file:line:col: error[Ennnn]: ...`); 2 a run or query that failed (storage, engine, internal
//! error; clap's usage errors also exit 2); 3 a source with no files; 4 a source rejected more
//! than its `max_bad_files` / `max_reject_ratio` allow; 5 another run of the pipeline holds its
//! lock.

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use touchstone_core::clock::SystemClock;
use touchstone_core::diagnostic::Diagnostics;
use touchstone_pipeline::{ErrorKind, MaintainTable, PipelineError, Prepared, Run};
use tracing_subscriber::EnvFilter;

mod generate;
mod memory;
mod metrics;
mod ops;
mod query;
mod serve;
mod value;

use touchstone_pipeline::progress::{bar::TerminalProgress, crashpoint};

/// The exit codes, as `--help` prints them.
const EXIT_CODES: &str = "Exit codes:
  0  success
  1  invalid configuration, models or metrics (nothing was written)
  2  the run or query failed (storage, engine, internal error; also usage errors)
  3  a source matched no file (nothing was written)
  4  a source rejected more than its max_bad_files / max_reject_ratio allow
  5  another run of the pipeline holds its lock (use --wait to wait for it)";

#[derive(Parser)]
#[command(
    name = "touchstone",
    version,
    about = "Customer-success warehouse: vendor exports in, journeys, value and metrics out, as Delta tables.",
    after_help = EXIT_CODES
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, global = true, default_value = "text")]
    log_format: LogFormat,
    /// More logging (-v info, -vv debug). `RUST_LOG` overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// No progress bar.
    #[arg(long, global = true)]
    no_progress: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline: read its sources, stage them, build its models and metrics, commit.
    Run {
        /// The pipeline file.
        pipeline: PathBuf,
        /// The logical date of the run (YYYY-MM-DD); defaults to today (UTC).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Print the summary as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Restage every file of every source (by default only files that are new or changed
        /// since they were staged are read).
        #[arg(long)]
        full_refresh: bool,
        /// When another run of the pipeline holds its lock, wait for it instead of exiting
        /// with code 5.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up (exit 5) after this many seconds.
        #[arg(long, requires = "wait")]
        wait_timeout_secs: Option<u64>,
    },
    /// Check a pipeline, its metric definitions and every SQL model's plan, without data.
    Validate {
        /// The pipeline file.
        pipeline: PathBuf,
    },
    /// Run SQL over the committed tables and print the result.
    Query {
        /// The SQL.
        sql: String,
        /// The warehouse URL or path; by default the one of --pipeline (or of
        /// pipelines/customer_success.yaml when present).
        #[arg(long, env = "TOUCHSTONE_WAREHOUSE")]
        warehouse: Option<String>,
        /// Take the warehouse from this pipeline file.
        #[arg(long)]
        pipeline: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: query::Format,
    },
    /// Write realistic sample exports in the vendors' formats, with planted ground truth.
    Generate(generate::GenerateArgs),
    /// Serve the committed tables over the PostgreSQL protocol, read-only, for BI tools and
    /// psql: marts in schema `marts`, metric tables in `metrics`, the run ledger and rejects in
    /// `ops`, staging in `staging` with --staging. Example:
    /// `touchstone serve add-user analyst --users users.txt` then
    /// `touchstone serve --warehouse warehouse --users users.txt` and
    /// `psql "host=127.0.0.1 port=5433 dbname=touchstone user=analyst"`.
    Serve(serve::ServeCommand),
    /// The run ledger: recent runs (id, date, status, duration, rows, rejects), or one run
    /// with `runs show ID`.
    Runs(ops::RunsArgs),
    /// Run a range of logical dates in order; dates the ledger shows committed under the same
    /// definitions are skipped, so an interrupted backfill resumes where it stopped.
    Backfill(ops::BackfillArgs),
    /// Run the pipeline on the cron expression of its `schedule:` until SIGTERM: each due
    /// logical date once, missed dates caught up, failures retried with backoff, health and
    /// Prometheus metrics on --listen.
    Schedule(ops::ScheduleArgs),
    /// The metric library: list the metrics, explain one.
    Metrics {
        #[command(subcommand)]
        command: metrics::MetricsCommand,
    },
    /// Compare a metric before and after a change, with a significance test.
    Compare(metrics::CompareArgs),
    /// Housekeeping: compact each table's small files (optimize) and delete the files of
    /// versions older than the pipeline's `retention_days` (vacuum; default 7).
    Maintain {
        /// The pipeline file.
        pipeline: PathBuf,
    },
    /// Customer-value models on an order history (BG/NBD, Pareto/NBD, Gamma-Gamma, CLV).
    Value {
        #[command(subcommand)]
        command: value::ValueCommand,
    },
}

/// mimalloc rather than the system's malloc: query buffers freed by one model go back to the
/// system instead of staying resident (with glibc's malloc a million-customer run held gigabytes
/// above its memory limit). Without transparent huge pages: see [`memory`].
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    memory::tune();
    touchstone_pipeline::quiet_caught_upstream_panics();
    let cli = Cli::parse();
    let show_progress = !cli.no_progress
        && std::io::stderr().is_terminal()
        && matches!(cli.log_format, LogFormat::Text);
    let progress = TerminalProgress::new(show_progress);
    init_logging(&cli, &progress);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(dispatch(cli.command, &progress));
    progress.finish();
    match result {
        Ok(code) => code,
        Err(e) => report_error(&e),
    }
}

/// Prints an error for the user and picks the exit code.
fn report_error(e: &anyhow::Error) -> ExitCode {
    let pipeline_error = e.downcast_ref::<PipelineError>();
    let diagnostics = pipeline_error
        .and_then(PipelineError::diagnostics)
        .or_else(|| e.downcast_ref::<Diagnostics>())
        .filter(|d| !d.0.is_empty());
    if let Some(d) = diagnostics {
        eprintln!("{d}");
        let n = d.0.len();
        eprintln!(
            "{n} error{}; nothing was written",
            if n == 1 { "" } else { "s" }
        );
    } else {
        eprintln!("error: {}", error_chain(e));
    }
    let kind = pipeline_error
        .map(PipelineError::kind)
        .or_else(|| diagnostics.map(|_| ErrorKind::Invalid))
        .unwrap_or(ErrorKind::RunFailed);
    ExitCode::from(kind.exit_code())
}

/// The error and its causes on one line, each cause only where the text so far does not
/// already say it (library errors often embed their source's message).
fn error_chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let message = cause.to_string();
        if text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

fn init_logging(cli: &Cli, progress: &TerminalProgress) {
    // `touchstone` is the binary's log target and the prefix of every Touchstone crate's.
    let default = match (cli.log_format, cli.verbose) {
        (LogFormat::Text, 0) => "warn",
        (LogFormat::Json, 0) | (_, 1) => "warn,touchstone=info",
        _ => "info,touchstone=debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(progress.writer());
    let _ = match cli.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.with_target(false).try_init(),
    };
}

async fn dispatch(command: Command, progress: &TerminalProgress) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    match command {
        Command::Validate { pipeline } => {
            let prepared = Prepared::load(&pipeline, &cwd).await?;
            for warning in prepared.warnings(&pipeline, chrono::Utc::now().date_naive()) {
                eprintln!("{warning}");
            }
            println!("{}: valid — {}", pipeline.display(), prepared.counts());
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            pipeline,
            date,
            json,
            full_refresh,
            wait,
            wait_timeout_secs,
        } => {
            let prepared = Prepared::load(&pipeline, &cwd).await?;
            let wait = wait.then(|| {
                wait_timeout_secs.map_or(std::time::Duration::MAX, std::time::Duration::from_secs)
            });
            let mut run = Run::new(&prepared)
                .with_full_refresh(full_refresh)
                .with_lock_wait(wait)
                .with_clock(Arc::new(SystemClock))
                .with_progress(crashpoint::wrap(Arc::new(progress.clone())));
            if let Some(date) = date {
                run = run.with_date(date);
            }
            let report = run.await?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
            } else {
                write!(out, "{report}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Metrics { command } => {
            metrics::metrics(command, &cwd).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare(args) => {
            metrics::compare(args, &cwd).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Query {
            sql,
            warehouse,
            pipeline,
            format,
        } => {
            let reader = ops::open(warehouse.as_deref(), pipeline.as_deref(), &cwd)?;
            let batches = reader.query(&sql).await?;
            touchstone_pipeline::write_rows(
                &batches,
                format.into(),
                &mut std::io::stdout().lock(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(args) => generate::run(args, progress),
        Command::Runs(args) => ops::runs(args, &cwd).await,
        Command::Maintain { pipeline } => {
            let prepared = Prepared::load(&pipeline, &cwd).await?;
            let done = touchstone_pipeline::maintain(&prepared, Arc::new(SystemClock)).await?;
            let retention_days = prepared.pipeline.retention_days;
            let table = MaintainTable {
                tables: &done,
                retention_days,
            };
            write!(std::io::stdout().lock(), "{table}")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Schedule(args) => {
            ops::schedule(args, &cwd, crashpoint::wrap(Arc::new(progress.clone()))).await
        }
        Command::Backfill(args) => {
            ops::backfill(args, &cwd, crashpoint::wrap(Arc::new(progress.clone()))).await
        }
        Command::Value { command } => value::run(command, &cwd).await,
        Command::Serve(command) => serve::run(command, &cwd).await,
    }
}
