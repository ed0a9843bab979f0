//! Unconstrained minimisers used by the model fits: BFGS with a Wolfe line search, and
//! Nelder–Mead as a derivative-free fallback.
//!
//! Every model is fitted on the logarithms of its (positive) parameters, so the search space
//! is all of ℝⁿ. The objective is the *mean* negative log-likelihood per customer, which keeps
//! tolerances independent of the number of customers.
//!
//! References: J. Nocedal & S. J. Wright, *Numerical Optimization*, 2nd ed. (2006),
//! Algorithm 6.1 (BFGS), eq. 6.20 (initial scaling), Algorithms 3.5–3.6 (line search with the
//! strong Wolfe conditions); F. Gao & L. Han (2012), "Implementing the Nelder–Mead simplex
//! algorithm with adaptive parameters", *Comput. Optim. Appl.* 51, 259–277.

use std::fmt;

/// Which minimiser a fit uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Quasi-Newton BFGS with a strong-Wolfe line search; falls back to Nelder–Mead and back
    /// when the line search stalls away from a stationary point.
    Bfgs,
    /// Derivative-free Nelder–Mead simplex with adaptive coefficients.
    NelderMead,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Method::Bfgs => f.write_str("bfgs"),
            Method::NelderMead => f.write_str("nelder-mead"),
        }
    }
}

/// Options shared by every model fit.
///
/// ```
/// use touchstone_value::{FitOptions, Method};
/// let opts = FitOptions { method: Method::NelderMead, ..FitOptions::default() };
/// assert_eq!(opts.max_iterations, 1000);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// Minimiser.
    pub method: Method,
    /// Iteration budget (BFGS iterations, or Nelder–Mead iterations).
    pub max_iterations: usize,
    /// Convergence: the largest gradient component of the mean negative log-likelihood with
    /// respect to the log-parameters must fall below this (BFGS). For Nelder–Mead the spread of
    /// the simplex values must fall below it.
    pub gradient_tolerance: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            method: Method::Bfgs,
            max_iterations: 1000,
            gradient_tolerance: 1e-9,
        }
    }
}

/// How a fit went.
#[derive(Debug, Clone, PartialEq)]
pub struct FitReport {
    /// Total log-likelihood at the returned parameters (sum over customers, not the mean).
    pub log_likelihood: f64,
    /// Iterations used (all minimiser passes together).
    pub iterations: usize,
    /// Objective evaluations (a value-and-gradient evaluation counts once).
    pub evaluations: usize,
    /// Whether the convergence criterion was met. When false, the parameters are the best
    /// finite ones found.
    pub converged: bool,
    /// Largest absolute gradient component of the mean negative log-likelihood in
    /// log-parameter space at the returned point.
    pub gradient_norm: f64,
    /// The minimiser that was asked for.
    pub method: Method,
    /// Short description of why the minimiser stopped.
    pub message: &'static str,
    /// Number of customers (sum of weights) in the fit.
    pub customers: f64,
    /// Number of distinct rows the likelihood was evaluated on after compression.
    pub distinct_rows: usize,
}

/// A fitted model: the parameters and how the fit went.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit<P> {
    /// Estimated parameters (always finite and in the parameter domain).
    pub params: P,
    /// Iterations, log-likelihood, convergence.
    pub report: FitReport,
}

/// An objective over log-parameters. `eval` returns the mean negative log-likelihood
/// (+∞ when it is not finite) and fills `grad` when given one.
pub(crate) trait Objective: Sync {
    fn dim(&self) -> usize;
    fn eval(&self, theta: &[f64], grad: Option<&mut [f64]>) -> f64;
}

/// Outcome of a minimisation.
#[derive(Debug, Clone)]
pub(crate) struct Minimum {
    pub theta: Vec<f64>,
    pub value: f64,
    pub gradient_norm: f64,
    pub iterations: usize,
    pub evaluations: usize,
    pub converged: bool,
    pub message: &'static str,
    /// Final inverse-Hessian approximation (BFGS), row-major; used to warm-start a refit.
    pub inverse_hessian: Option<Vec<f64>>,
    /// The objective stopped improving while the gradient was still above tolerance
    /// (typically a ridge towards a limiting model); no fallback can help.
    pub stalled: bool,
}

