//! Validated, compressed (frequency, recency, T) data for the BG/NBD and Pareto/NBD fits.
//!
//! Customers with identical (x, tₓ, T) contribute identical likelihood terms, so the data are
//! stored as distinct triples with a weight (the number of customers sharing it). The
//! likelihood is Σ wᵢ ℓ(xᵢ, tₓᵢ, Tᵢ): exact, not an approximation.
//!
//! Summaries on a time grid (days or weeks) have few distinct T and tₓ values, so each distinct
//! row also carries the index of its T and of its tₓ in small tables of distinct values: a
//! likelihood evaluates its per-time terms (logarithms, reciprocals) once per table entry
//! rather than once per row. Building on such data keys every row by (x, T index, tₓ index)
//! packed into one integer and radix-sorts the keys: O(n), cache-friendly, and the same result
//! whatever the number of threads.

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
        add_row(&mut slot, &mut distinct, key(i), w);
    }
    distinct
}

/// Adds weight `w` to the distinct row keyed `k`, appending it when new.
#[inline]
fn add_row(slot: &mut KeyMap, distinct: &mut Vec<Row>, k: (u64, u64, u64), w: f64) {
    match slot.entry(k) {
        std::collections::hash_map::Entry::Occupied(e) => distinct[*e.get()].1 += w,
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(distinct.len());
            distinct.push((k, w));
        }
    }
}

