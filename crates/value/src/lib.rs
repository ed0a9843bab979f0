//! Statistical customer-value models (BG/NBD, Pareto/NBD, Gamma-Gamma, sBG, Kaplan-Meier) in pure Rust.
