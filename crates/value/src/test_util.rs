//! Helpers shared by the unit tests (the CDNOW fixtures themselves are in `summary::tests`).

use crate::rfm::RfmData;
use crate::summary::tests::published_rfm;

/// `v` rounded to `digits` decimals, for comparisons with published figures.
pub(crate) fn round_to(v: f64, digits: i32) -> f64 {
    let s = 10f64.powi(digits);
    (v * s).round() / s
}

/// The published CDNOW summary (frequency, recency, T rounded to 2 decimals) as model input.
pub(crate) fn cdnow_rfm() -> RfmData {
    let (x, tx, t) = published_rfm();
    RfmData::new(&x, &tx, &t).unwrap()
}

/// Eight customers whose best BG/NBD and Pareto/NBD fits are limiting cases of the models.
pub(crate) fn limiting_case_rfm() -> RfmData {
    let x = [0.0, 1.0, 0.0, 3.0, 2.0, 0.0, 5.0, 1.0];
    let tx = [0.0, 4.0, 0.0, 20.0, 9.0, 0.0, 30.0, 2.0];
    let t = [30.0, 35.0, 25.0, 38.0, 30.0, 39.0, 39.0, 20.0];
    RfmData::new(&x, &tx, &t).unwrap()
}
