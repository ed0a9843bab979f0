//! Kaplan–Meier estimate of a retention (survival) curve from right-censored durations.
//!
//! E. L. Kaplan & P. Meier (1958), "Nonparametric Estimation from Incomplete Observations",
//! *JASA* 53, 457–481. Variance by Greenwood's formula; the confidence band uses the
//! log(−log) transformation (J. D. Kalbfleisch & R. L. Prentice, *The Statistical Analysis of
//! Failure Time Data*, 2nd ed., 2002, §1.4; `conf.type = "log-log"` in R's `survival`
//! package), which keeps the band inside [0, 1].

use crate::error::{Result, ValueError};
use crate::special::normal_quantile;

/// Kaplan–Meier estimate, one row per distinct observed time (event or censoring), in
/// increasing time order.
///
/// ```
/// use touchstone_value::kaplan_meier;
/// // Durations in months; `false` = still a customer (censored).
/// let km = kaplan_meier(&[3.0, 5.0, 5.0, 8.0, 12.0], &[true, true, false, true, false], 0.95).unwrap();
/// assert_eq!(km.time, vec![3.0, 5.0, 8.0, 12.0]);
/// assert!((km.survival[0] - 0.8).abs() < 1e-15);
/// assert!((km.survival_at(6.0) - 0.6).abs() < 1e-15);
/// assert!(km.lower[1] <= km.survival[1] && km.survival[1] <= km.upper[1]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct KaplanMeier {
    /// Distinct observed times.
    pub time: Vec<f64>,
    /// Number at risk just before each time.
    pub at_risk: Vec<usize>,
    /// Events (churns) at each time.
    pub events: Vec<usize>,
    /// Censored observations at each time.
    pub censored: Vec<usize>,
    /// Ŝ(t) just after each time.
    pub survival: Vec<f64>,
    /// Greenwood variance Ŝ(t)² Σ_{tᵢ ≤ t} dᵢ / (nᵢ (nᵢ − dᵢ)); 0 once Ŝ = 0 (undefined there).
    pub variance: Vec<f64>,
    /// Lower confidence limit Ŝ^{exp(z σ)}, σ = √(Σ dᵢ/(nᵢ(nᵢ−dᵢ))) / |ln Ŝ| (log-log).
    pub lower: Vec<f64>,
    /// Upper confidence limit Ŝ^{exp(−z σ)} (log-log).
    pub upper: Vec<f64>,
    /// Confidence level of the band (e.g. 0.95).
    pub confidence: f64,
}

/// Kaplan–Meier estimate with Greenwood variance and a log-log confidence band.
///
/// Events and censorings at the same time: the events happen first (the censored are still at
/// risk), the usual convention. Where Ŝ = 1 the band is [1, 1]; where Ŝ = 0 it is [0, 0].
///
/// Errors: lengths differ, empty input, a duration negative or not finite, or a confidence
/// level outside (0, 1).
pub fn kaplan_meier(duration: &[f64], observed: &[bool], confidence: f64) -> Result<KaplanMeier> {
    crate::error::same_len("observed", duration.len(), observed.len())?;
    if duration.is_empty() {
        return Err(ValueError::EmptyInput { what: "durations" });
    }
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(ValueError::InvalidParameter {
            name: "confidence",
            value: confidence,
            reason: "must be strictly between 0 and 1",
        });
    }
    for (i, &d) in duration.iter().enumerate() {
        if !(d.is_finite() && d >= 0.0) {
            return Err(ValueError::InvalidInput {
                field: "duration",
                index: i,
                value: d,
                reason: "must be finite and >= 0",
            });
        }
    }
    let z = normal_quantile(0.5 + 0.5 * confidence)?;
    let mut rows: Vec<(f64, bool)> = duration
        .iter()
        .copied()
        .zip(observed.iter().copied())
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = KaplanMeier {
        time: Vec::new(),
        at_risk: Vec::new(),
        events: Vec::new(),
        censored: Vec::new(),
        survival: Vec::new(),
        variance: Vec::new(),
        lower: Vec::new(),
        upper: Vec::new(),
        confidence,
    };
    let mut at_risk = rows.len();
    let mut s = 1.0;
    let mut greenwood = 0.0; // Σ d/(n(n−d))
    let mut i = 0;
    while i < rows.len() {
        let t = rows[i].0;
        let (mut d, mut c) = (0usize, 0usize);
        while i < rows.len() && rows[i].0 == t {
            if rows[i].1 {
                d += 1;
            } else {
                c += 1;
            }
            i += 1;
        }
        let n = at_risk;
        if d > 0 {
            s *= 1.0 - d as f64 / n as f64;
            if d < n {
                greenwood += d as f64 / (n as f64 * (n - d) as f64);
            }
        }
        let (var, lo, hi) = if s <= 0.0 {
            (0.0, 0.0, 0.0)
        } else if greenwood == 0.0 {
            (0.0, s, s)
        } else {
            let sigma = greenwood.sqrt() / s.ln().abs();
            (
                s * s * greenwood,
                s.powf((z * sigma).exp()),
                s.powf((-z * sigma).exp()),
            )
        };
        out.time.push(t);
        out.at_risk.push(n);
        out.events.push(d);
        out.censored.push(c);
        out.survival.push(s.max(0.0));
        out.variance.push(var);
        out.lower.push(lo);
        out.upper.push(hi);
        at_risk -= d + c;
    }
    Ok(out)
}

