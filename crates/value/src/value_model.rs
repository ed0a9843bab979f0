//! One fit-and-score API: a purchase model (BG/NBD or Pareto/NBD) and the Gamma-Gamma spend
//! model fitted on one per-customer summary, then every customer scored with P(alive),
//! expected purchases, expected spend and CLV, and the reason for every value that is missing.
//!
//! `touchstone value fit` and the `customer_value_model` table function both go through
//! [`ValueModel::fit`] and [`FittedValueModel::score`], so the same customers are left out of
//! the same models for the same reasons.
//!
//! # Who is left out of what
//!
//! [`Exclusion::of`] puts every customer in one of four cases:
//!
//! | case | purchase model | spend model | scores |
//! |---|---|---|---|
//! | repeat purchases with a positive mean amount | fitted on | fitted on | all four |
//! | [`Exclusion::NoRepeatPurchases`] (frequency 0) | fitted on | left out: it describes repeat transactions | all four; expected spend is the population mean |
//! | [`Exclusion::NonPositiveSpend`] (frequency > 0, monetary value ≤ 0) | fitted on | left out | P(alive) and expected purchases; no expected spend, no CLV |
//! | [`Exclusion::Invalid`] (a value missing or out of its domain) | left out | left out | none |
//!
//! A customer without repeat purchases has no spend of their own to model: their monetary value
//! is not used (by convention it is 0).
//!
//! ## Repeat buyers whose repeat purchases add up to 0 or less
//!
//! They are left out of the Gamma-Gamma fit and get no expected spend and no CLV; their
//! P(alive) and expected purchases are scored as everyone else's. The Gamma-Gamma model draws
//! every transaction value from a gamma distribution, so a mean of 0 or less has likelihood 0:
//! such a customer cannot be in the fit (one of them would make the whole likelihood −∞), and
//! the model's conditional expectation E(M | x, m̄) is not defined for them. Plugging m̄ = 0
//! into its formula gives a positive number the model does not support, and a negative m̄ can
//! give a negative spend; a missing value with its reason is visible where a made-up value
//! would silently enter value deciles and customer equity. Their purchase timing is ordinary
//! data, so the purchase model keeps them.
//!
//! (Before this API, `value fit` scored them at m̄ = 0, and `customer_value_model` failed the
//! whole Gamma-Gamma fit on one of them, leaving every customer without expected spend and CLV;
//! it also dropped a repeat buyer with a negative monetary value from the purchase model.)
//!
//! # Example
//!
//! The CDNOW sample of Fader, Hardie & Lee (2005), calibration to 1997-09-30, weekly:
//!
//! ```
//! use touchstone_value::*;
//! let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"),
//!                                 "/../../tests/fixtures/cdnow/CDNOW_sample.txt"));
//! let (mut customer, mut day, mut amount) = (vec![], vec![], vec![]);
//! for line in text.lines() {
//!     let f: Vec<&str> = line.split_whitespace().collect();
//!     let ymd: i32 = f[2].parse().unwrap();
//!     customer.push(f[1].parse::<u64>().unwrap());
//!     day.push(days_from_civil(ymd / 10_000, (ymd / 100 % 100) as u32, (ymd % 100) as u32)?);
//!     amount.push(f[4].parse::<f64>().unwrap());
//! }
//! let config = SummaryConfig {
//!     observation_start: None,
//!     calibration_end: days_from_civil(1997, 9, 30)?,
//!     holdout_end: None,
//!     time_unit: TimeUnit::Week,
//!     zero_amounts: ZeroAmounts::Keep,
//! };
//! let summary = summarize(&customer, &day, &amount, &config)?;
//!
//! let model = ValueModel::fit(&summary, &ValueModelOptions::default())?;
//! let bg = model.purchase().map_err(Clone::clone)?;
//! let (name, r) = bg.params.values()[0];
//! assert_eq!((name, (r * 1000.0).round() / 1000.0), ("r", 0.243));
//! let gg = model.spend().map_err(Clone::clone)?;
//! assert_eq!((gg.params.p * 100.0).round() / 100.0, 6.25); // Fader & Hardie (2013)
//! assert_eq!(model.counts().no_repeat_purchases, 2357 - 946);
//!
//! let scores = model.score(&summary, &ScoreOptions {
//!     horizon: 39.0,
//!     clv: ClvConfig::lifetimes_default(TimeUnit::Week),
//!     clv_horizon_purchases: false,
//! })?;
//! // Customer 0001: x = 2, tₓ = 30.43, T = 38.86.
//! assert!((scores.p_alive[0].unwrap() - 0.7266).abs() < 5e-4);
//! assert!(scores.clv.iter().all(Option::is_some));
//! assert_eq!(scores.exclusion[2], Some(Exclusion::NoRepeatPurchases));
//! # Ok::<(), ValueError>(())
//! ```

use std::fmt;
use std::time::Instant;

