//! Workspace-level tests: the `touchstone` binary end to end on generated exports, scored
//! against the generator's planted ground truth, plus the CLI's errors and interop with the
//! tools analysts use. One test binary for the whole workspace (each DataFusion test binary is
//! hundreds of MB).

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod docs;
mod e2e;
mod errors;
mod incremental;
mod interop;
mod metric_layer;
mod ops;
mod readers;
mod scale;
mod serve;
mod sessions;
mod slt;
mod trust;
mod value;
