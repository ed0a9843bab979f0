//! Customer lifetime value, value segments, customer equity, and model-fit tables.
//!
//! CLV follows the `lifetimes` convention (`lifetimes.utils._customer_lifetime_value`, used by
//! `GammaGammaFitter.customer_lifetime_value`, lifetimes 0.11.3):
//!
//! CLV = Σ_{i=1..months} (E\[Y(i·f)\] − E\[Y((i−1)·f)\]) · spend · margin / (1 + d)^i,
//!
//! with E\[Y(·)\] the conditional expected purchases of the customer, f the model time units per
//! month ([`TimeUnit::units_per_month`]: 30 for days, 4.345 for weeks), spend the Gamma-Gamma
//! conditional expected average spend, and d the monthly discount rate. (`lifetimes` has no
//! margin factor: its spend is taken as profit. Here margin = 1 reproduces it.)

use crate::error::{Result, ValueError};
use crate::gamma_gamma::GammaGammaParams;
use crate::model::PurchaseModel;
use crate::rfm::check_triple;
use crate::summary::{Summary, TimeUnit};
use rayon::prelude::*;
use std::collections::HashMap;

/// CLV horizon, discounting and margin.
///
/// ```
/// use touchstone_value::{ClvConfig, TimeUnit};
/// let c = ClvConfig::lifetimes_default(TimeUnit::Week);
/// assert_eq!((c.months, c.monthly_discount_rate, c.time_units_per_month, c.margin), (12, 0.01, 4.345, 1.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClvConfig {
    /// Horizon in months.
    pub months: u32,
    /// Discount rate per month (0.01 = 1 %).
    pub monthly_discount_rate: f64,
    /// Model time units per month.
    pub time_units_per_month: f64,
    /// Profit margin applied to spend (1.0 = spend is already profit).
    pub margin: f64,
}

