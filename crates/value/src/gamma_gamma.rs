//! Gamma-Gamma model of average transaction value.
//!
//! P. S. Fader, B. G. S. Hardie & K. L. Lee (2005), "RFM and CLV: Using Iso-Value Curves for
//! Customer Base Analysis", *Journal of Marketing Research* 42(4), 415–430; written out in
//! P. S. Fader & B. G. S. Hardie (2013), "The Gamma-Gamma Model of Monetary Value"
//! (brucehardie.com/notes/025), whose equation numbers are cited below. A customer's
//! transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ) across customers; γ is called `v`
//! in `lifetimes`.

use crate::error::{Result, ValueError, positive};
use crate::optim::{
    Fit, FitOptions, Objective, WARM_START_ROWS, chunked_sum, run_fit, warm_start_sample,
};
use crate::rfm::check_frequency;
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

/// Repeat customers' (frequency, mean spend) rows, with the sums the likelihood needs
/// precomputed.
///
/// The log-likelihood depends on the rows only through the frequencies and u = m̄·x (the
/// total repeat spend): per row it is −ln B(px, q) − q ln(1 + u/γ) − px ln(1 + γ/u) − ln m̄,
/// and with L = ln(u + γ) that is −ln B(px, q) − q (L − ln γ) − px (L − ln u) − ln m̄. With
/// ln u and Σ ln m̄ built once here and ln B computed once per distinct frequency, an
/// evaluation costs one logarithm and one division per row.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendData {
    /// Frequencies of the repeat customers, in input order.
    x: Vec<f64>,
    /// u = m̄·x, in the order of `x`.
    u: Vec<f64>,
    /// ln u.
    ln_u: Vec<f64>,
    /// Distinct frequencies (ascending) with their number of customers.
    groups: Vec<(f64, f64)>,
    /// Σ ln m̄.
    sum_ln_m: f64,
    /// Σ m̄.
    sum_m: f64,
    /// Σ x.
    sum_x: f64,
    /// Smallest and largest u.
    u_range: (f64, f64),
    /// Rows skipped because frequency = 0 (the model describes repeat transactions only).
    pub skipped_no_repeat: usize,
}

/// Input rows per work item when building [`SpendData`].
const BUILD_CHUNK: usize = 65_536;
/// Frequencies below this are counted in an array, larger ones in a map.
const DENSE_FREQUENCIES: usize = 1024;

/// One chunk's repeat customers and partial sums.
struct SpendPart {
    x: Vec<f64>,
    u: Vec<f64>,
    ln_u: Vec<f64>,
    dense: Vec<f64>,
    sparse: std::collections::BTreeMap<u64, f64>,
    skipped: usize,
    /// [Σ ln u, Σ m̄, min u, max u]
    sums: [f64; 4],
}