use crate::bgnbd::BgNbdParams;
use crate::clv::{ClvConfig, discounted_purchases_if_alive};
use crate::error::{Result, ValueError, same_len};
use crate::gamma_gamma::{GammaGammaParams, SpendData};
use crate::model::{PurchaseModel, check_horizon, distinct_pairs};
use crate::optim::{FitOptions, FitReport};
use crate::pareto::ParetoNbdParams;
use crate::rfm::RfmData;
use crate::stderr::StandardErrors;
use crate::summary::Summary;
use rayon::prelude::*;

/// The purchase-count model of a [`ValueModel`].
///
/// ```
/// use touchstone_value::PurchaseModelKind;
/// assert_eq!(PurchaseModelKind::default().name(), "BG/NBD");
/// assert_eq!(PurchaseModelKind::ParetoNbd.name(), "Pareto/NBD");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PurchaseModelKind {
    /// BG/NBD (Fader, Hardie & Lee 2005).
    #[default]
    BgNbd,
    /// Pareto/NBD (Schmittlein, Morrison & Colombo 1987).
    ParetoNbd,
}

impl PurchaseModelKind {
    /// The model's name for messages, as [`PurchaseModel::name`] spells it.
    pub fn name(self) -> &'static str {
        match self {
            PurchaseModelKind::BgNbd => "BG/NBD",
            PurchaseModelKind::ParetoNbd => "Pareto/NBD",
        }
    }
}

/// What [`ValueModel::fit`] fits, and how.
///
/// ```
/// use touchstone_value::{PurchaseModelKind, ValueModelOptions};
/// let o = ValueModelOptions { purchase_model: PurchaseModelKind::ParetoNbd, ..Default::default() };
/// assert_eq!(o.fit.max_iterations, 1000);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValueModelOptions {
    /// The purchase model.
    pub purchase_model: PurchaseModelKind,
    /// Minimiser options of both fits.
    pub fit: FitOptions,
}

/// Per-customer columns in model time units: what the models read. Built from a
/// [`Summary`] with `From`, or from any four parallel slices.
///
/// ```
/// use touchstone_value::Customers;
/// let c = Customers { frequency: &[2.0], recency: &[30.43], t: &[38.86], monetary_value: &[22.35] };
/// assert_eq!(c.len(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Customers<'a> {
    /// Repeat transactions (x).
    pub frequency: &'a [f64],
    /// Time of the last repeat transaction after the first (tₓ).
    pub recency: &'a [f64],
    /// Time from the first transaction to the end of calibration (T).
    pub t: &'a [f64],
    /// Mean amount of the repeat transactions (m̄); not used when frequency is 0.
    pub monetary_value: &'a [f64],
}

impl Customers<'_> {
    /// Number of customers.
    pub fn len(&self) -> usize {
        self.frequency.len()
    }

    /// Whether there are no customers.
    pub fn is_empty(&self) -> bool {
        self.frequency.is_empty()
    }

    fn check_lengths(&self) -> Result<()> {
        let n = self.len();
        same_len("recency", n, self.recency.len())?;
        same_len("T", n, self.t.len())?;
        same_len("monetary_value", n, self.monetary_value.len())
    }

    /// The customer's exclusion, by [`Exclusion::of`].
    fn exclusion(&self, i: usize) -> Option<Exclusion> {
        Exclusion::of(
            self.frequency[i],
            self.recency[i],
            self.t[i],
            self.monetary_value[i],
        )
    }

    /// Monetary value as the spend model reads it: 0 without repeat purchases.
    fn spend_input(&self, i: usize) -> f64 {
        if self.frequency[i] == 0.0 {
            0.0
        } else {
            self.monetary_value[i]
        }
    }
}

impl<'a> From<&'a Summary> for Customers<'a> {
    fn from(s: &'a Summary) -> Self {
        Customers {
            frequency: &s.frequency,
            recency: &s.recency,
            t: &s.t,
            monetary_value: &s.monetary_value,
        }
    }
}

/// Why a customer's row cannot be modelled at all.
///
/// ```
/// use touchstone_value::InvalidRow;
/// let r = InvalidRow::Recency { recency: 50.0, t: 10.0 };
/// assert_eq!(r.to_string(), "recency 50 must be between 0 and T (10)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InvalidRow {
    /// Frequency, recency, T or monetary value is NaN (missing) or infinite.
    NotFinite,
    /// Frequency is negative or not a whole number.
    Frequency {
        /// The frequency.
        frequency: f64,
    },
    /// Recency is negative or greater than T.
    Recency {
        /// The recency.
        recency: f64,
        /// The customer's T.
        t: f64,
    },
    /// Repeat purchases, yet recency 0: a repeat purchase is on a later day than the first.
    RepeatWithoutRecency,
    /// Recency above 0 without repeat purchases: recency is the time of the last *repeat*
    /// purchase.
    RecencyWithoutRepeat {
        /// The recency.
        recency: f64,
    },
}

impl fmt::Display for InvalidRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidRow::NotFinite => {
                f.write_str("frequency, recency, T or monetary_value is missing or not finite")
            }
            InvalidRow::Frequency { frequency } => write!(
                f,
                "frequency {frequency} is not a whole number of repeat purchases"
            ),
            InvalidRow::Recency { recency, t } => {
                write!(f, "recency {recency} must be between 0 and T ({t})")
            }
            InvalidRow::RepeatWithoutRecency => f.write_str("repeat purchases with recency 0"),
            InvalidRow::RecencyWithoutRepeat { recency } => write!(
                f,
                "recency {recency} without repeat purchases (it must be 0 when frequency is 0)"
            ),
        }
    }
}

