//! BG/NBD ("beta-geometric / negative binomial distribution") model of repeat purchasing.
//!
//! P. S. Fader, B. G. S. Hardie & K. L. Lee (2005), "'Counting Your Customers' the Easy Way:
//! An Alternative to the Pareto/NBD Model", *Marketing Science* 24(2), 275–284; equation
//! numbers below refer to that paper. While active a customer buys with Poisson rate
//! λ ~ Gamma(r, α); after each purchase they drop out with probability p ~ Beta(a, b).

use crate::error::{Result, ValueError, positive};
use crate::model::{PurchaseModel, check_horizon};
use crate::optim::{
    Fit, FitOptions, Objective, WARM_START_ROWS, chunked_sum, run_fit, warm_start_sample,
};
use crate::rfm::{RfmData, check_triple};
use crate::special::{digamma_diff, exprel, hyp2f1, ln_beta, ln_gamma, ln_gamma_ratio};
use crate::stderr::{self, StandardErrors};

/// BG/NBD parameters: purchase-rate heterogeneity Gamma(r, α) and dropout Beta(a, b).
///
/// ```
/// use touchstone_value::{BgNbdParams, PurchaseModel};
/// // Published CDNOW estimates (Fader, Hardie & Lee 2005).
/// let m = BgNbdParams::new(0.243, 4.414, 0.793, 2.426).unwrap();
/// let e = m.conditional_expected_purchases(39.0, 2.0, 30.43, 38.86).unwrap();
/// assert!((e - 1.226).abs() < 1e-3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbdParams {
    /// Shape of the purchase-rate gamma distribution.
    pub r: f64,
    /// Scale (rate) parameter of the purchase-rate gamma distribution, in time units.
    pub alpha: f64,
    /// First dropout beta parameter.
    pub a: f64,
    /// Second dropout beta parameter.
    pub b: f64,
}

/// From these a (or b) on, expected purchases are summed over purchase counts: the ₂F₁ series
/// overflows for large a and cancels (error ~ b·10⁻¹⁶) for large b.
const COUNTS_MIN_A: f64 = 20.0;
const COUNTS_MIN_B: f64 = 1e4;
/// Term budget of that sum (about 40/(1 − z) terms are needed; z → 1 is a horizon ≫ α + T).
const COUNTS_MAX_TERMS: usize = 10_000_000;

impl BgNbdParams {
    /// Checks that every parameter is finite and > 0.
    pub fn new(r: f64, alpha: f64, a: f64, b: f64) -> Result<Self> {
        Ok(BgNbdParams {
            r: positive("r", r)?,
            alpha: positive("alpha", alpha)?,
            a: positive("a", a)?,
            b: positive("b", b)?,
        })
    }

    fn from_theta(t: &[f64]) -> Self {
        BgNbdParams {
            r: t[0].exp(),
            alpha: t[1].exp(),
            a: t[2].exp(),
            b: t[3].exp(),
        }
    }

    fn theta(&self) -> [f64; 4] {
        [self.r.ln(), self.alpha.ln(), self.a.ln(), self.b.ln()]
    }

    /// Maximum-likelihood fit (likelihood: FHL 2005 eq. 6, in log space) from a generic
    /// starting point.
    ///
    /// Needs at least 5 customers, at least one with a repeat purchase. For more than 20 000
    /// distinct rows, a fit on a systematic subsample (2 500 to 10 000 customers) provides the
    /// starting point and initial curvature; the final fit always uses all the data.
    ///
    /// ```
    /// use touchstone_value::{BgNbdParams, FitOptions, RfmData};
    /// let x = [0.0, 1.0, 0.0, 3.0, 2.0, 0.0, 5.0, 1.0];
    /// let tx = [0.0, 4.0, 0.0, 20.0, 9.0, 0.0, 30.0, 2.0];
    /// let t = [30.0, 35.0, 25.0, 38.0, 30.0, 39.0, 39.0, 20.0];
    /// let fit = BgNbdParams::fit(&RfmData::new(&x, &tx, &t).unwrap(), &FitOptions::default()).unwrap();
    /// assert!(fit.report.log_likelihood.is_finite());
    /// ```
    pub fn fit(data: &RfmData, opts: &FitOptions) -> Result<Fit<Self>> {
        data.check_identifiable("BG/NBD")?;
        let rate = (data.mean_x() / data.mean_t().max(1e-9)).max(1e-3);
        let start = BgNbdParams {
            r: 1.0,
            alpha: 1.0 / rate,
            a: 1.0,
            b: 1.0,
        };
        if data.distinct_rows() > WARM_START_ROWS {
            let sample = data.subsample(warm_start_sample(data.distinct_rows()));
            if sample.repeat_customers() >= 1.0 {
                let obj = Likelihood { data: &sample };
                if let Ok((m, _)) = run_fit(
                    "BG/NBD",
                    &obj,
                    &start.theta(),
                    opts,
                    None,
                    sample.customers(),
                    0,
                ) {
                    let warm = BgNbdParams::from_theta(&m.theta);
                    return Self::fit_inner(data, warm, opts, m.inverse_hessian.as_deref());
                }
            }
        }
        Self::fit_inner(data, start, opts, None)
    }

    /// Maximum-likelihood fit from a given starting point.
    pub fn fit_from(data: &RfmData, start: BgNbdParams, opts: &FitOptions) -> Result<Fit<Self>> {
        data.check_identifiable("BG/NBD")?;
        let start = BgNbdParams::new(start.r, start.alpha, start.a, start.b)?;
        Self::fit_inner(data, start, opts, None)
    }

