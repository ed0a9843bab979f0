//! Buy-till-you-die purchase behaviour: BG/NBD for the purchase process and Gamma-Gamma for
//! spend (Fader, Hardie & Lee 2005; Fader, Hardie & Lee 2005b).
//!
//! Per customer: λ ~ Gamma(shape r, rate α) purchases per day, p ~ Beta(a, b) dropout
//! probability, ν ~ Gamma(shape q, rate γ) spend rate. The first purchase (acquisition) is
//! uniform over the first `acquisition_fraction` of the window; repeat purchases follow a Poisson
//! process with rate λ; after each *repeat* purchase the customer drops out, silently, with
//! probability p (BG/NBD: a customer with no repeat purchase is alive). Each amount is
//! Gamma(shape p, rate ν), rounded to cents.
//!
//! Every customer's draws come from an RNG derived from (seed, customer index) alone, so
//! [`simulate_purchases`] returns exactly the purchases that [`crate::generate`] writes to
//! `salesforce/Order.csv` for the same seed, customer count and days.

use rand::Rng;
use rand_distr::{Beta, Distribution, Gamma};

use crate::SynthError;
use crate::rng::{RngExt, SimRng, Stream, rng_for};

/// Population parameters of the purchase and spend models. Rates are per **day**.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BtydParams {
    /// BG/NBD: shape of the Gamma distribution of purchase rates λ.
    pub r: f64,
    /// BG/NBD: rate of the Gamma distribution of purchase rates λ (per day).
    pub alpha: f64,
    /// BG/NBD: first shape of the Beta distribution of dropout probabilities p.
    pub a: f64,
    /// BG/NBD: second shape of the Beta distribution of dropout probabilities p.
    pub b: f64,
    /// Gamma-Gamma: shape of each transaction amount.
    pub p: f64,
    /// Gamma-Gamma: shape of the Gamma distribution of the spend rate ν.
    pub q: f64,
    /// Gamma-Gamma: rate of the Gamma distribution of the spend rate ν.
    pub gamma: f64,
    /// Share of the window (from its start) over which first purchases are spread uniformly.
    pub acquisition_fraction: f64,
}

impl Default for BtydParams {
    /// The CDNOW estimates (BG/NBD r = 0.243, α = 4.414 per week, a = 0.793, b = 2.426;
    /// Gamma-Gamma p = 6.25, q = 3.74, γ = 15.44), with α converted to days (× 7).
    fn default() -> Self {
        BtydParams {
            r: 0.243,
            alpha: 4.414 * 7.0,
            a: 0.793,
            b: 2.426,
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
            acquisition_fraction: 1.0 / 3.0,
        }
    }
}

impl BtydParams {
    /// The parameters as `(model, parameter, value)` rows, as in `truth/parameters.parquet`.
    pub fn rows(&self) -> Vec<(&'static str, &'static str, f64)> {
        vec![
            ("bgnbd", "r", self.r),
            ("bgnbd", "alpha", self.alpha),
            ("bgnbd", "a", self.a),
            ("bgnbd", "b", self.b),
            ("gamma_gamma", "p", self.p),
            ("gamma_gamma", "q", self.q),
            ("gamma_gamma", "gamma", self.gamma),
        ]
    }

    fn check(&self) -> Result<(), SynthError> {
        for (name, value) in [
            ("r", self.r),
            ("alpha", self.alpha),
            ("a", self.a),
            ("b", self.b),
            ("p", self.p),
            ("q", self.q),
            ("gamma", self.gamma),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(SynthError::InvalidParameter {
                    name,
                    value,
                    reason: "must be a finite number greater than 0".into(),
                });
            }
        }
        let f = self.acquisition_fraction;
        if !(f.is_finite() && f > 0.0 && f <= 1.0) {
            return Err(SynthError::InvalidParameter {
                name: "acquisition_fraction",
                value: f,
                reason: "must be in (0, 1]".into(),
            });
        }
        Ok(())
    }
}

/// One purchase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Purchase {
    /// Time since the start of the window, in days; always a whole number of seconds
    /// (`seconds / 86400`), the precision of Salesforce `CreatedDate`.
    pub day: f64,
    /// Amount in currency units, rounded to cents (as written to `TotalAmount`).
    pub amount: f64,
}

