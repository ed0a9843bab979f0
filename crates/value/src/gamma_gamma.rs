//! Gamma-Gamma model of average transaction value.
//!
//! P. S. Fader, B. G. S. Hardie & K. L. Lee (2005), "RFM and CLV: Using Iso-Value Curves for
//! Customer Base Analysis", *Journal of Marketing Research* 42(4), 415–430; written out in
//! P. S. Fader & B. G. S. Hardie (2013), "The Gamma-Gamma Model of Monetary Value"
//! (brucehardie.com/notes/025), whose equation numbers are cited below. A customer's
//! transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ) across customers; γ is called `v`
//! in `lifetimes`.

use crate::error::{Result, ValueError, positive};
use crate::optim::{Fit, FitOptions, Objective, chunked_sum, run_fit};
use crate::special::{digamma_diff, ln_gamma, ln_gamma_ratio};
use crate::stderr::{self, StandardErrors};
use rayon::prelude::*;

/// Gamma-Gamma parameters.
///
/// ```
/// use touchstone_value::GammaGammaParams;
/// // Published CDNOW estimates (Fader & Hardie 2013).
/// let m = GammaGammaParams::new(6.25, 3.74, 15.44).unwrap();
/// // Customer with 2 repeat purchases averaging $22.35: p(γ + m̄x)/(px + q − 1).
/// assert!((m.conditional_expected_spend(2.0, 22.35).unwrap() - 24.664).abs() < 1e-3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGammaParams {
    /// Shape of the per-transaction gamma distribution.
    pub p: f64,
    /// Shape of the gamma mixing distribution of ν.
    pub q: f64,
    /// Scale parameter of the mixing distribution (`v` in `lifetimes`).
    pub gamma: f64,
}

/// Repeat customers' (frequency, mean spend) rows, sorted by frequency.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendData {
    x: Vec<f64>,
    ln_x: Vec<f64>,
    m: Vec<f64>,
    ln_m: Vec<f64>,
    /// Rows skipped because frequency = 0 (the model describes repeat transactions only).
    pub skipped_no_repeat: usize,
}

impl SpendData {
    /// Keeps the customers with frequency > 0; their monetary value must be finite and > 0.
    ///
    /// Errors: lengths differ, empty input, frequency not a non-negative whole number, or a
    /// repeat customer with a non-positive or non-finite monetary value (such a customer cannot
    /// come from the model; exclude them or fix their amounts).
    ///
    /// ```
    /// use touchstone_value::gamma_gamma::SpendData;
    /// let d = SpendData::new(&[0.0, 2.0, 1.0], &[0.0, 20.0, 15.0]).unwrap();
    /// assert_eq!(d.len(), 2);
    /// assert_eq!(d.skipped_no_repeat, 1);
    /// ```
    pub fn new(frequency: &[f64], monetary_value: &[f64]) -> Result<Self> {
        crate::error::same_len("monetary_value", frequency.len(), monetary_value.len())?;
        if frequency.is_empty() {
            return Err(ValueError::EmptyInput { what: "spend data" });
        }
        let mut rows = Vec::with_capacity(frequency.len());
        let mut skipped = 0;
        for (i, (&x, &m)) in frequency.iter().zip(monetary_value).enumerate() {
            if !(x.is_finite() && x >= 0.0 && x == x.floor()) {
                return Err(ValueError::InvalidInput {
                    field: "frequency",
                    index: i,
                    value: x,
                    reason: "must be a non-negative whole number",
                });
            }
            if x == 0.0 {
                skipped += 1;
                continue;
            }
            if !(m.is_finite() && m > 0.0) {
                return Err(ValueError::InvalidInput {
                    field: "monetary_value",
                    index: i,
                    value: m,
                    reason: "must be finite and > 0 for a customer with repeat purchases",
                });
            }
            rows.push((x, m));
        }
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(SpendData {
            ln_x: rows.iter().map(|r| r.0.ln()).collect(),
            ln_m: rows.iter().map(|r| r.1.ln()).collect(),
            x: rows.iter().map(|r| r.0).collect(),
            m: rows.iter().map(|r| r.1).collect(),
            skipped_no_repeat: skipped,
        })
    }

    /// Number of repeat customers kept.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Whether no repeat customer was kept.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }
}