    fn fit_inner(
        data: &RfmData,
        start: BgNbdParams,
        opts: &FitOptions,
        h: Option<&[f64]>,
    ) -> Result<Fit<Self>> {
        let obj = Likelihood { data };
        let (m, report) = run_fit(
            "BG/NBD",
            &obj,
            &start.theta(),
            opts,
            h,
            data.customers(),
            data.distinct_rows(),
        )?;
        let params = BgNbdParams::from_theta(&m.theta);
        let params = BgNbdParams::new(params.r, params.alpha, params.a, params.b)?;
        Ok(Fit { params, report })
    }

    /// Asymptotic standard errors of these parameters as estimates from `data`: the observed
    /// information (numerical Hessian of the eq. 6 log-likelihood, from its analytic gradient)
    /// inverted; see [`crate::stderr`]. Meaningful at the maximum-likelihood estimate, i.e.
    /// for the parameters of a converged [`BgNbdParams::fit`] on the same data.
    ///
    /// Errors when the likelihood is not finite there or the information matrix is not
    /// positive definite (a flat direction: the data favour a limiting case).
    ///
    /// ```
    /// use touchstone_value::{BgNbdParams, FitOptions, RfmData};
    /// let x = [0.0, 1.0, 0.0, 3.0, 2.0, 0.0, 5.0, 1.0, 2.0, 0.0, 7.0, 1.0];
    /// let tx = [0.0, 4.0, 0.0, 20.0, 9.0, 0.0, 30.0, 2.0, 35.0, 0.0, 33.0, 30.0];
    /// let t = [30.0, 35.0, 25.0, 38.0, 30.0, 39.0, 39.0, 20.0, 39.0, 12.0, 38.0, 31.0];
    /// let data = RfmData::new(&x, &tx, &t)?;
    /// let fit = BgNbdParams::fit(&data, &FitOptions::default())?;
    /// if fit.report.converged {
    ///     let se = fit.params.standard_errors(&data)?;
    ///     assert_eq!(se.names, ["r", "alpha", "a", "b"]);
    /// }
    /// # Ok::<(), touchstone_value::ValueError>(())
    /// ```
    pub fn standard_errors(&self, data: &RfmData) -> Result<StandardErrors> {
        stderr::from_objective(
            "BG/NBD",
            &["r", "alpha", "a", "b"],
            &Likelihood { data },
            &[self.r, self.alpha, self.a, self.b],
            data.customers(),
        )
    }

    /// Total log-likelihood of the data (FHL 2005 eq. 6, summed over customers).
    ///
    /// ```
    /// use touchstone_value::{BgNbdParams, RfmData};
    /// let m = BgNbdParams::new(0.243, 4.414, 0.793, 2.426).unwrap();
    /// let d = RfmData::new(&[0.0], &[0.0], &[38.86]).unwrap();
    /// // x = 0: ℓ = r ln(α/(α+T))
    /// assert!((m.log_likelihood(&d) - 0.243 * (4.414f64 / (4.414 + 38.86)).ln()).abs() < 1e-12);
    /// ```
    pub fn log_likelihood(&self, data: &RfmData) -> f64 {
        -Likelihood { data }.eval(&self.theta(), None) * data.customers()
    }

    /// Expected purchases in the next `horizon` of a customer alive at T with x repeat
    /// purchases: the bracket of FHL 2005 eq. 10 divided by (a − 1) and multiplied by
    /// (a + b + x − 1),
    /// (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^{r+x} ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))].
    ///
    /// Near the limits a fit can drift to when the data carry little dropout information
    /// (b → ∞ with a → 0, a → ∞ with b → 0, or a, b → ∞ together) the ₂F₁ forms overflow or
    /// cancel, so there (and whenever they fail) the sum over purchase counts is used
    /// ([`BgNbdParams::bracket_by_counts`]), which has no cancellation anywhere. Each method is
    /// the other's fallback: the sum declines horizons so long that it would need more than
    /// its term budget, where the series is still good unless a or b is extreme too.
    fn scaled_bracket(&self, horizon: f64, x: f64, t: f64) -> Result<f64> {
        if horizon == 0.0 {
            return Ok(0.0);
        }
        let series = || match self.series_bracket(horizon, x, t) {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => Err(ValueError::NumericalFailure {
                function: "BG/NBD expected purchases",
                reason: "the 2F1 series overflowed",
            }),
            Err(e) => Err(e),
        };
        if self.a >= COUNTS_MIN_A || self.b >= COUNTS_MIN_B {
            self.bracket_by_counts(horizon, x, t)
                .or_else(|e| series().map_err(|_| e))
        } else {
            series().or_else(|e| self.bracket_by_counts(horizon, x, t).map_err(|_| e))
        }
    }

