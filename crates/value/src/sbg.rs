//! Shifted-beta-geometric (sBG) model of contractual retention.
//!
//! P. S. Fader & B. G. S. Hardie (2007), "How to Project Customer Retention", *Journal of
//! Interactive Marketing* 21(1), 76–90. Each customer renews every period with probability
//! 1 − θ, θ ~ Beta(α, β) across customers:
//!
//! - P(T = t) = B(α+1, β+t−1) / B(α, β), t = 1, 2, … (churn in period t);
//! - S(t) = B(α, β+t) / B(α, β) (still a customer after t periods);
//! - retention rate r(t) = S(t)/S(t−1) = (β+t−1)/(α+β+t−1).

use crate::error::{Result, ValueError, positive};
use crate::optim::{Fit, FitOptions, Objective, run_fit};
use crate::special::{digamma, ln_beta};
use crate::stderr::{self, StandardErrors};

/// sBG parameters.
///
/// ```
/// use touchstone_value::{FitOptions, SbgParams};
/// // "Regular" customers of Fader & Hardie (2007), % still active at years 0..7.
/// let alive = [100.0, 63.1, 46.8, 38.2, 32.6, 28.9, 26.2, 24.1];
/// let fit = SbgParams::fit(&alive, &FitOptions::default()).unwrap();
/// assert!((fit.params.alpha - 0.704).abs() < 5e-4);
/// assert!((fit.params.beta - 1.182).abs() < 5e-4);
/// let projected = fit.params.survival_curve(12);
/// assert!(projected[12] < projected[7]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SbgParams {
    /// First beta parameter of the churn probability.
    pub alpha: f64,
    /// Second beta parameter of the churn probability.
    pub beta: f64,
}

impl SbgParams {
    /// Checks that both parameters are finite and > 0.
    pub fn new(alpha: f64, beta: f64) -> Result<Self> {
        Ok(SbgParams {
            alpha: positive("alpha", alpha)?,
            beta: positive("beta", beta)?,
        })
    }

    /// Maximum-likelihood fit to a cohort survival curve: `alive[t]` customers (or percent)
    /// still active after t periods, `alive[0]` the cohort size. The likelihood is
    /// Σₜ (alive\[t−1\] − alive\[t\]) ln P(T=t) + alive\[n\] ln S(n) (Fader & Hardie 2007, the
    /// likelihood for a cohort observed for n periods);
    /// the estimates do not depend on the scale of `alive`.
    ///
    /// Errors: fewer than 3 points (two periods), a value not finite or negative, `alive[0]`
    /// not > 0, or a curve that increases.
    pub fn fit(alive: &[f64], opts: &FitOptions) -> Result<Fit<Self>> {
        check_curve(alive)?;
        let obj = Likelihood { alive };
        let (m, report) = run_fit("sBG", &obj, &[0.0, 0.0], opts, None, alive[0], alive.len())?;
        let params = SbgParams::new(m.theta[0].exp(), m.theta[1].exp())?;
        Ok(Fit { params, report })
    }

    /// Asymptotic standard errors of (α, β) as estimates from the survival curve `alive`
    /// (observed information from the numerical Hessian of the log-likelihood; see
    /// [`crate::stderr`]). The information grows with the cohort size, so `alive` must hold
    /// customer **counts** here, not percentages, for the errors to mean anything.
    /// Meaningful for the parameters of a converged [`SbgParams::fit`] on the same curve.
    ///
    /// ```
    /// use touchstone_value::{FitOptions, SbgParams};
    /// let alive = [1000.0, 631.0, 468.0, 382.0, 326.0, 289.0, 262.0, 241.0];
    /// let fit = SbgParams::fit(&alive, &FitOptions::default())?;
    /// let se = fit.params.standard_errors(&alive)?;
    /// assert_eq!(se.names, ["alpha", "beta"]);
    /// assert!(se.std_errors[0] < fit.params.alpha);
    /// # Ok::<(), touchstone_value::ValueError>(())
    /// ```
    pub fn standard_errors(&self, alive: &[f64]) -> Result<StandardErrors> {
        check_curve(alive)?;
        stderr::from_objective(
            "sBG",
            &["alpha", "beta"],
            &Likelihood { alive },
            &[self.alpha, self.beta],
            alive[0],
        )
    }

    /// P(T = t): probability of churning in period t ≥ 1 (0 for t = 0).
    pub fn churn_probability(&self, t: u32) -> f64 {
        if t == 0 {
            return 0.0;
        }
        let tf = f64::from(t);
        (ln_beta(self.alpha + 1.0, self.beta + tf - 1.0) - ln_beta(self.alpha, self.beta)).exp()
    }