impl SpendPart {
    fn build(frequency: &[f64], monetary_value: &[f64], offset: usize) -> Result<SpendPart> {
        let mut part = SpendPart {
            x: Vec::with_capacity(frequency.len()),
            u: Vec::with_capacity(frequency.len()),
            ln_u: Vec::new(),
            dense: vec![0.0; DENSE_FREQUENCIES],
            sparse: std::collections::BTreeMap::new(),
            skipped: 0,
            sums: [0.0, 0.0, f64::INFINITY, 0.0],
        };
        for (i, (&x, &m)) in frequency.iter().zip(monetary_value).enumerate() {
            check_frequency(offset + i, x)?;
            if x == 0.0 {
                part.skipped += 1;
                continue;
            }
            if !(m.is_finite() && m > 0.0) {
                return Err(ValueError::InvalidInput {
                    field: "monetary_value",
                    index: offset + i,
                    value: m,
                    reason: "must be finite and > 0 for a customer with repeat purchases",
                });
            }
            let u = m * x;
            part.x.push(x);
            part.u.push(u);
            part.sums[1] += m;
            part.sums[2] = part.sums[2].min(u);
            part.sums[3] = part.sums[3].max(u);
            if x < DENSE_FREQUENCIES as f64 {
                part.dense[x as usize] += 1.0;
            } else {
                *part.sparse.entry(x.to_bits()).or_insert(0.0) += 1.0;
            }
        }
        part.ln_u = part.u.iter().map(|u| u.ln()).collect();
        part.sums[0] = part.ln_u.iter().sum();
        Ok(part)
    }
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
        let n = frequency.len();
        let chunk = |c: usize| {
            let range = c * BUILD_CHUNK..((c + 1) * BUILD_CHUNK).min(n);
            SpendPart::build(
                &frequency[range.clone()],
                &monetary_value[range.clone()],
                range.start,
            )
        };
        let chunks = n.div_ceil(BUILD_CHUNK);
        // Chunk results in row order, so the first error is the first bad row's.
        let parts: Vec<SpendPart> = if chunks > 1 {
            (0..chunks)
                .into_par_iter()
                .map(chunk)
                .collect::<Vec<Result<SpendPart>>>()
                .into_iter()
                .collect::<Result<_>>()?
        } else {
            vec![chunk(0)?]
        };
        let kept: usize = parts.iter().map(|p| p.x.len()).sum();
        let mut d = SpendData {
            x: Vec::with_capacity(kept),
            u: Vec::with_capacity(kept),
            ln_u: Vec::with_capacity(kept),
            groups: Vec::new(),
            sum_ln_m: 0.0,
            sum_m: 0.0,
            sum_x: 0.0,
            u_range: (f64::INFINITY, 0.0),
            skipped_no_repeat: 0,
        };
        let mut dense = vec![0.0; DENSE_FREQUENCIES];
        let mut sparse = std::collections::BTreeMap::new();
        let mut sum_ln_u = 0.0;
        for p in parts {
            d.x.extend_from_slice(&p.x);
            d.u.extend_from_slice(&p.u);
            d.ln_u.extend_from_slice(&p.ln_u);
            for (total, c) in dense.iter_mut().zip(&p.dense) {
                *total += c;
            }
            for (k, c) in p.sparse {
                *sparse.entry(k).or_insert(0.0) += c;
            }
            d.skipped_no_repeat += p.skipped;
            sum_ln_u += p.sums[0];
            d.sum_m += p.sums[1];
            d.u_range = (d.u_range.0.min(p.sums[2]), d.u_range.1.max(p.sums[3]));
        }
        d.groups = dense
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0.0)
            .map(|(x, c)| (x as f64, *c))
            .chain(sparse.into_iter().map(|(k, c)| (f64::from_bits(k), c)))
            .collect();
        d.sum_x = d.groups.iter().map(|(x, c)| c * x).sum();
        // Σ ln m̄ = Σ ln u − Σ ln x.
        d.sum_ln_m = sum_ln_u - d.groups.iter().map(|(x, c)| c * x.ln()).sum::<f64>();
        Ok(d)
    }

    /// Every `len / target`-th row. Used to find a starting point cheaply.
    fn subsample(&self, target: usize) -> SpendData {
        let step = (self.len() / target.max(1)).max(1);
        let pick = |v: &[f64]| -> Vec<f64> { v.iter().step_by(step).copied().collect() };
        let (x, u, ln_u) = (pick(&self.x), pick(&self.u), pick(&self.ln_u));
        let mut counts = std::collections::BTreeMap::new();
        for xi in &x {
            *counts.entry(xi.to_bits()).or_insert(0.0) += 1.0;
        }
        let groups: Vec<(f64, f64)> = counts
            .into_iter()
            .map(|(k, c)| (f64::from_bits(k), c))
            .collect();
        let (mut sum_ln_m, mut sum_m) = (0.0, 0.0);
        let mut u_range = (f64::INFINITY, 0.0f64);
        for ((xi, ui), lu) in x.iter().zip(&u).zip(&ln_u) {
            sum_ln_m += lu - xi.ln();
            sum_m += ui / xi;
            u_range = (u_range.0.min(*ui), u_range.1.max(*ui));
        }
        SpendData {
            sum_x: x.iter().sum(),
            x,
            u,
            ln_u,
            groups,
            sum_ln_m,
            sum_m,
            u_range,
            skipped_no_repeat: 0,
        }
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
    /// Needs at least 3 repeat customers. For more than 20 000 of them, a fit on a systematic
    /// subsample (2 500 to 10 000 customers) provides the starting point and initial
    /// curvature; the final fit always uses all the data.
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
        let mean_m = data.sum_m / data.len() as f64;
        let mut start = vec![0.0, 2f64.ln(), mean_m.ln()];
        let mut warm_h = None;
        if data.len() > WARM_START_ROWS {
            // A fit on a subsample gives the starting point and the initial curvature.
            let sample = data.subsample(warm_start_sample(data.len()));
            if let Ok((m, _)) = run_fit(
                "Gamma-Gamma",
                &Likelihood { data: &sample },
                &start,
                opts,
                None,
                sample.len() as f64,
                sample.len(),
            ) && m.theta.iter().all(|t| t.abs() < 20.0)
            {
                start = m.theta;
                warm_h = m.inverse_hessian;
            }
        }
        let obj = Likelihood { data };
        let (m, report) = run_fit(
            "Gamma-Gamma",
            &obj,
            &start,
            opts,
            warm_h.as_deref(),
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

    /// [`GammaGammaParams::conditional_expected_spend`] over slices (in parallel for long ones);
    /// the first failing row fails the call.
    pub fn conditional_expected_spend_many(
        &self,
        frequency: &[f64],
        monetary_value: &[f64],
    ) -> Result<Vec<f64>> {
        self.conditional_expected_spend_each(frequency, monetary_value)?
            .into_iter()
            .collect()
    }

    /// [`GammaGammaParams::conditional_expected_spend`] over slices, each row's result on its
    /// own; errors as a whole only when the lengths differ.
    pub fn conditional_expected_spend_each(
        &self,
        frequency: &[f64],
        monetary_value: &[f64],
    ) -> Result<Vec<Result<f64>>> {
        crate::error::same_len("monetary_value", frequency.len(), monetary_value.len())?;
        Ok(crate::model::each_indexed(frequency.len(), |i| {
            self.conditional_expected_spend(frequency[i], monetary_value[i])
        }))
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
/// i.e. −ln B(px, q) − q ln(1 + u/γ) − px ln(1 + γ/u) − ln m̄ with u = m̄x. Summed over rows
/// this is Σ −ln B(px, q) + q n ln γ − q Σ L − p Σ xL + p Σ x ln u − Σ ln m̄, L = ln(u + γ)
/// (see [`SpendData`]). That form loses digits to cancellation when q or px is huge (an
/// optimiser exploring a limiting case), so beyond [`FAST_FORM_LIMIT`] the row terms are
/// evaluated with `ln_1p` instead, which stays exact there.
struct Likelihood<'a> {
    data: &'a SpendData,
}

/// Bound on (q + p x̄)(1 + |ln γ| + 2 max |ln u|, |ln(u + γ)|) up to which the one-logarithm form
/// is used: its rounding error in the mean log-likelihood is then below ~10⁻¹² absolute.
const FAST_FORM_LIMIT: f64 = 1e4;

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
        let n = d.len() as f64;
        // Per distinct frequency: Σ −ln B(px, q) and its derivatives in p and q.
        let (mut k, mut dk_dp, mut dk_dq) = (0.0, 0.0, 0.0);
        for &(x, c) in &d.groups {
            let px = p * x;
            k += c * neg_ln_beta(px, q);
            if want_grad {
                dk_dp += c * x * digamma_diff(px, q); // ψ(px+q) − ψ(px)
                dk_dq += c * digamma_diff(q, px); // ψ(px+q) − ψ(q)
            }
        }
        let (u_lo, u_hi) = d.u_range;
        let ln_g = g.ln();
        let ln_max = [u_lo.ln(), u_hi.ln(), (u_lo + g).ln(), (u_hi + g).ln()]
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let fast = (q + p * d.sum_x / n) * (1.0 + ln_g.abs() + 2.0 * ln_max) <= FAST_FORM_LIMIT;
        // [Σ ln(1 + u/γ), Σ x ln(1 + γ/u), Σ u/(u+γ), Σ x/(u+γ)]
        let s = if fast {
            // from L = ln(u+γ)
            chunked_sum::<4, _>(d.x.len(), |range| {
                let mut acc = [0.0; 4];
                for i in range {
                    let (x, u) = (d.x[i], d.u[i]);
                    let l = (u + g).ln();
                    let inv = 1.0 / (u + g);
                    acc[0] += l - ln_g;
                    acc[1] += x * (l - d.ln_u[i]);
                    acc[2] += u * inv;
                    acc[3] += x * inv;
                }
                acc
            })
        } else {
            chunked_sum::<4, _>(d.x.len(), |range| {
                let mut acc = [0.0; 4];
                for i in range {
                    let (x, u) = (d.x[i], d.u[i]);
                    acc[0] += (u / g).ln_1p();
                    acc[1] += x * (g / u).ln_1p();
                    if want_grad {
                        let inv = 1.0 / (u + g);
                        acc[2] += u * inv;
                        acc[3] += x * inv;
                    }
                }
                acc
            })
        };
        // (ll, d/dp, d/dq, d/dγ) of the total log-likelihood.
        let (ll, dp, dq, dg) = (
            k - q * s[0] - p * s[1] - d.sum_ln_m,
            dk_dp - s[1],
            dk_dq - s[0],
            q / g * s[2] - p * s[3],
        );
        if let Some(gr) = grad {
            gr[0] = -dp * p / n;
            gr[1] = -dq * q / n;
            gr[2] = -dg * g / n;
        }
        let v = -ll / n;
        if v.is_finite() { v } else { f64::INFINITY }
    }
}

#[cfg(test)]
// Reference values are kept exactly as printed by their source (mpmath, R, papers).
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use crate::summary::tests::cdnow_summary;
    use crate::test_util::round_to;

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