/// One simulated customer's latent parameters and purchases in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedCustomer {
    /// Customer index, 0-based (`customer_id` is `C` followed by index + 1, 9 digits).
    pub index: u64,
    /// λ, purchases per day while alive.
    pub purchase_rate: f64,
    /// p, probability of dropping out after each repeat purchase.
    pub dropout_prob: f64,
    /// ν, the rate of this customer's Gamma spend distribution (mean spend = p / ν).
    pub spend_scale: f64,
    /// Purchases in time order; the first is the acquisition, the rest are repeat purchases.
    pub purchases: Vec<Purchase>,
    /// When the customer dropped out (the time of the purchase after which they did), if they
    /// did inside the window.
    pub dropout_day: Option<f64>,
}

impl SimulatedCustomer {
    /// Day of the first purchase.
    pub fn first_purchase_day(&self) -> f64 {
        self.purchases.first().map(|p| p.day).unwrap_or(0.0)
    }
    /// Number of repeat purchases (BG/NBD `x`).
    pub fn repeat_purchases(&self) -> usize {
        self.purchases.len().saturating_sub(1)
    }
    /// Day of the last purchase (BG/NBD `t_x` plus the first-purchase day).
    pub fn last_purchase_day(&self) -> f64 {
        self.purchases.last().map(|p| p.day).unwrap_or(0.0)
    }
}

/// Distributions built once from validated parameters.
#[derive(Debug, Clone)]
pub(crate) struct BtydModel {
    params: BtydParams,
    lambda: Gamma<f64>,
    dropout: Beta<f64>,
    nu: Gamma<f64>,
}

impl BtydModel {
    pub(crate) fn new(params: &BtydParams) -> Result<Self, SynthError> {
        params.check()?;
        let bad = |name: &'static str, value: f64, e: String| SynthError::InvalidParameter {
            name,
            value,
            reason: e,
        };
        Ok(BtydModel {
            params: *params,
            lambda: Gamma::new(params.r, 1.0 / params.alpha)
                .map_err(|e| bad("r", params.r, e.to_string()))?,
            dropout: Beta::new(params.a, params.b)
                .map_err(|e| bad("a", params.a, e.to_string()))?,
            nu: Gamma::new(params.q, 1.0 / params.gamma)
                .map_err(|e| bad("q", params.q, e.to_string()))?,
        })
    }

    /// Simulates customer `index` over `days` days with its own RNG stream.
    pub(crate) fn customer(&self, seed: u64, index: u64, days: u32) -> SimulatedCustomer {
        let mut rng: SimRng = rng_for(seed, Stream::Btyd, index);
        let window_secs = i64::from(days) * 86_400;
        let lambda = self.lambda.sample(&mut rng);
        let p = self.dropout.sample(&mut rng);
        let nu = self.nu.sample(&mut rng).max(1e-9);
        let amount = Gamma::new(self.params.p, 1.0 / nu).ok();
        let draw_amount = |rng: &mut SimRng| -> f64 {
            let raw = amount.as_ref().map(|g| g.sample(rng)).unwrap_or(1.0);
            ((raw * 100.0).round() / 100.0).max(0.01)
        };
        let acq_window = (window_secs as f64 * self.params.acquisition_fraction).max(1.0);
        let first_secs = (rng.random::<f64>() * acq_window).floor() as i64;
        let mut purchases = vec![Purchase {
            day: first_secs as f64 / 86_400.0,
            amount: draw_amount(&mut rng),
        }];
        let mut dropout_day = None;
        let mut t = first_secs as f64 / 86_400.0;
        let mut last_secs = first_secs;
        if lambda > 0.0 && lambda.is_finite() {
            loop {
                t += rng.exp_mean(1.0 / lambda);
                let secs = (t * 86_400.0).floor() as i64;
                if !t.is_finite() || secs >= window_secs {
                    break;
                }
                // Two purchases in the same second are one basket.
                if secs <= last_secs {
                    continue;
                }
                last_secs = secs;
                let day = secs as f64 / 86_400.0;
                purchases.push(Purchase {
                    day,
                    amount: draw_amount(&mut rng),
                });
                if rng.chance(p) {
                    dropout_day = Some(day);
                    break;
                }
            }
        }
        SimulatedCustomer {
            index,
            purchase_rate: lambda,
            dropout_prob: p,
            spend_scale: nu,
            purchases,
            dropout_day,
        }
    }
}

