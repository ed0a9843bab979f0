//! The `value:` section of a pipeline file: customer-value and retention model settings.

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, ErrorCode, Span};

/// The `value:` section: how the customer-value and retention tables are computed.
///
/// ```yaml
/// value:
///   model: bgnbd               # or pareto_nbd
///   horizon_days: 90           # customer_value.expected_purchases covers this many days
///   clv_months: 12
///   monthly_discount: 0.01
///   margin: 0.35               # share of revenue that is profit
///   support_cost_per_minute: 1.2
///   inactive_after_days: 60    # retention_curve: no purchase for this long = churned
///   projection_periods: 12     # retention_projection: months projected by the sBG model
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueFile {
    /// The purchase model: bgnbd (default) or pareto_nbd.
    #[serde(default)]
    pub model: Option<Spanned<PurchaseModelKind>>,
    /// Days after the run date that `expected_purchases` covers (default 90).
    #[serde(default)]
    pub horizon_days: Option<Spanned<u32>>,
    /// Months of CLV (default 12; a month is 30 days, as `lifetimes` counts for daily data).
    #[serde(default)]
    pub clv_months: Option<Spanned<u32>>,
    /// Monthly discount rate of CLV (default 0.01).
    #[serde(default)]
    pub monthly_discount: Option<Spanned<f64>>,
    /// Share of revenue that is profit (default 1.0: CLV in revenue).
    #[serde(default)]
    pub margin: Option<Spanned<f64>>,
    /// Cost of one minute of agent time, for cost to serve (default 1.0).
    #[serde(default)]
    pub support_cost_per_minute: Option<Spanned<f64>>,
    /// A customer with no purchase for this many days is counted as churned in
    /// `retention_curve` (default 60).
    #[serde(default)]
    pub inactive_after_days: Option<Spanned<u32>>,
    /// Monthly periods `retention_projection` projects (default 12).
    #[serde(default)]
    pub projection_periods: Option<Spanned<u32>>,
}

/// Purchase models for customer value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseModelKind {
    /// BG/NBD (Fader, Hardie & Lee 2005).
    #[default]
    Bgnbd,
    /// Pareto/NBD (Schmittlein, Morrison & Colombo 1987).
    ParetoNbd,
}

impl PurchaseModelKind {
    /// The name as written in YAML and in the output tables.
    pub fn name(self) -> &'static str {
        match self {
            PurchaseModelKind::Bgnbd => "bgnbd",
            PurchaseModelKind::ParetoNbd => "pareto_nbd",
        }
    }
}

/// Validated value-model settings (defaults filled in).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueSettings {
    /// Purchase model.
    pub model: PurchaseModelKind,
    /// Expected-purchases horizon in days.
    pub horizon_days: u32,
    /// CLV horizon in months.
    pub clv_months: u32,
    /// Monthly discount rate.
    pub monthly_discount: f64,
    /// Profit margin.
    pub margin: f64,
    /// Cost of an agent minute.
    pub support_cost_per_minute: f64,
    /// Days without purchase after which a customer counts as churned.
    pub inactive_after_days: u32,
    /// Monthly periods projected.
    pub projection_periods: u32,
}

impl Default for ValueSettings {
    fn default() -> Self {
        ValueSettings {
            model: PurchaseModelKind::Bgnbd,
            horizon_days: 90,
            clv_months: 12,
            monthly_discount: 0.01,
            margin: 1.0,
            support_cost_per_minute: 1.0,
            inactive_after_days: 60,
            projection_periods: 12,
        }
    }
}

pub(super) fn validate_value(
    file: &str,
    raw: Option<&ValueFile>,
    problems: &mut Vec<Diagnostic>,
) -> ValueSettings {
    let mut settings = ValueSettings::default();
    let Some(raw) = raw else {
        return settings;
    };
    let mut int = |v: &Option<Spanned<u32>>, name: &str, min: u32, max: u32, target: &mut u32| {
        if let Some(v) = v {
            if (min..=max).contains(&v.value) {
                *target = v.value;
            } else {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidValue,
                        format!("value.{name} is {}", v.value),
                    )
                    .at(Span::of(file, v))
                    .with_help(format!("use a whole number from {min} to {max}")),
                );
            }
        }
    };
    int(
        &raw.horizon_days,
        "horizon_days",
        1,
        3650,
        &mut settings.horizon_days,
    );
    int(
        &raw.clv_months,
        "clv_months",
        1,
        600,
        &mut settings.clv_months,
    );
    int(
        &raw.inactive_after_days,
        "inactive_after_days",
        1,
        3650,
        &mut settings.inactive_after_days,
    );
    int(
        &raw.projection_periods,
        "projection_periods",
        1,
        600,
        &mut settings.projection_periods,
    );
    let mut real = |v: &Option<Spanned<f64>>,
                    name: &str,
                    ok: fn(f64) -> bool,
                    help: &str,
                    target: &mut f64| {
        if let Some(v) = v {
            if v.value.is_finite() && ok(v.value) {
                *target = v.value;
            } else {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidValue,
                        format!("value.{name} is {}", v.value),
                    )
                    .at(Span::of(file, v))
                    .with_help(help.to_string()),
                );
            }
        }
    };
    real(
        &raw.monthly_discount,
        "monthly_discount",
        |d| (0.0..1.0).contains(&d),
        "use a rate from 0 to 1, e.g. 0.01 for 1% a month",
        &mut settings.monthly_discount,
    );
    real(
        &raw.margin,
        "margin",
        |m| m > 0.0 && m <= 1.0,
        "use a share of revenue above 0 and at most 1, e.g. 0.35",
        &mut settings.margin,
    );
    real(
        &raw.support_cost_per_minute,
        "support_cost_per_minute",
        |c| c >= 0.0,
        "use a cost of 0 or more",
        &mut settings.support_cost_per_minute,
    );
    if let Some(m) = &raw.model {
        settings.model = m.value;
    }
    settings
}
