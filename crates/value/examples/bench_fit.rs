//! Times the BG/NBD and Gamma-Gamma fits on a summary CSV (`make bench` runs it in release).
//!
//! `bench_fit FILE [REPEATS]`: FILE has a header with `frequency`, `recency`, `T` and
//! `monetary_value` columns (others are ignored). Prints one JSON object: per model the median
//! wall time over REPEATS runs (default 3) of building the model input and fitting it, the
//! parameters and whether the fit converged. Reading the file is not timed.

use std::time::Instant;
use touchstone_value::gamma_gamma::SpendData;
use touchstone_value::{BgNbdParams, FitOptions, GammaGammaParams, RfmData};

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_fit: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: bench_fit FILE [REPEATS]")?;
    let repeats: usize = args
        .next()
        .map_or(Ok(3), |r| r.parse())
        .map_err(|e| format!("{e}"))?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(format!("no column {name}"))
    };
    let idx = [
        col("frequency")?,
        col("recency")?,
        col("T")?,
        col("monetary_value")?,
    ];
    let mut cols: [Vec<f64>; 4] = Default::default();
    for (n, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        for (k, &i) in idx.iter().enumerate() {
            let v = fields.get(i).and_then(|f| f.parse().ok());
            cols[k].push(v.ok_or_else(|| format!("line {}: bad number", n + 2))?);
        }
    }
    let [x, tx, t, m] = cols;
    let (rx, rm): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(&m)
        .filter(|(x, m)| **x > 0.0 && **m > 0.0)
        .map(|(x, m)| (*x, *m))
        .unzip();
    let opts = FitOptions::default();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (mut bg_times, mut gg_times) = (Vec::new(), Vec::new());
    let (mut bg_build, mut gg_build) = (Vec::new(), Vec::new());
    let (mut bg, mut gg) = (None, None);
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        let data = RfmData::new(&x, &tx, &t).map_err(|e| e.to_string())?;
        bg_build.push(start.elapsed().as_secs_f64());
        let fit = BgNbdParams::fit(&data, &opts).map_err(|e| e.to_string())?;
        bg_times.push(start.elapsed().as_secs_f64());
        bg = Some(fit);
        let start = Instant::now();
        let data = SpendData::new(&rx, &rm).map_err(|e| e.to_string())?;
        gg_build.push(start.elapsed().as_secs_f64());
        let fit = GammaGammaParams::fit(&data, &opts).map_err(|e| e.to_string())?;
        gg_times.push(start.elapsed().as_secs_f64());
        gg = Some(fit);
    }
    let (bg, gg) = (bg.ok_or("no fit")?, gg.ok_or("no fit")?);
    let p = bg.params;
    let g = gg.params;
    println!(
        "{{\"customers\": {}, \"repeat_customers\": {}, \"threads\": {}, \
         \"bgnbd\": {{\"seconds\": {}, \"build_seconds\": {}, \"converged\": {}, \"evaluations\": {}, \"distinct_rows\": {}, \"params\": {{\"r\": {}, \"alpha\": {}, \"a\": {}, \"b\": {}}}}}, \
         \"gamma_gamma\": {{\"seconds\": {}, \"build_seconds\": {}, \"converged\": {}, \"evaluations\": {}, \"params\": {{\"p\": {}, \"q\": {}, \"gamma\": {}}}}}}}",
        x.len(),
        rx.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        median(bg_times),
        median(bg_build),
        bg.report.converged,
        bg.report.evaluations,
        bg.report.distinct_rows,
        p.r,
        p.alpha,
        p.a,
        p.b,
        median(gg_times),
        median(gg_build),
        gg.report.converged,
        gg.report.evaluations,
        g.p,
        g.q,
        g.gamma
    );
    Ok(())
}