impl KaplanMeier {
    /// Ŝ(t): the estimate at time t (a right-continuous step function; 1 before the first
    /// time).
    pub fn survival_at(&self, t: f64) -> f64 {
        match self.time.partition_point(|&x| x <= t) {
            0 => 1.0,
            k => self.survival[k - 1],
        }
    }

    /// Median retention time: the first time at which Ŝ ≤ ½, if the curve gets there.
    pub fn median(&self) -> Option<f64> {
        self.survival
            .iter()
            .position(|&s| s <= 0.5)
            .map(|k| self.time[k])
    }
}

#[cfg(test)]
// Reference values are kept exactly as printed by their source (mpmath, R, papers).
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reproduces_the_6mp_leukemia_example() {
        // Freireich et al. (1963) 6-MP arm, as in Kalbfleisch & Prentice and R's
        // survfit(conf.type = "log-log"): times with '+' censored.
        let t = [
            6., 6., 6., 6., 7., 9., 10., 10., 11., 13., 16., 17., 19., 20., 22., 23., 25., 32.,
            32., 34., 35.,
        ];
        let ev = [
            1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0,
        ];
        let obs: Vec<bool> = ev.iter().map(|&e| e == 1).collect();
        let km = kaplan_meier(&t, &obs, 0.95).unwrap();
        // (time, n, d, S, se, lower, upper), R survival 3.x printout to 3–4 digits, and the same
        // computed in double precision by an independent script.
        let want = [
            (
                6.0,
                21,
                3,
                0.8571428571,
                0.0763603548,
                0.6197179553,
                0.9515517476,
            ),
            (
                7.0,
                17,
                1,
                0.8067226891,
                0.0869352852,
                0.5631465646,
                0.9228090192,
            ),
            (
                10.0,
                15,
                1,
                0.7529411765,
                0.0963496530,
                0.5031995108,
                0.8893618352,
            ),
            (
                13.0,
                12,
                1,
                0.6901960784,
                0.1068147078,
                0.4316102225,
                0.8490659633,
            ),
            (
                16.0,
                11,
                1,
                0.6274509804,
                0.1140538653,
                0.3675108560,
                0.8049121895,
            ),
            (
                22.0,
                7,
                1,
                0.5378151261,
                0.1282337517,
                0.2677789368,
                0.7467907176,
            ),
            (
                23.0,
                6,
                1,
                0.4481792717,
                0.1345914568,
                0.1880520060,
                0.6801426285,
            ),
        ];
        for (time, n, d, s, se, lo, hi) in want {
            let k = km.time.iter().position(|&x| x == time).unwrap();
            assert_eq!(km.at_risk[k], n);
            assert_eq!(km.events[k], d);
            assert!((km.survival[k] - s).abs() < 1e-10);
            assert!((km.variance[k].sqrt() - se).abs() < 1e-10);
            assert!(
                (km.lower[k] - lo).abs() < 1e-9,
                "{time}: {} vs {lo}",
                km.lower[k]
            );
            assert!(
                (km.upper[k] - hi).abs() < 1e-9,
                "{time}: {} vs {hi}",
                km.upper[k]
            );
        }
        assert_eq!(km.median(), Some(23.0));
        assert_eq!(km.survival_at(5.0), 1.0);
        assert!((km.survival_at(35.0) - 0.4481792717).abs() < 1e-10);
    }

    #[test]
    fn everyone_churns_gives_zero_band() {
        let km = kaplan_meier(&[1.0, 2.0], &[true, true], 0.9).unwrap();
        assert_eq!(km.survival, vec![0.5, 0.0]);
        assert_eq!((km.lower[1], km.upper[1]), (0.0, 0.0));
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(kaplan_meier(&[], &[], 0.95).is_err());
        assert!(kaplan_meier(&[1.0], &[true, false], 0.95).is_err());
        assert!(kaplan_meier(&[-1.0], &[true], 0.95).is_err());
        assert!(kaplan_meier(&[1.0], &[true], 1.0).is_err());
    }

    proptest! {
        #[test]
        fn survival_monotone_and_band_contains_estimate(
            rows in proptest::collection::vec((0u32..50, proptest::bool::ANY), 1..200),
            conf in 0.5f64..0.999) {
            let d: Vec<f64> = rows.iter().map(|r| f64::from(r.0)).collect();
            let o: Vec<bool> = rows.iter().map(|r| r.1).collect();
            let km = kaplan_meier(&d, &o, conf).unwrap();
            let mut prev = 1.0;
            for k in 0..km.time.len() {
                let s = km.survival[k];
                prop_assert!((0.0..=1.0).contains(&s));
                prop_assert!(s <= prev);
                prop_assert!(km.lower[k] <= s + 1e-15 && s <= km.upper[k] + 1e-15);
                prop_assert!(km.lower[k] >= 0.0 && km.upper[k] <= 1.0);
                prev = s;
            }
            let total: usize = km.events.iter().sum::<usize>() + km.censored.iter().sum::<usize>();
            prop_assert_eq!(total, rows.len());
        }
    }
}