/// Iterations over which a BFGS run must improve the objective by more than
/// `STALL_TOLERANCE`·max(1, |f|) to keep going.
const STALL_WINDOW: usize = 50;
const STALL_TOLERANCE: f64 = 1e-10;

/// Log-parameters beyond this magnitude are treated as outside the domain (e^40 ≈ 2·10¹⁷).
const THETA_LIMIT: f64 = 40.0;

/// A fitted log-parameter beyond this magnitude (e^25 ≈ 7·10¹⁰) means the optimum is a
/// limiting case rather than an interior point: the fit is reported as not converged.
const DIVERGED_THETA: f64 = 25.0;

struct Counter<'a> {
    obj: &'a dyn Objective,
    evaluations: usize,
}

impl Counter<'_> {
    fn eval(&mut self, theta: &[f64], grad: Option<&mut [f64]>) -> f64 {
        self.evaluations += 1;
        if theta
            .iter()
            .any(|t| !t.is_finite() || t.abs() > THETA_LIMIT)
        {
            return f64::INFINITY;
        }
        let v = self.obj.eval(theta, grad);
        if v.is_finite() { v } else { f64::INFINITY }
    }
}

fn inf_norm(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimises `obj` from `theta0` with the method in `opts`. BFGS that stalls away from a
/// stationary point hands over to Nelder–Mead and then retries BFGS from there. `start`, when
/// given, is the objective's value and gradient at `theta0` (saves an evaluation).
pub(crate) fn minimize(
    obj: &dyn Objective,
    theta0: &[f64],
    opts: &FitOptions,
    inverse_hessian: Option<&[f64]>,
    start: Option<(f64, &[f64])>,
) -> Minimum {
    match opts.method {
        Method::NelderMead => {
            let mut m = nelder_mead(obj, theta0, opts.max_iterations, opts.gradient_tolerance);
            let mut g = vec![0.0; obj.dim()];
            obj.eval(&m.theta, Some(&mut g));
            m.gradient_norm = inf_norm(&g);
            m.evaluations += 1;
            m
        }
        Method::Bfgs => {
            let first = bfgs(
                obj,
                theta0,
                opts.max_iterations,
                opts.gradient_tolerance,
                inverse_hessian,
                start,
            );
            if first.converged || first.stalled || first.iterations >= opts.max_iterations {
                return first;
            }
            // Stalled: a derivative-free pass to move away, then BFGS again.
            let budget = opts.max_iterations.saturating_sub(first.iterations).max(1);
            let nm = nelder_mead(obj, &first.theta, budget, opts.gradient_tolerance * 1e-3);
            let start = if nm.value <= first.value {
                &nm.theta
            } else {
                &first.theta
            };
            let budget = budget.saturating_sub(nm.iterations).max(1);
            let second = bfgs(obj, start, budget, opts.gradient_tolerance, None, None);
            let iterations = first.iterations + nm.iterations + second.iterations;
            let evaluations = first.evaluations + nm.evaluations + second.evaluations + 1;
            let mut best = if second.value <= first.value.min(nm.value) {
                second
            } else if nm.value <= first.value {
                let mut g = vec![0.0; obj.dim()];
                obj.eval(&nm.theta, Some(&mut g));
                Minimum {
                    gradient_norm: inf_norm(&g),
                    converged: false,
                    message: "line search stalled; best point from the simplex fallback",
                    ..nm
                }
            } else {
                first
            };
            best.iterations = iterations;
            best.evaluations = evaluations;
            best
        }
    }
}

/// BFGS on a smooth objective with gradients (Nocedal & Wright, Algorithm 6.1). `start` is
/// the value and gradient at `theta0` when the caller already has them.
pub(crate) fn bfgs(
    obj: &dyn Objective,
    theta0: &[f64],
    max_iterations: usize,
    gtol: f64,
    inverse_hessian: Option<&[f64]>,
    start: Option<(f64, &[f64])>,
) -> Minimum {
    let n = obj.dim();
    let mut counter = Counter {
        obj,
        evaluations: 0,
    };
    let mut x = theta0.to_vec();
    let mut g = vec![0.0; n];
    let in_domain = theta0
        .iter()
        .all(|t| t.is_finite() && t.abs() <= THETA_LIMIT);
    let mut f = match start {
        Some((f0, g0)) if g0.len() == n && in_domain => {
            counter.evaluations += 1;
            g.copy_from_slice(g0);
            if f0.is_finite() { f0 } else { f64::INFINITY }
        }
        _ => counter.eval(&x, Some(&mut g)),
    };
    if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Minimum {
            theta: x,
            value: f64::INFINITY,
            gradient_norm: f64::INFINITY,
            iterations: 0,
            evaluations: counter.evaluations,
            converged: false,
            message: "objective not finite at the starting point",
            inverse_hessian: None,
            stalled: false,
        };
    }
    let identity = |scale: f64| {
        let mut h = vec![0.0; n * n];
        for i in 0..n {
            h[i * n + i] = scale;
        }
        h
    };
    let warm = inverse_hessian.filter(|h| h.len() == n * n && h.iter().all(|v| v.is_finite()));
    let mut h = warm.map(<[f64]>::to_vec).unwrap_or_else(|| identity(1.0));
    let mut fresh_h = warm.is_none();
    let mut iterations = 0;
    let mut message = "iteration limit reached";
    let mut converged = false;
    let mut small_steps = 0;
    let mut stalled = false;
    let mut history: Vec<f64> = Vec::new();
    let mut p = vec![0.0; n];
    while iterations < max_iterations {
        if inf_norm(&g) <= gtol {
            converged = true;
            message = "gradient below tolerance";
            break;
        }
        iterations += 1;
        // p = -H g
        for i in 0..n {
            p[i] = -(0..n).map(|j| h[i * n + j] * g[j]).sum::<f64>();
        }
        let mut slope = dot(&p, &g);
        if slope.is_nan() || slope >= 0.0 {
            h = identity(1.0);
            fresh_h = true;
            for i in 0..n {
                p[i] = -g[i];
            }
            slope = dot(&p, &g);
        }
        // Keep the first trial step inside a trust region of 5 log-units per coordinate.
        let biggest = inf_norm(&p);
        let first_step = if fresh_h && biggest > 0.0 {
            (1.0f64).min(1.0 / biggest)
        } else if biggest > 5.0 {
            5.0 / biggest
        } else {
            1.0
        };
        let found = line_search(&mut counter, &x, f, &g, &p, slope, first_step);
        let Some((step, f_new, x_new, g_new)) = found else {
            if !fresh_h {
                h = identity(1.0);
                fresh_h = true;
                continue;
            }
            // No decrease along steepest descent either: at the precision limit or stuck.
            message = "line search found no decrease";
            if inf_norm(&g) <= gtol * 1e3 {
                converged = true;
                message = "no further decrease possible at machine precision";
            }
            break;
        };
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        let yy = dot(&y, &y);
        let decrease = f - f_new;
        x = x_new;
        g = g_new;
        f = f_new;
        if sy > 1e-12 * dot(&s, &s).sqrt() * yy.sqrt() && sy > 0.0 {
            if fresh_h {
                // Nocedal & Wright eq. 6.20.
                h = identity(sy / yy);
                fresh_h = false;
            }
            bfgs_update(&mut h, &s, &y, sy, n);
        }
        // Stop when the objective no longer moves at the precision of f64 and the gradient
        // is small: further iterations cannot improve the answer.
        if decrease.abs() <= 1e-15 * f.abs().max(1.0) && step * inf_norm(&p) < 1e-10 {
            small_steps += 1;
            if small_steps >= 3 {
                if inf_norm(&g) <= gtol * 1e3 {
                    converged = true;
                    message = "no further decrease possible at machine precision";
                } else {
                    message = "steps became negligible before the gradient vanished";
                }
                break;
            }
        } else {
            small_steps = 0;
        }
        history.push(f);
        if history.len() > STALL_WINDOW {
            let old = history[history.len() - 1 - STALL_WINDOW];
            if old - f <= STALL_TOLERANCE * f.abs().max(1.0) && inf_norm(&g) > gtol {
                stalled = true;
                message = "objective stalled on a flat ridge (the data may not identify the model; \
                           parameters may be drifting toward a limiting case)";
                break;
            }
        }
    }
    if !converged && inf_norm(&g) <= gtol {
        converged = true;
        message = "gradient below tolerance";
    }
    Minimum {
        theta: x,
        value: f,
        gradient_norm: inf_norm(&g),
        iterations,
        evaluations: counter.evaluations,
        converged,
        message,
        inverse_hessian: Some(h),
        stalled,
    }
}