impl ClvConfig {
    /// The `lifetimes` defaults: 12 months, 1 % monthly discount, margin 1.
    pub fn lifetimes_default(unit: TimeUnit) -> Self {
        ClvConfig {
            months: 12,
            monthly_discount_rate: 0.01,
            time_units_per_month: unit.units_per_month(),
            margin: 1.0,
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.months == 0 {
            return Err(ValueError::InvalidParameter {
                name: "months",
                value: 0.0,
                reason: "must be at least 1",
            });
        }
        if !(self.monthly_discount_rate.is_finite() && self.monthly_discount_rate > -1.0) {
            return Err(ValueError::InvalidParameter {
                name: "monthly_discount_rate",
                value: self.monthly_discount_rate,
                reason: "must be finite and > -1",
            });
        }
        if !(self.time_units_per_month.is_finite() && self.time_units_per_month > 0.0) {
            return Err(ValueError::InvalidParameter {
                name: "time_units_per_month",
                value: self.time_units_per_month,
                reason: "must be finite and > 0",
            });
        }
        if !self.margin.is_finite() {
            return Err(ValueError::InvalidParameter {
                name: "margin",
                value: self.margin,
                reason: "must be finite",
            });
        }
        Ok(())
    }
}

/// Discounted expected purchases over the horizon for a customer alive at T with x purchases:
/// Σᵢ (U(i f) − U((i−1) f)) / (1+d)^i with U the alive-conditional expectation.
pub(crate) fn discounted_purchases_if_alive<M: PurchaseModel + ?Sized>(
    model: &M,
    x: f64,
    t: f64,
    c: &ClvConfig,
) -> Result<f64> {
    let mut prev = 0.0;
    let mut total = 0.0;
    let mut discount = 1.0;
    for i in 1..=c.months {
        let u = model.expected_purchases_if_alive(f64::from(i) * c.time_units_per_month, x, t)?;
        discount /= 1.0 + c.monthly_discount_rate;
        total += (u - prev) * discount;
        prev = u;
    }
    Ok(total)
}

/// Per-customer CLV (module docs for the formula), computed in parallel. The purchase curve
/// is shared by customers with equal (x, T), so the cost grows with the number of distinct
/// (x, T) pairs rather than customers.
///
/// Errors: lengths differ, an invalid configuration, or else the first customer (in row
/// order) that cannot be valued: an invalid (x, tₓ, T) row or monetary value, a spend model
/// whose expectation is infinite (p x + q ≤ 1), a model that cannot score the row.
///
/// ```
/// use touchstone_value::{customer_lifetime_value, BgNbdParams, ClvConfig, GammaGammaParams, TimeUnit};
/// let bg = BgNbdParams::new(0.243, 4.414, 0.793, 2.426).unwrap();
/// let gg = GammaGammaParams::new(6.25, 3.74, 15.44).unwrap();
/// let clv = customer_lifetime_value(&bg, &gg, &[2.0, 0.0], &[30.43, 0.0], &[38.86, 38.86],
///                                   &[22.35, 0.0], &ClvConfig::lifetimes_default(TimeUnit::Week)).unwrap();
/// assert!(clv[0] > clv[1] && clv[1] > 0.0);
/// ```
pub fn customer_lifetime_value<M: PurchaseModel + ?Sized>(
    model: &M,
    spend: &GammaGammaParams,
    frequency: &[f64],
    recency: &[f64],
    t: &[f64],
    monetary_value: &[f64],
    config: &ClvConfig,
) -> Result<Vec<f64>> {
    customer_lifetime_value_each(model, spend, frequency, recency, t, monetary_value, config)?
        .into_iter()
        .collect()
}

/// [`customer_lifetime_value`] with each customer's result on its own: a customer whose
/// row is invalid or whose value the models cannot compute is an error for that customer
/// only. Errors as a whole when the lengths differ or the configuration is invalid.
pub fn customer_lifetime_value_each<M: PurchaseModel + ?Sized>(
    model: &M,
    spend: &GammaGammaParams,
    frequency: &[f64],
    recency: &[f64],
    t: &[f64],
    monetary_value: &[f64],
    config: &ClvConfig,
) -> Result<Vec<Result<f64>>> {
    config.check()?;
    let n = frequency.len();
    crate::error::same_len("recency", n, recency.len())?;
    crate::error::same_len("T", n, t.len())?;
    crate::error::same_len("monetary_value", n, monetary_value.len())?;
    let (keys, key_of) = crate::model::distinct_pairs(frequency, t);
    let curves: Vec<Result<f64>> = keys
        .par_iter()
        .map(|&(x, tt)| discounted_purchases_if_alive(model, x, tt, config))
        .collect();
    let spends = spend.conditional_expected_spend_each(frequency, monetary_value)?;
    let alive = model.p_alive_each(frequency, recency, t)?;
    Ok((0..n)
        .into_par_iter()
        .map(|i| {
            check_triple(i, frequency[i], recency[i], t[i])?;
            let alive = alive[i].clone()?;
            let curve = curves[key_of[i]].clone()?;
            let spend = spends[i].clone()?;
            Ok(alive * curve * spend * config.margin)
        })
        .collect())
}

/// Value deciles: 1 for the top 10 % of customers by CLV, …, 10 for the bottom 10 %. Ranks
/// are by CLV descending, ties in input order; decile = ⌊10·rank/n⌋ + 1 (rank from 0).
///
/// ```
/// use touchstone_value::clv_deciles;
/// let d = clv_deciles(&[5.0, 50.0, 1.0, 20.0, 3.0, 8.0, 13.0, 2.0, 30.0, 0.5]).unwrap();
/// assert_eq!(d, vec![6, 1, 9, 3, 7, 5, 4, 8, 2, 10]);
/// ```
pub fn clv_deciles(clv: &[f64]) -> Result<Vec<u8>> {
    if clv.is_empty() {
        return Err(ValueError::EmptyInput { what: "clv" });
    }
    if let Some(i) = clv.iter().position(|v| !v.is_finite()) {
        return Err(ValueError::InvalidInput {
            field: "clv",
            index: i,
            value: clv[i],
            reason: "must be finite",
        });
    }
    let mut order: Vec<usize> = (0..clv.len()).collect();
    order.sort_by(|&a, &b| clv[b].total_cmp(&clv[a]).then(a.cmp(&b)));
    let n = clv.len();
    let mut out = vec![0u8; n];
    for (rank, &i) in order.iter().enumerate() {
        out[i] = (rank * 10 / n) as u8 + 1;
    }
    Ok(out)
}

/// Total customer equity: the sum of the customers' CLVs.
///
/// ```
/// use touchstone_value::customer_equity;
/// assert_eq!(customer_equity(&[1.5, 2.5]), 4.0);
/// ```
pub fn customer_equity(clv: &[f64]) -> f64 {
    clv.iter().sum()
}

/// One row of the calibration-vs-holdout table.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationHoldoutRow {
    /// Calibration frequency; the last row holds every customer with frequency ≥ this.
    pub frequency: u32,
    /// Customers in the row.
    pub customers: usize,
    /// Mean actual holdout transactions.
    pub actual: f64,
    /// Mean model-predicted holdout transactions, E\[Y(holdout duration) | x, tₓ, T\].
    pub predicted: f64,
}