    /// The same expectation summed over purchase counts. While alive the customer's purchases
    /// in the horizon are N ~ NB(r+x, z) (λ ~ Gamma(r+x, α+T), z = t/(α+T+t)), and the
    /// (m+1)-th of them happens if they did not drop out after any of the m before, with
    /// probability E\[(1−p)^m\] = (b+x)_m/(a+b+x)_m (p ~ Beta(a, b+x)). So
    ///
    /// E = Σ_{m≥0} E\[(1−p)^m\] P(N > m) = Σ_{j≥1} P(N = j) C_j,  C_j = Σ_{m<j} E\[(1−p)^m\],
    ///
    /// a sum of positive terms with positive recurrences: no cancellation, no overflow (the
    /// NB probabilities carry a separate scale), valid for every a, b > 0 and z < 1. It takes
    /// about (mean of N) + 40/(1−z) terms, so it is the fallback, not the default.
    fn bracket_by_counts(&self, horizon: f64, x: f64, t: f64) -> Result<f64> {
        let (rp, bp, a) = (self.r + x, self.b + x, self.a);
        let z = horizon / (self.alpha + t + horizon);
        // Declined up front (cheaply) when the sum would need more terms than its budget.
        let one_minus_z = (self.alpha + t) / (self.alpha + t + horizon);
        if (rp + 40.0) / one_minus_z > COUNTS_MAX_TERMS as f64 {
            return Err(ValueError::NumericalFailure {
                function: "BG/NBD expected purchases",
                reason: "the horizon is too long for the sum over purchase counts",
            });
        }
        // P(N = j) = pj · e^{ln_scale}; P(N = 0) = (1 − z)^{r+x}.
        let mut ln_scale = -rp * (horizon / (self.alpha + t)).ln_1p();
        let mut pj = 1.0;
        let mut moment = 1.0; // E[(1−p)^{j−1}] before the update below
        let mut cj = 0.0;
        let mut sum = 0.0;
        for j in 1..COUNTS_MAX_TERMS {
            let jf = j as f64;
            pj *= (rp + jf - 1.0) * z / jf;
            cj += moment;
            moment *= (bp + jf - 1.0) / (a + bp + jf - 1.0);
            let term = pj * cj;
            sum += term;
            if pj > 1e250 {
                pj *= 1e-250;
                sum *= 1e-250;
                ln_scale += 250.0 * std::f64::consts::LN_10;
            }
            // Later terms shrink by at most max(ratio of P, z) · (1 + 1/j) each (C_{j+1}/C_j
            // ≤ 1 + 1/j because the moments decrease).
            let ratio = ((rp + jf) * z / (jf + 1.0)).max(z) * (1.0 + 1.0 / jf);
            if ratio < 1.0 && term * ratio / (1.0 - ratio) <= 1e-17 * sum {
                return Ok(sum * ln_scale.exp());
            }
            if !sum.is_finite() {
                break;
            }
        }
        Err(ValueError::NumericalFailure {
            function: "BG/NBD expected purchases",
            reason: "the sum over purchase counts did not converge",
        })
    }

    /// [`BgNbdParams::scaled_bracket`] from the ₂F₁ series.
    ///
    /// Euler's transformation (A&S 15.3.3) turns the bracket into
    /// 1 − (1−z)^{a−1} ₂F₁(a+b−1−r, a−1; a+b+x−1; z), whose series has a factor (a − 1) in
    /// every term; dividing it out analytically keeps a → 1 exact and x = 200 overflow-free.
    fn series_bracket(&self, horizon: f64, x: f64, t: f64) -> Result<f64> {
        let (r, alpha, a, b) = (self.r, self.alpha, self.a, self.b);
        let c = a + b + x - 1.0;
        if c <= 0.0 && (c - c.round()).abs() < 1e-9 {
            // ₂F₁ is undefined at c ∈ {0, −1, …} but the expectation is continuous in b:
            // average the two neighbours.
            let near = |db: f64| BgNbdParams { b: b + db, ..*self }.scaled_bracket(horizon, x, t);
            return Ok(0.5 * (near(1e-6)? + near(-1e-6)?));
        }
        let big_a = a + b - 1.0 - r;
        let z = horizon / (alpha + t + horizon);
        let lw = -(horizon / (alpha + t)).ln_1p(); // ln(1 − z)
        let am1 = a - 1.0;
        if am1.abs() < 1e-3 && z > 0.9999 {
            // Beyond the series' reach with a ≈ 1 (horizon > 10⁴·(α+T)): the transformed form
            // divides by a − 1, so take the mean of a = 1 ± 2·10⁻³ (error ~ 1e-6 relative).
            let near = |da: f64| {
                BgNbdParams {
                    a: 1.0 + da,
                    ..*self
                }
                .scaled_bracket(horizon, x, t)
            };
            return Ok(0.5 * (near(2e-3)? + near(-2e-3)?));
        }
        let series_ok = z <= 0.9 || am1.abs() < 1e-3;
        if series_ok {
            // Sd = Σ_{n≥1} (A)_n (a)_{n−1} / ((c)_n n!) zⁿ, so that F − 1 = (a − 1)·Sd.
            let mut term = big_a / c * z;
            let mut sd = term;
            let mut converged = term == 0.0;
            for n in 1..1_000_000usize {
                if converged {
                    break;
                }
                let nf = n as f64;
                let ratio = (big_a + nf) * (a + nf - 1.0) / ((c + nf) * (nf + 1.0)) * z;
                term *= ratio;
                sd += term;
                if term == 0.0
                    || (ratio.abs() < 1.0
                        && (term * ratio / (1.0 - ratio)).abs() <= 1e-16 * sd.abs())
                {
                    converged = true;
                }
            }
            if !converged {
                return Err(ValueError::NumericalFailure {
                    function: "BG/NBD expected purchases",
                    reason: "series did not converge",
                });
            }
            let s = am1 * sd;
            let ln1p_ratio = if s.abs() < 1e-8 {
                1.0 - 0.5 * s
            } else {
                s.ln_1p() / s
            };
            let g = lw + sd * ln1p_ratio;
            return Ok(c * (-g) * exprel(am1 * g));
        }
        // Far horizon: use the transformed 2F1 directly.
        let f = hyp2f1(big_a, am1, c, z)?;
        let bracket = if f > 0.0 {
            -(am1 * lw + f.ln()).exp_m1()
        } else {
            1.0 - (am1 * lw).exp() * f
        };
        Ok(c * bracket / am1)
    }
}

