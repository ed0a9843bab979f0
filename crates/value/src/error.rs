//! The one error type of the crate.

/// Everything that can go wrong in `touchstone-value`.
///
/// Variants name the condition and carry the offending values, so a caller can map them to
/// its own diagnostics without parsing text.
///
/// ```
/// use touchstone_value::{RfmData, ValueError};
/// let err = RfmData::new(&[1.0], &[5.0], &[2.0]).unwrap_err();
/// assert!(matches!(err, ValueError::InvalidInput { field: "recency", index: 0, .. }));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// An input that must have rows has none.
    #[error("{what}: input is empty")]
    EmptyInput {
        /// Which input.
        what: &'static str,
    },
    /// Parallel input columns have different lengths.
    #[error("{what}: column lengths differ ({left} vs {right})")]
    LengthMismatch {
        /// Which input.
        what: &'static str,
        /// Length of the first column.
        left: usize,
        /// Length of the column that differs.
        right: usize,
    },
    /// One input value is out of its domain.
    #[error("{field}[{index}] = {value}: {reason}")]
    InvalidInput {
        /// Column name.
        field: &'static str,
        /// Row index (0-based) in the column as given.
        index: usize,
        /// The offending value.
        value: f64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A model or function parameter is out of its domain.
    #[error("parameter {name} = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The offending value.
        value: f64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The data cannot identify the model.
    #[error("{model}: not enough data to fit: {reason} (have {have}, need at least {need})")]
    InsufficientData {
        /// Model name.
        model: &'static str,
        /// What is missing.
        reason: &'static str,
        /// How many were found.
        have: usize,
        /// How many are needed.
        need: usize,
    },
    /// The log-likelihood is not finite at the starting point, so no fit can start.
    #[error("{model}: log-likelihood is not finite at the starting parameters")]
    NonFiniteLikelihood {
        /// Model name.
        model: &'static str,
    },
    /// A numerical routine could not produce a trustworthy value.
    #[error("{function}: {reason}")]
    NumericalFailure {
        /// Routine name.
        function: &'static str,
        /// What went wrong.
        reason: &'static str,
    },
    /// The calibration / holdout window is inconsistent.
    #[error("invalid window: {reason} (calibration_end = {calibration_end}, other = {other})")]
    InvalidWindow {
        /// What is wrong.
        reason: &'static str,
        /// Calibration end day.
        calibration_end: i32,
        /// The other day involved (observation start or holdout end).
        other: i32,
    },
}

/// Result alias used across the crate.
pub type Result<T> = std::result::Result<T, ValueError>;

/// Checks that a parameter is finite and strictly positive.
pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(ValueError::InvalidParameter {
            name,
            value,
            reason: "must be finite and > 0",
        })
    }
}

/// Checks that parallel columns have equal lengths.
pub(crate) fn same_len(what: &'static str, left: usize, right: usize) -> Result<()> {
    if left == right {
        Ok(())
    } else {
        Err(ValueError::LengthMismatch { what, left, right })
    }
}
