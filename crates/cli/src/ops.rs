//! `touchstone runs` and `touchstone backfill`: argument parsing and rendering; the work is in
//! `touchstone_pipeline` (`ledger_runs`, `Backfill`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::NaiveDate;
use touchstone_core::clock::{Clock, SystemClock};
use touchstone_load::Warehouse;
use touchstone_pipeline::{Backfill, LedgerRun, PipelineError, Prepared, ledger_runs};

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

async fn open(
    warehouse: Option<&str>,
    pipeline: Option<&Path>,
    cwd: &Path,
) -> anyhow::Result<Warehouse> {
    let url = touchstone_pipeline::warehouse_url(warehouse, pipeline, cwd)
        .context("finding the warehouse")?;
    Ok(Warehouse::open(&url).map_err(|e| PipelineError::Storage {
        context: format!("opening the warehouse {url}"),
        error: Box::new(e),
    })?)
}

pub async fn runs(args: RunsArgs, cwd: &Path) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match args.command {
        None => {
            let l = args.list;
            let wh = open(l.warehouse.as_deref(), l.pipeline.as_deref(), cwd).await?;
            let runs = ledger_runs(&wh, SystemClock.now()).await?;
            let runs: Vec<&LedgerRun> = runs.iter().take(l.limit).collect();
            if l.json {
                serde_json::to_writer_pretty(&mut out, &runs)?;
                writeln!(out)?;
            } else {
                print_list(&runs, &mut out)?;
            }
        }
        Some(RunsCommand::Show {
            id,
            warehouse,
            pipeline,
            json,
        }) => {
            let wh = open(warehouse.as_deref(), pipeline.as_deref(), cwd).await?;
            let runs = ledger_runs(&wh, SystemClock.now()).await?;
            let Some(run) = runs.iter().find(|r| r.run_id == id) else {
                let recent: Vec<&str> = runs.iter().take(5).map(|r| r.run_id.as_str()).collect();
                anyhow::bail!(
                    "no run '{id}' in the ledger of {}; recent runs: {}",
                    wh.root(),
                    if recent.is_empty() {
                        "none".to_string()
                    } else {
                        recent.join(", ")
                    }
                );
            };
            if json {
                serde_json::to_writer_pretty(&mut out, run)?;
                writeln!(out)?;
            } else {
                print_run(run, &mut out)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn duration(run: &LedgerRun) -> String {
    run.duration_secs()
        .map_or_else(|| "-".to_string(), |s| format!("{s:.1} s"))
}

fn print_list(runs: &[&LedgerRun], out: &mut dyn Write) -> anyhow::Result<()> {
    if runs.is_empty() {
        writeln!(out, "no runs recorded")?;
        return Ok(());
    }
    let width = runs
        .iter()
        .map(|r| r.run_id.len())
        .max()
        .unwrap_or(6)
        .max(6);
    writeln!(
        out,
        "{:width$}  {:10}  {:11}  {:>9}  {:>12}  {:>9}",
        "run_id", "date", "status", "duration", "rows", "rejects"
    )?;
    for r in runs {
        writeln!(
            out,
            "{:width$}  {:10}  {:11}  {:>9}  {:>12}  {:>9}",
            r.run_id,
            r.logical_date.to_string(),
            r.status,
            duration(r),
            r.rows_staged,
            r.rows_rejected
        )?;
    }
    Ok(())
}

fn print_run(run: &LedgerRun, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(out, "run       {}", run.run_id)?;
    writeln!(out, "pipeline  {}", run.pipeline)?;
    writeln!(out, "date      {}", run.logical_date)?;
    writeln!(out, "status    {}", run.status)?;
    writeln!(out, "started   {}", run.started_at.to_rfc3339())?;
    if let Some(f) = run.finished_at {
        writeln!(out, "finished  {} ({})", f.to_rfc3339(), duration(run))?;
    }
    writeln!(
        out,
        "rows      {} read, {} staged, {} rejected",
        run.rows_read, run.rows_staged, run.rows_rejected
    )?;
    if let Some(e) = run.error() {
        writeln!(out, "error     {e}")?;
    }
    let summary = run.summary();
    let empty = Vec::new();
    let sources = summary["sources"].as_array().unwrap_or(&empty);
    if !sources.is_empty() {
        writeln!(
            out,
            "\n  {:20}  {:>6}  {:>10}  {:>10}  {:>9}",
            "source", "files", "read", "staged", "rejected"
        )?;
        for s in sources {
            writeln!(
                out,
                "  {:20}  {:>6}  {:>10}  {:>10}  {:>9}",
                s["name"].as_str().unwrap_or("?"),
                s["files"].as_u64().unwrap_or(0),
                s["rows_read"].as_u64().unwrap_or(0),
                s["rows_staged"].as_u64().unwrap_or(0),
                s["rows_rejected"].as_u64().unwrap_or(0)
            )?;
        }
    }
    let tables = summary["tables"].as_array().unwrap_or(&empty);
    if !tables.is_empty() {
        writeln!(out, "\n  {:36}  {:>10}  {:>8}", "table", "rows", "version")?;
        for t in tables {
            writeln!(
                out,
                "  {:36}  {:>10}  {:>8}",
                t["table"].as_str().unwrap_or("?"),
                t["rows"].as_u64().unwrap_or(0),
                t["version"].as_u64().unwrap_or(0)
            )?;
        }
    }
    let definitions = run.definitions();
    if !definitions.is_empty() {
        writeln!(out, "\ndefinitions")?;
        for (name, hash) in definitions {
            writeln!(out, "  {name:36}  {hash}")?;
        }
    }
    Ok(())
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
        .on_date(|d| {
            // Printed as each date ends, so an interrupted backfill shows how far it got.
            println!("{}  {:7}  {}", d.date, d.action, d.run_id);
        })
        .run()
        .await?;
    let ran = done.iter().filter(|d| d.action == "ran").count();
    println!(
        "backfill of {} to {}: {} dates, {ran} run, {} already committed",
        args.from,
        args.to,
        done.len(),
        done.len() - ran
    );
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
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let scheduler =
        touchstone_pipeline::Scheduler::new(&prepared, stopping)?.with_progress(progress);
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {} for /healthz and /metrics", args.listen))?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(touchstone_pipeline::serve_health(
        listener,
        scheduler.status(),
    ));
    tracing::warn!(
        "scheduler of {} started; health on http://{addr}/healthz, metrics on http://{addr}/metrics",
        args.pipeline.display()
    );
    // SIGTERM (or Ctrl-C): the run in progress commits or fails first, then the scheduler stops.
    tokio::spawn(async move {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = term => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::warn!("stopping after the current run");
        stop.send_replace(true);
    });
    let result = scheduler.run().await;
    server.abort();
    result?;
    Ok(ExitCode::SUCCESS)
}