/// Simulates `customers` customers over `days` days, lazily, one customer at a time.
///
/// The same `(params, seed)` give the same customers as [`crate::generate`] with default
/// parameters, so a test can fit BG/NBD and Gamma-Gamma on the output and compare with the
/// truth.
///
/// ```
/// use touchstone_synth::{BtydParams, simulate_purchases};
/// let customers: Vec<_> = simulate_purchases(&BtydParams::default(), 1_000, 90, 42)?.collect();
/// assert_eq!(customers.len(), 1_000);
/// assert!(customers.iter().all(|c| !c.purchases.is_empty()));
/// # Ok::<(), touchstone_synth::SynthError>(())
/// ```
pub fn simulate_purchases(
    params: &BtydParams,
    customers: u64,
    days: u32,
    seed: u64,
) -> Result<impl Iterator<Item = SimulatedCustomer> + Send, SynthError> {
    if days == 0 {
        return Err(SynthError::InvalidOption {
            option: "days",
            reason: "must be at least 1".into(),
        });
    }
    let model = BtydModel::new(params)?;
    Ok((0..customers).map(move |i| model.customer(seed, i, days)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_moments_match_parameters() {
        let params = BtydParams::default();
        let cs: Vec<_> = simulate_purchases(&params, 40_000, 90, 7)
            .map(|it| it.collect())
            .unwrap_or_default();
        assert_eq!(cs.len(), 40_000);
        let n = cs.len() as f64;
        let mean_lambda = cs.iter().map(|c| c.purchase_rate).sum::<f64>() / n;
        let want = params.r / params.alpha;
        assert!(
            (mean_lambda - want).abs() / want < 0.06,
            "{mean_lambda} vs {want}"
        );
        let mean_p = cs.iter().map(|c| c.dropout_prob).sum::<f64>() / n;
        let want_p = params.a / (params.a + params.b);
        assert!((mean_p - want_p).abs() < 0.01, "{mean_p} vs {want_p}");
        // Mean spend: E[p/ν] = p γ / (q − 1).
        let amounts: Vec<f64> = cs
            .iter()
            .flat_map(|c| c.purchases.iter().map(|p| p.amount))
            .collect();
        let mean_amount = amounts.iter().sum::<f64>() / amounts.len() as f64;
        let want_amount = params.p * params.gamma / (params.q - 1.0);
        assert!(
            (mean_amount - want_amount).abs() / want_amount < 0.06,
            "{mean_amount} vs {want_amount}"
        );
        // First purchases in the first third; dropouts only after a repeat purchase.
        for c in &cs {
            assert!(c.first_purchase_day() < 30.0 + 1e-9);
            if let Some(d) = c.dropout_day {
                assert!(c.repeat_purchases() >= 1);
                assert_eq!(d, c.last_purchase_day());
            }
            assert!(c.purchases.windows(2).all(|w| w[0].day < w[1].day));
        }
    }

    #[test]
    fn same_seed_same_customers_and_bad_params_rejected() {
        let p = BtydParams::default();
        let a: Vec<_> = simulate_purchases(&p, 50, 30, 1)
            .map(|it| it.collect())
            .unwrap_or_default();
        let b: Vec<_> = simulate_purchases(&p, 50, 30, 1)
            .map(|it| it.collect())
            .unwrap_or_default();
        let c: Vec<_> = simulate_purchases(&p, 50, 30, 2)
            .map(|it| it.collect())
            .unwrap_or_default();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let bad = BtydParams { r: -1.0, ..p };
        assert!(matches!(
            simulate_purchases(&bad, 1, 1, 1),
            Err(SynthError::InvalidParameter { name: "r", .. })
        ));
    }
}