/// Merges per-chunk distinct rows, keeping first-seen order across chunks.
fn merge(parts: Vec<Vec<Row>>) -> Vec<Row> {
    let mut slot: KeyMap =
        HashMap::with_capacity_and_hasher(1 << 14, BuildHasherDefault::default());
    let mut distinct: Vec<Row> = Vec::new();
    for (k, w) in parts.into_iter().flatten() {
        add_row(&mut slot, &mut distinct, k, w);
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

/// Distinct (frequency, recency, T) rows with weights, grouped by frequency (ascending);
/// within a frequency, ordered by T and recency when the times lie on a grid (the usual case),
/// else in first-seen order.
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
    /// Distinct T values; `t[i] == t_vals[t_id[i]]`.
    pub(crate) t_vals: Vec<f64>,
    pub(crate) t_id: Vec<u32>,
    /// Distinct tₓ values; `t_x[i] == tx_vals[tx_id[i]]`.
    pub(crate) tx_vals: Vec<f64>,
    pub(crate) tx_id: Vec<u32>,
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

/// Whether (x, tₓ, T) certainly passes [`check_triple`] (false may still pass: frequencies of
/// 2^52 and beyond are left to the exact check).
#[inline]
// Comparisons joined with `&`, not `&&` or `contains`: one branch-free expression per row.
#[allow(clippy::manual_range_contains)]
fn plausible_triple(x: f64, t_x: f64, t: f64) -> bool {
    (x >= 0.0)
        & (x < 4.5e15)
        & ((x as i64) as f64 == x)
        & (t_x >= 0.0)
        & (t_x <= t)
        & (t < f64::INFINITY)
        & ((x != 0.0) | (t_x == 0.0))
}

/// Checks that a frequency is a non-negative whole number; `index` is used in the error.
pub(crate) fn check_frequency(index: usize, x: f64) -> Result<()> {
    if x.is_finite() && x >= 0.0 && x == x.floor() {
        Ok(())
    } else {
        Err(invalid(
            "frequency",
            index,
            x,
            "must be a non-negative whole number",
        ))
    }
}

/// Checks one (x, tₓ, T) triple; `index` is used in the error.
pub(crate) fn check_triple(index: usize, x: f64, t_x: f64, t: f64) -> Result<()> {
    check_frequency(index, x)?;
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
        let check = |range: std::ops::Range<usize>| -> Result<()> {
            // A branch-free screen first; the exact checks (and their error) only on failure.
            let screen = range.clone().fold(true, |ok, i| {
                ok & plausible_triple(frequency[i], recency[i], t[i])
                    & weights.is_none_or(|w| (w[i] >= 0.0) & (w[i] < f64::INFINITY))
            });
            if screen {
                return Ok(());
            }
            for i in range {
                check_triple(i, frequency[i], recency[i], t[i])?;
                if let Some(w) = weights
                    && !(w[i].is_finite() && w[i] >= 0.0)
                {
                    return Err(invalid("weights", i, w[i], "must be finite and >= 0"));
                }
            }
            Ok(())
        };
        let n = frequency.len();
        if n < PARALLEL_DEDUP_MIN {
            check(0..n)?;
        } else {
            // The first failing chunk (in row order) reports its first bad row, as sequentially.
            (0..n.div_ceil(KEY_CHUNK))
                .into_par_iter()
                .map(|c| check(c * KEY_CHUNK..((c + 1) * KEY_CHUNK).min(n)))
                .collect::<Vec<Result<()>>>()
                .into_iter()
                .collect::<Result<Vec<()>>>()?;
        }
        if let Some(out) = sorted_build(frequency, recency, t, weights) {
            return out;
        }
        // Continuous times (or huge frequencies): deduplicate with a hash map keyed by the
        // bit patterns (adding 0.0 turns -0.0 into +0.0), keeping first-seen order, then group
        // the distinct rows by frequency with a stable counting sort: O(n), deterministic, and
        // the likelihood loops see each frequency as one run.
        let key = |i: usize| {
            (
                (frequency[i] + 0.0).to_bits(),
                (t[i] + 0.0).to_bits(),
                (recency[i] + 0.0).to_bits(),
            )
        };
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
        let rows = group_by_frequency(distinct);
        let mut out = RfmData::empty();
        for (k, w) in rows {
            out.push(
                f64::from_bits(k.0),
                f64::from_bits(k.2),
                f64::from_bits(k.1),
                w,
            );
        }
        out.identity_tables();
        out.finish()
    }

    fn empty() -> Self {
        RfmData {
            x: Vec::new(),
            t_x: Vec::new(),
            t: Vec::new(),
            w: Vec::new(),
            t_vals: Vec::new(),
            t_id: Vec::new(),
            tx_vals: Vec::new(),
            tx_id: Vec::new(),
            total_weight: 0.0,
            repeat_customers: 0.0,
        }
    }

    fn push(&mut self, x: f64, t_x: f64, t: f64, w: f64) {
        self.x.push(x);
        self.t_x.push(t_x);
        self.t.push(t);
        self.w.push(w);
        self.total_weight += w;
        if x != 0.0 {
            self.repeat_customers += w;
        }
    }

    /// Tables with one entry per row (no sharing of time terms).
    fn identity_tables(&mut self) {
        let n = self.x.len() as u32;
        self.t_vals = self.t.clone();
        self.t_id = (0..n).collect();
        self.tx_vals = self.t_x.clone();
        self.tx_id = (0..n).collect();
    }

    fn finish(self) -> Result<Self> {
        if self.x.is_empty() {
            return Err(ValueError::EmptyInput {
                what: "rfm (all weights are zero)",
            });
        }
        Ok(self)
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

    /// The minimum a purchase-count model needs to be fitted: at least 5 customers, at least
    /// one of them with a repeat purchase.
    pub(crate) fn check_identifiable(&self, model: &'static str) -> Result<()> {
        if self.customers() < 5.0 {
            return Err(ValueError::InsufficientData {
                model,
                reason: "customers",
                have: self.customers() as usize,
                need: 5,
            });
        }
        if self.repeat_customers() < 1.0 {
            return Err(ValueError::InsufficientData {
                model,
                reason: "customers with a repeat purchase",
                have: 0,
                need: 1,
            });
        }
        Ok(())
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
        let mut out = RfmData::empty();
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
                out.push(self.x[i], self.t_x[i], self.t[i], hits);
                out.t_id.push(self.t_id[i]);
                out.tx_id.push(self.tx_id[i]);
            }
        }
        if self.t_vals.len() + self.tx_vals.len() <= out.x.len() {
            out.t_vals = self.t_vals.clone();
            out.tx_vals = self.tx_vals.clone();
        } else {
            out.identity_tables();
        }
        out
    }
}

/// Rows per work item when validating and keying rows in parallel.
const KEY_CHUNK: usize = 65_536;
/// Distinct T (or tₓ) values in one chunk beyond which times are treated as continuous.
const MAX_CHUNK_VALUES: usize = 4_096;

