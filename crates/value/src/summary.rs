//! Per-customer recency / frequency / monetary summary of a transaction log, following the
//! conventions of the `lifetimes` Python package (`summary_data_from_transaction_data`,
//! `calibration_and_holdout_data`) and of Fader, Hardie & Lee (2005):
//!
//! - purchases on the same day are one transaction, their amounts summed;
//! - `frequency` = number of transaction days after the first one (repeat transactions);
//! - `recency` = last transaction day − first transaction day, in time units;
//! - `T` = calibration end − first transaction day, in time units;
//! - `monetary_value` = mean amount of the repeat transactions (the first is excluded), 0 when
//!   frequency = 0;
//! - time units are days or weeks, a week being exactly 7 days (`recency` and `T` are day
//!   counts divided by 7, as in the CDNOW summaries; this differs from `lifetimes`' `freq="W"`,
//!   which buckets dates into calendar weeks).
//!
//! Dates are `i32` day numbers (days since 1970-01-01 by convention; [`days_from_civil`]
//! converts a calendar date). The calibration end and holdout end are inclusive.

use crate::error::{Result, ValueError};
use rayon::prelude::*;

/// Unit of `recency`, `T` and model time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// One day.
    Day,
    /// Seven days.
    Week,
}

impl TimeUnit {
    /// Length of the unit in days.
    ///
    /// ```
    /// use touchstone_value::TimeUnit;
    /// assert_eq!(TimeUnit::Week.days(), 7.0);
    /// ```
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
        }
    }

    /// Time units per month in the `lifetimes` CLV convention
    /// (`lifetimes.utils._customer_lifetime_value`: `{"W": 4.345, "M": 1.0, "D": 30}`).
    ///
    /// ```
    /// use touchstone_value::TimeUnit;
    /// assert_eq!(TimeUnit::Day.units_per_month(), 30.0);
    /// assert_eq!(TimeUnit::Week.units_per_month(), 4.345);
    /// ```
    pub fn units_per_month(self) -> f64 {
        match self {
            TimeUnit::Day => 30.0,
            TimeUnit::Week => 4.345,
        }
    }
}

/// Day number (days since 1970-01-01, proleptic Gregorian) of a calendar date.
///
/// The usual era-based civil-to-days arithmetic (400-year cycles of 146 097 days).
///
/// ```
/// use touchstone_value::days_from_civil;
/// assert_eq!(days_from_civil(1970, 1, 1).unwrap(), 0);
/// assert_eq!(days_from_civil(1997, 9, 30).unwrap() - days_from_civil(1997, 1, 1).unwrap(), 272);
/// assert!(days_from_civil(1997, 2, 29).is_err());
/// ```
pub fn days_from_civil(year: i32, month: u32, day: u32) -> Result<i32> {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_len = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    if month_len == 0 || day == 0 || day > month_len || !(-1_000_000..=1_000_000).contains(&year) {
        return Err(ValueError::InvalidParameter {
            name: "date",
            value: f64::from(year) * 10_000.0 + f64::from(month) * 100.0 + f64::from(day),
            reason: "not a valid calendar date (YYYYMMDD)",
        });
    }
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    let days = era * 146_097 + doe - 719_468;
    i32::try_from(days).map_err(|_| ValueError::InvalidParameter {
        name: "date",
        value: f64::from(year),
        reason: "year out of range",
    })
}

/// What to do with rows whose amount is exactly 0.
///
/// Zero-value orders are real in some data: the CDNOW sample has 8 customers whose only
/// purchase is $0.00 (free CDs), and the published summary counts them as customers with a
/// transaction. Either way they are counted ([`Summary::zero_amount_rows`] or
/// [`Exclusions::zero_amount`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZeroAmounts {
    /// Zero-amount rows are transactions (they count for frequency and recency and add 0 to
    /// the monetary value). This reproduces the CDNOW summaries.
    #[default]
    Keep,
    /// Zero-amount rows are excluded.
    Exclude,
}

