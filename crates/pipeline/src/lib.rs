//! A Touchstone run as a library, and the reader of a warehouse's committed tables.
//!
//! Placeholder: filled in by the architecture change.

pub mod value_fit;