/// Small open-addressing map from a value's bits to a dense id (first-seen order).
struct ValueIds {
    slots: Vec<(u64, u32)>,
    values: Vec<u64>,
}

impl ValueIds {
    const EMPTY: u32 = u32::MAX;
    const BITS: u32 = 14; // 16 384 slots for at most 4 096 values

    fn new() -> Self {
        ValueIds {
            slots: vec![(0, Self::EMPTY); 1 << Self::BITS],
            values: Vec::new(),
        }
    }

    /// The id of `bits`, or None once there are more than `MAX_CHUNK_VALUES` values.
    #[inline]
    fn id(&mut self, bits: u64) -> Option<u32> {
        let mask = (1usize << Self::BITS) - 1;
        let mut h = (bits.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - Self::BITS)) as usize;
        loop {
            let (k, id) = self.slots[h];
            if id == Self::EMPTY {
                if self.values.len() >= MAX_CHUNK_VALUES {
                    return None;
                }
                let id = self.values.len() as u32;
                self.slots[h] = (bits, id);
                self.values.push(bits);
                return Some(id);
            }
            if k == bits {
                return Some(id);
            }
            h = (h + 1) & mask;
        }
    }
}

/// Bits needed to hold the values 0..n.
fn bits_for(n: usize) -> u32 {
    usize::BITS - n.saturating_sub(1).leading_zeros()
}

/// Stable LSD radix sort of `v` by its bits `lo .. lo + bits`.
fn radix_sort(v: &mut Vec<u64>, lo: u32, bits: u32) {
    const MAX_DIGIT: u32 = 16;
    if bits == 0 || v.len() < 2 {
        return;
    }
    let passes = bits.div_ceil(MAX_DIGIT);
    let digit = bits.div_ceil(passes);
    let mask = (1u64 << digit) - 1;
    let mut buf = vec![0u64; v.len()];
    let mut count = vec![0usize; 1 << digit];
    for pass in 0..passes {
        let shift = lo + pass * digit;
        count.iter_mut().for_each(|c| *c = 0);
        for &k in v.iter() {
            count[((k >> shift) & mask) as usize] += 1;
        }
        let mut sum = 0;
        for c in count.iter_mut() {
            let here = *c;
            *c = sum;
            sum += here;
        }
        for &k in v.iter() {
            let d = ((k >> shift) & mask) as usize;
            buf[count[d]] = k;
            count[d] += 1;
        }
        std::mem::swap(v, &mut buf);
    }
}

/// One chunk's distinct T and tₓ bit patterns (in first-seen order) and largest frequency.
struct ChunkValues {
    t: Vec<u64>,
    tx: Vec<u64>,
    max_x: f64,
}