/// Why a customer is left out of one or both models: the one exclusion policy of
/// [`ValueModel`] (see the [module docs](self) for the table and the reasoning). The `Display`
/// text states the reason, for notes.
///
/// ```
/// use touchstone_value::{Exclusion, InvalidRow};
/// assert_eq!(Exclusion::of(2.0, 30.0, 38.0, 22.5), None);
/// assert_eq!(Exclusion::of(0.0, 0.0, 38.0, 0.0), Some(Exclusion::NoRepeatPurchases));
/// let zero = Exclusion::of(2.0, 30.0, 38.0, 0.0).unwrap();
/// assert_eq!(zero, Exclusion::NonPositiveSpend { monetary_value: 0.0 });
/// assert!(zero.in_purchase_model() && !zero.gets_spend());
/// assert_eq!(zero.to_string(), "repeat purchases add up to 0");
/// assert_eq!(Exclusion::of(1.0, 5.0, 2.0, 9.0),
///            Some(Exclusion::Invalid(InvalidRow::Recency { recency: 5.0, t: 2.0 })));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Exclusion {
    /// The row cannot be modelled: left out of both models, nothing is scored.
    Invalid(InvalidRow),
    /// Frequency 0: left out of the spend model, which describes repeat transactions; their
    /// expected spend is the population mean.
    NoRepeatPurchases,
    /// Repeat purchases whose mean amount is 0 or less: left out of the spend model, no
    /// expected spend and no CLV.
    NonPositiveSpend {
        /// The customer's monetary value (≤ 0).
        monetary_value: f64,
    },
}

impl Exclusion {
    /// The exclusion of a customer with these values (frequency x, recency tₓ, T, monetary
    /// value m̄), or `None` when the customer is in both models. Checked in this order: any
    /// value not finite, x not a whole number ≥ 0, tₓ outside [0, T], x > 0 with tₓ = 0, x = 0
    /// with tₓ > 0; then x = 0, then m̄ ≤ 0.
    pub fn of(frequency: f64, recency: f64, t: f64, monetary_value: f64) -> Option<Exclusion> {
        let (x, tx) = (frequency, recency);
        let finite = [x, tx, t, monetary_value].iter().all(|v| v.is_finite());
        let invalid = if !finite {
            Some(InvalidRow::NotFinite)
        } else if x < 0.0 || x.fract() != 0.0 {
            Some(InvalidRow::Frequency { frequency: x })
        } else if tx < 0.0 || t < tx {
            Some(InvalidRow::Recency { recency: tx, t })
        } else if x > 0.0 && tx == 0.0 {
            Some(InvalidRow::RepeatWithoutRecency)
        } else if x == 0.0 && tx != 0.0 {
            Some(InvalidRow::RecencyWithoutRepeat { recency: tx })
        } else {
            None
        };
        if let Some(why) = invalid {
            Some(Exclusion::Invalid(why))
        } else if x == 0.0 {
            Some(Exclusion::NoRepeatPurchases)
        } else if monetary_value <= 0.0 {
            Some(Exclusion::NonPositiveSpend { monetary_value })
        } else {
            None
        }
    }

    /// Whether the customer is in the purchase model's fit (and gets P(alive) and expected
    /// purchases).
    pub fn in_purchase_model(&self) -> bool {
        !matches!(self, Exclusion::Invalid(_))
    }

    /// Whether the customer gets an expected spend (and so can get a CLV).
    pub fn gets_spend(&self) -> bool {
        matches!(self, Exclusion::NoRepeatPurchases)
    }
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exclusion::Invalid(why) => why.fmt(f),
            Exclusion::NoRepeatPurchases => f.write_str("no repeat purchases"),
            Exclusion::NonPositiveSpend { monetary_value } if *monetary_value < 0.0 => {
                f.write_str("repeat purchases add up to less than 0")
            }
            Exclusion::NonPositiveSpend { .. } => f.write_str("repeat purchases add up to 0"),
        }
    }
}

/// How many customers each model was fitted on, and how many were left out and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CustomerCounts {
    /// Customers given to [`ValueModel::fit`].
    pub customers: usize,
    /// Customers the purchase model was fitted on.
    pub purchase_model: usize,
    /// Customers the spend model was fitted on.
    pub spend_model: usize,
    /// [`Exclusion::Invalid`] customers.
    pub invalid: usize,
    /// [`Exclusion::NoRepeatPurchases`] customers.
    pub no_repeat_purchases: usize,
    /// [`Exclusion::NonPositiveSpend`] customers.
    pub non_positive_spend: usize,
}

/// Fitted purchase-model parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PurchaseParams {
    /// BG/NBD.
    BgNbd(BgNbdParams),
    /// Pareto/NBD.
    ParetoNbd(ParetoNbdParams),
}