/// H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ with ρ = 1/(yᵀs) (Nocedal & Wright eq. 6.17).
fn bfgs_update(h: &mut [f64], s: &[f64], y: &[f64], sy: f64, n: usize) {
    let rho = 1.0 / sy;
    let hy: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| h[i * n + j] * y[j]).sum())
        .collect();
    let yhy = dot(y, &hy);
    for i in 0..n {
        for j in 0..n {
            h[i * n + j] +=
                -rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j];
        }
    }
}

type Trial = (f64, f64, Vec<f64>, Vec<f64>);

/// Line search satisfying the strong Wolfe conditions (Nocedal & Wright Algorithms 3.5, 3.6),
/// with c1 = 1e-4, c2 = 0.9. Near the minimum, where f can no longer decrease by more than
/// its rounding error, the sufficient-decrease test allows an increase of 1e-14·|f(0)| (the
/// "approximate Wolfe" idea of Hager & Zhang 2005), so the gradient can still be driven down.
/// Falls back to the best Armijo point found; None when no decrease at all was found.
fn line_search(
    counter: &mut Counter<'_>,
    x: &[f64],
    f0: f64,
    g0: &[f64],
    p: &[f64],
    slope0: f64,
    first_step: f64,
) -> Option<Trial> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    let n = x.len();
    let f_noise = 1e-14 * f0.abs();
    let eval_at = |counter: &mut Counter<'_>, alpha: f64| -> Trial {
        let xt: Vec<f64> = x.iter().zip(p).map(|(a, d)| a + alpha * d).collect();
        let mut gt = vec![0.0; n];
        let ft = counter.eval(&xt, Some(&mut gt));
        let ft = if gt.iter().all(|v| v.is_finite()) {
            ft
        } else {
            f64::INFINITY
        };
        (alpha, ft, xt, gt)
    };
    let mut best: Option<Trial> = None;
    let keep_best = |t: &Trial, best: &mut Option<Trial>| {
        if t.1 < f0 + C1 * t.0 * slope0 + f_noise && best.as_ref().is_none_or(|b| t.1 < b.1) {
            *best = Some(t.clone());
        }
    };
    let mut prev: Trial = (0.0, f0, x.to_vec(), g0.to_vec());
    let mut prev_slope = slope0;
    let mut alpha = first_step;
    let mut bracket: Option<(Trial, f64, Trial, f64)> = None;
    for i in 0..40 {
        let t = eval_at(counter, alpha);
        keep_best(&t, &mut best);
        if !t.1.is_finite() {
            // Outside the domain: shrink towards the last good point.
            alpha = prev.0 + 0.25 * (alpha - prev.0);
            if (alpha - prev.0).abs() < 1e-16 {
                break;
            }
            continue;
        }
        let slope = dot(&t.3, p);
        if t.1 > f0 + C1 * t.0 * slope0 + f_noise || (i > 0 && t.1 > prev.1 + f_noise) {
            bracket = Some((prev.clone(), prev_slope, t, slope));
            break;
        }
        if slope.abs() <= -C2 * slope0 {
            return Some(t);
        }
        if slope >= 0.0 {
            bracket = Some((t.clone(), slope, prev.clone(), prev_slope));
            break;
        }
        prev = t;
        prev_slope = slope;
        alpha *= 2.0;
    }
    if let Some((mut lo, mut lo_slope, mut hi, _)) = bracket {
        for _ in 0..40 {
            // Quadratic interpolation from f(lo), f'(lo), f(hi), safeguarded to the middle 80%.
            let width = hi.0 - lo.0;
            let denom = 2.0 * (hi.1 - lo.1 - lo_slope * width);
            let mut a = if denom > 0.0 && hi.1.is_finite() {
                lo.0 - lo_slope * width * width / denom
            } else {
                lo.0 + 0.5 * width
            };
            let (left, right) = if lo.0 < hi.0 {
                (lo.0, hi.0)
            } else {
                (hi.0, lo.0)
            };
            let margin = 0.1 * (right - left);
            a = a.clamp(left + margin, right - margin);
            if (right - left) < 1e-14 * right.abs().max(1e-300) {
                break;
            }
            let t = eval_at(counter, a);
            keep_best(&t, &mut best);
            if !t.1.is_finite() || t.1 > f0 + C1 * t.0 * slope0 + f_noise || t.1 > lo.1 + f_noise {
                hi = t;
            } else {
                let slope = dot(&t.3, p);
                if slope.abs() <= -C2 * slope0 {
                    return Some(t);
                }
                if slope * (hi.0 - lo.0) >= 0.0 {
                    hi = lo.clone();
                }
                lo = t;
                lo_slope = slope;
            }
        }
    }
    best
}