/// Calibration-vs-holdout table (the `lifetimes` `plot_calibration_purchases_vs_holdout_purchases`
/// data; FHL 2005 Figure 3): customers grouped by calibration frequency 0..=`max_frequency`
/// (the last group open-ended), mean actual vs predicted holdout transactions.
///
/// Errors: the summary has no holdout period, or invalid rows.
pub fn calibration_holdout_table<M: PurchaseModel + ?Sized>(
    model: &M,
    summary: &Summary,
    max_frequency: u32,
) -> Result<Vec<CalibrationHoldoutRow>> {
    let holdout = summary
        .holdout
        .as_ref()
        .ok_or(ValueError::InvalidParameter {
            name: "holdout_end",
            value: f64::NAN,
            reason: "the summary has no holdout period",
        })?;
    let predicted = model.conditional_expected_purchases_many(
        holdout.duration,
        &summary.frequency,
        &summary.recency,
        &summary.t,
    )?;
    let groups = max_frequency as usize + 1;
    let mut rows: Vec<CalibrationHoldoutRow> = (0..groups)
        .map(|f| CalibrationHoldoutRow {
            frequency: f as u32,
            customers: 0,
            actual: 0.0,
            predicted: 0.0,
        })
        .collect();
    for ((&x, &actual), &pred) in summary
        .frequency
        .iter()
        .zip(&holdout.frequency)
        .zip(&predicted)
    {
        let g = (x as usize).min(groups - 1);
        rows[g].customers += 1;
        rows[g].actual += actual;
        rows[g].predicted += pred;
    }
    for r in &mut rows {
        if r.customers > 0 {
            r.actual /= r.customers as f64;
            r.predicted /= r.customers as f64;
        }
    }
    Ok(rows)
}

/// Expected cumulative repeat transactions of a cohort at each of `times`: Σ over customers of
/// E\[X(τ − bᵢ)\] for those born (first purchase) at bᵢ ≤ τ, all in model time units (FHL 2005
/// Figure 2, the "tracking" curve). Customers sharing a birth time share the work.
///
/// ```
/// use touchstone_value::{expected_cumulative_transactions, BgNbdParams};
/// let m = BgNbdParams::new(0.243, 4.414, 0.793, 2.426).unwrap();
/// let c = expected_cumulative_transactions(&m, &[0.0, 0.0, 1.0], &[0.0, 10.0, 20.0]).unwrap();
/// assert_eq!(c[0], 0.0);
/// assert!(c[2] > c[1]);
/// ```
pub fn expected_cumulative_transactions<M: PurchaseModel + ?Sized>(
    model: &M,
    birth: &[f64],
    times: &[f64],
) -> Result<Vec<f64>> {
    let mut counts: HashMap<u64, (f64, usize)> = HashMap::new();
    for (i, &b) in birth.iter().enumerate() {
        if !b.is_finite() {
            return Err(ValueError::InvalidInput {
                field: "birth",
                index: i,
                value: b,
                reason: "must be finite",
            });
        }
        counts.entry((b + 0.0).to_bits()).or_insert((b, 0)).1 += 1;
    }
    let births: Vec<(f64, usize)> = counts.into_values().collect();
    times
        .par_iter()
        .map(|&tau| {
            let mut total = 0.0;
            for &(b, n) in &births {
                if tau > b {
                    total += n as f64 * model.expected_purchases(tau - b)?;
                }
            }
            Ok(total)
        })
        .collect()
}