impl PurchaseModel for BgNbdParams {
    fn name(&self) -> &'static str {
        "BG/NBD"
    }

    /// P(alive | x, tₓ, T) = 1 / (1 + δ_{x>0} a/(b+x−1) ((α+T)/(α+tₓ))^{r+x})
    /// (Fader, Hardie & Lee 2008, "Computing P(alive) Using the BG/NBD Model",
    /// brucehardie.com/notes/021).
    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> Result<f64> {
        check_triple(0, x, t_x, t)?;
        Ok(p_alive(self, x, t_x, t))
    }

    /// FHL 2005 eq. 10.
    fn conditional_expected_purchases(
        &self,
        horizon: f64,
        x: f64,
        t_x: f64,
        t: f64,
    ) -> Result<f64> {
        check_triple(0, x, t_x, t)?;
        check_horizon(horizon)?;
        let v = self.scaled_bracket(horizon, x, t)? * p_alive(self, x, t_x, t);
        Ok(v.max(0.0))
    }

    fn expected_purchases_if_alive(&self, horizon: f64, x: f64, t: f64) -> Result<f64> {
        check_triple(0, x, 0.0, t)?;
        check_horizon(horizon)?;
        Ok(self.scaled_bracket(horizon, x, t)?.max(0.0))
    }

    /// FHL 2005 eq. 7: E\[X(t)\] = (a+b−1)/(a−1) [1 − (α/(α+t))^r ₂F₁(r, b; a+b−1; t/(α+t))].
    fn expected_purchases(&self, t: f64) -> Result<f64> {
        check_horizon(t)?;
        Ok(self.scaled_bracket(t, 0.0, 0.0)?.max(0.0))
    }

    /// FHL 2005 eq. 8:
    /// P(X(t)=n) = B(a,b+n)/B(a,b) · NB(n; r, α/(α+t)) + δ_{n>0} B(a+1,b+n−1)/B(a,b) · P(NB ≥ n),
    /// with NB the negative binomial Γ(r+j)/(Γ(r) j!) (α/(α+t))^r (t/(α+t))^j.
    fn prob_purchases(&self, t: f64, n: u32) -> Result<f64> {
        check_horizon(t)?;
        let (r, alpha, a, b) = (self.r, self.alpha, self.a, self.b);
        let nf = f64::from(n);
        if t == 0.0 {
            return Ok(if n == 0 { 1.0 } else { 0.0 });
        }
        let lp = (alpha / (alpha + t)).ln(); // ln p
        let lq = (t / (alpha + t)).ln(); // ln q
        let ln_nb = |j: f64| ln_gamma(r + j) - ln_gamma(r) - ln_gamma(j + 1.0) + r * lp + j * lq;
        let lbab = ln_beta(a, b);
        let first = (ln_beta(a, b + nf) - lbab + ln_nb(nf)).exp();
        if n == 0 {
            return Ok(first.clamp(0.0, 1.0));
        }
        // P(NB ≥ n): from the head when it is small, else by summing the tail.
        let mut head = 0.0;
        let mut lj = r * lp; // ln NB(0)
        for j in 0..n {
            head += lj.exp();
            let jf = f64::from(j);
            lj += ((r + jf) / (jf + 1.0)).ln() + lq;
        }
        let tail = if head <= 0.5 {
            1.0 - head
        } else {
            // lj is now ln NB(n); ratio NB(j+1)/NB(j) = (r+j)/(j+1) q → q < 1.
            let mut sum = 0.0;
            let mut j = nf;
            let mut term = lj.exp();
            for _ in 0..10_000_000u32 {
                sum += term;
                let ratio = (r + j) / (j + 1.0) * lq.exp();
                term *= ratio;
                j += 1.0;
                if term == 0.0 || (ratio < 1.0 && term / (1.0 - ratio) <= 1e-17 * sum) {
                    break;
                }
            }
            sum
        };
        let second = (ln_beta(a + 1.0, b + nf - 1.0) - lbab).exp() * tail;
        Ok((first + second).clamp(0.0, 1.0))
    }
}

fn p_alive(p: &BgNbdParams, x: f64, t_x: f64, t: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let u = p.a.ln() - (p.b + (x - 1.0)).ln() + (p.r + x) * ((t - t_x) / (p.alpha + t_x)).ln_1p();
    1.0 / (1.0 + u.exp())
}

/// Mean negative log-likelihood over log-parameters, with its analytic gradient.
struct Likelihood<'a> {
    data: &'a RfmData,
}

/// Per-frequency constants of the likelihood and their derivatives.
struct PerX {
    x: f64,
    /// ln Γ(r+x)/Γ(r) + ln B(a, b+x)/B(a, b), with ratios of gammas computed without
    /// cancellation (the parameters may be huge while an optimiser explores a limiting case).
    k: f64,
    dk_dr: f64,
    dk_da: f64,
    dk_db: f64,
    /// ln a − ln(b + x − 1) (x > 0)
    c: f64,
    inv_bx1: f64,
}

impl PerX {
    fn new(p: &BgNbdParams, x: f64) -> Self {
        let (r, a, b) = (p.r, p.a, p.b);
        if x == 0.0 {
            return PerX {
                x,
                k: 0.0,
                dk_dr: 0.0,
                dk_da: 0.0,
                dk_db: 0.0,
                c: 0.0,
                inv_bx1: 0.0,
            };
        }
        let psi_ab = digamma_diff(a + b, x);
        PerX {
            x,
            k: ln_gamma_ratio(r, x) + ln_gamma_ratio(b, x) - ln_gamma_ratio(a + b, x),
            dk_dr: digamma_diff(r, x),
            dk_da: -psi_ab,
            dk_db: digamma_diff(b, x) - psi_ab,
            c: a.ln() - (b + (x - 1.0)).ln(),
            inv_bx1: 1.0 / (b + (x - 1.0)),
        }
    }
}

