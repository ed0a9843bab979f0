//! Statistical customer-value and retention models in pure Rust: BG/NBD, Pareto/NBD,
//! Gamma-Gamma spend, CLV, shifted-beta-geometric retention and Kaplan–Meier curves.
//!
//! No engine dependency: inputs are plain slices (dates as `i32` day numbers), outputs are
//! plain vectors, and the numerics (log-gamma, digamma, ₂F₁, optimisers) are written here.
//!
//! Typical flow: fit the BG/NBD on the CDNOW summary of Fader, Hardie & Lee (2005), then
//! score customers.
//!
//! ```
//! use touchstone_value::*;
//! let csv = include_str!(concat!(env!("CARGO_MANIFEST_DIR"),
//!                                "/../../tests/fixtures/cdnow/cdnow_customers_summary.csv"));
//! let (mut x, mut tx, mut t) = (vec![], vec![], vec![]);
//! for line in csv.lines().skip(1) {
//!     let f: Vec<f64> = line.split(',').map(|v| v.parse().unwrap()).collect();
//!     x.push(f[1]);
//!     tx.push(f[2]);
//!     t.push(f[3]);
//! }
//! let fit = BgNbdParams::fit(&RfmData::new(&x, &tx, &t)?, &FitOptions::default())?;
//! assert!(fit.report.converged);
//! assert_eq!((fit.params.r * 1000.0).round() / 1000.0, 0.243);
//! // Asymptotic standard errors from the observed information (lifetimes prints 0.012557).
//! let se = fit.params.standard_errors(&RfmData::new(&x, &tx, &t)?)?;
//! assert_eq!((se.std_errors[0] * 1e6).round() / 1e6, 0.012557);
//! let p_alive = fit.params.p_alive_many(&x, &tx, &t)?;
//! let next_year = fit.params.conditional_expected_purchases_many(52.0, &x, &tx, &t)?;
//! assert!(p_alive.iter().all(|p| (0.0..=1.0).contains(p)));
//! assert!(next_year.iter().all(|e| *e >= 0.0));
//! # Ok::<(), ValueError>(())
//! ```
//!
//! Every parameter type has a `standard_errors` method (BG/NBD, Pareto/NBD, Gamma-Gamma, sBG):
//! the inverse of the observed information matrix, see [`stderr`].
//!
//! From raw transactions, [`summarize`] builds the (frequency, recency, T, monetary) columns
//! with the same conventions (same-day purchases are one transaction, weeks are 7 days).
//!
//! [`ValueModel::fit`] fits a purchase model and Gamma-Gamma on such a summary with one
//! exclusion policy ([`Exclusion`]), and [`FittedValueModel::score`] gives every customer
//! P(alive), expected purchases, expected spend and CLV, or the reason a value is missing: see
//! [`value_model`].

#![warn(missing_docs)]

pub mod bgnbd;
pub mod clv;
pub mod error;
pub mod gamma_gamma;
pub mod km;
pub mod model;
pub mod optim;
pub mod pareto;
pub mod rfm;
pub mod sbg;
pub mod special;
pub mod stderr;
pub mod summary;
#[cfg(test)]
mod test_util;
pub mod value_model;

pub use bgnbd::BgNbdParams;
pub use clv::{
    CalibrationHoldoutRow, ClvConfig, calibration_holdout_table, clv_deciles, customer_equity,
    customer_lifetime_value, customer_lifetime_value_each, expected_cumulative_transactions,
};
pub use error::{Result, ValueError};
pub use gamma_gamma::{GammaGammaParams, SpendData};
pub use km::{KaplanMeier, kaplan_meier};
pub use model::PurchaseModel;
pub use optim::{Fit, FitOptions, FitReport, Method};
pub use pareto::ParetoNbdParams;
pub use rfm::RfmData;
pub use sbg::SbgParams;
pub use stderr::StandardErrors;
pub use summary::{
    Exclusions, Holdout, OrderExclusion, Summary, SummaryConfig, TimeUnit, ZeroAmounts,
    days_from_civil, summarize,
};
pub use value_model::{
    CustomerCounts, Customers, Exclusion, FittedValueModel, InvalidRow, PurchaseFit,
    PurchaseModelKind, PurchaseParams, ScoreOptions, ScoreProblem, Scores, SpendFit, ValueModel,
    ValueModelOptions,
};
