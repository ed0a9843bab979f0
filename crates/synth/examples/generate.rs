//! Runs the generator from the command line, for timing and for looking at the output:
//!
//! ```text
//! cargo run --release -p touchstone-synth --example generate -- OUT [CUSTOMERS] [DAYS] [SEED]
//! ```

use std::process::ExitCode;

use touchstone_synth::{GenerateOptions, generate};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let defaults = GenerateOptions::default();
    let Some(out) = args.first() else {
        eprintln!("usage: generate OUT [CUSTOMERS] [DAYS] [SEED]");
        return ExitCode::FAILURE;
    };
    let num = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let opts = GenerateOptions {
        out: out.into(),
        customers: num(1, defaults.customers),
        days: num(2, u64::from(defaults.days)) as u32,
        seed: num(3, defaults.seed),
        ..defaults
    };
    let progress = |p: touchstone_synth::Progress| {
        if p.chunks_done.is_multiple_of(20) || p.chunks_done == p.chunks_total {
            eprintln!("{}/{} customers", p.customers_done, p.customers_total);
        }
    };
    match generate(&opts, &progress) {
        Ok(summary) => {
            for (path, n) in &summary.files {
                let per_day = ["connect/", "livechat/", "web/"]
                    .iter()
                    .any(|p| path.starts_with(p));
                if !per_day {
                    println!("{path:32} {n:>12}");
                }
            }
            for (source, n) in &summary.totals {
                println!("total {source:26} {n:>12}");
            }
            println!(
                "{} files, {:.1} MB, {:.2} s",
                summary.files.len(),
                summary.bytes as f64 / 1e6,
                summary.elapsed_secs
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