/// Window and unit of a summary.
///
/// ```
/// use touchstone_value::{days_from_civil, SummaryConfig, TimeUnit, ZeroAmounts};
/// let cfg = SummaryConfig {
///     observation_start: Some(days_from_civil(1997, 1, 1).unwrap()),
///     calibration_end: days_from_civil(1997, 9, 30).unwrap(),
///     holdout_end: Some(days_from_civil(1998, 6, 30).unwrap()),
///     time_unit: TimeUnit::Week,
///     zero_amounts: ZeroAmounts::Keep,
/// };
/// assert!(cfg.holdout_end.unwrap() > cfg.calibration_end);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryConfig {
    /// First day of the observation window (inclusive); earlier rows are excluded and counted.
    /// `None` keeps every row up to the calibration end.
    pub observation_start: Option<i32>,
    /// Last day of the calibration period (inclusive).
    pub calibration_end: i32,
    /// Last day of the holdout period (inclusive). When given, rows after the calibration end
    /// and up to this day are holdout rows; when `None` they are excluded and counted.
    pub holdout_end: Option<i32>,
    /// Unit of recency and T.
    pub time_unit: TimeUnit,
    /// Zero-amount rows: transactions or excluded.
    pub zero_amounts: ZeroAmounts,
}

/// Rows left out of a summary, by reason. Every input row is either used or counted here
/// exactly once, checked in this order: amount not finite, amount < 0, amount = 0 (when
/// [`ZeroAmounts::Exclude`]), dated before the
/// observation start, dated after the holdout end (or after the calibration end when there is
/// no holdout), belonging to a customer whose first remaining purchase is after the
/// calibration end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exclusions {
    /// Amount is NaN or infinite.
    pub non_finite_amount: usize,
    /// Amount is negative (returns, refunds): not a purchase.
    pub negative_amount: usize,
    /// Amount is zero and the configuration excludes zero-amount rows.
    pub zero_amount: usize,
    /// Dated before `observation_start`.
    pub before_observation_start: usize,
    /// Dated after `calibration_end` when no holdout window was given.
    pub after_calibration_end: usize,
    /// Dated after `holdout_end`.
    pub after_holdout_end: usize,
    /// Rows of customers whose first purchase falls in the holdout period (they are not in
    /// the calibration cohort).
    pub first_purchase_in_holdout: usize,
}

/// Why an order row is left out of a summary: the reasons counted in [`Exclusions`], as data.
/// The `Display` text states the reason.
///
/// ```
/// use touchstone_value::{Exclusions, OrderExclusion};
/// let e = Exclusions { before_observation_start: 4, ..Default::default() };
/// let (why, n) = e.by_reason()[3];
/// assert_eq!((why, n), (OrderExclusion::BeforeObservationStart, 4));
/// assert_eq!(why.to_string(), "dated before the window start");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderExclusion {
    /// [`Exclusions::non_finite_amount`].
    NonFiniteAmount,
    /// [`Exclusions::negative_amount`].
    NegativeAmount,
    /// [`Exclusions::zero_amount`].
    ZeroAmount,
    /// [`Exclusions::before_observation_start`].
    BeforeObservationStart,
    /// [`Exclusions::after_calibration_end`].
    AfterCalibrationEnd,
    /// [`Exclusions::after_holdout_end`].
    AfterHoldoutEnd,
    /// [`Exclusions::first_purchase_in_holdout`].
    FirstPurchaseInHoldout,
}

impl std::fmt::Display for OrderExclusion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OrderExclusion::NonFiniteAmount => "amount is not a finite number",
            OrderExclusion::NegativeAmount => {
                "amount is negative (returns and refunds are not purchases)"
            }
            OrderExclusion::ZeroAmount => "amount is 0",
            OrderExclusion::BeforeObservationStart => "dated before the window start",
            OrderExclusion::AfterCalibrationEnd => {
                "dated after the calibration end (no holdout period)"
            }
            OrderExclusion::AfterHoldoutEnd => "dated after the holdout end",
            OrderExclusion::FirstPurchaseInHoldout => {
                "customer's first purchase is in the holdout period, so not in the calibration cohort"
            }
        })
    }
}

