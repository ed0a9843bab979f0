//! `touchstone`: the customer-success warehouse pipeline.
//!
//! Exit codes: 0 success; 1 invalid configuration, models or metrics (every problem printed as
//! `file:line:col: error[Ennnn]: ...`); 2 a run or query that failed; clap's usage errors also
//! exit 2.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use touchstone_core::clock::{Clock, SystemClock};
use touchstone_core::diagnostic::Diagnostics;
use touchstone_core::store;
use touchstone_load::Warehouse;
use tracing_subscriber::EnvFilter;

mod generate;
mod pipeline;
mod progress;
mod query;
mod value;

use progress::Progress;

#[derive(Parser)]
#[command(
    name = "touchstone",
    version,
    about = "Customer-success warehouse: vendor exports in, journeys, value and metrics out, as Delta tables."
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
    /// Customer-value models on an order history (BG/NBD, Pareto/NBD, Gamma-Gamma, CLV).
    Value {
        #[command(subcommand)]
        command: value::ValueCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let show_progress = !cli.no_progress
        && std::io::stderr().is_terminal()
        && matches!(cli.log_format, LogFormat::Text);
    let progress = Progress::new(show_progress);
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
        Err(e) => {
            if let Some(d) = e.downcast_ref::<Diagnostics>() {
                eprintln!("{d}");
                let n = d.0.len();
                eprintln!(
                    "{n} error{}; nothing was written",
                    if n == 1 { "" } else { "s" }
                );
                ExitCode::from(1)
            } else {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        }
    }
}

fn init_logging(cli: &Cli, progress: &Progress) {
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

async fn dispatch(command: Command, progress: &Progress) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    match command {
        Command::Validate { pipeline } => {
            let prepared = pipeline::prepare(&pipeline, &cwd).await?;
            println!(
                "{}: valid — {} sources, {} models ({} materialized), {} metrics",
                pipeline.display(),
                prepared.pipeline.sources.len(),
                prepared.models.len(),
                prepared.models.iter().filter(|m| m.materialized()).count(),
                prepared.metrics.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            pipeline,
            date,
            json,
        } => {
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            let date = date.unwrap_or_else(|| clock.now().date_naive());
            let prepared = pipeline::prepare(&pipeline, &cwd).await?;
            let summary = pipeline::run(prepared, date, clock, progress).await?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &summary)?;
                println!();
            } else {
                pipeline::print_summary(&summary, &mut out)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Query {
            sql,
            warehouse,
            pipeline,
            format,
        } => {
            let url = match (
                warehouse,
                pipeline.or_else(|| pipeline::default_pipeline(&cwd)),
            ) {
                (Some(w), _) => store::resolve_url(&w, &cwd)?,
                (None, Some(p)) => {
                    touchstone_core::config::load_pipeline(&p, &cwd)
                        .with_context(|| format!("reading the warehouse from {}", p.display()))?
                        .warehouse
                }
                (None, None) => store::resolve_url("warehouse", &cwd)?,
            };
            let warehouse = Warehouse::open(&url)?;
            let batches = query::query(&warehouse, &sql).await?;
            query::print(&batches, format, &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(args) => generate::run(args, progress),
        Command::Value { command } => value::run(command, &cwd).await,
    }
}