impl PurchaseParams {
    /// The model, for scoring.
    pub fn model(&self) -> &dyn PurchaseModel {
        match self {
            PurchaseParams::BgNbd(m) => m,
            PurchaseParams::ParetoNbd(m) => m,
        }
    }

    /// Which model.
    pub fn kind(&self) -> PurchaseModelKind {
        match self {
            PurchaseParams::BgNbd(_) => PurchaseModelKind::BgNbd,
            PurchaseParams::ParetoNbd(_) => PurchaseModelKind::ParetoNbd,
        }
    }

    /// Parameter names and values, in the order of the model's standard errors.
    ///
    /// ```
    /// use touchstone_value::{BgNbdParams, PurchaseParams};
    /// let p = PurchaseParams::BgNbd(BgNbdParams::new(0.243, 4.414, 0.793, 2.426).unwrap());
    /// assert_eq!(p.values()[1], ("alpha", 4.414));
    /// ```
    pub fn values(&self) -> Vec<(&'static str, f64)> {
        match self {
            PurchaseParams::BgNbd(m) => {
                vec![("r", m.r), ("alpha", m.alpha), ("a", m.a), ("b", m.b)]
            }
            PurchaseParams::ParetoNbd(m) => {
                vec![("r", m.r), ("alpha", m.alpha), ("s", m.s), ("beta", m.beta)]
            }
        }
    }
}

/// The fitted purchase model.
#[derive(Debug, Clone, PartialEq)]
pub struct PurchaseFit {
    /// Parameters (the best found when the fit did not converge).
    pub params: PurchaseParams,
    /// How the fit went.
    pub report: FitReport,
    /// Wall time of the fit, in seconds.
    pub seconds: f64,
}

/// The fitted Gamma-Gamma spend model.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendFit {
    /// Parameters (the best found when the fit did not converge).
    pub params: GammaGammaParams,
    /// How the fit went.
    pub report: FitReport,
    /// Wall time of the fit, in seconds.
    pub seconds: f64,
}

/// Fits the customer-value models; see [`ValueModel::fit`].
#[derive(Debug, Clone, Copy)]
pub struct ValueModel;

impl ValueModel {
    /// Fits the purchase model on every customer not [`Exclusion::Invalid`], and the
    /// Gamma-Gamma spend model on the customers with repeat purchases and a positive monetary
    /// value (the [module docs](self) say why).
    ///
    /// A model that cannot be fitted (too little data, say) is not an error of the call: it is
    /// the `Err` of [`FittedValueModel::purchase`] or [`FittedValueModel::spend`], and the
    /// customers get no values from it. Errors as a whole only when the columns' lengths
    /// differ.
    ///
    /// ```
    /// use touchstone_value::{Customers, ValueError, ValueModel, ValueModelOptions};
    /// let c = Customers { frequency: &[1.0, 0.0], recency: &[3.0, 0.0], t: &[9.0, 5.0],
    ///                     monetary_value: &[10.0, 0.0] };
    /// let m = ValueModel::fit(c, &ValueModelOptions::default())?;
    /// assert!(matches!(m.purchase(), Err(ValueError::InsufficientData { need: 5, .. })));
    /// # Ok::<(), ValueError>(())
    /// ```
    pub fn fit<'a>(
        customers: impl Into<Customers<'a>>,
        options: &ValueModelOptions,
    ) -> Result<FittedValueModel> {
        let c = customers.into();
        c.check_lengths()?;
        let mut counts = CustomerCounts {
            customers: c.len(),
            ..CustomerCounts::default()
        };
        let (mut x, mut tx, mut t) = (Vec::new(), Vec::new(), Vec::new());
        let (mut spend_x, mut spend_m) = (Vec::new(), Vec::new());
        for i in 0..c.len() {
            match c.exclusion(i) {
                Some(Exclusion::Invalid(_)) => {
                    counts.invalid += 1;
                    continue;
                }
                Some(Exclusion::NoRepeatPurchases) => counts.no_repeat_purchases += 1,
                Some(Exclusion::NonPositiveSpend { .. }) => counts.non_positive_spend += 1,
                None => {
                    spend_x.push(c.frequency[i]);
                    spend_m.push(c.monetary_value[i]);
                }
            }
            x.push(c.frequency[i]);
            tx.push(c.recency[i]);
            t.push(c.t[i]);
        }
        counts.purchase_model = x.len();
        counts.spend_model = spend_x.len();

        let opts = &options.fit;
        let rfm = RfmData::new(&x, &tx, &t);
        let purchase = rfm.as_ref().map_err(Clone::clone).and_then(|data| {
            let started = Instant::now();
            let (params, report) = match options.purchase_model {
                PurchaseModelKind::BgNbd => BgNbdParams::fit(data, opts)
                    .map(|f| (PurchaseParams::BgNbd(f.params), f.report))?,
                PurchaseModelKind::ParetoNbd => ParetoNbdParams::fit(data, opts)
                    .map(|f| (PurchaseParams::ParetoNbd(f.params), f.report))?,
            };
            Ok(PurchaseFit {
                params,
                report,
                seconds: started.elapsed().as_secs_f64(),
            })
        });

        let spend_data = if spend_x.is_empty() {
            // As SpendData and the fit would say: no rows at all, or no repeat customers.
            Err(if x.is_empty() {
                ValueError::EmptyInput { what: "spend data" }
            } else {
                ValueError::InsufficientData {
                    model: "Gamma-Gamma",
                    reason: "customers with a repeat purchase",
                    have: 0,
                    need: 3,
                }
            })
        } else {
            SpendData::new(&spend_x, &spend_m)
        };
        let spend = spend_data.as_ref().map_err(Clone::clone).and_then(|data| {
            let started = Instant::now();
            let fit = GammaGammaParams::fit(data, opts)?;
            Ok(SpendFit {
                params: fit.params,
                report: fit.report,
                seconds: started.elapsed().as_secs_f64(),
            })
        });
        Ok(FittedValueModel {
            purchase,
            spend,
            rfm: rfm.ok(),
            spend_data: spend_data.ok(),
            counts,
        })
    }
}