impl GammaGammaParams {
    /// Checks that every parameter is finite and > 0.
    pub fn new(p: f64, q: f64, gamma: f64) -> Result<Self> {
        Ok(GammaGammaParams {
            p: positive("p", p)?,
            q: positive("q", q)?,
            gamma: positive("gamma", gamma)?,
        })
    }

    /// Maximum-likelihood fit (the Fader & Hardie 2013 density of the average spend z̄ given x,
    /// summed over repeat customers).
    /// Needs at least 3 repeat customers.
    ///
    /// ```
    /// use touchstone_value::{FitOptions, GammaGammaParams, gamma_gamma::SpendData};
    /// let d = SpendData::new(&[1.0, 2.0, 4.0, 1.0, 3.0], &[10.0, 25.0, 18.0, 40.0, 12.5]).unwrap();
    /// let fit = GammaGammaParams::fit(&d, &FitOptions::default()).unwrap();
    /// assert!(fit.report.log_likelihood.is_finite());
    /// ```
    pub fn fit(data: &SpendData, opts: &FitOptions) -> Result<Fit<Self>> {
        if data.len() < 3 {
            return Err(ValueError::InsufficientData {
                model: "Gamma-Gamma",
                reason: "customers with a repeat purchase",
                have: data.len(),
                need: 3,
            });
        }
        let mean_m = data.m.iter().sum::<f64>() / data.len() as f64;
        let start = [0.0, 2f64.ln(), mean_m.ln()];
        let obj = Likelihood { data };
        let (m, report) = run_fit(
            "Gamma-Gamma",
            &obj,
            &start,
            opts,
            None,
            data.len() as f64,
            data.len(),
        )?;
        let params = GammaGammaParams::new(m.theta[0].exp(), m.theta[1].exp(), m.theta[2].exp())?;
        Ok(Fit { params, report })
    }

    /// Asymptotic standard errors of these parameters as estimates from `data` (observed
    /// information from the numerical Hessian of the log-likelihood; see [`crate::stderr`]).
    /// Meaningful for the parameters of a converged [`GammaGammaParams::fit`] on the same data.
    ///
    /// Errors when `data` is empty, the likelihood is not finite there, or the information
    /// matrix is not positive definite.
    pub fn standard_errors(&self, data: &SpendData) -> Result<StandardErrors> {
        if data.is_empty() {
            return Err(ValueError::EmptyInput {
                what: "spend data (no repeat customers)",
            });
        }
        stderr::from_objective(
            "Gamma-Gamma",
            &["p", "q", "gamma"],
            &Likelihood { data },
            &[self.p, self.q, self.gamma],
            data.len() as f64,
        )
    }

    /// Total log-likelihood of the data.
    pub fn log_likelihood(&self, data: &SpendData) -> f64 {
        if data.is_empty() {
            return 0.0;
        }
        let theta = [self.p.ln(), self.q.ln(), self.gamma.ln()];
        -Likelihood { data }.eval(&theta, None) * data.len() as f64
    }

    /// Expected average transaction value for a customer with `frequency` repeat purchases
    /// averaging `monetary_value` (Fader, Hardie & Lee 2005, conditional expectation of M;
    /// Fader & Hardie 2013):
    /// E(M | p, q, γ, m̄, x) = p (γ + m̄ x) / (p x + q − 1).
    ///
    /// For x = 0 this is the population mean p γ / (q − 1). Errors when p x + q ≤ 1 (the
    /// expectation is infinite) or the inputs are invalid.
    pub fn conditional_expected_spend(&self, frequency: f64, monetary_value: f64) -> Result<f64> {
        if !(frequency.is_finite() && frequency >= 0.0) {
            return Err(ValueError::InvalidInput {
                field: "frequency",
                index: 0,
                value: frequency,
                reason: "must be finite and >= 0",
            });
        }
        if !(monetary_value.is_finite() && monetary_value >= 0.0) {
            return Err(ValueError::InvalidInput {
                field: "monetary_value",
                index: 0,
                value: monetary_value,
                reason: "must be finite and >= 0",
            });
        }
        let denom = self.p * frequency + self.q - 1.0;
        if denom <= 0.0 {
            return Err(ValueError::InvalidParameter {
                name: "q",
                value: self.q,
                reason: "p·x + q must exceed 1 for the expected spend to be finite",
            });
        }
        Ok(self.p * (self.gamma + monetary_value * frequency) / denom)
    }