    /// S(t): probability of still being a customer after t periods.
    pub fn survival(&self, t: u32) -> f64 {
        (ln_beta(self.alpha, self.beta + f64::from(t)) - ln_beta(self.alpha, self.beta)).exp()
    }

    /// Retention rate from period t−1 to t, (β+t−1)/(α+β+t−1), for t ≥ 1 (1 for t = 0).
    pub fn retention_rate(&self, t: u32) -> f64 {
        if t == 0 {
            return 1.0;
        }
        let tf = f64::from(t);
        (self.beta + tf - 1.0) / (self.alpha + self.beta + tf - 1.0)
    }

    /// S(0), S(1), …, S(periods).
    pub fn survival_curve(&self, periods: u32) -> Vec<f64> {
        let mut out = Vec::with_capacity(periods as usize + 1);
        let mut s = 1.0;
        out.push(s);
        for t in 1..=periods {
            s *= self.retention_rate(t);
            out.push(s);
        }
        out
    }

    /// r(1), …, r(periods).
    pub fn retention_curve(&self, periods: u32) -> Vec<f64> {
        (1..=periods).map(|t| self.retention_rate(t)).collect()
    }
}

/// Validates a cohort survival curve (see [`SbgParams::fit`] for the rules).
fn check_curve(alive: &[f64]) -> Result<()> {
    if alive.len() < 3 {
        return Err(ValueError::InsufficientData {
            model: "sBG",
            reason: "survival points (periods 0..n, n >= 2)",
            have: alive.len(),
            need: 3,
        });
    }
    for (i, &v) in alive.iter().enumerate() {
        if !(v.is_finite() && v >= 0.0) {
            return Err(ValueError::InvalidInput {
                field: "alive",
                index: i,
                value: v,
                reason: "must be finite and >= 0",
            });
        }
        if i == 0 && v <= 0.0 {
            return Err(ValueError::InvalidInput {
                field: "alive",
                index: 0,
                value: v,
                reason: "cohort size must be > 0",
            });
        }
        if i > 0 && v > alive[i - 1] {
            return Err(ValueError::InvalidInput {
                field: "alive",
                index: i,
                value: v,
                reason: "survival curve must not increase",
            });
        }
    }
    Ok(())
}

/// Mean negative log-likelihood per cohort member over (ln α, ln β), analytic gradient.
struct Likelihood<'a> {
    alive: &'a [f64],
}

impl Objective for Likelihood<'_> {
    fn dim(&self) -> usize {
        2
    }

    fn eval(&self, theta: &[f64], grad: Option<&mut [f64]>) -> f64 {
        let (a, b) = (theta[0].exp(), theta[1].exp());
        let lb = ln_beta(a, b);
        let psi_ab = digamma(a + b);
        let (da_b, db_b) = (digamma(a) - psi_ab, digamma(b) - psi_ab);
        let psi_a1 = digamma(a + 1.0);
        let n = self.alive.len() - 1;
        let (mut ll, mut ga, mut gb) = (0.0, 0.0, 0.0);
        for t in 1..=n {
            let lost = self.alive[t - 1] - self.alive[t];
            if lost > 0.0 {
                let tf = t as f64;
                ll += lost * (ln_beta(a + 1.0, b + tf - 1.0) - lb);
                let psi = digamma(a + b + tf);
                ga += lost * (psi_a1 - psi - da_b);
                gb += lost * (digamma(b + tf - 1.0) - psi - db_b);
            }
        }
        let survivors = self.alive[n];
        if survivors > 0.0 {
            let nf = n as f64;
            ll += survivors * (ln_beta(a, b + nf) - lb);
            let psi = digamma(a + b + nf);
            ga += survivors * (digamma(a) - psi - da_b);
            gb += survivors * (digamma(b + nf) - psi - db_b);
        }
        let size = self.alive[0];
        if let Some(g) = grad {
            g[0] = -ga * a / size;
            g[1] = -gb * b / size;
        }
        let v = -ll / size;
        if v.is_finite() { v } else { f64::INFINITY }
    }
}

