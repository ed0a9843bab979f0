//! Validated, compressed (frequency, recency, T) data for the BG/NBD and Pareto/NBD fits.
//!
//! Customers with identical (x, tₓ, T) contribute identical likelihood terms, so the data are
//! stored as distinct triples with a weight (the number of customers sharing it). The
//! likelihood is Σ wᵢ ℓ(xᵢ, tₓᵢ, Tᵢ): exact, not an approximation.

use crate::error::{Result, ValueError};
use crate::summary::Summary;
use rayon::prelude::*;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A fast, deterministic hasher for the (u64, u64, u64) row keys (multiply–rotate mixing;
/// keys are not attacker-controlled here).
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        let h = self.0;
        (h ^ (h >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (h >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(23) ^ v).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

/// A distinct (x, T, tₓ) key (as bits) with its weight.
type Row = ((u64, u64, u64), f64);
type KeyMap = HashMap<(u64, u64, u64), usize, BuildHasherDefault<KeyHasher>>;

/// Rows from which deduplication runs in parallel chunks.
const PARALLEL_DEDUP_MIN: usize = 200_000;
const DEDUP_CHUNK: usize = 131_072;

/// Distinct keys of rows `range` with summed weights, in first-seen order.
fn dedup<K: Fn(usize) -> (u64, u64, u64)>(
    range: std::ops::Range<usize>,
    key: &K,
    weights: Option<&[f64]>,
) -> Vec<Row> {
    let mut slot: KeyMap =
        HashMap::with_capacity_and_hasher(range.len().min(1 << 14), BuildHasherDefault::default());
    let mut distinct: Vec<Row> = Vec::new();
    for i in range {
        let w = weights.map_or(1.0, |w| w[i]);
        if w <= 0.0 {
            continue;
        }
        let k = key(i);
        match slot.entry(k) {
            std::collections::hash_map::Entry::Occupied(e) => distinct[*e.get()].1 += w,
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(distinct.len());
                distinct.push((k, w));
            }
        }
    }
    distinct
}

/// Merges per-chunk distinct rows, keeping first-seen order across chunks.
fn merge(parts: Vec<Vec<Row>>) -> Vec<Row> {
    let mut slot: KeyMap =
        HashMap::with_capacity_and_hasher(1 << 14, BuildHasherDefault::default());
    let mut distinct: Vec<Row> = Vec::new();
    for (k, w) in parts.into_iter().flatten() {
        match slot.entry(k) {
            std::collections::hash_map::Entry::Occupied(e) => distinct[*e.get()].1 += w,
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(distinct.len());
                distinct.push((k, w));
            }
        }
    }
    distinct
}

/// Stable grouping of distinct rows by frequency (key.0 holds the bits of x), ascending x.
fn group_by_frequency(rows: Vec<Row>) -> Vec<Row> {
    let max_x = rows
        .iter()
        .map(|r| f64::from_bits(r.0.0))
        .fold(0.0, f64::max);
    if max_x <= 1e7 {
        let buckets = max_x as usize + 1;
        let mut start = vec![0usize; buckets + 1];
        for r in &rows {
            start[f64::from_bits(r.0.0) as usize + 1] += 1;
        }
        for b in 0..buckets {
            start[b + 1] += start[b];
        }
        let mut out = vec![((0, 0, 0), 0.0); rows.len()];
        for r in rows {
            let b = f64::from_bits(r.0.0) as usize;
            out[start[b]] = r;
            start[b] += 1;
        }
        out
    } else {
        let mut rows = rows;
        rows.sort_by_key(|r| r.0.0);
        rows
    }
}

/// Distinct (frequency, recency, T) rows with weights, grouped by frequency (ascending) in
/// first-seen order within a frequency.
///
/// ```
/// use touchstone_value::RfmData;
/// let d = RfmData::new(&[0.0, 2.0, 0.0], &[0.0, 5.0, 0.0], &[10.0, 10.0, 10.0]).unwrap();
/// assert_eq!(d.distinct_rows(), 2);
/// assert_eq!(d.customers(), 3.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RfmData {
    pub(crate) x: Vec<f64>,
    pub(crate) t_x: Vec<f64>,
    pub(crate) t: Vec<f64>,
    pub(crate) w: Vec<f64>,
    total_weight: f64,
    repeat_customers: f64,
}

fn invalid(field: &'static str, index: usize, value: f64, reason: &'static str) -> ValueError {
    ValueError::InvalidInput {
        field,
        index,
        value,
        reason,
    }
}