/// Nelder–Mead with the adaptive coefficients of Gao & Han (2012). Stops when the spread of
/// values over the simplex is below `ftol` (relative to 1 + |f|) and the simplex has shrunk
/// below 1e-9 in every coordinate, or after `max_iterations`.
pub(crate) fn nelder_mead(
    obj: &dyn Objective,
    theta0: &[f64],
    max_iterations: usize,
    ftol: f64,
) -> Minimum {
    let n = obj.dim();
    let nf = n as f64;
    let (alpha, gamma, rho, sigma) = (1.0, 1.0 + 2.0 / nf, 0.75 - 0.5 / nf, 1.0 - 1.0 / nf);
    let mut counter = Counter {
        obj,
        evaluations: 0,
    };
    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(n + 1);
    let f0 = counter.eval(theta0, None);
    simplex.push((theta0.to_vec(), f0));
    for i in 0..n {
        let mut v = theta0.to_vec();
        v[i] += if v[i].abs() > 1e-3 { 0.25 } else { 0.1 };
        let fv = counter.eval(&v, None);
        simplex.push((v, fv));
    }
    let mut iterations = 0;
    let mut converged = false;
    let mut message = "iteration limit reached";
    while iterations < max_iterations {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let fbest = simplex[0].1;
        let fworst = simplex[n].1;
        let size = simplex[1..]
            .iter()
            .flat_map(|(v, _)| v.iter().zip(&simplex[0].0).map(|(a, b)| (a - b).abs()))
            .fold(0.0, f64::max);
        if fbest.is_finite() && (fworst - fbest).abs() <= ftol * (1.0 + fbest.abs()) && size <= 1e-9
        {
            converged = true;
            message = "simplex converged";
            break;
        }
        iterations += 1;
        let centroid: Vec<f64> = (0..n)
            .map(|j| simplex[..n].iter().map(|(v, _)| v[j]).sum::<f64>() / nf)
            .collect();
        let along = |t: f64| -> Vec<f64> {
            centroid
                .iter()
                .zip(&simplex[n].0)
                .map(|(c, w)| c + t * (c - w))
                .collect()
        };
        let xr = along(alpha);
        let fr = counter.eval(&xr, None);
        if fr < simplex[0].1 {
            let xe = along(alpha * gamma);
            let fe = counter.eval(&xe, None);
            simplex[n] = if fe < fr { (xe, fe) } else { (xr, fr) };
            continue;
        }
        if fr < simplex[n - 1].1 {
            simplex[n] = (xr, fr);
            continue;
        }
        let (xc, fc) = if fr < simplex[n].1 {
            let xc = along(alpha * rho);
            let fc = counter.eval(&xc, None);
            (xc, fc)
        } else {
            let xc = along(-rho);
            let fc = counter.eval(&xc, None);
            (xc, fc)
        };
        if fc < fr.min(simplex[n].1) {
            simplex[n] = (xc, fc);
            continue;
        }
        // Shrink towards the best vertex.
        let best = simplex[0].0.clone();
        for vertex in simplex.iter_mut().skip(1) {
            let v: Vec<f64> = best
                .iter()
                .zip(&vertex.0)
                .map(|(b, x)| b + sigma * (x - b))
                .collect();
            let fv = counter.eval(&v, None);
            *vertex = (v, fv);
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (theta, value) = simplex.swap_remove(0);
    Minimum {
        theta,
        value,
        gradient_norm: f64::NAN,
        iterations,
        evaluations: counter.evaluations,
        converged,
        message,
        inverse_hessian: None,
        stalled: false,
    }
}

/// Central-difference gradient of `f` at `theta` (step 1e-5 per log-parameter).
#[cfg(test)]
pub(crate) fn numeric_gradient<F: Fn(&[f64]) -> f64>(f: F, theta: &[f64], grad: &mut [f64]) {
    let mut x = theta.to_vec();
    for i in 0..theta.len() {
        let h = 1e-5 * theta[i].abs().max(1.0);
        x[i] = theta[i] + h;
        let up = f(&x);
        x[i] = theta[i] - h;
        let down = f(&x);
        x[i] = theta[i];
        grad[i] = (up - down) / (2.0 * h);
    }
}

/// Distinct rows from which a fit first runs on a subsample to find its starting point.
pub(crate) const WARM_START_ROWS: usize = 20_000;

/// Size of that subsample (customers): a twentieth of the rows, between 2 500 and 10 000, so
/// that fitting it costs about one evaluation on all the data.
pub(crate) fn warm_start_sample(rows: usize) -> usize {
    (rows / 20).clamp(2_500, 10_000)
}

/// Rows below which likelihood sums run on the calling thread.
pub(crate) const PARALLEL_MIN_ROWS: usize = 16_384;
/// Rows per parallel work item. Fixed, so sums are added in the same order whatever the
/// number of threads, and results are reproducible bit for bit.
const CHUNK_ROWS: usize = 4_096;

/// Σ over row chunks of `f(range)`, in parallel for many rows, combined in a fixed order.
pub(crate) fn chunked_sum<const K: usize, F>(rows: usize, f: F) -> [f64; K]
where
    F: Fn(std::ops::Range<usize>) -> [f64; K] + Sync,
{
    if rows < PARALLEL_MIN_ROWS {
        return f(0..rows);
    }
    use rayon::prelude::*;
    let chunks = rows.div_ceil(CHUNK_ROWS);
    let parts: Vec<[f64; K]> = (0..chunks)
        .into_par_iter()
        .map(|c| f(c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(rows)))
        .collect();
    let mut total = [0.0; K];
    for p in parts {
        for k in 0..K {
            total[k] += p[k];
        }
    }
    total
}

/// Checks options, runs the minimiser and builds the report. `customers` is the total weight
/// the objective's mean is taken over.
pub(crate) fn run_fit(
    model: &'static str,
    obj: &dyn Objective,
    theta0: &[f64],
    opts: &FitOptions,
    warm_inverse_hessian: Option<&[f64]>,
    customers: f64,
    distinct_rows: usize,
) -> crate::error::Result<(Minimum, FitReport)> {
    use crate::error::ValueError;
    if opts.max_iterations == 0 {
        return Err(ValueError::InvalidParameter {
            name: "max_iterations",
            value: 0.0,
            reason: "must be at least 1",
        });
    }
    if !(opts.gradient_tolerance.is_finite() && opts.gradient_tolerance > 0.0) {
        return Err(ValueError::InvalidParameter {
            name: "gradient_tolerance",
            value: opts.gradient_tolerance,
            reason: "must be finite and > 0",
        });
    }
    let mut g0 = vec![0.0; obj.dim()];
    let f0 = obj.eval(theta0, Some(&mut g0));
    if !f0.is_finite() {
        return Err(ValueError::NonFiniteLikelihood { model });
    }
    let m = minimize(obj, theta0, opts, warm_inverse_hessian, Some((f0, &g0)));
    if !m.value.is_finite() || m.theta.iter().any(|t| !t.is_finite()) {
        return Err(ValueError::NumericalFailure {
            function: model,
            reason: "the minimiser lost the finite starting point",
        });
    }
    let diverged = m.theta.iter().any(|t| t.abs() > DIVERGED_THETA);
    let report = FitReport {
        log_likelihood: -m.value * customers,
        iterations: m.iterations,
        evaluations: m.evaluations,
        converged: m.converged && !diverged,
        gradient_norm: m.gradient_norm,
        method: opts.method,
        message: if diverged {
            "a parameter ran off toward 0 or infinity: the data favour a limiting case of the \
             model (e.g. no heterogeneity or no dropout), so the estimates are not meaningful"
        } else {
            m.message
        },
        customers,
        distinct_rows,
    };
    Ok((m, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock's banana function, minimum 0 at (1, 1).
    struct Rosenbrock;
    impl Objective for Rosenbrock {
        fn dim(&self) -> usize {
            2
        }
        fn eval(&self, t: &[f64], grad: Option<&mut [f64]>) -> f64 {
            let (x, y) = (t[0], t[1]);
            if let Some(g) = grad {
                g[0] = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
                g[1] = 200.0 * (y - x * x);
            }
            (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
        }
    }

    /// A quadratic that is +∞ outside x > -1 (a domain wall).
    struct Walled;
    impl Objective for Walled {
        fn dim(&self) -> usize {
            1
        }
        fn eval(&self, t: &[f64], grad: Option<&mut [f64]>) -> f64 {
            if t[0] <= -1.0 {
                return f64::NAN;
            }
            if let Some(g) = grad {
                g[0] = 2.0 * (t[0] + 0.9);
            }
            (t[0] + 0.9).powi(2)
        }
    }

    #[test]
    fn bfgs_solves_rosenbrock() {
        let m = bfgs(&Rosenbrock, &[-1.2, 1.0], 500, 1e-10, None, None);
        assert!(m.converged, "{m:?}");
        assert!(
            (m.theta[0] - 1.0).abs() < 1e-8 && (m.theta[1] - 1.0).abs() < 1e-8,
            "{m:?}"
        );
    }

    #[test]
    fn nelder_mead_solves_rosenbrock() {
        let m = nelder_mead(&Rosenbrock, &[-1.2, 1.0], 5000, 1e-15);
        assert!(m.converged, "{m:?}");
        assert!(
            (m.theta[0] - 1.0).abs() < 1e-6 && (m.theta[1] - 1.0).abs() < 1e-6,
            "{m:?}"
        );
    }

    #[test]
    fn bfgs_respects_non_finite_region() {
        let m = bfgs(&Walled, &[5.0], 200, 1e-12, None, None);
        assert!(m.converged, "{m:?}");
        assert!((m.theta[0] + 0.9).abs() < 1e-9);
    }

    #[test]
    fn iteration_limit_reports_not_converged_with_finite_point() {
        let opts = FitOptions {
            max_iterations: 3,
            ..FitOptions::default()
        };
        let m = minimize(&Rosenbrock, &[-1.2, 1.0], &opts, None, None);
        assert!(!m.converged);
        assert!(m.theta.iter().all(|v| v.is_finite()));
        assert!(m.value.is_finite());
    }

    #[test]
    fn start_outside_domain_is_reported() {
        let m = bfgs(&Walled, &[-2.0], 10, 1e-12, None, None);
        assert!(!m.converged);
        assert_eq!(m.value, f64::INFINITY);
    }

    #[test]
    fn numeric_gradient_matches_analytic() {
        let t = [0.3, -0.7];
        let mut g = [0.0; 2];
        Rosenbrock.eval(&t, Some(&mut g));
        let mut fd = [0.0; 2];
        numeric_gradient(|x| Rosenbrock.eval(x, None), &t, &mut fd);
        for i in 0..2 {
            assert!((g[i] - fd[i]).abs() < 1e-6 * g[i].abs().max(1.0));
        }
    }
}