/// The purchase and spend models fitted by [`ValueModel::fit`], ready to score customers.
#[derive(Debug, Clone)]
pub struct FittedValueModel {
    purchase: Result<PurchaseFit>,
    spend: Result<SpendFit>,
    rfm: Option<RfmData>,
    spend_data: Option<SpendData>,
    counts: CustomerCounts,
}

/// What [`FittedValueModel::score`] computes.
///
/// ```
/// use touchstone_value::{ClvConfig, ScoreOptions, TimeUnit};
/// let o = ScoreOptions { horizon: 90.0, clv: ClvConfig::lifetimes_default(TimeUnit::Day),
///                        clv_horizon_purchases: true };
/// assert_eq!(o.clv.time_units_per_month, 30.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreOptions {
    /// Horizon of the expected purchases after T, in the data's time units.
    pub horizon: f64,
    /// CLV months, discount and margin; its `time_units_per_month` must be in the data's unit.
    pub clv: ClvConfig,
    /// Also compute the expected purchases over the CLV horizon (months × time units per month).
    pub clv_horizon_purchases: bool,
}

/// Why one of a customer's values could not be computed although the customer is in the
/// model (a missing value of an excluded customer is explained by its [`Exclusion`], and one
/// of a model that was not fitted by [`FittedValueModel::purchase`] or
/// [`FittedValueModel::spend`]).
#[derive(Debug, Clone, PartialEq)]
pub enum ScoreProblem {
    /// P(alive) or an expected-purchases value could not be computed: all of them are empty,
    /// and so is CLV.
    Purchases(ValueError),
    /// The expected spend could not be computed (p·x + q ≤ 1: the spend model's mean is
    /// infinite); CLV is empty.
    Spend(ValueError),
    /// CLV could not be computed.
    Clv(ValueError),
}

impl fmt::Display for ScoreProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScoreProblem::Purchases(e) => write!(f, "purchases not scored: {e}"),
            ScoreProblem::Spend(e) => write!(f, "expected spend not computed: {e}"),
            ScoreProblem::Clv(e) => write!(f, "clv not computed: {e}"),
        }
    }
}

/// Per-customer values, in the order of the customers scored. `None` is explained by the
/// customer's exclusion, its problems, or a model that was not fitted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scores {
    /// The customer's exclusion, by [`Exclusion::of`].
    pub exclusion: Vec<Option<Exclusion>>,
    /// P(alive at T).
    pub p_alive: Vec<Option<f64>>,
    /// Expected purchases in (T, T + horizon].
    pub expected_purchases: Vec<Option<f64>>,
    /// Expected purchases over the CLV horizon, when [`ScoreOptions::clv_horizon_purchases`].
    pub expected_purchases_clv_horizon: Option<Vec<Option<f64>>>,
    /// Gamma-Gamma expected mean spend per transaction.
    pub expected_spend: Vec<Option<f64>>,
    /// Customer lifetime value ([`crate::clv`]).
    pub clv: Vec<Option<f64>>,
    /// Values that could not be computed, and why.
    pub problems: Vec<Vec<ScoreProblem>>,
}

impl Scores {
    /// Number of customers.
    pub fn len(&self) -> usize {
        self.exclusion.len()
    }

    /// Whether no customer was scored.
    pub fn is_empty(&self) -> bool {
        self.exclusion.is_empty()
    }
}

/// `v` when it is a finite number, else the reason.
fn finite(v: &Result<f64>, function: &'static str) -> Result<f64> {
    match v {
        Ok(v) if v.is_finite() => Ok(*v),
        Ok(_) => Err(ValueError::NumericalFailure {
            function,
            reason: "not a finite number",
        }),
        Err(e) => Err(e.clone()),
    }
}

impl FittedValueModel {
    /// The purchase model, or why it could not be fitted.
    pub fn purchase(&self) -> std::result::Result<&PurchaseFit, &ValueError> {
        self.purchase.as_ref()
    }

    /// The spend model, or why it could not be fitted.
    pub fn spend(&self) -> std::result::Result<&SpendFit, &ValueError> {
        self.spend.as_ref()
    }

