//! `touchstone generate`: realistic sample exports with planted ground truth.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use touchstone_synth::{GenerateOptions, generate};

use touchstone_core::text::thousands;
use touchstone_pipeline::progress::bar::TerminalProgress;

/// Arguments of `touchstone generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Directory to write the exports into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of customers.
    #[arg(long, default_value_t = GenerateOptions::default().customers)]
    pub customers: u64,
    /// Number of days of activity.
    #[arg(long, default_value_t = GenerateOptions::default().days)]
    pub days: u32,
    /// First day (YYYY-MM-DD).
    #[arg(long, default_value_t = GenerateOptions::default().start)]
    pub start: NaiveDate,
    /// Random seed; the same options and seed give byte-identical files.
    #[arg(long, default_value_t = GenerateOptions::default().seed)]
    pub seed: u64,
}

/// Runs the generator and prints what it wrote.
pub fn run(args: GenerateArgs, progress: &TerminalProgress) -> anyhow::Result<ExitCode> {
    let options = GenerateOptions {
        out: args.out.clone(),
        customers: args.customers,
        days: args.days,
        start: args.start,
        seed: args.seed,
    };
    progress.start(0);
    let bar = progress.clone();
    let summary = generate(&options, &move |p: touchstone_synth::Progress| {
        bar.set_length(p.customers_total);
        bar.set_position(p.customers_done, "customers");
    })?;
    progress.finish();
    println!(
        "Wrote {} files ({} MB) for {} customers × {} days to {} in {:.1} s",
        summary.files.len(),
        summary.bytes / 1_000_000,
        thousands(summary.customers),
        args.days,
        args.out.display(),
        summary.elapsed_secs
    );
    for (source, records) in &summary.totals {
        println!("  {source:<28} {:>12} records", thousands(*records));
    }
    println!(
        "Ground truth for tests is in {}",
        args.out.join("truth").display()
    );
    Ok(ExitCode::SUCCESS)
}
