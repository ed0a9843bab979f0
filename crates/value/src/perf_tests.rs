//! Timing runs on synthetic data (ignored by default; no timed assertions):
//! `CARGO_TARGET_DIR=/work/target-value cargo test -p touchstone-value --release --lib perf -- --ignored --nocapture`

use crate::*;
use std::time::Instant;

/// splitmix64: a small deterministic generator for test data.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    /// Gamma(shape, 1) by Marsaglia & Tsang (2000), with the shape < 1 boost.
    fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            return self.gamma(shape + 1.0) * self.uniform().powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }
    fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        x / (x + self.gamma(b))
    }
}

/// BG/NBD transactions for `n` customers: births uniform over the first 12 weeks,
/// calibration end at day 272 (CDNOW-like), purchase days rounded down to whole days.
fn simulate_bgnbd(n: usize, seed: u64) -> (Vec<u64>, Vec<i32>, Vec<f64>) {
    let (r, alpha, a, b) = (0.243, 4.414, 0.793, 2.426);
    let mut rng = Rng(seed);
    let (mut c, mut d, mut amt) = (Vec::new(), Vec::new(), Vec::new());
    for id in 0..n as u64 {
        let birth = (rng.uniform() * 84.0) as i32;
        let lambda = rng.gamma(r) / alpha; // per week
        let p = rng.beta(a, b);
        let spend_scale = rng.gamma(3.74) / 15.44;
        let mut t = 0.0f64; // weeks since birth
        let mut day = birth;
        let mut first = true;
        loop {
            c.push(id);
            d.push(day);
            amt.push((rng.gamma(6.25) / spend_scale * 100.0).round() / 100.0);
            // BG/NBD: dropout is possible after each repeat purchase, not the first.
            if !first && rng.uniform() < p {
                break;
            }
            first = false;
            t += -rng.uniform().ln() / lambda;
            day = birth + (t * 7.0) as i32;
            if day > 272 + 273 {
                break;
            }
        }
    }
    (c, d, amt)
}

fn time<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let v = f();
    println!(
        "{label:<48} {:>10.3} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    v
}

#[test]
#[ignore]
fn perf_cdnow() {
    let (x, tx, t) = crate::summary::tests::published_rfm();
    let rfm = time("cdnow: RfmData::new (2357)", || {
        RfmData::new(&x, &tx, &t).unwrap()
    });
    println!("cdnow distinct rows: {}", rfm.distinct_rows());
    let opts = FitOptions::default();
    for _ in 0..3 {
        let bg = time("cdnow: BG/NBD fit", || {
            BgNbdParams::fit(&rfm, &opts).unwrap()
        });
        println!("  {:?}\n  {:?}", bg.params, bg.report);
    }
    for _ in 0..2 {
        let pn = time("cdnow: Pareto/NBD fit", || {
            ParetoNbdParams::fit(&rfm, &opts).unwrap()
        });
        println!("  {:?}\n  {:?}", pn.params, pn.report);
    }
    let s = crate::summary::tests::cdnow_summary();
    let sd = SpendData::new(&s.frequency, &s.monetary_value).unwrap();
    let gg = time("cdnow: Gamma-Gamma fit", || {
        GammaGammaParams::fit(&sd, &opts).unwrap()
    });
    println!("  {:?}\n  {:?}", gg.params, gg.report);
    for alive in [
        [100.0, 63.1, 46.8, 38.2, 32.6, 28.9, 26.2, 24.1],
        [100.0, 86.9, 74.3, 65.3, 59.3, 55.1, 51.7, 49.1],
    ] {
        let f = time("sBG fit", || SbgParams::fit(&alive, &opts).unwrap());
        println!("  {:?}\n  {:?}", f.params, f.report);
    }
}