impl Objective for Likelihood<'_> {
    fn dim(&self) -> usize {
        4
    }

    /// Row log-likelihood (FHL 2005 eq. 6) with the common factor α^r folded into each term:
    /// ℓ = K(x) + ln[e^{B₃} + δ_{x>0} e^{B₄}],
    /// B₃ = −r ln(1 + T/α) − x ln(α+T), B₄ = ln a − ln(b+x−1) − r ln(1 + tₓ/α) − x ln(α+tₓ).
    /// The logarithms and reciprocals of α + T and α + tₓ come from per-value tables
    /// ([`TimeTerms`]), so a row costs one exponential and one logarithm.
    fn eval(&self, theta: &[f64], grad: Option<&mut [f64]>) -> f64 {
        let p = BgNbdParams::from_theta(theta);
        let d = self.data;
        let (r, alpha, a) = (p.r, p.alpha, p.a);
        let tt = time_terms(&d.t_vals, alpha);
        let tx = time_terms(&d.tx_vals, alpha);
        let sums = chunked_sum::<5, _>(d.x.len(), |range| {
            // [ll, d/dr, d/dalpha, d/da, d/db]
            let mut acc = [0.0; 5];
            let mut px = PerX::new(&p, d.x[range.start]);
            for i in range {
                let x = d.x[i];
                let w = d.w[i];
                if x != px.x {
                    px = PerX::new(&p, x);
                }
                let t3 = &tt[d.t_id[i] as usize];
                if x == 0.0 {
                    acc[0] -= w * r * t3.l1p;
                    acc[1] -= w * t3.l1p;
                    acc[2] += w * r * t3.t_ratio;
                    continue;
                }
                let t4 = &tx[d.tx_id[i] as usize];
                let b3 = -r * t3.l1p - x * t3.ln_sum;
                let b4 = px.c - r * t4.l1p - x * t4.ln_sum;
                let diff = b4 - b3;
                let e = (-diff.abs()).exp();
                let (hi, q) = if diff > 0.0 {
                    (b4, 1.0 / (1.0 + e))
                } else {
                    (b3, e / (1.0 + e))
                };
                // d/dα of B₃: r T / (α (α+T)) − x / (α+T)
                let da3 = r * t3.t_ratio - x * t3.inv;
                let da4 = r * t4.t_ratio - x * t4.inv;
                acc[0] += w * (px.k + hi + e.ln_1p());
                acc[1] += w * (px.dk_dr - (1.0 - q) * t3.l1p - q * t4.l1p);
                acc[2] += w * ((1.0 - q) * da3 + q * da4);
                acc[3] += w * (px.dk_da + q / a);
                acc[4] += w * (px.dk_db - q * px.inv_bx1);
            }
            acc
        });
        let n = d.customers();
        if let Some(g) = grad {
            g[0] = -sums[1] * r / n;
            g[1] = -sums[2] * alpha / n;
            g[2] = -sums[3] * a / n;
            g[3] = -sums[4] * p.b / n;
        }
        let v = -sums[0] / n;
        if v.is_finite() { v } else { f64::INFINITY }
    }
}

/// Terms of the likelihood that depend on a time s (T or tₓ) and α only.
#[derive(Clone, Copy)]
struct TimeTerms {
    /// ln(1 + s/α)
    l1p: f64,
    /// ln(α + s)
    ln_sum: f64,
    /// 1 / (α + s)
    inv: f64,
    /// s / (α (α + s))
    t_ratio: f64,
}

/// [`TimeTerms`] for each distinct time value (in parallel for long tables).
fn time_terms(values: &[f64], alpha: f64) -> Vec<TimeTerms> {
    let one = |s: &f64| {
        let inv = 1.0 / (alpha + s);
        TimeTerms {
            l1p: (s / alpha).ln_1p(),
            ln_sum: (alpha + s).ln(),
            inv,
            t_ratio: s / alpha * inv,
        }
    };
    if values.len() >= crate::optim::PARALLEL_MIN_ROWS {
        use rayon::prelude::*;
        values.par_iter().map(one).collect()
    } else {
        values.iter().map(one).collect()
    }
}