    /// [`GammaGammaParams::conditional_expected_spend`] over slices (in parallel for long ones).
    pub fn conditional_expected_spend_many(
        &self,
        frequency: &[f64],
        monetary_value: &[f64],
    ) -> Result<Vec<f64>> {
        crate::error::same_len("monetary_value", frequency.len(), monetary_value.len())?;
        let one = |i: usize| {
            self.conditional_expected_spend(frequency[i], monetary_value[i])
                .map_err(|e| match e {
                    ValueError::InvalidInput {
                        field,
                        value,
                        reason,
                        ..
                    } => ValueError::InvalidInput {
                        field,
                        index: i,
                        value,
                        reason,
                    },
                    other => other,
                })
        };
        if frequency.len() >= 4096 {
            (0..frequency.len()).into_par_iter().map(one).collect()
        } else {
            (0..frequency.len()).map(one).collect()
        }
    }

    /// Population mean transaction value p γ / (q − 1) (q > 1).
    pub fn population_mean_spend(&self) -> Result<f64> {
        self.conditional_expected_spend(0.0, 0.0)
    }
}

/// Mean negative log-likelihood over (ln p, ln q, ln γ) with analytic gradient.
///
/// ln f(m̄ | x) = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln m̄ + px ln x
///               − (px+q) ln(γ + m̄x)      (Fader & Hardie 2013, density of z̄),
/// evaluated as −ln B(px, q) − q ln(1 + m̄x/γ) − px ln(1 + γ/(m̄x)) − ln m̄, which stays exact
/// when an optimiser explores very large q and γ.
struct Likelihood<'a> {
    data: &'a SpendData,
}

/// −ln B(u, v) = ln Γ(u+v) − ln Γ(u) − ln Γ(v), the larger argument taking the gamma ratio.
fn neg_ln_beta(u: f64, v: f64) -> f64 {
    if u >= v {
        ln_gamma_ratio(u, v) - ln_gamma(v)
    } else {
        ln_gamma_ratio(v, u) - ln_gamma(u)
    }
}

impl Objective for Likelihood<'_> {
    fn dim(&self) -> usize {
        3
    }

    fn eval(&self, theta: &[f64], grad: Option<&mut [f64]>) -> f64 {
        let (p, q, g) = (theta[0].exp(), theta[1].exp(), theta[2].exp());
        let d = self.data;
        let want_grad = grad.is_some();
        let sums = chunked_sum::<4, _>(d.x.len(), |range| {
            let mut acc = [0.0; 4];
            let mut last_x = f64::NAN;
            let (mut k, mut dp_psi, mut dq_psi) = (0.0, 0.0, 0.0);
            for i in range {
                let x = d.x[i];
                let px = p * x;
                if x != last_x {
                    k = neg_ln_beta(px, q);
                    if want_grad {
                        dp_psi = digamma_diff(px, q); // ψ(px+q) − ψ(px)
                        dq_psi = digamma_diff(q, px); // ψ(px+q) − ψ(q)
                    }
                    last_x = x;
                }
                let mx = d.m[i] * x;
                let l_q = (mx / g).ln_1p();
                let l_p = (g / mx).ln_1p();
                acc[0] += k - q * l_q - px * l_p - d.ln_m[i];
                if want_grad {
                    acc[1] += x * (dp_psi - l_p);
                    acc[2] += dq_psi - l_q;
                    acc[3] += (q * mx / g - px) / (g + mx);
                }
            }
            acc
        });
        let n = d.len() as f64;
        if let Some(gr) = grad {
            gr[0] = -sums[1] * p / n;
            gr[1] = -sums[2] * q / n;
            gr[2] = -sums[3] * g / n;
        }
        let v = -sums[0] / n;
        if v.is_finite() { v } else { f64::INFINITY }
    }
}

