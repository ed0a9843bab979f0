//! Touchstone core: canonical schemas, typed pipeline and metric configuration with
//! file:line diagnostics, error codes, object-store URL resolution and the injectable clock.
//!
//! Every other crate depends on this one and on nothing else of Touchstone's, except where
//! ARCHITECTURE.md says so.

pub mod clock;
pub mod config;
pub mod diagnostic;
pub mod env;
pub mod format;
pub mod schema;
pub mod store;
pub mod text;
pub mod yaml;

pub use diagnostic::{Diagnostic, Diagnostics, ErrorCode, Span};
pub use format::SourceFormat;
pub use schema::StagingTable;
