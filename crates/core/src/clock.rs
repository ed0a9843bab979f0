//! Wall-clock time, injected, so tests never depend on "now".

use chrono::{DateTime, Utc};

/// Where the current time comes from.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that always reads the same instant (tests, reproducible runs).
///
/// ```
/// use touchstone_core::clock::{Clock, FixedClock};
/// let t = chrono::DateTime::parse_from_rfc3339("2026-08-01T00:00:00Z").unwrap().to_utc();
/// assert_eq!(FixedClock(t).now(), t);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}