#[cfg(test)]
// Reference values are kept exactly as printed by their source (mpmath, R, papers).
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use crate::test_util::{cdnow_rfm, limiting_case_rfm, round_to};
    use proptest::prelude::*;

    fn published() -> BgNbdParams {
        BgNbdParams::new(0.243, 4.414, 0.793, 2.426).unwrap()
    }

    /// From the raw CDNOW sample (exact recency and T) as well as from the rounded file.
    #[test]
    fn fits_exact_cdnow_summary_to_published_digits() {
        let summary = crate::summary::tests::cdnow_summary();
        let data = RfmData::from_summary(&summary).unwrap();
        let fit = BgNbdParams::fit(&data, &FitOptions::default()).unwrap();
        let p = fit.params;
        assert!(fit.report.converged, "{:?}", fit.report);
        assert_eq!(
            [
                round_to(p.r, 3),
                round_to(p.alpha, 3),
                round_to(p.a, 3),
                round_to(p.b, 3)
            ],
            [0.243, 4.414, 0.793, 2.426],
            "{p:?}"
        );
        assert_eq!(round_to(fit.report.log_likelihood, 1), -9582.4);
    }

    #[test]
    fn fits_cdnow_to_published_values() {
        let fit = BgNbdParams::fit(&cdnow_rfm(), &FitOptions::default()).unwrap();
        let p = fit.params;
        assert!(fit.report.converged, "{:?}", fit.report);
        // Fader, Hardie & Lee (2005), Table/text: r = 0.243, α = 4.414, a = 0.793, b = 2.426.
        assert_eq!(round_to(p.r, 3), 0.243, "{p:?}");
        assert_eq!(round_to(p.alpha, 3), 4.414, "{p:?}");
        assert_eq!(round_to(p.a, 3), 0.793, "{p:?}");
        assert_eq!(round_to(p.b, 3), 2.426, "{p:?}");
        // Log-likelihood −9582.4.
        assert_eq!(
            round_to(fit.report.log_likelihood, 1),
            -9582.4,
            "{:?}",
            fit.report
        );
        assert_eq!(fit.report.customers, 2357.0);
        // Maximum found independently with mpmath 1.3.0 at 30 digits (Newton's method on
        // eq. 6, |gradient| < 1e-18): r = 0.242592907204, α = 4.41353156121,
        // a = 0.792886148099, b = 2.42575343649, LL = −9582.425560567363.
        let exact = [0.242592907204, 4.41353156121, 0.792886148099, 2.42575343649];
        for (got, want) in [p.r, p.alpha, p.a, p.b].iter().zip(exact) {
            assert!((got - want).abs() < 1e-6 * want, "{got} vs {want}");
        }
        assert!((fit.report.log_likelihood + 9582.425560567363).abs() < 1e-6);
    }

    #[test]
    fn standard_errors_match_mpmath_and_lifetimes() {
        // Observed-information SEs at the maximum on cdnow_customers_summary.csv, computed
        // independently by crates/value/reference/standard_errors.py (mpmath 1.3.0, 30 digits:
        // Hessian of FHL eq. 6 by mpmath.diff, inverted): 0.0125573195838, 0.378221415527,
        // 0.185719143096, 0.705345755104. lifetimes 0.11.3's BetaGeoFitter.summary on the same
        // file prints 0.012557, 0.378221, 0.185719, 0.705345.
        let data = cdnow_rfm();
        let fit = BgNbdParams::fit(&data, &FitOptions::default()).unwrap();
        let se = fit.params.standard_errors(&data).unwrap();
        assert_eq!(se.names, ["r", "alpha", "a", "b"]);
        let want = [
            0.0125573195838,
            0.378221415527,
            0.185719143096,
            0.705345755104,
        ];
        for (k, (got, want)) in se.std_errors.iter().zip(want).enumerate() {
            assert!((got - want).abs() < 1e-6 * want, "{k}: {got} vs {want}");
        }
        // lifetimes' optimum differs from the exact one in the 7th digit; its printed SEs agree
        // to the 6 decimals shown.
        for (got, want) in se
            .std_errors
            .iter()
            .zip([0.012557, 0.378221, 0.185719, 0.705345])
        {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        // Covariance is symmetric with the variances on its diagonal.
        for i in 0..4 {
            assert!((se.covariance[i * 4 + i] - se.std_errors[i].powi(2)).abs() < 1e-15);
            for j in 0..4 {
                assert_eq!(se.covariance[i * 4 + j], se.covariance[j * 4 + i]);
            }
        }
        assert_eq!(se.get("b"), Some(se.std_errors[3]));
    }

    #[test]
    fn standard_errors_of_a_limiting_case_are_an_error_not_nan() {
        let data = limiting_case_rfm();
        let fit = BgNbdParams::fit(&data, &FitOptions::default()).unwrap();
        assert!(!fit.report.converged);
        match fit.params.standard_errors(&data) {
            Ok(se) => assert!(se.std_errors.iter().all(|s| s.is_finite() && *s > 0.0)),
            Err(e) => assert!(matches!(e, ValueError::NumericalFailure { .. }), "{e}"),
        }
    }

    #[test]
    fn nelder_mead_reaches_the_same_estimates() {
        let opts = FitOptions {
            method: crate::Method::NelderMead,
            gradient_tolerance: 1e-13,
            max_iterations: 5000,
        };
        let fit = BgNbdParams::fit(&cdnow_rfm(), &opts).unwrap();
        let p = fit.params;
        assert_eq!(
            [
                round_to(p.r, 3),
                round_to(p.alpha, 3),
                round_to(p.a, 3),
                round_to(p.b, 3)
            ],
            [0.243, 4.414, 0.793, 2.426]
        );
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let data = cdnow_rfm();
        let obj = Likelihood { data: &data };
        let theta = [(0.3f64).ln(), (5.0f64).ln(), (0.7f64).ln(), (2.0f64).ln()];
        let mut g = [0.0; 4];
        obj.eval(&theta, Some(&mut g));
        let mut fd = [0.0; 4];
        crate::optim::numeric_gradient(|t| obj.eval(t, None), &theta, &mut fd);
        for k in 0..4 {
            assert!((g[k] - fd[k]).abs() < 1e-7, "k={k}: {} vs {}", g[k], fd[k]);
        }
    }

    #[test]
    fn hardie_spreadsheet_values() {
        // lifetimes' tests (from Hardie's BG/NBD spreadsheet): E[Y(39) | x=2, tx=30.43, T=38.86] = 1.226
        let m = published();
        let e = m
            .conditional_expected_purchases(39.0, 2.0, 30.43, 38.86)
            .unwrap();
        assert_eq!(round_to(e, 3), 1.226);
        // Unconditional E[X(t)]: Hardie's spreadsheet values (via lifetimes' tests, which
        // compare to 3 decimals), at the fitted parameters.
        let m = BgNbdParams::fit(&cdnow_rfm(), &FitOptions::default())
            .unwrap()
            .params;
        let times = [0.1429, 1.0, 3.0, 31.8571, 32.0, 78.0];
        let want = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576];
        for (t, w) in times.iter().zip(want) {
            let got = m.expected_purchases(*t).unwrap();
            assert!((got - w).abs() < 5e-4, "t = {t}: {got} vs {w}");
        }
        // Same times at fixed parameters against mpmath 1.3.0 (30 digits) evaluating FHL eq. 7:
        // (a+b-1)/(a-1) * (1 - (α/(α+t))^r * hyp2f1(r, b, a+b-1, t/(α+t))).
        let m = BgNbdParams::new(
            0.24259290992385554,
            4.4135315897680165,
            0.7928860885045905,
            2.425753163760647,
        )
        .unwrap();
        let exact = [
            0.0078160721003572615,
            0.053184740990448052,
            0.15063193065299077,
            1.040494311088533,
            1.0437372337047838,
            1.8579717994361084,
        ];
        for (t, w) in times.iter().zip(exact) {
            let got = m.expected_purchases(*t).unwrap();
            assert!((got - w).abs() < 1e-12 * w, "t = {t}: {got} vs {w}");
        }
        // P(alive) for that customer: 1/(1 + a/(b+1) ((α+T)/(α+tx))^(r+2)).
        let want = 1.0 / (1.0 + 0.793 / 3.426 * ((4.414f64 + 38.86) / (4.414 + 30.43)).powf(2.243));
        let m = published();
        let pa = m.p_alive(2.0, 30.43, 38.86).unwrap();
        assert!((pa - want).abs() < 1e-15);
        assert_eq!(round_to(pa, 4), 0.7266);
        assert_eq!(m.p_alive(0.0, 0.0, 38.86).unwrap(), 1.0);
    }

    #[test]
    fn pmf_matches_btyd() {
        // R package BTYD, bgnbd.pmf with params (0.243, 4.414, 0.793, 2.426), as quoted in
        // lifetimes' tests.
        let m = published();
        assert!((m.prob_purchases(2.0, 10).unwrap() - 1.07869e-07).abs() < 1e-11);
        assert!((m.prob_purchases(39.0, 0).unwrap() - 0.5737864).abs() < 1e-7);
        let want = [
            0.0019995214,
            0.0015170236,
            0.0011633150,
            0.0009003148,
            0.0007023638,
            0.0005517902,
            0.0004361913,
            0.0003467171,
            0.0002769613,
            0.0002222260,
        ];
        for (k, w) in want.iter().enumerate() {
            let got = m.prob_purchases(30.0, 11 + k as u32).unwrap();
            assert!((got - w).abs() < 1e-10, "n = {}: {got} vs {w}", 11 + k);
        }
        // The pmf sums to one and its mean is E[X(t)].
        let (mut total, mut mean) = (0.0, 0.0);
        for n in 0..2000 {
            let p = m.prob_purchases(30.0, n).unwrap();
            total += p;
            mean += f64::from(n) * p;
        }
        assert!((total - 1.0).abs() < 1e-10);
        assert!((mean - m.expected_purchases(30.0).unwrap()).abs() < 1e-8);
    }

    #[test]
    fn extreme_frequency_does_not_overflow() {
        let m = published();
        let data = RfmData::new(
            &[200.0, 0.0, 3.0],
            &[38.0, 0.0, 10.0],
            &[38.86, 38.86, 38.86],
        )
        .unwrap();
        assert!(m.log_likelihood(&data).is_finite());
        let e = m
            .conditional_expected_purchases(52.0, 200.0, 38.0, 38.86)
            .unwrap();
        assert!(e.is_finite() && e > 100.0, "{e}");
        let pa = m.p_alive(200.0, 1.0, 38.86).unwrap();
        assert!((0.0..1e-100).contains(&pa));
        assert!(
            m.conditional_expected_purchases(52.0, 200.0, 1.0, 38.86)
                .unwrap()
                < 1e-90
        );
    }

    #[test]
    fn a_equal_one_is_the_continuous_limit() {
        let at = |a: f64| BgNbdParams::new(0.3, 5.0, a, 2.0).unwrap();
        for &h in &[1.0, 30.0, 300.0, 3000.0] {
            let mid = at(1.0).expected_purchases(h).unwrap();
            let lo = at(1.0 - 1e-6).expected_purchases(h).unwrap();
            let hi = at(1.0 + 1e-6).expected_purchases(h).unwrap();
            assert!(
                (mid - 0.5 * (lo + hi)).abs() < 1e-7 * mid,
                "h={h}: {lo} {mid} {hi}"
            );
            let c = at(1.0)
                .conditional_expected_purchases(h, 4.0, 20.0, 30.0)
                .unwrap();
            let c2 = at(1.0 + 1e-6)
                .conditional_expected_purchases(h, 4.0, 20.0, 30.0)
                .unwrap();
            assert!((c - c2).abs() < 1e-5 * c);
        }
    }

    #[test]
    fn expected_purchases_far_horizon_is_consistent() {
        // Crossing z = 0.9 (series -> transformation) must be continuous.
        let m = published();
        let t_switch = 9.0 * (4.414 + 38.86);
        let below = m
            .conditional_expected_purchases(t_switch * (1.0 - 1e-9), 3.0, 20.0, 38.86)
            .unwrap();
        let above = m
            .conditional_expected_purchases(t_switch * (1.0 + 1e-9), 3.0, 20.0, 38.86)
            .unwrap();
        assert!((below - above).abs() < 1e-8 * below, "{below} {above}");
    }

    #[test]
    fn too_small_data_is_a_clear_error() {
        let d = RfmData::new(&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0], &[0.0; 6], &[5.0; 6]).unwrap();
        assert!(matches!(
            BgNbdParams::fit(&d, &FitOptions::default()),
            Err(ValueError::InsufficientData { .. })
        ));
        let d = RfmData::new(&[1.0, 0.0], &[1.0, 0.0], &[5.0, 5.0]).unwrap();
        assert!(matches!(
            BgNbdParams::fit(&d, &FitOptions::default()),
            Err(ValueError::InsufficientData { need: 5, .. })
        ));
    }

    #[test]
    fn degenerate_data_is_reported_not_converged() {
        // Eight customers whose best fit is a limiting case (dropout probability → 0).
        let fit = BgNbdParams::fit(&limiting_case_rfm(), &FitOptions::default()).unwrap();
        assert!(!fit.report.converged, "{:?}", fit.report);
        assert!(fit.report.message.contains("limiting case"));
        let p = fit.params;
        assert!(
            [p.r, p.alpha, p.a, p.b]
                .iter()
                .all(|v| v.is_finite() && *v > 0.0)
        );
        assert!(fit.report.log_likelihood.is_finite() && fit.report.log_likelihood < 0.0);
        assert!(fit.report.evaluations < 2000);
    }

    #[test]
    fn expected_purchases_in_degenerate_limits() {
        // (r, alpha, a, b, x, tₓ, T, t, E) with E from reference/degenerate_bgnbd.py (mpmath:
        // eq. 10 and, independently, quadrature over the dropout probability; they agree to
        // 1e-11 or better). Fits on short data drift to these limits.
        let cases: [[f64; 9]; 10] = [
            // a → ∞, b → 0
            [
                0.0267,
                2.21,
                5.6e8,
                1.8e-9,
                0.0,
                0.0,
                21.0,
                90.0,
                0.041427860288833786562,
            ],
            [
                0.0267,
                2.21,
                5.6e8,
                1.8e-9,
                1.0,
                5.0,
                21.0,
                90.0,
                7.7760843948076731685e-19,
            ],
            [
                0.0267,
                2.21,
                5.6e8,
                1.8e-9,
                3.0,
                20.0,
                30.0,
                90.0,
                1.1388413278576937484e-9,
            ],
            // b → ∞, a → 0
            [
                0.227,
                35.7,
                1.36e-7,
                265764.0,
                0.0,
                0.0,
                30.0,
                90.0,
                0.31095890410945530554,
            ],
            // a → 0 with a small b after a tenth of a period (once E(h) < E(h/2) here)
            [
                0.22933,
                25.5016,
                0.05,
                0.22483,
                0.0,
                0.0,
                0.1,
                93.637,
                0.7184896293139041891,
            ],
            [
                0.22933,
                25.5016,
                0.05,
                0.22483,
                0.0,
                0.0,
                0.1,
                46.8185,
                0.37620950075748444905,
            ],
            [0.22933, 25.5016, 0.05, 0.22483, 0.0, 0.0, 0.1, 0.0, 0.0],
            // horizons beyond the count sum's budget with a or b large: the series takes over
            [
                0.24,
                4.4,
                25.0,
                0.5,
                2.0,
                0.5,
                1.0,
                1e7,
                0.05083843491518567079,
            ],
            [
                0.24,
                4.4,
                0.5,
                2e4,
                0.0,
                0.0,
                0.0,
                1e7,
                114243.73489268647162,
            ],
            [
                0.24,
                1e-4,
                21.0,
                5.0,
                1.0,
                0.5,
                1.0,
                52.0,
                0.11784697258907301995,
            ],
        ];
        for [r, alpha, a, b, x, tx, t, h, want] in cases {
            let m = BgNbdParams::new(r, alpha, a, b).unwrap();
            let got = m.conditional_expected_purchases(h, x, tx, t).unwrap();
            let err = if want == 0.0 {
                got.abs()
            } else {
                (got - want).abs() / want
            };
            assert!(
                err < 1e-9,
                "{m:?} x={x} tx={tx} T={t} t={h}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn non_convergence_is_reported_with_finite_parameters() {
        let opts = FitOptions {
            max_iterations: 2,
            ..FitOptions::default()
        };
        let fit = BgNbdParams::fit(&cdnow_rfm(), &opts).unwrap();
        assert!(!fit.report.converged);
        let p = fit.params;
        assert!(
            [p.r, p.alpha, p.a, p.b]
                .iter()
                .all(|v| v.is_finite() && *v > 0.0)
        );
    }

    proptest! {
        #[test]
        fn p_alive_in_unit_interval(x in 0u32..300, tx_frac in 0.0f64..1.0, t in 0.0f64..500.0,
                                    r in 0.01f64..20.0, alpha in 0.01f64..100.0,
                                    a in 0.01f64..10.0, b in 0.01f64..10.0) {
            let m = BgNbdParams::new(r, alpha, a, b).unwrap();
            let x = f64::from(x);
            let tx = if x == 0.0 { 0.0 } else { tx_frac * t };
            let p = m.p_alive(x, tx, t).unwrap();
            prop_assert!((0.0..=1.0).contains(&p));
        }

        #[test]
        fn count_sum_agrees_with_series(
            x in 0u32..50, t in 0.1f64..100.0, h in 0.01f64..100.0, r in 0.05f64..5.0,
            alpha in 0.5f64..50.0, a in 0.05f64..30.0, b in 0.05f64..30.0) {
            let m = BgNbdParams::new(r, alpha, a, b).unwrap();
            let x = f64::from(x);
            let series = m.series_bracket(h, x, t);
            let counts = m.bracket_by_counts(h, x, t).unwrap();
            if let Ok(s) = series.as_ref()
                && s.is_finite()
                && *s > 1e-3
            {
                prop_assert!((s - counts).abs() <= 1e-8 * s, "{m:?} x={x} T={t} t={h}: {s} vs {counts}");
            }
        }

        #[test]
        fn expected_purchases_non_negative_and_increasing(
            x in 0u32..100, tx_frac in 0.0f64..1.0, t in 0.1f64..200.0, h in 0.01f64..200.0,
            r in 0.05f64..5.0, alpha in 0.1f64..50.0, a in 0.05f64..5.0, b in 0.05f64..5.0) {
            let m = BgNbdParams::new(r, alpha, a, b).unwrap();
            let x = f64::from(x);
            let tx = if x == 0.0 { 0.0 } else { tx_frac * t };
            let e1 = m.conditional_expected_purchases(h, x, tx, t).unwrap();
            let e2 = m.conditional_expected_purchases(h * 1.5, x, tx, t).unwrap();
            prop_assert!(e1 >= 0.0 && e1.is_finite());
            prop_assert!(e2 >= e1 * (1.0 - 1e-12), "{} {}", e1, e2);
            let u1 = m.expected_purchases(h).unwrap();
            let u2 = m.expected_purchases(h * 1.5).unwrap();
            prop_assert!(u1 >= 0.0 && u2 >= u1 * (1.0 - 1e-12));
        }
    }
}