#[cfg(test)]
// Reference values are kept exactly as printed by their source (mpmath, R, papers).
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use crate::test_util::round_to;
    use proptest::prelude::*;

    const REGULAR: [f64; 8] = [100.0, 63.1, 46.8, 38.2, 32.6, 28.9, 26.2, 24.1];
    const HIGH_END: [f64; 8] = [100.0, 86.9, 74.3, 65.3, 59.3, 55.1, 51.7, 49.1];

    #[test]
    fn fits_published_cohorts() {
        // Fader & Hardie (2007): regular α = 0.704, β = 1.182; high end α = 0.668, β = 3.806.
        // mpmath (30 digits) maximum: regular 0.704077298474, 1.18204302621;
        // high end 0.668088351106, 3.80609496406.
        for (alive, a, b, exact) in [
            (REGULAR, 0.704, 1.182, [0.704077298474, 1.18204302621]),
            (HIGH_END, 0.668, 3.806, [0.668088351106, 3.80609496406]),
        ] {
            let fit = SbgParams::fit(&alive, &FitOptions::default()).unwrap();
            assert!(fit.report.converged, "{:?}", fit.report);
            assert_eq!(round_to(fit.params.alpha, 3), a);
            assert_eq!(round_to(fit.params.beta, 3), b);
            assert!((fit.params.alpha - exact[0]).abs() < 1e-7);
            assert!(
                (fit.params.beta - exact[1]).abs() < 1e-7,
                "{:?} {:?}",
                fit.params,
                fit.report
            );
        }
        // Scale invariance: counts per 1000 give the same estimates.
        let counts: Vec<f64> = REGULAR.iter().map(|v| v * 10.0).collect();
        let fit = SbgParams::fit(&counts, &FitOptions::default()).unwrap();
        assert!((fit.params.alpha - 0.704077298474).abs() < 1e-7);
    }

    #[test]
    fn standard_errors_match_mpmath() {
        // The regular cohort as counts of 1000 customers; crates/value/reference/
        // standard_errors.py (mpmath 1.3.0, 30 digits): SE(α) = 0.065598964234,
        // SE(β) = 0.152475631676.
        let counts: Vec<f64> = REGULAR.iter().map(|v| v * 10.0).collect();
        let fit = SbgParams::fit(&counts, &FitOptions::default()).unwrap();
        let se = fit.params.standard_errors(&counts).unwrap();
        assert!((se.std_errors[0] - 0.065598964234).abs() < 1e-7, "{se:?}");
        assert!((se.std_errors[1] - 0.152475631676).abs() < 1e-7, "{se:?}");
        // Ten times the customers, √10 times smaller errors.
        let more: Vec<f64> = counts.iter().map(|v| v * 10.0).collect();
        let se10 = fit.params.standard_errors(&more).unwrap();
        assert!((se10.std_errors[0] * 10f64.sqrt() - se.std_errors[0]).abs() < 1e-7);
        assert!(fit.params.standard_errors(&[1.0, 2.0, 1.0]).is_err());
    }

    #[test]
    fn projections_are_consistent() {
        let m = SbgParams::new(0.704, 1.182).unwrap();
        let curve = m.survival_curve(12);
        for t in 0..=12u32 {
            assert!((curve[t as usize] - m.survival(t)).abs() < 1e-14);
            if t > 0 {
                let lost = curve[t as usize - 1] - curve[t as usize];
                assert!((lost - m.churn_probability(t)).abs() < 1e-14);
            }
        }
        // First-year retention = β/(α+β).
        assert!((m.retention_rate(1) - 1.182 / 1.886).abs() < 1e-15);
        let r = m.retention_curve(12);
        assert!(
            r.windows(2).all(|w| w[1] > w[0]),
            "sBG retention rises with tenure"
        );
    }

    #[test]
    fn bad_curves_are_errors() {
        let opts = FitOptions::default();
        assert!(matches!(
            SbgParams::fit(&[100.0, 60.0], &opts),
            Err(ValueError::InsufficientData { .. })
        ));
        assert!(matches!(
            SbgParams::fit(&[100.0, 60.0, 70.0], &opts),
            Err(ValueError::InvalidInput { index: 2, .. })
        ));
        assert!(matches!(
            SbgParams::fit(&[0.0, 0.0, 0.0], &opts),
            Err(ValueError::InvalidInput { .. })
        ));
        assert!(SbgParams::fit(&[100.0, f64::NAN, 3.0], &opts).is_err());
    }

    #[test]
    fn degenerate_curve_reports_without_nan() {
        // Nobody ever churns: the maximum is at α → 0; the fit must end finite.
        let fit = SbgParams::fit(&[100.0, 100.0, 100.0, 100.0], &FitOptions::default()).unwrap();
        assert!(fit.params.alpha.is_finite() && fit.params.beta.is_finite());
        assert!(fit.params.alpha > 0.0 && fit.params.beta > 0.0);
    }

    proptest! {
        #[test]
        fn survival_in_unit_interval_and_decreasing(a in 0.01f64..50.0, b in 0.01f64..50.0) {
            let m = SbgParams::new(a, b).unwrap();
            let c = m.survival_curve(30);
            prop_assert!(c.iter().all(|v| (0.0..=1.0).contains(v)));
            prop_assert!(c.windows(2).all(|w| w[1] <= w[0]));
        }
    }
}
