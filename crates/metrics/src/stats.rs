//! Significance tests for before/after comparisons: the two-proportion z-test (ratios of
//! counts), Welch's t-test (means) and a permutation test of the difference in means (any
//! other per-period values), each with a 95 % (or `1 − alpha`) interval of the change and the
//! minimum detectable effect at 80 % power.
//!
//! The formulas are the textbook ones; the tests pin them to values computed with scipy.

use touchstone_value::special::{ln_beta, normal_cdf, normal_quantile};

/// Power used for the minimum detectable effect and the sample size.
pub const POWER: f64 = 0.8;

/// The outcome of one test of `after − before`.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    /// Which test: `two_proportion_z`, `welch_t` or `permutation`.
    pub test: &'static str,
    /// The before estimate.
    pub before: f64,
    /// The after estimate.
    pub after: f64,
    /// The test statistic (z or t; the observed difference for a permutation test).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Interval of `after − before` at `1 − alpha`.
    pub ci: (f64, f64),
    /// The smallest |change| the samples detect with probability [`POWER`] at `alpha`.
    pub mde: f64,
    /// Observations per side needed to detect the observed change at `alpha` and [`POWER`]
    /// (None when there is no change).
    pub sample_size: Option<f64>,
    /// Observations before and after.
    pub n: (f64, f64),
}

fn z(p: f64) -> f64 {
    normal_quantile(p).unwrap_or(f64::NAN)
}

fn sample_size(z_sum: f64, variance_sum: f64, change: f64) -> Option<f64> {
    (change != 0.0 && change.is_finite())
        .then(|| (z_sum * z_sum * variance_sum / (change * change)).ceil())
}

/// Two-proportion z-test of `x2/n2 − x1/n1` with the pooled standard error (the test that
/// `scipy.stats.chi2_contingency(..., correction=False)` is the square of); the interval uses
/// the unpooled standard error (Wald).
pub fn two_proportion_z(x1: f64, n1: f64, x2: f64, n2: f64, alpha: f64) -> Option<TestResult> {
    if !(n1 > 0.0 && n2 > 0.0) {
        return None;
    }
    let (p1, p2) = (x1 / n1, x2 / n2);
    let pooled = (x1 + x2) / (n1 + n2);
    let se0 = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let diff = p2 - p1;
    let statistic = if se0 > 0.0 { diff / se0 } else { 0.0 };
    let p_value = if se0 > 0.0 {
        2.0 * normal_cdf(-statistic.abs())
    } else {
        1.0
    };
    let se = (p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2).sqrt();
    let za = z(1.0 - alpha / 2.0);
    let zb = z(POWER);
    Some(TestResult {
        test: "two_proportion_z",
        before: p1,
        after: p2,
        statistic,
        p_value,
        ci: (diff - za * se, diff + za * se),
        mde: (za + zb) * se0,
        sample_size: sample_size(za + zb, p1 * (1.0 - p1) + p2 * (1.0 - p2), diff),
        n: (n1, n2),
    })
}

/// Mean, sample variance (n − 1) and count of `xs`.
pub fn moments(xs: &[f64]) -> (f64, f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN, 0.0);
    }
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)
    } else {
        f64::NAN
    };
    (mean, var, n)
}

/// Welch's unequal-variance t-test of `mean2 − mean1` from each side's mean, sample variance
/// and count (as `scipy.stats.ttest_ind(b, a, equal_var=False)`), with the Welch–Satterthwaite
/// degrees of freedom.
pub fn welch_t(
    (m1, v1, n1): (f64, f64, f64),
    (m2, v2, n2): (f64, f64, f64),
    alpha: f64,
) -> Option<TestResult> {
    if !(n1 > 1.0 && n2 > 1.0 && v1.is_finite() && v2.is_finite()) {
        return None;
    }
    let (a, b) = (v1 / n1, v2 / n2);
    let se = (a + b).sqrt();
    let diff = m2 - m1;
    let df = (a + b) * (a + b) / (a * a / (n1 - 1.0) + b * b / (n2 - 1.0));
    let (statistic, p_value, tq) = if se > 0.0 {
        let t = diff / se;
        (t, t_two_sided(t, df), t_quantile(1.0 - alpha / 2.0, df))
    } else {
        (0.0, 1.0, 0.0)
    };
    let za = z(1.0 - alpha / 2.0);
    let zb = z(POWER);
    Some(TestResult {
        test: "welch_t",
        before: m1,
        after: m2,
        statistic,
        p_value,
        ci: (diff - tq * se, diff + tq * se),
        mde: (za + zb) * se,
        sample_size: sample_size(za + zb, v1 + v2, diff),
        n: (n1, n2),
    })
}

