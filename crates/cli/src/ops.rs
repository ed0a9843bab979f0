//! `touchstone runs`, `touchstone backfill` and `touchstone schedule`: their arguments; the work
//! and the text they print are in `touchstone_pipeline` (`ledger_runs`, `RunTable`, `Backfill`,
//! `Scheduler`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::NaiveDate;
use touchstone_core::clock::{Clock, SystemClock};
use touchstone_pipeline::{
    Backfill, LedgerRun, Prepared, RunTable, WarehouseReader, backfill_summary, ledger_run,
    ledger_runs,
};

/// `touchstone runs`: the run ledger.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RunsArgs {
    #[command(subcommand)]
    command: Option<RunsCommand>,
    #[command(flatten)]
    list: ListArgs,
}

#[derive(clap::Args)]
struct ListArgs {
    /// The warehouse URL or path; by default the one of --pipeline (or of
    /// pipelines/customer_success.yaml when present).
    #[arg(long, env = "TOUCHSTONE_WAREHOUSE")]
    warehouse: Option<String>,
    /// Take the warehouse from this pipeline file.
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// How many runs to list, newest first.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand)]
enum RunsCommand {
    /// One run: per-source counts, per-table rows and Delta versions, definition hashes, error.
    Show {
        /// The run id (as `touchstone runs` lists it).
        id: String,
        /// The warehouse URL or path (as for `touchstone runs`).
        #[arg(long, env = "TOUCHSTONE_WAREHOUSE")]
        warehouse: Option<String>,
        /// Take the warehouse from this pipeline file.
        #[arg(long)]
        pipeline: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `touchstone backfill`.
#[derive(clap::Args)]
pub struct BackfillArgs {
    /// The pipeline file.
    pipeline: PathBuf,
    /// First logical date (YYYY-MM-DD).
    #[arg(long)]
    from: NaiveDate,
    /// Last logical date, included.
    #[arg(long)]
    to: NaiveDate,
    /// When another run of the pipeline holds its lock, wait for it instead of exiting with
    /// code 5.
    #[arg(long)]
    wait: bool,
}

/// The reader of the warehouse of `--warehouse`, else of `--pipeline` (see
/// [`touchstone_pipeline::warehouse_url`]).
pub fn open(
    warehouse: Option<&str>,
    pipeline: Option<&Path>,
    cwd: &Path,
) -> anyhow::Result<WarehouseReader> {
    let url = touchstone_pipeline::warehouse_url(warehouse, pipeline, cwd)
        .context("finding the warehouse")?;
    Ok(WarehouseReader::open(&url)?)
}

pub async fn runs(args: RunsArgs, cwd: &Path) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match args.command {
        None => {
            let l = args.list;
            let wh = open(l.warehouse.as_deref(), l.pipeline.as_deref(), cwd)?;
            let runs = ledger_runs(wh.warehouse(), SystemClock.now()).await?;
            let runs: Vec<&LedgerRun> = runs.iter().take(l.limit).collect();
            if l.json {
                serde_json::to_writer_pretty(&mut out, &runs)?;
                writeln!(out)?;
            } else {
                write!(out, "{}", RunTable(&runs))?;
            }
        }
        Some(RunsCommand::Show {
            id,
            warehouse,
            pipeline,
            json,
        }) => {
            let wh = open(warehouse.as_deref(), pipeline.as_deref(), cwd)?;
            let run = ledger_run(wh.warehouse(), &id, SystemClock.now()).await?;
            if json {
                serde_json::to_writer_pretty(&mut out, &run)?;
                writeln!(out)?;
            } else {
                write!(out, "{run}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn backfill(
    args: BackfillArgs,
    cwd: &Path,
    progress: Arc<dyn touchstone_pipeline::Progress>,
) -> anyhow::Result<ExitCode> {
    let prepared = Prepared::load(&args.pipeline, cwd).await?;
    let done = Backfill::new(&prepared, args.from, args.to)
        .with_clock(Arc::new(SystemClock))
        .with_progress(progress)
        .with_lock_wait(args.wait.then_some(std::time::Duration::MAX))
        // Printed as each date ends, so an interrupted backfill shows how far it got.
        .on_date(|d| println!("{d}"))
        .run()
        .await?;
    println!("{}", backfill_summary(args.from, args.to, &done));
    Ok(ExitCode::SUCCESS)
}

/// `touchstone schedule`.
#[derive(clap::Args)]
pub struct ScheduleArgs {
    /// The pipeline file (with a `schedule:`).
    pipeline: PathBuf,
    /// Address of the health endpoint (`/healthz`, `/metrics` in Prometheus text).
    #[arg(long, default_value = "127.0.0.1:9464")]
    listen: String,
}

pub async fn schedule(
    args: ScheduleArgs,
    cwd: &Path,
    progress: Arc<dyn touchstone_pipeline::Progress>,
) -> anyhow::Result<ExitCode> {
    let prepared = Prepared::load(&args.pipeline, cwd).await?;
    // SIGTERM (or Ctrl-C): the run in progress commits or fails first, then the scheduler stops.
    let stopping = touchstone_pipeline::stop_on_signal();
    let scheduler =
        touchstone_pipeline::Scheduler::new(&prepared, stopping)?.with_progress(progress);
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {} for /healthz and /metrics", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::warn!(
        "scheduler of {} started; health on http://{addr}/healthz, metrics on http://{addr}/metrics",
        args.pipeline.display()
    );
    scheduler.run_serving_health(listener).await?;
    Ok(ExitCode::SUCCESS)
}