impl Exclusions {
    /// Every reason with its count, in the order the rows are checked.
    pub fn by_reason(&self) -> [(OrderExclusion, usize); 7] {
        [
            (OrderExclusion::NonFiniteAmount, self.non_finite_amount),
            (OrderExclusion::NegativeAmount, self.negative_amount),
            (OrderExclusion::ZeroAmount, self.zero_amount),
            (
                OrderExclusion::BeforeObservationStart,
                self.before_observation_start,
            ),
            (
                OrderExclusion::AfterCalibrationEnd,
                self.after_calibration_end,
            ),
            (OrderExclusion::AfterHoldoutEnd, self.after_holdout_end),
            (
                OrderExclusion::FirstPurchaseInHoldout,
                self.first_purchase_in_holdout,
            ),
        ]
    }

    /// Total number of excluded rows.
    ///
    /// ```
    /// use touchstone_value::Exclusions;
    /// let e = Exclusions { negative_amount: 2, after_holdout_end: 1, ..Default::default() };
    /// assert_eq!(e.total(), 3);
    /// ```
    pub fn total(&self) -> usize {
        self.non_finite_amount
            + self.negative_amount
            + self.zero_amount
            + self.before_observation_start
            + self.after_calibration_end
            + self.after_holdout_end
            + self.first_purchase_in_holdout
    }
}

/// Holdout-period columns of a summary (aligned with [`Summary::customer`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Holdout {
    /// Transaction days in (calibration end, holdout end].
    pub frequency: Vec<f64>,
    /// Mean amount per holdout transaction day (0 when none).
    pub monetary_value: Vec<f64>,
    /// Length of the holdout period in time units.
    pub duration: f64,
}

/// Per-customer summary, one entry per customer, sorted by customer id.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Customer id.
    pub customer: Vec<u64>,
    /// Repeat transaction days in the calibration period.
    pub frequency: Vec<f64>,
    /// Time from first to last calibration transaction, in time units.
    pub recency: Vec<f64>,
    /// Time from first transaction to calibration end, in time units.
    pub t: Vec<f64>,
    /// Mean amount of the repeat transactions (0 when frequency = 0).
    pub monetary_value: Vec<f64>,
    /// Day number of the first transaction.
    pub first_day: Vec<i32>,
    /// Holdout columns, when a holdout end was configured.
    pub holdout: Option<Holdout>,
    /// Rows left out, by reason.
    pub exclusions: Exclusions,
    /// Rows read.
    pub rows_read: usize,
    /// Rows used in the calibration period.
    pub rows_calibration: usize,
    /// Rows used in the holdout period.
    pub rows_holdout: usize,
    /// Customers dropped because their first purchase is in the holdout period.
    pub customers_first_in_holdout: usize,
    /// Zero-amount rows kept as transactions ([`ZeroAmounts::Keep`]).
    pub zero_amount_rows: usize,
    /// The configuration used.
    pub config: SummaryConfig,
}

impl Summary {
    /// Number of customers.
    pub fn len(&self) -> usize {
        self.customer.len()
    }

    /// Whether there are no customers.
    pub fn is_empty(&self) -> bool {
        self.customer.is_empty()
    }
}

/// One kept row: customer, day, amount.
type Row = (u64, i32, f64);