/// Permutation test of the difference in means `mean(after) − mean(before)`, two-sided, as
/// `scipy.stats.permutation_test(..., permutation_type='independent')`: exact over every
/// split when there are at most `resamples` of them, else `resamples` random splits from
/// `seed` (p = (hits + 1) / (resamples + 1)). The interval is a percentile bootstrap of the
/// difference from the same generator.
pub fn permutation(
    before: &[f64],
    after: &[f64],
    alpha: f64,
    resamples: usize,
    seed: u64,
) -> Option<TestResult> {
    if before.is_empty() || after.is_empty() {
        return None;
    }
    let (m1, v1, n1) = moments(before);
    let (m2, v2, n2) = moments(after);
    let observed = m2 - m1;
    let pooled: Vec<f64> = before.iter().chain(after).copied().collect();
    let total: f64 = pooled.iter().sum();
    let k = after.len();
    let n = pooled.len();
    let stat = |after_sum: f64| after_sum / k as f64 - (total - after_sum) / (n - k) as f64;
    let gamma = (observed.abs() * 1e-14).max(f64::EPSILON * 1e-3);
    let (mut less, mut greater, mut count) = (0u64, 0u64, 0u64);
    let mut tally = |s: f64| {
        if s <= observed + gamma {
            less += 1;
        }
        if s >= observed - gamma {
            greater += 1;
        }
        count += 1;
    };
    let exact = binomial(n, k).is_some_and(|c| c <= resamples as f64);
    let mut rng = SplitMix(seed);
    if exact {
        // Every choice of k of the n pooled values as the "after" side, in lexicographic order.
        let mut idx: Vec<usize> = (0..k).collect();
        loop {
            tally(stat(idx.iter().map(|&i| pooled[i]).sum()));
            let Some(i) = (0..k).rev().find(|&i| idx[i] < n - k + i) else {
                break;
            };
            idx[i] += 1;
            for j in i + 1..k {
                idx[j] = idx[j - 1] + 1;
            }
        }
    } else {
        let mut shuffled = pooled.clone();
        for _ in 0..resamples {
            // Partial Fisher–Yates: the first k are a uniform random subset.
            for i in 0..k {
                let j = i + rng.below(n - i);
                shuffled.swap(i, j);
            }
            tally(stat(shuffled[..k].iter().sum()));
        }
    }
    let adjustment = if exact { 0.0 } else { 1.0 };
    let denom = count as f64 + adjustment;
    let p_less = (less as f64 + adjustment) / denom;
    let p_greater = (greater as f64 + adjustment) / denom;
    let p_value = (2.0 * p_less.min(p_greater)).min(1.0);
    // Percentile bootstrap interval of the difference.
    let boots = resamples.clamp(1, 10_000);
    let mut diffs: Vec<f64> = (0..boots)
        .map(|_| {
            let b: f64 = (0..before.len())
                .map(|_| before[rng.below(before.len())])
                .sum::<f64>()
                / n1;
            let a: f64 = (0..after.len())
                .map(|_| after[rng.below(after.len())])
                .sum::<f64>()
                / n2;
            a - b
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    let at = |q: f64| diffs[((q * (boots - 1) as f64).round() as usize).min(boots - 1)];
    let za = z(1.0 - alpha / 2.0);
    let zb = z(POWER);
    let se = if n1 > 1.0 && n2 > 1.0 {
        (v1 / n1 + v2 / n2).sqrt()
    } else {
        f64::NAN
    };
    Some(TestResult {
        test: "permutation",
        before: m1,
        after: m2,
        statistic: observed,
        p_value,
        ci: (at(alpha / 2.0), at(1.0 - alpha / 2.0)),
        mde: (za + zb) * se,
        sample_size: sample_size(za + zb, v1 + v2, observed),
        n: (n1, n2),
    })
}

/// C(n, k) as a float, None when it overflows.
fn binomial(n: usize, k: usize) -> Option<f64> {
    let k = k.min(n - k.min(n));
    let mut c = 1.0f64;
    for i in 0..k {
        c = c * (n - i) as f64 / (i + 1) as f64;
        if !c.is_finite() {
            return None;
        }
    }
    Some(c.round())
}

/// A small, seedable generator (SplitMix64) so results repeat run to run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}

/// Two-sided p-value of Student's t with `df` degrees of freedom:
/// `P(|T| ≥ |t|) = I_{df/(df+t²)}(df/2, 1/2)`.
pub fn t_two_sided(t: f64, df: f64) -> f64 {
    if !t.is_finite() {
        return 0.0;
    }
    incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
}

/// The `p` quantile of Student's t (p > 0.5), by bisection on [`t_two_sided`].
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let target = 2.0 * (1.0 - p);
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while t_two_sided(hi, df) > target && hi < 1e8 {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_two_sided(mid, df) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The regularized incomplete beta function I_x(a, b), by its continued fraction (evaluated
/// with the modified Lentz method), using the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where
/// the fraction converges slowly.
pub fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - incomplete_beta(b, a, 1.0 - x);
    }
    let front = (a * x.ln() + b * (1.0 - x).ln() - ln_beta(a, b)).exp() / a;
    let tiny = 1e-300;
    let mut f = 1.0f64;
    let mut c = 1.0f64;
    let mut d = 0.0f64;
    for i in 0..=400 {
        let m = (i / 2) as f64;
        let numerator = if i == 0 {
            1.0
        } else if i % 2 == 0 {
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m))
        } else {
            -((a + m) * (a + b + m) * x) / ((a + 2.0 * m) * (a + 2.0 * m + 1.0))
        };
        d = 1.0 + numerator * d;
        if d.abs() < tiny {
            d = tiny;
        }
        d = 1.0 / d;
        c = 1.0 + numerator / c;
        if c.abs() < tiny {
            c = tiny;
        }
        let cd = c * d;
        f *= cd;
        if (1.0 - cd).abs() < 1e-15 {
            break;
        }
    }
    front * (f - 1.0)
}
