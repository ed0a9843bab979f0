//! What the purchase-count models (BG/NBD, Pareto/NBD) have in common.

use crate::error::{Result, ValueError};
use rayon::prelude::*;

/// Rows from which the `_many` functions run in parallel.
const PARALLEL_MIN: usize = 4_096;

/// A fitted model of repeat-purchase counts for customers observed from their first purchase
/// (time 0) to T, with x repeat purchases, the last at tₓ.
///
/// The `_many` methods evaluate slices of customers (in parallel for long slices); they fail
/// on the first invalid row, naming it.
///
/// ```
/// use touchstone_value::{BgNbdParams, PurchaseModel};
/// let m = BgNbdParams::new(0.243, 4.414, 0.793, 2.426).unwrap();
/// let p = m.p_alive_many(&[0.0, 2.0], &[0.0, 30.43], &[38.86, 38.86]).unwrap();
/// assert_eq!(p[0], 1.0);
/// assert!(p[1] > 0.0 && p[1] < 1.0);
/// ```
pub trait PurchaseModel: Sync {
    /// Model name for messages.
    fn name(&self) -> &'static str;

    /// Probability that the customer is still active at T.
    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> Result<f64>;

    /// Expected purchases in (T, T + horizon] given the customer's history.
    fn conditional_expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64)
    -> Result<f64>;

    /// Expected purchases in (T, T + horizon] for a customer known to be alive at T with x
    /// purchases: both models factor the conditional expectation as
    /// P(alive | x, tₓ, T) × this, which does not depend on tₓ (used to share work across
    /// customers in CLV).
    fn expected_purchases_if_alive(&self, horizon: f64, x: f64, t: f64) -> Result<f64>;

    /// Expected purchases in (0, t] for a customer drawn from the population, E\[X(t)\].
    fn expected_purchases(&self, t: f64) -> Result<f64>;

    /// Probability of exactly `n` purchases in (0, t] for a customer drawn from the population.
    fn prob_purchases(&self, t: f64, n: u32) -> Result<f64>;

    /// [`PurchaseModel::p_alive`] over slices; the first failing row fails the call.
    fn p_alive_many(&self, x: &[f64], t_x: &[f64], t: &[f64]) -> Result<Vec<f64>> {
        self.p_alive_each(x, t_x, t)?.into_iter().collect()
    }

    /// [`PurchaseModel::p_alive`] over slices, each row's result on its own: a row the model
    /// cannot score (an invalid row, a series that does not converge at extreme parameters)
    /// is an error for that row only. Errors as a whole only when the lengths differ.
    fn p_alive_each(&self, x: &[f64], t_x: &[f64], t: &[f64]) -> Result<Vec<Result<f64>>> {
        each_row(x, t_x, t, |x, tx, t| self.p_alive(x, tx, t))
    }

    /// [`PurchaseModel::conditional_expected_purchases`] over slices; the first failing row
    /// fails the call.
    fn conditional_expected_purchases_many(
        &self,
        horizon: f64,
        x: &[f64],
        t_x: &[f64],
        t: &[f64],
    ) -> Result<Vec<f64>> {
        self.conditional_expected_purchases_each(horizon, x, t_x, t)?
            .into_iter()
            .collect()
    }

    /// [`PurchaseModel::conditional_expected_purchases`] over slices, each row's result on its
    /// own (as [`PurchaseModel::p_alive_each`]). Errors as a whole when the lengths differ or
    /// the horizon is invalid.
    fn conditional_expected_purchases_each(
        &self,
        horizon: f64,
        x: &[f64],
        t_x: &[f64],
        t: &[f64],
    ) -> Result<Vec<Result<f64>>> {
        check_horizon(horizon)?;
        each_row(x, t_x, t, |x, tx, t| {
            self.conditional_expected_purchases(horizon, x, tx, t)
        })
    }
}

/// Distinct (x, T) pairs in first-seen order, and each row's index into them.
pub(crate) fn distinct_pairs(x: &[f64], t: &[f64]) -> (Vec<(f64, f64)>, Vec<usize>) {
    use std::collections::HashMap;
    use std::hash::BuildHasherDefault;
    let mut index: HashMap<(u64, u64), usize, BuildHasherDefault<crate::rfm::KeyHasher>> =
        HashMap::default();
    let mut keys = Vec::new();
    let key_of = x
        .iter()
        .zip(t)
        .map(|(&xi, &ti)| {
            *index
                .entry(((xi + 0.0).to_bits(), (ti + 0.0).to_bits()))
                .or_insert_with(|| {
                    keys.push((xi, ti));
                    keys.len() - 1
                })
        })
        .collect();
    (keys, key_of)
}

/// Applies `f` to every row, in parallel for many rows: each row's result (see
/// [`each_indexed`]); errors as a whole only when the lengths differ.
pub(crate) fn each_row<F>(x: &[f64], t_x: &[f64], t: &[f64], f: F) -> Result<Vec<Result<f64>>>
where
    F: Fn(f64, f64, f64) -> Result<f64> + Sync,
{
    crate::error::same_len("recency", x.len(), t_x.len())?;
    crate::error::same_len("T", x.len(), t.len())?;
    Ok(each_indexed(x.len(), |i| f(x[i], t_x[i], t[i])))
}

/// Applies `f` to the row indices 0..n, in parallel for many rows; an invalid-input error
/// names the row it came from.
pub(crate) fn each_indexed<F>(n: usize, f: F) -> Vec<Result<f64>>
where
    F: Fn(usize) -> Result<f64> + Sync,
{
    let one = |i: usize| {
        f(i).map_err(|e| match e {
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
    if n >= PARALLEL_MIN {
        (0..n).into_par_iter().map(one).collect()
    } else {
        (0..n).map(one).collect()
    }
}

/// A prediction horizon must be finite and ≥ 0.
pub(crate) fn check_horizon(horizon: f64) -> Result<f64> {
    if horizon.is_finite() && horizon >= 0.0 {
        Ok(horizon)
    } else {
        Err(ValueError::InvalidParameter {
            name: "horizon",
            value: horizon,
            reason: "must be finite and >= 0",
        })
    }
}
