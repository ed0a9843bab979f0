//! `touchstone value fit` as a library: read an order history, fit, score, report.