/// Builds the per-customer summary from transaction rows given as parallel columns.
///
/// Errors: column lengths differ, empty input, or an inconsistent window (observation start
/// after calibration end, holdout end not after calibration end). Bad rows are not errors:
/// they are excluded and counted in [`Summary::exclusions`].
///
/// ```
/// use touchstone_value::{summarize, SummaryConfig, TimeUnit, ZeroAmounts};
/// let customer = [7, 7, 7, 7, 9];
/// let day = [0, 0, 14, 21, 3];       // two purchases on day 0 are one transaction
/// let amount = [5.0, 5.0, 20.0, -3.0, 8.0];
/// let cfg = SummaryConfig { observation_start: None, calibration_end: 28, holdout_end: None,
///                           time_unit: TimeUnit::Week, zero_amounts: ZeroAmounts::Keep };
/// let s = summarize(&customer, &day, &amount, &cfg).unwrap();
/// assert_eq!(s.frequency, vec![1.0, 0.0]);
/// assert_eq!(s.recency, vec![2.0, 0.0]);
/// assert_eq!(s.t, vec![4.0, 25.0 / 7.0]);
/// assert_eq!(s.monetary_value, vec![20.0, 0.0]);
/// assert_eq!(s.exclusions.negative_amount, 1);
/// ```
pub fn summarize(
    customer: &[u64],
    day: &[i32],
    amount: &[f64],
    config: &SummaryConfig,
) -> Result<Summary> {
    crate::error::same_len("transactions.day", customer.len(), day.len())?;
    crate::error::same_len("transactions.amount", customer.len(), amount.len())?;
    if customer.is_empty() {
        return Err(ValueError::EmptyInput {
            what: "transactions",
        });
    }
    let cal_end = config.calibration_end;
    if let Some(start) = config.observation_start
        && start > cal_end
    {
        return Err(ValueError::InvalidWindow {
            reason: "observation start is after the calibration end",
            calibration_end: cal_end,
            other: start,
        });
    }
    if let Some(h) = config.holdout_end
        && h <= cal_end
    {
        return Err(ValueError::InvalidWindow {
            reason: "holdout end must be after the calibration end",
            calibration_end: cal_end,
            other: h,
        });
    }
    let mut ex = Exclusions::default();
    let mut rows: Vec<Row> = Vec::with_capacity(customer.len());
    for ((&c, &d), &a) in customer.iter().zip(day).zip(amount) {
        if !a.is_finite() {
            ex.non_finite_amount += 1;
        } else if a < 0.0 {
            ex.negative_amount += 1;
        } else if a == 0.0 && config.zero_amounts == ZeroAmounts::Exclude {
            ex.zero_amount += 1;
        } else if config.observation_start.is_some_and(|s| d < s) {
            ex.before_observation_start += 1;
        } else if d > cal_end && config.holdout_end.is_none() {
            ex.after_calibration_end += 1;
        } else if config.holdout_end.is_some_and(|h| d > h) {
            ex.after_holdout_end += 1;
        } else {
            rows.push((c, d, a));
        }
    }
    if rows.len() > 100_000 {
        rows.par_sort_unstable_by_key(|r| (r.0, r.1));
    } else {
        rows.sort_unstable_by_key(|r| (r.0, r.1));
    }
    let unit = config.time_unit.days();
    let with_holdout = config.holdout_end.is_some();
    let mut out = Summary {
        customer: Vec::new(),
        frequency: Vec::new(),
        recency: Vec::new(),
        t: Vec::new(),
        monetary_value: Vec::new(),
        first_day: Vec::new(),
        holdout: config.holdout_end.map(|h| Holdout {
            frequency: Vec::new(),
            monetary_value: Vec::new(),
            duration: f64::from(h - cal_end) / unit,
        }),
        exclusions: ex,
        rows_read: customer.len(),
        rows_calibration: 0,
        rows_holdout: 0,
        customers_first_in_holdout: 0,
        zero_amount_rows: 0,
        config: *config,
    };
    let mut i = 0;
    while i < rows.len() {
        let id = rows[i].0;
        let mut j = i;
        while j < rows.len() && rows[j].0 == id {
            j += 1;
        }
        let group = &rows[i..j];
        i = j;
        let first = group[0].1;
        if first > cal_end {
            out.exclusions.first_purchase_in_holdout += group.len();
            out.customers_first_in_holdout += 1;
            continue;
        }
        // Walk the customer's rows day by day.
        let mut cal_days = 0usize;
        let mut last_cal = first;
        let mut repeat_sum = 0.0;
        let mut hold_days = 0usize;
        let mut hold_sum = 0.0;
        let mut k = 0;
        while k < group.len() {
            let d = group[k].1;
            let mut total = 0.0;
            while k < group.len() && group[k].1 == d {
                total += group[k].2;
                k += 1;
            }
            if d <= cal_end {
                if cal_days > 0 {
                    repeat_sum += total;
                }
                cal_days += 1;
                last_cal = d;
            } else {
                hold_days += 1;
                hold_sum += total;
            }
        }
        let n_cal_rows = group.iter().filter(|r| r.1 <= cal_end).count();
        out.zero_amount_rows += group.iter().filter(|r| r.2 == 0.0).count();
        out.rows_calibration += n_cal_rows;
        out.rows_holdout += group.len() - n_cal_rows;
        let freq = cal_days - 1;
        out.customer.push(id);
        out.frequency.push(freq as f64);
        out.recency.push(f64::from(last_cal - first) / unit);
        out.t.push(f64::from(cal_end - first) / unit);
        out.monetary_value.push(if freq > 0 {
            repeat_sum / freq as f64
        } else {
            0.0
        });
        out.first_day.push(first);
        if let Some(h) = out.holdout.as_mut() {
            h.frequency.push(hold_days as f64);
            h.monetary_value.push(if hold_days > 0 {
                hold_sum / hold_days as f64
            } else {
                0.0
            });
        }
    }
    debug_assert!(with_holdout || out.rows_holdout == 0);
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// CDNOW_sample.txt: master_id, sample_id, YYYYMMDD, number_of_cds, dollar_value.
    pub(crate) const CDNOW_SAMPLE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/cdnow/CDNOW_sample.txt"
    ));
    /// cdnow_customers_summary.csv: ID, frequency, recency, T (weeks, rounded to 2 decimals).
    pub(crate) const CDNOW_SUMMARY: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/cdnow/cdnow_customers_summary.csv"
    ));

    pub(crate) fn cdnow_transactions() -> (Vec<u64>, Vec<i32>, Vec<f64>) {
        let (mut c, mut d, mut a) = (Vec::new(), Vec::new(), Vec::new());
        for line in CDNOW_SAMPLE.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() != 5 {
                continue;
            }
            let ymd: i32 = f[2].parse().unwrap();
            let day = days_from_civil(ymd / 10_000, (ymd / 100 % 100) as u32, (ymd % 100) as u32)
                .unwrap();
            c.push(f[1].parse().unwrap());
            d.push(day);
            a.push(f[4].parse().unwrap());
        }
        (c, d, a)
    }

    pub(crate) fn cdnow_config() -> SummaryConfig {
        SummaryConfig {
            observation_start: Some(days_from_civil(1997, 1, 1).unwrap()),
            calibration_end: days_from_civil(1997, 9, 30).unwrap(),
            holdout_end: Some(days_from_civil(1998, 6, 30).unwrap()),
            time_unit: TimeUnit::Week,
            zero_amounts: ZeroAmounts::Keep,
        }
    }

    pub(crate) fn cdnow_summary() -> Summary {
        let (c, d, a) = cdnow_transactions();
        summarize(&c, &d, &a, &cdnow_config()).unwrap()
    }

    /// (frequency, recency, T) columns of the published summary file.
    pub(crate) fn published_rfm() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (mut x, mut tx, mut t) = (Vec::new(), Vec::new(), Vec::new());
        for line in CDNOW_SUMMARY.lines().skip(1) {
            let f: Vec<f64> = line.split(',').map(|v| v.trim().parse().unwrap()).collect();
            x.push(f[1]);
            tx.push(f[2]);
            t.push(f[3]);
        }
        (x, tx, t)
    }

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(2000, 3, 1).unwrap(), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31).unwrap(), -1);
        assert_eq!(
            days_from_civil(2000, 2, 29).unwrap() + 1,
            days_from_civil(2000, 3, 1).unwrap()
        );
        assert!(days_from_civil(1900, 2, 29).is_err());
        assert!(days_from_civil(2001, 13, 1).is_err());
        assert!(days_from_civil(2001, 4, 31).is_err());
    }

    #[test]
    fn cdnow_summary_reproduces_published_file() {
        let s = cdnow_summary();
        let (x, tx, t) = published_rfm();
        assert_eq!(s.len(), 2357);
        assert_eq!(s.customer, (1..=2357).collect::<Vec<u64>>());
        assert_eq!(s.frequency, x, "frequency must match exactly");
        for i in 0..s.len() {
            // The file rounds to 2 decimals.
            assert!(
                (s.recency[i] - tx[i]).abs() <= 0.005 + 1e-9,
                "recency row {i}"
            );
            assert!((s.t[i] - t[i]).abs() <= 0.005 + 1e-9, "T row {i}");
        }
        assert_eq!(s.frequency.iter().filter(|&&f| f > 0.0).count(), 946);
        // Every row of the sample is within 1997-01-01..1998-06-30 and positive.
        assert_eq!(s.exclusions.total(), 0);
        assert_eq!(s.rows_calibration + s.rows_holdout, s.rows_read);
        assert_eq!(s.rows_read, 6919);
        // 8 customers' only purchase is $0.00; the published summary counts them.
        assert_eq!(s.zero_amount_rows, 8);
        let h = s.holdout.as_ref().unwrap();
        assert!((h.duration - 273.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn cdnow_monetary_matches_published_averages() {
        // cdnow_customers_summary_with_transactions.csv (lifetimes 0.11.3) rows 1, 2, 6, 9, 11:
        // zbar = 22.35, 11.77, 73.74, 25.55, 29.44 (rounded to cents).
        let s = cdnow_summary();
        for (id, want) in [
            (1usize, 22.35),
            (2, 11.77),
            (6, 73.74),
            (9, 25.55),
            (11, 29.44),
        ] {
            assert!(
                (s.monetary_value[id - 1] - want).abs() <= 0.005 + 1e-9,
                "id {id}"
            );
        }
        assert_eq!(s.monetary_value[2], 0.0);
    }

    #[test]
    fn bad_rows_are_counted_not_silently_dropped() {
        let customer = [1, 1, 1, 1, 1, 2, 2, 3, 4, 4];
        let day = [10, 10, 12, 5, 50, 60, 70, 11, 20, 40];
        let amount = [1.0, f64::NAN, 0.0, 3.0, 4.0, 2.0, 2.0, -1.0, 9.0, 1.0];
        let cfg = SummaryConfig {
            observation_start: Some(8),
            calibration_end: 30,
            holdout_end: Some(60),
            time_unit: TimeUnit::Day,
            zero_amounts: ZeroAmounts::Exclude,
        };
        let s = summarize(&customer, &day, &amount, &cfg).unwrap();
        assert_eq!(s.exclusions.non_finite_amount, 1);
        assert_eq!(s.exclusions.negative_amount, 1);
        assert_eq!(s.exclusions.zero_amount, 1);
        assert_eq!(s.exclusions.before_observation_start, 1);
        assert_eq!(s.exclusions.after_holdout_end, 1);
        assert_eq!(s.exclusions.first_purchase_in_holdout, 1); // customer 2's day-60 row
        assert_eq!(s.customers_first_in_holdout, 1);
        assert_eq!(s.customer, vec![1, 4]);
        assert_eq!(s.frequency, vec![0.0, 0.0]);
        assert_eq!(s.t, vec![20.0, 10.0]);
        let h = s.holdout.unwrap();
        assert_eq!(h.frequency, vec![1.0, 1.0]);
        assert_eq!(h.monetary_value, vec![4.0, 1.0]);
        assert_eq!(
            s.rows_calibration + s.rows_holdout + s.exclusions.total(),
            s.rows_read
        );
    }

    #[test]
    fn rows_after_calibration_without_holdout_are_counted() {
        let cfg = SummaryConfig {
            observation_start: None,
            calibration_end: 10,
            holdout_end: None,
            time_unit: TimeUnit::Day,
            zero_amounts: ZeroAmounts::Exclude,
        };
        let s = summarize(&[1, 1], &[1, 11], &[1.0, 1.0], &cfg).unwrap();
        assert_eq!(s.exclusions.after_calibration_end, 1);
        assert!(s.holdout.is_none());
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let cfg = SummaryConfig {
            observation_start: None,
            calibration_end: 10,
            holdout_end: Some(5),
            time_unit: TimeUnit::Day,
            zero_amounts: ZeroAmounts::Exclude,
        };
        assert!(matches!(
            summarize(&[1], &[1], &[1.0], &cfg),
            Err(ValueError::InvalidWindow { .. })
        ));
        let cfg = SummaryConfig {
            holdout_end: None,
            ..cfg
        };
        assert!(matches!(
            summarize(&[1], &[1, 2], &[1.0], &cfg),
            Err(ValueError::LengthMismatch { .. })
        ));
        assert!(matches!(
            summarize(&[], &[], &[], &cfg),
            Err(ValueError::EmptyInput { .. })
        ));
        let cfg = SummaryConfig {
            observation_start: Some(11),
            ..cfg
        };
        assert!(matches!(
            summarize(&[1], &[1], &[1.0], &cfg),
            Err(ValueError::InvalidWindow { .. })
        ));
    }
}