#[cfg(test)]
// Reference values are kept exactly as printed by their source (mpmath, R, papers).
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use crate::summary::tests::cdnow_summary;

    fn round_to(v: f64, digits: i32) -> f64 {
        let s = 10f64.powi(digits);
        (v * s).round() / s
    }

    #[test]
    fn fits_cdnow_to_published_values() {
        // Monetary values built by our own summary from CDNOW_sample.txt.
        let s = cdnow_summary();
        let d = SpendData::new(&s.frequency, &s.monetary_value).unwrap();
        assert_eq!(d.len(), 946);
        let fit = GammaGammaParams::fit(&d, &FitOptions::default()).unwrap();
        assert!(fit.report.converged, "{:?}", fit.report);
        let p = fit.params;
        // Fader & Hardie (2013): p = 6.25, q = 3.74, γ = 15.44.
        assert_eq!(round_to(p.p, 2), 6.25, "{p:?}");
        assert_eq!(round_to(p.q, 2), 3.74, "{p:?}");
        assert_eq!(round_to(p.gamma, 2), 15.44, "{p:?}");
        // Maximum found independently with mpmath 1.3.0 at 30 digits (Newton's method, same
        // data rebuilt from CDNOW_sample.txt): p = 6.24957227132, q = 3.74422466713,
        // γ = 15.4435209626, LL = −4055.917694801874.
        for (got, want) in
            [p.p, p.q, p.gamma]
                .iter()
                .zip([6.24957227132, 3.74422466713, 15.4435209626])
        {
            assert!((got - want).abs() < 1e-7 * want, "{got} vs {want}");
        }
        assert!((fit.report.log_likelihood + 4055.917694801874).abs() < 1e-7);
    }

    #[test]
    fn standard_errors_match_mpmath() {
        // crates/value/reference/standard_errors.py (mpmath 1.3.0, 30 digits; the 946 repeat
        // customers rebuilt from CDNOW_sample.txt): 1.19005533596, 0.290133065276, 4.15942275197.
        let s = cdnow_summary();
        let d = SpendData::new(&s.frequency, &s.monetary_value).unwrap();
        let fit = GammaGammaParams::fit(&d, &FitOptions::default()).unwrap();
        let se = fit.params.standard_errors(&d).unwrap();
        assert_eq!(se.names, ["p", "q", "gamma"]);
        for (k, (got, want)) in se
            .std_errors
            .iter()
            .zip([1.19005533596, 0.290133065276, 4.15942275197])
            .enumerate()
        {
            assert!((got - want).abs() < 1e-6 * want, "{k}: {got} vs {want}");
        }
        let empty = SpendData::new(&[0.0], &[0.0]).unwrap();
        assert!(fit.params.standard_errors(&empty).is_err());
    }

    #[test]
    fn conditional_spend_matches_hardie_spreadsheet() {
        // lifetimes' tests, "from Hardie spreadsheet http://brucehardie.com/notes/025/": first 10
        // CDNOW customers, to the cent. The spreadsheet uses the unrounded estimates (the
        // population mean for x = 0 is 35.17 there, 35.22 at the rounded 6.25 / 3.74 / 15.44).
        let s = cdnow_summary();
        let d = SpendData::new(&s.frequency, &s.monetary_value).unwrap();
        let m = GammaGammaParams::fit(&d, &FitOptions::default())
            .unwrap()
            .params;
        let want = [
            24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17,
        ];
        let got = m
            .conditional_expected_spend_many(&s.frequency[..10], &s.monetary_value[..10])
            .unwrap();
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 0.005 + 1e-9, "{g} vs {w}");
        }
        let rounded = GammaGammaParams::new(6.25, 3.74, 15.44).unwrap();
        assert!((rounded.population_mean_spend().unwrap() - 6.25 * 15.44 / 2.74).abs() < 1e-12);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let s = cdnow_summary();
        let d = SpendData::new(&s.frequency, &s.monetary_value).unwrap();
        let obj = Likelihood { data: &d };
        let theta = [1.5, 1.0, 2.5];
        let mut g = [0.0; 3];
        obj.eval(&theta, Some(&mut g));
        let mut fd = [0.0; 3];
        crate::optim::numeric_gradient(|t| obj.eval(t, None), &theta, &mut fd);
        for k in 0..3 {
            assert!(
                (g[k] - fd[k]).abs() < 1e-7 * fd[k].abs().max(1.0),
                "{k}: {} vs {}",
                g[k],
                fd[k]
            );
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(matches!(
            SpendData::new(&[1.0], &[0.0]),
            Err(ValueError::InvalidInput {
                field: "monetary_value",
                ..
            })
        ));
        let d = SpendData::new(&[1.0, 0.0], &[3.0, 0.0]).unwrap();
        assert!(matches!(
            GammaGammaParams::fit(&d, &FitOptions::default()),
            Err(ValueError::InsufficientData { .. })
        ));
        let m = GammaGammaParams::new(1.0, 0.5, 3.0).unwrap();
        assert!(m.population_mean_spend().is_err());
    }
}
