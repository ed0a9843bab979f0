//! Asymptotic standard errors of maximum-likelihood estimates.
//!
//! Method: the observed information matrix, i.e. the Hessian of the *total* negative
//! log-likelihood −ℓ(θ̂) at the estimate, inverted (Cramér–Rao / Wald). Each model's
//! likelihood already has an analytic gradient in log-parameters u = ln θ; the Hessian is
//! built from central differences of that gradient,
//!
//! H_u\[i\]\[j\] ≈ (g_j(u + h eᵢ) − g_j(u − h eᵢ)) / 2h,
//!
//! with one Richardson extrapolation step (h = 10⁻³ and h/2, truncation error O(h⁴)), then
//! symmetrised. It is carried to the natural parameters exactly, including the gradient term
//! that vanishes at a stationary point:
//!
//! H_θ = D⁻¹ (H_u − diag(g_u)) D⁻¹, D = diag(θ),
//!
//! and inverted by Cholesky factorisation; the standard errors are the square roots of the
//! diagonal of H_θ⁻¹. This is what `numdifftools.Hessian` of the log-likelihood followed by
//! `inv` computes, and what the `lifetimes` package reports as `standard_errors_`.
//!
//! The errors describe the sampling variability of the estimates when the model holds and the
//! sample is large; they are meaningful only at a maximum (a converged fit). A likelihood that
//! is flat in some direction (a limiting case of the model) has a singular information matrix,
//! which is reported as an error rather than as infinite or NaN errors.

use crate::error::{Result, ValueError};
use crate::optim::Objective;

/// Standard errors and covariance of fitted parameters (observed information; module docs).
///
/// ```
/// use touchstone_value::{BgNbdParams, FitOptions, RfmData};
/// let x = [0.0, 1.0, 0.0, 3.0, 2.0, 0.0, 5.0, 1.0, 2.0, 0.0, 7.0, 1.0];
/// let tx = [0.0, 4.0, 0.0, 20.0, 9.0, 0.0, 30.0, 2.0, 35.0, 0.0, 33.0, 30.0];
/// let t = [30.0, 35.0, 25.0, 38.0, 30.0, 39.0, 39.0, 20.0, 39.0, 12.0, 38.0, 31.0];
/// let data = RfmData::new(&x, &tx, &t)?;
/// let fit = BgNbdParams::fit(&data, &FitOptions::default())?;
/// if let Ok(se) = fit.params.standard_errors(&data) {
///     assert_eq!(se.names, ["r", "alpha", "a", "b"]);
///     assert!(se.std_errors.iter().all(|s| s.is_finite() && *s > 0.0));
///     let (lo, hi) = se.confidence_interval(0, 0.95)?;
///     assert!(lo < fit.params.r && fit.params.r < hi);
/// }
/// # Ok::<(), touchstone_value::ValueError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StandardErrors {
    /// Parameter names, in the order of the other fields.
    pub names: &'static [&'static str],
    /// The estimates the errors were computed at.
    pub estimates: Vec<f64>,
    /// Asymptotic standard error of each estimate.
    pub std_errors: Vec<f64>,
    /// Asymptotic covariance matrix of the estimates, row-major (`n × n`).
    pub covariance: Vec<f64>,
}

impl StandardErrors {
    /// Standard error of the parameter called `name`.
    ///
    /// ```
    /// use touchstone_value::{GammaGammaParams, FitOptions, gamma_gamma::SpendData};
    /// let d = SpendData::new(&[1.0, 2.0, 4.0, 1.0, 3.0, 6.0, 2.0],
    ///                        &[10.0, 25.0, 18.0, 40.0, 12.5, 22.0, 30.0])?;
    /// let fit = GammaGammaParams::fit(&d, &FitOptions::default())?;
    /// let se = fit.params.standard_errors(&d)?;
    /// assert_eq!(se.get("q"), Some(se.std_errors[1]));
    /// assert_eq!(se.get("nope"), None);
    /// # Ok::<(), touchstone_value::ValueError>(())
    /// ```
    pub fn get(&self, name: &str) -> Option<f64> {
        self.names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| self.std_errors.get(i).copied())
    }

    /// Wald interval estimate ± z·SE for parameter `index` at two-sided `level` (e.g. 0.95,
    /// z = 1.96), as `lifetimes`' `summary` prints. The lower end can be negative for a
    /// positive parameter: the interval is symmetric, not a statement about the domain.
    pub fn confidence_interval(&self, index: usize, level: f64) -> Result<(f64, f64)> {
        if !(level > 0.0 && level < 1.0) {
            return Err(ValueError::InvalidParameter {
                name: "level",
                value: level,
                reason: "must be in (0, 1)",
            });
        }
        let (Some(&est), Some(&se)) = (self.estimates.get(index), self.std_errors.get(index))
        else {
            return Err(ValueError::InvalidParameter {
                name: "index",
                value: index as f64,
                reason: "no such parameter",
            });
        };
        let z = crate::special::normal_quantile(0.5 + level / 2.0)?;
        Ok((est - z * se, est + z * se))
    }
}