/// Checks one (x, tₓ, T) triple; `index` is used in the error.
pub(crate) fn check_triple(index: usize, x: f64, t_x: f64, t: f64) -> Result<()> {
    if !(x.is_finite() && x >= 0.0 && x == x.floor()) {
        return Err(invalid(
            "frequency",
            index,
            x,
            "must be a non-negative whole number",
        ));
    }
    if !(t_x.is_finite() && t_x >= 0.0) {
        return Err(invalid("recency", index, t_x, "must be finite and >= 0"));
    }
    if !(t.is_finite() && t >= 0.0) {
        return Err(invalid("T", index, t, "must be finite and >= 0"));
    }
    if t_x > t {
        return Err(invalid("recency", index, t_x, "must not exceed T"));
    }
    if x == 0.0 && t_x != 0.0 {
        return Err(invalid(
            "recency",
            index,
            t_x,
            "must be 0 when frequency is 0",
        ));
    }
    Ok(())
}

impl RfmData {
    /// Validates and compresses one row per customer.
    ///
    /// Errors: lengths differ, empty input, frequency not a non-negative whole number,
    /// recency or T negative or not finite, recency > T, or recency ≠ 0 with frequency 0.
    pub fn new(frequency: &[f64], recency: &[f64], t: &[f64]) -> Result<Self> {
        Self::build(frequency, recency, t, None)
    }

    /// As [`RfmData::new`] with a weight (count of customers) per row; weights must be
    /// finite and ≥ 0 (zero-weight rows are dropped).
    ///
    /// ```
    /// use touchstone_value::RfmData;
    /// let d = RfmData::with_weights(&[1.0], &[2.0], &[3.0], &[250.0]).unwrap();
    /// assert_eq!(d.customers(), 250.0);
    /// ```
    pub fn with_weights(
        frequency: &[f64],
        recency: &[f64],
        t: &[f64],
        weights: &[f64],
    ) -> Result<Self> {
        Self::build(frequency, recency, t, Some(weights))
    }

    /// The calibration columns of a [`Summary`].
    pub fn from_summary(summary: &Summary) -> Result<Self> {
        Self::new(&summary.frequency, &summary.recency, &summary.t)
    }

    fn build(
        frequency: &[f64],
        recency: &[f64],
        t: &[f64],
        weights: Option<&[f64]>,
    ) -> Result<Self> {
        crate::error::same_len("rfm.recency", frequency.len(), recency.len())?;
        crate::error::same_len("rfm.T", frequency.len(), t.len())?;
        if let Some(w) = weights {
            crate::error::same_len("rfm.weights", frequency.len(), w.len())?;
        }
        if frequency.is_empty() {
            return Err(ValueError::EmptyInput { what: "rfm" });
        }
        for i in 0..frequency.len() {
            check_triple(i, frequency[i], recency[i], t[i])?;
            if let Some(w) = weights
                && !(w[i].is_finite() && w[i] >= 0.0)
            {
                return Err(invalid("weights", i, w[i], "must be finite and >= 0"));
            }
        }
        // Deduplicate with a hash map keyed by the bit patterns (adding 0.0 turns -0.0 into
        // +0.0), keeping first-seen order, then group the distinct rows by frequency with a
        // stable counting sort: O(n), deterministic, and the likelihood loops see each
        // frequency as one run.
        let key = |i: usize| {
            (
                (frequency[i] + 0.0).to_bits(),
                (t[i] + 0.0).to_bits(),
                (recency[i] + 0.0).to_bits(),
            )
        };
        let n = frequency.len();
        let distinct = if n < PARALLEL_DEDUP_MIN {
            dedup(0..n, &key, weights)
        } else {
            // Deduplicate chunks in parallel, then merge the chunks' distinct rows in chunk
            // order: the first-seen order, hence the result, is the same as sequentially.
            let chunks = n.div_ceil(DEDUP_CHUNK);
            let parts: Vec<Vec<Row>> = (0..chunks)
                .into_par_iter()
                .map(|c| {
                    dedup(
                        c * DEDUP_CHUNK..((c + 1) * DEDUP_CHUNK).min(n),
                        &key,
                        weights,
                    )
                })
                .collect();
            merge(parts)
        };
        if distinct.is_empty() {
            return Err(ValueError::EmptyInput {
                what: "rfm (all weights are zero)",
            });
        }
        let rows = group_by_frequency(distinct);
        let mut out = RfmData {
            x: Vec::new(),
            t_x: Vec::new(),
            t: Vec::new(),
            w: Vec::new(),
            total_weight: 0.0,
            repeat_customers: 0.0,
        };
        for (k, w) in rows {
            out.x.push(f64::from_bits(k.0));
            out.t.push(f64::from_bits(k.1));
            out.t_x.push(f64::from_bits(k.2));
            out.w.push(w);
            out.total_weight += w;
            if k.0 != 0 {
                out.repeat_customers += w;
            }
        }
        Ok(out)
    }

    /// Number of distinct (x, tₓ, T) rows the likelihood is evaluated on.
    pub fn distinct_rows(&self) -> usize {
        self.x.len()
    }

    /// Number of customers (sum of weights).
    pub fn customers(&self) -> f64 {
        self.total_weight
    }

    /// Number of customers with at least one repeat transaction.
    pub fn repeat_customers(&self) -> f64 {
        self.repeat_customers
    }

