//! Writes the simulated summary files `make bench` fits (was the hidden `touchstone value
//! bench-data`): `simulate_purchases` with the CDNOW parameters, summarised in weeks.
//!
//! ```text
//! cargo run -p touchstone-value --example bench_data -- CUSTOMERS OUT.csv [DAYS] [SEED]
//! ```
//!
//! OUT.csv has `frequency,recency,T,monetary_value`, one row per customer; DAYS (default 546,
//! 78 weeks) is the window and its last day the calibration end; SEED defaults to 42.

use std::fmt::Write as _;
use std::path::Path;

use touchstone_synth::{BtydParams, simulate_purchases};
use touchstone_value::{SummaryConfig, TimeUnit, ZeroAmounts, summarize};

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_data: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let usage = "usage: bench_data CUSTOMERS OUT.csv [DAYS] [SEED]";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: Option<u64>| -> Result<u64, String> {
        match (args.get(i), default) {
            (Some(v), _) => v.parse().map_err(|e| format!("{v}: {e}; {usage}")),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(usage.to_string()),
        }
    };
    let customers = number(0, None)?;
    let out = Path::new(args.get(1).ok_or(usage)?);
    let days = u32::try_from(number(2, Some(546))?).map_err(|e| e.to_string())?;
    let seed = number(3, Some(42))?;

    let (mut customer, mut day, mut amount) = (Vec::new(), Vec::new(), Vec::new());
    let params = BtydParams::default();
    let simulated =
        simulate_purchases(&params, customers, days, seed).map_err(|e| e.to_string())?;
    for c in simulated {
        for p in &c.purchases {
            customer.push(c.index);
            day.push(p.day.floor() as i32);
            amount.push(p.amount);
        }
    }
    let last = i32::try_from(days).unwrap_or(i32::MAX).saturating_sub(1);
    let config = SummaryConfig {
        observation_start: None,
        calibration_end: last,
        holdout_end: None,
        time_unit: TimeUnit::Week,
        zero_amounts: ZeroAmounts::Keep,
    };
    let s = summarize(&customer, &day, &amount, &config).map_err(|e| e.to_string())?;
    let mut text = String::from("frequency,recency,T,monetary_value\n");
    for i in 0..s.len() {
        let _ = writeln!(
            text,
            "{},{},{},{}",
            s.frequency[i], s.recency[i], s.t[i], s.monetary_value[i]
        );
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    std::fs::write(out, text).map_err(|e| format!("writing {}: {e}", out.display()))?;
    println!(
        "{}: {} customers, {} orders, weekly summary over {days} days",
        out.display(),
        s.len(),
        customer.len()
    );
    Ok(())
}