/// Log-parameter step of the finite differences (and half of it for the extrapolation).
const STEP: f64 = 1e-3;

/// Standard errors from an objective whose value is the mean negative log-likelihood over
/// `weight` customers and whose argument is the log of the parameters.
pub(crate) fn from_objective(
    model: &'static str,
    names: &'static [&'static str],
    obj: &dyn Objective,
    estimates: &[f64],
    weight: f64,
) -> Result<StandardErrors> {
    let n = obj.dim();
    if estimates.len() != n || names.len() != n {
        return Err(ValueError::LengthMismatch {
            what: "standard errors: parameters",
            left: n,
            right: estimates.len(),
        });
    }
    if !(weight.is_finite() && weight > 0.0) {
        return Err(ValueError::InvalidParameter {
            name: "customers",
            value: weight,
            reason: "must be finite and > 0",
        });
    }
    let u: Vec<f64> = estimates.iter().map(|p| p.ln()).collect();
    let mut g0 = vec![0.0; n];
    let f0 = obj.eval(&u, Some(&mut g0));
    if !f0.is_finite() || g0.iter().any(|v| !v.is_finite()) {
        return Err(ValueError::NonFiniteLikelihood { model });
    }
    let not_finite = || ValueError::NumericalFailure {
        function: model,
        reason: "the log-likelihood is not finite next to the estimates, so its curvature \
                 (and the standard errors) cannot be computed",
    };
    // Central difference of the gradient along coordinate i with step h.
    let column = |i: usize, h: f64| -> Result<Vec<f64>> {
        let mut up = u.clone();
        let mut down = u.clone();
        up[i] += h;
        down[i] -= h;
        let (mut gu, mut gd) = (vec![0.0; n], vec![0.0; n]);
        let fu = obj.eval(&up, Some(&mut gu));
        let fd = obj.eval(&down, Some(&mut gd));
        if !(fu.is_finite() && fd.is_finite()) {
            return Err(not_finite());
        }
        let col: Vec<f64> = gu
            .iter()
            .zip(&gd)
            .map(|(a, b)| (a - b) / (2.0 * h))
            .collect();
        if col.iter().all(|v| v.is_finite()) {
            Ok(col)
        } else {
            Err(not_finite())
        }
    };
    // Hessian of the mean negative log-likelihood in log-parameters, Richardson-extrapolated.
    let mut hu = vec![0.0; n * n];
    for i in 0..n {
        let coarse = column(i, STEP)?;
        let fine = column(i, STEP / 2.0)?;
        for j in 0..n {
            hu[j * n + i] = (4.0 * fine[j] - coarse[j]) / 3.0;
        }
    }
    // Total (not mean) information in natural parameters.
    let mut info = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let sym = 0.5 * (hu[i * n + j] + hu[j * n + i]);
            let diag = if i == j { g0[i] } else { 0.0 };
            info[i * n + j] = weight * (sym - diag) / (estimates[i] * estimates[j]);
        }
    }
    let covariance = invert_spd(&info, n).ok_or(ValueError::NumericalFailure {
        function: model,
        reason: "the information matrix is not positive definite: the likelihood is flat or \
                 not at a maximum in some direction (a limiting case of the model, or a fit \
                 that did not converge), so standard errors are not defined",
    })?;
    let std_errors: Vec<f64> = (0..n).map(|i| covariance[i * n + i].sqrt()).collect();
    if std_errors.iter().any(|s| !s.is_finite()) {
        return Err(not_finite());
    }
    Ok(StandardErrors {
        names,
        estimates: estimates.to_vec(),
        std_errors,
        covariance,
    })
}

