//! A test hook for crash safety: with `TOUCHSTONE_KILL_AFTER_EVENT=N` in the environment, the
//! process sends itself SIGKILL right after the Nth progress event of a run (1-based), so a test
//! can stop a run at an exact point (after a file is read, a table committed, a model started)
//! instead of after a sleep. Not a user option; documented in the README's operations section.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Progress, RunEvent};

/// `progress`, or `progress` behind the kill hook when `TOUCHSTONE_KILL_AFTER_EVENT` is set to
/// a positive number.
pub fn wrap(progress: Arc<dyn Progress>) -> Arc<dyn Progress> {
    match std::env::var("TOUCHSTONE_KILL_AFTER_EVENT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(n) if n > 0 => Arc::new(KillAfter {
            inner: progress,
            after: n,
            seen: AtomicU64::new(0),
        }),
        _ => progress,
    }
}

/// Passes each event on, then kills the process after the `after`th.
struct KillAfter {
    inner: Arc<dyn Progress>,
    after: u64,
    seen: AtomicU64,
}

impl Progress for KillAfter {
    fn event(&self, event: &RunEvent) {
        self.inner.event(event);
        if self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.after {
            eprintln!(
                "TOUCHSTONE_KILL_AFTER_EVENT: killed after event {}: {event:?}",
                self.after
            );
            // SIGKILL, like `kill -9` from outside: no destructor, flush or cleanup runs. The
            // run is blocked here (this is called from the run's task) until the signal lands.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &std::process::id().to_string()])
                .status();
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoProgress;

    #[test]
    fn without_the_variable_the_progress_is_unchanged() {
        assert!(std::env::var_os("TOUCHSTONE_KILL_AFTER_EVENT").is_none());
        let progress: Arc<dyn Progress> = Arc::new(NoProgress);
        assert!(Arc::ptr_eq(&wrap(Arc::clone(&progress)), &progress));
    }

    #[test]
    fn the_hook_passes_events_on_until_the_last_one() {
        let seen = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&seen);
        let inner: Arc<dyn Progress> = Arc::new(move |_: &RunEvent| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let hook = KillAfter {
            inner,
            after: 3,
            seen: AtomicU64::new(0),
        };
        hook.event(&RunEvent::MetricsStarted);
        hook.event(&RunEvent::MetricsStarted);
        assert_eq!(seen.load(Ordering::SeqCst), 2);
    }
}