/// Deduplication by sorting packed (x, T index, tₓ index) keys, for times on a grid; rows come
/// out sorted by (x, T, tₓ). None when the times look continuous or the keys would not fit.
/// Rows must already be validated.
fn sorted_build(
    frequency: &[f64],
    recency: &[f64],
    t: &[f64],
    weights: Option<&[f64]>,
) -> Option<Result<RfmData>> {
    let n = frequency.len();
    // With weights, each key carries its row number in its low 32 bits.
    if weights.is_some() && n > u32::MAX as usize {
        return None;
    }
    let mut keys = vec![0u64; n];
    // Pass 1, per chunk: chunk-local ids of T and tₓ, the largest frequency.
    let local = |(c, out): (usize, &mut [u64])| -> Option<ChunkValues> {
        let (mut tid, mut txid) = (ValueIds::new(), ValueIds::new());
        let mut max_x = 0.0f64;
        for (k, i) in out.iter_mut().zip(c * KEY_CHUNK..) {
            let a = tid.id((t[i] + 0.0).to_bits())?;
            let b = txid.id((recency[i] + 0.0).to_bits())?;
            max_x = max_x.max(frequency[i]);
            *k = (u64::from(a) << 32) | u64::from(b);
        }
        Some(ChunkValues {
            t: tid.values,
            tx: txid.values,
            max_x,
        })
    };
    let parts: Vec<Option<ChunkValues>> = if n < PARALLEL_DEDUP_MIN {
        keys.chunks_mut(KEY_CHUNK).enumerate().map(local).collect()
    } else {
        keys.par_chunks_mut(KEY_CHUNK)
            .enumerate()
            .map(local)
            .collect()
    };
    let parts: Vec<ChunkValues> = parts.into_iter().collect::<Option<_>>()?;
    // Global tables: the distinct values in ascending order.
    let table = |pick: fn(&ChunkValues) -> &Vec<u64>| {
        let mut v: Vec<f64> = parts
            .iter()
            .flat_map(|p| pick(p).iter().map(|b| f64::from_bits(*b)))
            .collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    };
    let t_vals = table(|p| &p.t);
    let tx_vals = table(|p| &p.tx);
    let max_x = parts.iter().map(|p| p.max_x).fold(0.0, f64::max);
    let (bt, btx) = (bits_for(t_vals.len()), bits_for(tx_vals.len()));
    let bx = if max_x < 2f64.powi(32) {
        bits_for(max_x as usize + 1)
    } else {
        return None;
    };
    let key_bits = bx + bt + btx;
    if key_bits > if weights.is_some() { 32 } else { 64 } {
        return None;
    }
    let remap = |values: &[u64], table: &[f64]| -> Vec<u64> {
        values
            .iter()
            .map(|b| {
                let v = f64::from_bits(*b);
                table.partition_point(|u| u.total_cmp(&v).is_lt()) as u64
            })
            .collect()
    };
    let payload = if weights.is_some() { 32 } else { 0 };
    // Pass 2: the global key (x, T index, tₓ index), shifted above the row number if weighted.
    let global = |(c, out): (usize, &mut [u64])| {
        let (rt, rtx) = (remap(&parts[c].t, &t_vals), remap(&parts[c].tx, &tx_vals));
        for (k, i) in out.iter_mut().zip(c * KEY_CHUNK..) {
            let key = ((frequency[i] as u64) << (bt + btx))
                | (rt[(*k >> 32) as usize] << btx)
                | rtx[(*k & 0xFFFF_FFFF) as usize];
            *k = (key << payload) | if payload > 0 { i as u64 } else { 0 };
        }
    };
    if n < PARALLEL_DEDUP_MIN {
        keys.chunks_mut(KEY_CHUNK).enumerate().for_each(global);
    } else {
        keys.par_chunks_mut(KEY_CHUNK).enumerate().for_each(global);
    }
    radix_sort(&mut keys, payload, key_bits);
    // Run-length encode the sorted keys: (key, summed weight) per distinct key.
    let mut runs: Vec<(u64, f64)> = Vec::new();
    let mut start = 0;
    for i in 1..=n {
        if i == n || keys[i] >> payload != keys[start] >> payload {
            let w = match weights {
                None => (i - start) as f64,
                Some(ws) => keys[start..i]
                    .iter()
                    .map(|k| ws[(k & 0xFFFF_FFFF) as usize])
                    .sum(),
            };
            if w > 0.0 {
                runs.push((keys[start] >> payload, w));
            }
            start = i;
        }
    }
    drop(keys);
    let (mt, mtx) = ((1u64 << bt) - 1, (1u64 << btx) - 1);
    let mut out = RfmData::empty();
    out.x = runs.iter().map(|r| (r.0 >> (bt + btx)) as f64).collect();
    out.t_id = runs.iter().map(|r| ((r.0 >> btx) & mt) as u32).collect();
    out.tx_id = runs.iter().map(|r| (r.0 & mtx) as u32).collect();
    out.t = out.t_id.iter().map(|&j| t_vals[j as usize]).collect();
    out.t_x = out.tx_id.iter().map(|&j| tx_vals[j as usize]).collect();
    out.w = runs.iter().map(|r| r.1).collect();
    out.total_weight = out.w.iter().sum();
    out.repeat_customers = out
        .x
        .iter()
        .zip(&out.w)
        .filter(|(x, _)| **x != 0.0)
        .map(|(_, w)| w)
        .sum();
    out.t_vals = t_vals;
    out.tx_vals = tx_vals;
    Some(out.finish())
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