/// Inverse of a symmetric positive-definite matrix (row-major) by Cholesky factorisation, with
/// a diagonal scaling first so that parameters of very different magnitude do not matter.
/// `None` when the matrix is not (numerically) positive definite.
fn invert_spd(m: &[f64], n: usize) -> Option<Vec<f64>> {
    let scale: Vec<f64> = (0..n)
        .map(|i| {
            let d = m[i * n + i];
            if d > 0.0 && d.is_finite() {
                Some(1.0 / d.sqrt())
            } else {
                None
            }
        })
        .collect::<Option<_>>()?;
    // Scaled matrix S = diag(s) M diag(s) has a unit diagonal.
    let mut a: Vec<f64> = (0..n * n)
        .map(|k| m[k] * scale[k / n] * scale[k % n])
        .collect();
    // Cholesky: a = L Lᵀ, L stored in the lower triangle.
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        // Relative to the unit diagonal: a pivot this small means a (near-)singular matrix.
        if d.is_nan() || d <= 1e-12 {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut v = a[i * n + j];
            for k in 0..j {
                v -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = v / d;
        }
    }
    // Inverse of L (lower triangular), then S⁻¹ = L⁻ᵀ L⁻¹.
    let mut inv_l = vec![0.0; n * n];
    for i in 0..n {
        inv_l[i * n + i] = 1.0 / a[i * n + i];
        for j in 0..i {
            let mut v = 0.0;
            for k in j..i {
                v -= a[i * n + k] * inv_l[k * n + j];
            }
            inv_l[i * n + j] = v / a[i * n + i];
        }
    }
    // Computed for j ≤ i and mirrored: (v·sᵢ)·sⱼ and (v·sⱼ)·sᵢ may differ in the last bit.
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let v: f64 = (i..n).map(|k| inv_l[k * n + i] * inv_l[k * n + j]).sum();
            out[i * n + j] = v * scale[i] * scale[j];
            out[j * n + i] = out[i * n + j];
        }
    }
    out.iter().all(|v| v.is_finite()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// −ℓ of n draws from Normal(μ, σ) per customer, over (ln μ, ln σ): the information is
    /// known in closed form (n/σ², 2n/σ²; diagonal), so SE(μ) = σ/√n, SE(σ) = σ/√(2n).
    struct NormalMle {
        mean: f64,
        var: f64,
    }

    impl Objective for NormalMle {
        fn dim(&self) -> usize {
            2
        }
        fn eval(&self, t: &[f64], grad: Option<&mut [f64]>) -> f64 {
            let (mu, sigma) = (t[0].exp(), t[1].exp());
            let s2 = sigma * sigma;
            // mean over observations of (x−μ)²: var + (mean − μ)²
            let ss = self.var + (self.mean - mu) * (self.mean - mu);
            if let Some(g) = grad {
                g[0] = -(self.mean - mu) / s2 * mu;
                g[1] = (1.0 - ss / s2) * 1.0;
            }
            sigma.ln() + 0.5 * ss / s2
        }
    }

    #[test]
    fn normal_mean_and_sd_have_textbook_errors() {
        let obj = NormalMle {
            mean: 3.0,
            var: 4.0,
        };
        let n = 400.0;
        let se = from_objective("normal", &["mu", "sigma"], &obj, &[3.0, 2.0], n).unwrap();
        assert!((se.std_errors[0] - 2.0 / 20.0).abs() < 1e-9, "{se:?}");
        assert!(
            (se.std_errors[1] - 2.0 / (2.0 * n).sqrt()).abs() < 1e-9,
            "{se:?}"
        );
        assert!(se.covariance[1].abs() < 1e-12);
        let (lo, hi) = se.confidence_interval(0, 0.95).unwrap();
        assert!((hi - lo - 2.0 * 1.959963984540054 * 0.1).abs() < 1e-9);
        assert!(se.confidence_interval(5, 0.95).is_err());
        assert!(se.confidence_interval(0, 1.0).is_err());
    }

    #[test]
    fn gradient_term_is_included_away_from_the_maximum() {
        // −ℓ per observation = (3 − μ)²/8 in μ alone (σ = 2 known): the natural-scale
        // information is n/σ² whatever μ, while the log-scale Hessian is not; the chain-rule
        // term −g/μ² must restore it away from the maximum.
        struct Quadratic;
        impl Objective for Quadratic {
            fn dim(&self) -> usize {
                1
            }
            fn eval(&self, t: &[f64], grad: Option<&mut [f64]>) -> f64 {
                let mu = t[0].exp();
                if let Some(g) = grad {
                    g[0] = -(3.0 - mu) / 4.0 * mu;
                }
                (3.0 - mu) * (3.0 - mu) / 8.0
            }
        }
        for mu in [3.0, 3.5, 2.2] {
            let se = from_objective("quadratic", &["mu"], &Quadratic, &[mu], 100.0).unwrap();
            assert!((se.std_errors[0] - 0.2).abs() < 1e-9, "mu = {mu}: {se:?}");
        }
    }

    #[test]
    fn singular_information_is_an_error() {
        // Flat in the second parameter.
        struct Flat;
        impl Objective for Flat {
            fn dim(&self) -> usize {
                2
            }
            fn eval(&self, t: &[f64], grad: Option<&mut [f64]>) -> f64 {
                if let Some(g) = grad {
                    g[0] = 2.0 * t[0];
                    g[1] = 0.0;
                }
                t[0] * t[0]
            }
        }
        assert!(matches!(
            from_objective("flat", &["x", "y"], &Flat, &[1.0, 1.0], 10.0),
            Err(ValueError::NumericalFailure { .. })
        ));
    }

    #[test]
    fn spd_inverse_is_exact_on_a_known_matrix() {
        let m = [4.0, 2.0, 0.6, 2.0, 2.0, 0.5, 0.6, 0.5, 3.0];
        let inv = invert_spd(&m, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| m[i * 3 + k] * inv[k * 3 + j]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-14, "{i},{j}: {v}");
            }
        }
        assert!(invert_spd(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}