    /// Customers fitted on and left out.
    pub fn counts(&self) -> CustomerCounts {
        self.counts
    }

    /// Standard errors of the purchase model's parameters (see [`crate::stderr`]); meaningful
    /// when its fit converged.
    pub fn purchase_standard_errors(&self) -> Result<StandardErrors> {
        let fit = self.purchase.as_ref().map_err(Clone::clone)?;
        let data = self
            .rfm
            .as_ref()
            .ok_or(ValueError::EmptyInput { what: "rfm" })?;
        match &fit.params {
            PurchaseParams::BgNbd(m) => m.standard_errors(data),
            PurchaseParams::ParetoNbd(m) => m.standard_errors(data),
        }
    }

    /// Standard errors of the Gamma-Gamma parameters; meaningful when its fit converged.
    pub fn spend_standard_errors(&self) -> Result<StandardErrors> {
        let fit = self.spend.as_ref().map_err(Clone::clone)?;
        let data = self.spend_data.as_ref().ok_or(ValueError::EmptyInput {
            what: "spend data (no repeat customers)",
        })?;
        fit.params.standard_errors(data)
    }

    /// Scores `customers` (usually those fitted on) with the fitted models, each customer on
    /// their own: a value that cannot be computed is `None` with a [`ScoreProblem`], never an
    /// error of the call. Errors as a whole when the lengths differ, the horizon is not finite
    /// and ≥ 0, or the CLV configuration is invalid.
    ///
    /// ```
    /// use touchstone_value::*;
    /// let (x, tx, t) = (vec![2.0, 0.0, 3.0, 1.0, 4.0, 0.0, 1.0],
    ///                   vec![30.0, 0.0, 20.0, 5.0, 35.0, 0.0, 12.0],
    ///                   vec![38.0, 30.0, 39.0, 20.0, 39.0, 10.0, 25.0]);
    /// let m = vec![20.0, 0.0, 35.0, 0.0, 12.0, 0.0, 50.0];
    /// let c = Customers { frequency: &x, recency: &tx, t: &t, monetary_value: &m };
    /// let model = ValueModel::fit(c, &ValueModelOptions::default())?;
    /// assert_eq!(model.counts().non_positive_spend, 1);
    /// let s = model.score(c, &ScoreOptions { horizon: 10.0,
    ///     clv: ClvConfig::lifetimes_default(TimeUnit::Week), clv_horizon_purchases: false })?;
    /// // Customer 3 bought again for 0 in total: purchases scored, no spend, no CLV.
    /// assert!(s.p_alive[3].is_some() && s.expected_spend[3].is_none() && s.clv[3].is_none());
    /// assert_eq!(s.exclusion[3].unwrap().to_string(), "repeat purchases add up to 0");
    /// # Ok::<(), ValueError>(())
    /// ```
    pub fn score<'a>(
        &self,
        customers: impl Into<Customers<'a>>,
        options: &ScoreOptions,
    ) -> Result<Scores> {
        let c = customers.into();
        c.check_lengths()?;
        check_horizon(options.horizon)?;
        options.clv.check()?;
        let n = c.len();
        let exclusion: Vec<Option<Exclusion>> = (0..n).map(|i| c.exclusion(i)).collect();
        let mut s = Scores {
            p_alive: vec![None; n],
            expected_purchases: vec![None; n],
            expected_purchases_clv_horizon: options.clv_horizon_purchases.then(|| vec![None; n]),
            expected_spend: vec![None; n],
            clv: vec![None; n],
            problems: vec![Vec::new(); n],
            exclusion,
        };
        // The customers in the purchase model, and their columns.
        let rows: Vec<usize> = (0..n)
            .filter(|&i| s.exclusion[i].is_none_or(|e| e.in_purchase_model()))
            .collect();
        let pick = |v: &[f64]| -> Vec<f64> { rows.iter().map(|&i| v[i]).collect() };
        let (x, tx, t) = (pick(c.frequency), pick(c.recency), pick(c.t));

        // Purchases: all of a customer's values, or none.
        let model = self.purchase.as_ref().ok().map(|f| f.params.model());
        if let Some(model) = model {
            let alive = model.p_alive_each(&x, &tx, &t)?;
            let expected =
                model.conditional_expected_purchases_each(options.horizon, &x, &tx, &t)?;
            let clv_horizon = f64::from(options.clv.months) * options.clv.time_units_per_month;
            let over_clv = if options.clv_horizon_purchases {
                Some(model.conditional_expected_purchases_each(clv_horizon, &x, &tx, &t)?)
            } else {
                None
            };
            for (j, &i) in rows.iter().enumerate() {
                let a = finite(&alive[j], "p_alive");
                let e = finite(&expected[j], "expected purchases");
                let h = over_clv
                    .as_ref()
                    .map(|v| finite(&v[j], "expected purchases"));
                match (a, e, h) {
                    (Ok(a), Ok(e), h @ (None | Some(Ok(_)))) => {
                        s.p_alive[i] = Some(a);
                        s.expected_purchases[i] = Some(e);
                        if let (Some(col), Some(Ok(h))) =
                            (s.expected_purchases_clv_horizon.as_mut(), h)
                        {
                            col[i] = Some(h);
                        }
                    }
                    (a, e, h) => {
                        let why = [a.err(), e.err(), h.and_then(|h| h.err())]
                            .into_iter()
                            .flatten()
                            .next();
                        if let Some(why) = why {
                            s.problems[i].push(ScoreProblem::Purchases(why));
                        }
                    }
                }
            }
        }

        // Spend, for the customers the spend policy gives one.
        if let Ok(spend) = &self.spend {
            let gets_spend: Vec<usize> = rows
                .iter()
                .copied()
                .filter(|&i| s.exclusion[i].is_none_or(|e| e.gets_spend()))
                .collect();
            let sx: Vec<f64> = gets_spend.iter().map(|&i| c.frequency[i]).collect();
            let sm: Vec<f64> = gets_spend.iter().map(|&i| c.spend_input(i)).collect();
            let values = spend.params.conditional_expected_spend_each(&sx, &sm)?;
            for (j, &i) in gets_spend.iter().enumerate() {
                match finite(&values[j], "expected spend") {
                    Ok(v) => s.expected_spend[i] = Some(v),
                    Err(e) => s.problems[i].push(ScoreProblem::Spend(e)),
                }
            }
        }

        // CLV: P(alive) × discounted expected purchases if alive × spend × margin, the
        // purchase curve shared by customers with equal (x, T).
        if let Some(model) = model {
            let valued: Vec<usize> = (0..n)
                .filter(|&i| s.p_alive[i].is_some() && s.expected_spend[i].is_some())
                .collect();
            let vx: Vec<f64> = valued.iter().map(|&i| c.frequency[i]).collect();
            let vt: Vec<f64> = valued.iter().map(|&i| c.t[i]).collect();
            let (keys, key_of) = distinct_pairs(&vx, &vt);
            let curves: Vec<Result<f64>> = keys
                .par_iter()
                .map(|&(x, t)| discounted_purchases_if_alive(model, x, t, &options.clv))
                .collect();
            for (j, &i) in valued.iter().enumerate() {
                let (Some(alive), Some(spend)) = (s.p_alive[i], s.expected_spend[i]) else {
                    continue;
                };
                let value = curves[key_of[j]]
                    .clone()
                    .map(|curve| alive * curve * spend * options.clv.margin);
                match finite(&value, "clv") {
                    Ok(v) => s.clv[i] = Some(v),
                    Err(e) => s.problems[i].push(ScoreProblem::Clv(e)),
                }
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clv::customer_lifetime_value_each;
    use crate::summary::TimeUnit;
    use crate::summary::tests::{cdnow_config, cdnow_summary};
    use crate::test_util::round_to;

    fn week_options() -> ScoreOptions {
        ScoreOptions {
            horizon: 39.0,
            clv: ClvConfig::lifetimes_default(TimeUnit::Week),
            clv_horizon_purchases: true,
        }
    }

    #[test]
    fn cdnow_reproduces_the_published_fits_and_the_direct_calls() {
        let summary = cdnow_summary();
        assert_eq!(summary.config, cdnow_config());
        let model = ValueModel::fit(&summary, &ValueModelOptions::default()).unwrap();
        let bg = model.purchase().unwrap();
        let values: Vec<f64> = bg
            .params
            .values()
            .iter()
            .map(|v| round_to(v.1, 3))
            .collect();
        assert_eq!(values, [0.243, 4.414, 0.793, 2.426]);
        let gg = model.spend().unwrap().params;
        assert_eq!(
            [round_to(gg.p, 2), round_to(gg.q, 2), round_to(gg.gamma, 2)],
            [6.25, 3.74, 15.44]
        );
        let counts = model.counts();
        assert_eq!(
            (counts.customers, counts.purchase_model, counts.spend_model),
            (2357, 2357, 946)
        );
        assert!(model.purchase_standard_errors().is_ok());
        assert!(model.spend_standard_errors().is_ok());

        // The same numbers as the per-model functions, bit for bit.
        let s = model.score(&summary, &week_options()).unwrap();
        let m = bg.params.model();
        let (x, tx, t, mv) = (
            &summary.frequency,
            &summary.recency,
            &summary.t,
            &summary.monetary_value,
        );
        let alive = m.p_alive_many(x, tx, t).unwrap();
        let clv = customer_lifetime_value_each(m, &gg, x, tx, t, mv, &week_options().clv)
            .unwrap()
            .into_iter()
            .collect::<Result<Vec<f64>>>()
            .unwrap();
        let spend = gg.conditional_expected_spend_many(x, mv).unwrap();
        for i in 0..summary.len() {
            assert_eq!(s.p_alive[i], Some(alive[i]));
            assert_eq!(s.expected_spend[i], Some(spend[i]));
            assert_eq!(s.clv[i], Some(clv[i]));
            assert!(s.problems[i].is_empty());
        }
        let horizon = s.expected_purchases_clv_horizon.unwrap();
        assert!(horizon.iter().all(Option::is_some));
    }

    #[test]
    fn non_positive_spend_is_out_of_the_spend_fit_only() {
        let summary = cdnow_summary();
        let base = ValueModel::fit(&summary, &ValueModelOptions::default()).unwrap();
        // Customer 0001's repeat purchases now add up to 0, customer 0002's to less than 0.
        let mut m = summary.monetary_value.clone();
        m[0] = 0.0;
        m[1] = -3.0;
        let c = Customers {
            monetary_value: &m,
            ..Customers::from(&summary)
        };
        let model = ValueModel::fit(c, &ValueModelOptions::default()).unwrap();
        assert_eq!(model.counts().non_positive_spend, 2);
        assert_eq!(model.counts().spend_model, 944);
        assert_eq!(model.counts().purchase_model, 2357);
        assert_eq!(
            model.purchase().unwrap().params,
            base.purchase().unwrap().params
        );
        assert_ne!(
            model.spend().unwrap().params,
            base.spend().unwrap().params,
            "fitted without them"
        );
        let s = model.score(c, &week_options()).unwrap();
        for i in [0, 1] {
            assert!(s.p_alive[i].is_some() && s.expected_purchases[i].is_some());
            assert_eq!((s.expected_spend[i], s.clv[i]), (None, None));
            assert!(s.problems[i].is_empty(), "the exclusion explains it");
        }
        assert_eq!(
            s.exclusion[1].map(|e| e.to_string()).as_deref(),
            Some("repeat purchases add up to less than 0")
        );
        assert!(s.clv[2..].iter().all(Option::is_some));
    }

    #[test]
    fn invalid_rows_are_left_out_and_too_little_data_is_a_model_error() {
        let x = [1.0, 0.0, 2.5, 1.0, 0.0, 1.0, f64::NAN];
        let tx = [5.0, 0.0, 3.0, 0.0, 2.0, 9.0, 1.0];
        let t = [9.0, 4.0, 9.0, 9.0, 9.0, 8.0, 9.0];
        let m = [10.0, 0.0, 5.0, 5.0, 0.0, 7.0, 1.0];
        let c = Customers {
            frequency: &x,
            recency: &tx,
            t: &t,
            monetary_value: &m,
        };
        let model = ValueModel::fit(c, &ValueModelOptions::default()).unwrap();
        let counts = model.counts();
        assert_eq!((counts.invalid, counts.purchase_model), (5, 2));
        assert!(matches!(
            model.purchase(),
            Err(ValueError::InsufficientData { have: 2, .. })
        ));
        assert!(matches!(
            model.spend(),
            Err(ValueError::InsufficientData {
                have: 1,
                need: 3,
                ..
            })
        ));
        let s = model.score(c, &week_options()).unwrap();
        assert!(s.p_alive.iter().all(Option::is_none));
        let texts: Vec<String> = s
            .exclusion
            .iter()
            .map(|e| e.map(|e| e.to_string()).unwrap_or_default())
            .collect();
        assert_eq!(
            texts,
            [
                "",
                "no repeat purchases",
                "frequency 2.5 is not a whole number of repeat purchases",
                "repeat purchases with recency 0",
                "recency 2 without repeat purchases (it must be 0 when frequency is 0)",
                "recency 9 must be between 0 and T (8)",
                "frequency, recency, T or monetary_value is missing or not finite",
            ]
        );
        // No rows at all: both models say so.
        let none = Customers {
            frequency: &[],
            recency: &[],
            t: &[],
            monetary_value: &[],
        };
        let model = ValueModel::fit(none, &ValueModelOptions::default()).unwrap();
        assert!(matches!(
            model.purchase(),
            Err(ValueError::EmptyInput { .. })
        ));
        assert!(matches!(model.spend(), Err(ValueError::EmptyInput { .. })));
    }

    #[test]
    fn bad_options_and_lengths_are_errors_of_the_call() {
        let summary = cdnow_summary();
        let model = ValueModel::fit(&summary, &ValueModelOptions::default()).unwrap();
        let bad_horizon = ScoreOptions {
            horizon: -1.0,
            ..week_options()
        };
        assert!(model.score(&summary, &bad_horizon).is_err());
        let bad_clv = ScoreOptions {
            clv: ClvConfig {
                months: 0,
                ..week_options().clv
            },
            ..week_options()
        };
        assert!(model.score(&summary, &bad_clv).is_err());
        let short = Customers {
            t: &summary.t[1..],
            ..Customers::from(&summary)
        };
        assert!(matches!(
            ValueModel::fit(short, &ValueModelOptions::default()),
            Err(ValueError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn pareto_nbd_is_selectable() {
        let summary = cdnow_summary();
        let model = ValueModel::fit(
            &summary,
            &ValueModelOptions {
                purchase_model: PurchaseModelKind::ParetoNbd,
                ..ValueModelOptions::default()
            },
        )
        .unwrap();
        let p = model.purchase().unwrap();
        assert_eq!(p.params.kind(), PurchaseModelKind::ParetoNbd);
        let values: Vec<f64> = p.params.values().iter().map(|v| round_to(v.1, 3)).collect();
        assert_eq!(values, [0.553, 10.578, 0.606, 11.669]);
    }
}