#[test]
#[ignore]
fn perf_synthetic() {
    for &n in &[100_000usize, 1_000_000] {
        println!("--- {n} customers");
        let (c, d, a) = time("simulate", || simulate_bgnbd(n, 42));
        println!("transactions: {}", c.len());
        let cfg = SummaryConfig {
            observation_start: Some(0),
            calibration_end: 272,
            holdout_end: Some(545),
            time_unit: TimeUnit::Week,
            zero_amounts: ZeroAmounts::Keep,
        };
        let s = time("summarize", || summarize(&c, &d, &a, &cfg).unwrap());
        let rfm = time("RfmData::from_summary", || {
            RfmData::from_summary(&s).unwrap()
        });
        println!(
            "customers {} distinct rows {}",
            s.len(),
            rfm.distinct_rows()
        );
        let opts = FitOptions::default();
        let bg = time("BG/NBD fit", || BgNbdParams::fit(&rfm, &opts).unwrap());
        println!("  {:?}\n  {:?}", bg.params, bg.report);
        let pn = time("Pareto/NBD fit", || {
            ParetoNbdParams::fit(&rfm, &opts).unwrap()
        });
        println!("  {:?}\n  {:?}", pn.params, pn.report);
        let sd = SpendData::new(&s.frequency, &s.monetary_value).unwrap();
        let gg = time("Gamma-Gamma fit", || {
            GammaGammaParams::fit(&sd, &opts).unwrap()
        });
        println!("  {:?}\n  {:?}", gg.params, gg.report);
        let pa = time("BG/NBD p_alive_many", || {
            bg.params
                .p_alive_many(&s.frequency, &s.recency, &s.t)
                .unwrap()
        });
        let _ = time("BG/NBD conditional_expected_purchases_many(39)", || {
            bg.params
                .conditional_expected_purchases_many(39.0, &s.frequency, &s.recency, &s.t)
                .unwrap()
        });
        let clv = time("CLV (BG/NBD + GG, 12 months)", || {
            customer_lifetime_value(
                &bg.params,
                &gg.params,
                &s.frequency,
                &s.recency,
                &s.t,
                &s.monetary_value,
                &ClvConfig::lifetimes_default(TimeUnit::Week),
            )
            .unwrap()
        });
        println!(
            "mean p_alive {:.4}, equity {:.1}",
            pa.iter().sum::<f64>() / pa.len() as f64,
            customer_equity(&clv)
        );
    }
    // Worst case for compression: continuous times, every row distinct.
    let n = 1_000_000;
    let mut rng = Rng(7);
    let mut x = Vec::with_capacity(n);
    let mut tx = Vec::with_capacity(n);
    let mut t = Vec::with_capacity(n);
    for _ in 0..n {
        let big_t = 27.0 + 12.0 * rng.uniform();
        let lambda = rng.gamma(0.243) / 4.414;
        let p = rng.beta(0.793, 2.426);
        let (mut k, mut last, mut now) = (0.0, 0.0, 0.0);
        loop {
            now += -rng.uniform().ln() / lambda;
            if now > big_t {
                break;
            }
            k += 1.0;
            last = now;
            if rng.uniform() < p {
                break;
            }
        }
        x.push(k);
        tx.push(last);
        t.push(big_t);
    }
    println!("--- {n} customers, continuous times");
    let rfm = time("RfmData::new", || RfmData::new(&x, &tx, &t).unwrap());
    println!("distinct rows {}", rfm.distinct_rows());
    let bg = time("BG/NBD fit", || {
        BgNbdParams::fit(&rfm, &FitOptions::default()).unwrap()
    });
    println!("  {:?}\n  {:?}", bg.params, bg.report);
    let pn = time("Pareto/NBD fit", || {
        ParetoNbdParams::fit(&rfm, &FitOptions::default()).unwrap()
    });
    println!("  {:?}\n  {:?}", pn.params, pn.report);
}

/// Writes the synthetic summary (`$TOUCHSTONE_VALUE_EXPORT_N` customers, default 100 000) as
/// CSV to `$TOUCHSTONE_VALUE_EXPORT` (for comparing with other implementations), with our
/// fitted parameters printed.
#[test]
#[ignore]
fn export_synthetic_summary() {
    let Ok(path) = std::env::var("TOUCHSTONE_VALUE_EXPORT") else {
        return;
    };
    let n = std::env::var("TOUCHSTONE_VALUE_EXPORT_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let (c, d, a) = simulate_bgnbd(n, 42);
    let cfg = SummaryConfig {
        observation_start: Some(0),
        calibration_end: 272,
        holdout_end: None,
        time_unit: TimeUnit::Week,
        zero_amounts: ZeroAmounts::Keep,
    };
    let s = summarize(&c, &d, &a, &cfg).unwrap();
    let mut out = String::from("frequency,recency,T,monetary_value\n");
    for i in 0..s.len() {
        out.push_str(&format!(
            "{},{:.17e},{:.17e},{:.17e}\n",
            s.frequency[i], s.recency[i], s.t[i], s.monetary_value[i]
        ));
    }
    std::fs::write(&path, out).unwrap();
    let rfm = RfmData::from_summary(&s).unwrap();
    let opts = FitOptions::default();
    println!("BG {:?}", BgNbdParams::fit(&rfm, &opts).unwrap().params);
    println!(
        "PNBD {:?}",
        ParetoNbdParams::fit(&rfm, &opts).unwrap().params
    );
    let sd = SpendData::new(&s.frequency, &s.monetary_value).unwrap();
    println!("GG {:?}", GammaGammaParams::fit(&sd, &opts).unwrap().params);
}

#[test]
#[ignore]
fn perf_compression() {
    let (c, d, a) = simulate_bgnbd(1_000_000, 42);
    let cfg = SummaryConfig {
        observation_start: Some(0),
        calibration_end: 272,
        holdout_end: None,
        time_unit: TimeUnit::Week,
        zero_amounts: ZeroAmounts::Keep,
    };
    let s = summarize(&c, &d, &a, &cfg).unwrap();
    for _ in 0..3 {
        let rfm = time("RfmData::from_summary (1M, day grid)", || {
            RfmData::from_summary(&s).unwrap()
        });
        let bg = time("BG/NBD fit", || {
            BgNbdParams::fit(&rfm, &FitOptions::default()).unwrap()
        });
        println!("  {:?} {} it", bg.params, bg.report.iterations);
    }
}