    /// Largest frequency.
    pub fn max_frequency(&self) -> f64 {
        self.x.last().copied().unwrap_or(0.0)
    }

    /// Mean of T over customers.
    pub(crate) fn mean_t(&self) -> f64 {
        self.t.iter().zip(&self.w).map(|(t, w)| t * w).sum::<f64>() / self.total_weight
    }

    /// Mean frequency over customers.
    pub(crate) fn mean_x(&self) -> f64 {
        self.x.iter().zip(&self.w).map(|(x, w)| x * w).sum::<f64>() / self.total_weight
    }

    /// A systematic probability-proportional-to-weight sample of about `target` customers,
    /// each kept row getting weight 1 per hit. Used to find a starting point cheaply.
    pub(crate) fn subsample(&self, target: usize) -> RfmData {
        let step = self.total_weight / target.max(1) as f64;
        let mut out = RfmData {
            x: Vec::new(),
            t_x: Vec::new(),
            t: Vec::new(),
            w: Vec::new(),
            total_weight: 0.0,
            repeat_customers: 0.0,
        };
        let mut next = 0.5 * step;
        let mut cum = 0.0;
        for i in 0..self.x.len() {
            cum += self.w[i];
            let mut hits = 0.0;
            while next < cum {
                hits += 1.0;
                next += step;
            }
            if hits > 0.0 {
                out.x.push(self.x[i]);
                out.t_x.push(self.t_x[i]);
                out.t.push(self.t[i]);
                out.w.push(hits);
                out.total_weight += hits;
                if self.x[i] > 0.0 {
                    out.repeat_customers += hits;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_keeps_weights_exact() {
        let x = [0.0, 1.0, 0.0, 1.0, 3.0, 1.0];
        let tx = [0.0, 2.0, 0.0, 2.0, 7.0, 3.0];
        let t = [9.0, 9.0, 9.0, 9.0, 9.0, 9.0];
        let d = RfmData::new(&x, &tx, &t).unwrap();
        assert_eq!(d.distinct_rows(), 4);
        assert_eq!(d.customers(), 6.0);
        assert_eq!(d.repeat_customers(), 4.0);
        assert_eq!(d.w, vec![2.0, 2.0, 1.0, 1.0]);
        assert_eq!(d.max_frequency(), 3.0);
    }

    #[test]
    fn validation_names_the_bad_value() {
        let e = RfmData::new(&[1.5], &[1.0], &[2.0]).unwrap_err();
        assert!(matches!(
            e,
            ValueError::InvalidInput {
                field: "frequency",
                index: 0,
                ..
            }
        ));
        let e = RfmData::new(&[0.0, 0.0], &[0.0, 1.0], &[2.0, 2.0]).unwrap_err();
        assert!(matches!(
            e,
            ValueError::InvalidInput {
                field: "recency",
                index: 1,
                ..
            }
        ));
        let e = RfmData::new(&[1.0], &[1.0], &[f64::NAN]).unwrap_err();
        assert!(matches!(e, ValueError::InvalidInput { field: "T", .. }));
        assert!(matches!(
            RfmData::new(&[], &[], &[]),
            Err(ValueError::EmptyInput { .. })
        ));
        assert!(matches!(
            RfmData::with_weights(&[1.0], &[1.0], &[1.0], &[-1.0]),
            Err(ValueError::InvalidInput {
                field: "weights",
                ..
            })
        ));
    }

    #[test]
    fn parallel_deduplication_matches_a_plain_count() {
        // 300 000 rows (above the parallel threshold) drawn from 50 × 7 × 11 keys.
        let n = 300_000usize;
        let (mut x, mut tx, mut t) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let xi = (i * 7 % 50) as f64;
            let ti = 20.0 + (i % 11) as f64;
            x.push(xi);
            tx.push(if xi == 0.0 { 0.0 } else { (i % 7) as f64 });
            t.push(ti);
        }
        let d = RfmData::new(&x, &tx, &t).unwrap();
        let mut want = std::collections::BTreeMap::new();
        for i in 0..n {
            *want
                .entry((x[i] as u64, tx[i] as u64, t[i] as u64))
                .or_insert(0.0) += 1.0;
        }
        assert_eq!(d.distinct_rows(), want.len());
        assert_eq!(d.customers(), n as f64);
        for i in 0..d.distinct_rows() {
            assert_eq!(
                want[&(d.x[i] as u64, d.t_x[i] as u64, d.t[i] as u64)],
                d.w[i]
            );
        }
        assert!(d.x.windows(2).all(|w| w[0] <= w[1]), "grouped by frequency");
    }

    #[test]
    fn subsample_is_proportional() {
        let d = RfmData::with_weights(&[0.0, 1.0], &[0.0, 1.0], &[5.0, 5.0], &[7000.0, 3000.0])
            .unwrap();
        let s = d.subsample(1000);
        assert_eq!(s.customers(), 1000.0);
        assert_eq!(s.w, vec![700.0, 300.0]);
    }
}