#[cfg(test)]
// Reference values are kept exactly as printed by their source (mpmath, R, papers).
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use crate::BgNbdParams;
    use crate::summary::tests::cdnow_summary;

    /// Straight transcription of the lifetimes loop, for comparison.
    fn clv_reference(
        m: &BgNbdParams,
        gg: &GammaGammaParams,
        x: f64,
        tx: f64,
        t: f64,
        mv: f64,
        c: &ClvConfig,
    ) -> f64 {
        let spend = gg.conditional_expected_spend(x, mv).unwrap();
        let mut total = 0.0;
        for i in 1..=c.months {
            let hi = f64::from(i) * c.time_units_per_month;
            let lo = hi - c.time_units_per_month;
            let e = m.conditional_expected_purchases(hi, x, tx, t).unwrap()
                - m.conditional_expected_purchases(lo, x, tx, t).unwrap();
            total += spend * e / (1.0 + c.monthly_discount_rate).powf(hi / c.time_units_per_month);
        }
        total * c.margin
    }

    #[test]
    fn clv_matches_the_lifetimes_loop() {
        let s = cdnow_summary();
        let bg = BgNbdParams::new(0.243, 4.414, 0.793, 2.426).unwrap();
        let gg = GammaGammaParams::new(6.25, 3.74, 15.44).unwrap();
        let cfg = ClvConfig {
            margin: 0.3,
            ..ClvConfig::lifetimes_default(TimeUnit::Week)
        };
        let clv = customer_lifetime_value(
            &bg,
            &gg,
            &s.frequency,
            &s.recency,
            &s.t,
            &s.monetary_value,
            &cfg,
        )
        .unwrap();
        assert_eq!(clv.len(), 2357);
        for i in (0..s.len()).step_by(97) {
            let want = clv_reference(
                &bg,
                &gg,
                s.frequency[i],
                s.recency[i],
                s.t[i],
                s.monetary_value[i],
                &cfg,
            );
            assert!(
                (clv[i] - want).abs() < 1e-10 * want.abs().max(1.0),
                "{i}: {} vs {want}",
                clv[i]
            );
        }
        let equity = customer_equity(&clv);
        assert!((equity - clv.iter().sum::<f64>()).abs() < 1e-9);
        let deciles = clv_deciles(&clv).unwrap();
        let top = deciles.iter().filter(|&&d| d == 1).count();
        assert_eq!(top, 236); // ⌈2357/10⌉: ranks 0..=235 map to decile 1
        let min_top = (0..clv.len())
            .filter(|&i| deciles[i] == 1)
            .map(|i| clv[i])
            .fold(f64::MAX, f64::min);
        let max_rest = (0..clv.len())
            .filter(|&i| deciles[i] != 1)
            .map(|i| clv[i])
            .fold(f64::MIN, f64::max);
        assert!(min_top >= max_rest);
    }

    #[test]
    fn calibration_holdout_table_on_cdnow() {
        let s = cdnow_summary();
        let bg = BgNbdParams::new(0.243, 4.414, 0.793, 2.426).unwrap();
        let table = calibration_holdout_table(&bg, &s, 7).unwrap();
        assert_eq!(table.len(), 8);
        assert_eq!(table.iter().map(|r| r.customers).sum::<usize>(), 2357);
        assert_eq!(table[0].customers, 1411);
        // FHL (2005) Figure 3: the model tracks the holdout means closely for x = 0..7+.
        for r in &table {
            assert!((r.predicted - r.actual).abs() < 0.6, "{r:?}");
        }
        // Aggregate: 1882 actual holdout repeat transaction days; the model's conditional
        // expectations add up to 1654 (the BG/NBD under-forecasts CDNOW's weeks 40–78 a little,
        // as FHL 2005 Figure 2 shows for the cumulative curve).
        let total_pred: f64 = table.iter().map(|r| r.predicted * r.customers as f64).sum();
        let total_act: f64 = table.iter().map(|r| r.actual * r.customers as f64).sum();
        assert!((total_act - 1882.0).abs() < 1e-9);
        assert!(
            (total_pred / total_act - 1.0).abs() < 0.15,
            "{total_pred} {total_act}"
        );
    }

    #[test]
    fn cumulative_tracking_curve() {
        let bg = BgNbdParams::new(0.243, 4.414, 0.793, 2.426).unwrap();
        let c = expected_cumulative_transactions(&bg, &[0.0, 2.0], &[0.0, 1.0, 5.0]).unwrap();
        assert_eq!(c[0], 0.0);
        assert!((c[1] - bg.expected_purchases(1.0).unwrap()).abs() < 1e-15);
        let want = bg.expected_purchases(5.0).unwrap() + bg.expected_purchases(3.0).unwrap();
        assert!((c[2] - want).abs() < 1e-14);
    }

    #[test]
    fn each_row_fails_on_its_own() {
        let bg = BgNbdParams::new(0.243, 4.414, 0.793, 2.426).unwrap();
        let gg = GammaGammaParams::new(6.25, 3.74, 15.44).unwrap();
        let cfg = ClvConfig::lifetimes_default(TimeUnit::Week);
        // Row 1 has tₓ > T; row 2 a negative spend.
        let (x, tx, t, m) = (
            [2.0, 1.0, 3.0, 0.0],
            [30.0, 50.0, 20.0, 0.0],
            [38.0; 4],
            [22.0, 10.0, -1.0, 0.0],
        );
        let each = customer_lifetime_value_each(&bg, &gg, &x, &tx, &t, &m, &cfg).unwrap();
        assert!(each[0].is_ok() && each[3].is_ok(), "{each:?}");
        assert!(
            matches!(
                each[1],
                Err(ValueError::InvalidInput {
                    index: 1,
                    field: "recency",
                    ..
                })
            ),
            "{each:?}"
        );
        assert!(
            matches!(
                each[2],
                Err(ValueError::InvalidInput {
                    index: 2,
                    field: "monetary_value",
                    ..
                })
            ),
            "{each:?}"
        );
        // The bulk call reports the first failing row; the good rows equal their bulk values.
        assert_eq!(
            customer_lifetime_value(&bg, &gg, &x, &tx, &t, &m, &cfg).unwrap_err(),
            each[1].clone().unwrap_err()
        );
        let good = customer_lifetime_value(
            &bg,
            &gg,
            &[2.0, 0.0],
            &[30.0, 0.0],
            &[38.0; 2],
            &[22.0, 0.0],
            &cfg,
        )
        .unwrap();
        assert_eq!(
            good,
            vec![each[0].clone().unwrap(), each[3].clone().unwrap()]
        );
        let alive = bg.p_alive_each(&x, &tx, &t).unwrap();
        assert!(alive[0].is_ok() && alive[1].is_err() && alive[2].is_ok());
        assert!(bg.p_alive_each(&x, &tx, &t[..2]).is_err());
    }

    #[test]
    fn bad_configuration_is_an_error() {
        let bg = BgNbdParams::new(0.243, 4.414, 0.793, 2.426).unwrap();
        let gg = GammaGammaParams::new(6.25, 3.74, 15.44).unwrap();
        let cfg = ClvConfig {
            months: 0,
            ..ClvConfig::lifetimes_default(TimeUnit::Day)
        };
        assert!(customer_lifetime_value(&bg, &gg, &[1.0], &[1.0], &[2.0], &[3.0], &cfg).is_err());
        assert!(clv_deciles(&[f64::NAN]).is_err());
    }
}
